//! Applying a planned projection: the rows one event changes.
//!
//! Object rows are written only when the incoming state's precedence beats
//! the stored one (see `paywarden_core::precedence`); fact rows are
//! insert-once under a unique key. Both make a repeated apply a no-op.
//! All changes of one event run inside a savepoint, so an event whose
//! changes cannot be written leaves nothing behind and can be marked failed
//! in the same transaction.

mod facts;
mod objects;
mod subscriptions;

use std::future::Future;

use std::sync::Arc;

use paywarden_core::catalog::Catalog;
use paywarden_core::projection::Change;
use paywarden_core::{Currency, UserId};
use sqlx::{AnyConnection, Connection};

use crate::credits;
use crate::entitlements::{self, EntitlementsRow};
use crate::error::StoreError;
use crate::store::StoreTx;

/// Settings a projection needs from configuration.
#[derive(Debug, Clone)]
pub struct ApplyContext {
    /// The daily cap a newly provisioned account starts with.
    pub default_daily_cap: i64,
    /// Now, in unix milliseconds.
    pub now: i64,
    /// The catalog whose access policy resolves entitlements; without one,
    /// entitlements are not recomputed (tests of the projections alone).
    pub catalog: Option<Arc<Catalog>>,
}

/// Applying projections, inside a transaction.
pub trait ProjectionWriter {
    /// Applies all changes of one event, or none of them: they run in a
    /// savepoint, so after an error the transaction is still usable (to
    /// record the event as failed, say).
    fn apply_changes(
        &mut self,
        changes: &[Change],
        ctx: &ApplyContext,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Applies the changes without a savepoint: two statements cheaper, but
    /// after an error the whole transaction must be rolled back. For
    /// callers that redo the work another way when it fails.
    fn apply_changes_unguarded(
        &mut self,
        changes: &[Change],
        ctx: &ApplyContext,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl ProjectionWriter for StoreTx {
    async fn apply_changes(
        &mut self,
        changes: &[Change],
        ctx: &ApplyContext,
    ) -> Result<(), StoreError> {
        let mut savepoint = (*self.tx).begin().await?;
        for change in changes {
            if let Err(err) = apply(&mut savepoint, change, ctx).await {
                savepoint.rollback().await?;
                return Err(err);
            }
        }
        let changed = match refresh_entitlements(&mut savepoint, changes, ctx).await {
            Ok(changed) => changed,
            Err(err) => {
                savepoint.rollback().await?;
                return Err(err);
            }
        };
        savepoint.commit().await?;
        self.changed_entitlements.extend(changed);
        Ok(())
    }

    async fn apply_changes_unguarded(
        &mut self,
        changes: &[Change],
        ctx: &ApplyContext,
    ) -> Result<(), StoreError> {
        for change in changes {
            apply(&mut self.tx, change, ctx).await?;
        }
        let changed = refresh_entitlements(&mut self.tx, changes, ctx).await?;
        self.changed_entitlements.extend(changed);
        Ok(())
    }
}

/// Recomputes the entitlements and the credit grants of every user these
/// changes may concern; answers the entitlement rows that were rewritten.
async fn refresh_entitlements(
    conn: &mut AnyConnection,
    changes: &[Change],
    ctx: &ApplyContext,
) -> Result<Vec<EntitlementsRow>, StoreError> {
    let Some(catalog) = &ctx.catalog else {
        return Ok(Vec::new());
    };
    let mut users: Vec<UserId> = Vec::new();
    for change in changes {
        match change {
            Change::Subscription(r) => {
                users.extend(entitlements::users_of_subscription(conn, r.id.as_str()).await?)
            }
            Change::SubscriptionActivation(a) => {
                users.extend(entitlements::users_of_subscription(conn, a.id.as_str()).await?)
            }
            Change::CheckoutSession(r) => users.extend(r.user_id.clone()),
            Change::CustomerLink(link) => users.push(link.user_id.clone()),
            Change::Customer(r) => users.extend(r.user_id.clone()),
            Change::Payment(r) => {
                if let Some(subscription) = &r.subscription {
                    users.extend(
                        entitlements::users_of_subscription(conn, subscription.as_str()).await?,
                    );
                }
            }
            Change::Refund(r) => {
                if let Some(payment_intent) = &r.payment_intent {
                    users.extend(
                        credits::users_of_payment_intent(conn, payment_intent.as_str()).await?,
                    );
                }
            }
            _ => {}
        }
    }
    users.sort();
    users.dedup();
    let refunds_changed = changes.iter().any(|c| matches!(c, Change::Refund(_)));
    let mut changed = Vec::new();
    for user in &users {
        let (row, rewritten) = entitlements::recompute(conn, user, catalog, ctx.now).await?;
        if rewritten {
            changed.push(row);
        }
        credits::sync_grants(conn, user, catalog, ctx.now, refunds_changed).await?;
    }
    Ok(changed)
}

async fn apply(
    conn: &mut AnyConnection,
    change: &Change,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    match change {
        Change::Customer(record) => objects::customer(conn, record, ctx).await,
        Change::CustomerLink(link) => objects::customer_link(conn, link, ctx).await,
        Change::Product(record) => objects::product(conn, record, ctx).await,
        Change::Price(record) => objects::price(conn, record, ctx).await,
        Change::CheckoutSession(record) => objects::checkout_session(conn, record, ctx).await,
        Change::Subscription(record) => subscriptions::snapshot(conn, record, ctx).await,
        Change::SubscriptionActivation(activation) => {
            subscriptions::activate(conn, activation, ctx).await
        }
        Change::ProvisionAccount(provision) => {
            crate::accounts::provision(conn, provision, ctx).await
        }
        Change::Payment(record) => facts::payment(conn, record).await,
        Change::InvoicePaymentLink(link) => facts::invoice_payment_link(conn, link).await,
        Change::PaymentFailure(record) => facts::payment_failure(conn, record).await,
        Change::Notification(record) => facts::notification(conn, record).await,
        Change::Refund(record) => {
            objects::refund(conn, record, ctx).await?;
            crate::bookings::on_refund(conn, record, ctx.now).await
        }
        Change::Dispute(record) => objects::dispute(conn, record, ctx).await,
        Change::PaymentMethod(record) => objects::payment_method(conn, record, ctx).await,
        Change::Booking(record) => crate::bookings::apply_record(conn, record, ctx.now).await,
    }
}

/// The `ON CONFLICT … WHERE` guard: the incoming state (`excluded`) must
/// have a greater precedence than the stored one, or the row must hold none.
fn newer_than(table: &str) -> String {
    format!(
        "{table}.src_created IS NULL OR (excluded.src_terminal, excluded.src_created, excluded.src_rank, excluded.src_event) \
         > ({table}.src_terminal, {table}.src_created, {table}.src_rank, {table}.src_event)"
    )
}

fn currency_text(currency: Option<Currency>) -> Option<String> {
    currency.map(|c| c.as_str().to_owned())
}
