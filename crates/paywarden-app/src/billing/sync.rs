//! `catalog sync`: makes Stripe's products and prices match the catalog.
//!
//! (Being written; see the module's tests for the contract.)

use paywarden_core::catalog::Catalog;
use paywarden_stripe::{StripeClient, StripeError};

/// What one sync did (or, in a dry run, would do), line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub products_created: usize,
    pub products_updated: usize,
    pub prices_created: usize,
    pub prices_updated: usize,
    /// Prices whose amount, currency or interval changed: a new price took
    /// the lookup key and the old one was deactivated.
    pub prices_replaced: usize,
    pub unchanged: usize,
    /// One human-readable line per product or price.
    pub lines: Vec<String>,
}

/// Creates or updates every product and price of `catalog` in Stripe.
pub async fn sync_catalog(
    _stripe: &StripeClient,
    _catalog: &Catalog,
    _dry_run: bool,
) -> Result<SyncReport, StripeError> {
    Ok(SyncReport::default())
}
