//! A user's entitlements as a check serves them.
//!
//! The feature map is written as JSON once, when the snapshot is made (on a
//! commit or a cache fill), not on every check: with a million users in
//! memory, walking each answer's map and escaping its keys cost more than
//! the lookup itself (cache misses on the map's nodes), and the bytes never
//! change until the row does.

use std::time::Instant;

use paywarden_store::EntitlementsRow;
use serde_json::value::RawValue;

#[derive(Debug)]
pub struct Snapshot {
    row: EntitlementsRow,
    /// `row.features` as JSON; `None` only if it could not be written,
    /// and then the map is serialized at each answer instead.
    features_json: Option<Box<RawValue>>,
    made_at: Instant,
}

impl Snapshot {
    pub fn new(row: EntitlementsRow) -> Self {
        let features_json = serde_json::value::to_raw_value(&row.features)
            .map_err(|err| tracing::warn!(error = %err, user = %row.user_id, "entitlements not pre-written as JSON"))
            .ok();
        Self {
            row,
            features_json,
            made_at: Instant::now(),
        }
    }

    pub fn row(&self) -> &EntitlementsRow {
        &self.row
    }

    /// The features exactly as `serde_json` writes `row().features`.
    pub fn features_json(&self) -> Option<&RawValue> {
        self.features_json.as_deref()
    }

    pub(crate) fn made_at(&self) -> Instant {
        self.made_at
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use paywarden_core::catalog::FeatureValue;

    use super::*;

    #[test]
    fn the_pre_written_features_are_the_map_as_serde_writes_it() {
        let row = EntitlementsRow {
            user_id: "ada".parse().expect("user"),
            version: 2,
            features: BTreeMap::from([
                ("api".to_owned(), FeatureValue::Flag(true)),
                ("projects".to_owned(), FeatureValue::Limit(50)),
                ("quote\"d".to_owned(), FeatureValue::Flag(false)),
            ]),
            expires_at: None,
            computed_at: 0,
        };
        let expected = serde_json::to_string(&row.features).expect("json");
        let snapshot = Snapshot::new(row);
        assert_eq!(
            snapshot.features_json().map(RawValue::get),
            Some(expected.as_str())
        );
    }
}
