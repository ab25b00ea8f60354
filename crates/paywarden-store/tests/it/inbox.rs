//! The event inbox: claims, delivery counts, outcomes, retries and listing.

use std::collections::HashSet;

use paywarden_store::{
    Claim, EventFilter, EventInbox, EventLog, EventOutcome, EventStatus, StoreError, StoreTx,
};
use paywarden_testkit::{backends, TestStore};
use serde_json::json;

use crate::support::*;

fn customer_body(id: &str) -> String {
    event_body(
        id,
        "customer.created",
        1_700_000_000,
        json!({"id": "cus_inbox", "object": "customer", "email": "a@example.com"}),
    )
}

/// Claims `body` in its own transaction with the given status and receive
/// time, and commits.
async fn claim_at(t: &TestStore, body: &str, status: EventStatus, received_at: i64) -> Claim {
    let event = parse(body);
    let mut tx = t.store.begin().await.expect("begin");
    let claim = tx
        .claim_event(&new_event(&event, body, status, received_at))
        .await
        .unwrap_or_else(|e| panic!("{}: claim: {e:?}", t.name));
    tx.commit().await.expect("commit");
    claim
}

async fn record(t: &TestStore, id: &str, outcome: EventOutcome, count_attempt: bool, now: i64) {
    let mut tx = t.store.begin().await.expect("begin");
    tx.record_outcome(&event_id(id), &outcome, count_attempt, now)
        .await
        .unwrap_or_else(|e| panic!("{}: record outcome: {e:?}", t.name));
    tx.commit().await.expect("commit");
}

fn failed(error: &str, next_attempt_at: Option<i64>) -> EventOutcome {
    EventOutcome::Failed {
        error: error.into(),
        next_attempt_at,
    }
}

async fn lock(tx: &mut StoreTx, id: &str) -> Option<String> {
    tx.lock_failed_event(&event_id(id))
        .await
        .expect("lock failed event")
        .map(|e| e.id.to_string())
}

#[tokio::test]
async fn first_claim_is_new_and_later_claims_are_duplicates() {
    for t in backends().await {
        let body = customer_body("evt_claim");
        assert_eq!(deliver(&t, &body).await, Claim::New, "{}", t.name);
        for _ in 0..3 {
            assert_eq!(deliver(&t, &body).await, Claim::Duplicate, "{}", t.name);
        }
        assert_eq!(counts(&t).await.events, 1, "{}", t.name);
    }
}

#[tokio::test]
async fn received_count_counts_every_delivery() {
    for t in backends().await {
        let body = customer_body("evt_counted");
        for (n, at) in [1_000, 2_000, 3_000, 4_000, 5_000].into_iter().enumerate() {
            claim_at(&t, &body, EventStatus::Processed, at).await;
            let event = stored(&t, "evt_counted").await;
            assert_eq!(event.received_count, n as i64 + 1, "{}", t.name);
            assert_eq!(event.first_received_at, 1_000, "{}", t.name);
            assert_eq!(event.last_received_at, at, "{}", t.name);
            assert_eq!(event.attempts, 1, "{}: a duplicate is no attempt", t.name);
        }
    }
}

#[tokio::test]
async fn claim_stores_the_envelope_and_the_exact_body() {
    for t in backends().await {
        let body = customer_body("evt_envelope");
        deliver(&t, &body).await;
        let event = stored(&t, "evt_envelope").await;
        assert_eq!(event.payload, body, "{}", t.name);
        assert_eq!(event.event_type, "customer.created", "{}", t.name);
        assert_eq!(
            event.api_version.as_deref(),
            Some("2024-06-20"),
            "{}",
            t.name
        );
        assert_eq!(event.created, 1_700_000_000, "{}", t.name);
        assert!(!event.livemode, "{}", t.name);
        assert_eq!(event.object_id.as_deref(), Some("cus_inbox"), "{}", t.name);
        assert_eq!(event.status, EventStatus::Processed, "{}", t.name);
        assert_eq!(event.attempts, 1, "{}", t.name);
        assert_eq!(event.last_error, None, "{}", t.name);
        assert!(event.processed_at.is_some(), "{}", t.name);
    }
}

#[tokio::test]
async fn a_duplicate_claim_keeps_the_first_body_and_status() {
    for t in backends().await {
        let first = customer_body("evt_same_id");
        claim_at(&t, &first, EventStatus::Processed, 1_000).await;
        let other = event_body("evt_same_id", "product.created", 5, json!({"id": "prod_1"}));
        claim_at(&t, &other, EventStatus::Failed, 2_000).await;
        let event = stored(&t, "evt_same_id").await;
        assert_eq!(event.payload, first, "{}", t.name);
        assert_eq!(event.event_type, "customer.created", "{}", t.name);
        assert_eq!(event.status, EventStatus::Processed, "{}", t.name);
        assert_eq!(event.received_count, 2, "{}", t.name);
    }
}

