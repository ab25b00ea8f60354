//! `paywarden serve`: connect, migrate, start the retry and outbound webhook
//! workers, serve HTTP until SIGINT/SIGTERM, then drain. With no `STRIPE_SECRET_KEY`, the Stripe
//! stand-in is mounted under `/sim` and is the Stripe paywarden uses.

use std::time::Duration;

use anyhow::Context;
use paywarden_app::billing::sync::sync_catalog;
use paywarden_app::billing::Billing;
use paywarden_app::entitlements::{EntitlementCache, Entitlements};
use paywarden_app::outbound::{DeliveryWorker, Outbound};
use paywarden_app::retry::RetryWorker;
use paywarden_app::webhooks::{WebhookInbox, WebhookSettings};
use paywarden_http::{router, serve, AppState};
use paywarden_sim::persist;
use paywarden_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::sim::embedded::{self, Embedded, MOUNT};
use crate::stripe::{StripeSetup, StripeTarget};
use paywarden_app::limits::PaymentLimits;
use paywarden_app::seed::{seed_courses, DEMO_COURSES};

/// How often the embedded stand-in's state file is saved while it changes.
const SIM_SAVE_EVERY: Duration = Duration::from_secs(1);

pub async fn run(config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let cache = EntitlementCache::start(config.cache.clone(), shutdown.clone())
        .context("starting the entitlements cache")?;
    let store = Store::connect(&config.database)
        .await
        .with_context(|| format!("connecting to {}", config.database.url))?
        .with_listener(cache.clone());
    store.migrate().await.context("migrating the database")?;
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let mut secrets = config.webhook_secrets.clone();
    let embedded = match &config.stripe {
        StripeSetup::Embedded => {
            // The embedded default is a demo: it has courses to book.
            let added = seed_courses(&store, DEMO_COURSES)
                .await
                .context("adding the demo courses")?;
            if added > 0 {
                info!(courses = added, "added the demo courses");
            }
            let embedded = embedded::start(addr, config.sim_state_file.as_deref()).await?;
            secrets.push(embedded.webhook.secret.clone());
            Some(embedded)
        }
        StripeSetup::Remote(_) => None,
    };
    let target = stripe_target(&config.stripe, embedded.as_ref())?;
    if secrets.is_empty() {
        warn!(
            "STRIPE_WEBHOOK_SECRET is not set: /webhooks/stripe refuses every delivery until it is"
        );
    }
    let inbox = WebhookInbox::new(
        store.clone(),
        WebhookSettings {
            secrets,
            tolerance: config.signature_tolerance,
            default_daily_cap: config.default_daily_cap,
            catalog: Some(config.catalog.clone()),
        },
    );
    let saver = match (&embedded, &config.sim_state_file) {
        (Some(sim), Some(path)) => Some(tokio::spawn(persist::keep_saved(
            sim.sim.clone(),
            path.clone(),
            SIM_SAVE_EVERY,
            shutdown.clone().cancelled_owned(),
        ))),
        _ => None,
    };
    let worker = RetryWorker::new(store.clone(), inbox.projection().clone(), config.retry_poll);
    let worker = tokio::spawn(worker.run(shutdown.clone()));
    let outbound = DeliveryWorker::new(store.clone(), config.outbound.clone())
        .context("starting the outbound webhook worker")?;
    let outbound = tokio::spawn(outbound.run(shutdown.clone()));
    if config.outbound.destinations.allow_private {
        warn!("outbound_allow_private is set: outbound webhooks may reach loopback and private addresses");
    }

    info!(%addr, database = store.backend().as_str(), "paywarden listening on http://{addr}");
    match &embedded {
        Some(Embedded { webhook, .. }) => info!(
            stripe.api_base = %target.api_base,
            stripe.webhook_endpoint = %webhook.endpoint_id,
            "STRIPE_SECRET_KEY is not set: using the Stripe stand-in at {} (test mode), \
             which delivers its events to {}",
            target.v1(),
            webhook.url,
        ),
        None => info!(
            stripe.api_base = %target.api_base,
            stripe.test_mode = target.secret_key.is_test(),
            "using Stripe at {}",
            target.v1()
        ),
    }
    match &config.cache.redis {
        Some(redis) => {
            info!(redis.prefix = %redis.prefix, "entitlements cache: memory, then redis, then the database")
        }
        None => info!("entitlements cache: memory, then the database (REDIS_URL unset)"),
    }
    let entitlements = Entitlements::new(store.clone(), config.catalog.clone(), cache);
    let mut state = AppState::new(store.clone(), inbox)
        .with_entitlements(entitlements)
        .with_outbound(Outbound::new(store.clone(), config.outbound.clone()));
    match &config.limits {
        Some(limits) => {
            state = state
                .with_limits(PaymentLimits::new(limits).context("setting up the rate limits")?);
            info!(
                per_user_per_minute = limits.per_user.per_minute.get(),
                per_ip_per_minute = limits.per_ip.per_minute.get(),
                shared = limits.redis.is_some(),
                "payment endpoints are rate limited"
            );
        }
        None => warn!("rate_limits is off: the payment endpoints are not rate limited"),
    }
    match config.auth.build()? {
        Some(auth) => {
            if auth.demo_mode() {
                info!(
                    "demo mode is on: pick a demo user at {}",
                    config.public_base_url.join("/auth/demo")
                );
            }
            state = state.with_user_auth(auth, config.public_base_url.is_https());
        }
        None => warn!(
            "end-user sign-in is off: set PAYWARDEN_JWT_SECRET or PAYWARDEN_JWKS_URL \
             (every end-user route answers 401 until then)"
        ),
    }
    let billing = Billing::new(
        store.clone(),
        target.client()?,
        config.catalog.clone(),
        config.public_base_url.clone(),
        config.default_daily_cap,
    )
    .with_cancel_until(config.booking_cancel_until);
    info!(
        catalog = %config.catalog_source,
        products = config.catalog.products().len(),
        "selling the catalog from {}",
        config.catalog_source
    );
    state = state.with_billing(billing.clone());
    let catalog_sync = embedded
        .is_some()
        .then(|| tokio::spawn(sync_embedded_catalog(billing, shutdown.clone())));
    let mut app = router(state);
    if let Some(sim) = embedded {
        app = app.nest(MOUNT, sim.router);
    }
    let stop = shutdown.clone();
    serve(listener, app, async move {
        wait_for_signal().await;
        stop.cancel();
    })
    .await
    .context("serving HTTP")?;
    shutdown.cancel();
    if let Some(task) = catalog_sync {
        task.abort();
    }
    if let Err(err) = worker.await {
        warn!(error = %err, "retry worker ended abnormally");
    }
    if let Err(err) = outbound.await {
        warn!(error = %err, "outbound webhook worker ended abnormally");
    }
    if let Some(saver) = saver {
        match saver.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                error!(error = %format!("{err:#}"), "saving the Stripe stand-in's state failed")
            }
            Err(err) => error!(error = %err, "the Stripe stand-in's state saver ended abnormally"),
        }
    }
    store.close().await;
    info!("paywarden stopped");
    Ok(())
}

