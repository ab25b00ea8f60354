//! Precedence per object: a late or repeated event never moves an object
//! back, and every delivery order ends in the same state.
//!
//! Each case lists its events in Stripe's order; `in_both_orders` delivers
//! them in that order and reversed (with duplicates) and compares the two
//! stores, then the case checks the state both reached.

use paywarden_testkit::TestStore;
use serde_json::{json, Value};

use crate::support::*;

async fn row_in_both(
    pairs: &[(TestStore, TestStore)],
    table: &str,
    key: &str,
) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for (forward, backward) in pairs {
        found.push((forward.name.to_owned(), row(forward, table, key).await));
        found.push((backward.name.to_owned(), row(backward, table, key).await));
    }
    found
}

fn customer(email: &str, deleted: bool) -> Value {
    let mut object = json!({
        "id": "cus_prec", "object": "customer", "email": email, "name": "Ada",
        "metadata": { "user_id": "user_prec" },
    });
    if deleted {
        object["deleted"] = json!(true);
    }
    object
}

#[tokio::test]
async fn deleted_customer_is_not_revived_by_a_late_update() {
    let bodies = [
        event_body(
            "evt_c1",
            "customer.created",
            100,
            customer("a@example.com", false),
        ),
        event_body(
            "evt_c2",
            "customer.updated",
            200,
            customer("b@example.com", false),
        ),
        event_body(
            "evt_c3",
            "customer.deleted",
            300,
            customer("b@example.com", true),
        ),
        // Stripe stamped this update after the deletion: still deleted.
        event_body(
            "evt_c4",
            "customer.updated",
            400,
            customer("c@example.com", false),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    // customers: id, user_id, email, name, deleted
    for (name, row) in row_in_both(&pairs, "customers", "cus_prec").await {
        assert_eq!(
            row,
            ["cus_prec", "user_prec", "b@example.com", "Ada", "1"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn customer_updates_in_one_second_keep_one_of_them_in_any_order() {
    let bodies = [
        event_body(
            "evt_s1",
            "customer.updated",
            100,
            customer("one@example.com", false),
        ),
        event_body(
            "evt_s2",
            "customer.updated",
            100,
            customer("two@example.com", false),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "customers", "cus_prec").await {
        // Same second, same rank: the greater event id decides.
        assert_eq!(row[2], "two@example.com", "{name}");
    }
}

fn session(payment_status: &str) -> Value {
    checkout_session(
        "cs_prec",
        Some("user_cs"),
        "cus_cs",
        "payment",
        payment_status,
        None,
    )
}

#[tokio::test]
async fn async_payment_failure_beats_the_unpaid_completion() {
    let bodies = [
        event_body(
            "evt_k1",
            "checkout.session.completed",
            100,
            session("unpaid"),
        ),
        event_body(
            "evt_k2",
            "checkout.session.async_payment_failed",
            200,
            session("unpaid"),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    // checkout_sessions: id, user_id, customer_id, mode, status, payment_status, outcome, …
    for (name, row) in row_in_both(&pairs, "checkout_sessions", "cs_prec").await {
        assert_eq!(row[6], "failed", "{name}: {row:?}");
    }
    for (forward, _) in &pairs {
        assert_eq!(counts(forward).await.accounts, 0, "{}", forward.name);
    }
}

#[tokio::test]
async fn async_payment_failure_in_the_completion_second_still_wins() {
    let bodies = [
        event_body(
            "evt_z9",
            "checkout.session.completed",
            100,
            session("unpaid"),
        ),
        event_body(
            "evt_a1",
            "checkout.session.async_payment_failed",
            100,
            session("unpaid"),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "checkout_sessions", "cs_prec").await {
        assert_eq!(row[6], "failed", "{name}: {row:?}");
    }
}

#[tokio::test]
async fn paid_checkout_is_not_undone_by_a_late_expiry() {
    let bodies = [
        event_body("evt_p1", "checkout.session.completed", 100, session("paid")),
        event_body("evt_p2", "checkout.session.expired", 100, session("unpaid")),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "checkout_sessions", "cs_prec").await {
        assert_eq!(row[6], "paid", "{name}: {row:?}");
    }
}

fn payment_method(customer: Option<&str>) -> Value {
    json!({
        "id": "pm_prec", "object": "payment_method", "type": "card", "customer": customer,
        "card": { "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030 },
    })
}

fn detached(created: i64) -> String {
    let mut body: Value = serde_json::from_str(&event_body(
        "evt_pm_detach",
        "payment_method.detached",
        created,
        payment_method(None),
    ))
    .expect("json");
    body["data"]["previous_attributes"] = json!({ "customer": "cus_pm" });
    body.to_string()
}

#[tokio::test]
async fn detached_payment_method_stays_detached_after_a_late_older_attach() {
    let bodies = [
        event_body(
            "evt_pm_attach",
            "payment_method.attached",
            100,
            payment_method(Some("cus_pm")),
        ),
        detached(200),
    ];
    let pairs = in_both_orders(&bodies).await;
    // payment_methods: id, customer_id, brand, last4, exp_month, exp_year, attached
    for (name, row) in row_in_both(&pairs, "payment_methods", "pm_prec").await {
        // The detached snapshot, as Stripe sends it: no customer any more.
        assert_eq!(
            row,
            ["pm_prec", "∅", "visa", "4242", "12", "2030", "0"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn detached_payment_method_stays_detached_after_a_newer_attach() {
    let bodies = [
        detached(200),
        event_body(
            "evt_pm_again",
            "payment_method.attached",
            300,
            payment_method(Some("cus_pm")),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "payment_methods", "pm_prec").await {
        assert_eq!(
            row[1..],
            ["∅", "visa", "4242", "12", "2030", "0"],
            "{name}: detaching is final"
        );
    }
}

#[tokio::test]
async fn payment_method_update_replaces_the_card_details() {
    let mut updated = payment_method(Some("cus_pm"));
    updated["card"]["exp_year"] = json!(2034);
    let bodies = [
        event_body(
            "evt_pm_a",
            "payment_method.attached",
            100,
            payment_method(Some("cus_pm")),
        ),
        event_body(
            "evt_pm_u",
            "payment_method.automatically_updated",
            200,
            updated,
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "payment_methods", "pm_prec").await {
        assert_eq!(
            row,
            ["pm_prec", "cus_pm", "visa", "4242", "12", "2034", "1"],
            "{name}"
        );
    }
}

fn refund(status: &str) -> Value {
    json!({
        "id": "re_prec", "object": "refund", "amount": 700, "currency": "usd",
        "charge": "ch_prec", "payment_intent": "pi_prec", "status": status, "reason": "requested_by_customer",
    })
}

#[tokio::test]
async fn refund_progresses_from_pending_to_succeeded_and_not_back() {
    let bodies = [
        event_body("evt_r1", "refund.created", 100, refund("pending")),
        event_body("evt_r2", "refund.updated", 200, refund("succeeded")),
        // A stale `pending` snapshot, delivered late.
        event_body("evt_r3", "charge.refund.updated", 150, refund("pending")),
    ];
    let pairs = in_both_orders(&bodies).await;
    // refunds: key, refund_id, charge_id, amount, currency, status
    for (name, row) in row_in_both(&pairs, "refunds", "re_prec").await {
        assert_eq!(
            row,
            ["re_prec", "re_prec", "ch_prec", "700", "usd", "succeeded"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn refund_succeeded_in_the_same_second_as_pending_wins() {
    let bodies = [
        event_body("evt_rz", "refund.created", 100, refund("pending")),
        event_body("evt_ra", "refund.updated", 100, refund("succeeded")),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "refunds", "re_prec").await {
        assert_eq!(row[5], "succeeded", "{name}");
    }
}

#[tokio::test]
async fn refund_that_fails_after_succeeding_ends_failed() {
    let bodies = [
        event_body("evt_rf1", "refund.created", 100, refund("pending")),
        event_body("evt_rf2", "refund.updated", 200, refund("succeeded")),
        event_body("evt_rf3", "refund.failed", 300, refund("failed")),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "refunds", "re_prec").await {
        assert_eq!(row[5], "failed", "{name}");
    }
}

#[tokio::test]
async fn charge_refunded_records_each_listed_refund_under_the_charge() {
    let charge = json!({
        "id": "ch_list", "object": "charge", "amount": 1000, "amount_refunded": 1000, "currency": "usd",
        "payment_intent": "pi_list",
        "refunds": { "object": "list", "data": [
            { "id": "re_l1", "amount": 400, "currency": "usd", "status": "succeeded" },
            { "id": "re_l2", "amount": 600, "currency": "usd", "status": "pending" },
        ] },
    });
    let bodies = [event_body("evt_ch_ref", "charge.refunded", 100, charge)];
    let pairs = in_both_orders(&bodies).await;
    for (forward, _) in &pairs {
        let refunds = rows(forward, "refunds").await;
        assert_eq!(
            refunds,
            [
                ["re_l1", "re_l1", "ch_list", "400", "usd", "succeeded"],
                ["re_l2", "re_l2", "ch_list", "600", "usd", "pending"],
            ],
            "{}",
            forward.name
        );
    }
}

#[tokio::test]
async fn charge_refunded_without_a_list_keeps_the_latest_charge_total() {
    let charge = |refunded: i64| {
        json!({
            "id": "ch_total", "object": "charge", "amount": 1000, "amount_refunded": refunded,
            "currency": "usd", "refunds": { "object": "list", "data": [] },
        })
    };
    let bodies = [
        event_body("evt_ct1", "charge.refunded", 100, charge(300)),
        event_body("evt_ct2", "charge.refunded", 200, charge(1000)),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "refunds", "ch_total").await {
        assert_eq!(
            row,
            ["ch_total", "∅", "ch_total", "1000", "usd", "succeeded"],
            "{name}"
        );
    }
}

fn dispute(status: &str) -> Value {
    json!({
        "id": "dp_prec", "object": "dispute", "amount": 1000, "currency": "usd",
        "charge": "ch_disputed", "status": status, "reason": "fraudulent",
    })
}

#[tokio::test]
async fn won_dispute_is_not_overwritten_by_an_older_needs_response() {
    let bodies = [
        event_body(
            "evt_d1",
            "charge.dispute.created",
            100,
            dispute("needs_response"),
        ),
        event_body(
            "evt_d2",
            "charge.dispute.updated",
            200,
            dispute("under_review"),
        ),
        event_body("evt_d3", "charge.dispute.closed", 300, dispute("won")),
        event_body(
            "evt_d4",
            "charge.dispute.updated",
            150,
            dispute("needs_response"),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    // disputes: id, charge_id, amount, currency, status
    for (name, row) in row_in_both(&pairs, "disputes", "dp_prec").await {
        assert_eq!(
            row,
            ["dp_prec", "ch_disputed", "1000", "usd", "won"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn closed_dispute_is_not_reopened_by_a_newer_update() {
    let bodies = [
        event_body("evt_dl1", "charge.dispute.closed", 300, dispute("lost")),
        event_body(
            "evt_dl2",
            "charge.dispute.updated",
            301,
            dispute("needs_response"),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "disputes", "dp_prec").await {
        assert_eq!(row[4], "lost", "{name}");
    }
}

#[tokio::test]
async fn dispute_under_review_beats_needs_response_in_the_same_second() {
    let bodies = [
        event_body(
            "evt_dz",
            "charge.dispute.created",
            100,
            dispute("needs_response"),
        ),
        event_body(
            "evt_da",
            "charge.dispute.updated",
            100,
            dispute("under_review"),
        ),
    ];
    let pairs = in_both_orders(&bodies).await;
    for (name, row) in row_in_both(&pairs, "disputes", "dp_prec").await {
        assert_eq!(row[4], "under_review", "{name}");
    }
}

#[tokio::test]
async fn deleted_product_and_price_are_not_revived() {
    let product = |name: &str| json!({ "id": "prod_prec", "object": "product", "name": name, "active": true });
    let price = json!({
        "id": "price_prec", "object": "price", "product": "prod_prec", "active": true, "currency": "usd",
        "unit_amount": 900, "recurring": { "interval": "month", "interval_count": 1 }, "lookup_key": "pro",
    });
    let bodies = [
        event_body("evt_pr1", "product.created", 100, product("Pro")),
        event_body("evt_pp1", "price.created", 100, price.clone()),
        event_body("evt_pr2", "product.deleted", 200, product("Pro")),
        event_body("evt_pp2", "price.deleted", 200, price.clone()),
        event_body("evt_pr3", "product.updated", 300, product("Pro 2")),
        event_body("evt_pp3", "price.updated", 300, price),
    ];
    let pairs = in_both_orders(&bodies).await;
    // products: id, name, active, deleted
    for (name, row) in row_in_both(&pairs, "products", "prod_prec").await {
        assert_eq!(row, ["prod_prec", "Pro", "0", "1"], "{name}");
    }
    // prices: id, product_id, active, deleted, currency, unit_amount, interval, interval_count, lookup_key
    for (name, row) in row_in_both(&pairs, "prices", "price_prec").await {
        assert_eq!(
            row,
            [
                "price_prec",
                "prod_prec",
                "0",
                "1",
                "usd",
                "900",
                "month",
                "1",
                "pro"
            ],
            "{name}"
        );
    }
}
