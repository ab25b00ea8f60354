//! Subscription rows.
//!
//! A subscription row has two precedence registers. `snap_*` guards the
//! fields only a full subscription snapshot carries (items, periods,
//! cancellation, pause, trial); `status_*` guards the status, which a paid
//! subscription Checkout also asserts (`active`) without carrying the rest.
//! Each register keeps its own maximum, so the final row does not depend on
//! the order in which snapshots and Checkout completions arrive.

use std::sync::LazyLock;

use paywarden_core::projection::{SubscriptionActivation, SubscriptionRecord};
use paywarden_core::stripe::SubscriptionStatus;
use sqlx::{AnyConnection, Row};

use super::{currency_text, ApplyContext};
use crate::error::StoreError;

const SNAPSHOT_NEWER: &str = "(subscriptions.snap_created IS NULL OR \
     (excluded.snap_terminal, excluded.snap_created, excluded.snap_rank, excluded.snap_event) \
     > (subscriptions.snap_terminal, subscriptions.snap_created, subscriptions.snap_rank, subscriptions.snap_event))";

const STATUS_NEWER: &str = "((excluded.status_terminal, excluded.status_created, excluded.status_rank, excluded.status_event) \
     > (subscriptions.status_terminal, subscriptions.status_created, subscriptions.status_rank, subscriptions.status_event))";

const SNAPSHOT_COLUMNS: &[&str] = &[
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "cancel_at",
    "canceled_at",
    "ended_at",
    "pause_behavior",
    "pause_resumes_at",
    "trial_start",
    "trial_end",
    "snap_terminal",
    "snap_created",
    "snap_rank",
    "snap_event",
];

const STATUS_COLUMNS: &[&str] = &[
    "status",
    "status_terminal",
    "status_created",
    "status_rank",
    "status_event",
];

/// `col = CASE WHEN guard THEN excluded.col ELSE subscriptions.col END, …`
fn guarded(columns: &[&str], guard: &str) -> String {
    columns
        .iter()
        .map(|c| format!("{c} = CASE WHEN {guard} THEN excluded.{c} ELSE subscriptions.{c} END"))
        .collect::<Vec<_>>()
        .join(", ")
}

static SNAPSHOT_UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO subscriptions (id, customer_id, user_id, status, current_period_start, current_period_end, \
             cancel_at_period_end, cancel_at, canceled_at, ended_at, pause_behavior, pause_resumes_at, trial_start, trial_end, \
             snap_terminal, snap_created, snap_rank, snap_event, status_terminal, status_created, status_rank, status_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $15, $16, $17, $18, $19) \
         ON CONFLICT (id) DO UPDATE SET customer_id = COALESCE(excluded.customer_id, subscriptions.customer_id), \
             user_id = COALESCE(subscriptions.user_id, excluded.user_id), {}, {}, updated_at = excluded.updated_at \
         WHERE {SNAPSHOT_NEWER} OR {STATUS_NEWER} \
         RETURNING snap_event",
        guarded(SNAPSHOT_COLUMNS, SNAPSHOT_NEWER),
        guarded(STATUS_COLUMNS, STATUS_NEWER),
    )
});

static ACTIVATION_UPSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO subscriptions (id, customer_id, user_id, status, status_terminal, status_created, status_rank, \
             status_event, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET customer_id = COALESCE(subscriptions.customer_id, excluded.customer_id), \
             user_id = COALESCE(excluded.user_id, subscriptions.user_id), {}, updated_at = excluded.updated_at",
        guarded(STATUS_COLUMNS, STATUS_NEWER),
    ) + " RETURNING status_event"
});

pub(super) async fn snapshot(
    conn: &mut AnyConnection,
    r: &SubscriptionRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let row = sqlx::query(&SNAPSHOT_UPSERT)
        .bind(r.id.as_str())
        .bind(r.customer.as_ref().map(|c| c.as_str()))
        .bind(r.user_id.as_ref().map(|u| u.as_str()))
        .bind(r.status.as_str())
        .bind(r.current_period_start)
        .bind(r.current_period_end)
        .bind(r.cancel_at_period_end)
        .bind(r.cancel_at)
        .bind(r.canceled_at)
        .bind(r.ended_at)
        .bind(r.pause_behavior.as_deref())
        .bind(r.pause_resumes_at)
        .bind(r.trial_start)
        .bind(r.trial_end)
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .fetch_optional(&mut *conn)
        .await?;
    // A row comes back only when one of the two registers won.
    let changed = row.is_some();
    let snapshot_won = match row {
        Some(row) => {
            row.try_get::<Option<String>, _>("snap_event")?.as_deref() == Some(p.event_id.as_str())
        }
        None => false,
    };
    if snapshot_won {
        replace_items(conn, r).await?;
    }
    if changed {
        announce(conn, r.id.as_str(), ctx).await?;
    }
    Ok(())
}

async fn replace_items(conn: &mut AnyConnection, r: &SubscriptionRecord) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM subscription_items WHERE subscription_id = $1")
        .bind(r.id.as_str())
        .execute(&mut *conn)
        .await?;
    for item in &r.items {
        sqlx::query(
            "INSERT INTO subscription_items (id, subscription_id, price_id, product_id, quantity, unit_amount, currency, \
                 current_period_start, current_period_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET subscription_id = excluded.subscription_id, price_id = excluded.price_id, \
                 product_id = excluded.product_id, quantity = excluded.quantity, unit_amount = excluded.unit_amount, \
                 currency = excluded.currency, current_period_start = excluded.current_period_start, \
                 current_period_end = excluded.current_period_end",
        )
        .bind(item.id.as_str())
        .bind(r.id.as_str())
        .bind(item.price.as_ref().map(|p| p.as_str()))
        .bind(item.product.as_ref().map(|p| p.as_str()))
        .bind(item.quantity)
        .bind(item.unit_amount)
        .bind(currency_text(item.currency))
        .bind(item.current_period_start)
        .bind(item.current_period_end)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn activate(
    conn: &mut AnyConnection,
    a: &SubscriptionActivation,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &a.precedence;
    let row = sqlx::query(&ACTIVATION_UPSERT)
        .bind(a.id.as_str())
        .bind(a.customer.as_ref().map(|c| c.as_str()))
        .bind(a.user_id.as_ref().map(|u| u.as_str()))
        .bind(SubscriptionStatus::Active.as_str())
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .fetch_one(&mut *conn)
        .await?;
    let status_won = row.try_get::<String, _>("status_event")? == p.event_id.as_str();
    if status_won {
        announce(conn, a.id.as_str(), ctx).await?;
    }
    Ok(())
}

/// Tells the host product the subscription changed (`subscription.updated`).
async fn announce(
    conn: &mut AnyConnection,
    id: &str,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    crate::outbound::enqueue_subscription_updated(conn, id, ctx.catalog.as_deref(), ctx.now).await
}
