//! Deliveries that arrive together. On SQLite they are written in one
//! transaction (group commit); a delivery that cannot be applied must not
//! take the others down with it, nor be applied twice when the batch is
//! written again one by one.

use futures::stream::{self, StreamExt};
use paywarden_store::EventStatus;
use paywarden_testkit::now_secs;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{apps, stripe};

/// A payment method whose card claims a five-digit `last4`: it plans, but
/// the database refuses the row (card data is limited to brand/last4/expiry).
fn unstorable_payment_method(id: &str) -> Vec<u8> {
    stripe::event(
        id,
        "payment_method.attached",
        now_secs(),
        json!({
            "id": "pm_unstorable",
            "object": "payment_method",
            "customer": "cus_batch",
            "type": "card",
            "card": { "brand": "visa", "last4": "42424", "exp_month": 1, "exp_year": 2030 },
        }),
    )
}

#[tokio::test]
async fn a_bad_event_in_a_burst_fails_alone_and_the_rest_apply_once() {
    for app in apps().await {
        let b = app.backend;
        let mut bodies: Vec<(String, Vec<u8>)> = (0..120)
            .map(|i| {
                let id = format!("evt_burst_{i}");
                let body = stripe::invoice_paid(
                    &id,
                    &format!("in_burst_{i}"),
                    "cus_batch",
                    100 + i,
                    now_secs(),
                );
                (id, body)
            })
            .collect();
        // The bad one in the middle, and every good one twice.
        bodies.insert(
            60,
            (
                "evt_burst_bad".into(),
                unstorable_payment_method("evt_burst_bad"),
            ),
        );
        let repeats: Vec<(String, Vec<u8>)> = bodies
            .iter()
            .filter(|(id, _)| id != "evt_burst_bad")
            .cloned()
            .collect();
        bodies.extend(repeats);

        let app = &app;
        let replies: Vec<_> = stream::iter(bodies.iter())
            .map(|(id, body)| async move { (id.clone(), app.deliver(body).await) })
            .buffer_unordered(64)
            .collect()
            .await;

        for (id, reply) in &replies {
            assert_eq!(reply.status, StatusCode::OK, "[{b}] {id}: {}", reply.text);
        }
        let duplicates = replies.iter().filter(|(_, r)| r.is_duplicate()).count();
        assert_eq!(
            duplicates, 120,
            "[{b}] each good event answered duplicate once"
        );

        let bad = app.stored("evt_burst_bad").await;
        assert_eq!(
            bad.status,
            EventStatus::Failed,
            "[{b}] the unstorable event is kept as failed"
        );
        assert!(bad.last_error.is_some(), "[{b}] with its error");
        for i in 0..120 {
            let event = app.stored(&format!("evt_burst_{i}")).await;
            assert_eq!(event.status, EventStatus::Processed, "[{b}] evt_burst_{i}");
            assert_eq!(event.received_count, 2, "[{b}] evt_burst_{i}");
        }
        let counts = app.counts().await;
        assert_eq!(counts.payments, 120, "[{b}] one payment per invoice");
        assert_eq!(
            counts.payment_methods, 0,
            "[{b}] nothing of the bad event was written"
        );
        assert_eq!(counts.events, 121, "[{b}] every event stored once");
    }
}
