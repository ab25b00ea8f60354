//! Every captured Stripe event in `../shared/stripe/fixtures/events` is
//! accepted when signed and projects without error, on both backends.
//!
//! The captures share ids (110 are `evt_00000000000000`), so two passes:
//! - on SQLite, each fixture alone on a fresh store: a first delivery of
//!   exactly the captured bytes, every time;
//! - on every backend, all fixtures into one store in turn: a fixture whose
//!   id was already seen answers 200 duplicate (and changes nothing), and is
//!   then delivered again under a fresh id, so every fixture projects on
//!   PostgreSQL too. (A fresh PostgreSQL schema per fixture costs ~0.25 s,
//!   serialized: sqlx's migrator holds a per-database advisory lock.)

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use paywarden_store::EventStatus;
use paywarden_testkit::{backends, fixtures, fixtures_dir, TestStore};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{AppConfig, TestApp};

/// Fixtures in flight at once (each with its own database).
const PARALLEL: usize = 8;

fn name(path: &Path) -> String {
    path.strip_prefix(fixtures_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn event_id(name: &str, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("fixture {name} has no string id"))
}

/// Delivers a first delivery of `body` and checks how it was stored;
/// returns what went wrong, if anything.
async fn first_delivery(app: &TestApp, id: &str, body: &[u8]) -> Option<String> {
    let reply = app.deliver(body).await;
    if (reply.status, &reply.json) != (StatusCode::OK, &json!({ "received": true })) {
        return Some(format!("answered {} {}", reply.status, reply.text));
    }
    match app.event(id).await {
        None => Some(format!("{id} not stored")),
        Some(event) if event.status == EventStatus::Failed => Some(format!(
            "stored as failed: {}",
            event.last_error.unwrap_or_default()
        )),
        Some(event) if event.received_count != 1 || event.attempts != 1 => Some(format!(
            "received_count {} attempts {}, expected 1 and 1",
            event.received_count, event.attempts
        )),
        Some(_) => None,
    }
}

async fn alone_on_fresh_sqlite(name: String, body: Vec<u8>) -> Option<String> {
    let id = event_id(&name, &body);
    let app = TestApp::spawn_with(Arc::new(TestStore::sqlite().await), AppConfig::default()).await;
    let problem = first_delivery(&app, &id, &body).await;
    app.store.close().await;
    problem.map(|p| format!("[sqlite] {name}: {p}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fixture_alone_is_accepted_and_projects_on_a_fresh_sqlite_store() {
    let files = fixtures();
    assert!(
        files.len() > 100,
        "expected the shared fixtures, found {}",
        files.len()
    );
    let started = Instant::now();
    let problems: Vec<String> = stream::iter(files.iter().cloned())
        .map(|(path, body)| alone_on_fresh_sqlite(name(&path), body))
        .buffer_unordered(PARALLEL)
        .filter_map(|problem| async move { problem })
        .collect()
        .await;
    assert!(
        problems.is_empty(),
        "[sqlite] {} of {} fixtures were not accepted and projected:\n{}",
        problems.len(),
        files.len(),
        problems.join("\n")
    );
    eprintln!(
        "[sqlite] {} fixtures, each on a fresh store: {:?}",
        files.len(),
        started.elapsed()
    );
}

#[tokio::test]
async fn every_fixture_is_accepted_and_projects_in_one_store() {
    let files = fixtures();
    assert!(
        files.len() > 100,
        "expected the shared fixtures, found {}",
        files.len()
    );
    for db in backends().await {
        let app = TestApp::spawn_with(Arc::new(db), AppConfig::default()).await;
        let b = app.backend;
        let started = Instant::now();
        let mut seen = BTreeSet::new();
        let mut problems = Vec::new();
        for (n, (path, body)) in files.iter().enumerate() {
            let name = name(path);
            let id = event_id(&name, body);
            if seen.insert(id.clone()) {
                if let Some(p) = first_delivery(&app, &id, body).await {
                    problems.push(format!("[{b}] {name}: {p}"));
                }
                continue;
            }
            let before = app.digest().await;
            let reply = app.deliver(body).await;
            if reply.json != json!({ "received": true, "duplicate": true })
                || reply.status != StatusCode::OK
            {
                problems.push(format!(
                    "[{b}] {name}: repeated id {id} answered {} {}",
                    reply.status, reply.text
                ));
            } else if app.digest().await != before {
                problems.push(format!(
                    "[{b}] {name}: repeated id {id} changed projections"
                ));
            }
            // The same capture under an id of its own.
            let fresh = format!("evt_fixture_{n:04}");
            let mut renamed: Value = serde_json::from_slice(body).expect("fixture JSON");
            renamed["id"] = json!(fresh);
            let renamed = serde_json::to_vec(&renamed).expect("serialize fixture");
            if let Some(p) = first_delivery(&app, &fresh, &renamed).await {
                problems.push(format!("[{b}] {name} (as {fresh}): {p}"));
            }
        }
        assert!(
            problems.is_empty(),
            "[{b}] {} of {} fixtures were not accepted and projected:\n{}",
            problems.len(),
            files.len(),
            problems.join("\n")
        );
        let counts = app.counts().await;
        assert_eq!(
            counts.events,
            files.len() as i64,
            "[{b}] one stored event per fixture"
        );
        eprintln!(
            "[{b}] {} fixtures into one store: {:?}",
            files.len(),
            started.elapsed()
        );
    }
}
