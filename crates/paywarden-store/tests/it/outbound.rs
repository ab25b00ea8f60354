//! Outbound webhooks in the store: messages are written with the change
//! that caused them (and vanish with its rollback), go to the endpoints
//! subscribed to their type, and are claimed by one worker at a time.

use std::collections::HashSet;

use paywarden_core::ids::WebhookEndpointId;
use paywarden_core::outbound::{EndpointSecret, OutboundEvent, OutboundEventType};
use paywarden_store::{
    now_ms, AttemptResult, DeliveryFilter, DeliveryStatus, NewWebhookEndpoint, OutboundQueue,
    Store, WebhookEndpoints,
};
use paywarden_testkit::{backends, TestStore};
use serde_json::{json, Value};

use crate::support::*;

async fn endpoint(store: &Store, types: Option<Vec<OutboundEventType>>) -> WebhookEndpointId {
    let id = WebhookEndpointId::generate();
    store
        .create_webhook_endpoint(&NewWebhookEndpoint {
            id,
            url: "https://hooks.example.com/paywarden".into(),
            secret: EndpointSecret::generate(),
            event_types: types,
            created_at: now_ms(),
        })
        .await
        .expect("create endpoint");
    id
}

fn credits_event(user: &str) -> OutboundEvent {
    OutboundEvent::credits_changed(json!({ "user_id": user, "balance": 5 }))
}

