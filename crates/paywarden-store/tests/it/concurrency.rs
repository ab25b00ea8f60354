//! Concurrent deliveries: an event applies once however many copies race.
//!
//! SQLite serializes writers through its one-connection write pool;
//! PostgreSQL lets the copies race for real, and the primary key on
//! `events.id` (with the unique keys on facts and accounts) decides.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use paywarden_core::UserId;
use paywarden_store::{
    Claim, EventFilter, EventInbox, EventLog, EventStatus, ProjectionReader, Store,
};
use paywarden_testkit::{backends, TestStore};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::support::*;

/// Delivers every body concurrently, at most `limit` at a time, and
/// returns how many deliveries claimed each event id first.
async fn deliver_concurrently(
    t: &TestStore,
    bodies: Vec<String>,
    limit: usize,
) -> HashMap<String, usize> {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(limit));
    let mut tasks = JoinSet::new();
    for body in bodies {
        let store: Store = t.store.clone();
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let id = parse(&body).id.to_string();
            let claim = try_deliver(&store, &body).await;
            (id, claim)
        });
    }
    let mut new_claims: HashMap<String, usize> = HashMap::new();
    let mut deliveries = 0;
    while let Some(joined) = tasks.join_next().await {
        let (id, claim) = joined.expect("delivery task panicked");
        let claim = claim.unwrap_or_else(|e| panic!("{}: delivery of {id} failed: {e:?}", t.name));
        deliveries += 1;
        let entry = new_claims.entry(id).or_default();
        if claim == Claim::New {
            *entry += 1;
        }
    }
    eprintln!(
        "{}: {deliveries} concurrent deliveries took {:?}",
        t.name,
        started.elapsed()
    );
    new_claims
}

