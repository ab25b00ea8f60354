//! What Stripe's word does to a booking, inside the transaction that
//! records the event: a payment confirms it (if a seat is still there), a
//! failed or expired session frees its seat.

use paywarden_core::courses::BookingStatus;
use paywarden_core::ids::BookingId;
use paywarden_core::projection::{BookingRecord, CheckoutOutcome, RefundRecord};
use sqlx::AnyConnection;

use super::{
    announce, read_booking, record_session, seats, Booking, BOOKING_COLUMNS, RETURNED_COLUMNS,
};
use crate::backend::Backend;
use crate::error::StoreError;

/// What a Checkout Session's event says about its booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingSettlement {
    Paid {
        amount_paid: Option<i64>,
        payment_intent: Option<String>,
    },
    Failed,
    Expired,
}

/// What settling did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Confirmed(Booking),
    /// Paid, but every seat was taken meanwhile (a payment whose event came
    /// after its hold ran out): the booking failed and is owed a refund.
    Oversold(Booking),
    /// Failed or expired: the seat is free again.
    Released(Booking),
    /// Already settled this way, or superseded (a later session, a
    /// cancellation): nothing changed.
    Unchanged,
    /// No such booking.
    Unknown,
}

async fn locked_booking(
    conn: &mut AnyConnection,
    backend: Backend,
    id: BookingId,
) -> Result<Option<(Booking, u32)>, StoreError> {
    let find = format!("SELECT {BOOKING_COLUMNS} FROM bookings b WHERE b.id = $1");
    let Some(first) = sqlx::query(&find)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(read_booking)
        .transpose()?
    else {
        return Ok(None);
    };
    // The course lock orders this against every other seat-taking step;
    // the booking is read again under it.
    let capacity = seats::lock_course(conn, backend, first.course_id)
        .await?
        .unwrap_or(0);
    let row = sqlx::query(&find)
        .bind(id.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some((read_booking(&row)?, capacity)))
}

/// Applies `settlement` from session `session_id` (if the event is about
/// one) to booking `id`.
pub(crate) async fn settle(
    conn: &mut AnyConnection,
    backend: Backend,
    id: BookingId,
    session_id: Option<&str>,
    settlement: &BookingSettlement,
    now_ms: i64,
) -> Result<Settled, StoreError> {
    let Some((booking, capacity)) = locked_booking(conn, backend, id).await? else {
        return Ok(Settled::Unknown);
    };
    if let Some(session_id) = session_id {
        record_session(conn, id, session_id, now_ms).await?;
    }
    let update = |set: &str| {
        format!(
            "UPDATE bookings SET {set}, updated_at = $2 WHERE id = $1 RETURNING {RETURNED_COLUMNS}"
        )
    };
    match settlement {
        BookingSettlement::Paid {
            amount_paid,
            payment_intent,
        } => {
            if matches!(
                booking.status,
                BookingStatus::Confirmed | BookingStatus::Cancelled
            ) {
                return Ok(Settled::Unchanged);
            }
            let now_secs = now_ms.div_euclid(1000);
            let taken = seats::taken(conn, booking.course_id, Some(id), now_secs).await?;
            let (sql, oversold) = if taken < capacity {
                (
                    update(
                        "status = 'confirmed', confirmed_at = $2, \
                         checkout_session_id = COALESCE($3, checkout_session_id), \
                         amount_paid = $4, payment_intent_id = $5, status_reason = NULL",
                    ),
                    false,
                )
            } else {
                (
                    update(
                        "status = 'failed', checkout_session_id = COALESCE($3, checkout_session_id), \
                         amount_paid = $4, \
                         payment_intent_id = $5, \
                         status_reason = 'paid after every seat was taken; a refund is due'",
                    ),
                    true,
                )
            };
            let row = sqlx::query(&sql)
                .bind(id.to_string())
                .bind(now_ms)
                .bind(session_id)
                .bind(*amount_paid)
                .bind(payment_intent.as_deref())
                .fetch_one(&mut *conn)
                .await?;
            let booking = read_booking(&row)?;
            announce(conn, &booking, now_ms).await?;
            Ok(if oversold {
                Settled::Oversold(booking)
            } else {
                Settled::Confirmed(booking)
            })
        }
        BookingSettlement::Failed | BookingSettlement::Expired => {
            let current = booking.checkout_session_id.as_deref();
            if booking.status != BookingStatus::Pending
                || current.is_some_and(|current| Some(current) != session_id)
            {
                return Ok(Settled::Unchanged);
            }
            let (status, reason) = match settlement {
                BookingSettlement::Failed => ("failed", "the payment failed"),
                _ => ("expired", "the checkout expired before payment"),
            };
            let row = sqlx::query(&update("status = $3, status_reason = $4"))
                .bind(id.to_string())
                .bind(now_ms)
                .bind(status)
                .bind(reason)
                .fetch_one(&mut *conn)
                .await?;
            let booking = read_booking(&row)?;
            announce(conn, &booking, now_ms).await?;
            Ok(Settled::Released(booking))
        }
    }
}

