//! The operator commands: `migrate`, `keys create|list|revoke`,
//! `events list|show|retry`, and how a configuration error ends.

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::{json, Value};

use crate::database::TestDatabase;
use crate::server::{run, run_with_env, Server};
use crate::stripe_events::{client, customer_created, deliver, envelope, invoice_paid};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command exited 0 and returns its stdout lines as JSON.
fn json_lines(output: &Output, what: &str) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{what} failed with {}:\n{}",
        output.status,
        stderr(output)
    );
    stdout(output)
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what} printed a line that is not JSON ({e}): {line}"))
        })
        .collect()
}

#[tokio::test]
async fn cli_migrate_creates_a_fresh_sqlite_database_and_is_repeatable() {
    let db = TestDatabase::sqlite();
    let file = db.dir.path().join("paywarden.db");
    assert!(!file.exists());
    for attempt in ["first", "second"] {
        let output = run(db.dir.path(), &db.url, &["migrate"]).await;
        assert!(
            output.status.success(),
            "{attempt} migrate: {}\n{}",
            output.status,
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("migrations applied"),
            "{}",
            stderr(&output)
        );
    }
    assert!(file.exists(), "migrate created no database file");
}

#[tokio::test]
async fn cli_config_error_exits_2_and_names_database_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [&["migrate"][..], &["serve"], &["keys", "list"]] {
        let output = run(dir.path(), "mysql://x", args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("DATABASE_URL"),
            "{args:?}: the message names the key: {}",
            stderr(&output)
        );
    }
    // Another key, another message naming it.
    let output = run_with_env(
        dir.path(),
        "sqlite://x.db",
        &["migrate"],
        &[("PAYWARDEN_LOG_FORMAT", "xml")],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("log_format"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path().join("x.db").exists(), "nothing ran");
}

#[tokio::test]
async fn cli_keys_are_shown_once_listed_without_the_key_and_revoked_keys_get_401() {
    let db = TestDatabase::sqlite();
    let dir = db.dir.path();
    let output = run(
        dir,
        &db.url,
        &["keys", "create", "--role", "admin", "--name", "ops"],
    )
    .await;
    let created = json_lines(&output, "keys create");
    assert_eq!(created.len(), 1, "one JSON line: {created:?}");
    let created = &created[0];
    let key = created["key"].as_str().expect("a key").to_owned();
    let id = created["id"].as_str().expect("an id").to_owned();
    assert!(key.starts_with("pw_") && key.len() > 20, "{key}");
    let printed = stdout(&output).matches(&key).count() + stderr(&output).matches(&key).count();
    assert_eq!(printed, 1, "the key is printed exactly once");
    assert!(id.starts_with("key_"), "{id}");
    assert_eq!(
        (created["role"].clone(), created["name"].clone()),
        (json!("admin"), json!("ops"))
    );

    let listing = run(dir, &db.url, &["keys", "list"]).await;
    let keys = json_lines(&listing, "keys list");
    assert!(!stdout(&listing).contains(&key) && !stderr(&listing).contains(&key));
    assert!(
        !stdout(&listing).contains(&key[3..]),
        "no part of the key body"
    );
    let listed = keys
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {keys:?}"));
    assert_eq!(listed["name"], "ops");
    assert_eq!(listed["role"], "admin");
    assert!(listed["revoked_at"].is_null());
    assert!(listed.get("key").is_none(), "{listed}");
    let hint = listed["hint"].as_str().expect("a hint");
    assert!(hint.starts_with("pw_") && hint.len() < key.len(), "{hint}");

    let server = Server::start(dir, &db.url).await;
    let client = client();
    let events_url = format!("{}/api/admin/events", server.base);
    let with_key = |key: &str| client.get(&events_url).bearer_auth(key.to_owned()).send();
    assert_eq!(with_key(&key).await.expect("GET").status(), 200);
    let no_key = client.get(&events_url).send().await.expect("GET");
    assert_eq!(no_key.status(), 401);
    let unknown = with_key("pw_0000000000000000000000000000000000000000")
        .await
        .expect("GET");
    assert_eq!(unknown.status(), 401);

    let revoked = run(dir, &db.url, &["keys", "revoke", &id]).await;
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let refused = with_key(&key).await.expect("GET");
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "unauthenticated", "{body}");

    let keys = json_lines(&run(dir, &db.url, &["keys", "list"]).await, "keys list");
    let listed = keys
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("still listed");
    assert!(listed["revoked_at"].is_i64(), "{listed}");

    let unknown = run(
        dir,
        &db.url,
        &["keys", "revoke", "key_01JZZZZZZZZZZZZZZZZZZZZZZZ"],
    )
    .await;
    assert!(!unknown.status.success(), "revoking an unknown key fails");
    assert!(
        stderr(&unknown).contains("not found"),
        "{}",
        stderr(&unknown)
    );
    let malformed = run(dir, &db.url, &["keys", "revoke", "nope"]).await;
    assert!(!malformed.status.success(), "revoking a malformed id fails");
    server.kill().await;
}

