//! Stripe's list object and the trait the pagination helper walks with.

use serde::Deserialize;

/// One page of a Stripe list (`{"object":"list","data":[…],"has_more":…}`).
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub url: String,
}

/// An object that can appear in a list: its id is the next page's cursor.
pub trait Listed {
    fn id(&self) -> &str;
}
