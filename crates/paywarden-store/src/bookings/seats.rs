//! Counting and taking seats: the only code that decides whether a booking
//! gets one.
//!
//! Every step that can take a seat (holding one for a new Checkout,
//! confirming a payment) first locks the course row, then counts, then
//! writes, all in one transaction; on SQLite the write transaction already
//! excludes other writers. Two users racing for the last seat are thereby
//! served one after the other.

use paywarden_core::ids::{BookingId, CourseId};
use sqlx::{AnyConnection, Row};

use crate::backend::Backend;
use crate::error::StoreError;

/// Seconds a pending booking keeps its seat after its Checkout Session
/// expires: Stripe refuses payment after `expires_at`, but the event of a
/// payment made just before may arrive a little later.
pub const HOLD_GRACE_SECS: i64 = 10 * 60;

/// Locks the course for this transaction; its capacity, or `None` if there
/// is no such course.
pub(crate) async fn lock_course(
    conn: &mut AnyConnection,
    backend: Backend,
    course: CourseId,
) -> Result<Option<u32>, StoreError> {
    let sql = format!(
        "SELECT capacity FROM courses WHERE id = $1{}",
        backend.for_update()
    );
    let row = sqlx::query(&sql)
        .bind(course.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        let capacity: i64 = row.try_get("capacity")?;
        u32::try_from(capacity)
            .map_err(|_| StoreError::Corrupt(format!("courses.capacity {capacity}")))
    })
    .transpose()
}

/// The SQL condition for a booking that holds a seat at `$now` (the bind
/// named by `now`), for bookings aliased `b`.
pub(crate) fn takes_seat(now: &str) -> String {
    format!("(b.status = 'confirmed' OR (b.status = 'pending' AND b.hold_until > {now}))")
}

/// Seats of `course` taken at `now_secs` by bookings other than `except`.
pub(crate) async fn taken(
    conn: &mut AnyConnection,
    course: CourseId,
    except: Option<BookingId>,
    now_secs: i64,
) -> Result<u32, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM bookings b WHERE b.course_id = $1 AND b.id <> $2 AND {}",
        takes_seat("$3")
    );
    let row = sqlx::query(&sql)
        .bind(course.to_string())
        .bind(except.map(|id| id.to_string()).unwrap_or_default())
        .bind(now_secs)
        .fetch_one(&mut *conn)
        .await?;
    let n: i64 = row.try_get("n")?;
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("seat count {n}")))
}