#[tokio::test]
async fn cli_events_list_show_and_retry_print_json() {
    let db = TestDatabase::sqlite();
    let dir = db.dir.path();
    let server = Server::start(dir, &db.url).await;
    let client = client();
    let paid = invoice_paid("cli", 0);
    let customer = customer_created("cli", 1);
    let unknown = envelope("evt_cli_unknown", "test.unknown_type", json!({"id": "x_1"}));
    // Signed and an event, but its invoice cannot be read: stored as failed.
    let broken = envelope(
        "evt_cli_broken",
        "invoice.paid",
        json!({"id": "in_cli_broken", "object": "invoice", "amount_paid": "lots"}),
    );
    for body in [&paid.body, &customer.body, &unknown, &broken] {
        let answer = deliver(&client, &server.base, body).await.expect("deliver");
        assert_eq!(answer.status, 200, "{answer:?}");
    }

    let all = json_lines(&run(dir, &db.url, &["events", "list"]).await, "events list");
    let ids: BTreeSet<&str> = all.iter().filter_map(|e| e["id"].as_str()).collect();
    let expected: BTreeSet<&str> = [
        paid.id.as_str(),
        customer.id.as_str(),
        "evt_cli_unknown",
        "evt_cli_broken",
    ]
    .into();
    assert_eq!(ids, expected);
    let status_of = |id: &str| {
        all.iter()
            .find(|e| e["id"] == id)
            .map(|e| e["status"].clone())
            .unwrap_or_default()
    };
    assert_eq!(status_of(&paid.id), "processed");
    assert_eq!(status_of("evt_cli_unknown"), "ignored");
    assert_eq!(status_of("evt_cli_broken"), "failed");
    assert!(
        all.iter().all(|e| e.get("payload").is_none()),
        "list shows no payloads"
    );

    let failed = json_lines(
        &run(dir, &db.url, &["events", "list", "--status", "failed"]).await,
        "events list --status failed",
    );
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["id"], "evt_cli_broken");
    assert!(failed[0]["error"].is_string(), "{}", failed[0]);
    let customers = json_lines(
        &run(
            dir,
            &db.url,
            &["events", "list", "--type", "customer.created"],
        )
        .await,
        "events list --type",
    );
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[0]["id"], customer.id.as_str());

    // Paging: one at a time, following the cursor printed on stderr.
    let mut paged = BTreeSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut args = vec!["events", "list", "--limit", "1"];
        if let Some(cursor) = &cursor {
            args.extend(["--cursor", cursor.as_str()]);
        }
        let output = run(dir, &db.url, &args).await;
        let page = json_lines(&output, "events list --limit 1");
        assert!(page.len() <= 1, "{page:?}");
        paged.extend(
            page.iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned)),
        );
        cursor = stderr(&output)
            .lines()
            .find_map(|l| l.strip_prefix("more: --cursor "))
            .map(|c| c.trim().to_owned());
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "paging did not end");
    let paged: BTreeSet<&str> = paged.iter().map(String::as_str).collect();
    assert_eq!(paged, expected);

    let shown = run(dir, &db.url, &["events", "show", &paid.id]).await;
    assert!(shown.status.success(), "{}", stderr(&shown));
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("show prints JSON");
    assert_eq!(shown["id"], paid.id.as_str());
    assert_eq!(shown["type"], "invoice.paid");
    assert_eq!(shown["status"], "processed");
    assert_eq!(shown["received_count"], 1);
    assert_eq!(shown["payload"]["data"]["object"]["id"], "in_cli_0");
    let missing = run(dir, &db.url, &["events", "show", "evt_cli_missing"]).await;
    assert!(!missing.status.success(), "showing a missing event fails");
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );

    let retried = json_lines(
        &run(dir, &db.url, &["events", "retry", "evt_cli_broken"]).await,
        "events retry",
    );
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(retried[0]["result"], "failed", "{}", retried[0]);
    assert_eq!(retried[0]["event"]["id"], "evt_cli_broken");
    assert_eq!(retried[0]["event"]["status"], "failed");
    assert_eq!(retried[0]["event"]["attempts"], 2, "{}", retried[0]);
    let not_failed = run(dir, &db.url, &["events", "retry", &paid.id]).await;
    assert!(
        !not_failed.status.success(),
        "retrying a processed event fails"
    );
    assert!(
        stderr(&not_failed).contains("not failed"),
        "{}",
        stderr(&not_failed)
    );
    server.kill().await;
}