#[tokio::test]
async fn a_claim_rolled_back_leaves_the_id_unclaimed() {
    for t in backends().await {
        let body = customer_body("evt_rolled_back");
        let event = parse(&body);
        let mut tx = t.store.begin().await.expect("begin");
        let claim = tx
            .claim_event(&new_event(&event, &body, EventStatus::Processed, 1))
            .await
            .expect("claim");
        assert_eq!(claim, Claim::New, "{}", t.name);
        tx.rollback().await.expect("rollback");
        assert!(
            t.store.event(&event.id).await.expect("read").is_none(),
            "{}",
            t.name
        );
        assert_eq!(deliver(&t, &body).await, Claim::New, "{}", t.name);
    }
}

#[tokio::test]
async fn unprojected_types_are_stored_ignored() {
    for t in backends().await {
        let body = event_body(
            "evt_ignored",
            "balance.available",
            10,
            json!({"object": "balance"}),
        );
        assert_eq!(deliver(&t, &body).await, Claim::New, "{}", t.name);
        let event = stored(&t, "evt_ignored").await;
        assert_eq!(event.status, EventStatus::Ignored, "{}", t.name);
        assert_eq!(event.next_attempt_at, None, "{}", t.name);
        assert_eq!(counts(&t).await.events, 1, "{}", t.name);
    }
}

#[tokio::test]
async fn an_event_that_cannot_be_planned_is_stored_failed_with_a_retry() {
    for t in backends().await {
        let body = event_body(
            "evt_malformed",
            "invoice.paid",
            10,
            json!({"id": "in_1", "amount_paid": "lots"}),
        );
        deliver(&t, &body).await;
        let event = stored(&t, "evt_malformed").await;
        assert_eq!(event.status, EventStatus::Failed, "{}", t.name);
        let error = event.last_error.unwrap_or_default();
        assert!(error.contains("invoice.paid"), "{}: {error}", t.name);
        assert!(event.next_attempt_at.is_some(), "{}", t.name);
        assert_eq!(event.processed_at, None, "{}", t.name);
        assert_eq!(counts(&t).await.payments, 0, "{}", t.name);
    }
}

#[tokio::test]
async fn record_outcome_stores_status_error_and_next_attempt() {
    for t in backends().await {
        let body = customer_body("evt_outcome");
        claim_at(&t, &body, EventStatus::Processed, 1_000).await;

        record(&t, "evt_outcome", failed("boom", Some(9_000)), false, 2_000).await;
        let event = stored(&t, "evt_outcome").await;
        assert_eq!(event.status, EventStatus::Failed, "{}", t.name);
        assert_eq!(event.last_error.as_deref(), Some("boom"), "{}", t.name);
        assert_eq!(event.next_attempt_at, Some(9_000), "{}", t.name);
        assert_eq!(event.attempts, 1, "{}: not counted", t.name);
        // A failed event has not been processed, however it came to fail.
        assert_eq!(event.processed_at, None, "{}", t.name);

        record(&t, "evt_outcome", failed("again", None), true, 3_000).await;
        let event = stored(&t, "evt_outcome").await;
        assert_eq!(event.last_error.as_deref(), Some("again"), "{}", t.name);
        assert_eq!(event.next_attempt_at, None, "{}", t.name);
        assert_eq!(event.attempts, 2, "{}: counted", t.name);

        record(&t, "evt_outcome", EventOutcome::Processed, true, 4_000).await;
        let event = stored(&t, "evt_outcome").await;
        assert_eq!(event.status, EventStatus::Processed, "{}", t.name);
        assert_eq!(event.last_error, None, "{}", t.name);
        assert_eq!(event.next_attempt_at, None, "{}", t.name);
        assert_eq!(event.processed_at, Some(4_000), "{}", t.name);
        assert_eq!(event.attempts, 3, "{}", t.name);
        assert_eq!(event.received_count, 1, "{}", t.name);
    }
}

