//! Object rows: customers, products, prices, Checkout Sessions, refunds,
//! disputes and payment methods. Each keeps the state with the greatest
//! precedence.

use paywarden_core::projection::{
    CheckoutSessionRecord, CustomerLink, CustomerRecord, DisputeRecord, PaymentMethodRecord,
    PriceRecord, ProductRecord, RefundRecord,
};
use sqlx::AnyConnection;

use super::{currency_text, newer_than, ApplyContext};
use crate::error::StoreError;

pub(super) async fn customer(
    conn: &mut AnyConnection,
    r: &CustomerRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let sql = format!(
        "INSERT INTO customers (id, user_id, email, name, deleted, src_terminal, src_created, src_rank, src_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET user_id = COALESCE(excluded.user_id, customers.user_id), \
             email = excluded.email, name = excluded.name, deleted = excluded.deleted, \
             src_terminal = excluded.src_terminal, src_created = excluded.src_created, \
             src_rank = excluded.src_rank, src_event = excluded.src_event, updated_at = excluded.updated_at \
         WHERE {}",
        newer_than("customers")
    );
    sqlx::query(&sql)
        .bind(r.id.as_str())
        .bind(r.user_id.as_ref().map(|u| u.as_str()))
        .bind(r.email.as_deref())
        .bind(r.name.as_deref())
        .bind(r.deleted)
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Links a customer to a user, creating a placeholder row (no state yet)
/// when the customer has not been seen.
pub(super) async fn customer_link(
    conn: &mut AnyConnection,
    link: &CustomerLink,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customers (id, user_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id",
    )
    .bind(link.customer.as_str())
    .bind(link.user_id.as_str())
    .bind(ctx.now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn product(
    conn: &mut AnyConnection,
    r: &ProductRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let sql = format!(
        "INSERT INTO products (id, name, active, deleted, src_terminal, src_created, src_rank, src_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, active = excluded.active, deleted = excluded.deleted, \
             src_terminal = excluded.src_terminal, src_created = excluded.src_created, \
             src_rank = excluded.src_rank, src_event = excluded.src_event, updated_at = excluded.updated_at \
         WHERE {}",
        newer_than("products")
    );
    sqlx::query(&sql)
        .bind(r.id.as_str())
        .bind(r.name.as_deref())
        .bind(r.active)
        .bind(r.deleted)
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn price(
    conn: &mut AnyConnection,
    r: &PriceRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let sql = format!(
        "INSERT INTO prices (id, product_id, active, deleted, currency, unit_amount, interval, interval_count, \
             lookup_key, nickname, src_terminal, src_created, src_rank, src_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (id) DO UPDATE SET product_id = excluded.product_id, active = excluded.active, \
             deleted = excluded.deleted, currency = excluded.currency, unit_amount = excluded.unit_amount, \
             interval = excluded.interval, interval_count = excluded.interval_count, \
             lookup_key = excluded.lookup_key, nickname = excluded.nickname, \
             src_terminal = excluded.src_terminal, src_created = excluded.src_created, \
             src_rank = excluded.src_rank, src_event = excluded.src_event, updated_at = excluded.updated_at \
         WHERE {}",
        newer_than("prices")
    );
    sqlx::query(&sql)
        .bind(r.id.as_str())
        .bind(r.product.as_ref().map(|id| id.as_str()))
        .bind(r.active)
        .bind(r.deleted)
        .bind(currency_text(r.currency))
        .bind(r.unit_amount)
        .bind(r.interval.as_deref())
        .bind(r.interval_count)
        .bind(r.lookup_key.as_deref())
        .bind(r.nickname.as_deref())
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn checkout_session(
    conn: &mut AnyConnection,
    r: &CheckoutSessionRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let sql = format!(
        "INSERT INTO checkout_sessions (id, user_id, customer_id, mode, status, payment_status, outcome, \
             subscription_id, payment_intent_id, amount_total, currency, src_terminal, src_created, src_rank, src_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (id) DO UPDATE SET user_id = COALESCE(excluded.user_id, checkout_sessions.user_id), \
             customer_id = COALESCE(excluded.customer_id, checkout_sessions.customer_id), mode = excluded.mode, \
             status = excluded.status, payment_status = excluded.payment_status, outcome = excluded.outcome, \
             subscription_id = COALESCE(excluded.subscription_id, checkout_sessions.subscription_id), \
             payment_intent_id = COALESCE(excluded.payment_intent_id, checkout_sessions.payment_intent_id), \
             amount_total = excluded.amount_total, currency = excluded.currency, \
             src_terminal = excluded.src_terminal, src_created = excluded.src_created, \
             src_rank = excluded.src_rank, src_event = excluded.src_event, updated_at = excluded.updated_at \
         WHERE {}",
        newer_than("checkout_sessions")
    );
    sqlx::query(&sql)
        .bind(r.id.as_str())
        .bind(r.user_id.as_ref().map(|u| u.as_str()))
        .bind(r.customer.as_ref().map(|c| c.as_str()))
        .bind(r.mode.as_deref())
        .bind(r.status.as_deref())
        .bind(r.payment_status.as_deref())
        .bind(r.outcome.as_str())
        .bind(r.subscription.as_ref().map(|s| s.as_str()))
        .bind(r.payment_intent.as_ref().map(|s| s.as_str()))
        .bind(r.amount_total)
        .bind(currency_text(r.currency))
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn refund(
    conn: &mut AnyConnection,
    r: &RefundRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let sql = format!(
        "INSERT INTO refunds (key, refund_id, charge_id, payment_intent_id, amount, currency, status, reason, \
             src_terminal, src_created, src_rank, src_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (key) DO UPDATE SET charge_id = COALESCE(excluded.charge_id, refunds.charge_id), \
             payment_intent_id = COALESCE(excluded.payment_intent_id, refunds.payment_intent_id), \
             amount = excluded.amount, currency = excluded.currency, status = excluded.status, reason = excluded.reason, \
             src_terminal = excluded.src_terminal, src_created = excluded.src_created, \
             src_rank = excluded.src_rank, src_event = excluded.src_event, updated_at = excluded.updated_at \
         WHERE {}",
        newer_than("refunds")
    );
    sqlx::query(&sql)
        .bind(r.key.as_str())
        .bind(r.refund.as_ref().map(|id| id.as_str()))
        .bind(r.charge.as_ref().map(|id| id.as_str()))
        .bind(r.payment_intent.as_ref().map(|id| id.as_str()))
        .bind(r.amount)
        .bind(currency_text(r.currency))
        .bind(r.status.as_deref())
        .bind(r.reason.as_deref())
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn dispute(
    conn: &mut AnyConnection,
    r: &DisputeRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let sql = format!(
        "INSERT INTO disputes (id, charge_id, payment_intent_id, amount, currency, status, reason, \
             src_terminal, src_created, src_rank, src_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (id) DO UPDATE SET charge_id = COALESCE(excluded.charge_id, disputes.charge_id), \
             payment_intent_id = COALESCE(excluded.payment_intent_id, disputes.payment_intent_id), \
             amount = excluded.amount, currency = excluded.currency, status = excluded.status, reason = excluded.reason, \
             src_terminal = excluded.src_terminal, src_created = excluded.src_created, \
             src_rank = excluded.src_rank, src_event = excluded.src_event, updated_at = excluded.updated_at \
         WHERE {}",
        newer_than("disputes")
    );
    sqlx::query(&sql)
        .bind(r.id.as_str())
        .bind(r.charge.as_ref().map(|id| id.as_str()))
        .bind(r.payment_intent.as_ref().map(|id| id.as_str()))
        .bind(r.amount)
        .bind(currency_text(r.currency))
        .bind(r.status.as_deref())
        .bind(r.reason.as_deref())
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn payment_method(
    conn: &mut AnyConnection,
    r: &PaymentMethodRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let p = &r.precedence;
    let sql = format!(
        "INSERT INTO payment_methods (id, customer_id, method_type, brand, last4, exp_month, exp_year, attached, \
             src_terminal, src_created, src_rank, src_event, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, \
             method_type = excluded.method_type, brand = excluded.brand, last4 = excluded.last4, \
             exp_month = excluded.exp_month, exp_year = excluded.exp_year, attached = excluded.attached, \
             src_terminal = excluded.src_terminal, src_created = excluded.src_created, \
             src_rank = excluded.src_rank, src_event = excluded.src_event, updated_at = excluded.updated_at \
         WHERE {}",
        newer_than("payment_methods")
    );
    sqlx::query(&sql)
        .bind(r.id.as_str())
        .bind(r.customer.as_ref().map(|id| id.as_str()))
        .bind(r.method_type.as_deref())
        .bind(r.brand.as_deref())
        .bind(r.last4.as_deref())
        .bind(r.exp_month)
        .bind(r.exp_year)
        .bind(r.attached)
        .bind(p.terminal)
        .bind(p.created)
        .bind(p.rank)
        .bind(p.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}
