//! Events that cannot be applied are acknowledged, kept as `failed` with
//! their error, and retried by hand; no retry ever applies an event twice.

use std::sync::Arc;

use futures::future::join_all;
use paywarden_store::{EventStatus, ProjectionReader};
use paywarden_testkit::{backends, now_secs};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{apps, stripe, AppConfig, TestApp, DAILY_CAP};

#[tokio::test]
async fn a_malformed_event_is_kept_as_failed_and_retried_by_hand() {
    for app in apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        let admin = Some(keys.admin.as_str());

        let reply = app
            .deliver(&stripe::malformed_subscription(
                "evt_bad_1",
                "sub_bad_1",
                now_secs(),
            ))
            .await;
        app.assert_received(&reply, "malformed subscription event");
        let stored = app.stored("evt_bad_1").await;
        assert_eq!(stored.status, EventStatus::Failed, "[{b}] stored as failed");
        assert!(
            stored.next_attempt_at.is_some(),
            "[{b}] a retry is scheduled"
        );
        assert_eq!(
            app.counts().await.subscriptions,
            0,
            "[{b}] nothing projected"
        );

        let shown = app.get("/api/admin/events/evt_bad_1", admin).await;
        assert_eq!(shown.status, StatusCode::OK, "[{b}] show: {}", shown.text);
        let e = &shown.json;
        assert_eq!(
            (
                &e["id"],
                &e["type"],
                &e["status"],
                &e["attempts"],
                &e["received_count"]
            ),
            (
                &json!("evt_bad_1"),
                &json!("customer.subscription.updated"),
                &json!("failed"),
                &json!(1),
                &json!(1)
            ),
            "[{b}] show: {}",
            shown.text
        );
        let error = e["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("cannot project customer.subscription.updated")
                && error.contains("nope"),
            "[{b}] the error says what is wrong: {}",
            shown.text
        );
        assert!(
            e["first_received_at"].is_i64() && e["last_received_at"].is_i64(),
            "[{b}] receipt times: {}",
            shown.text
        );
        assert_eq!(
            e["payload"]["data"]["object"]["items"],
            json!("nope"),
            "[{b}] the stored payload is shown"
        );

        let retried = app.post("/api/admin/events/evt_bad_1/retry", admin).await;
        assert_eq!(
            retried.status,
            StatusCode::OK,
            "[{b}] retry: {}",
            retried.text
        );
        assert_eq!(
            retried.json["result"],
            json!("failed"),
            "[{b}] retry: {}",
            retried.text
        );
        assert_eq!(
            (
                &retried.json["event"]["status"],
                &retried.json["event"]["attempts"]
            ),
            (&json!("failed"), &json!(2)),
            "[{b}] retry: {}",
            retried.text
        );
        assert!(
            retried.json["event"]["error"].is_string(),
            "[{b}] the error is kept: {}",
            retried.text
        );

        // A processed event has nothing to retry.
        let ok = app
            .deliver(&stripe::invoice_paid(
                "evt_ok_1",
                "in_ok_1",
                "cus_ok",
                700,
                now_secs(),
            ))
            .await;
        app.assert_received(&ok, "a good event");
        let conflict = app.post("/api/admin/events/evt_ok_1/retry", admin).await;
        conflict.assert_error(
            StatusCode::CONFLICT,
            "conflict",
            &format!("[{b}] retry of a processed event"),
        );
        let event = app.stored("evt_ok_1").await;
        assert_eq!(
            (event.status, event.attempts),
            (EventStatus::Processed, 1),
            "[{b}] untouched"
        );
        assert_eq!(app.counts().await.payments, 1, "[{b}] paid once");

        // An ignored event neither.
        let ignored = app
            .deliver(&stripe::unprojected("evt_ign_1", now_secs()))
            .await;
        app.assert_received(&ignored, "an unprojected type");
        assert_eq!(
            app.stored("evt_ign_1").await.status,
            EventStatus::Ignored,
            "[{b}] ignored"
        );
        let conflict = app.post("/api/admin/events/evt_ign_1/retry", admin).await;
        conflict.assert_error(
            StatusCode::CONFLICT,
            "conflict",
            &format!("[{b}] retry of an ignored event"),
        );

        for path in [
            "/api/admin/events/evt_unknown",
            "/api/admin/events/not_an_event_id",
        ] {
            let missing = app.get(path, admin).await;
            missing.assert_error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("[{b}] GET {path}"),
            );
            let retry = app.post(&format!("{path}/retry"), admin).await;
            retry.assert_error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("[{b}] POST {path}/retry"),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_a_still_failing_event_each_count_one_attempt() {
    const RETRIES: usize = 16;
    for app in apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        let reply = app
            .deliver(&stripe::malformed_subscription(
                "evt_bad_2",
                "sub_bad_2",
                now_secs(),
            ))
            .await;
        app.assert_received(&reply, "malformed subscription event");
        let before = app.digest().await;

        let path = "/api/admin/events/evt_bad_2/retry";
        let replies = join_all((0..RETRIES).map(|_| app.post(path, Some(&keys.admin)))).await;
        for reply in &replies {
            assert_eq!(reply.status, StatusCode::OK, "[{b}] retry: {}", reply.text);
            assert_eq!(
                reply.json["result"],
                json!("failed"),
                "[{b}] retry: {}",
                reply.text
            );
        }
        for reply in &replies {
            let attempts = reply.json["event"]["attempts"].as_i64().expect("attempts");
            assert!(
                (2..=RETRIES as i64 + 1).contains(&attempts),
                "[{b}] attempts after one of {RETRIES} retries: {}",
                reply.text
            );
        }
        // Each retry counted exactly one attempt: none lost, none doubled.
        let event = app.stored("evt_bad_2").await;
        assert_eq!(
            (event.status, event.attempts),
            (EventStatus::Failed, RETRIES as i64 + 1),
            "[{b}]"
        );
        assert_eq!(
            app.digest().await,
            before,
            "[{b}] failing retries change no projection"
        );
    }
}

