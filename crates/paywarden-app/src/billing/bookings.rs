//! Booking a course seat through Checkout.
//!
//! A seat is held first (in the database, under the course's lock), then a
//! Checkout Session is made for the course's price as stored on the server,
//! expiring when the hold does. The booking is confirmed only by Stripe's
//! word: the session's or PaymentIntent's webhook, or the success page's
//! fetch of the session. A failed or expired booking is retried on the same
//! row with a new session; the idempotency key names the attempt, so a
//! retried request never makes a second session for one attempt.

use paywarden_core::courses::{BookingRefusal, BookingStatus};
use paywarden_core::ids::{BookingId, CourseId};
use paywarden_core::UserId;
use paywarden_store::{
    now_ms, Booking, BookingView, Bookings, CourseSeats, HoldOutcome, HOLD_GRACE_SECS,
};
use paywarden_stripe::{
    CheckoutMode, CreateCheckoutSession, CreateRefund, IdempotencyKey, InlinePrice, InlineProduct,
    LineItem, Metadata, PaymentIntentData,
};
use serde::Serialize;

use super::{return_paths, Billing};
use crate::AppError;

/// How long a booking's Checkout stays open: a minute more than Stripe's
/// shortest allowed `expires_at` (30 minutes ahead), so that a request that
/// takes a moment to reach Stripe still qualifies.
pub const CHECKOUT_OPEN_SECS: i64 = 31 * 60;

/// A booking and where to pay for it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BookingCheckout {
    pub booking: BookingId,
    pub status: BookingStatus,
    pub checkout_url: String,
    pub checkout_session: String,
    /// Unix seconds: the seat is held, and the page open, until then.
    pub expires_at: i64,
}

impl Billing {
    /// Published courses with their free seats.
    pub async fn courses(&self) -> Result<Vec<CourseSeats>, AppError> {
        Ok(self.store().courses(false, now_ms() / 1000).await?)
    }

    /// A published course; unpublished ones are not found.
    pub async fn course(&self, id: CourseId) -> Result<CourseSeats, AppError> {
        match self.store().course(id, now_ms() / 1000).await? {
            Some(seats) if seats.course.published() => Ok(seats),
            _ => Err(AppError::NotFound("course")),
        }
    }

    /// Books a seat on `course` for `user`: holds it and opens a Checkout.
    /// A second booking of the same course is a conflict; a failed or
    /// expired one is retried.
    pub async fn book(&self, user: &UserId, course: CourseId) -> Result<BookingCheckout, AppError> {
        let seats = self.course(course).await?;
        let now = now_ms();
        match seats.course.refuses_booking(now / 1000) {
            Some(BookingRefusal::NotPublished) => return Err(AppError::NotFound("course")),
            Some(BookingRefusal::Started) => {
                return Err(AppError::Invalid(
                    "this course has already started; it takes no more bookings".into(),
                ))
            }
            None => {}
        }
        let hold_until = now / 1000 + CHECKOUT_OPEN_SECS + HOLD_GRACE_SECS;
        let outcome = self
            .store()
            .hold_seat(course, user, BookingId::generate(), hold_until, now)
            .await?;
        let booking = match outcome {
            HoldOutcome::Held(booking) => booking,
            HoldOutcome::Exists(existing) if existing.status == BookingStatus::Confirmed => {
                return Err(AppError::Conflict(format!(
                    "you have already booked this course (booking {})",
                    existing.id
                )))
            }
            // A pending booking whose session was never recorded (Stripe's
            // answer was lost): the same attempt again, same idempotency key.
            HoldOutcome::Exists(existing) if existing.checkout_session_id.is_none() => existing,
            HoldOutcome::Exists(existing) => {
                return Err(AppError::Conflict(format!(
                    "you already have a pending booking of this course ({}); continue its payment \
                     with POST /api/bookings/{}/checkout",
                    existing.id, existing.id
                )))
            }
            HoldOutcome::Full => {
                return Err(AppError::Conflict(
                    "this course is full: every seat is booked or being paid for".into(),
                ))
            }
            HoldOutcome::UnknownCourse => return Err(AppError::NotFound("course")),
        };
        self.open_checkout(user, &seats, booking).await
    }

    /// The Checkout to pay a booking with: its open session again, or, for
    /// a failed or expired booking, a new one (if a seat is free).
    pub async fn booking_checkout(
        &self,
        user: &UserId,
        booking: BookingId,
    ) -> Result<BookingCheckout, AppError> {
        let found = self
            .store()
            .booking_of(user, booking)
            .await?
            .ok_or(AppError::NotFound("booking"))?;
        let now = now_ms();
        if found.status == BookingStatus::Pending {
            if let (Some(session), Some(url)) = (&found.checkout_session_id, &found.checkout_url) {
                let expires_at = found.hold_until - HOLD_GRACE_SECS;
                if expires_at > now / 1000 {
                    return Ok(BookingCheckout {
                        booking: found.id,
                        status: found.status,
                        checkout_url: url.clone(),
                        checkout_session: session.clone(),
                        expires_at,
                    });
                }
            }
        }
        match found.status {
            BookingStatus::Confirmed => {
                return Err(AppError::Conflict("this booking is already paid".into()))
            }
            BookingStatus::Cancelled => {
                return Err(AppError::Conflict(
                    "this booking was cancelled; book the course again".into(),
                ))
            }
            BookingStatus::Pending
                if found.hold_until > now / 1000 && found.checkout_session_id.is_some() =>
            {
                return Err(AppError::Conflict(
                    "this booking's checkout has just expired; try again in a few minutes".into(),
                ))
            }
            _ => {}
        }
        self.book(user, found.course_id).await
    }

