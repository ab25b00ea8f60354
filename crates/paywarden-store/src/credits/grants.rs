//! Credits from purchases, and back out after refunds.
//!
//! Run by the projections for every user an event concerns, in the event's
//! transaction. It is a reconciliation, not a reaction to one event: it
//! looks at all of the user's paid one-time Checkouts and paid subscription
//! invoices and records any grant not yet recorded, then at the refunds of
//! each granted payment and takes back the refunded share. Each grant's
//! `source_key` names its Checkout or invoice, so it is granted once
//! whatever the order or the number of deliveries; an invoice that arrives
//! before its subscription is granted when the subscription arrives.
//!
//! A reversal never takes the balance below what is on hold: what was
//! already spent is taken back from the credits that arrive next.

use paywarden_core::catalog::Catalog;
use paywarden_core::credits::{granted, reversal_target};
use paywarden_core::UserId;
use sqlx::{AnyConnection, Row};

use super::announce;
use super::wallet::{self, Movement};
use super::EntryKind;
use crate::entitlements::users_of_subscription;
use crate::error::StoreError;

/// A payment that granted credits, with what a refund is measured against.
struct Granting {
    source_key: String,
    /// Granted by this call: a refund that arrived first is taken back now.
    fresh: bool,
    payment_intent: Option<String>,
    paid: i64,
}

