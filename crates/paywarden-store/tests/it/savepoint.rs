//! An event's changes apply all together or not at all, and a refused
//! change does not spoil the transaction that records the event.

use paywarden_core::precedence::Precedence;
use paywarden_core::projection::{Change, CustomerRecord, PaymentMethodRecord};
use paywarden_store::{Claim, EventInbox, EventOutcome, EventStatus, ProjectionWriter, StoreError};
use paywarden_testkit::backends;
use serde_json::json;

use crate::support::*;

fn precedence(event: &str) -> Precedence {
    Precedence {
        terminal: false,
        created: 100,
        rank: 0,
        event_id: event_id(event),
    }
}

fn customer(id: &str, event: &str) -> Change {
    Change::Customer(CustomerRecord {
        id: id.parse().expect("customer id"),
        email: Some("x@example.com".into()),
        name: None,
        user_id: None,
        deleted: false,
        precedence: precedence(event),
    })
}

fn card(last4: &str, event: &str) -> Change {
    Change::PaymentMethod(PaymentMethodRecord {
        id: "pm_sp".parse().expect("pm id"),
        customer: Some("cus_sp".parse().expect("customer id")),
        method_type: Some("card".into()),
        brand: Some("visa".into()),
        last4: Some(last4.into()),
        exp_month: Some(1),
        exp_year: Some(2030),
        attached: true,
        precedence: precedence(event),
    })
}

#[tokio::test]
async fn refused_change_leaves_none_of_the_events_changes_and_the_event_can_fail() {
    for t in backends().await {
        let body = event_body("evt_sp", "customer.created", 100, json!({"id": "cus_sp"}));
        let event = parse(&body);
        let mut tx = t.store.begin().await.expect("begin");
        let claim = tx
            .claim_event(&new_event(&event, &body, EventStatus::Processed, 1))
            .await
            .expect("claim");
        assert_eq!(claim, Claim::New, "{}", t.name);

        let changes = [customer("cus_sp", "evt_sp"), card("12345", "evt_sp")];
        let result = tx.apply_changes(&changes, &ctx()).await;
        assert!(
            matches!(result, Err(StoreError::Constraint(_))),
            "{}: a five-digit last4 must be refused by the CHECK: {result:?}",
            t.name
        );

        let outcome = EventOutcome::Failed {
            error: "constraint".into(),
            next_attempt_at: Some(50),
        };
        tx.record_outcome(&event.id, &outcome, false, 2)
            .await
            .unwrap_or_else(|e| panic!("{}: tx unusable after the refusal: {e:?}", t.name));
        tx.commit()
            .await
            .unwrap_or_else(|e| panic!("{}: commit after refusal: {e:?}", t.name));

        let counts = counts(&t).await;
        assert_eq!(
            counts.customers, 0,
            "{}: the customer was rolled back",
            t.name
        );
        assert_eq!(counts.payment_methods, 0, "{}", t.name);
        let stored = stored(&t, "evt_sp").await;
        assert_eq!(stored.status, EventStatus::Failed, "{}", t.name);
        assert_eq!(stored.next_attempt_at, Some(50), "{}", t.name);
    }
}

#[tokio::test]
async fn changes_applied_before_a_refused_event_survive() {
    for t in backends().await {
        let mut tx = t.store.begin().await.expect("begin");
        tx.apply_changes(&[customer("cus_kept", "evt_ok")], &ctx())
            .await
            .unwrap_or_else(|e| panic!("{}: apply: {e:?}", t.name));
        let refused = tx
            .apply_changes(
                &[customer("cus_lost", "evt_bad"), card("99999", "evt_bad")],
                &ctx(),
            )
            .await;
        assert!(refused.is_err(), "{}", t.name);
        tx.apply_changes(&[customer("cus_after", "evt_next")], &ctx())
            .await
            .unwrap_or_else(|e| panic!("{}: apply after refusal: {e:?}", t.name));
        tx.commit().await.expect("commit");

        let ids: Vec<String> = rows(&t, "customers")
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(ids, ["cus_after", "cus_kept"], "{}", t.name);
    }
}

#[tokio::test]
async fn a_refused_event_delivered_through_the_inbox_is_stored_failed() {
    for t in backends().await {
        let method = json!({
            "id": "pm_long", "object": "payment_method", "type": "card", "customer": "cus_long",
            "card": { "brand": "visa", "last4": "424242", "exp_month": 1, "exp_year": 2030 },
        });
        let body = event_body("evt_long", "payment_method.attached", 100, method);
        assert_eq!(deliver(&t, &body).await, Claim::New, "{}", t.name);
        let failed = stored(&t, "evt_long").await;
        assert_eq!(failed.status, EventStatus::Failed, "{}", t.name);
        assert!(failed.next_attempt_at.is_some(), "{}", t.name);
        assert!(
            failed
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("constraint")),
            "{}: {:?}",
            t.name,
            failed.last_error
        );
        assert_eq!(counts(&t).await.payment_methods, 0, "{}", t.name);

        // The next event applies normally in a new transaction.
        let fine = json!({
            "id": "pm_ok", "object": "payment_method", "type": "card", "customer": "cus_long",
            "card": { "brand": "visa", "last4": "4242" },
        });
        deliver(
            &t,
            &event_body("evt_fine", "payment_method.attached", 101, fine),
        )
        .await;
        assert_eq!(
            stored(&t, "evt_fine").await.status,
            EventStatus::Processed,
            "{}",
            t.name
        );
        assert_eq!(counts(&t).await.payment_methods, 1, "{}", t.name);
    }
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_changes() {
    for t in backends().await {
        let mut tx = t.store.begin().await.expect("begin");
        tx.apply_changes(&[customer("cus_gone", "evt_gone")], &ctx())
            .await
            .expect("apply");
        tx.rollback().await.expect("rollback");
        assert_eq!(counts(&t).await.customers, 0, "{}", t.name);

        let tx = t.store.begin().await.expect("begin");
        drop(tx);
        let mut tx = t.store.begin().await.expect("begin after drop");
        tx.apply_changes(&[customer("cus_dropped", "evt_dropped")], &ctx())
            .await
            .expect("apply");
        drop(tx);
        assert_eq!(
            counts(&t).await.customers,
            0,
            "{}: dropped means rolled back",
            t.name
        );
    }
}