    /// The user's bookings, newest first.
    pub async fn bookings_of(&self, user: &UserId) -> Result<Vec<BookingView>, AppError> {
        Ok(self.store().bookings_of_user(user).await?)
    }

    /// The user's booking; another user's is not found.
    pub async fn booking(&self, user: &UserId, id: BookingId) -> Result<Booking, AppError> {
        self.store()
            .booking_of(user, id)
            .await?
            .ok_or(AppError::NotFound("booking"))
    }

    /// Cancels the user's confirmed booking with a full refund through
    /// Stripe, if the course starts far enough ahead (the cancellation
    /// policy). The seat is freed once Stripe confirms the refund: at once
    /// when its answer says so, else from the refund's webhook.
    pub async fn cancel_booking(&self, user: &UserId, id: BookingId) -> Result<Booking, AppError> {
        let booking = self.booking(user, id).await?;
        if booking.status == BookingStatus::Cancelled {
            return Ok(booking);
        }
        if booking.status != BookingStatus::Confirmed {
            return Err(AppError::Conflict(format!(
                "only a confirmed booking can be cancelled; this one is {}",
                booking.status
            )));
        }
        let course = self
            .store()
            .course(booking.course_id, now_ms() / 1000)
            .await?
            .ok_or(AppError::NotFound("course"))?;
        let window = i64::try_from(self.inner.cancel_until.as_secs()).unwrap_or(i64::MAX);
        if course.course.starts_at().saturating_sub(window) <= now_ms() / 1000 {
            return Err(AppError::Conflict(format!(
                "bookings can be cancelled until {} hours before the course starts",
                window / 3600
            )));
        }
        let payment_intent = booking.payment_intent_id.clone().ok_or_else(|| {
            AppError::Conflict(
                "this booking has no payment to refund yet; try again shortly".into(),
            )
        })?;
        self.store()
            .request_cancellation(user, id, now_ms())
            .await?
            .ok_or(AppError::NotFound("booking"))?;
        let params = CreateRefund {
            payment_intent,
            amount: None,
            reason: Some("requested_by_customer".into()),
            metadata: [("booking_id".to_owned(), id.to_string())].into(),
        };
        // One refund per booking, however often the user clicks.
        let key = IdempotencyKey::derive("booking.refund", &[&id.to_string()]);
        let refund: serde_json::Value = self.stripe().post("/v1/refunds", &params, &key).await?;
        // Stripe's own answer is verified data: a succeeded refund frees
        // the seat now, through the same projection as its webhook.
        self.apply_fetched(vec![("refund.updated", refund)]).await?;
        self.booking(user, id).await
    }

    async fn open_checkout(
        &self,
        user: &UserId,
        seats: &CourseSeats,
        booking: Booking,
    ) -> Result<BookingCheckout, AppError> {
        let customer = self.customer_for(user).await?;
        let metadata: Metadata = [
            ("user_id".to_owned(), user.as_str().to_owned()),
            ("booking_id".to_owned(), booking.id.to_string()),
            ("course_id".to_owned(), booking.course_id.to_string()),
        ]
        .into();
        let expires_at = booking.hold_until - HOLD_GRACE_SECS;
        let urls = self.public_base_url();
        let params = CreateCheckoutSession {
            mode: CheckoutMode::Payment,
            line_items: vec![LineItem {
                price: None,
                price_data: Some(InlinePrice {
                    // The price the seat was held at, from the server.
                    currency: booking.price.currency.as_str().to_owned(),
                    unit_amount: booking.price.amount,
                    product_data: InlineProduct {
                        name: seats.course.title().to_owned(),
                        metadata: [("course_id".to_owned(), booking.course_id.to_string())].into(),
                    },
                }),
                quantity: 1,
            }],
            success_url: urls.join(return_paths::SUCCESS),
            cancel_url: urls.join(&format!("{}?booking={}", return_paths::CANCEL, booking.id)),
            customer: Some(customer.as_str().to_owned()),
            customer_email: None,
            client_reference_id: Some(user.as_str().to_owned()),
            metadata: metadata.clone(),
            subscription_data: None,
            payment_intent_data: Some(PaymentIntentData { metadata }),
            allow_promotion_codes: None,
            expires_at: Some(expires_at),
        };
        // One attempt, one key: `updated_at` changes when a retry holds the
        // seat again, and not otherwise.
        let attempt = booking.updated_at.to_string();
        let key = IdempotencyKey::derive("booking", &[&booking.id.to_string(), &attempt]);
        let session = self.stripe().create_checkout_session(&params, &key).await?;
        let url = session.url.clone().ok_or_else(|| {
            AppError::Internal("Stripe answered a Checkout Session without a url".into())
        })?;
        self.store()
            .attach_session(
                booking.id,
                &session.id,
                &url,
                session.expires_at + HOLD_GRACE_SECS,
                now_ms(),
            )
            .await?;
        Ok(BookingCheckout {
            booking: booking.id,
            status: BookingStatus::Pending,
            checkout_url: url,
            checkout_session: session.id,
            expires_at: session.expires_at,
        })
    }
}
