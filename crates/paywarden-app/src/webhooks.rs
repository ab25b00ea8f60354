//! Receiving a Stripe webhook.
//!
//! The signature is checked over the raw bytes before anything parses
//! them. A verified event is then claimed, projected and recorded in one
//! transaction, and only after that commits does the caller answer 2xx:
//! an event is durable before it is acknowledged, and its id decides,
//! inside the same transaction, that it applies once.

use std::time::Duration;

use paywarden_core::ids::EventId;
use paywarden_core::projection::{plan, Plan};
use paywarden_core::signature::{verify, WebhookSecret};
use paywarden_core::stripe::Event;
use paywarden_store::{
    now_ms, ApplyContext, Claim, EventInbox, EventOutcome, EventStatus, NewEvent, ProjectionWriter,
    Store,
};
use tracing::{info, warn, Instrument};

use crate::error::AppError;
use crate::retry::backoff;

/// What the webhook endpoint is configured with.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Every secret currently accepted (more than one during a rotation).
    pub secrets: Vec<WebhookSecret>,
    /// How far the signature timestamp may be from now, either way.
    pub tolerance: Duration,
    /// The daily cap a newly provisioned account starts with.
    pub default_daily_cap: i64,
}

/// What happened to a delivery that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub event_id: EventId,
    /// The id had been received before; nothing was applied this time.
    pub duplicate: bool,
    pub status: EventStatus,
}

/// The webhook inbox use case.
#[derive(Debug, Clone)]
pub struct WebhookInbox {
    store: Store,
    settings: WebhookSettings,
}

impl WebhookInbox {
    pub fn new(store: Store, settings: WebhookSettings) -> Self {
        Self { store, settings }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Verifies, stores and applies one delivery. `now_secs` is the
    /// receiving clock, in unix seconds.
    pub async fn receive(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now_secs: i64,
    ) -> Result<Receipt, AppError> {
        let tolerance = i64::try_from(self.settings.tolerance.as_secs()).unwrap_or(i64::MAX);
        verify(&self.settings.secrets, signature, body, now_secs, tolerance)?;
        let payload = std::str::from_utf8(body).map_err(|_| {
            paywarden_core::stripe::EnvelopeError::NotJson("body is not UTF-8".into())
        })?;
        let event = Event::parse(body)?;
        let span = tracing::info_span!(
            "stripe_event",
            event.id = %event.id,
            event.r#type = %event.event_type,
            object.id = event.object_id().unwrap_or_default(),
            api_version = event.api_version.as_deref().unwrap_or_default(),
        );
        self.store_and_apply(&event, payload).instrument(span).await
    }

    async fn store_and_apply(&self, event: &Event, payload: &str) -> Result<Receipt, AppError> {
        let now = now_ms();
        let planned = plan(event);
        let (status, error, next_attempt_at) = match &planned {
            Ok(Plan::Apply(_)) => (EventStatus::Processed, None, None),
            Ok(Plan::Ignore) => (EventStatus::Ignored, None, None),
            Err(err) => (
                EventStatus::Failed,
                Some(err.to_string()),
                Some(now + backoff(1)),
            ),
        };
        let mut tx = self.store.begin().await?;
        let claim = tx
            .claim_event(&NewEvent {
                id: &event.id,
                event_type: &event.event_type,
                api_version: event.api_version.as_deref(),
                created: event.created,
                livemode: event.livemode,
                object_id: event.object_id(),
                payload,
                status,
                error: error.as_deref(),
                next_attempt_at,
                received_at: now,
            })
            .await?;
        if claim == Claim::Duplicate {
            tx.commit().await?;
            info!(event.id = %event.id, "skipped replay");
            return Ok(Receipt {
                event_id: event.id.clone(),
                duplicate: true,
                status,
            });
        }
        let mut final_status = status;
        if let Ok(Plan::Apply(changes)) = &planned {
            let ctx = ApplyContext {
                default_daily_cap: self.settings.default_daily_cap,
                now,
            };
            match tx.apply_changes(changes, &ctx).await {
                Ok(()) => {}
                Err(err) if err.is_unavailable() => return Err(err.into()),
                Err(err) => {
                    warn!(error = %err, "applying event failed; queued for retry");
                    let outcome = EventOutcome::Failed {
                        error: err.to_string(),
                        next_attempt_at: Some(now + backoff(1)),
                    };
                    tx.record_outcome(&event.id, &outcome, false, now).await?;
                    final_status = EventStatus::Failed;
                }
            }
        }
        tx.commit().await?;
        match final_status {
            EventStatus::Failed => warn!(
                error = error.as_deref().unwrap_or("apply failed"),
                "event stored as failed"
            ),
            EventStatus::Ignored => info!("event stored, type not projected"),
            EventStatus::Processed => info!("event applied"),
        }
        Ok(Receipt {
            event_id: event.id.clone(),
            duplicate: false,
            status: final_status,
        })
    }
}
