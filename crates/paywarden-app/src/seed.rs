//! Sample data: the demo courses that `paywarden seed demo` and the
//! embedded default create, or courses from a TOML file.
//!
//! Seed data goes through the same checks as any course ([`Course::new`]),
//! so a zero price or no seats is refused with the entry's name, and each
//! entry is stored under its key, so seeding twice adds nothing.

use std::collections::BTreeMap;

use paywarden_core::courses::{Course, CourseDraft};
use paywarden_core::ids::CourseId;
use paywarden_store::{now_ms, Bookings, Store};
use serde::Deserialize;

use crate::AppError;

/// A courses file: `[courses.<key>]` tables of [`CourseDraft`] fields, with
/// `starts_in_days` and `days` instead of absolute dates when wanted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoursesFile {
    pub courses: BTreeMap<String, SeedCourse>,
}

/// One course of a seed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCourse {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Minor units.
    pub price: i64,
    pub currency: String,
    pub capacity: i64,
    /// Days from the seeding until the start (absolute `starts_at` wins).
    #[serde(default)]
    pub starts_in_days: Option<i64>,
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// Length in days (absolute `ends_at` wins).
    #[serde(default)]
    pub days: Option<i64>,
    #[serde(default)]
    pub ends_at: Option<i64>,
    #[serde(default = "published")]
    pub published: bool,
}

fn published() -> bool {
    true
}

/// The embedded default's courses: different prices, dates and sizes,
/// one nearly full and one not yet published.
pub const DEMO_COURSES: &str = r#"
[courses.demo-webhooks]
title = "Stripe webhooks that never double-grant"
description = "Signatures, retries, out-of-order events and idempotency, with exercises against a local Stripe."
price = 14900
currency = "usd"
capacity = 20
starts_in_days = 7
days = 1

[courses.demo-entitlements]
title = "Entitlements in microseconds"
description = "Access policies, caches that are never stale, and read-your-writes across replicas."
price = 9900
currency = "usd"
capacity = 12
starts_in_days = 14
days = 2

[courses.demo-ledger]
title = "Credits ledgers for finance teams"
description = "Append-only ledgers, holds and reconciliation, explained for operators."
price = 4900
currency = "eur"
capacity = 2
starts_in_days = 21
days = 1

[courses.demo-workshop]
title = "Billing architecture workshop"
description = "A small-group, hands-on day: bring your own billing problems."
price = 29900
currency = "usd"
capacity = 6
starts_in_days = 45
days = 1

[courses.demo-draft]
title = "Dunning and recovery (coming soon)"
description = "Not published yet."
price = 7900
currency = "usd"
capacity = 30
starts_in_days = 60
days = 1
published = false
"#;

/// Reads a courses file into valid courses, or says which entry is wrong
/// and why.
pub fn read_courses(text: &str, now_secs: i64) -> Result<Vec<(String, Course)>, AppError> {
    let file: CoursesFile =
        toml::from_str(text).map_err(|e| AppError::Invalid(format!("courses file: {e}")))?;
    file.courses
        .into_iter()
        .map(|(key, seed)| {
            let starts_at = seed
                .starts_at
                .unwrap_or(now_secs + seed.starts_in_days.unwrap_or(7) * 86_400);
            let ends_at = seed
                .ends_at
                .unwrap_or(starts_at + seed.days.unwrap_or(1) * 86_400);
            let draft = CourseDraft {
                title: seed.title,
                description: seed.description,
                price: seed.price,
                currency: seed.currency,
                capacity: seed.capacity,
                starts_at,
                ends_at,
                published: seed.published,
            };
            Course::new(CourseId::generate(), draft)
                .map(|course| (key.clone(), course))
                .map_err(|e| AppError::Invalid(format!("course `{key}`: {e}")))
        })
        .collect()
}

/// Stores the courses of `text`; answers how many were new.
pub async fn seed_courses(store: &Store, text: &str) -> Result<usize, AppError> {
    let now = now_ms();
    let courses = read_courses(text, now / 1000)?;
    let mut added = 0;
    for (key, course) in &courses {
        if store.add_course(course, Some(key), now).await? == course.id() {
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_courses_are_valid_and_varied() {
        let courses = read_courses(DEMO_COURSES, 1_800_000_000).expect("valid demo data");
        assert_eq!(courses.len(), 5);
        let prices: std::collections::BTreeSet<_> =
            courses.iter().map(|(_, c)| c.price().amount).collect();
        assert_eq!(prices.len(), 5, "different prices");
        assert!(courses.iter().any(|(_, c)| !c.published()));
        assert!(courses.iter().all(|(_, c)| c.starts_at() > 1_800_000_000));
    }

    #[test]
    fn bad_seed_entries_are_named_in_the_error() {
        let zero =
            "[courses.free]\ntitle = \"Free\"\nprice = 0\ncurrency = \"usd\"\ncapacity = 5\n";
        let err = read_courses(zero, 0)
            .expect_err("zero price refused")
            .to_string();
        assert!(
            err.contains("course `free`") && err.contains("positive"),
            "{err}"
        );
        let negative =
            "[courses.neg]\ntitle = \"Neg\"\nprice = -100\ncurrency = \"usd\"\ncapacity = 5\n";
        assert!(read_courses(negative, 0).is_err());
        let no_seats =
            "[courses.empty]\ntitle = \"Empty\"\nprice = 100\ncurrency = \"usd\"\ncapacity = 0\n";
        let err = read_courses(no_seats, 0)
            .expect_err("no seats refused")
            .to_string();
        assert!(
            err.contains("course `empty`") && err.contains("seats"),
            "{err}"
        );
        let unknown = "[courses.x]\ntitle = \"X\"\nprice = 100\ncurrency = \"usd\"\ncapacity = 1\nseats = 3\n";
        assert!(
            read_courses(unknown, 0).is_err(),
            "unknown fields are refused"
        );
    }
}
