use super::*;

#[test]
fn amounts_are_positive_and_bounded() {
    assert_eq!(CreditAmount::new(0), Err(CreditAmountError::NotPositive));
    assert_eq!(CreditAmount::new(-5), Err(CreditAmountError::NotPositive));
    assert_eq!(
        CreditAmount::new(CreditAmount::MAX + 1),
        Err(CreditAmountError::TooLarge)
    );
    assert_eq!(CreditAmount::new(7).map(CreditAmount::get), Ok(7));
    assert!(serde_json::from_str::<CreditAmount>("0").is_err());
    assert!(serde_json::from_str::<CreditAmount>("1.5").is_err());
    assert_eq!(
        serde_json::from_str::<CreditAmount>("12")
            .map(CreditAmount::get)
            .ok(),
        Some(12)
    );
}

#[test]
fn a_purchase_grants_credits_per_unit() {
    let cases = [
        (Some(100), 1, Some(100)),
        (Some(100), 3, Some(300)),
        (Some(100), 0, Some(100)),
        (Some(0), 2, None),
        (None, 2, None),
        (Some(u64::MAX), 1, None),
        (Some(1_000_000_000_000), 2, None),
    ];
    for (per_unit, quantity, expected) in cases {
        assert_eq!(
            granted(per_unit, quantity).map(CreditAmount::get),
            expected,
            "{per_unit:?} × {quantity}"
        );
    }
}

#[test]
fn a_refund_takes_back_its_share_rounded_down() {
    let cases = [
        // granted, refunded, paid → taken back
        (100, 0, 1000, 0),
        (100, 1000, 1000, 100),
        (100, 1200, 1000, 100),
        (100, 500, 1000, 50),
        (100, 333, 1000, 33),
        (3, 1, 2, 1),
        (100, 1, 0, 100),
        (0, 500, 1000, 0),
        (i64::MAX, i64::MAX - 1, i64::MAX, i64::MAX - 1),
    ];
    for (g, r, p, expected) in cases {
        assert_eq!(reversal_target(g, r, p), expected, "{g} {r} {p}");
    }
}

#[test]
fn idempotency_keys_are_visible_ascii() {
    assert!(IdempotencyKey::parse("order-42_retry.1").is_ok());
    assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
    for bad in ["", "with space", "naïve", "tab\t", &"k".repeat(256)] {
        assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
    }
}