/// Applies a projected booking change (see `projections`).
pub(crate) async fn apply_record(
    conn: &mut AnyConnection,
    record: &BookingRecord,
    now_ms: i64,
) -> Result<(), StoreError> {
    let settlement = match record.outcome {
        CheckoutOutcome::Paid => BookingSettlement::Paid {
            amount_paid: record.amount_paid,
            payment_intent: record
                .payment_intent
                .as_ref()
                .map(|p| p.as_str().to_owned()),
        },
        CheckoutOutcome::Failed => BookingSettlement::Failed,
        CheckoutOutcome::Expired => BookingSettlement::Expired,
        CheckoutOutcome::AwaitingPayment => return Ok(()),
    };
    let backend = Backend::of(conn);
    let session = record.session.as_ref().map(|s| s.as_str());
    match settle(conn, backend, record.booking, session, &settlement, now_ms).await? {
        Settled::Oversold(booking) => tracing::warn!(
            booking.id = %booking.id, course.id = %booking.course_id,
            "a booking was paid after its course filled up; it needs a refund"
        ),
        Settled::Unknown => tracing::warn!(
            booking.id = %record.booking,
            "a Checkout names a booking this database does not have"
        ),
        _ => {}
    }
    Ok(())
}

/// A refund Stripe says succeeded: a confirmed booking paid by that
/// PaymentIntent, refunded in full, is cancelled and its seat freed.
/// Whether the user asked through paywarden or an operator refunded in
/// Stripe's dashboard, the money is back, so the seat is too.
pub(crate) async fn on_refund(
    conn: &mut AnyConnection,
    refund: &RefundRecord,
    now_ms: i64,
) -> Result<(), StoreError> {
    let (Some("succeeded"), Some(payment_intent)) =
        (refund.status.as_deref(), refund.payment_intent.as_ref())
    else {
        return Ok(());
    };
    let row = sqlx::query(
        "SELECT id FROM bookings WHERE payment_intent_id = $1 AND status = 'confirmed'",
    )
    .bind(payment_intent.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let id: BookingId = crate::row::parsed(&row, "id")?;
    let backend = Backend::of(conn);
    let Some((booking, _)) = locked_booking(conn, backend, id).await? else {
        return Ok(());
    };
    let paid = booking.amount_paid.unwrap_or(booking.price.amount);
    if booking.status != BookingStatus::Confirmed || refund.amount < paid {
        return Ok(());
    }
    let row = sqlx::query(&format!(
        "UPDATE bookings SET status = 'cancelled', status_reason = 'cancelled and refunded', \
             updated_at = $2 WHERE id = $1 RETURNING {RETURNED_COLUMNS}"
    ))
    .bind(id.to_string())
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    announce(conn, &read_booking(&row)?, now_ms).await
}