async fn all_deliveries(t: &TestStore) -> Vec<paywarden_store::Delivery> {
    t.store
        .deliveries(&DeliveryFilter {
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{}: list deliveries: {e}", t.name))
        .deliveries
}

#[tokio::test]
async fn a_message_goes_to_each_subscribed_live_endpoint_once() {
    for t in backends().await {
        let all = endpoint(&t.store, None).await;
        let credits_only = endpoint(&t.store, Some(vec![OutboundEventType::CreditsChanged])).await;
        let bookings_only = endpoint(&t.store, Some(vec![OutboundEventType::BookingUpdated])).await;
        let deleted = endpoint(&t.store, None).await;
        assert!(t
            .store
            .delete_webhook_endpoint(&deleted, now_ms())
            .await
            .expect("delete"));

        let mut tx = t.store.begin().await.expect("begin");
        let message = tx
            .enqueue_outbound(&credits_event("u_1"), now_ms())
            .await
            .expect("enqueue")
            .expect("a message: two endpoints want it");
        tx.commit().await.expect("commit");

        let deliveries = all_deliveries(&t).await;
        let to: HashSet<_> = deliveries.iter().map(|d| d.endpoint_id).collect();
        assert_eq!(to, HashSet::from([all, credits_only]), "{}", t.name);
        assert!(!to.contains(&bookings_only) && !to.contains(&deleted));
        for d in &deliveries {
            assert_eq!(d.message_id, message, "{}", t.name);
            assert_eq!(d.status, DeliveryStatus::Pending, "{}", t.name);
            assert_eq!(d.event_type, "credits.changed", "{}", t.name);
        }
        let listed: Vec<_> = t
            .store
            .webhook_endpoints()
            .await
            .expect("list")
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(listed.len(), 3, "{}: the deleted one is not listed", t.name);
    }
}

#[tokio::test]
async fn a_message_enqueued_in_a_rolled_back_transaction_is_never_claimed() {
    for t in backends().await {
        endpoint(&t.store, None).await;
        let mut tx = t.store.begin().await.expect("begin");
        tx.enqueue_outbound(&credits_event("u_1"), now_ms())
            .await
            .expect("enqueue")
            .expect("a message");
        tx.rollback().await.expect("rollback");
        // Dropped without commit: rolled back too.
        let mut tx = t.store.begin().await.expect("begin");
        tx.enqueue_outbound(&credits_event("u_2"), now_ms())
            .await
            .expect("enqueue");
        drop(tx);

        assert!(all_deliveries(&t).await.is_empty(), "{}", t.name);
        let claimed = t
            .store
            .claim_deliveries(now_ms() + 1000, 60_000, 10)
            .await
            .expect("claim");
        assert!(claimed.is_empty(), "{}", t.name);
    }
}

#[tokio::test]
async fn without_endpoints_nothing_is_written() {
    for t in backends().await {
        let mut tx = t.store.begin().await.expect("begin");
        let message = tx
            .enqueue_outbound(&credits_event("u_1"), now_ms())
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
        assert_eq!(message, None, "{}", t.name);
    }
}

#[tokio::test]
async fn a_leased_delivery_is_claimed_by_one_worker_until_its_attempt_is_recorded() {
    for t in backends().await {
        endpoint(&t.store, None).await;
        let mut tx = t.store.begin().await.expect("begin");
        for user in ["u_1", "u_2", "u_3", "u_4", "u_5", "u_6"] {
            tx.enqueue_outbound(&credits_event(user), now_ms())
                .await
                .expect("enqueue");
        }
        tx.commit().await.expect("commit");

        // Many workers claim at once: every delivery goes to exactly one.
        let now = now_ms() + 10;
        let mut claims = Vec::new();
        for _ in 0..4 {
            let store = t.store.clone();
            claims.push(tokio::spawn(async move {
                store.claim_deliveries(now, 60_000, 2).await
            }));
        }
        let mut seen = Vec::new();
        let mut claimed = Vec::new();
        for claim in claims {
            let got = claim.await.expect("task").expect("claim");
            seen.extend(got.iter().map(|c| c.id));
            claimed.extend(got);
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{}: claimed twice", t.name);
        assert!(!claimed.is_empty(), "{}", t.name);
        let more = t
            .store
            .claim_deliveries(now, 60_000, 10)
            .await
            .expect("claim");
        assert_eq!(
            claimed.len() + more.len(),
            6,
            "{}: every delivery claimed once overall",
            t.name
        );
        let again = t
            .store
            .claim_deliveries(now, 60_000, 10)
            .await
            .expect("claim");
        assert!(again.is_empty(), "{}: leased rows are not due", t.name);

        // A failed attempt comes back when due; a lost lease records nothing.
        let first = &claimed[0];
        let body: Value = serde_json::from_str(&first.body).expect("json body");
        assert_eq!(body["id"], first.message_id.to_string(), "{}", t.name);
        assert!(t
            .store
            .record_attempt(
                first,
                &AttemptResult::Failed {
                    status_code: Some(500),
                    error: "HTTP 500".into(),
                    next_attempt_at: Some(now + 5_000),
                },
                now,
            )
            .await
            .expect("record"));
        assert!(
            !t.store
                .record_attempt(first, &AttemptResult::Delivered { status_code: 200 }, now)
                .await
                .expect("record"),
            "{}: the lease was released",
            t.name
        );
        let retried = t
            .store
            .claim_deliveries(now + 5_000, 60_000, 10)
            .await
            .expect("claim");
        let retry = retried
            .iter()
            .find(|c| c.id == first.id)
            .expect("due again after its backoff");
        assert_eq!(retry.attempts, 1, "{}", t.name);
        assert!(t
            .store
            .record_attempt(retry, &AttemptResult::Delivered { status_code: 204 }, now)
            .await
            .expect("record"));
        let shown = t
            .store
            .delivery(&first.id)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(shown.status, DeliveryStatus::Delivered, "{}", t.name);
        assert_eq!(shown.attempts, 2, "{}", t.name);
        assert_eq!(shown.last_status_code, Some(204), "{}", t.name);
        assert!(shown.delivered_at.is_some(), "{}", t.name);

        // An expired lease (a worker that died) makes the row due again.
        let stale = t
            .store
            .claim_deliveries(now + 120_000, 60_000, 10)
            .await
            .expect("claim");
        assert_eq!(
            stale.len(),
            5,
            "{}: the other five, after their leases",
            t.name
        );
    }
}

#[tokio::test]
async fn the_log_pages_filters_and_retries() {
    for t in backends().await {
        let a = endpoint(&t.store, None).await;
        let b = endpoint(&t.store, None).await;
        let mut tx = t.store.begin().await.expect("begin");
        for user in ["u_1", "u_2", "u_3"] {
            tx.enqueue_outbound(&credits_event(user), now_ms())
                .await
                .expect("enqueue");
        }
        tx.commit().await.expect("commit");
        let claimed = t
            .store
            .claim_deliveries(now_ms() + 10, 60_000, 1)
            .await
            .expect("claim");
        let dead = &claimed[0];
        t.store
            .record_attempt(
                dead,
                &AttemptResult::Failed {
                    status_code: None,
                    error: "connection refused".into(),
                    next_attempt_at: None,
                },
                now_ms(),
            )
            .await
            .expect("record");

        let mut pages = 0;
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = t
                .store
                .deliveries(&DeliveryFilter {
                    endpoint: Some(a),
                    cursor: cursor.clone(),
                    limit: 2,
                    ..DeliveryFilter::default()
                })
                .await
                .expect("page");
            pages += 1;
            ids.extend(page.deliveries.iter().map(|d| d.id));
            assert!(page.deliveries.iter().all(|d| d.endpoint_id == a));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!((ids.len(), pages), (3, 2), "{}", t.name);
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), 3, "{}", t.name);
        let _ = b;

        let dead_only = t
            .store
            .deliveries(&DeliveryFilter {
                status: Some(DeliveryStatus::Dead),
                limit: 10,
                ..DeliveryFilter::default()
            })
            .await
            .expect("dead");
        assert_eq!(dead_only.deliveries.len(), 1, "{}", t.name);
        assert_eq!(
            dead_only.deliveries[0].last_error.as_deref(),
            Some("connection refused")
        );

        let retried = t
            .store
            .retry_delivery(&dead.id, now_ms())
            .await
            .expect("retry")
            .expect("a dead delivery can be retried");
        assert_eq!(retried.status, DeliveryStatus::Pending, "{}", t.name);
        assert_eq!(retried.attempts, 1, "{}: its attempts are kept", t.name);
        let bad = t
            .store
            .deliveries(&DeliveryFilter {
                cursor: Some("nope".into()),
                limit: 10,
                ..DeliveryFilter::default()
            })
            .await;
        assert!(bad.is_err(), "{}: a foreign cursor is refused", t.name);
    }
}

fn subscription_body(event: &str, created: i64, status: &str) -> String {
    event_body(
        event,
        "customer.subscription.updated",
        created,
        json!({
            "id": "sub_out1",
            "object": "subscription",
            "customer": "cus_out1",
            "status": status,
            "current_period_start": created,
            "current_period_end": created + 86_400,
            "cancel_at_period_end": false,
            "metadata": {},
            "items": { "object": "list", "data": [{
                "id": "si_out1", "object": "subscription_item", "quantity": 2,
                "price": { "id": "price_out", "product": "prod_out", "currency": "eur", "unit_amount": 500 }
            }]},
        }),
    )
}

#[tokio::test]
async fn a_projected_subscription_change_is_announced_once_and_stale_or_duplicate_events_are_not() {
    for t in backends().await {
        endpoint(&t.store, Some(vec![OutboundEventType::SubscriptionUpdated])).await;
        let first = subscription_body("evt_out_1", 1_000, "active");
        deliver(&t, &first).await;
        deliver(&t, &first).await; // a duplicate delivery
        deliver(&t, &subscription_body("evt_out_0", 900, "incomplete")).await; // older
        let deliveries = all_deliveries(&t).await;
        assert_eq!(deliveries.len(), 1, "{}: {deliveries:?}", t.name);
        let claimed = t
            .store
            .claim_deliveries(now_ms() + 10, 60_000, 10)
            .await
            .expect("claim");
        let body: Value = serde_json::from_str(&claimed[0].body).expect("json");
        assert_eq!(body["type"], "subscription.updated", "{}", t.name);
        assert_eq!(body["data"]["id"], "sub_out1", "{}", t.name);
        assert_eq!(body["data"]["status"], "active", "{}", t.name);
        assert_eq!(body["data"]["items"][0]["quantity"], 2, "{}", t.name);

        deliver(&t, &subscription_body("evt_out_2", 2_000, "past_due")).await;
        assert_eq!(
            all_deliveries(&t).await.len(),
            2,
            "{}: a newer state",
            t.name
        );
    }
}
