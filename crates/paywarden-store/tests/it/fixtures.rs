//! Every shared Stripe fixture parses, plans and applies on both backends.
//!
//! Many fixtures share an event id (Stripe's samples all use
//! `evt_00000000000000`), so the inbox would see them as duplicates: the
//! plans are applied directly, each in its own transaction.

use paywarden_core::projection::{plan, Plan};
use paywarden_core::stripe::Event;
use paywarden_store::ProjectionWriter;
use paywarden_testkit::{backends, fixtures};

use crate::support::ctx;

#[tokio::test]
async fn every_shared_fixture_applies() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 250, "only {} fixtures", fixtures.len());
    let mut planned = Vec::new();
    let mut failures = Vec::new();
    for (path, body) in &fixtures {
        let name = path.display().to_string();
        match Event::parse(body) {
            Err(e) => failures.push(format!("{name}: parse: {e}")),
            Ok(event) => match plan(&event) {
                Err(e) => failures.push(format!("{name}: plan: {e}")),
                Ok(Plan::Ignore) => {}
                Ok(Plan::Apply(changes)) => planned.push((name, changes)),
            },
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        planned.len() >= 100,
        "only {} projected fixtures",
        planned.len()
    );

    for t in backends().await {
        for (name, changes) in &planned {
            let mut tx = t.store.begin().await.expect("begin");
            if let Err(e) = tx.apply_changes(changes, &ctx()).await {
                failures.push(format!("{}: {name}: {e:?}", t.name));
                continue;
            }
            tx.commit().await.expect("commit");
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixtures do not apply:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_shared_fixture_applies_to_a_fresh_store_through_the_inbox() {
    // One store per backend, but each fixture claims a distinct id: the
    // fixture's own id with its position appended.
    let fixtures = fixtures();
    for t in backends().await {
        let mut failed = Vec::new();
        for (n, (path, body)) in fixtures.iter().enumerate() {
            let mut value: serde_json::Value =
                serde_json::from_slice(body).expect("fixture is JSON");
            let id = value["id"].as_str().unwrap_or("evt_").to_owned();
            value["id"] = format!("{id}_{n}").into();
            let body = value.to_string();
            crate::support::deliver(&t, &body).await;
            let event = crate::support::stored(&t, &format!("{id}_{n}")).await;
            if event.status == paywarden_store::EventStatus::Failed {
                failed.push(format!("{}: {:?}", path.display(), event.last_error));
            }
        }
        assert!(failed.is_empty(), "{}: {}", t.name, failed.join("\n"));
    }
}
