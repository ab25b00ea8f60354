//! GCRA in Redis: one key per budget and client holding the "theoretical
//! arrival time", updated by a script so that checking and taking a
//! share is one atomic step across replicas.

use std::sync::atomic::{AtomicI64, Ordering};

use paywarden_store::now_ms;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

use super::{Decision, Rate, RedisLimitSettings};

/// KEYS[1] the budget key; ARGV: now (ms), interval (ms), burst.
/// Returns {allowed, remaining, ms until whole (allowed) or until the next
/// request is allowed (refused)}.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
local remaining = math.floor((now + tolerance - new_tat) / interval)
return {1, remaining, new_tat - now}
";

/// How long Redis is left alone after a failure.
const BREAKER_MS: i64 = 1_000;

pub struct RedisGcra {
    client: redis::Client,
    /// Made on first use; it reconnects by itself after an outage.
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: std::time::Duration,
    skip_until: AtomicI64,
    script: redis::Script,
}

impl std::fmt::Debug for RedisGcra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGcra")
            .field("prefix", &self.prefix)
            .field("connected", &self.conn.initialized())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GcraError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer in time")]
    Timeout,
    #[error("redis failed a moment ago")]
    BreakerOpen,
}

impl RedisGcra {
    pub fn new(settings: &RedisLimitSettings) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(settings.url.expose_secret())?,
            conn: OnceCell::new(),
            prefix: settings.prefix.clone(),
            timeout: settings.timeout,
            skip_until: AtomicI64::new(0),
            script: redis::Script::new(GCRA),
        })
    }

    pub async fn check(&self, budget: &str, key: &str, rate: Rate) -> Result<Decision, GcraError> {
        if now_ms() < self.skip_until.load(Ordering::Relaxed) {
            return Err(GcraError::BreakerOpen);
        }
        let result = tokio::time::timeout(self.timeout, self.run(budget, key, rate)).await;
        let outcome = match result {
            Ok(Ok(decision)) => return Ok(decision),
            Ok(Err(err)) => err,
            Err(_) => GcraError::Timeout,
        };
        self.skip_until
            .store(now_ms() + BREAKER_MS, Ordering::Relaxed);
        Err(outcome)
    }

    async fn run(&self, budget: &str, key: &str, rate: Rate) -> Result<Decision, GcraError> {
        let conn = self
            .conn
            .get_or_try_init(|| {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(self.timeout)
                    .set_response_timeout(self.timeout)
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await?;
        let mut conn = conn.clone();
        let interval_ms = i64::try_from(rate.interval().as_millis()).unwrap_or(i64::MAX);
        let (allowed, remaining, wait_ms): (i64, i64, i64) = self
            .script
            .key(format!("{}:ratelimit:{budget}:{key}", self.prefix))
            .arg(now_ms())
            .arg(interval_ms)
            .arg(rate.burst.get())
            .invoke_async(&mut conn)
            .await?;
        let secs = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1).max(1);
        let limit = rate.burst.get();
        Ok(if allowed == 1 {
            Decision::Allowed {
                limit,
                remaining: u32::try_from(remaining).unwrap_or(0),
                reset_secs: secs,
            }
        } else {
            Decision::Limited {
                limit,
                retry_after_secs: secs,
            }
        })
    }
}
