//! Fact rows: payments, payment failures and notifications. Each is
//! inserted once under its unique key and never changed by a later event.

use paywarden_core::projection::{
    InvoicePaymentLink, NotificationRecord, PaymentFailureRecord, PaymentRecord,
};
use sqlx::AnyConnection;

use super::currency_text;
use crate::error::StoreError;

pub(super) async fn payment(conn: &mut AnyConnection, r: &PaymentRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payments (source_id, source, invoice_id, payment_intent_id, customer_id, subscription_id, \
             amount, currency, period_start, period_end, event_id, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (source_id) DO NOTHING",
    )
    .bind(r.source_id.as_str())
    .bind(r.source.as_str())
    .bind(r.invoice.as_ref().map(|id| id.as_str()))
    .bind(r.payment_intent.as_ref().map(|id| id.as_str()))
    .bind(r.customer.as_ref().map(|id| id.as_str()))
    .bind(r.subscription.as_ref().map(|id| id.as_str()))
    .bind(r.amount)
    .bind(currency_text(r.currency))
    .bind(r.period_start)
    .bind(r.period_end)
    .bind(r.event_id.as_str())
    .bind(r.created)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn payment_failure(
    conn: &mut AnyConnection,
    r: &PaymentFailureRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payment_failures (event_id, invoice_id, payment_intent_id, customer_id, subscription_id, amount, \
             currency, attempt_count, next_attempt_at, message, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(r.event_id.as_str())
    .bind(r.invoice.as_ref().map(|id| id.as_str()))
    .bind(r.payment_intent.as_ref().map(|id| id.as_str()))
    .bind(r.customer.as_ref().map(|id| id.as_str()))
    .bind(r.subscription.as_ref().map(|id| id.as_str()))
    .bind(r.amount)
    .bind(currency_text(r.currency))
    .bind(r.attempt_count)
    .bind(r.next_attempt_at)
    .bind(r.message.as_deref())
    .bind(r.created)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn notification(
    conn: &mut AnyConnection,
    r: &NotificationRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notifications (cause_key, kind, customer_id, payload, status, created) \
         VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (cause_key) DO NOTHING",
    )
    .bind(r.cause_key.as_str())
    .bind(r.kind.as_str())
    .bind(r.customer.as_ref().map(|id| id.as_str()))
    .bind(r.payload.to_string())
    .bind(r.created)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn invoice_payment_link(
    conn: &mut AnyConnection,
    link: &InvoicePaymentLink,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO invoice_payment_links (payment_intent_id, invoice_id) VALUES ($1, $2) \
         ON CONFLICT (payment_intent_id) DO NOTHING",
    )
    .bind(link.payment_intent.as_str())
    .bind(link.invoice.as_str())
    .execute(conn)
    .await?;
    Ok(())
}
