use std::time::Duration;

use paywarden_app::events;
use paywarden_app::retry::{retry_event, RetryOutcome, RetryWorker, Step, MAX_AUTOMATIC_ATTEMPTS};
use paywarden_app::ProjectionSettings;
use paywarden_core::ids::EventId;
use paywarden_store::{
    now_ms, EventInbox, EventLog, EventStatus, NewEvent, ProjectionReader, Store,
};
use paywarden_testkit::backends;

const CAP: i64 = 500;

/// Stores `body` as an event that failed in an earlier run (as if an older
/// build could not apply it), due for retry now.
async fn store_failed(store: &Store, id: &str, body: &str) -> EventId {
    let id: EventId = id.parse().expect("event id");
    let mut tx = store.begin().await.expect("begin");
    tx.claim_event(&NewEvent {
        id: &id,
        event_type: "invoice.paid",
        api_version: None,
        created: 100,
        livemode: false,
        object_id: None,
        payload: body,
        status: EventStatus::Failed,
        error: Some("older build could not apply this"),
        next_attempt_at: Some(now_ms() - 1),
        received_at: now_ms() - 60_000,
    })
    .await
    .expect("claim");
    tx.commit().await.expect("commit");
    id
}

fn invoice_paid(event: &str, invoice: &str) -> String {
    format!(
        r#"{{"id":"{event}","object":"event","type":"invoice.paid","created":100,"data":{{"object":
        {{"id":"{invoice}","object":"invoice","customer":"cus_r","status":"paid","amount_paid":1200,"currency":"usd"}}}}}}"#
    )
}

#[tokio::test]
async fn worker_applies_a_due_failed_event_once() {
    for t in backends().await {
        let id = store_failed(
            &t.store,
            "evt_retry_ok",
            &invoice_paid("evt_retry_ok", "in_retry_ok"),
        )
        .await;
        let worker = RetryWorker::new(
            t.store.clone(),
            ProjectionSettings::new(CAP),
            Duration::from_secs(1),
        );
        assert_eq!(worker.step().await.expect("step"), Step::Done, "{}", t.name);
        assert_eq!(
            worker.step().await.expect("step"),
            Step::Idle,
            "{}: nothing left",
            t.name
        );
        let event = t.store.event(&id).await.expect("read").expect("stored");
        assert_eq!(event.status, EventStatus::Processed, "{}", t.name);
        assert_eq!(event.attempts, 2, "{}", t.name);
        assert_eq!(event.last_error, None, "{}", t.name);
        assert!(event.processed_at.is_some(), "{}", t.name);
        assert_eq!(
            t.store.projection_counts().await.expect("counts").payments,
            1,
            "{}",
            t.name
        );
        // A manual retry afterwards is refused and changes nothing.
        let again = events::retry(&t.store, &id, &ProjectionSettings::new(CAP)).await;
        assert!(
            matches!(again, Err(paywarden_app::AppError::Conflict(_))),
            "{}: {again:?}",
            t.name
        );
        assert_eq!(
            t.store.projection_counts().await.expect("counts").payments,
            1,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn concurrent_retries_and_worker_apply_once() {
    for t in backends().await {
        let id = store_failed(
            &t.store,
            "evt_retry_race",
            &invoice_paid("evt_retry_race", "in_race"),
        )
        .await;
        let worker = RetryWorker::new(
            t.store.clone(),
            ProjectionSettings::new(CAP),
            Duration::from_secs(1),
        );
        let manual = (0..8).map(|_| {
            let store = t.store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                retry_event(&store, &id, &ProjectionSettings::new(CAP))
                    .await
                    .expect("retry")
            })
        });
        let worker_run = tokio::spawn(async move { worker.step().await.expect("step") });
        let outcomes = futures::future::join_all(manual).await;
        worker_run.await.expect("worker task");
        let processed = outcomes
            .into_iter()
            .map(|o| o.expect("task"))
            .filter(|o| *o == RetryOutcome::Processed)
            .count();
        assert!(processed <= 1, "{}: {processed} retries applied", t.name);
        let event = t.store.event(&id).await.expect("read").expect("stored");
        assert_eq!(event.status, EventStatus::Processed, "{}", t.name);
        assert_eq!(event.attempts, 2, "{}: exactly one retry ran", t.name);
        assert_eq!(
            t.store.projection_counts().await.expect("counts").payments,
            1,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_permanently_failing_event_backs_off_and_then_waits_for_an_operator() {
    for t in backends().await {
        // `items` of the wrong type: no retry can ever apply it.
        let body = r#"{"id":"evt_retry_bad","object":"event","type":"customer.subscription.updated","created":5,
            "data":{"object":{"id":"sub_bad","status":"active","items":"nope"}}}"#;
        let id = store_failed(&t.store, "evt_retry_bad", body).await;
        let mut last_due = 0;
        for attempt in 2..=MAX_AUTOMATIC_ATTEMPTS {
            let outcome = retry_event(&t.store, &id, &ProjectionSettings::new(CAP))
                .await
                .expect("retry");
            assert!(
                matches!(outcome, RetryOutcome::StillFailing(_)),
                "{}: {outcome:?}",
                t.name
            );
            let event = t.store.event(&id).await.expect("read").expect("stored");
            assert_eq!(event.attempts, attempt, "{}", t.name);
            assert_eq!(event.status, EventStatus::Failed, "{}", t.name);
            assert!(
                event
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("items")),
                "{}: {:?}",
                t.name,
                event.last_error
            );
            if attempt < MAX_AUTOMATIC_ATTEMPTS {
                let due = event.next_attempt_at.expect("scheduled");
                assert!(due > last_due, "{}: backoff grows", t.name);
                last_due = due;
            } else {
                assert_eq!(
                    event.next_attempt_at, None,
                    "{}: no more automatic attempts",
                    t.name
                );
            }
        }
        assert!(
            t.store
                .events_due_for_retry(i64::MAX, 10)
                .await
                .expect("due")
                .is_empty(),
            "{}: the worker leaves it to an operator",
            t.name
        );
        assert_eq!(
            t.store
                .projection_counts()
                .await
                .expect("counts")
                .subscriptions,
            0,
            "{}",
            t.name
        );
    }
}
