//! The catalog: what a product sells, as the operator wrote it in
//! `catalog.toml`.
//!
//! Products (a plan or a pack) carry the features, limits, credit grant and
//! tier they give; their prices carry the amount, currency and, for
//! subscriptions, the billing interval. Prices are named by their Stripe
//! `lookup_key`, which is how the rest of paywarden and its clients refer to
//! them: Stripe's price ids differ between accounts and change when an
//! amount changes, lookup keys do not. Parsing checks everything, so a
//! [`Catalog`] cannot hold an unknown currency, a duplicate lookup key or a
//! negative amount.

mod file;
mod keys;

use std::collections::BTreeMap;

use crate::access::AccessPolicy;
use crate::money::Currency;

pub use keys::{LookupKey, PlanKey};

/// Why a catalog file was refused. The message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("catalog: {0}")]
pub struct CatalogError(pub String);

/// How often a recurring price bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IntervalUnit {
    Day,
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }

    /// Stripe's longest interval is one year: 365 days, 52 weeks, 12 months.
    fn max_count(self) -> u32 {
        match self {
            Self::Day => 365,
            Self::Week => 52,
            Self::Month => 12,
            Self::Year => 1,
        }
    }
}

/// A recurring price's billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub unit: IntervalUnit,
    pub count: u32,
}

/// A feature a product grants: on, or a numeric limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum FeatureValue {
    Flag(bool),
    Limit(i64),
}

/// What Checkout mode a price is bought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurchaseMode {
    /// A one-time payment.
    Payment,
    /// A recurring subscription.
    Subscription,
}

impl PurchaseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Subscription => "subscription",
        }
    }
}

/// One price of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPrice {
    pub lookup_key: LookupKey,
    /// The product this price belongs to.
    pub plan: PlanKey,
    /// Minor units (cents), ≥ 0.
    pub amount: i64,
    pub currency: Currency,
    /// `None` for a one-time price.
    pub interval: Option<Interval>,
    /// An inactive price stays in Stripe (existing subscriptions keep it)
    /// but cannot be bought.
    pub active: bool,
    pub nickname: Option<String>,
    /// Most units one Checkout may buy.
    pub max_quantity: u32,
}

impl CatalogPrice {
    pub fn mode(&self) -> PurchaseMode {
        if self.interval.is_some() {
            PurchaseMode::Subscription
        } else {
            PurchaseMode::Payment
        }
    }
}

/// One product: a plan (with recurring prices) or a pack (one-time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProduct {
    pub key: PlanKey,
    pub name: String,
    pub description: Option<String>,
    /// Higher is more: orders plans on a pricing page and tells an upgrade
    /// from a downgrade.
    pub tier: u32,
    /// Features and limits, by name.
    pub features: BTreeMap<String, FeatureValue>,
    /// Credits granted per purchase (one-time) or per paid period.
    pub credits: Option<u64>,
    /// One-time products: days a purchase grants the features (`None`: for good).
    pub access_days: Option<u32>,
    pub prices: Vec<CatalogPrice>,
}

impl CatalogProduct {
    /// The Stripe product id paywarden creates this product under. Stripe
    /// accepts a caller-chosen product id, which makes `catalog sync`
    /// idempotent without a lookup table.
    pub fn stripe_id(&self) -> String {
        format!("prod_pw_{}", self.key.as_str().replace('-', "_"))
    }
}

/// The whole catalog, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// Which billing states grant a plan's features.
    pub access: AccessPolicy,
    products: Vec<CatalogProduct>,
}

impl Catalog {
    /// Parses and checks a `catalog.toml`.
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        file::parse(text)
    }

    /// Products, by tier then key.
    pub fn products(&self) -> &[CatalogProduct] {
        &self.products
    }

    pub fn product(&self, key: &PlanKey) -> Option<&CatalogProduct> {
        self.products.iter().find(|p| &p.key == key)
    }

    /// The price with this lookup key, and its product.
    pub fn price(&self, lookup_key: &str) -> Option<(&CatalogProduct, &CatalogPrice)> {
        self.products.iter().find_map(|product| {
            product
                .prices
                .iter()
                .find(|price| price.lookup_key.as_str() == lookup_key)
                .map(|price| (product, price))
        })
    }

    /// Every price, in catalog order.
    pub fn prices(&self) -> impl Iterator<Item = (&CatalogProduct, &CatalogPrice)> {
        self.products
            .iter()
            .flat_map(|product| product.prices.iter().map(move |price| (product, price)))
    }

    /// The product whose Stripe id is `id`.
    pub fn product_by_stripe_id(&self, id: &str) -> Option<&CatalogProduct> {
        self.products.iter().find(|p| p.stripe_id() == id)
    }
}

#[cfg(test)]
mod tests;
