//! `paywarden-loadgen`: drives paywarden's `POST /webhooks/stripe` with
//! distinct signed events at a fixed concurrency (`webhook`), or writes the
//! same rows straight into PostgreSQL (`reference`) to give the physical floor
//! the webhook numbers are compared against, or calls the selling API and
//! its references (`api`). Each run prints one JSON line.

mod api;
mod check;
mod conn;
mod event;
mod pool;
mod reference;
mod stats;
mod webhook;

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};

/// mimalloc instead of the system allocator: the same allocator as `paywarden
/// serve`, so the constant reference it serves is measured on equal terms.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "paywarden-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Send signed `customer.subscription.updated` events to a webhook URL.
    Webhook(WebhookArgs),
    /// Write the same events directly to PostgreSQL (the physical reference).
    Reference(ReferenceArgs),
    /// Call the selling API (plans, checkout) or its references.
    Api(ApiArgs),
    /// Entitlement checks for `u0..u<users>` with a server key.
    Check(CheckArgs),
    /// Serve a constant JSON answer on every path (the checks' reference).
    Constant(ConstantArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The server's base URL.
    #[arg(long)]
    base: String,
    /// A `server` API key.
    #[arg(long, env = "PAYWARDEN_BENCH_KEY", hide_env_values = true)]
    key: String,
    /// How many users the checks are spread over (`u0`…).
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct ConstantArgs {
    /// Address to listen on (loopback).
    #[arg(long)]
    addr: std::net::SocketAddr,
}

#[derive(Debug, Args)]
struct ApiArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080 (the embedded default).
    #[arg(long)]
    base: String,
    /// What to call.
    #[arg(long, value_enum)]
    target: api::Target,
    /// The server's PAYWARDEN_JWT_SECRET, to sign users' tokens.
    #[arg(long, env = "PAYWARDEN_JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    #[command(flatten)]
    common: Common,
}

/// Options both modes share.
#[derive(Debug, Args)]
struct Common {
    /// Number of concurrent workers (and connections).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// Number of distinct events to send.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Makes ids reproducible: the run id becomes `s<SEED>` unless --run-id is given.
    #[arg(long)]
    seed: Option<u64>,
    /// Prefix of every generated id ([A-Za-z0-9_] only); default from --seed or the clock.
    #[arg(long)]
    run_id: Option<String>,
    /// Stop handing out events after this many seconds (the run then exits 2).
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

#[derive(Debug, Args)]
struct WebhookArgs {
    /// Full webhook URL, e.g. http://127.0.0.1:8080/webhooks/stripe
    #[arg(long)]
    url: reqwest::Url,
    /// Webhook signing secret (`whsec_…`); a comma-separated list signs with each.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// Per-request timeout in seconds (a timeout counts as a transport error).
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct ReferenceArgs {
    /// PostgreSQL URL; the bench_* tables are created and TRUNCATED there.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[command(flatten)]
    common: Common,
}

/// Exit codes: 0 all events succeeded, 1 some failed or setup failed,
/// 2 none failed but --max-seconds stopped the run before --count.
fn exit_code(errors: u64, stopped_early: bool) -> ExitCode {
    if errors > 0 {
        ExitCode::from(1)
    } else if stopped_early {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn run_id(common: &Common) -> Result<String, String> {
    let id = match (&common.run_id, common.seed) {
        (Some(id), _) => id.clone(),
        (None, Some(seed)) => format!("s{seed}"),
        (None, None) => {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            format!("r{ms}_{}", std::process::id())
        }
    };
    event::check_run_id(&id)?;
    Ok(id)
}

/// The shape of one run, resolved from the command line.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub run_id: String,
    pub concurrency: usize,
    pub count: u64,
    pub max_time: Duration,
}

impl Plan {
    fn from_common(common: &Common) -> Result<Self, String> {
        Ok(Self {
            run_id: run_id(common)?,
            concurrency: usize::from(common.concurrency),
            count: common.count,
            max_time: Duration::from_secs(common.max_seconds),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.mode {
        Mode::Webhook(args) => match Plan::from_common(&args.common) {
            Ok(plan) => {
                webhook::run(
                    plan,
                    args.url,
                    &args.secret,
                    Duration::from_secs(args.request_timeout),
                )
                .await
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Mode::Reference(args) => match Plan::from_common(&args.common) {
            Ok(plan) => reference::run(plan, &args.database_url).await,
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Mode::Api(args) => match Plan::from_common(&args.common) {
            Ok(plan) => {
                api::run(
                    plan,
                    args.base,
                    args.target,
                    &args.jwt_secret,
                    Duration::from_secs(args.request_timeout),
                )
                .await
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Mode::Check(args) => match Plan::from_common(&args.common) {
            Ok(plan) => {
                check::run(
                    plan,
                    args.base,
                    args.key,
                    args.users,
                    Duration::from_secs(args.request_timeout),
                )
                .await
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Mode::Constant(args) => check::serve_constant(args.addr).await,
    };
    match result {
        Ok(outcome) => exit_code(outcome.errors, outcome.stopped_early),
        Err(e) => {
            eprintln!("paywarden-loadgen: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// What `main` needs from a finished run to pick its exit code.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub errors: u64,
    pub stopped_early: bool,
}
