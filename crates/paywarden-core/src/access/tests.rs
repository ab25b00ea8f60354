//! The policy as a table: every subscription status under each policy
//! option, at a moment inside the period, past its end, and past the
//! grace or leeway.

use super::*;

const START: i64 = 1_700_000_000;
const END: i64 = START + 30 * DAY;

fn facts(status: SubscriptionStatus) -> SubscriptionFacts {
    SubscriptionFacts {
        status,
        current_period_start: Some(START),
        current_period_end: Some(END),
        cancel_at_period_end: false,
        ended_at: None,
    }
}

use SubscriptionStatus as S;

#[test]
fn every_status_under_the_default_policy() {
    let policy = AccessPolicy::default();
    let mid = START + DAY;
    let leeway_end = END + 24 * HOUR;
    // (status, expected access in mid-period)
    let table = [
        (S::Active, Some(Until::At(leeway_end))),
        (S::Trialing, Some(Until::At(leeway_end))),
        (S::PastDue, Some(Until::At(START + 3 * DAY))),
        (S::Paused, None),
        (S::Unpaid, None),
        (S::Incomplete, None),
        (S::IncompleteExpired, None),
        (S::Other("future_status".into()), None),
    ];
    for (status, expected) in table {
        assert_eq!(
            policy.subscription_access(&facts(status.clone()), mid),
            expected,
            "{status}"
        );
    }
}

#[test]
fn an_active_period_is_trusted_for_the_leeway_and_not_after() {
    let policy = AccessPolicy::default();
    let sub = facts(S::Active);
    assert!(
        policy.subscription_access(&sub, END + HOUR).is_some(),
        "renewal not heard yet"
    );
    assert!(
        policy.subscription_access(&sub, END + 24 * HOUR).is_none(),
        "leeway over"
    );
    let strict = AccessPolicy {
        renewal_leeway_hours: 0,
        ..AccessPolicy::default()
    };
    assert!(strict.subscription_access(&sub, END).is_none());
    assert!(strict.subscription_access(&sub, END - 1).is_some());
}

#[test]
fn past_due_grants_for_the_grace_period_only() {
    let policy = AccessPolicy::default();
    let sub = facts(S::PastDue);
    assert!(policy
        .subscription_access(&sub, START + 3 * DAY - 1)
        .is_some());
    assert!(
        policy.subscription_access(&sub, START + 3 * DAY).is_none(),
        "grace expired"
    );
    let no_grace = AccessPolicy {
        past_due_grace_days: 0,
        ..AccessPolicy::default()
    };
    assert!(no_grace.subscription_access(&sub, START + 1).is_none());
    let long_grace = AccessPolicy {
        past_due_grace_days: 14,
        ..AccessPolicy::default()
    };
    assert_eq!(
        long_grace.subscription_access(&sub, START + 10 * DAY),
        Some(Until::At(START + 14 * DAY))
    );
}

#[test]
fn cancel_at_period_end_grants_to_the_end_of_the_paid_period_exactly() {
    let policy = AccessPolicy::default();
    let scheduled = SubscriptionFacts {
        cancel_at_period_end: true,
        ..facts(S::Active)
    };
    assert_eq!(
        policy.subscription_access(&scheduled, END - 1),
        Some(Until::At(END))
    );
    assert_eq!(
        policy.subscription_access(&scheduled, END),
        None,
        "no leeway: it ends"
    );
    // Once Stripe cancels it at the period end, the canceled state agrees.
    let ended = SubscriptionFacts {
        ended_at: Some(END),
        cancel_at_period_end: true,
        ..facts(S::Canceled)
    };
    assert_eq!(
        policy.subscription_access(&ended, END - 1),
        Some(Until::At(END))
    );
    assert_eq!(policy.subscription_access(&ended, END), None);
}

#[test]
fn an_immediate_cancel_ends_access_unless_the_policy_keeps_the_paid_period() {
    let now = START + 5 * DAY;
    let canceled = SubscriptionFacts {
        ended_at: Some(now),
        ..facts(S::Canceled)
    };
    assert_eq!(
        AccessPolicy::default().subscription_access(&canceled, now),
        None
    );
    let generous = AccessPolicy {
        canceled_keeps_paid_period: true,
        ..AccessPolicy::default()
    };
    assert_eq!(
        generous.subscription_access(&canceled, now),
        Some(Until::At(END))
    );
    assert_eq!(generous.subscription_access(&canceled, END), None);
}

