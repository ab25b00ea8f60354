//! References to other objects: an id string, or the object itself when expanded.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A reference as Stripe sends it. Only the id is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(pub String);

impl Reference {
    /// The id, parsed into its typed form. An id of an unexpected shape
    /// (a legacy prefix in an old capture) yields `None`: a reference is
    /// context, not the object being projected.
    pub fn typed<T: std::str::FromStr>(&self) -> Option<T> {
        self.0.parse().ok()
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(id) => Ok(Reference(id)),
            Value::Object(map) => match map.get("id") {
                Some(Value::String(id)) => Ok(Reference(id.clone())),
                _ => Err(serde::de::Error::custom("expanded object without an id")),
            },
            other => Err(serde::de::Error::custom(format!(
                "expected an id or an object, found {other}"
            ))),
        }
    }
}

/// Reads an optional typed reference from an `Option<Reference>`.
pub(crate) fn typed<T: std::str::FromStr>(reference: &Option<Reference>) -> Option<T> {
    reference.as_ref().and_then(Reference::typed)
}
