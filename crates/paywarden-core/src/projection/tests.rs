//! Projection rules on hand-made events and on every shared fixture.

use std::path::PathBuf;

use super::*;
use crate::stripe::{Event, SubscriptionStatus};

fn event(json: &str) -> Event {
    Event::parse(json.as_bytes()).expect("test event parses")
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/stripe/fixtures/events")
}

#[test]
fn every_shared_fixture_parses_and_plans() {
    let mut seen = 0;
    let mut failures = Vec::new();
    for dir in std::fs::read_dir(fixtures_dir()).expect("shared fixtures beside the repo") {
        let dir = dir.expect("dir entry").path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = file.expect("entry").path();
            let body = std::fs::read(&path).expect("fixture readable");
            seen += 1;
            let outcome = Event::parse(&body)
                .map_err(|e| e.to_string())
                .and_then(|event| plan(&event).map_err(|e| e.to_string()));
            if let Err(e) = outcome {
                failures.push(format!("{}: {e}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {seen} fixtures fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(seen >= 250, "only {seen} fixtures found");
}

#[test]
fn basil_subscription_reads_periods_from_items() {
    let e = event(
        r#"{"id":"evt_1","type":"customer.subscription.updated","created":10,"data":{"object":{
        "id":"sub_1","object":"subscription","customer":"cus_1","status":"active",
        "items":{"data":[{"id":"si_1","quantity":2,"current_period_start":100,"current_period_end":200,
        "price":{"id":"price_1","product":"prod_1","unit_amount":500,"currency":"usd"}}]}}}}"#,
    );
    let Plan::Apply(changes) = plan(&e).expect("plans") else {
        panic!("ignored")
    };
    let Change::Subscription(sub) = &changes[0] else {
        panic!("{changes:?}")
    };
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(
        (sub.current_period_start, sub.current_period_end),
        (Some(100), Some(200))
    );
    assert_eq!(sub.items[0].quantity, Some(2));
    assert_eq!(
        sub.items[0].price.as_ref().map(|p| p.as_str()),
        Some("price_1")
    );
}

#[test]
fn basil_invoice_finds_its_subscription_under_parent() {
    let e = event(
        r#"{"id":"evt_2","type":"invoice.paid","created":10,"data":{"object":{
        "id":"in_1","object":"invoice","customer":"cus_1","status":"paid","amount_paid":2000,"currency":"usd",
        "parent":{"type":"subscription_details","subscription_details":{"subscription":"sub_9"}},
        "lines":{"data":[{"period":{"start":1,"end":2}}]}}}}"#,
    );
    let Plan::Apply(changes) = plan(&e).expect("plans") else {
        panic!("ignored")
    };
    let Change::Payment(payment) = &changes[0] else {
        panic!("{changes:?}")
    };
    assert_eq!(
        payment.subscription.as_ref().map(|s| s.as_str()),
        Some("sub_9")
    );
    assert_eq!(payment.amount, 2000);
    assert_eq!(
        (payment.period_start, payment.period_end),
        (Some(1), Some(2))
    );
}

#[test]
fn unpaid_completion_waits_for_async_success() {
    let session = r#"{"id":"cs_1","object":"checkout.session","mode":"payment","payment_status":"unpaid",
        "customer":"cus_1","client_reference_id":"user_1"}"#;
    let completed = event(&format!(
        r#"{{"id":"evt_3","type":"checkout.session.completed","created":5,"data":{{"object":{session}}}}}"#
    ));
    let Plan::Apply(changes) = plan(&completed).expect("plans") else {
        panic!("ignored")
    };
    assert_eq!(
        changes.len(),
        1,
        "only the session is recorded: {changes:?}"
    );
    let succeeded = event(&format!(
        r#"{{"id":"evt_4","type":"checkout.session.async_payment_succeeded","created":6,"data":{{"object":{session}}}}}"#
    ));
    let Plan::Apply(changes) = plan(&succeeded).expect("plans") else {
        panic!("ignored")
    };
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::ProvisionAccount(a) if a.user_id.as_str() == "user_1")));
    assert!(changes.iter().any(|c| matches!(c, Change::CustomerLink(_))));
}

#[test]
fn malformed_primary_object_is_an_error() {
    let e = event(
        r#"{"id":"evt_5","type":"customer.subscription.updated","data":{"object":{"id":"sub_1","status":"active","items":"nope"}}}"#,
    );
    assert!(plan(&e).is_err());
    let e = event(
        r#"{"id":"evt_6","type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":"lots"}}}"#,
    );
    assert!(plan(&e).is_err());
    let e = event(r#"{"id":"evt_6","type":"invoice.paid","data":{"object":"in_1"}}"#);
    assert!(plan(&e).is_err());
}

#[test]
fn objects_without_an_id_project_nothing() {
    let e = event(
        r#"{"id":"evt_8","type":"invoice.paid","data":{"object":{"object":"invoice","amount_paid":5}}}"#,
    );
    assert_eq!(plan(&e), Ok(Plan::Apply(Vec::new())));
}

#[test]
fn unknown_types_are_ignored() {
    let e = event(r#"{"id":"evt_7","type":"foo.created","data":{"object":{}}}"#);
    assert_eq!(plan(&e), Ok(Plan::Ignore));
}