#[test]
fn trialing_can_be_left_out_of_the_granting_statuses() {
    let paid_only = AccessPolicy {
        granting: vec![S::Active],
        ..AccessPolicy::default()
    };
    assert_eq!(
        paid_only.subscription_access(&facts(S::Trialing), START + 1),
        None
    );
    assert!(paid_only
        .subscription_access(&facts(S::Active), START + 1)
        .is_some());
}

#[test]
fn a_subscription_without_a_known_period_grants_nothing() {
    let unknown = SubscriptionFacts {
        current_period_end: None,
        current_period_start: None,
        ..facts(S::Active)
    };
    assert_eq!(
        AccessPolicy::default().subscription_access(&unknown, START),
        None
    );
}

fn grant(features: &[(&str, FeatureValue)], until: Until) -> Grant {
    Grant {
        features: features
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
        until,
    }
}

#[test]
fn grants_merge_flags_take_the_largest_limit_and_expire_first_end() {
    let now = START;
    let plan = grant(
        &[
            ("api", FeatureValue::Flag(true)),
            ("projects", FeatureValue::Limit(3)),
        ],
        Until::At(END),
    );
    let pack = grant(
        &[
            ("exports", FeatureValue::Flag(true)),
            ("projects", FeatureValue::Limit(50)),
        ],
        Until::Forever,
    );
    let manual = grant(&[("sso", FeatureValue::Flag(true))], Until::At(START + DAY));
    let ended = grant(
        &[("legacy", FeatureValue::Flag(true))],
        Until::At(START - 1),
    );
    let resolved = resolve([plan, pack, manual, ended], now);
    assert_eq!(
        resolved.features.get("api"),
        Some(&FeatureValue::Flag(true))
    );
    assert_eq!(
        resolved.features.get("projects"),
        Some(&FeatureValue::Limit(50))
    );
    assert_eq!(
        resolved.features.get("sso"),
        Some(&FeatureValue::Flag(true))
    );
    assert!(
        !resolved.features.contains_key("legacy"),
        "an ended grant gives nothing"
    );
    assert_eq!(
        resolved.expires_at,
        Some(START + DAY),
        "the manual grant ends first"
    );
    let later = resolve(
        [grant(&[("api", FeatureValue::Flag(true))], Until::Forever)],
        now,
    );
    assert_eq!(later.expires_at, None);
    assert_eq!(resolve([], now), Entitlements::default());
}

#[test]
fn a_users_facts_resolve_through_the_catalog() {
    let catalog = crate::catalog::Catalog::parse(
        "[[products]]\nkey = \"pro\"\nname = \"Pro\"\nfeatures = [\"api\"]\nlimits = { projects = 50 }\n\
         [[products.prices]]\nlookup_key = \"pro_monthly\"\namount = 100\ncurrency = \"usd\"\ninterval = \"month\"\n\
         [[products]]\nkey = \"export-pass\"\nname = \"Export pass\"\nfeatures = [\"exports\"]\naccess_days = 7\n\
         [[products.prices]]\nlookup_key = \"export_pass\"\namount = 100\ncurrency = \"usd\"\n",
    )
    .expect("catalog");
    let user = UserFacts {
        subscriptions: vec![(facts(S::Active), vec!["prod_pw_pro".into()])],
        purchases: vec![("export-pass".into(), START)],
        manual: vec![],
    };
    let now = START + DAY;
    let resolved = entitlements_of(&catalog, &user, now);
    assert_eq!(
        resolved.features.get("api"),
        Some(&FeatureValue::Flag(true))
    );
    assert_eq!(
        resolved.features.get("projects"),
        Some(&FeatureValue::Limit(50))
    );
    assert_eq!(
        resolved.features.get("exports"),
        Some(&FeatureValue::Flag(true))
    );
    assert_eq!(
        resolved.expires_at,
        Some(START + 7 * DAY),
        "the pass ends first"
    );
    let after_pass = entitlements_of(&catalog, &user, START + 8 * DAY);
    assert!(!after_pass.features.contains_key("exports"));
    assert_eq!(after_pass.expires_at, Some(END + 24 * HOUR));
    let unknown_product = UserFacts {
        subscriptions: vec![(facts(S::Active), vec!["prod_elsewhere".into()])],
        ..UserFacts::default()
    };
    assert_eq!(
        entitlements_of(&catalog, &unknown_product, now),
        Entitlements::default()
    );
}
