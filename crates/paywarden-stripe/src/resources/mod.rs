//! Typed Stripe resources and the calls on them, one module per API area.
//! Response types read only the fields paywarden uses; every field has a
//! default and unknown fields are ignored, so a newer Stripe shape still reads.

mod billing_portal;
mod catalog;
mod checkout;
mod customers;
mod events;
mod invoices;
mod payments;
mod subscriptions;

pub use billing_portal::*;
pub use catalog::*;
pub use checkout::*;
pub use customers::*;
pub use events::*;
pub use invoices::*;
pub use payments::*;
pub use subscriptions::*;

/// Stripe's `metadata`: string keys to string values.
pub type Metadata = std::collections::BTreeMap<String, String>;

/// Implements [`crate::Listed`] for response types with an `id` field.
macro_rules! listed {
    ($($type:ty),*) => {
        $(impl crate::Listed for $type {
            fn id(&self) -> &str {
                &self.id
            }
        })*
    };
}
pub(crate) use listed;

/// A `created` range filter (`created[gte]=…`), Unix seconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Range {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gte: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lte: Option<i64>,
}

/// `expand[]` for retrieve calls.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Expand<'a> {
    pub expand: &'a [&'a str],
}