/// How long `serve` keeps trying to put the catalog into its embedded
/// stand-in (the stand-in answers on this server's own listener, which
/// starts serving right after this task is spawned).
const EMBEDDED_SYNC_WITHIN: Duration = Duration::from_secs(30);

/// Puts the catalog into the embedded stand-in, so Checkout works from the
/// first request of a fresh `serve`.
async fn sync_embedded_catalog(billing: Billing, shutdown: CancellationToken) {
    let started = std::time::Instant::now();
    loop {
        match sync_catalog(billing.stripe(), billing.catalog(), false).await {
            Ok(report) => {
                info!(
                    products_created = report.products_created,
                    prices_created = report.prices_created,
                    unchanged = report.unchanged,
                    "the catalog is in the embedded Stripe stand-in"
                );
                return;
            }
            Err(err) if started.elapsed() < EMBEDDED_SYNC_WITHIN => {
                tracing::debug!(error = %err, "catalog sync into the stand-in: retrying");
            }
            Err(err) => {
                error!(error = %err, "could not put the catalog into the embedded Stripe stand-in");
                return;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// The Stripe paywarden talks to: the configured one, or the embedded
/// stand-in.
fn stripe_target(setup: &StripeSetup, embedded: Option<&Embedded>) -> anyhow::Result<StripeTarget> {
    match (setup, embedded) {
        (StripeSetup::Remote(target), _) => Ok(target.clone()),
        (StripeSetup::Embedded, Some(sim)) => Ok(sim.target.clone()),
        (StripeSetup::Embedded, None) => {
            anyhow::bail!("the embedded Stripe stand-in is not running")
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
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
