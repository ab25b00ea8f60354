//! Receiving a Stripe webhook.
//!
//! The signature is checked over the raw bytes before anything parses
//! them. A verified event is then claimed, projected and recorded in one
//! transaction, and only after that commits does the caller answer 2xx:
//! an event is durable before it is acknowledged, and its id decides,
//! inside the same transaction, that it applies once.
//!
//! Deliveries that arrive together are written together (`batch.rs`): one
//! transaction, one commit, every caller answered after it.

mod batch;

use std::sync::Arc;
use std::time::Duration;

use paywarden_core::ids::EventId;
use paywarden_core::projection::{plan, Plan, ProjectionError};
use paywarden_core::signature::{verify, WebhookSecret};
use paywarden_core::stripe::{EnvelopeError, Event};
use paywarden_store::{
    now_ms, ApplyContext, Backend, Claim, EventInbox, EventOutcome, EventStatus, NewEvent,
    ProjectionWriter, Store, StoreError, StoreTx,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, info_span, warn, Instrument, Span};

use crate::error::AppError;
use crate::retry::backoff;
use crate::ProjectionSettings;

/// Times a transaction aborted by a concurrent one is run before giving up (503).
const TRANSIENT_ATTEMPTS: u32 = 4;

/// Batch writers on PostgreSQL: enough to keep the server's cores busy
/// while batches wait on commits; each holds one connection while writing.
const POSTGRES_BATCH_WRITERS: usize = 4;

/// What the webhook endpoint is configured with.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Every secret currently accepted (more than one during a rotation).
    pub secrets: Vec<WebhookSecret>,
    /// How far the signature timestamp may be from now, either way.
    pub tolerance: Duration,
    /// The daily cap a newly provisioned account starts with.
    pub default_daily_cap: i64,
    /// The catalog whose access policy resolves entitlements (none: they
    /// are not recomputed).
    pub catalog: Option<Arc<paywarden_core::catalog::Catalog>>,
}

/// What happened to a delivery that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub event_id: EventId,
    /// The id had been received before; nothing was applied this time.
    pub duplicate: bool,
    pub status: EventStatus,
}

/// A verified, parsed and planned delivery, ready to be written.
#[derive(Debug)]
struct Delivery {
    event: Event,
    payload: String,
    planned: Result<Plan, ProjectionError>,
    span: Span,
}

impl Delivery {
    /// The status the event gets when it is first stored, before applying.
    fn initial_status(&self, now: i64) -> (EventStatus, Option<String>, Option<i64>) {
        match &self.planned {
            Ok(Plan::Apply(_)) => (EventStatus::Processed, None, None),
            Ok(Plan::Ignore) => (EventStatus::Ignored, None, None),
            Err(err) => (
                EventStatus::Failed,
                Some(err.to_string()),
                Some(now + backoff(1)),
            ),
        }
    }

    fn changes(&self) -> Option<&[paywarden_core::projection::Change]> {
        match &self.planned {
            Ok(Plan::Apply(changes)) => Some(changes),
            _ => None,
        }
    }

    /// Claims the event id in `tx`, recording the delivery.
    async fn claim(&self, tx: &mut StoreTx, now: i64) -> Result<Claim, StoreError> {
        let (status, error, next_attempt_at) = self.initial_status(now);
        tx.claim_event(&NewEvent {
            id: &self.event.id,
            event_type: &self.event.event_type,
            api_version: self.event.api_version.as_deref(),
            created: self.event.created,
            livemode: self.event.livemode,
            object_id: self.event.object_id(),
            payload: &self.payload,
            status,
            error: error.as_deref(),
            next_attempt_at,
            received_at: now,
        })
        .await
    }

    /// The order in which a batch writes deliveries: by object, then event.
    fn lock_order(&self) -> (&str, &str) {
        (
            self.event.object_id().unwrap_or_default(),
            self.event.id.as_str(),
        )
    }

    fn duplicate(&self) -> Receipt {
        let _entered = self.span.enter();
        info!(event.id = %self.event.id, "skipped replay");
        Receipt {
            event_id: self.event.id.clone(),
            duplicate: true,
            status: self.initial_status(0).0,
        }
    }

    fn stored(&self, status: EventStatus) -> Receipt {
        let _entered = self.span.enter();
        match status {
            EventStatus::Failed => warn!("event stored as failed; the retry worker will try again"),
            EventStatus::Ignored => info!("event stored, type not projected"),
            EventStatus::Processed => info!("event applied"),
        }
        Receipt {
            event_id: self.event.id.clone(),
            duplicate: false,
            status,
        }
    }
}

/// What writing needs: the store and the settings projections use.
#[derive(Debug)]
struct Writer {
    store: Store,
    projection: ProjectionSettings,
}

impl Writer {
    fn context(&self, now: i64) -> ApplyContext {
        self.projection.context(now)
    }

