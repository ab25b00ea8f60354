//! When to retry and how long to wait, as Stripe's SDKs do it.

use std::time::Duration;

use rand::Rng;

/// Whether a Stripe answer with `status` is worth retrying; the server's
/// `Stripe-Should-Retry` hint, when present, wins.
pub(crate) fn should_retry_status(status: u16, hint: Option<bool>) -> bool {
    hint.unwrap_or(status == 409 || status == 429 || status >= 500)
}

/// Delay before retry number `retry` (1-based): `initial × 2^(retry-1)`,
/// capped at `max`, times a jitter in [0.5, 1], never below `initial / 2`.
pub(crate) fn backoff(retry: u32, initial: Duration, max: Duration) -> Duration {
    let exponent = retry.saturating_sub(1).min(16);
    let base = initial.saturating_mul(1 << exponent).min(max);
    let jitter = rand::thread_rng().gen_range(0.5..=1.0);
    base.mul_f64(jitter).max(initial / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_wins_over_status() {
        assert!(should_retry_status(500, None));
        assert!(should_retry_status(429, None));
        assert!(should_retry_status(409, None));
        assert!(!should_retry_status(400, None));
        assert!(!should_retry_status(500, Some(false)));
        assert!(should_retry_status(400, Some(true)));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let initial = Duration::from_millis(500);
        let max = Duration::from_secs(5);
        for retry in 1..10 {
            let delay = backoff(retry, initial, max);
            assert!(delay >= initial / 2 && delay <= max, "{retry}: {delay:?}");
        }
        assert!(backoff(3, initial, max) >= Duration::from_secs(1));
    }
}
