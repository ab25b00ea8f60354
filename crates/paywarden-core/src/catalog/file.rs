//! `catalog.toml` as written, and its checks.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::*;
use crate::access::AccessPolicy;
use crate::stripe::SubscriptionStatus;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    access: RawAccess,
    #[serde(default)]
    products: Vec<RawProduct>,
}

/// The `[access]` table; absent keys take the default policy's values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    statuses: Option<Vec<String>>,
    past_due_grace_days: Option<u32>,
    renewal_leeway_hours: Option<u32>,
    canceled_keeps_paid_period: Option<bool>,
}

fn access(raw: RawAccess) -> Result<AccessPolicy, CatalogError> {
    let defaults = AccessPolicy::default();
    let granting = match raw.statuses {
        None => defaults.granting,
        Some(statuses) => statuses
            .iter()
            .map(|status| match SubscriptionStatus::parse(status) {
                s @ (SubscriptionStatus::Active | SubscriptionStatus::Trialing) => Ok(s),
                _ => Err(err(format!(
                    "access: statuses may list `active` and `trialing` only, not `{status}` \
                     (past_due has past_due_grace_days; paused and unpaid never grant)"
                ))),
            })
            .collect::<Result<_, _>>()?,
    };
    let past_due_grace_days = raw
        .past_due_grace_days
        .unwrap_or(defaults.past_due_grace_days);
    if past_due_grace_days > 90 {
        return Err(err("access: past_due_grace_days must be at most 90"));
    }
    let renewal_leeway_hours = raw
        .renewal_leeway_hours
        .unwrap_or(defaults.renewal_leeway_hours);
    if renewal_leeway_hours > 168 {
        return Err(err(
            "access: renewal_leeway_hours must be at most 168 (a week)",
        ));
    }
    Ok(AccessPolicy {
        granting,
        past_due_grace_days,
        renewal_leeway_hours,
        canceled_keeps_paid_period: raw
            .canceled_keeps_paid_period
            .unwrap_or(defaults.canceled_keeps_paid_period),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    key: String,
    name: String,
    description: Option<String>,
    #[serde(default)]
    tier: u32,
    /// Features that are simply on.
    #[serde(default)]
    features: Vec<String>,
    /// Numeric limits.
    #[serde(default)]
    limits: BTreeMap<String, i64>,
    credits: Option<u64>,
    /// One-time purchases: days of access to the features (absent: for good).
    access_days: Option<u32>,
    #[serde(default)]
    prices: Vec<RawPrice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    lookup_key: String,
    amount: i64,
    currency: String,
    interval: Option<String>,
    interval_count: Option<u32>,
    #[serde(default = "yes")]
    active: bool,
    nickname: Option<String>,
    max_quantity: Option<u32>,
}

fn yes() -> bool {
    true
}

/// Most units of one price per Checkout, unless the price says otherwise.
const DEFAULT_MAX_QUANTITY: u32 = 1;
/// Stripe's own bound on a line item's quantity.
const STRIPE_MAX_QUANTITY: u32 = 999_999;

fn err(message: impl Into<String>) -> CatalogError {
    CatalogError(message.into())
}

fn feature_name(product: &str, name: &str) -> Result<String, CatalogError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(err(format!(
            "product `{product}`: feature `{name}` must be 1 to 64 lowercase letters, digits, `_` or `-`"
        )))
    }
}

