//! Payments, payment failures and the notifications failures queue.

use paywarden_store::ProjectionReader;
use paywarden_testkit::backends;
use serde_json::{json, Value};

use crate::support::*;

fn invoice_event(id: &str, event_type: &str, created: i64, object: Value) -> String {
    event_body(id, event_type, created, object)
}

#[tokio::test]
async fn invoice_paid_and_payment_succeeded_record_one_payment() {
    for t in backends().await {
        let inv = invoice("in_one", "cus_1", Some("sub_1"), 2000, 1);
        deliver(
            &t,
            &invoice_event("evt_paid", "invoice.paid", 100, inv.clone()),
        )
        .await;
        deliver(
            &t,
            &invoice_event("evt_succeeded", "invoice.payment_succeeded", 100, inv),
        )
        .await;
        assert_eq!(counts(&t).await.payments, 1, "{}", t.name);
        // payments: source_id, source, invoice_id, payment_intent_id, customer_id,
        // subscription_id, amount, currency, period_start, period_end
        let payment = row(&t, "payments", "in_one").await;
        assert_eq!(
            payment,
            [
                "in_one",
                "invoice",
                "in_one",
                "pi_for_in_one",
                "cus_1",
                "sub_1",
                "2000",
                "usd",
                "1700000000",
                "1702592000"
            ],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn payment_intent_paying_an_invoice_records_no_payment_of_its_own() {
    for t in backends().await {
        let intent = json!({
            "id": "pi_inv", "object": "payment_intent", "amount": 2000, "amount_received": 2000,
            "currency": "usd", "customer": "cus_1", "status": "succeeded", "invoice": "in_2",
        });
        deliver(
            &t,
            &event_body("evt_pi_inv", "payment_intent.succeeded", 100, intent),
        )
        .await;
        assert_eq!(counts(&t).await.payments, 0, "{}", t.name);
        deliver(
            &t,
            &invoice_event(
                "evt_in_2",
                "invoice.paid",
                100,
                invoice("in_2", "cus_1", None, 2000, 1),
            ),
        )
        .await;
        assert_eq!(counts(&t).await.payments, 1, "{}", t.name);
        assert_eq!(
            row(&t, "payments", "in_2").await[1],
            "invoice",
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn standalone_payment_intent_records_one_payment() {
    for t in backends().await {
        let intent = json!({
            "id": "pi_alone", "object": "payment_intent", "amount": 900, "amount_received": 700,
            "currency": "eur", "customer": "cus_1", "status": "succeeded", "invoice": null,
        });
        let body = event_body("evt_pi_alone", "payment_intent.succeeded", 100, intent);
        deliver(&t, &body).await;
        deliver(&t, &body).await;
        assert_eq!(counts(&t).await.payments, 1, "{}", t.name);
        let payment = row(&t, "payments", "pi_alone").await;
        assert_eq!(
            payment[..8],
            [
                "pi_alone",
                "payment_intent",
                "∅",
                "pi_alone",
                "cus_1",
                "∅",
                "700",
                "eur"
            ],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn each_payment_failed_event_records_a_failure_row() {
    for t in backends().await {
        for (n, attempt) in [1, 2, 3].into_iter().enumerate() {
            let inv = invoice("in_fail", "cus_1", Some("sub_1"), 1200, attempt);
            let body = invoice_event(
                &format!("evt_fail_{n}"),
                "invoice.payment_failed",
                100 + n as i64,
                inv,
            );
            deliver(&t, &body).await;
            deliver(&t, &body).await;
        }
        let counts = counts(&t).await;
        assert_eq!(counts.payment_failures, 3, "{}", t.name);
        assert_eq!(counts.notifications, 3, "{}: one per attempt", t.name);
        assert_eq!(counts.payments, 0, "{}", t.name);
        // payment_failures: event_id, invoice_id, customer_id, amount, attempt_count
        assert_eq!(
            row(&t, "payment_failures", "evt_fail_1").await,
            ["evt_fail_1", "in_fail", "cus_1", "1200", "2"],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn one_notification_per_invoice_attempt_whatever_the_event_id() {
    for t in backends().await {
        let inv = invoice("in_note", "cus_1", Some("sub_1"), 1200, 2);
        for n in 0..3 {
            let body = invoice_event(
                &format!("evt_same_attempt_{n}"),
                "invoice.payment_failed",
                100,
                inv.clone(),
            );
            deliver(&t, &body).await;
        }
        let counts = counts(&t).await;
        assert_eq!(counts.payment_failures, 3, "{}: one per event", t.name);
        assert_eq!(
            counts.notifications, 1,
            "{}: one per (invoice, attempt)",
            t.name
        );
        // notifications: cause_key, kind, customer_id, payload
        let note = row(&t, "notifications", "payment_failed:in_note:2").await;
        assert_eq!(note[1..3], ["payment_failed", "cus_1"], "{}", t.name);
        let payload: Value = serde_json::from_str(&note[3]).expect("payload is JSON");
        assert_eq!(payload["invoice"], "in_note", "{}", t.name);
        assert_eq!(payload["attempt_count"], 2, "{}", t.name);
        assert_eq!(payload["amount_due"], 1200, "{}", t.name);
    }
}

#[tokio::test]
async fn failures_of_different_invoices_notify_separately() {
    for t in backends().await {
        for n in 0..4 {
            let inv = invoice(&format!("in_{n}"), "cus_1", None, 100, 1);
            let body = invoice_event(&format!("evt_f{n}"), "invoice.payment_failed", 100, inv);
            deliver(&t, &body).await;
        }
        assert_eq!(counts(&t).await.notifications, 4, "{}", t.name);
    }
}

#[tokio::test]
async fn payment_intent_failure_records_a_failure_with_its_message() {
    for t in backends().await {
        let intent = json!({
            "id": "pi_declined", "object": "payment_intent", "amount": 500, "currency": "usd",
            "customer": "cus_1", "status": "requires_payment_method",
            "last_payment_error": { "code": "card_declined", "message": "Your card was declined." },
        });
        deliver(
            &t,
            &event_body(
                "evt_pi_failed",
                "payment_intent.payment_failed",
                100,
                intent,
            ),
        )
        .await;
        let counts = counts(&t).await;
        assert_eq!(
            (
                counts.payment_failures,
                counts.notifications,
                counts.payments
            ),
            (1, 0, 0),
            "{}",
            t.name
        );
        assert_eq!(
            row(&t, "payment_failures", "evt_pi_failed").await,
            ["evt_pi_failed", "∅", "cus_1", "500", "∅"],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn expanded_subscription_on_a_failed_invoice_updates_the_subscription() {
    for t in backends().await {
        let mut inv = invoice("in_exp", "cus_1", None, 1200, 1);
        inv["subscription"] = json!({
            "id": "sub_exp", "object": "subscription", "customer": "cus_1", "status": "past_due",
            "items": { "data": [ { "id": "si_exp", "quantity": 1, "price": { "id": "price_1" } } ] },
        });
        deliver(
            &t,
            &invoice_event("evt_exp", "invoice.payment_failed", 100, inv),
        )
        .await;
        let sub = t
            .store
            .subscription(&"sub_exp".parse().expect("id"))
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{}: no subscription", t.name));
        assert_eq!(sub.status, "past_due", "{}", t.name);
        assert_eq!(
            row(&t, "payment_failures", "evt_exp").await[1],
            "in_exp",
            "{}",
            t.name
        );
    }
}

/// A renewal under 2025-03-31.basil: the invoice no longer names its
/// PaymentIntent, the PaymentIntent no longer names its invoice, and only
/// `invoice_payment.paid` links them. Two payment rows, one sum of money,
/// whatever the order of arrival.
#[tokio::test]
async fn basil_invoice_and_its_payment_intent_count_once_in_any_order() {
    let bodies = [
        event_body(
            "evt_basil_inv",
            "invoice.paid",
            100,
            json!({"id": "in_basil", "object": "invoice", "customer": "cus_b", "status": "paid",
                   "amount_paid": 1500, "currency": "usd",
                   "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_b"}}}),
        ),
        event_body(
            "evt_basil_pi",
            "payment_intent.succeeded",
            100,
            json!({"id": "pi_basil", "object": "payment_intent", "customer": "cus_b",
                   "amount": 1500, "amount_received": 1500, "currency": "usd", "status": "succeeded"}),
        ),
        event_body(
            "evt_basil_link",
            "invoice_payment.paid",
            101,
            json!({"id": "inpay_basil", "object": "invoice_payment", "invoice": "in_basil", "status": "paid",
                   "payment": {"type": "payment_intent", "payment_intent": "pi_basil"}}),
        ),
    ];
    for (in_order, reversed) in in_both_orders(&bodies).await {
        for t in [&in_order, &reversed] {
            let counts = counts(t).await;
            assert_eq!(counts.payments, 2, "{}: both facts are kept", t.name);
            assert_eq!(
                counts.counted_payments, 1,
                "{}: the money counts once",
                t.name
            );
        }
        assert_eq!(
            digest(&in_order).await,
            digest(&reversed).await,
            "{}",
            in_order.name
        );
    }
}

/// Before basil the PaymentIntent names its invoice: no PaymentIntent row,
/// and the link is recorded from either side.
#[tokio::test]
async fn an_older_payment_intent_naming_its_invoice_is_counted_with_it() {
    for t in backends().await {
        deliver(
            &t,
            &event_body(
                "evt_old_pi",
                "payment_intent.succeeded",
                100,
                json!({"id": "pi_old", "object": "payment_intent", "invoice": "in_old",
                       "amount": 900, "amount_received": 900, "currency": "usd"}),
            ),
        )
        .await;
        let counts = counts(&t).await;
        assert_eq!(
            (counts.payments, counts.counted_payments),
            (0, 0),
            "{}",
            t.name
        );
        assert_eq!(
            rows(&t, "invoice_payment_links").await.len(),
            1,
            "{}",
            t.name
        );
    }
}
