//! What every case needs: Stripe event bodies, the delivery path the app
//! layer follows (parse → plan → claim → apply → record the outcome, in one
//! transaction), and readers for projected rows.

use paywarden_core::ids::EventId;
use paywarden_core::projection::{plan, Plan};
use paywarden_core::stripe::Event;
use paywarden_store::{
    now_ms, ApplyContext, Claim, EventInbox, EventLog, EventOutcome, EventStatus, NewEvent,
    ProjectionCounts, ProjectionReader, ProjectionWriter, Store, StoreError, StoredEvent,
};
use paywarden_testkit::TestStore;
use serde_json::{json, Value};

/// The daily cap a provisioned account starts with in these tests.
pub const DAILY_CAP: i64 = 250;

/// How long a failed event waits before its retry.
pub const RETRY_DELAY_MS: i64 = 60_000;

/// The settings projections are applied with.
pub fn ctx() -> ApplyContext {
    ApplyContext {
        default_daily_cap: DAILY_CAP,
        now: now_ms(),
        catalog: None,
    }
}

/// A webhook body: the envelope Stripe sends around `object`.
pub fn event_body(id: &str, event_type: &str, created: i64, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": false,
        "type": event_type,
        "data": { "object": object },
    })
    .to_string()
}

/// Parses a body that the test wrote, so it must be an event.
pub fn parse(body: &str) -> Event {
    Event::parse(body.as_bytes()).unwrap_or_else(|e| panic!("test body is an event: {e}\n{body}"))
}

pub fn event_id(id: &str) -> EventId {
    id.parse().expect("test event id")
}

/// The inbox row for a parsed event, as the webhook endpoint would claim it.
pub fn new_event<'a>(
    event: &'a Event,
    body: &'a str,
    status: EventStatus,
    received_at: i64,
) -> NewEvent<'a> {
    NewEvent {
        id: &event.id,
        event_type: &event.event_type,
        api_version: event.api_version.as_deref(),
        created: event.created,
        livemode: event.livemode,
        object_id: event.object_id(),
        payload: body,
        status,
        error: None,
        next_attempt_at: None,
        received_at,
    }
}