async fn failed_events(t: &TestStore) -> Vec<String> {
    let page = t
        .store
        .list_events(&EventFilter {
            status: Some(EventStatus::Failed),
            limit: 100,
            ..EventFilter::default()
        })
        .await
        .expect("list failed events");
    page.events
        .iter()
        .map(|e| format!("{}: {:?}", e.id, e.last_error))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_copies_of_one_event_apply_once() {
    for t in backends().await {
        let body = event_body(
            "evt_race",
            "invoice.paid",
            100,
            invoice("in_race", "cus_race", Some("sub_race"), 4200, 1),
        );
        let claims = deliver_concurrently(&t, vec![body; 64], 64).await;
        assert_eq!(
            claims["evt_race"], 1,
            "{}: exactly one New, 63 Duplicate",
            t.name
        );

        let event = stored(&t, "evt_race").await;
        assert_eq!(event.received_count, 64, "{}", t.name);
        assert_eq!(event.status, EventStatus::Processed, "{}", t.name);
        assert_eq!(event.attempts, 1, "{}", t.name);
        let counts = counts(&t).await;
        assert_eq!((counts.events, counts.payments), (1, 1), "{}", t.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_copies_of_a_paid_checkout_provision_one_account() {
    for t in backends().await {
        let session = checkout_session(
            "cs_race",
            Some("user_race"),
            "cus_race",
            "payment",
            "paid",
            None,
        );
        let body = event_body("evt_cs_race", "checkout.session.completed", 100, session);
        let claims = deliver_concurrently(&t, vec![body; 64], 64).await;
        assert_eq!(claims["evt_cs_race"], 1, "{}", t.name);
        let counts = counts(&t).await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (1, 1),
            "{}",
            t.name
        );
        assert_eq!(
            stored(&t, "evt_cs_race").await.received_count,
            64,
            "{}",
            t.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_checkouts_racing_for_one_user_provision_one_account() {
    for t in backends().await {
        let bodies: Vec<String> = (0..32)
            .map(|n| {
                let session = checkout_session(
                    &format!("cs_same_user_{n}"),
                    Some("user_same"),
                    "cus_same",
                    "payment",
                    "paid",
                    None,
                );
                event_body(
                    &format!("evt_same_user_{n}"),
                    "checkout.session.completed",
                    100 + n,
                    session,
                )
            })
            .collect();
        let claims = deliver_concurrently(&t, bodies, 32).await;
        assert!(claims.values().all(|&n| n == 1), "{}: {claims:?}", t.name);
        let counts = counts(&t).await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (1, 1),
            "{}",
            t.name
        );
        assert!(
            failed_events(&t).await.is_empty(),
            "{}: {:?}",
            t.name,
            failed_events(&t).await
        );
    }
}

/// 200 distinct events: `invoice.paid` and `invoice.payment_succeeded` for
/// 50 invoices, and 100 paid Checkouts from 25 users (four each).
fn two_hundred_events() -> Vec<String> {
    let mut bodies = Vec::new();
    for n in 0..50 {
        let invoice = invoice(
            &format!("in_{n:03}"),
            &format!("cus_{n:03}"),
            None,
            1000 + n,
            1,
        );
        for event_type in ["invoice.paid", "invoice.payment_succeeded"] {
            let id = format!("evt_{}_{n:03}", event_type.replace('.', "_"));
            bodies.push(event_body(&id, event_type, 1_000 + n, invoice.clone()));
        }
    }
    for n in 0..100 {
        let user = format!("user_{}", n % 25);
        let session = checkout_session(
            &format!("cs_{n:03}"),
            Some(&user),
            &format!("cus_of_{user}"),
            "payment",
            "paid",
            None,
        );
        bodies.push(event_body(
            &format!("evt_cs_{n:03}"),
            "checkout.session.completed",
            2_000 + n,
            session,
        ));
    }
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_events_delivered_four_times_concurrently_apply_once_each() {
    let distinct = two_hundred_events();
    assert_eq!(distinct.len(), 200);
    let mut deliveries: Vec<String> = distinct.iter().flat_map(|b| vec![b.clone(); 4]).collect();
    deliveries.shuffle(&mut StdRng::seed_from_u64(0x5eed_0002));

    for t in backends().await {
        let claims = deliver_concurrently(&t, deliveries.clone(), 64).await;
        assert_eq!(claims.len(), 200, "{}", t.name);
        let twice: Vec<_> = claims.iter().filter(|(_, &n)| n != 1).collect();
        assert!(
            twice.is_empty(),
            "{}: not claimed exactly once: {twice:?}",
            t.name
        );

        let counts = counts(&t).await;
        assert_eq!(counts.events, 200, "{}", t.name);
        assert_eq!(counts.payments, 50, "{}: one per distinct invoice", t.name);
        assert_eq!(counts.accounts, 25, "{}: one per user", t.name);
        assert_eq!(counts.account_events, 25, "{}", t.name);
        assert!(
            failed_events(&t).await.is_empty(),
            "{}: {:?}",
            t.name,
            failed_events(&t).await
        );

        for n in 0..25 {
            let user: UserId = format!("user_{n}").parse().expect("user id");
            let account = t
                .store
                .account(&user)
                .await
                .expect("read account")
                .unwrap_or_else(|| panic!("{}: no account for {user}", t.name));
            assert_eq!(account.events, ["stripe_checkout"], "{}: {user}", t.name);
        }
        for body in distinct.iter().step_by(37) {
            let id = parse(body).id.to_string();
            assert_eq!(stored(&t, &id).await.received_count, 4, "{}: {id}", t.name);
        }
    }
}

/// One retry, the way the retry worker makes it: lock the failed row,
/// re-apply its stored payload, record the outcome. `true` if it applied.
async fn retry(store: &Store, id: &str) -> Result<bool, paywarden_store::StoreError> {
    use paywarden_core::projection::{plan, Plan};
    use paywarden_store::{EventOutcome, ProjectionWriter};

    let mut tx = store.begin().await?;
    let Some(stored) = tx.lock_failed_event(&event_id(id)).await? else {
        tx.rollback().await?;
        return Ok(false);
    };
    let Ok(Plan::Apply(changes)) = plan(&parse(&stored.payload)) else {
        panic!("the stored payload plans")
    };
    tx.apply_changes(&changes, &ctx()).await?;
    tx.record_outcome(
        &stored.id,
        &EventOutcome::Processed,
        true,
        paywarden_store::now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_retries_of_a_failed_event_apply_it_once() {
    for t in backends().await {
        let body = event_body(
            "evt_retry_race",
            "invoice.paid",
            100,
            invoice("in_retry", "cus_retry", None, 900, 1),
        );
        // Stored as failed by an earlier delivery, its changes not applied.
        let event = parse(&body);
        let mut row = new_event(&event, &body, EventStatus::Failed, 1);
        row.error = Some("earlier failure");
        row.next_attempt_at = Some(2);
        let mut tx = t.store.begin().await.expect("begin");
        tx.claim_event(&row).await.expect("claim");
        tx.commit().await.expect("commit");

        let mut tasks = JoinSet::new();
        for _ in 0..16 {
            let store = t.store.clone();
            tasks.spawn(async move { retry(&store, "evt_retry_race").await });
        }
        let mut applied = 0;
        while let Some(joined) = tasks.join_next().await {
            let result = joined.expect("retry task panicked");
            if result.unwrap_or_else(|e| panic!("{}: retry failed: {e:?}", t.name)) {
                applied += 1;
            }
        }
        assert_eq!(applied, 1, "{}: exactly one retry applies", t.name);
        let stored = stored(&t, "evt_retry_race").await;
        assert_eq!(stored.status, EventStatus::Processed, "{}", t.name);
        assert_eq!(stored.attempts, 2, "{}", t.name);
        assert_eq!(counts(&t).await.payments, 1, "{}", t.name);
        assert!(
            t.store
                .events_due_for_retry(i64::MAX, 10)
                .await
                .expect("due")
                .is_empty(),
            "{}",
            t.name
        );
    }
}
