//! Courses and their bookings.
//!
//! A booking is one row per user and course until it is cancelled: a
//! failed or expired payment is retried on the same row with a new
//! Checkout Session, and every session it ever had is kept in
//! `booking_sessions` so a late event still finds it. Seats are counted
//! and taken only under the course's lock (see `seats`).

mod seats;
mod settle;

use std::future::Future;

use paywarden_core::courses::{BookingStatus, Course, CourseDraft};
use paywarden_core::ids::{BookingId, CourseId};
use paywarden_core::outbound::OutboundEvent;
use paywarden_core::{Money, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::row::{flag, parsed};
use crate::store::Store;

pub use seats::HOLD_GRACE_SECS;
pub(crate) use settle::{apply_record, on_refund};
pub use settle::{BookingSettlement, Settled};

/// A course and how many of its seats are taken now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseSeats {
    pub course: Course,
    pub taken: u32,
}

impl CourseSeats {
    pub fn seats_left(&self) -> u32 {
        self.course.capacity().saturating_sub(self.taken)
    }
}

/// A booking as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: BookingId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub status: BookingStatus,
    /// The session the user pays on now, once Stripe made it.
    pub checkout_session_id: Option<String>,
    /// Where the user pays on it.
    pub checkout_url: Option<String>,
    /// Unix seconds; while pending, the seat is held until then.
    pub hold_until: i64,
    /// What the user is asked to pay (the course's price when booked).
    pub price: Money,
    /// What Stripe says was paid.
    pub amount_paid: Option<i64>,
    pub payment_intent_id: Option<String>,
    pub status_reason: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    pub updated_at: i64,
    pub confirmed_at: Option<i64>,
    /// Unix ms: the user asked to cancel; a refund is on its way.
    pub cancel_requested_at: Option<i64>,
}

/// A user's booking with the course's title and dates, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingView {
    pub booking: Booking,
    pub course_title: String,
    pub course_starts_at: i64,
}

/// What asking for a seat did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// A seat is held on this (new or retried) booking; it needs a session.
    Held(Booking),
    /// The user already has this booking, pending with its seat held, or
    /// confirmed: nothing changed.
    Exists(Booking),
    /// Every seat is taken.
    Full,
    UnknownCourse,
}

/// Courses and bookings.
pub trait Bookings {
    /// Adds a course; with a `seed_key` already present, changes nothing
    /// and answers the existing course's id.
    fn add_course(
        &self,
        course: &Course,
        seed_key: Option<&str>,
        now_ms: i64,
    ) -> impl Future<Output = Result<CourseId, StoreError>> + Send;

    fn course(
        &self,
        id: CourseId,
        now_secs: i64,
    ) -> impl Future<Output = Result<Option<CourseSeats>, StoreError>> + Send;

    /// Courses by start date; only published ones unless `all`.
    fn courses(
        &self,
        all: bool,
        now_secs: i64,
    ) -> impl Future<Output = Result<Vec<CourseSeats>, StoreError>> + Send;

