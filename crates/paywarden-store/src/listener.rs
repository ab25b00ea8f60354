//! What a committed transaction changed, told to whoever keeps copies.
//!
//! Caches of entitlements live above the store (in paywarden-app), but
//! only the store knows when a change has become durable. A transaction
//! collects the entitlement rows it rewrote and, once its commit has
//! succeeded, hands them to the store's listener, whatever path wrote them
//! (webhooks, retries, the success page, operators, expiry on read).

use crate::entitlements::EntitlementsRow;

/// Told about changes after they are committed. Must not block: it runs on
/// the committing task, before the caller is answered.
pub trait CommitListener: Send + Sync + std::fmt::Debug {
    /// These users' entitlements were rewritten (each with a new version).
    fn entitlements_changed(&self, rows: &[EntitlementsRow]);
}
