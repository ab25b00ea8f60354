//! `catalog sync`: makes Stripe's products and prices match the catalog.
//!
//! Products live under paywarden's own id (`prod_pw_<key>`), so finding one
//! is a retrieve. Prices are found by `lookup_key`. Stripe never changes a
//! price's amount, currency or interval, so when the catalog changes one of
//! those a new price takes over the lookup key (`transfer_lookup_key`) and
//! the old one is deactivated: subscriptions already on it keep it until
//! they change plan. Every create carries an idempotency key derived from
//! what it creates, so a sync re-run after a crash never makes a duplicate,
//! and a second sync of an unchanged catalog writes nothing.

use paywarden_core::catalog::{Catalog, CatalogPrice, CatalogProduct};
use paywarden_stripe::{
    CreatePrice, CreateProduct, IdempotencyKey, ListPrices, Metadata, Price, Product, Recurring,
    StripeClient, StripeError, UpdatePrice, UpdateProduct,
};

/// What one sync did (or, in a dry run, would do), line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub products_created: usize,
    pub products_updated: usize,
    pub prices_created: usize,
    pub prices_updated: usize,
    /// Prices whose amount, currency or interval changed: a new price took
    /// the lookup key and the old one was deactivated.
    pub prices_replaced: usize,
    pub unchanged: usize,
    /// One human-readable line per product or price.
    pub lines: Vec<String>,
}

impl SyncReport {
    /// Whether the sync changed (or would change) anything in Stripe.
    pub fn changed_anything(&self) -> bool {
        self.products_created
            + self.products_updated
            + self.prices_created
            + self.prices_updated
            + self.prices_replaced
            > 0
    }
}

/// Creates or updates every product and price of `catalog` in Stripe.
/// With `dry_run`, only reads and reports.
pub async fn sync_catalog(
    stripe: &StripeClient,
    catalog: &Catalog,
    dry_run: bool,
) -> Result<SyncReport, StripeError> {
    let mut report = SyncReport::default();
    for product in catalog.products() {
        sync_product(stripe, product, dry_run, &mut report).await?;
        for price in &product.prices {
            sync_price(stripe, product, price, dry_run, &mut report).await?;
        }
    }
    Ok(report)
}

fn product_metadata(product: &CatalogProduct) -> Metadata {
    let mut metadata: Metadata = [
        ("paywarden_plan".to_owned(), product.key.as_str().to_owned()),
        ("tier".to_owned(), product.tier.to_string()),
    ]
    .into();
    if let Some(credits) = product.credits {
        metadata.insert("credits".into(), credits.to_string());
    }
    metadata
}

async fn sync_product(
    stripe: &StripeClient,
    product: &CatalogProduct,
    dry_run: bool,
    report: &mut SyncReport,
) -> Result<(), StripeError> {
    let id = product.stripe_id();
    let wanted_metadata = product_metadata(product);
    let existing = match stripe.retrieve_product(&id).await {
        Ok(found) => Some(found),
        Err(err) if err.is_not_found() => None,
        Err(err) => return Err(err),
    };
    let Some(existing) = existing else {
        report.products_created += 1;
        report
            .lines
            .push(format!("created product {} ({id})", product.key));
        if !dry_run {
            let params = CreateProduct {
                id: Some(id.clone()),
                name: product.name.clone(),
                description: product.description.clone(),
                active: Some(true),
                metadata: wanted_metadata,
            };
            let key = IdempotencyKey::derive("catalog.product", &[&id, &product.name]);
            stripe.create_product(&params, &key).await?;
        }
        return Ok(());
    };
    if product_matches(&existing, product, &wanted_metadata) {
        report.unchanged += 1;
        return Ok(());
    }
    report.products_updated += 1;
    report
        .lines
        .push(format!("updated product {} ({id})", product.key));
    if !dry_run {
        let params = UpdateProduct {
            name: Some(product.name.clone()),
            description: product.description.clone(),
            active: Some(true),
            metadata: wanted_metadata,
        };
        let key = IdempotencyKey::derive(
            "catalog.product.update",
            &[
                &id,
                &product.name,
                product.description.as_deref().unwrap_or(""),
            ],
        );
        stripe.update_product(&id, &params, &key).await?;
    }
    Ok(())
}

fn product_matches(existing: &Product, product: &CatalogProduct, metadata: &Metadata) -> bool {
    existing.name == product.name
        && existing.description.as_deref().unwrap_or("")
            == product.description.as_deref().unwrap_or("")
        && existing.active
        && metadata
            .iter()
            .all(|(k, v)| existing.metadata.get(k) == Some(v))
}

fn recurring(price: &CatalogPrice) -> Option<Recurring> {
    price.interval.map(|interval| Recurring {
        interval: interval.unit.as_str().to_owned(),
        interval_count: interval.count,
    })
}

