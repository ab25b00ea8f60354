//! When a failed delivery is tried again: a fixed, growing schedule with
//! jitter, so a receiver that was down is not hit by every message at the
//! same instant when it comes back.

use std::time::Duration;

use rand::Rng;

/// The default delays after the 1st, 2nd, … failed attempt: 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 10 h; after the last, the delivery is dead
/// (eight attempts over about a day).
pub fn default_schedule() -> Vec<Duration> {
    [5, 300, 1800, 7200, 18_000, 36_000, 36_000]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// Milliseconds to wait after `attempts` failed attempts, or `None` when
/// the schedule is exhausted. Jitter: ±20 %.
pub fn next_delay_ms(schedule: &[Duration], attempts: i64) -> Option<i64> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = i64::try_from(schedule.get(index)?.as_millis()).unwrap_or(i64::MAX);
    let spread = base / 5;
    let jitter = if spread > 0 {
        rand::thread_rng().gen_range(-spread..=spread)
    } else {
        0
    };
    Some(base.saturating_add(jitter).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_schedule_within_jitter_and_then_stop() {
        let schedule = default_schedule();
        for (attempts, base) in [(1, 5_000), (2, 300_000), (4, 7_200_000), (7, 36_000_000)] {
            let delay = next_delay_ms(&schedule, attempts).expect("scheduled");
            assert!(
                (base * 4 / 5..=base * 6 / 5).contains(&delay),
                "attempt {attempts}: {delay}"
            );
        }
        assert_eq!(
            next_delay_ms(&schedule, 8),
            None,
            "dead after eight attempts"
        );
        assert_eq!(next_delay_ms(&schedule, 0), None);
    }
}