/// One delivery of `body`, the way the app layer handles it: the event is
/// planned first; the claim and its effects share one transaction. An
/// ignored type is stored `ignored`; an event that cannot be planned, or
/// whose changes the store refuses, is stored `failed` with a retry due.
/// Only an unavailable store (or a failed commit) is an `Err`.
pub async fn try_deliver(store: &Store, body: &str) -> Result<Claim, StoreError> {
    let event = parse(body);
    let now = now_ms();
    let planned = plan(&event);
    let (status, plan_error) = match &planned {
        Ok(Plan::Apply(_)) => (EventStatus::Processed, None),
        Ok(Plan::Ignore) => (EventStatus::Ignored, None),
        Err(e) => (EventStatus::Failed, Some(e.to_string())),
    };
    let mut row = new_event(&event, body, status, now);
    row.error = plan_error.as_deref();
    row.next_attempt_at = plan_error.is_some().then_some(now + RETRY_DELAY_MS);

    let mut tx = store.begin().await?;
    let claim = tx.claim_event(&row).await?;
    if claim == Claim::New {
        if let Ok(Plan::Apply(changes)) = &planned {
            if let Err(err) = tx.apply_changes(changes, &ctx()).await {
                if err.is_unavailable() {
                    return Err(err);
                }
                let outcome = EventOutcome::Failed {
                    error: err.to_string(),
                    next_attempt_at: Some(now + RETRY_DELAY_MS),
                };
                tx.record_outcome(&event.id, &outcome, false, now).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(claim)
}

/// [`try_deliver`] on a test store, failing the test on a store error.
pub async fn deliver(t: &TestStore, body: &str) -> Claim {
    try_deliver(&t.store, body)
        .await
        .unwrap_or_else(|e| panic!("{}: delivering a body failed: {e:?}\n{body}", t.name))
}

/// Delivers every body in turn.
pub async fn deliver_all<S: AsRef<str>>(t: &TestStore, bodies: &[S]) {
    for body in bodies {
        deliver(t, body.as_ref()).await;
    }
}

/// The stored inbox row of an event that must exist.
pub async fn stored(t: &TestStore, id: &str) -> StoredEvent {
    t.store
        .event(&event_id(id))
        .await
        .unwrap_or_else(|e| panic!("{}: reading event {id}: {e:?}", t.name))
        .unwrap_or_else(|| panic!("{}: event {id} is not stored", t.name))
}

pub async fn counts(t: &TestStore) -> ProjectionCounts {
    t.store
        .projection_counts()
        .await
        .unwrap_or_else(|e| panic!("{}: counting rows: {e:?}", t.name))
}

pub async fn digest(t: &TestStore) -> Vec<String> {
    t.store
        .projection_digest()
        .await
        .unwrap_or_else(|e| panic!("{}: digest: {e:?}", t.name))
}

/// The rows of one projected table, as the digest renders them (columns in
/// the digest's order, `∅` for NULL, flags as `0`/`1`).
pub async fn rows(t: &TestStore, table: &str) -> Vec<Vec<String>> {
    let prefix = format!("{table}|");
    digest(t)
        .await
        .iter()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|line| line.split('|').map(str::to_owned).collect())
        .collect()
}

/// The one row of `table` whose first column is `key`.
pub async fn row(t: &TestStore, table: &str, key: &str) -> Vec<String> {
    let all = rows(t, table).await;
    let mut found = all.iter().filter(|r| r[0] == key);
    let first = found
        .next()
        .unwrap_or_else(|| panic!("{}: no {table} row {key}: {all:?}", t.name))
        .clone();
    assert!(found.next().is_none(), "{}: two {table} rows {key}", t.name);
    first
}

/// A Checkout Session snapshot.
pub fn checkout_session(
    id: &str,
    user: Option<&str>,
    customer: &str,
    mode: &str,
    payment_status: &str,
    subscription: Option<&str>,
) -> Value {
    json!({
        "id": id,
        "object": "checkout.session",
        "mode": mode,
        "status": "complete",
        "payment_status": payment_status,
        "customer": customer,
        "customer_details": { "email": format!("{customer}@example.com") },
        "client_reference_id": user,
        "subscription": subscription,
        "payment_intent": if mode == "payment" { Some(format!("pi_{id}")) } else { None },
        "amount_total": 1500,
        "currency": "usd",
    })
}

/// An invoice snapshot (pre-basil shape: `subscription` at the top level).
pub fn invoice(
    id: &str,
    customer: &str,
    subscription: Option<&str>,
    amount: i64,
    attempt_count: i64,
) -> Value {
    json!({
        "id": id,
        "object": "invoice",
        "customer": customer,
        "subscription": subscription,
        "status": "paid",
        "amount_due": amount,
        "amount_paid": amount,
        "total": amount,
        "currency": "usd",
        "attempt_count": attempt_count,
        "payment_intent": format!("pi_for_{id}"),
        "lines": { "object": "list", "data": [ { "period": { "start": 1_700_000_000, "end": 1_702_592_000 } } ] },
    })
}

/// Two fresh stores of each available backend, for comparing orders.
pub async fn store_pairs() -> Vec<(TestStore, TestStore)> {
    let first = paywarden_testkit::backends().await;
    let second = paywarden_testkit::backends().await;
    first.into_iter().zip(second).collect()
}

/// Delivers `bodies` in the given order to one store and in reverse (each
/// body twice) to another of the same backend, asserts both end in the same
/// projected state, and returns the pairs for further checks.
pub async fn in_both_orders<S: AsRef<str>>(bodies: &[S]) -> Vec<(TestStore, TestStore)> {
    let pairs = store_pairs().await;
    for (forward, backward) in &pairs {
        deliver_all(forward, bodies).await;
        for body in bodies.iter().rev() {
            deliver(backward, body.as_ref()).await;
            deliver(backward, body.as_ref()).await;
        }
        assert_eq!(
            digest(forward).await,
            digest(backward).await,
            "{}: the delivery order changed the projected state",
            forward.name
        );
    }
    pairs
}

/// A raw connection to the test's database, bypassing the store.
pub async fn raw(t: &TestStore) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(t.url.expose())
        .await
        .expect("raw connection")
}
