//! Crash: while several senders stream distinct signed events at
//! `paywarden serve`, the server is killed with SIGKILL. After a restart on
//! the same database, every event that got a 2xx is stored, processed and
//! applied exactly once; then every event, acknowledged or not, is sent
//! again and each ends applied once.
//!
//! An event may be committed while its 2xx is lost to the kill, so the
//! checks are: acknowledged ⊆ stored, and the projections match exactly the
//! stored events.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use paywarden_core::ids::EventId;
use paywarden_store::{EventLog, EventStatus, ProjectionReader, Store};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::database::TestDatabase;
use crate::server::Server;
use crate::stripe_events::{client, deliver, mixed, Kind, TestEvent};

/// Distinct events prepared; far more than are sent before the kill.
const EVENTS: usize = 2000;
/// Concurrent senders.
const SENDERS: usize = 8;
/// Acknowledgements after which the server is killed.
const KILL_AFTER: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_sqlite_kill_9_keeps_every_acknowledged_event_once() {
    crash_and_restart(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_postgres_kill_9_keeps_every_acknowledged_event_once() {
    if let Some(db) = TestDatabase::postgres().await {
        crash_and_restart(db).await;
    }
}

async fn crash_and_restart(db: TestDatabase) {
    let started = Instant::now();
    let events = Arc::new(mixed("crash", EVENTS));
    let server = Server::start(db.dir.path(), &db.url).await;

    let streamed = stream_and_kill(server, &events).await;
    assert!(
        streamed.unexpected.is_empty(),
        "{}: answers other than 200 before the kill: {:#?}",
        db.name,
        streamed.unexpected
    );
    assert!(
        streamed.acked.len() >= KILL_AFTER && streamed.acked.len() < EVENTS,
        "{}: the kill must land mid-stream; {} of {EVENTS} acknowledged",
        db.name,
        streamed.acked.len()
    );

    let server = Server::start(db.dir.path(), &db.url).await;
    let store = db.open().await;
    let stored = stored_events(&db, &store, &events).await;
    let lost: Vec<&str> = streamed
        .acked
        .iter()
        .filter(|i| !stored.contains(i))
        .map(|&i| events[i].id.as_str())
        .collect();
    assert!(
        lost.is_empty(),
        "{}: acknowledged but not stored after the crash: {lost:?}",
        db.name
    );
    assert_applied_once(&db, &store, &events, &stored).await;
    eprintln!(
        "{}: {} acknowledged, {} stored ({} committed without a 2xx) before the kill",
        db.name,
        streamed.acked.len(),
        stored.len(),
        stored.len() - streamed.acked.len()
    );

    // Everything again, to the restarted server: what was stored is a
    // duplicate, the rest is new, and each event ends applied once.
    let answers = send_all(&server.base, &events).await;
    for (i, answer) in answers.iter().enumerate() {
        let event = &events[i];
        assert_eq!(
            answer.0, 200,
            "{}: re-sent {} answered {} {}",
            db.name, event.id, answer.0, answer.1
        );
        assert_eq!(
            answer.1["duplicate"] == true,
            stored.contains(&i),
            "{}: re-sent {} (stored before: {}) answered {}",
            db.name,
            event.id,
            stored.contains(&i),
            answer.1
        );
    }
    let everything: HashSet<usize> = (0..EVENTS).collect();
    for (i, event) in events.iter().enumerate() {
        let row = store
            .event(&event_id(event))
            .await
            .expect("read event")
            .unwrap_or_else(|| panic!("{}: {} not stored after re-sending", db.name, event.id));
        assert_eq!(
            row.status,
            EventStatus::Processed,
            "{}: {}",
            db.name,
            event.id
        );
        let expected = if stored.contains(&i) { 2 } else { 1 };
        assert_eq!(
            row.received_count, expected,
            "{}: {} received count",
            db.name, event.id
        );
    }
    assert_applied_once(&db, &store, &events, &everything).await;
    store.close().await;
    server.kill().await;
    eprintln!("{}: crash test took {:?}", db.name, started.elapsed());
}

/// What the senders saw before and around the kill.
#[derive(Debug, Default)]
struct Streamed {
    /// Indexes of events answered 2xx.
    acked: HashSet<usize>,
    /// Answers that should not happen while the server is up.
    unexpected: Vec<String>,
}

/// Streams `events` from [`SENDERS`] tasks until [`KILL_AFTER`] are
/// acknowledged, kills the server with SIGKILL, and collects what each
/// sender saw.
async fn stream_and_kill(server: Server, events: &Arc<Vec<TestEvent>>) -> Streamed {
    let next = Arc::new(AtomicUsize::new(0));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let reached = Arc::new(Notify::new());
    let mut senders = JoinSet::new();
    for _ in 0..SENDERS {
        let (next, acked_count, killed, reached) = (
            next.clone(),
            acked_count.clone(),
            killed.clone(),
            reached.clone(),
        );
        let (events, base, client) = (events.clone(), server.base.clone(), client());
        senders.spawn(async move {
            let mut streamed = Streamed::default();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(event) = events.get(i) else { break };
                match deliver(&client, &base, &event.body).await {
                    Ok(answer) if answer.status.is_success() => {
                        if answer.status != 200 || answer.is_duplicate() {
                            streamed
                                .unexpected
                                .push(format!("{}: {} {}", event.id, answer.status, answer.body));
                        }
                        streamed.acked.insert(i);
                        if acked_count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                            reached.notify_one();
                        }
                    }
                    Ok(answer) => streamed
                        .unexpected
                        .push(format!("{}: {} {}", event.id, answer.status, answer.body)),
                    Err(err) => {
                        if !killed.load(Ordering::SeqCst) {
                            streamed
                                .unexpected
                                .push(format!("{}: before the kill: {err}", event.id));
                        }
                        break; // The server is gone.
                    }
                }
            }
            streamed
        });
    }
    let waited = tokio::time::timeout(Duration::from_secs(120), reached.notified()).await;
    killed.store(true, Ordering::SeqCst);
    let log = server.kill().await;
    assert!(
        waited.is_ok(),
        "{KILL_AFTER} acknowledgements not within 120 s (got {}); server log:\n{log}",
        acked_count.load(Ordering::SeqCst)
    );
    let mut all = Streamed::default();
    while let Some(joined) = senders.join_next().await {
        let streamed = joined.expect("sender task");
        all.acked.extend(streamed.acked);
        all.unexpected.extend(streamed.unexpected);
    }
    all
}

