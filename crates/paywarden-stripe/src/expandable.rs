//! A field Stripe sends as an id unless the request asked to `expand[]` it.

use serde::Deserialize;

/// Either the object's id or, when expanded, the object itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

impl<T: crate::Listed> Expandable<T> {
    /// The id, whichever form was sent.
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Object(object) => object.id(),
        }
    }

    /// The object, when expanded.
    pub fn object(&self) -> Option<&T> {
        match self {
            Self::Id(_) => None,
            Self::Object(object) => Some(object),
        }
    }
}
