//! Billing periods in calendar time.
//!
//! Stripe bills monthly prices on the anchor's day of the month (the 31st
//! becomes the last day of shorter months, then the 31st again), so a period
//! end is always computed from the anchor, never from the previous end.

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The `n`-th interval after `anchor` (`interval` is a price's
/// `recurring[interval]`, `count` its `interval_count`).
pub fn add_intervals(anchor: i64, interval: &str, count: i64, n: i64) -> i64 {
    let steps = count.saturating_mul(n);
    match interval {
        "day" => anchor.saturating_add(steps.saturating_mul(DAY)),
        "week" => anchor.saturating_add(steps.saturating_mul(7 * DAY)),
        "year" => add_months(anchor, steps.saturating_mul(12)),
        _ => add_months(anchor, steps),
    }
}

/// The first period boundary after `after` on the cycle anchored at
/// `anchor` (at least one interval after `anchor`).
pub fn next_boundary(anchor: i64, interval: &str, count: i64, after: i64) -> i64 {
    let mut n = 1;
    // Bounded: a daily price over a century is ~36,500 steps.
    while n < 100_000 {
        let end = add_intervals(anchor, interval, count, n);
        if end > after {
            return end;
        }
        n += 1;
    }
    add_intervals(after, interval, count, 1)
}

fn add_months(at: i64, months: i64) -> i64 {
    let days = at.div_euclid(DAY);
    let seconds = at.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    let total = year * 12 + (month - 1) + months;
    let (new_year, new_month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let new_day = day.min(days_in_month(new_year, new_month));
    days_from_civil(new_year, new_month, new_day) * DAY + seconds
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A short calendar date for the hosted pages, e.g. `2026-12-23`.
pub fn date(at: i64) -> String {
    let (year, month, day) = civil_from_days(at.div_euclid(DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_31_2025: i64 = 1_738_281_600;

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 59, 60, 10_000, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(date(JAN_31_2025), "2025-01-31");
    }

    #[test]
    fn months_clamp_to_month_end_and_come_back() {
        assert_eq!(
            date(add_intervals(JAN_31_2025, "month", 1, 1)),
            "2025-02-28"
        );
        assert_eq!(
            date(add_intervals(JAN_31_2025, "month", 1, 2)),
            "2025-03-31"
        );
        assert_eq!(date(add_intervals(JAN_31_2025, "year", 1, 1)), "2026-01-31");
        assert_eq!(
            add_intervals(JAN_31_2025, "week", 2, 1),
            JAN_31_2025 + 14 * DAY
        );
    }

    #[test]
    fn next_boundary_is_after_and_on_the_anchor_cycle() {
        let feb_28 = add_intervals(JAN_31_2025, "month", 1, 1);
        let end = next_boundary(JAN_31_2025, "month", 1, feb_28);
        assert_eq!(date(end), "2025-03-31");
        assert_eq!(next_boundary(0, "day", 1, 0), DAY);
    }
}
