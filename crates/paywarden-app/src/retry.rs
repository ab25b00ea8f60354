//! Retrying failed events.
//!
//! A failed event is re-applied from its stored payload inside a
//! transaction that first locks the row and re-checks that it is still
//! `failed`; a retry that loses a race to another retry (the worker, an
//! operator, another replica) finds it processed and does nothing. So
//! however many retries run, an event applies once.

use std::time::Duration;

use paywarden_core::ids::EventId;
use paywarden_core::projection::{plan, Plan};
use paywarden_core::stripe::Event;
use paywarden_store::{now_ms, EventInbox, EventLog, EventOutcome, ProjectionWriter, Store};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::error::AppError;
use crate::ProjectionSettings;

/// Attempts after which the worker stops retrying on its own (an operator
/// can still retry by hand).
pub const MAX_AUTOMATIC_ATTEMPTS: i64 = 10;

/// Delay before attempt `attempt + 1`, in milliseconds: 30 s doubling, at most 6 h.
pub fn backoff(attempt: i64) -> i64 {
    let exponent = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    (30_000i64.saturating_mul(1i64 << exponent)).min(6 * 3600 * 1000)
}

/// What a retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Applied now.
    Processed,
    /// Failed again; kept for a later attempt (or for an operator).
    StillFailing(String),
    /// The event was not failed (already applied, ignored, or retried by
    /// someone else): nothing done.
    NotFailed,
}

/// Re-applies one failed event.
pub async fn retry_event(
    store: &Store,
    id: &EventId,
    settings: &ProjectionSettings,
) -> Result<RetryOutcome, AppError> {
    let mut tx = store.begin().await?;
    let Some(stored) = tx.lock_failed_event(id).await? else {
        tx.rollback().await?;
        return Ok(RetryOutcome::NotFailed);
    };
    let now = now_ms();
    let attempts = stored.attempts + 1;
    let next_attempt_at = (attempts < MAX_AUTOMATIC_ATTEMPTS).then(|| now + backoff(attempts));
    let result = match Event::parse(stored.payload.as_bytes()) {
        Err(err) => Err(err.to_string()),
        Ok(event) => match plan(&event) {
            Err(err) => Err(err.to_string()),
            Ok(Plan::Ignore) => Ok(()),
            Ok(Plan::Apply(changes)) => {
                let ctx = settings.context(now);
                match tx.apply_changes(&changes, &ctx).await {
                    Ok(()) => Ok(()),
                    Err(err) if err.is_unavailable() || err.is_transient() => {
                        return Err(err.into())
                    }
                    Err(err) => Err(err.to_string()),
                }
            }
        },
    };
    let outcome = match &result {
        Ok(()) => EventOutcome::Processed,
        Err(error) => EventOutcome::Failed {
            error: error.clone(),
            next_attempt_at,
        },
    };
    tx.record_outcome(id, &outcome, true, now).await?;
    tx.commit().await?;
    Ok(match result {
        Ok(()) => RetryOutcome::Processed,
        Err(error) => RetryOutcome::StillFailing(error),
    })
}

/// Whether a worker step found work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Done,
    Idle,
}

/// The background retry worker.
#[derive(Debug, Clone)]
pub struct RetryWorker {
    store: Store,
    settings: ProjectionSettings,
    poll: Duration,
}

impl RetryWorker {
    pub fn new(store: Store, settings: ProjectionSettings, poll: Duration) -> Self {
        Self {
            store,
            settings,
            poll,
        }
    }

    /// Retries every failed event that is due, once.
    pub async fn step(&self) -> Result<Step, AppError> {
        let due = self.store.events_due_for_retry(now_ms(), 50).await?;
        if due.is_empty() {
            return Ok(Step::Idle);
        }
        for id in &due {
            match retry_event(&self.store, id, &self.settings).await? {
                RetryOutcome::Processed => info!(event.id = %id, "retried event applied"),
                RetryOutcome::StillFailing(error) => {
                    warn!(event.id = %id, %error, "retried event failed again")
                }
                RetryOutcome::NotFailed => {}
            }
        }
        Ok(Step::Done)
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let wait = match self.step().await {
                Ok(Step::Done) => Duration::ZERO,
                Ok(Step::Idle) => self.poll,
                Err(err) => {
                    warn!(error = %err, "retry worker step failed");
                    self.poll
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), 30_000);
        assert_eq!(backoff(2), 60_000);
        assert_eq!(backoff(3), 120_000);
        assert_eq!(backoff(50), 6 * 3600 * 1000);
    }
}