#[tokio::test]
async fn lock_failed_event_returns_only_failed_events() {
    for t in backends().await {
        claim_at(&t, &customer_body("evt_ok"), EventStatus::Processed, 1).await;
        claim_at(&t, &customer_body("evt_bad"), EventStatus::Failed, 1).await;
        let ignored = event_body("evt_skip", "balance.available", 1, json!({}));
        claim_at(&t, &ignored, EventStatus::Ignored, 1).await;

        let mut tx = t.store.begin().await.expect("begin");
        assert_eq!(lock(&mut tx, "evt_ok").await, None, "{}", t.name);
        assert_eq!(lock(&mut tx, "evt_skip").await, None, "{}", t.name);
        assert_eq!(lock(&mut tx, "evt_unknown").await, None, "{}", t.name);
        assert_eq!(
            lock(&mut tx, "evt_bad").await.as_deref(),
            Some("evt_bad"),
            "{}",
            t.name
        );
        tx.record_outcome(&event_id("evt_bad"), &EventOutcome::Processed, true, 5)
            .await
            .expect("record");
        tx.commit().await.expect("commit");

        let mut tx = t.store.begin().await.expect("begin");
        assert_eq!(
            lock(&mut tx, "evt_bad").await,
            None,
            "{}: processed by the retry",
            t.name
        );
        tx.rollback().await.expect("rollback");
    }
}

#[tokio::test]
async fn lock_failed_event_returns_the_stored_row() {
    for t in backends().await {
        let body = customer_body("evt_locked");
        claim_at(&t, &body, EventStatus::Processed, 7).await;
        record(&t, "evt_locked", failed("db said no", Some(100)), false, 8).await;
        let mut tx = t.store.begin().await.expect("begin");
        let event = tx
            .lock_failed_event(&event_id("evt_locked"))
            .await
            .expect("lock")
            .unwrap_or_else(|| panic!("{}: failed event not returned", t.name));
        tx.rollback().await.expect("rollback");
        assert_eq!(event, stored(&t, "evt_locked").await, "{}", t.name);
        assert_eq!(event.payload, body, "{}", t.name);
        assert_eq!(
            event.last_error.as_deref(),
            Some("db said no"),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn events_due_for_retry_returns_failed_events_due_by_now_oldest_first() {
    for t in backends().await {
        let now = 10_000;
        let cases = [
            ("evt_due_late", EventStatus::Failed, Some(now)),
            ("evt_due_early", EventStatus::Failed, Some(now - 5_000)),
            ("evt_not_yet", EventStatus::Failed, Some(now + 1)),
            ("evt_no_retry", EventStatus::Failed, None),
            ("evt_done", EventStatus::Processed, None),
            (
                "evt_done_after_fail",
                EventStatus::Failed,
                Some(now - 9_000),
            ),
        ];
        for (id, status, next) in cases {
            claim_at(&t, &customer_body(id), EventStatus::Processed, 1).await;
            if status == EventStatus::Failed {
                record(&t, id, failed("x", next), false, 2).await;
            }
        }
        record(&t, "evt_done_after_fail", EventOutcome::Processed, true, 3).await;

        let due = t
            .store
            .events_due_for_retry(now, 10)
            .await
            .expect("due events");
        let due: Vec<String> = due.iter().map(ToString::to_string).collect();
        assert_eq!(due, ["evt_due_early", "evt_due_late"], "{}", t.name);

        let one = t.store.events_due_for_retry(now, 1).await.expect("due");
        assert_eq!(one.len(), 1, "{}: limit", t.name);
        assert_eq!(one[0].as_str(), "evt_due_early", "{}", t.name);

        let none = t
            .store
            .events_due_for_retry(now - 5_001, 10)
            .await
            .expect("due");
        assert!(none.is_empty(), "{}: {none:?}", t.name);
    }
}

/// Claims 23 events: five types, two statuses, receive times with ties.
async fn listing_fixture(t: &TestStore) -> Vec<(i64, String, String, EventStatus)> {
    let types = [
        "customer.created",
        "invoice.paid",
        "product.updated",
        "charge.refunded",
        "price.created",
    ];
    let mut expected = Vec::new();
    for n in 0..23_i64 {
        let id = format!("evt_list_{:02}", (n * 7) % 23);
        let event_type = types[(n % 5) as usize];
        // Pairs share a receive time, so the id breaks ties.
        let received_at = 1_000 + n / 2;
        let status = if n % 3 == 0 {
            EventStatus::Failed
        } else {
            EventStatus::Processed
        };
        let body = event_body(&id, event_type, n, json!({"id": format!("x_{n}")}));
        claim_at(t, &body, status, received_at).await;
        expected.push((received_at, id, event_type.to_owned(), status));
    }
    // Newest first: receive time, then id, both descending.
    expected.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    expected
}

/// Walks every page of a listing.
async fn all_pages(t: &TestStore, mut filter: EventFilter) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = t
            .store
            .list_events(&filter)
            .await
            .unwrap_or_else(|e| panic!("{}: list: {e:?}", t.name));
        pages += 1;
        assert!(
            page.events.len() <= filter.limit as usize,
            "{}: page larger than the limit",
            t.name
        );
        ids.extend(page.events.iter().map(|e| e.id.to_string()));
        match page.next_cursor {
            Some(cursor) => {
                assert!(
                    !page.events.is_empty(),
                    "{}: cursor on an empty page",
                    t.name
                );
                filter.cursor = Some(cursor);
            }
            None => break,
        }
        assert!(pages < 100, "{}: pagination does not end", t.name);
    }
    (ids, pages)
}

#[tokio::test]
async fn paging_with_the_cursor_returns_every_event_once_newest_first() {
    for t in backends().await {
        let expected = listing_fixture(&t).await;
        let expected_ids: Vec<String> = expected.iter().map(|e| e.1.clone()).collect();
        for limit in [1, 4, 7, 23, 100] {
            let filter = EventFilter {
                limit,
                ..EventFilter::default()
            };
            let (ids, pages) = all_pages(&t, filter).await;
            assert_eq!(ids, expected_ids, "{}: limit {limit}", t.name);
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), 23, "{}: limit {limit}", t.name);
            assert_eq!(
                pages,
                23_usize.div_ceil(limit as usize),
                "{}: limit {limit}",
                t.name
            );
        }
    }
}

