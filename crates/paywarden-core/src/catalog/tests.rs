use super::*;

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
