//! `catalog sync` against the stand-in: the first run creates the catalog,
//! the second changes nothing, a changed amount replaces the price behind
//! its lookup key, and a dry run writes nothing.

use paywarden_app::billing::sync::sync_catalog;
use paywarden_core::catalog::Catalog;
use paywarden_stripe::{ListPrices, ListProducts, StripeClient};

use crate::support::TestSim;

const DEMO: &str = include_str!("../../../../catalog.toml");

fn demo() -> Catalog {
    Catalog::parse(DEMO).expect("the demo catalog")
}

async fn counts(stripe: &StripeClient) -> (usize, usize) {
    let products = stripe
        .list_products(&ListProducts {
            limit: Some(100),
            ..ListProducts::default()
        })
        .await
        .expect("products")
        .data
        .len();
    let prices = stripe
        .list_all_prices(&ListPrices::default())
        .await
        .expect("prices")
        .len();
    (products, prices)
}

async fn holder(stripe: &StripeClient, lookup_key: &str) -> paywarden_stripe::Price {
    stripe
        .list_prices(&ListPrices {
            lookup_keys: vec![lookup_key.to_owned()],
            ..ListPrices::default()
        })
        .await
        .expect("list")
        .data
        .into_iter()
        .next()
        .expect("a price holds the key")
}

#[tokio::test]
async fn the_first_sync_creates_the_catalog_and_the_second_changes_nothing() {
    let sim = TestSim::start().await;
    let stripe = sim.client();
    let catalog = demo();
    let prices: usize = catalog.products().iter().map(|p| p.prices.len()).sum();

    let dry = sync_catalog(&stripe, &catalog, true)
        .await
        .expect("dry run");
    assert_eq!(dry.products_created, catalog.products().len());
    assert_eq!(dry.prices_created, prices);
    assert_eq!(counts(&stripe).await, (0, 0), "a dry run writes nothing");

    let first = sync_catalog(&stripe, &catalog, false).await.expect("sync");
    assert_eq!(first.products_created, catalog.products().len());
    assert_eq!(first.prices_created, prices);
    assert!(
        first
            .lines
            .iter()
            .any(|l| l == "created price pro_monthly (usd 29.00 / month)"),
        "{:?}",
        first.lines
    );
    assert_eq!(counts(&stripe).await, (catalog.products().len(), prices));
    let pro = holder(&stripe, "pro_monthly").await;
    assert_eq!(pro.product, "prod_pw_pro");
    assert_eq!(pro.unit_amount, Some(2900));
    assert_eq!(
        pro.recurring.as_ref().map(|r| r.interval.as_str()),
        Some("month")
    );
    let pack = holder(&stripe, "credits_100").await;
    assert!(pack.recurring.is_none(), "a pack is one-time");

    let second = sync_catalog(&stripe, &catalog, false).await.expect("again");
    assert!(!second.changed_anything(), "{second:?}");
    assert_eq!(second.unchanged, catalog.products().len() + prices);
    assert_eq!(counts(&stripe).await, (catalog.products().len(), prices));
}

#[tokio::test]
async fn a_changed_amount_replaces_the_price_and_a_renamed_product_is_updated() {
    let sim = TestSim::start().await;
    let stripe = sim.client();
    sync_catalog(&stripe, &demo(), false).await.expect("sync");
    let old = holder(&stripe, "pro_monthly").await;

    let changed = DEMO
        .replace("amount = 2900\n", "amount = 3500\n")
        .replace("name = \"Pro\"", "name = \"Pro Plus\"");
    let catalog = Catalog::parse(&changed).expect("changed catalog");
    let report = sync_catalog(&stripe, &catalog, false).await.expect("sync");
    assert_eq!(report.prices_replaced, 1, "{report:?}");
    assert_eq!(report.products_updated, 1, "{report:?}");
    let new = holder(&stripe, "pro_monthly").await;
    assert_ne!(new.id, old.id);
    assert_eq!(new.unit_amount, Some(3500));
    assert!(new.active);
    let old = stripe.retrieve_price(&old.id).await.expect("old price");
    assert!(!old.active, "the old price is no longer sold");
    assert_eq!(old.lookup_key, None, "the lookup key moved");
    let product = stripe
        .retrieve_product("prod_pw_pro")
        .await
        .expect("product");
    assert_eq!(product.name, "Pro Plus");
    let again = sync_catalog(&stripe, &catalog, false).await.expect("again");
    assert!(!again.changed_anything(), "{again:?}");
}

#[tokio::test]
async fn a_price_taken_off_sale_is_deactivated_and_stays_deactivated() {
    let sim = TestSim::start().await;
    let stripe = sim.client();
    sync_catalog(&stripe, &demo(), false).await.expect("sync");
    let retired = DEMO.replace(
        "lookup_key = \"starter_yearly\"",
        "lookup_key = \"starter_yearly\"\nactive = false",
    );
    let catalog = Catalog::parse(&retired).expect("catalog");
    let report = sync_catalog(&stripe, &catalog, false).await.expect("sync");
    assert_eq!(report.prices_updated, 1, "{report:?}");
    assert!(!holder(&stripe, "starter_yearly").await.active);
    let again = sync_catalog(&stripe, &catalog, false).await.expect("again");
    assert!(!again.changed_anything(), "{again:?}");
}
