//! What applying a projection needs from configuration, in one value that
//! the webhook inbox, the retry worker and operator retries share: the
//! daily cap new accounts start with, and the catalog whose access policy
//! resolves entitlements.

use std::sync::Arc;

use paywarden_core::catalog::Catalog;
use paywarden_store::ApplyContext;

#[derive(Debug, Clone)]
pub struct ProjectionSettings {
    pub default_daily_cap: i64,
    /// Without a catalog, entitlements are not recomputed.
    pub catalog: Option<Arc<Catalog>>,
}

impl ProjectionSettings {
    /// Settings with no catalog (entitlements left alone).
    pub fn new(default_daily_cap: i64) -> Self {
        Self {
            default_daily_cap,
            catalog: None,
        }
    }

    pub fn with_catalog(mut self, catalog: Arc<Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// The context of one apply at `now` (unix milliseconds).
    pub fn context(&self, now: i64) -> ApplyContext {
        ApplyContext {
            default_daily_cap: self.default_daily_cap,
            now,
            catalog: self.catalog.clone(),
        }
    }
}
