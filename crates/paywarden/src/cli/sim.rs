//! `paywarden sim`: the Stripe stand-in on its own, for SDKs, demos and
//! tests that want a local Stripe without paywarden in front of it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use paywarden_sim::state::Settings;
use paywarden_sim::{persist, Sim};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::output;
use crate::serve::wait_for_signal;
use crate::sim::{base_url, log_request};

/// How often `--state` is saved while something changes.
const SAVE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:12111")]
    addr: SocketAddr,
    /// Keep the stand-in's objects in this JSON file across restarts
    /// (loaded at start, saved each second while something changes and on
    /// exit). Idempotency keys are not kept.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Base URL hosted pages (Checkout, portal) are reached at, if not
    /// `http://<addr>` (behind a proxy, say).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let base = base_url(addr);
    let public_url = match &args.public_url {
        Some(url) => crate::stripe::api_base(url).context("--public-url")?,
        None => base.clone(),
    };
    let settings = Settings {
        public_url: public_url.clone(),
        ..Settings::default()
    };
    let sim = match &args.state {
        Some(path) => {
            let existed = path.exists();
            let sim = persist::open(path, settings)?;
            // Written at once, so a path that cannot be written stops the
            // start rather than the first save.
            persist::save(&sim, path)?;
            if existed {
                let customers = sim.objects().customers.len();
                info!(state = %path.display(), customers, "sim state loaded");
            } else {
                info!(state = %path.display(), "no sim state yet: starting empty");
            }
            sim
        }
        None => Sim::with_settings(settings),
    };
    info!(%addr, public_url, "Stripe stand-in listening on {base}");
    output(&format!("Stripe stand-in listening on {base}"));
    output(&format!("  export STRIPE_API_BASE={base}"));
    output("  export STRIPE_SECRET_KEY=sk_test_sim   # any sk_test_… key is accepted");
    output(&format!(
        "  hosted pages at {public_url}; webhook endpoints: POST {base}/v1/webhook_endpoints"
    ));

    let shutdown = CancellationToken::new();
    let saver = args.state.clone().map(|path| {
        let stop = shutdown.clone();
        tokio::spawn(persist::keep_saved(
            sim.clone(),
            path,
            SAVE_EVERY,
            async move { stop.cancelled().await },
        ))
    });
    sim.start_background();
    let app = paywarden_sim::router(sim).layer(axum::middleware::from_fn(log_request));
    let stop = shutdown.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = wait_for_signal() => {}
                () = stop.cancelled() => {}
            }
        })
        .await
        .context("serving HTTP");
    shutdown.cancel();
    if let Some(saver) = saver {
        saver
            .await
            .context("the state saver ended abnormally")?
            .context("saving the sim state")?;
        if let Some(path) = &args.state {
            info!(state = %path.display(), "sim state saved");
        }
    }
    served?;
    info!("Stripe stand-in stopped");
    Ok(())
}