    /// Writes one delivery in its own transaction, optimistically: the
    /// changes are applied without a savepoint (two round trips fewer), and
    /// only if that fails is the transaction rolled back and the delivery
    /// written again by [`Writer::write_one`].
    async fn write_fast(&self, delivery: &Delivery) -> Result<Receipt, AppError> {
        match self.write_fast_attempt(delivery).await {
            // Aborted by a concurrent transaction (at the claim, say):
            // nothing stayed; the careful path runs it again.
            Err(AppError::Store(err)) if err.is_transient() => self.write_one(delivery).await,
            result => result,
        }
    }

    async fn write_fast_attempt(&self, delivery: &Delivery) -> Result<Receipt, AppError> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if delivery.claim(&mut tx, now).await? == Claim::Duplicate {
            tx.commit().await?;
            return Ok(delivery.duplicate());
        }
        if let Some(changes) = delivery.changes() {
            match tx
                .apply_changes_unguarded(changes, &self.context(now))
                .await
            {
                Ok(()) => {}
                Err(err) if err.is_unavailable() => return Err(err.into()),
                Err(_) => {
                    // Refused or aborted: nothing of this transaction stays.
                    drop(tx);
                    return self.write_one(delivery).await;
                }
            }
        }
        tx.commit().await?;
        Ok(delivery.stored(delivery.initial_status(now).0))
    }

    /// Writes one delivery in its own transaction. A projection that cannot
    /// be written leaves the event stored as `failed`, in the same
    /// transaction; a database outage is an error (and nothing is stored). A
    /// transaction the database aborted for a conflict (a deadlock) is run
    /// again, a few times, before the caller is told to retry later.
    async fn write_one(&self, delivery: &Delivery) -> Result<Receipt, AppError> {
        let mut attempt = 1;
        loop {
            match self.write_one_attempt(delivery).await {
                Err(AppError::Store(err)) if err.is_transient() && attempt < TRANSIENT_ATTEMPTS => {
                    let _entered = delivery.span.enter();
                    warn!(error = %err, attempt, "transaction aborted by a concurrent one; running it again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn write_one_attempt(&self, delivery: &Delivery) -> Result<Receipt, AppError> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if delivery.claim(&mut tx, now).await? == Claim::Duplicate {
            tx.commit().await?;
            return Ok(delivery.duplicate());
        }
        let mut status = delivery.initial_status(now).0;
        if let Some(changes) = delivery.changes() {
            match tx.apply_changes(changes, &self.context(now)).await {
                Ok(()) => {}
                Err(err) if err.is_unavailable() || err.is_transient() => return Err(err.into()),
                Err(err) => {
                    let _entered = delivery.span.enter();
                    warn!(error = %err, "applying event failed");
                    let outcome = EventOutcome::Failed {
                        error: err.to_string(),
                        next_attempt_at: Some(now + backoff(1)),
                    };
                    tx.record_outcome(&delivery.event.id, &outcome, false, now)
                        .await?;
                    status = EventStatus::Failed;
                }
            }
        }
        tx.commit().await?;
        Ok(delivery.stored(status))
    }
}

/// The webhook inbox use case.
#[derive(Debug, Clone)]
pub struct WebhookInbox {
    writer: Arc<Writer>,
    settings: Arc<WebhookSettings>,
    batches: mpsc::Sender<batch::Job>,
}

impl WebhookInbox {
    /// What this inbox applies projections with; operator retries use the same.
    pub fn projection(&self) -> &ProjectionSettings {
        &self.writer.projection
    }

    /// Must be called inside a Tokio runtime: it starts the batch writer
    /// tasks, which end when the last clone of the inbox is dropped.
    pub fn new(store: Store, settings: WebhookSettings) -> Self {
        let writer = Arc::new(Writer {
            store,
            projection: ProjectionSettings {
                default_daily_cap: settings.default_daily_cap,
                catalog: settings.catalog.clone(),
            },
        });
        let writers = match writer.store.backend() {
            // One writer at a time is all SQLite admits.
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_BATCH_WRITERS,
        };
        let batches = batch::start(writer.clone(), writers);
        Self {
            writer,
            settings: Arc::new(settings),
            batches,
        }
    }

    pub fn store(&self) -> &Store {
        &self.writer.store
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
        let payload = std::str::from_utf8(body)
            .map_err(|_| EnvelopeError::NotJson("body is not UTF-8".into()))?;
        let event = Event::parse(body)?;
        let span = info_span!(
            "stripe_event",
            event.id = %event.id,
            event.r#type = %event.event_type,
            object.id = event.object_id().unwrap_or_default(),
            api_version = event.api_version.as_deref().unwrap_or_default(),
        );
        let planned = plan(&event);
        let delivery = Delivery {
            event,
            payload: payload.to_owned(),
            planned,
            span: span.clone(),
        };
        let (reply, answer) = oneshot::channel();
        match self.batches.send(batch::Job { delivery, reply }).await {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(AppError::Internal(
                    "the batch writer stopped before answering".into(),
                ))
            }),
            // The writers are gone (shutting down): write directly.
            Err(mpsc::error::SendError(job)) => {
                self.writer.write_fast(&job.delivery).instrument(span).await
            }
        }
    }
}
