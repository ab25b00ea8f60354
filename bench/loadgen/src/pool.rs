//! A fixed pool of workers pulling event numbers from one shared counter:
//! exactly `concurrency` tasks, no per-event spawning.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::stats::Tally;

/// Hands out event numbers `0..count` until the count or the deadline runs out.
#[derive(Debug)]
pub struct Dispenser {
    next: AtomicU64,
    count: u64,
    deadline: Instant,
    stopped_early: AtomicBool,
}

impl Dispenser {
    pub fn new(count: u64, max_time: Duration) -> Self {
        let now = Instant::now();
        Self {
            next: AtomicU64::new(0),
            count,
            deadline: now.checked_add(max_time).unwrap_or(now),
            stopped_early: AtomicBool::new(false),
        }
    }

    /// The next event number, or `None` when the run is over.
    pub fn take(&self) -> Option<u64> {
        if Instant::now() >= self.deadline {
            if self.next.load(Ordering::Relaxed) < self.count {
                self.stopped_early.store(true, Ordering::Relaxed);
            }
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.count).then_some(i)
    }

    pub fn stopped_early(&self) -> bool {
        self.stopped_early.load(Ordering::Relaxed)
    }
}

/// Runs `concurrency` copies of `worker`, each looping over the dispenser,
/// and returns the merged tally, the wall time and whether time ran out.
pub async fn run<W, F>(
    concurrency: usize,
    count: u64,
    max_time: Duration,
    worker: W,
) -> anyhow::Result<(Tally, Duration, bool)>
where
    W: Fn(Arc<Dispenser>) -> F,
    F: Future<Output = Tally> + Send + 'static,
{
    let dispenser = Arc::new(Dispenser::new(count, max_time));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..concurrency {
        set.spawn(worker(Arc::clone(&dispenser)));
    }
    let mut total = Tally::default();
    while let Some(joined) = set.join_next().await {
        total.merge(joined?);
    }
    Ok((total, started.elapsed(), dispenser.stopped_early()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispenses_each_number_once_then_stops() {
        let d = Dispenser::new(3, Duration::from_secs(60));
        let got: Vec<_> = std::iter::from_fn(|| d.take()).collect();
        assert_eq!(got, vec![0, 1, 2]);
        assert!(!d.stopped_early());
    }

    #[test]
    fn deadline_stops_and_is_reported() {
        let d = Dispenser::new(3, Duration::ZERO);
        assert_eq!(d.take(), None);
        assert!(d.stopped_early());
    }
}
