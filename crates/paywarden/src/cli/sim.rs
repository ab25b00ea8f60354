//! `paywarden sim`: the Stripe stand-in on its own, for SDKs, demos and
//! tests that want a local Stripe without paywarden in front of it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use paywarden_sim::delivery::DeliverySettings;
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
    #[command(flatten)]
    chaos: ChaosArgs,
}

/// Webhook delivery chaos, to see a consumer cope with what Stripe may do.
#[derive(Debug, Args)]
#[command(next_help_heading = "Webhook delivery chaos")]
struct ChaosArgs {
    /// Chance (0 to 1) that an event is delivered twice to each endpoint.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    duplicate_probability: f64,
    /// Shuffle events in groups of this many before delivery (0: in order).
    #[arg(long, value_name = "N", default_value_t = 0)]
    reorder_window: usize,
    /// Delay each delivery by a random time up to this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    max_delay_ms: u64,
    /// Give consecutive events the same `created` second.
    #[arg(long)]
    same_second: bool,
    /// Seed for the random choices above, to replay a run.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
}

impl ChaosArgs {
    fn apply(&self, delivery: &mut DeliverySettings) {
        delivery.duplicate_probability = self.duplicate_probability;
        delivery.reorder_window = self.reorder_window;
        delivery.max_extra_delay = Duration::from_millis(self.max_delay_ms);
        delivery.same_second = self.same_second;
        delivery.seed = self.seed;
    }
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a probability between 0 and 1")),
    }
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
    let mut settings = Settings {
        public_url: public_url.clone(),
        ..Settings::default()
    };
    args.chaos.apply(&mut settings.delivery);
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
