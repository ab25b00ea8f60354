//! Rate limits on the endpoints that cost money or call Stripe (checkout,
//! bookings, the portal, credit debits), per end user and per client IP.
//!
//! The rule is GCRA: `per_minute` requests a minute, in bursts of up to
//! `burst`. In one process it is kept by `governor`; with Redis configured
//! the budget lives in Redis (a small GCRA script), so every replica draws
//! from the same one. Redis being slow or down never turns into an error:
//! the request is then judged by this process's own limiter.

mod redis_gcra;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};
use paywarden_core::UserId;
use secrecy::SecretString;

pub use redis_gcra::RedisGcra;

/// One budget: `per_minute` a minute, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Rate {
    /// The time one request's share takes to come back.
    fn interval(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.get()
    }
}

/// How the payment endpoints are limited.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    pub per_user: Rate,
    pub per_ip: Rate,
    /// Shares the budgets across replicas.
    pub redis: Option<RedisLimitSettings>,
}

#[derive(Debug, Clone)]
pub struct RedisLimitSettings {
    pub url: SecretString,
    pub prefix: String,
    pub timeout: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            per_user: Rate {
                per_minute: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
                burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            },
            per_ip: Rate {
                per_minute: NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN),
                burst: NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
            },
            redis: None,
        }
    }
}

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        limit: u32,
        remaining: u32,
        /// Seconds until the budget is whole again.
        reset_secs: u64,
    },
    Limited {
        limit: u32,
        /// Seconds until one more request is allowed (at least 1).
        retry_after_secs: u64,
    },
}

impl Decision {
    /// The stricter of two decisions: a refusal wins, then the smaller
    /// remaining budget.
    fn stricter(self, other: Decision) -> Decision {
        match (self, other) {
            (
                Decision::Limited {
                    retry_after_secs: a,
                    ..
                },
                Decision::Limited {
                    retry_after_secs: b,
                    ..
                },
            ) => {
                if a >= b {
                    self
                } else {
                    other
                }
            }
            (Decision::Limited { .. }, _) => self,
            (_, Decision::Limited { .. }) => other,
            (Decision::Allowed { remaining: a, .. }, Decision::Allowed { remaining: b, .. }) => {
                if a <= b {
                    self
                } else {
                    other
                }
            }
        }
    }
}

type Memory = RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One budget per key.
struct Budget {
    name: &'static str,
    rate: Rate,
    memory: Memory,
}

impl Budget {
    fn new(name: &'static str, rate: Rate) -> Self {
        let quota = Quota::with_period(rate.interval())
            .unwrap_or_else(|| Quota::per_minute(rate.per_minute))
            .allow_burst(rate.burst);
        Self {
            name,
            rate,
            memory: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
        }
    }

    fn check_memory(&self, key: &str) -> Decision {
        // Keys of idle clients are dropped now and then, so the map stays
        // the size of the recent traffic.
        if self.memory.len() > 50_000 {
            self.memory.retain_recent();
        }
        let limit = self.rate.burst.get();
        match self.memory.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let used = limit - snapshot.remaining_burst_capacity();
                Decision::Allowed {
                    limit,
                    remaining: snapshot.remaining_burst_capacity(),
                    reset_secs: (self.rate.interval() * used).as_secs().max(1),
                }
            }
            Err(not_until) => Decision::Limited {
                limit,
                retry_after_secs: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs()
                    .max(1),
            },
        }
    }
}

/// The payment endpoints' limits.
pub struct PaymentLimits {
    user: Budget,
    ip: Budget,
    redis: Option<Arc<RedisGcra>>,
}

impl std::fmt::Debug for PaymentLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentLimits")
            .field("per_user", &self.user.rate)
            .field("per_ip", &self.ip.rate)
            .field("shared", &self.redis.is_some())
            .finish()
    }
}

impl PaymentLimits {
    pub fn new(settings: &LimitSettings) -> Result<Self, redis::RedisError> {
        let redis = settings
            .redis
            .as_ref()
            .map(RedisGcra::new)
            .transpose()?
            .map(Arc::new);
        Ok(Self {
            user: Budget::new("user", settings.per_user),
            ip: Budget::new("ip", settings.per_ip),
            redis,
        })
    }

    /// Counts one request by `user` (when signed in) from `ip`.
    pub async fn check(&self, user: Option<&UserId>, ip: IpAddr) -> Decision {
        let by_ip = self.decide(&self.ip, &ip.to_string()).await;
        match user {
            Some(user) => by_ip.stricter(self.decide(&self.user, user.as_str()).await),
            None => by_ip,
        }
    }

    async fn decide(&self, budget: &Budget, key: &str) -> Decision {
        if let Some(redis) = &self.redis {
            match redis.check(budget.name, key, budget.rate).await {
                Ok(decision) => return decision,
                Err(err) => {
                    tracing::debug!(error = %err, "rate limit from this process: redis unavailable")
                }
            }
        }
        budget.check_memory(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_minute: u32, burst: u32) -> Rate {
        Rate {
            per_minute: NonZeroU32::new(per_minute).expect("non-zero"),
            burst: NonZeroU32::new(burst).expect("non-zero"),
        }
    }

    #[tokio::test]
    async fn a_burst_above_the_budget_is_limited_per_user_and_per_ip() {
        let limits = PaymentLimits::new(&LimitSettings {
            per_user: rate(6, 3),
            per_ip: rate(60, 5),
            redis: None,
        })
        .expect("limits");
        let ada: UserId = "ada".parse().expect("user");
        let bob: UserId = "bob".parse().expect("user");
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..3 {
            assert!(matches!(
                limits.check(Some(&ada), ip).await,
                Decision::Allowed { .. }
            ));
        }
        match limits.check(Some(&ada), ip).await {
            Decision::Limited {
                retry_after_secs,
                limit,
            } => {
                assert_eq!(limit, 3);
                assert!((1..=10).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("ada's fourth request: {other:?}"),
        }
        // Bob has his own budget, but the shared address runs out too.
        assert!(matches!(
            limits.check(Some(&bob), ip).await,
            Decision::Allowed { .. }
        ));
        assert!(
            matches!(limits.check(Some(&bob), ip).await, Decision::Limited { .. }),
            "ip budget of 5"
        );
        let elsewhere: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!(matches!(
            limits.check(Some(&bob), elsewhere).await,
            Decision::Allowed { .. }
        ));
    }
}
