//! What a pricing page shows: the catalog's products with their prices for
//! sale, straight from the catalog (no Stripe call, no database).

use std::collections::BTreeMap;

use paywarden_core::catalog::{Catalog, FeatureValue};
use serde::Serialize;

use super::Billing;

/// One price on the pricing page.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanPrice {
    /// What to send as `price` to `POST /api/checkout/session`.
    pub lookup_key: String,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// `payment` (one-time) or `subscription`.
    pub mode: &'static str,
    /// `day|week|month|year`; absent for one-time prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_count: Option<u32>,
    pub max_quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
}

/// One product (plan or pack) on the pricing page.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanView {
    pub key: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tier: u32,
    pub features: BTreeMap<String, FeatureValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<u64>,
    pub prices: Vec<PlanPrice>,
}

/// The catalog's products with at least one price for sale, cheapest tier
/// first.
pub fn plans_of(catalog: &Catalog) -> Vec<PlanView> {
    catalog
        .products()
        .iter()
        .filter_map(|product| {
            let prices: Vec<PlanPrice> = product
                .prices
                .iter()
                .filter(|price| price.active)
                .map(|price| PlanPrice {
                    lookup_key: price.lookup_key.as_str().to_owned(),
                    amount: price.amount,
                    currency: price.currency.as_str().to_owned(),
                    mode: price.mode().as_str(),
                    interval: price.interval.map(|i| i.unit.as_str()),
                    interval_count: price.interval.map(|i| i.count),
                    max_quantity: price.max_quantity,
                    nickname: price.nickname.clone(),
                })
                .collect();
            (!prices.is_empty()).then(|| PlanView {
                key: product.key.as_str().to_owned(),
                name: product.name.clone(),
                description: product.description.clone(),
                tier: product.tier,
                features: product.features.clone(),
                credits: product.credits,
                prices,
            })
        })
        .collect()
}

impl Billing {
    /// The pricing page's plans.
    pub fn plans(&self) -> Vec<PlanView> {
        plans_of(self.catalog())
    }
}