fn describe(price: &CatalogPrice) -> String {
    let amount = format!(
        "{} {}.{:02}",
        price.currency.as_str(),
        price.amount / 100,
        price.amount % 100
    );
    match price.interval {
        Some(i) if i.count == 1 => format!("{amount} / {}", i.unit.as_str()),
        Some(i) => format!("{amount} / {} {}s", i.count, i.unit.as_str()),
        None => format!("{amount} once"),
    }
}

/// Whether the Stripe price charges what the catalog price says.
fn same_terms(existing: &Price, product_id: &str, price: &CatalogPrice) -> bool {
    let interval_matches = match (&existing.recurring, price.interval) {
        (None, None) => true,
        (Some(r), Some(i)) => r.interval == i.unit.as_str() && r.interval_count == i.count,
        _ => false,
    };
    existing.product == product_id
        && existing.currency == price.currency.as_str()
        && existing.unit_amount == Some(price.amount)
        && interval_matches
}

async fn sync_price(
    stripe: &StripeClient,
    product: &CatalogProduct,
    price: &CatalogPrice,
    dry_run: bool,
    report: &mut SyncReport,
) -> Result<(), StripeError> {
    let lookup_key = price.lookup_key.as_str();
    let product_id = product.stripe_id();
    let holders = stripe
        .list_prices(&ListPrices {
            lookup_keys: vec![lookup_key.to_owned()],
            ..ListPrices::default()
        })
        .await?
        .data;
    let metadata: Metadata = [
        ("paywarden_plan".to_owned(), product.key.as_str().to_owned()),
        ("lookup_key".to_owned(), lookup_key.to_owned()),
    ]
    .into();
    let create = |transfer: bool| {
        let params = CreatePrice {
            product: product_id.clone(),
            currency: price.currency.as_str().to_owned(),
            unit_amount: price.amount,
            recurring: recurring(price),
            lookup_key: Some(lookup_key.to_owned()),
            transfer_lookup_key: transfer.then_some(true),
            nickname: price.nickname.clone(),
            metadata: metadata.clone(),
        };
        let (unit, count) = price
            .interval
            .map_or(("once", 0), |i| (i.unit.as_str(), i.count));
        let key = IdempotencyKey::derive(
            "catalog.price",
            &[
                lookup_key,
                &product_id,
                price.currency.as_str(),
                &price.amount.to_string(),
                unit,
                &count.to_string(),
            ],
        );
        (params, key)
    };
    let Some(existing) = holders.into_iter().next() else {
        report.prices_created += 1;
        report
            .lines
            .push(format!("created price {lookup_key} ({})", describe(price)));
        if !dry_run {
            let (params, key) = create(false);
            stripe.create_price(&params, &key).await?;
        }
        return Ok(());
    };
    if !same_terms(&existing, &product_id, price) {
        report.prices_replaced += 1;
        report.lines.push(format!(
            "replaced price {lookup_key}: {} → {} (the old price {} is deactivated)",
            existing
                .unit_amount
                .map_or_else(|| "?".to_owned(), |a| a.to_string()),
            describe(price),
            existing.id
        ));
        if !dry_run {
            let (params, key) = create(true);
            let created = stripe.create_price(&params, &key).await?;
            if !price.active {
                deactivate(stripe, &created.id).await?;
            }
            deactivate(stripe, &existing.id).await?;
        }
        return Ok(());
    }
    let wanted_nickname = price.nickname.clone().unwrap_or_default();
    let metadata_matches = metadata
        .iter()
        .all(|(k, v)| existing.metadata.get(k) == Some(v));
    if existing.active == price.active
        && existing.nickname.clone().unwrap_or_default() == wanted_nickname
        && metadata_matches
    {
        report.unchanged += 1;
        return Ok(());
    }
    report.prices_updated += 1;
    report.lines.push(format!(
        "updated price {lookup_key} ({}{})",
        describe(price),
        if price.active { "" } else { ", not for sale" }
    ));
    if !dry_run {
        let params = UpdatePrice {
            active: Some(price.active),
            nickname: price.nickname.clone(),
            metadata,
            ..UpdatePrice::default()
        };
        let key = IdempotencyKey::derive(
            "catalog.price.update",
            &[&existing.id, &price.active.to_string(), &wanted_nickname],
        );
        stripe.update_price(&existing.id, &params, &key).await?;
    }
    Ok(())
}

async fn deactivate(stripe: &StripeClient, price_id: &str) -> Result<(), StripeError> {
    let params = UpdatePrice {
        active: Some(false),
        ..UpdatePrice::default()
    };
    let key = IdempotencyKey::derive("catalog.price.deactivate", &[price_id]);
    stripe.update_price(price_id, &params, &key).await?;
    Ok(())
}