/// An event whose apply fails for a reason that later goes away: the
/// inbox was started with a negative default daily cap, so provisioning the
/// account breaks `accounts.daily_cap >= 0` and the event is kept as
/// failed. Restarted with a valid cap, 16 operators retry it at once: one
/// retry applies it, the others find nothing to retry, and the account and
/// its event exist once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_apply_a_recovered_event_once() {
    const RETRIES: usize = 16;
    const FIXED_CAP: i64 = DAILY_CAP + 7;
    for db in backends().await {
        let db = Arc::new(db);
        let broken = TestApp::spawn_with(
            db.clone(),
            AppConfig {
                daily_cap: -1,
                ..AppConfig::default()
            },
        )
        .await;
        let b = broken.backend;
        let body =
            stripe::checkout_paid("evt_rec_1", "cs_rec_1", "user_rec", "cus_rec", now_secs());
        let reply = broken.deliver(&body).await;
        broken.assert_received(&reply, "Checkout with a broken cap");
        let event = broken.stored("evt_rec_1").await;
        assert_eq!(event.status, EventStatus::Failed, "[{b}] apply failed");
        assert!(event.last_error.is_some(), "[{b}] with its error");
        let counts = broken.counts().await;
        assert_eq!(
            (counts.accounts, counts.account_events, counts.customers),
            (0, 0, 0),
            "[{b}] a failed apply leaves nothing behind"
        );

        let keys = broken.keys().await;
        // Still broken: the retry fails again and counts one attempt.
        let again = broken
            .post("/api/admin/events/evt_rec_1/retry", Some(&keys.admin))
            .await;
        assert_eq!(
            (
                again.status,
                &again.json["result"],
                &again.json["event"]["attempts"]
            ),
            (StatusCode::OK, &json!("failed"), &json!(2)),
            "[{b}] {}",
            again.text
        );
        drop(broken);

        let fixed = TestApp::spawn_with(
            db.clone(),
            AppConfig {
                daily_cap: FIXED_CAP,
                ..AppConfig::default()
            },
        )
        .await;
        let path = "/api/admin/events/evt_rec_1/retry";
        let replies = join_all((0..RETRIES).map(|_| fixed.post(path, Some(&keys.admin)))).await;
        let processed: Vec<&Value> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .map(|r| &r.json)
            .collect();
        assert_eq!(
            processed.len(),
            1,
            "[{b}] exactly one retry applies: {:?}",
            replies
                .iter()
                .map(|r| (r.status, &r.text))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            (
                &processed[0]["result"],
                &processed[0]["event"]["status"],
                &processed[0]["event"]["attempts"]
            ),
            (&json!("processed"), &json!("processed"), &json!(3)),
            "[{b}] the winning retry"
        );
        assert_eq!(
            processed[0]["event"]["error"],
            Value::Null,
            "[{b}] error cleared"
        );
        for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
            reply.assert_error(
                StatusCode::CONFLICT,
                "conflict",
                &format!("[{b}] a losing retry"),
            );
        }

        let counts = fixed.counts().await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (1, 1),
            "[{b}] one account, one account event"
        );
        let account = fixed
            .store
            .account(&"user_rec".parse().expect("user id"))
            .await
            .expect("read account")
            .unwrap_or_else(|| panic!("[{b}] account provisioned"));
        assert_eq!(
            account.daily_cap, FIXED_CAP,
            "[{b}] provisioned with the fixed cap"
        );
        assert_eq!(
            account.events,
            ["stripe_checkout"],
            "[{b}] one account event"
        );
        let event = fixed.stored("evt_rec_1").await;
        assert_eq!(
            (event.status, event.attempts),
            (EventStatus::Processed, 3),
            "[{b}]"
        );

        // A later retry finds it processed; a repeat delivery is a duplicate.
        let late = fixed.post(path, Some(&keys.admin)).await;
        late.assert_error(
            StatusCode::CONFLICT,
            "conflict",
            &format!("[{b}] retry after success"),
        );
        let repeat = fixed.deliver(&body).await;
        assert!(repeat.is_duplicate(), "[{b}] redelivery: {}", repeat.text);
        let counts = fixed.counts().await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (1, 1),
            "[{b}] still one account"
        );
    }
}
