//! The delivery worker: claims due deliveries, POSTs each signed message
//! and records what happened.
//!
//! `step` does one batch and says `Done` or `Idle`; `run` loops it until
//! shutdown. Claims are leases in the database, so any number of workers
//! (one per replica) share the queue and never send one delivery at the
//! same time. Each attempt gets a fresh `webhook-timestamp` and signature;
//! `webhook-id` is the message id, the same on every attempt and endpoint,
//! for the consumer to deduplicate on.

use std::time::Duration;

use futures::future::join_all;
use paywarden_core::outbound::Signature;
use paywarden_store::{now_ms, AttemptResult, ClaimedDelivery, OutboundQueue, Store};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::destination::CheckedResolver;
use super::schedule::next_delay_ms;
use super::OutboundSettings;
use crate::error::AppError;
use crate::retry::Step;

/// Sends outbound webhooks.
#[derive(Debug, Clone)]
pub struct DeliveryWorker {
    store: Store,
    settings: OutboundSettings,
    http: reqwest::Client,
}

impl DeliveryWorker {
    pub fn new(store: Store, settings: OutboundSettings) -> Result<Self, AppError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(CheckedResolver::new(settings.destinations))
            .user_agent(concat!("paywarden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::Internal(format!("building the webhook client: {e}")))?;
        Ok(Self {
            store,
            settings,
            http,
        })
    }

    /// Sends every delivery due now (up to one batch), concurrently.
    pub async fn step(&self) -> Result<Step, AppError> {
        let lease_ms = millis(self.settings.timeout) * 2 + 30_000;
        let claimed = self
            .store
            .claim_deliveries(now_ms(), lease_ms, self.settings.batch)
            .await?;
        if claimed.is_empty() {
            return Ok(Step::Idle);
        }
        let results = join_all(claimed.iter().map(|d| self.attempt(d))).await;
        for (delivery, result) in claimed.iter().zip(results) {
            let recorded = self
                .store
                .record_attempt(delivery, &result, now_ms())
                .await?;
            log_attempt(delivery, &result, recorded);
        }
        Ok(Step::Done)
    }

    /// One attempt: check the destination, sign, POST.
    async fn attempt(&self, delivery: &ClaimedDelivery) -> AttemptResult {
        let attempts = delivery.attempts + 1;
        let failed = |status_code: Option<i64>, error: String| AttemptResult::Failed {
            status_code,
            error,
            next_attempt_at: next_delay_ms(&self.settings.schedule, attempts)
                .map(|delay| now_ms() + delay),
        };
        let url = match self.settings.destinations.check(&delivery.url).await {
            Ok(url) => url,
            Err(err) => return failed(None, format!("destination refused: {err}")),
        };
        let message_id = delivery.message_id.to_string();
        let timestamp = now_ms().div_euclid(1000);
        let signature = Signature::for_all(
            std::slice::from_ref(&delivery.secret),
            &message_id,
            timestamp,
            delivery.body.as_bytes(),
        );
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", message_id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature.as_str())
            .body(delivery.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => AttemptResult::Delivered {
                status_code: i64::from(response.status().as_u16()),
            },
            Ok(response) => {
                let status = response.status();
                let note = if status.is_redirection() {
                    " (redirects are not followed)"
                } else {
                    ""
                };
                failed(
                    Some(i64::from(status.as_u16())),
                    format!("endpoint answered HTTP {}{note}", status.as_u16()),
                )
            }
            Err(err) => failed(None, describe(err, self.settings.timeout)),
        }
    }

    /// Runs until `shutdown` is cancelled, polling every `poll` when idle.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let wait = match self.step().await {
                Ok(Step::Done) => Duration::ZERO,
                Ok(Step::Idle) => self.settings.poll,
                Err(err) => {
                    warn!(error = %err, "outbound delivery step failed");
                    self.settings.poll
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A transport failure in words, with its causes but without the URL
/// (which may carry a token).
fn describe(err: reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    let err = err.without_url();
    let mut text = if err.is_connect() {
        "could not connect".to_owned()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn log_attempt(delivery: &ClaimedDelivery, result: &AttemptResult, recorded: bool) {
    let attempt = delivery.attempts + 1;
    match (result, recorded) {
        (_, false) => warn!(
            delivery.id = %delivery.id, message.id = %delivery.message_id,
            "outbound attempt not recorded: its lease had run out"
        ),
        (AttemptResult::Delivered { status_code }, true) => info!(
            delivery.id = %delivery.id, message.id = %delivery.message_id,
            endpoint.id = %delivery.endpoint_id, attempt, status_code, "outbound webhook delivered"
        ),
        (
            AttemptResult::Failed {
                error,
                next_attempt_at: Some(_),
                status_code,
            },
            true,
        ) => warn!(
            delivery.id = %delivery.id, message.id = %delivery.message_id,
            endpoint.id = %delivery.endpoint_id, attempt, status_code, %error,
            "outbound webhook failed; retrying later"
        ),
        (
            AttemptResult::Failed {
                error,
                next_attempt_at: None,
                status_code,
            },
            true,
        ) => warn!(
            delivery.id = %delivery.id, message.id = %delivery.message_id,
            endpoint.id = %delivery.endpoint_id, attempt, status_code, %error,
            "outbound webhook dead: attempts exhausted"
        ),
    }
}
