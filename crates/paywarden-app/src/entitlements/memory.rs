//! The in-process tier: a bounded moka cache of users' entitlement rows.
//!
//! Two rules keep it from ever answering wrong:
//! - a newer version always wins: a write from a slow reader that fetched
//!   an older row cannot replace a row a commit put there meanwhile;
//! - an entry whose `expires_at` has passed is never served, and neither
//!   is one older than the caller's freshness bound (used while the shared
//!   tier's invalidations cannot reach this replica).
//!
//! Rows are shared, not copied, on a hit: a check is the hottest path in
//! the service and a copy of a user's feature map per request showed up in
//! its profile.

use std::sync::Arc;
use std::time::Duration;

use moka::ops::compute::Op;
use moka::sync::Cache;
use paywarden_core::UserId;
use paywarden_store::EntitlementsRow;

use super::snapshot::Snapshot;

/// The memory tier.
#[derive(Clone)]
pub(crate) struct MemoryTier {
    cache: Cache<UserId, Arc<Snapshot>>,
}

impl std::fmt::Debug for MemoryTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTier")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl MemoryTier {
    pub(crate) fn new(max_entries: u64, ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The cached row if it may be served at `now_secs`: not expired, at
    /// least `min_version`, and stored within `max_age` when one is given.
    pub(crate) fn get(
        &self,
        user: &UserId,
        now_secs: i64,
        min_version: i64,
        max_age: Option<Duration>,
    ) -> Option<Arc<Snapshot>> {
        let cached = self.cache.get(user)?;
        let row = cached.row();
        if row.version < min_version || !servable(row, now_secs) {
            return None;
        }
        if max_age.is_some_and(|age| cached.made_at().elapsed() > age) {
            return None;
        }
        Some(cached)
    }

    /// Stores a copy of `row` unless a newer version is already there.
    pub(crate) fn put(&self, row: &EntitlementsRow) {
        self.put_snapshot(Arc::new(Snapshot::new(row.clone())));
    }

    /// Stores `fresh` unless a newer version is already there. Equal
    /// versions refresh the entry's age.
    pub(crate) fn put_snapshot(&self, fresh: Arc<Snapshot>) {
        let version = fresh.row().version;
        self.cache
            .entry(fresh.row().user_id.clone())
            .and_compute_with(|existing| match existing {
                Some(entry) if entry.value().row().version > version => Op::Nop,
                _ => Op::Put(fresh),
            });
    }

    /// Forgets everything (after invalidations may have been missed).
    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
    }

    pub(crate) fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

/// Whether a row still holds at `now_secs`.
pub(crate) fn servable(row: &EntitlementsRow, now_secs: i64) -> bool {
    row.expires_at.is_none_or(|end| now_secs < end)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use paywarden_core::catalog::FeatureValue;

    use super::*;

    fn row(user: &str, version: i64, expires_at: Option<i64>) -> EntitlementsRow {
        EntitlementsRow {
            user_id: user.parse().expect("user"),
            version,
            features: BTreeMap::from([("api".to_owned(), FeatureValue::Flag(true))]),
            expires_at,
            computed_at: 0,
        }
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let memory = MemoryTier::new(100, Duration::from_secs(60));
        let ada: UserId = "ada".parse().expect("user");
        memory.put(&row("ada", 3, None));
        memory.put(&row("ada", 2, None));
        assert_eq!(
            memory.get(&ada, 0, 0, None).map(|r| r.row().version),
            Some(3)
        );
        memory.put(&row("ada", 4, None));
        assert_eq!(
            memory.get(&ada, 0, 0, None).map(|r| r.row().version),
            Some(4)
        );
    }

    #[test]
    fn expired_rows_and_rows_below_min_version_are_not_served() {
        let memory = MemoryTier::new(100, Duration::from_secs(60));
        let ada: UserId = "ada".parse().expect("user");
        memory.put(&row("ada", 2, Some(1_000)));
        assert!(memory.get(&ada, 999, 0, None).is_some());
        assert!(memory.get(&ada, 1_000, 0, None).is_none(), "expired");
        assert!(memory.get(&ada, 0, 3, None).is_none(), "below min_version");
        assert!(memory.get(&ada, 0, 2, None).is_some());
    }

    #[test]
    fn a_freshness_bound_refuses_old_entries() {
        let memory = MemoryTier::new(100, Duration::from_secs(60));
        let ada: UserId = "ada".parse().expect("user");
        memory.put(&row("ada", 1, None));
        std::thread::sleep(Duration::from_millis(20));
        assert!(memory
            .get(&ada, 0, 0, Some(Duration::from_millis(5)))
            .is_none());
        assert!(memory
            .get(&ada, 0, 0, Some(Duration::from_secs(5)))
            .is_some());
        memory.clear();
        assert!(memory.get(&ada, 0, 0, None).is_none());
    }
}