    /// Holds a seat for `user` until `hold_until` (unix seconds): a new
    /// booking (`new_id`), or the user's failed or expired one again.
    fn hold_seat(
        &self,
        course: CourseId,
        user: &UserId,
        new_id: BookingId,
        hold_until: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<HoldOutcome, StoreError>> + Send;

    /// Records the Checkout Session made for a pending booking and holds
    /// its seat until `hold_until`.
    fn attach_session(
        &self,
        booking: BookingId,
        session_id: &str,
        url: &str,
        hold_until: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's booking; another user's is `None`.
    fn booking_of(
        &self,
        user: &UserId,
        booking: BookingId,
    ) -> impl Future<Output = Result<Option<Booking>, StoreError>> + Send;

    /// Marks the user's confirmed booking as being cancelled (its refund
    /// is about to be asked for); `None` if there is no such confirmed
    /// booking of theirs.
    fn request_cancellation(
        &self,
        user: &UserId,
        booking: BookingId,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<Booking>, StoreError>> + Send;

    /// The booking a Checkout Session was made for, with its user.
    fn booking_by_session(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<Option<Booking>, StoreError>> + Send;

    /// The user's bookings, newest first.
    fn bookings_of_user(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<BookingView>, StoreError>> + Send;
}

const COURSE_COLUMNS: &str = "c.id, c.title, c.description, c.price, c.currency, c.capacity, \
     c.starts_at, c.ends_at, c.published";
/// [`BOOKING_COLUMNS`] unqualified, for `RETURNING` (SQLite refuses a
/// table alias there).
pub(crate) const RETURNED_COLUMNS: &str = "id, course_id, user_id, status, \
     checkout_session_id, checkout_url, hold_until, amount, currency, amount_paid, \
     payment_intent_id, status_reason, created_at, updated_at, confirmed_at, cancel_requested_at";
pub(crate) const BOOKING_COLUMNS: &str = "b.id, b.course_id, b.user_id, b.status, \
     b.checkout_session_id, b.checkout_url, b.hold_until, b.amount, b.currency, b.amount_paid, \
     b.payment_intent_id, b.status_reason, b.created_at, b.updated_at, b.confirmed_at, \
     b.cancel_requested_at";

fn read_course(row: &AnyRow) -> Result<CourseSeats, StoreError> {
    let id: CourseId = parsed(row, "id")?;
    let draft = CourseDraft {
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        price: row.try_get("price")?,
        currency: row.try_get("currency")?,
        capacity: row.try_get("capacity")?,
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        published: flag(row, "published")?,
    };
    let course =
        Course::new(id, draft).map_err(|e| StoreError::Corrupt(format!("course {id}: {e}")))?;
    let taken: i64 = row.try_get("taken")?;
    Ok(CourseSeats {
        course,
        taken: u32::try_from(taken).unwrap_or(u32::MAX),
    })
}

pub(crate) fn read_booking(row: &AnyRow) -> Result<Booking, StoreError> {
    let currency: String = row.try_get("currency")?;
    let currency = currency
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("bookings.currency: {e}")))?;
    Ok(Booking {
        id: parsed(row, "id")?,
        course_id: parsed(row, "course_id")?,
        user_id: parsed(row, "user_id")?,
        status: parsed(row, "status")?,
        checkout_session_id: row.try_get("checkout_session_id")?,
        checkout_url: row.try_get("checkout_url")?,
        hold_until: row.try_get("hold_until")?,
        price: Money::new(row.try_get("amount")?, currency),
        amount_paid: row.try_get("amount_paid")?,
        payment_intent_id: row.try_get("payment_intent_id")?,
        status_reason: row.try_get("status_reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        confirmed_at: row.try_get("confirmed_at")?,
        cancel_requested_at: row.try_get("cancel_requested_at")?,
    })
}

/// Remembers that `session_id` was made for `booking` (once).
pub(crate) async fn record_session(
    conn: &mut sqlx::AnyConnection,
    booking: BookingId,
    session_id: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO booking_sessions (session_id, booking_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(booking.to_string())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Tells the host product, in the same transaction, that a booking
/// changed (`booking.updated`, to the endpoints subscribed to it).
pub(crate) async fn announce(
    conn: &mut sqlx::AnyConnection,
    booking: &Booking,
    now_ms: i64,
) -> Result<(), StoreError> {
    let data = serde_json::json!({
        "id": booking.id,
        "course_id": booking.course_id,
        "user_id": booking.user_id,
        "status": booking.status,
        "status_reason": booking.status_reason,
        "amount": booking.price.amount,
        "currency": booking.price.currency,
        "amount_paid": booking.amount_paid,
        "confirmed_at": booking.confirmed_at,
        "updated_at": booking.updated_at,
    });
    crate::outbound::enqueue(conn, &OutboundEvent::booking_updated(data), now_ms).await?;
    Ok(())
}

/// Courses with their taken seats at bind `$1` (now, unix seconds).
fn courses_sql(filter: &str) -> String {
    format!(
        "SELECT {COURSE_COLUMNS}, \
           (SELECT COUNT(*) FROM bookings b WHERE b.course_id = c.id AND {}) AS taken \
         FROM courses c {filter} ORDER BY c.starts_at, c.id",
        seats::takes_seat("$1")
    )
}

impl Bookings for Store {
    async fn add_course(
        &self,
        course: &Course,
        seed_key: Option<&str>,
        now_ms: i64,
    ) -> Result<CourseId, StoreError> {
        let price = course.price();
        let inserted = sqlx::query(
            "INSERT INTO courses (id, seed_key, title, description, price, currency, capacity, \
                 starts_at, ends_at, published, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (seed_key) DO NOTHING RETURNING id",
        )
        .bind(course.id().to_string())
        .bind(seed_key)
        .bind(course.title())
        .bind(course.description())
        .bind(price.amount)
        .bind(price.currency.as_str())
        .bind(i64::from(course.capacity()))
        .bind(course.starts_at())
        .bind(course.ends_at())
        .bind(course.published())
        .bind(now_ms)
        .fetch_optional(&self.write)
        .await?;
        if inserted.is_some() {
            return Ok(course.id());
        }
        let row = sqlx::query("SELECT id FROM courses WHERE seed_key = $1")
            .bind(seed_key)
            .fetch_one(&self.write)
            .await?;
        parsed(&row, "id")
    }

    async fn course(&self, id: CourseId, now_secs: i64) -> Result<Option<CourseSeats>, StoreError> {
        let row = sqlx::query(&courses_sql("WHERE c.id = $2"))
            .bind(now_secs)
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(read_course).transpose()
    }

    async fn courses(&self, all: bool, now_secs: i64) -> Result<Vec<CourseSeats>, StoreError> {
        let filter = if all { "" } else { "WHERE c.published = $2" };
        let sql = courses_sql(filter);
        let mut query = sqlx::query(&sql).bind(now_secs);
        if !all {
            query = query.bind(true);
        }
        query
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(read_course)
            .collect()
    }

    async fn hold_seat(
        &self,
        course: CourseId,
        user: &UserId,
        new_id: BookingId,
        hold_until: i64,
        now_ms: i64,
    ) -> Result<HoldOutcome, StoreError> {
        let now_secs = now_ms.div_euclid(1000);
        let mut tx = self.begin().await?;
        let conn = &mut *tx.tx;
        let Some(capacity) = seats::lock_course(conn, self.backend, course).await? else {
            return Ok(HoldOutcome::UnknownCourse);
        };
        let existing = sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings b \
             WHERE b.user_id = $1 AND b.course_id = $2 AND b.status <> 'cancelled'"
        ))
        .bind(user.as_str())
        .bind(course.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(read_booking)
        .transpose()?;
        if let Some(booking) = &existing {
            let holding = booking.status == BookingStatus::Pending && booking.hold_until > now_secs;
            if booking.status == BookingStatus::Confirmed || holding {
                return Ok(HoldOutcome::Exists(booking.clone()));
            }
        }
        let taken = seats::taken(conn, course, existing.as_ref().map(|b| b.id), now_secs).await?;
        if taken >= capacity {
            return Ok(HoldOutcome::Full);
        }
        let id = existing.as_ref().map_or(new_id, |b| b.id);
        let sql = match existing {
            Some(_) => format!(
                "UPDATE bookings SET status = 'pending', hold_until = $2, \
                     checkout_session_id = NULL, checkout_url = NULL, status_reason = NULL, \
                     updated_at = $3 \
                 WHERE id = $1 RETURNING {RETURNED_COLUMNS}"
            ),
            None => format!(
                "INSERT INTO bookings (id, course_id, user_id, status, hold_until, amount, \
                     currency, created_at, updated_at) \
                 SELECT $1, c.id, $4, 'pending', $2, c.price, c.currency, $3, $3 \
                 FROM courses c WHERE c.id = $5 RETURNING {RETURNED_COLUMNS}"
            ),
        };
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(hold_until)
            .bind(now_ms)
            .bind(user.as_str())
            .bind(course.to_string())
            .fetch_one(&mut *conn)
            .await?;
        let booking = read_booking(&row)?;
        announce(&mut tx.tx, &booking, now_ms).await?;
        tx.commit().await?;
        Ok(HoldOutcome::Held(booking))
    }

    async fn attach_session(
        &self,
        booking: BookingId,
        session_id: &str,
        url: &str,
        hold_until: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        record_session(&mut tx.tx, booking, session_id, now_ms).await?;
        sqlx::query(
            "UPDATE bookings SET checkout_session_id = $2, checkout_url = $5, hold_until = $3, \
                 updated_at = $4 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(booking.to_string())
        .bind(session_id)
        .bind(hold_until)
        .bind(now_ms)
        .bind(url)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    async fn booking_of(
        &self,
        user: &UserId,
        booking: BookingId,
    ) -> Result<Option<Booking>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings b WHERE b.id = $1 AND b.user_id = $2"
        ))
        .bind(booking.to_string())
        .bind(user.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(read_booking).transpose()
    }

    async fn request_cancellation(
        &self,
        user: &UserId,
        booking: BookingId,
        now_ms: i64,
    ) -> Result<Option<Booking>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE bookings SET cancel_requested_at = COALESCE(cancel_requested_at, $3), \
                 status_reason = 'cancellation requested; refund pending', updated_at = $3 \
             WHERE id = $1 AND user_id = $2 AND status = 'confirmed' RETURNING {RETURNED_COLUMNS}"
        ))
        .bind(booking.to_string())
        .bind(user.as_str())
        .bind(now_ms)
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(read_booking).transpose()
    }

    async fn booking_by_session(&self, session_id: &str) -> Result<Option<Booking>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings b \
             JOIN booking_sessions s ON s.booking_id = b.id WHERE s.session_id = $1"
        ))
        .bind(session_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(read_booking).transpose()
    }

    async fn bookings_of_user(&self, user: &UserId) -> Result<Vec<BookingView>, StoreError> {
        sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS}, c.title AS course_title, c.starts_at AS course_starts_at \
             FROM bookings b JOIN courses c ON c.id = b.course_id \
             WHERE b.user_id = $1 ORDER BY b.created_at DESC, b.id DESC LIMIT 500"
        ))
        .bind(user.as_str())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|row| {
            Ok(BookingView {
                booking: read_booking(row)?,
                course_title: row.try_get("course_title")?,
                course_starts_at: row.try_get("course_starts_at")?,
            })
        })
        .collect()
    }
}