fn event_id(event: &TestEvent) -> EventId {
    event.id.parse().expect("test event id")
}

/// Indexes of the events that are stored; each must be processed and
/// received once.
async fn stored_events(db: &TestDatabase, store: &Store, events: &[TestEvent]) -> HashSet<usize> {
    let mut stored = HashSet::new();
    for (i, event) in events.iter().enumerate() {
        let Some(row) = store.event(&event_id(event)).await.expect("read event") else {
            continue;
        };
        assert_eq!(
            row.status,
            EventStatus::Processed,
            "{}: {} stored as {:?}: {:?}",
            db.name,
            event.id,
            row.status,
            row.last_error
        );
        assert_eq!(
            row.received_count, 1,
            "{}: {} received count",
            db.name, event.id
        );
        stored.insert(i);
    }
    stored
}

/// The projections hold exactly the `stored` events, each once: one
/// payment per stored invoice (made by that invoice's event), one customer
/// per stored `customer.created`, and nothing else.
async fn assert_applied_once(
    db: &TestDatabase,
    store: &Store,
    events: &[TestEvent],
    stored: &HashSet<usize>,
) {
    let stored_of = |kind: Kind| -> Vec<String> {
        let mut ids: Vec<String> = stored
            .iter()
            .map(|&i| &events[i])
            .filter(|e| e.kind == kind)
            .map(|e| e.object_id.clone())
            .collect();
        ids.sort();
        ids
    };
    let invoices = stored_of(Kind::InvoicePaid);
    let customers = stored_of(Kind::CustomerCreated);

    let counts = store.projection_counts().await.expect("projection counts");
    let count = |n: usize| i64::try_from(n).expect("fits");
    assert_eq!(counts.events, count(stored.len()), "{}: events", db.name);
    assert_eq!(
        counts.payments,
        count(invoices.len()),
        "{}: payments",
        db.name
    );
    assert_eq!(
        counts.customers,
        count(customers.len()),
        "{}: customers",
        db.name
    );

    // Digest lines are `table|first column|…`; for both tables the first
    // column is the row's key (the invoice id, the customer id).
    let digest = store.projection_digest().await.expect("projection digest");
    let mut payment_rows = Vec::new();
    let mut customer_rows = Vec::new();
    for line in &digest {
        let mut cells = line.split('|');
        match (cells.next(), cells.next()) {
            (Some("payments"), Some(key)) => payment_rows.push(key.to_owned()),
            (Some("customers"), Some(key)) => customer_rows.push(key.to_owned()),
            _ => {}
        }
    }
    payment_rows.sort();
    assert_eq!(
        payment_rows, invoices,
        "{}: payment rows differ from the stored invoice events (one each)",
        db.name
    );
    customer_rows.sort();
    assert_eq!(
        customer_rows, customers,
        "{}: customer rows differ from the stored customer.created events",
        db.name
    );
}

/// Sends every event once more from [`SENDERS`] tasks; the status and body
/// of each answer, by index.
async fn send_all(base: &str, events: &Arc<Vec<TestEvent>>) -> Vec<(u16, serde_json::Value)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = JoinSet::new();
    for _ in 0..SENDERS {
        let (next, events, base, client) =
            (next.clone(), events.clone(), base.to_owned(), client());
        senders.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(event) = events.get(i) else { break };
                let answer = deliver(&client, &base, &event.body)
                    .await
                    .unwrap_or_else(|e| panic!("re-send {}: {e}", event.id));
                answers.push((i, answer.status.as_u16(), answer.body));
            }
            answers
        });
    }
    let mut by_index = vec![(0, serde_json::Value::Null); events.len()];
    while let Some(joined) = senders.join_next().await {
        for (i, status, body) in joined.expect("sender task") {
            by_index[i] = (status, body);
        }
    }
    by_index
}
