//! `paywarden serve`: connect, migrate, start the retry worker, serve HTTP
//! until SIGINT/SIGTERM, then drain.

use anyhow::Context;
use paywarden_app::retry::RetryWorker;
use paywarden_app::webhooks::{WebhookInbox, WebhookSettings};
use paywarden_http::{router, serve, AppState};
use paywarden_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database)
        .await
        .with_context(|| format!("connecting to {}", config.database.url))?;
    store.migrate().await.context("migrating the database")?;
    if config.webhook_secrets.is_empty() {
        warn!(
            "STRIPE_WEBHOOK_SECRET is not set: /webhooks/stripe refuses every delivery until it is"
        );
    }
    let inbox = WebhookInbox::new(
        store.clone(),
        WebhookSettings {
            secrets: config.webhook_secrets.clone(),
            tolerance: config.signature_tolerance,
            default_daily_cap: config.default_daily_cap,
        },
    );
    let shutdown = CancellationToken::new();
    let worker = RetryWorker::new(store.clone(), config.default_daily_cap, config.retry_poll);
    let worker = tokio::spawn(worker.run(shutdown.clone()));

    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    info!(%addr, database = store.backend().as_str(), "paywarden listening on http://{addr}");
    let app = router(AppState::new(
        store.clone(),
        inbox,
        config.default_daily_cap,
    ));
    let stop = shutdown.clone();
    serve(listener, app, async move {
        wait_for_signal().await;
        stop.cancel();
    })
    .await
    .context("serving HTTP")?;
    shutdown.cancel();
    if let Err(err) = worker.await {
        warn!(error = %err, "retry worker ended abnormally");
    }
    store.close().await;
    info!("paywarden stopped");
    Ok(())
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(err) => {
                    warn!(error = %err, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
