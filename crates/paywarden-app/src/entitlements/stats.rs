//! Counters of where entitlement checks were answered from, for metrics
//! and for tests that must know which tier served them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters, shared by every check on this replica.
#[derive(Debug, Default)]
pub struct CacheStats {
    memory_hits: AtomicU64,
    redis_hits: AtomicU64,
    database_reads: AtomicU64,
    redis_fallbacks: AtomicU64,
    redis_publish_failures: AtomicU64,
    remote_updates: AtomicU64,
}

/// A snapshot of [`CacheStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CacheCounts {
    /// Answered from this process's memory.
    pub memory_hits: u64,
    /// Answered from the shared Redis tier.
    pub redis_hits: u64,
    /// Read from the database (a miss in every cache, a `min_version`
    /// ahead of the caches, or a fallback).
    pub database_reads: u64,
    /// Redis was down, slow or refusing, so the database answered instead.
    pub redis_fallbacks: u64,
    /// Changes that could not be written to Redis at once (retried).
    pub redis_publish_failures: u64,
    /// Changes from other replicas applied to this one's memory.
    pub remote_updates: u64,
}

impl CacheStats {
    pub(crate) fn memory_hit(&self) {
        self.memory_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn redis_hit(&self) {
        self.redis_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn database_read(&self) {
        self.database_reads.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn redis_fallback(&self) {
        self.redis_fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn redis_publish_failure(&self) {
        self.redis_publish_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn remote_update(&self) {
        self.remote_updates.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CacheCounts {
        CacheCounts {
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            redis_hits: self.redis_hits.load(Ordering::Relaxed),
            database_reads: self.database_reads.load(Ordering::Relaxed),
            redis_fallbacks: self.redis_fallbacks.load(Ordering::Relaxed),
            redis_publish_failures: self.redis_publish_failures.load(Ordering::Relaxed),
            remote_updates: self.remote_updates.load(Ordering::Relaxed),
        }
    }
}
