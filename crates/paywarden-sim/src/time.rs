//! Time-driven changes: checkout sessions expiring, renewals, trial ends,
//! dunning retries and `cancel_at_period_end` taking effect.
//!
//! Objects on a test clock move only when that clock is advanced
//! (`POST /v1/test_helpers/test_clocks/{id}/advance`); everything else
//! follows the sim's own "now" (wall clock plus `Objects::time_offset`),
//! which a background ticker checks every second.

use std::time::Duration;

use crate::state::{Objects, Sim};

/// How often the ticker looks for due work.
const TICK: Duration = Duration::from_secs(1);

/// Runs until the process ends: applies due work for objects on no clock.
pub async fn tick(sim: Sim) {
    let mut interval = tokio::time::interval(TICK);
    loop {
        interval.tick().await;
        let mut objects = sim.objects();
        let now = objects.now();
        run_due(&mut objects, None, now);
    }
}

/// Applies everything due on `clock` (`None`: objects on no test clock)
/// up to and including `until`, in time order.
pub fn run_due(objects: &mut Objects, clock: Option<&str>, until: i64) {
    crate::payments::expire_due(objects, clock, until);
    crate::billing::advance(objects, clock, until);
}