/// Records `user`'s missing grants and reversals; answers whether the
/// wallet changed. Refunds are looked at only when `refunds_changed` (the
/// event carried one) or when this call recorded a grant.
pub(crate) async fn sync_user(
    conn: &mut AnyConnection,
    user: &UserId,
    catalog: &Catalog,
    now_ms: i64,
    refunds_changed: bool,
) -> Result<bool, StoreError> {
    let mut changed = false;
    let mut grantings = Vec::new();

    let purchases = sqlx::query(
        "SELECT cs.id, cs.plan, cs.payment_intent_id, cs.amount_total, cs.src_event, \
             (SELECT MAX(r.quantity) FROM checkout_requests r WHERE r.session_id = cs.id) AS quantity \
         FROM checkout_sessions cs \
         WHERE cs.user_id = $1 AND cs.outcome = 'paid' AND cs.mode = 'payment' AND cs.plan IS NOT NULL",
    )
    .bind(user.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for row in &purchases {
        let session: String = row.try_get("id")?;
        let plan: String = row.try_get("plan")?;
        let quantity: Option<i64> = row.try_get("quantity")?;
        let Some(product) = catalog.products().iter().find(|p| p.key.as_str() == plan) else {
            continue;
        };
        let Some(amount) = granted(product.credits, quantity.unwrap_or(1)) else {
            continue;
        };
        let source_key = format!("grant:checkout:{session}");
        let event: String = row.try_get("src_event")?;
        let movement = Movement {
            user,
            amount: amount.get(),
            kind: EntryKind::Grant,
            source_key: source_key.clone(),
            stripe_event_id: Some(&event),
            hold_id: None,
            description: format!("{} (Checkout {session})", product.name),
            now_ms,
        };
        let fresh = post_announced(conn, user, movement, now_ms).await?;
        changed |= fresh;
        grantings.push(Granting {
            source_key,
            fresh,
            payment_intent: row.try_get("payment_intent_id")?,
            paid: row.try_get::<Option<i64>, _>("amount_total")?.unwrap_or(0),
        });
    }

    let invoices = sqlx::query(
        "SELECT p.source_id, p.subscription_id, p.amount, p.event_id, \
             COALESCE(p.payment_intent_id, \
                 (SELECT l.payment_intent_id FROM invoice_payment_links l WHERE l.invoice_id = p.source_id)) \
                 AS payment_intent_id \
         FROM payments p \
         WHERE p.source = 'invoice' AND p.amount > 0 AND p.subscription_id IN ( \
             SELECT id FROM subscriptions WHERE user_id = $1 \
                OR customer_id IN (SELECT customer_id FROM user_customers WHERE user_id = $1) \
                OR customer_id IN (SELECT id FROM customers WHERE user_id = $1))",
    )
    .bind(user.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for row in &invoices {
        let invoice: String = row.try_get("source_id")?;
        let subscription: String = row.try_get("subscription_id")?;
        let items = sqlx::query(
            "SELECT product_id, quantity FROM subscription_items \
             WHERE subscription_id = $1 AND product_id IS NOT NULL ORDER BY id",
        )
        .bind(subscription.as_str())
        .fetch_all(&mut *conn)
        .await?;
        let mut amount = 0i64;
        let mut names = Vec::new();
        for item in &items {
            let product_id: String = item.try_get("product_id")?;
            let quantity: Option<i64> = item.try_get("quantity")?;
            let Some(product) = catalog.product_by_stripe_id(&product_id) else {
                continue;
            };
            if let Some(credits) = granted(product.credits, quantity.unwrap_or(1)) {
                amount = amount.saturating_add(credits.get());
                names.push(product.name.clone());
            }
        }
        if amount == 0 {
            continue;
        }
        let source_key = format!("grant:invoice:{invoice}");
        let event: String = row.try_get("event_id")?;
        let movement = Movement {
            user,
            amount,
            kind: EntryKind::Grant,
            source_key: source_key.clone(),
            stripe_event_id: Some(&event),
            hold_id: None,
            description: format!("{} (invoice {invoice})", names.join(", ")),
            now_ms,
        };
        let fresh = post_announced(conn, user, movement, now_ms).await?;
        changed |= fresh;
        grantings.push(Granting {
            source_key,
            fresh,
            payment_intent: row.try_get("payment_intent_id")?,
            paid: row.try_get("amount")?,
        });
    }

    // Refunds matter when one arrived, or when credits did: a grant
    // recorded now may have been refunded already, and the share of an
    // earlier refund that was already spent is taken from new credits.
    if refunds_changed || grantings.iter().any(|g| g.fresh) {
        for granting in &grantings {
            changed |= reverse_refunded(conn, user, granting, now_ms).await?;
        }
    }
    Ok(changed)
}

/// Takes back the refunded share of one grant not yet taken back.
async fn reverse_refunded(
    conn: &mut AnyConnection,
    user: &UserId,
    granting: &Granting,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let Some(payment_intent) = &granting.payment_intent else {
        return Ok(false);
    };
    let refunded = refunded(conn, payment_intent).await?;
    if refunded == 0 {
        return Ok(false);
    }
    let row = sqlx::query("SELECT amount FROM credit_ledger WHERE source_key = $1")
        .bind(granting.source_key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let grant: i64 = row.try_get("amount")?;
    let prefix = format!("reversal:{}:", granting.source_key);
    let taken: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS taken FROM credit_ledger \
         WHERE user_id = $1 AND kind = 'reversal' AND source_key LIKE $2 ESCAPE '\\'",
    )
    .bind(user.as_str())
    .bind(format!("{}%", like_escaped(&prefix)))
    .fetch_one(&mut *conn)
    .await?
    .try_get::<i64, _>("taken")?
    .saturating_neg();
    let target = reversal_target(grant, refunded, granting.paid);
    if target <= taken {
        return Ok(false);
    }
    let available = wallet::lock(conn, user, now_ms).await?.available();
    let take = (target - taken).min(available);
    if take <= 0 {
        return Ok(false);
    }
    let movement = Movement {
        user,
        amount: -take,
        kind: EntryKind::Reversal,
        // The level taken back so far: unique, and the same on a replay.
        source_key: format!("{prefix}{}", taken + take),
        stripe_event_id: None,
        hold_id: None,
        description: format!("refund of {}", granting.source_key),
        now_ms,
    };
    post_announced(conn, user, movement, now_ms).await
}

/// Posts a movement and, when it moved credits, queues `credits.changed`.
/// A cause already recorded is seen without locking the wallet, so the
/// events of a user who holds credits do not queue behind each other.
async fn post_announced(
    conn: &mut AnyConnection,
    user: &UserId,
    movement: Movement<'_>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let recorded = sqlx::query("SELECT 1 AS one FROM credit_ledger WHERE source_key = $1")
        .bind(movement.source_key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if recorded.is_some() {
        return Ok(false);
    }
    let Some(entry) = wallet::post(conn, movement).await? else {
        return Ok(false);
    };
    announce::credits_changed(conn, user, Some(&entry), now_ms).await?;
    Ok(true)
}

/// The amount refunded on a PaymentIntent: its refunds, or its charge's
/// refunded total where only that is known, whichever says more.
async fn refunded(conn: &mut AnyConnection, payment_intent: &str) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT \
             CAST(COALESCE(SUM(CASE WHEN refund_id IS NOT NULL THEN amount ELSE 0 END), 0) AS BIGINT) AS listed, \
             CAST(COALESCE(MAX(CASE WHEN refund_id IS NULL THEN amount ELSE 0 END), 0) AS BIGINT) AS total \
         FROM refunds WHERE payment_intent_id = $1 AND status = 'succeeded'",
    )
    .bind(payment_intent)
    .fetch_one(&mut *conn)
    .await?;
    let listed: i64 = row.try_get("listed")?;
    let total: i64 = row.try_get("total")?;
    Ok(listed.max(total))
}

fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The users a PaymentIntent paid for: through its Checkout, or through
/// the invoice it paid and that invoice's subscription.
pub(crate) async fn users_of_payment_intent(
    conn: &mut AnyConnection,
    payment_intent: &str,
) -> Result<Vec<UserId>, StoreError> {
    let mut users = Vec::new();
    for row in sqlx::query(
        "SELECT user_id FROM checkout_sessions WHERE payment_intent_id = $1 AND user_id IS NOT NULL",
    )
    .bind(payment_intent)
    .fetch_all(&mut *conn)
    .await?
    {
        let user: String = row.try_get("user_id")?;
        users.push(
            user.parse()
                .map_err(|_| StoreError::Corrupt(format!("checkout_sessions.user_id {user}")))?,
        );
    }
    let subscriptions = sqlx::query(
        "SELECT DISTINCT subscription_id FROM payments \
         WHERE subscription_id IS NOT NULL AND (payment_intent_id = $1 OR source_id IN \
             (SELECT invoice_id FROM invoice_payment_links WHERE payment_intent_id = $1))",
    )
    .bind(payment_intent)
    .fetch_all(&mut *conn)
    .await?;
    for row in &subscriptions {
        let subscription: String = row.try_get("subscription_id")?;
        users.extend(users_of_subscription(conn, &subscription).await?);
    }
    Ok(users)
}
