//! The Stripe price behind each catalog lookup key.
//!
//! Stripe's price ids differ between accounts and change when an amount
//! changes (`catalog sync` moves the lookup key to the new price), so they
//! are resolved from Stripe by lookup key and cached for a few minutes; the
//! reverse map names the catalog price of a subscription item.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use paywarden_stripe::{ListPrices, StripeClient};
use tokio::sync::RwLock;

use crate::AppError;

/// How long a resolved price is trusted before asking Stripe again.
const TTL: Duration = Duration::from_secs(300);

/// A catalog price as it exists in Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StripePrice {
    pub id: String,
    pub product: String,
    pub lookup_key: String,
}

#[derive(Debug, Default)]
struct Book {
    by_lookup_key: HashMap<String, (StripePrice, Instant)>,
    lookup_key_of: HashMap<String, String>,
}

#[derive(Debug, Default)]
pub(crate) struct PriceBook {
    book: RwLock<Book>,
}

impl PriceBook {
    /// The active Stripe price holding `lookup_key`.
    pub async fn resolve(
        &self,
        stripe: &StripeClient,
        lookup_key: &str,
    ) -> Result<StripePrice, AppError> {
        if let Some((price, at)) = self.book.read().await.by_lookup_key.get(lookup_key) {
            if at.elapsed() < TTL {
                return Ok(price.clone());
            }
        }
        let listed = stripe
            .list_prices(&ListPrices {
                lookup_keys: vec![lookup_key.to_owned()],
                active: Some(true),
                ..ListPrices::default()
            })
            .await?;
        let price = listed.data.into_iter().next().ok_or_else(|| {
            AppError::Internal(format!(
                "price `{lookup_key}` is in the catalog but not in Stripe: run `paywarden catalog sync`"
            ))
        })?;
        let price = StripePrice {
            id: price.id,
            product: price.product,
            lookup_key: lookup_key.to_owned(),
        };
        let mut book = self.book.write().await;
        book.lookup_key_of
            .insert(price.id.clone(), lookup_key.to_owned());
        book.by_lookup_key
            .insert(lookup_key.to_owned(), (price.clone(), Instant::now()));
        Ok(price)
    }

    /// The lookup key of a Stripe price id, if that price was resolved (or
    /// is the current holder of a catalog lookup key).
    pub async fn lookup_key_of(&self, price_id: &str) -> Option<String> {
        self.book.read().await.lookup_key_of.get(price_id).cloned()
    }
}
