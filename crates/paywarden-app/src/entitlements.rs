//! "May user U use feature F?": the resolved entitlements, read from the
//! store (recomputed there when their expiry has passed).

use paywarden_core::catalog::{Catalog, FeatureValue};
use paywarden_core::UserId;
use paywarden_store::{now_ms, EntitlementReader, EntitlementsRow, Store};

use crate::AppError;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub row: EntitlementsRow,
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

/// The user's entitlements, at least at `min_version` (a version the caller
/// saw elsewhere, e.g. in an outbound webhook). A version the store has not
/// reached yet is a conflict, never an older answer.
pub async fn check(
    store: &Store,
    catalog: &Catalog,
    user: &UserId,
    min_version: Option<i64>,
) -> Result<Checked, AppError> {
    let now = now_ms();
    let row = store.entitlements(user, catalog, now).await?;
    if let Some(min) = min_version {
        if row.version < min {
            return Err(AppError::Conflict(format!(
                "entitlements version {min} not reached yet (at {}); retry shortly",
                row.version
            )));
        }
    }
    Ok(Checked {
        row,
        source: Source::Database,
        as_of: now,
    })
}