#[tokio::test]
async fn listing_filters_by_type_and_status_across_pages() {
    for t in backends().await {
        let expected = listing_fixture(&t).await;
        for (event_type, status) in [
            (Some("invoice.paid"), None),
            (None, Some(EventStatus::Failed)),
            (None, Some(EventStatus::Processed)),
            (Some("customer.created"), Some(EventStatus::Failed)),
            (Some("no.such.type"), None),
            (None, Some(EventStatus::Ignored)),
        ] {
            let wanted: Vec<String> = expected
                .iter()
                .filter(|e| event_type.is_none_or(|ty| e.2 == ty))
                .filter(|e| status.is_none_or(|s| e.3 == s))
                .map(|e| e.1.clone())
                .collect();
            let filter = EventFilter {
                event_type: event_type.map(str::to_owned),
                status,
                limit: 2,
                cursor: None,
            };
            let (ids, _) = all_pages(&t, filter).await;
            assert_eq!(ids, wanted, "{}: {event_type:?} {status:?}", t.name);
        }
    }
}

#[tokio::test]
async fn listed_events_carry_their_stored_fields() {
    for t in backends().await {
        let body = customer_body("evt_listed");
        claim_at(&t, &body, EventStatus::Processed, 42).await;
        let page = t
            .store
            .list_events(&EventFilter {
                limit: 10,
                ..EventFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(page.events, [stored(&t, "evt_listed").await], "{}", t.name);
        assert_eq!(page.next_cursor, None, "{}", t.name);
    }
}

#[tokio::test]
async fn an_invalid_cursor_is_an_error() {
    for t in backends().await {
        listing_fixture(&t).await;
        for cursor in ["not base64 !", "bm8gY29sb24", ""] {
            let result = t
                .store
                .list_events(&EventFilter {
                    limit: 5,
                    cursor: Some(cursor.into()),
                    ..EventFilter::default()
                })
                .await;
            assert!(
                matches!(result, Err(StoreError::InvalidCursor)),
                "{}: cursor {cursor:?}: {result:?}",
                t.name
            );
        }
    }
}

#[tokio::test]
async fn events_since_pages_by_id_from_a_receive_time() {
    for t in backends().await {
        for (id, at) in [
            ("evt_s3", 30),
            ("evt_s1", 10),
            ("evt_s2", 20),
            ("evt_s4", 40),
        ] {
            claim_at(&t, &customer_body(id), EventStatus::Processed, at).await;
        }
        let ids = |events: Vec<paywarden_store::StoredEvent>| {
            events.iter().map(|e| e.id.to_string()).collect::<Vec<_>>()
        };
        let since = t.store.events_since(20, 10, None).await.expect("since");
        assert_eq!(ids(since), ["evt_s2", "evt_s3", "evt_s4"], "{}", t.name);
        let first = t.store.events_since(0, 2, None).await.expect("since");
        assert_eq!(ids(first), ["evt_s1", "evt_s2"], "{}", t.name);
        let after = event_id("evt_s2");
        let rest = t
            .store
            .events_since(0, 2, Some(&after))
            .await
            .expect("since");
        assert_eq!(ids(rest), ["evt_s3", "evt_s4"], "{}", t.name);
    }
}
