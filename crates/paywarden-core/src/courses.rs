//! Courses and bookings: what a seat costs, how many there are, and the
//! states a booking moves through.
//!
//! A [`Course`] can only be built valid (a title, a positive price, at
//! least one seat, an end after its start), so seed data with a zero price
//! or no seats is refused where it is read, not discovered at checkout.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::CourseId;
use crate::money::Money;

/// Longest title and description accepted.
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 5_000;
/// Most seats a course may have.
pub const MAX_CAPACITY: u32 = 100_000;

/// A course as sold. Fields are private so none can be made invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Course {
    id: CourseId,
    title: String,
    description: String,
    price: Money,
    capacity: u32,
    /// Unix seconds.
    starts_at: i64,
    ends_at: i64,
    published: bool,
}

/// What a course is made from, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseDraft {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Minor units.
    pub price: i64,
    pub currency: String,
    pub capacity: i64,
    /// Unix seconds.
    pub starts_at: i64,
    pub ends_at: i64,
    #[serde(default)]
    pub published: bool,
}

/// Why a draft is not a course.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CourseError {
    #[error("a course needs a title of 1 to {MAX_TITLE} characters")]
    Title,
    #[error("a course description is at most {MAX_DESCRIPTION} characters")]
    Description,
    #[error("a course price must be a positive amount in minor units (got {0})")]
    Price(i64),
    #[error(transparent)]
    Currency(#[from] crate::money::InvalidCurrency),
    #[error("a course needs between 1 and {MAX_CAPACITY} seats (got {0})")]
    Capacity(i64),
    #[error("a course must end after it starts")]
    Dates,
}

impl Course {
    /// Checks a draft; `id` is the course's (new or stored) id.
    pub fn new(id: CourseId, draft: CourseDraft) -> Result<Self, CourseError> {
        let title = draft.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(CourseError::Title);
        }
        if draft.description.chars().count() > MAX_DESCRIPTION {
            return Err(CourseError::Description);
        }
        if draft.price <= 0 {
            return Err(CourseError::Price(draft.price));
        }
        let currency = draft.currency.parse()?;
        let capacity = u32::try_from(draft.capacity)
            .ok()
            .filter(|c| (1..=MAX_CAPACITY).contains(c))
            .ok_or(CourseError::Capacity(draft.capacity))?;
        if draft.ends_at <= draft.starts_at {
            return Err(CourseError::Dates);
        }
        Ok(Self {
            id,
            title,
            description: draft.description,
            price: Money::new(draft.price, currency),
            capacity,
            starts_at: draft.starts_at,
            ends_at: draft.ends_at,
            published: draft.published,
        })
    }

    pub fn id(&self) -> CourseId {
        self.id
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn price(&self) -> Money {
        self.price
    }
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
    pub fn starts_at(&self) -> i64 {
        self.starts_at
    }
    pub fn ends_at(&self) -> i64 {
        self.ends_at
    }
    pub fn published(&self) -> bool {
        self.published
    }

    /// Why the course cannot be booked at `now_secs`, if it cannot.
    pub fn refuses_booking(&self, now_secs: i64) -> Option<BookingRefusal> {
        if !self.published {
            Some(BookingRefusal::NotPublished)
        } else if self.starts_at <= now_secs {
            Some(BookingRefusal::Started)
        } else {
            None
        }
    }
}

/// Why a course takes no booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingRefusal {
    /// Not (yet) on sale: answered as not found, like an unknown course.
    NotPublished,
    Started,
}

/// Where a booking stands.
///
/// `pending` holds a seat while its Checkout Session is open; `confirmed`
/// is paid (from verified Stripe data only); `failed` and `expired` free
/// the seat and can be retried; `cancelled` was confirmed and refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Pending,
    Confirmed,
    Failed,
    Cancelled,
    Expired,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 5] = [
        Self::Pending,
        Self::Confirmed,
        Self::Failed,
        Self::Cancelled,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// Whether a new Checkout may be started on this booking.
    pub fn can_retry(self) -> bool {
        matches!(self, Self::Failed | Self::Expired)
    }
}

impl fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not a booking status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a booking status")]
pub struct UnknownBookingStatus(String);

impl FromStr for BookingStatus {
    type Err = UnknownBookingStatus;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| UnknownBookingStatus(value.chars().take(32).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> CourseDraft {
        CourseDraft {
            title: "Rust for billing".into(),
            description: "Two days.".into(),
            price: 4_900,
            currency: "EUR".into(),
            capacity: 20,
            starts_at: 2_000_000_000,
            ends_at: 2_000_086_400,
            published: true,
        }
    }

    #[test]
    fn a_valid_draft_makes_a_course() {
        let course = Course::new(CourseId::generate(), draft()).expect("valid");
        assert_eq!(course.price().amount, 4900);
        assert_eq!(course.price().currency.as_str(), "eur");
        assert_eq!(course.capacity(), 20);
    }

    #[test]
    fn bad_drafts_are_refused_with_the_reason() {
        let refused = |edit: fn(&mut CourseDraft)| {
            let mut d = draft();
            edit(&mut d);
            Course::new(CourseId::generate(), d).expect_err("refused")
        };
        assert_eq!(refused(|d| d.price = 0), CourseError::Price(0));
        assert_eq!(refused(|d| d.price = -5), CourseError::Price(-5));
        assert_eq!(refused(|d| d.capacity = 0), CourseError::Capacity(0));
        assert_eq!(refused(|d| d.capacity = -1), CourseError::Capacity(-1));
        assert_eq!(refused(|d| d.title = "  ".into()), CourseError::Title);
        assert_eq!(refused(|d| d.ends_at = d.starts_at), CourseError::Dates);
        assert!(matches!(
            refused(|d| d.currency = "euro".into()),
            CourseError::Currency(_)
        ));
    }

    #[test]
    fn only_published_future_courses_take_bookings() {
        let course = Course::new(CourseId::generate(), draft()).expect("valid");
        assert_eq!(course.refuses_booking(1_999_999_999), None);
        assert_eq!(
            course.refuses_booking(2_000_000_000),
            Some(BookingRefusal::Started)
        );
        let mut hidden = draft();
        hidden.published = false;
        let hidden = Course::new(CourseId::generate(), hidden).expect("valid");
        assert_eq!(
            hidden.refuses_booking(0),
            Some(BookingRefusal::NotPublished)
        );
    }

    #[test]
    fn statuses_round_trip_and_only_failed_or_expired_retry() {
        for status in BookingStatus::ALL {
            assert_eq!(status.as_str().parse::<BookingStatus>(), Ok(status));
        }
        assert!("paid".parse::<BookingStatus>().is_err());
        let retryable: Vec<_> = BookingStatus::ALL
            .into_iter()
            .filter(|s| s.can_retry())
            .collect();
        assert_eq!(retryable, [BookingStatus::Failed, BookingStatus::Expired]);
    }
}
