use super::*;
use crate::access::AccessPolicy;

const DEMO: &str = include_str!("../../../../catalog.toml");

#[test]
fn the_demo_catalog_parses_with_plans_and_packs() {
    let catalog = Catalog::parse(DEMO).expect("the shipped catalog is valid");
    let keys: Vec<_> = catalog.products().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["credits-100", "credits-1000", "starter", "pro", "team"]
    );
    let (pro, monthly) = catalog.price("pro_monthly").expect("pro_monthly");
    assert_eq!(pro.key.as_str(), "pro");
    assert_eq!(monthly.amount, 2900);
    assert_eq!(monthly.currency.as_str(), "usd");
    assert_eq!(monthly.mode(), PurchaseMode::Subscription);
    assert_eq!(
        monthly.interval,
        Some(Interval {
            unit: IntervalUnit::Month,
            count: 1
        })
    );
    assert_eq!(pro.features.get("projects"), Some(&FeatureValue::Limit(50)));
    assert_eq!(pro.features.get("exports"), Some(&FeatureValue::Flag(true)));
    assert_eq!(pro.stripe_id(), "prod_pw_pro");
    let (pack, price) = catalog.price("credits_100").expect("a pack");
    assert_eq!(price.mode(), PurchaseMode::Payment);
    assert_eq!(pack.credits, Some(100));
    assert_eq!(pack.stripe_id(), "prod_pw_credits_100");
    assert!(catalog.price("nope").is_none());
}

fn refused(text: &str) -> String {
    Catalog::parse(text).expect_err("refused").to_string()
}

const PRODUCT: &str = "[[products]]\nkey = \"p\"\nname = \"P\"\n";

#[test]
fn bad_entries_are_named() {
    let cases = [
        (
            format!("{PRODUCT}[[products.prices]]\nlookup_key = \"a\"\namount = -1\ncurrency = \"usd\"\n"),
            "price `a`: amount must not be negative",
        ),
        (
            format!("{PRODUCT}[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usdollar\"\n"),
            "not a currency code",
        ),
        (
            format!("{PRODUCT}[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\ninterval = \"fortnight\"\n"),
            "interval `fortnight`",
        ),
        (
            format!("{PRODUCT}[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\ninterval = \"year\"\ninterval_count = 2\n"),
            "interval_count must be between 1 and 1",
        ),
        (
            format!("{PRODUCT}[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\n[[products.prices]]\nlookup_key = \"a\"\namount = 2\ncurrency = \"usd\"\n"),
            "lookup key `a` appears twice",
        ),
        (
            format!("{PRODUCT}[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\n[[products.prices]]\nlookup_key = \"b\"\namount = 2\ncurrency = \"usd\"\ninterval = \"month\"\n"),
            "mixes one-time and recurring",
        ),
        (PRODUCT.to_owned(), "product `p` has no prices"),
        (
            format!("{PRODUCT}amount = 3\n"),
            "unknown field `amount`",
        ),
        (
            "[[products]]\nkey = \"Bad Key\"\nname = \"x\"\n".to_owned(),
            "not a valid product key",
        ),
        (
            format!("{PRODUCT}features = [\"a\"]\nlimits = {{ a = 1 }}\n[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\n"),
            "both a feature and a limit",
        ),
        (
            format!("{PRODUCT}[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\nmax_quantity = 0\n"),
            "max_quantity must be between",
        ),
    ];
    for (text, expected) in cases {
        let message = refused(&text);
        assert!(
            message.contains(expected),
            "{expected:?} in {message:?}\n{text}"
        );
    }
}

#[test]
fn an_empty_catalog_is_valid_and_sells_nothing() {
    let catalog = Catalog::parse("").expect("empty is valid");
    assert!(catalog.products().is_empty());
    assert!(catalog.price("pro_monthly").is_none());
}

#[test]
fn the_access_table_sets_the_policy_and_refuses_what_cannot_grant() {
    let catalog = Catalog::parse(
        "[access]\nstatuses = [\"active\"]\npast_due_grace_days = 7\nrenewal_leeway_hours = 2\n\
         canceled_keeps_paid_period = true\n",
    )
    .expect("valid");
    assert_eq!(
        catalog.access.granting,
        vec![crate::stripe::SubscriptionStatus::Active]
    );
    assert_eq!(catalog.access.past_due_grace_days, 7);
    assert_eq!(catalog.access.renewal_leeway_hours, 2);
    assert!(catalog.access.canceled_keeps_paid_period);
    assert_eq!(
        Catalog::parse("").expect("empty").access,
        AccessPolicy::default()
    );
    assert!(refused("[access]\nstatuses = [\"paused\"]\n").contains("`paused`"));
    assert!(refused("[access]\npast_due_grace_days = 400\n").contains("at most 90"));
    assert!(refused("[access]\ngrace = 1\n").contains("unknown field"));
    let days = format!(
        "{PRODUCT}access_days = 30\n[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\n"
    );
    let catalog = Catalog::parse(&days).expect("valid");
    assert_eq!(catalog.products()[0].access_days, Some(30));
    let on_a_plan = format!(
        "{PRODUCT}access_days = 30\n[[products.prices]]\nlookup_key = \"a\"\namount = 1\ncurrency = \"usd\"\ninterval = \"month\"\n"
    );
    assert!(refused(&on_a_plan).contains("access_days is for one-time products"));
}