#[tokio::test]
async fn cli_ledger_verify_passes_on_a_sound_ledger_and_names_a_wallet_that_is_not() {
    use paywarden_app::credits::{Caller, Credits, DebitRequest, GrantRequest};
    use paywarden_core::ids::ApiKeyId;
    use paywarden_store::{DatabaseUrl, Store, StoreOptions};

    let mut databases = vec![TestDatabase::sqlite()];
    databases.extend(TestDatabase::postgres().await);
    for db in databases {
        let n = db.name;
        let dir = db.dir.path();
        assert!(
            run(dir, &db.url, &["migrate"]).await.status.success(),
            "{n}"
        );
        let store = Store::connect(&StoreOptions::new(DatabaseUrl::new(db.url.clone())))
            .await
            .expect("connect");
        let credits = Credits::new(store.clone());
        let ana: paywarden_core::UserId = "ana".parse().expect("user");
        let grant: GrantRequest =
            serde_json::from_value(json!({ "amount": 40, "reason": "welcome" })).expect("grant");
        credits
            .grant(&ana, ApiKeyId::generate(), "g", &grant)
            .await
            .expect("grant");
        let debit: DebitRequest = serde_json::from_value(json!({ "amount": 15 })).expect("debit");
        credits
            .debit(&ana, &Caller::User(ana.clone()), "d", &debit)
            .await
            .expect("debit");

        let sound = run(dir, &db.url, &["ledger", "verify"]).await;
        let report = json_lines(&sound, "ledger verify");
        assert_eq!(
            report,
            [json!({ "consistent": true, "wallets": 1, "entries": 2, "mismatches": [] })],
            "{n}"
        );

        // A balance changed behind the ledger's back.
        sqlx::query("UPDATE credit_wallets SET balance = balance + 5")
            .execute(&mut *store_connection(&db.url).await)
            .await
            .expect("raw update");
        let broken = run(dir, &db.url, &["ledger", "verify"]).await;
        assert!(!broken.status.success(), "{n}: a broken ledger fails");
        let printed: Value = serde_json::from_str(stdout(&broken).trim()).expect("a JSON report");
        assert_eq!(printed["consistent"], false, "{n}");
        assert_eq!(printed["mismatches"][0]["user_id"], "ana", "{n}: {printed}");
        assert!(
            stderr(&broken).contains("do not add up"),
            "{n}: {}",
            stderr(&broken)
        );
        store.close().await;
    }
}

async fn store_connection(url: &str) -> sqlx::pool::PoolConnection<sqlx::Any> {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("raw connection")
        .acquire()
        .await
        .expect("a connection")
}
