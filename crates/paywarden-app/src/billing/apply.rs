//! Applying an object fetched from Stripe as if its webhook had arrived.
//!
//! Access is granted only from verified Stripe data: a webhook, or an
//! object paywarden fetched from the API itself. The success-page sync and
//! the answers to subscription changes are the latter. They go through the
//! same projection as the webhook, so the rows they write are the rows the
//! webhook will write: accounts and payments are insert-once under their
//! unique keys, object rows keep the state with the highest precedence. The
//! webhook that follows therefore changes nothing.
//!
//! The synthetic event is dated now (our clock) and its id sorts after
//! Stripe's (`evt_zzzzsync_…`), so within one second it wins the precedence
//! tie-break: the fetched state already includes every change Stripe made
//! before the fetch. (A change Stripe makes later within that same second
//! loses to it until the next event about the object; with synchronised
//! clocks that window is under a second.)

use paywarden_core::projection::{plan, Change, Plan};
use paywarden_core::stripe::Event;
use paywarden_store::{now_ms, ApplyContext, ProjectionWriter};
use serde_json::Value;

use tracing::warn;

use super::Billing;
use crate::AppError;

/// How many times a sync runs when the database aborts it for a conflict.
const TRANSIENT_ATTEMPTS: u32 = 4;

impl Billing {
    /// Projects each `(event type, object)` in one transaction.
    pub(super) async fn apply_fetched(&self, objects: Vec<(&str, Value)>) -> Result<(), AppError> {
        let now_ms = now_ms();
        let mut changes = Vec::new();
        for (event_type, object) in objects {
            let livemode = object
                .get("livemode")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let event = Event {
                id: format!("evt_zzzzsync_{}", ulid::Ulid::new())
                    .parse()
                    .map_err(|e| AppError::Internal(format!("synthetic event id: {e}")))?,
                event_type: event_type.to_owned(),
                created: now_ms / 1000,
                api_version: Some(paywarden_stripe::API_VERSION.to_owned()),
                livemode,
                object,
                previous_attributes: None,
            };
            match plan(&event) {
                Ok(Plan::Apply(planned)) => changes.extend(planned),
                Ok(Plan::Ignore) => {}
                Err(err) => {
                    return Err(AppError::Internal(format!(
                        "Stripe's answer does not project: {err}"
                    )))
                }
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let ctx = ApplyContext {
            default_daily_cap: self.inner.default_daily_cap,
            now: now_ms,
            catalog: Some(self.inner.catalog.clone()),
        };
        // The webhooks for the same objects may be applied at this moment;
        // PostgreSQL breaks a lock cycle between them by aborting one
        // transaction, which is then simply run again.
        let mut attempt = 1;
        loop {
            match self.apply_once(&changes, &ctx).await {
                Err(AppError::Store(err)) if err.is_transient() && attempt < TRANSIENT_ATTEMPTS => {
                    warn!(error = %err, attempt, "sync aborted by a concurrent transaction; running it again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn apply_once(&self, changes: &[Change], ctx: &ApplyContext) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        tx.apply_changes_unguarded(changes, ctx).await?;
        tx.commit().await?;
        Ok(())
    }
}
