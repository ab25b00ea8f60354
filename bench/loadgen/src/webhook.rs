//! `webhook` mode: signed events over one keep-alive HTTP client.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use paywarden_core::signature::{header_for, WebhookSecret};
use reqwest::header::{HeaderValue, CONTENT_TYPE};

use crate::stats::{Report, Tally};
use crate::{event, pool, unix_now, Outcome, Plan};

/// How many failures are described on stderr before going quiet.
const MAX_LOGGED_FAILURES: u32 = 5;

pub async fn run(
    plan: Plan,
    url: reqwest::Url,
    secret: &str,
    request_timeout: Duration,
) -> anyhow::Result<Outcome> {
    let secrets =
        WebhookSecret::parse_list(secret).map_err(|e| anyhow::anyhow!("invalid --secret: {e}"))?;
    anyhow::ensure!(!secrets.is_empty(), "--secret is empty");
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(plan.concurrency)
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(request_timeout)
        .build()
        .context("building the HTTP client")?;

    let secrets: Arc<[WebhookSecret]> = secrets.into();
    let run_id: Arc<str> = plan.run_id.as_str().into();
    let logged = Arc::new(AtomicU32::new(0));
    let (tally, elapsed, stopped_early) =
        pool::run(plan.concurrency, plan.count, plan.max_time, |dispenser| {
            let client = client.clone();
            let url = url.clone();
            let secrets = Arc::clone(&secrets);
            let run_id = Arc::clone(&run_id);
            let logged = Arc::clone(&logged);
            async move {
                let mut tally = Tally::default();
                while let Some(i) = dispenser.take() {
                    let ts = unix_now();
                    let ev = event::build(&run_id, i, ts);
                    let signature = header_for(&secrets, ts, ev.body.as_bytes());
                    tally.attempted += 1;
                    let started = Instant::now();
                    let sent = client
                        .post(url.clone())
                        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                        .header("Stripe-Signature", signature)
                        .body(ev.body)
                        .send()
                        .await;
                    match sent {
                        Ok(resp) => {
                            let status = resp.status();
                            // Drain the body so the connection goes back to the pool.
                            let body = resp.bytes().await;
                            tally.record(started.elapsed());
                            match body {
                                Ok(_) if status.is_success() => tally.ok += 1,
                                Ok(bytes) => {
                                    tally.rejected += 1;
                                    if logged.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED_FAILURES
                                    {
                                        let text = String::from_utf8_lossy(&bytes);
                                        let text: String = text.chars().take(300).collect();
                                        eprintln!("{}: HTTP {status}: {text}", ev.id);
                                    }
                                }
                                Err(e) => {
                                    tally.transport += 1;
                                    log_error(&logged, &ev.id, &e);
                                }
                            }
                        }
                        Err(e) => {
                            tally.transport += 1;
                            log_error(&logged, &ev.id, &e);
                        }
                    }
                }
                tally
            }
        })
        .await?;

    Ok(Report::finish(
        "webhook",
        &plan,
        elapsed,
        stopped_early,
        tally,
    )?)
}

fn log_error(logged: &AtomicU32, id: &str, e: &reqwest::Error) {
    if logged.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED_FAILURES {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        eprintln!("{id}: transport error: {text}");
    }
}
