//! Per-worker tallies, their merge, and the one-line JSON report.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

/// What one worker saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Latency of every completed request or transaction, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Events attempted, whatever the outcome.
    pub attempted: u64,
    pub ok: u64,
    /// Answers outside 2xx (webhook mode only).
    pub rejected: u64,
    /// Connection, timeout or database errors.
    pub transport: u64,
    /// Answers that said they came from the server's memory (check mode).
    pub memory: u64,
}

impl Tally {
    pub fn record(&mut self, elapsed: Duration) {
        self.latencies_us
            .push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Counts one answer's body: a 2xx is `ok` (its body answered), any
    /// other status is `rejected` and a body that did not arrive is a
    /// transport error, both logged through `log`.
    pub fn count_answer(
        &mut self,
        status: reqwest::StatusCode,
        body: Result<axum::body::Bytes, impl std::fmt::Display>,
        log: impl Fn(&str),
    ) -> Option<axum::body::Bytes> {
        match body {
            Ok(body) if status.is_success() => {
                self.ok += 1;
                Some(body)
            }
            Ok(body) => {
                self.rejected += 1;
                log(&format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body)
                ));
                None
            }
            Err(e) => {
                self.transport += 1;
                log(&e.to_string());
                None
            }
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.attempted += other.attempted;
        self.ok += other.ok;
        self.rejected += other.rejected;
        self.transport += other.transport;
        self.memory += other.memory;
    }

    pub fn errors(&self) -> u64 {
        self.rejected + self.transport
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted_us.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[idx] as f64 / 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The printed line; field order is the output order.
#[derive(Debug, Serialize)]
struct Line<'a> {
    mode: &'a str,
    concurrency: usize,
    count: u64,
    ok: u64,
    errors: u64,
    seconds: f64,
    events_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    non_2xx: u64,
    transport_errors: u64,
    sent: u64,
    stopped_early: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_memory: Option<u64>,
    run_id: &'a str,
}

/// Everything the final line needs.
#[derive(Debug)]
pub struct Report<'a> {
    pub mode: &'a str,
    pub run_id: &'a str,
    pub concurrency: usize,
    pub count: u64,
    pub elapsed: Duration,
    pub stopped_early: bool,
    pub tally: Tally,
}

impl<'a> Report<'a> {
    /// Prints the report of a finished run and answers its outcome.
    pub fn finish(
        mode: &'a str,
        plan: &'a crate::Plan,
        elapsed: Duration,
        stopped_early: bool,
        tally: Tally,
    ) -> std::io::Result<crate::Outcome> {
        let outcome = crate::Outcome {
            errors: tally.errors(),
            stopped_early,
        };
        Report {
            mode,
            run_id: &plan.run_id,
            concurrency: plan.concurrency,
            count: plan.count,
            elapsed,
            stopped_early,
            tally,
        }
        .print()?;
        Ok(outcome)
    }

    /// Prints the single JSON line on stdout.
    pub fn print(mut self) -> std::io::Result<()> {
        self.tally.latencies_us.sort_unstable();
        let lat = &self.tally.latencies_us;
        let seconds = self.elapsed.as_secs_f64();
        let eps = if seconds > 0.0 {
            self.tally.ok as f64 / seconds
        } else {
            0.0
        };
        let line = Line {
            mode: self.mode,
            concurrency: self.concurrency,
            count: self.count,
            ok: self.tally.ok,
            errors: self.tally.errors(),
            seconds: round3(seconds),
            events_per_sec: (eps * 10.0).round() / 10.0,
            p50_ms: round3(percentile_ms(lat, 50.0)),
            p99_ms: round3(percentile_ms(lat, 99.0)),
            max_ms: round3(lat.last().map_or(0.0, |&us| us as f64 / 1000.0)),
            non_2xx: self.tally.rejected,
            transport_errors: self.tally.transport,
            sent: self.tally.attempted,
            stopped_early: self.stopped_early,
            from_memory: (self.mode == "check").then_some(self.tally.memory),
            run_id: self.run_id,
        };
        let line = serde_json::to_string(&line)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 50.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&v, 100.0), 100.0);
        assert_eq!(percentile_ms(&[7000], 99.0), 7.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }
}