pub(super) fn parse(text: &str) -> Result<Catalog, CatalogError> {
    let raw: RawCatalog = toml::from_str(text).map_err(|e| err(e.message().to_owned()))?;
    let mut plan_keys = HashSet::new();
    let mut lookup_keys = HashSet::new();
    let mut products = Vec::with_capacity(raw.products.len());
    for raw_product in raw.products {
        let key = PlanKey::parse(&raw_product.key).map_err(err)?;
        if !plan_keys.insert(key.clone()) {
            return Err(err(format!("product `{key}` appears twice")));
        }
        if raw_product.name.trim().is_empty() {
            return Err(err(format!("product `{key}`: name must not be empty")));
        }
        let mut features = BTreeMap::new();
        for name in &raw_product.features {
            features.insert(feature_name(key.as_str(), name)?, FeatureValue::Flag(true));
        }
        for (name, limit) in &raw_product.limits {
            let name = feature_name(key.as_str(), name)?;
            if *limit < 0 {
                return Err(err(format!(
                    "product `{key}`: limit `{name}` must not be negative"
                )));
            }
            if features
                .insert(name.clone(), FeatureValue::Limit(*limit))
                .is_some()
            {
                return Err(err(format!(
                    "product `{key}`: `{name}` is both a feature and a limit"
                )));
            }
        }
        if raw_product.prices.is_empty() {
            return Err(err(format!("product `{key}` has no prices")));
        }
        let mut prices = Vec::with_capacity(raw_product.prices.len());
        for raw_price in raw_product.prices {
            let price = price(&key, raw_price)?;
            if !lookup_keys.insert(price.lookup_key.clone()) {
                return Err(err(format!(
                    "lookup key `{}` appears twice",
                    price.lookup_key
                )));
            }
            prices.push(price);
        }
        let modes: HashSet<_> = prices.iter().map(CatalogPrice::mode).collect();
        if modes.len() > 1 {
            return Err(err(format!(
                "product `{key}` mixes one-time and recurring prices; make them two products"
            )));
        }
        if let Some(days) = raw_product.access_days {
            if modes.contains(&PurchaseMode::Subscription) {
                return Err(err(format!(
                    "product `{key}`: access_days is for one-time products; a plan grants for its periods"
                )));
            }
            if days == 0 || days > 3650 {
                return Err(err(format!(
                    "product `{key}`: access_days must be between 1 and 3650"
                )));
            }
        }
        products.push(CatalogProduct {
            key,
            name: raw_product.name,
            description: raw_product.description.filter(|d| !d.trim().is_empty()),
            tier: raw_product.tier,
            features,
            credits: raw_product.credits.filter(|c| *c > 0),
            access_days: raw_product.access_days,
            prices,
        });
    }
    products.sort_by(|a, b| (a.tier, &a.key).cmp(&(b.tier, &b.key)));
    Ok(Catalog {
        access: access(raw.access)?,
        products,
    })
}

fn price(plan: &PlanKey, raw: RawPrice) -> Result<CatalogPrice, CatalogError> {
    let lookup_key = LookupKey::parse(&raw.lookup_key).map_err(err)?;
    let at = |message: String| err(format!("price `{lookup_key}`: {message}"));
    if raw.amount < 0 {
        return Err(at("amount must not be negative".into()));
    }
    let currency: Currency = raw
        .currency
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| at(format!("`{}` is not a currency code", raw.currency)))?;
    let interval = match (raw.interval.as_deref(), raw.interval_count) {
        (None, None) => None,
        (None, Some(_)) => return Err(at("interval_count without an interval".into())),
        (Some(unit), count) => {
            let unit = IntervalUnit::parse(unit).ok_or_else(|| {
                at(format!(
                    "interval `{unit}` must be one of day, week, month, year"
                ))
            })?;
            let count = count.unwrap_or(1);
            if count == 0 || count > unit.max_count() {
                return Err(at(format!(
                    "interval_count must be between 1 and {} for `{}`",
                    unit.max_count(),
                    unit.as_str()
                )));
            }
            Some(Interval { unit, count })
        }
    };
    let max_quantity = raw.max_quantity.unwrap_or(DEFAULT_MAX_QUANTITY);
    if max_quantity == 0 || max_quantity > STRIPE_MAX_QUANTITY {
        return Err(at(format!(
            "max_quantity must be between 1 and {STRIPE_MAX_QUANTITY}"
        )));
    }
    Ok(CatalogPrice {
        lookup_key,
        plan: plan.clone(),
        amount: raw.amount,
        currency,
        interval,
        active: raw.active,
        nickname: raw.nickname.filter(|n| !n.trim().is_empty()),
        max_quantity,
    })
}
