//! "May user U use feature F?": the resolved entitlements, answered from
//! this process's memory, then the shared Redis tier, then the database.
//!
//! Correctness never depends on a cache:
//! - the database is the source of truth; every committed change reaches
//!   this replica's memory before the writer answers (the store tells
//!   [`EntitlementCache`] after each commit) and the other replicas through
//!   Redis pub/sub, retried in the background if Redis is down;
//! - a row whose `expires_at` has passed is never served from a cache;
//! - `min_version` above what a cache holds reads through to the database,
//!   and a version the database has not reached is a conflict, never an
//!   older answer;
//! - while this replica cannot hear the other replicas' changes (Redis
//!   configured but unreachable) memory serves only entries younger than
//!   [`CacheSettings::unsubscribed_max_age`];
//! - a slow or failed Redis costs a fallback to the database, never an error.

mod grants;
mod memory;
mod redis_tier;
mod snapshot;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use paywarden_core::catalog::{Catalog, FeatureValue};
use paywarden_core::UserId;
use paywarden_store::{now_ms, CommitListener, EntitlementReader, EntitlementsRow, Store};
use tokio_util::sync::CancellationToken;

pub use grants::GrantRequest;
pub use redis_tier::{RedisSettings, RedisTierError};
pub use snapshot::Snapshot;
pub use stats::{CacheCounts, CacheStats};

use crate::AppError;
use memory::MemoryTier;
use redis_tier::RedisTier;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Memory,
    Redis,
    Database,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
            Self::Database => "database",
        }
    }
}

/// A check's answer.
#[derive(Debug, Clone)]
pub struct Checked {
    pub snapshot: Arc<Snapshot>,
    pub source: Source,
    /// Unix milliseconds the answer holds for.
    pub as_of: i64,
}

/// Whether a feature value lets the user do the thing at all.
pub fn allows(value: Option<&FeatureValue>) -> bool {
    match value {
        Some(FeatureValue::Flag(on)) => *on,
        Some(FeatureValue::Limit(limit)) => *limit > 0,
        None => false,
    }
}

/// How the caches behave.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Users kept in memory at most (least recently used leave first).
    pub max_entries: u64,
    /// How long a row stays in memory. Changes made by this process and
    /// (with Redis) by other replicas replace it sooner; this bounds the
    /// staleness of changes made elsewhere without Redis (a CLI retry, a
    /// replica when no Redis is configured).
    pub ttl: Duration,
    /// While Redis is configured but this replica is not subscribed to
    /// changes, memory entries older than this are not served.
    pub unsubscribed_max_age: Duration,
    /// The shared tier, if any.
    pub redis: Option<RedisSettings>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            max_entries: 2_000_000,
            ttl: Duration::from_secs(60),
            unsubscribed_max_age: Duration::from_secs(1),
            redis: None,
        }
    }
}

/// The cache tiers of one replica; the store's commit listener.
#[derive(Debug)]
pub struct EntitlementCache {
    memory: MemoryTier,
    redis: Option<Arc<RedisTier>>,
    stats: Arc<CacheStats>,
    unsubscribed_max_age: Duration,
}

impl EntitlementCache {
    /// Builds the tiers and starts Redis's background tasks (inside a Tokio
    /// runtime); they stop with `shutdown`.
    pub fn start(
        settings: CacheSettings,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, RedisTierError> {
        let memory = MemoryTier::new(settings.max_entries, settings.ttl);
        let stats = Arc::new(CacheStats::default());
        let redis = settings
            .redis
            .map(|redis| RedisTier::start(redis, memory.clone(), stats.clone(), shutdown))
            .transpose()?;
        Ok(Arc::new(Self {
            memory,
            redis,
            stats,
            unsubscribed_max_age: settings.unsubscribed_max_age,
        }))
    }

    pub fn counts(&self) -> CacheCounts {
        self.stats.snapshot()
    }

    /// Users held in memory now.
    pub fn entries(&self) -> u64 {
        self.memory.entry_count()
    }

    /// Whether Redis is configured and this replica hears its changes.
    pub fn subscribed(&self) -> Option<bool> {
        self.redis.as_ref().map(|r| r.subscribed())
    }

    fn memory_max_age(&self) -> Option<Duration> {
        match &self.redis {
            Some(redis) if !redis.subscribed() => Some(self.unsubscribed_max_age),
            _ => None,
        }
    }
}

impl CommitListener for EntitlementCache {
    fn entitlements_changed(&self, rows: &[EntitlementsRow]) {
        for row in rows {
            self.memory.put(row);
            if let Some(redis) = &self.redis {
                redis.announce(row);
            }
        }
    }
}

/// Entitlement checks for one replica.
#[derive(Debug, Clone)]
pub struct Entitlements {
    store: Store,
    catalog: Arc<Catalog>,
    cache: Arc<EntitlementCache>,
}

impl Entitlements {
    /// `store` should report its commits to `cache` (see
    /// [`Store::with_listener`]), or checks may answer from a stale memory
    /// until the TTL passes.
    pub fn new(store: Store, catalog: Arc<Catalog>, cache: Arc<EntitlementCache>) -> Self {
        Self {
            store,
            catalog,
            cache,
        }
    }

    pub fn cache(&self) -> &EntitlementCache {
        &self.cache
    }

    /// The user's entitlements, at least at `min_version` (a version the
    /// caller saw elsewhere, e.g. in an outbound webhook).
    pub async fn check(
        &self,
        user: &UserId,
        min_version: Option<i64>,
    ) -> Result<Checked, AppError> {
        let now = now_ms();
        let now_secs = now.div_euclid(1000);
        let min = min_version.unwrap_or(0);
        let cache = &self.cache;
        if let Some(snapshot) = cache
            .memory
            .get(user, now_secs, min, cache.memory_max_age())
        {
            cache.stats.memory_hit();
            return Ok(Checked {
                snapshot,
                source: Source::Memory,
                as_of: now,
            });
        }
        if let Some(redis) = &cache.redis {
            match redis.get(user).await {
                Ok(Some(row)) if row.version >= min && memory::servable(&row, now_secs) => {
                    let snapshot = Arc::new(Snapshot::new(row));
                    cache.memory.put_snapshot(snapshot.clone());
                    cache.stats.redis_hit();
                    return Ok(Checked {
                        snapshot,
                        source: Source::Redis,
                        as_of: now,
                    });
                }
                Ok(_) => {}
                Err(err) => {
                    cache.stats.redis_fallback();
                    tracing::debug!(error = %err, "entitlements from the database: redis unavailable");
                }
            }
        }
        cache.stats.database_read();
        let row = self.store.entitlements(user, &self.catalog, now).await?;
        if row.version < min {
            return Err(AppError::Conflict(format!(
                "entitlements version {min} not reached yet (at {}); retry shortly",
                row.version
            )));
        }
        if let Some(redis) = &cache.redis {
            redis.refill(&row);
        }
        let snapshot = Arc::new(Snapshot::new(row));
        cache.memory.put_snapshot(snapshot.clone());
        Ok(Checked {
            snapshot,
            source: Source::Database,
            as_of: now,
        })
    }
}
