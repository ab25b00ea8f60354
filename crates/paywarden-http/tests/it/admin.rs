//! `/api/admin`: who may call it, and listing events with filters and pages.

use std::collections::BTreeSet;

use paywarden_app::keys;
use paywarden_testkit::now_secs;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{apps, stripe, Reply, TestApp};

#[tokio::test]
async fn admin_routes_need_a_live_admin_key() {
    for app in apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        let reply = app
            .deliver(&stripe::malformed_subscription(
                "evt_auth_1",
                "sub_auth_1",
                now_secs(),
            ))
            .await;
        app.assert_received(&reply, "an event to look at");

        let routes = [
            ("GET", "/api/admin/events"),
            ("GET", "/api/admin/events/evt_auth_1"),
            ("POST", "/api/admin/events/evt_auth_1/retry"),
        ];
        let unknown_key = format!("pw_{}", "A".repeat(40));
        for (method, path) in routes {
            let call = |key: Option<String>| {
                let app = &app;
                async move {
                    match method {
                        "GET" => app.get(path, key.as_deref()).await,
                        _ => app.post(path, key.as_deref()).await,
                    }
                }
            };
            let what = |who: &str| format!("[{b}] {method} {path} {who}");
            call(None).await.assert_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                &what("without a key"),
            );
            call(Some("garbage".into())).await.assert_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                &what("with garbage"),
            );
            call(Some(unknown_key.clone())).await.assert_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                &what("with an unknown key"),
            );
            call(Some(keys.server.clone())).await.assert_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                &what("with a server key"),
            );

            // Not a bearer token: the admin key under another scheme.
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let reply = app
                .client
                .request(method, app.url(path))
                .header("authorization", format!("Basic {}", keys.admin))
                .send()
                .await
                .expect("request");
            assert_eq!(
                reply.status(),
                StatusCode::UNAUTHORIZED,
                "{}",
                what("with a Basic scheme")
            );
        }
        // The failed event was not retried by any refused call.
        assert_eq!(
            app.stored("evt_auth_1").await.attempts,
            1,
            "[{b}] refused retries did nothing"
        );

        let ok = app.get("/api/admin/events", Some(&keys.admin)).await;
        assert_eq!(ok.status, StatusCode::OK, "[{b}] admin key: {}", ok.text);
        let ok = app
            .post("/api/admin/events/evt_auth_1/retry", Some(&keys.admin))
            .await;
        assert_eq!(ok.status, StatusCode::OK, "[{b}] admin retry: {}", ok.text);

        keys::revoke(&app.store, &keys.admin_id)
            .await
            .expect("revoke admin key");
        for (method, path) in routes {
            let reply = match method {
                "GET" => app.get(path, Some(&keys.admin)).await,
                _ => app.post(path, Some(&keys.admin)).await,
            };
            reply.assert_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                &format!("[{b}] {method} {path} with a revoked key"),
            );
        }
        assert_eq!(
            app.stored("evt_auth_1").await.attempts,
            2,
            "[{b}] the revoked key retried nothing"
        );
    }
}

/// Every page of a listing, following `next_cursor`.
async fn walk(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        assert!(
            page < 100,
            "[{}] {query}: the cursor never ends",
            app.backend
        );
        let mut path = format!("/api/admin/events?{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let reply = app.get(&path, Some(key)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "[{}] {path}: {}",
            app.backend,
            reply.text
        );
        let data = reply.json["data"].as_array().expect("data").clone();
        let next = reply.json["next_cursor"].as_str().map(str::to_owned);
        assert_eq!(
            reply.json["has_more"].as_bool(),
            Some(next.is_some()),
            "[{}] {path}: has_more agrees with next_cursor",
            app.backend
        );
        if next.is_some() {
            assert!(
                !data.is_empty(),
                "[{}] {path}: a page before more is not empty",
                app.backend
            );
        }
        events.extend(data);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    events
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn listing_events_filters_and_pages() {
    const PAID: usize = 13;
    const IGNORED: usize = 7;
    const FAILED: usize = 3;
    for app in apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        let now = now_secs();
        let mut all = BTreeSet::new();
        for n in 0..PAID {
            let id = format!("evt_list_paid_{n:02}");
            app.assert_received(
                &app.deliver(&stripe::invoice_paid(
                    &id,
                    &format!("in_list_{n}"),
                    "cus_list",
                    100,
                    now,
                ))
                .await,
                "paid",
            );
            all.insert(id);
        }
        for n in 0..IGNORED {
            let id = format!("evt_list_ign_{n:02}");
            app.assert_received(
                &app.deliver(&stripe::unprojected(&id, now)).await,
                "ignored",
            );
            all.insert(id);
        }
        for n in 0..FAILED {
            let id = format!("evt_list_bad_{n:02}");
            app.assert_received(
                &app.deliver(&stripe::malformed_subscription(&id, "sub_list", now))
                    .await,
                "failed",
            );
            all.insert(id);
        }

        for limit in [1, 4, 100] {
            let events = walk(&app, &keys.admin, &format!("limit={limit}")).await;
            let listed = ids(&events);
            let unique: BTreeSet<String> = listed.iter().cloned().collect();
            assert_eq!(
                unique.len(),
                listed.len(),
                "[{b}] limit={limit}: each event once: {listed:?}"
            );
            assert_eq!(unique, all, "[{b}] limit={limit}: every event listed");
            // Newest first: first_received_at never increases.
            let times: Vec<i64> = events
                .iter()
                .map(|e| e["first_received_at"].as_i64().expect("time"))
                .collect();
            assert!(
                times.windows(2).all(|w| w[0] >= w[1]),
                "[{b}] limit={limit}: newest first: {times:?}"
            );
            assert!(
                events.iter().all(|e| e.get("payload").is_none()),
                "[{b}] lists carry no payloads"
            );
        }
        let first = app.get("/api/admin/events", Some(&keys.admin)).await;
        assert_eq!(
            first.json["data"].as_array().map(Vec::len),
            Some(20),
            "[{b}] default page size: {}",
            first.text
        );

        let by = |filter: &'static str| {
            let app = &app;
            let key = keys.admin.clone();
            async move { walk(app, &key, &format!("{filter}&limit=5")).await }
        };
        let check = |events: &[Value], field: &str, value: &str, expected: usize, what: &str| {
            assert_eq!(events.len(), expected, "[{b}] {what}: {:?}", ids(events));
            assert!(
                events.iter().all(|e| e[field] == value),
                "[{b}] {what}: only {field}={value}"
            );
            let unique: BTreeSet<String> = ids(events).into_iter().collect();
            assert_eq!(unique.len(), expected, "[{b}] {what}: each once");
        };
        check(
            &by("type=invoice.paid").await,
            "type",
            "invoice.paid",
            PAID,
            "type=invoice.paid",
        );
        check(
            &by("status=processed").await,
            "status",
            "processed",
            PAID,
            "status=processed",
        );
        check(
            &by("status=ignored").await,
            "status",
            "ignored",
            IGNORED,
            "status=ignored",
        );
        check(
            &by("status=failed").await,
            "status",
            "failed",
            FAILED,
            "status=failed",
        );
        check(
            &by("type=customer.subscription.updated&status=failed").await,
            "status",
            "failed",
            FAILED,
            "type and status",
        );
        check(
            &by("type=invoice.paid&status=failed").await,
            "status",
            "failed",
            0,
            "no match",
        );
        check(
            &by("type=no.such.type").await,
            "type",
            "no.such.type",
            0,
            "unknown type",
        );
    }
}

#[tokio::test]
async fn bad_listing_queries_are_400() {
    for app in apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        app.assert_received(
            &app.deliver(&stripe::unprojected("evt_q_1", now_secs()))
                .await,
            "an event",
        );
        for query in [
            "limit=0",
            "limit=101",
            "limit=1000",
            "limit=-1",
            "limit=ten",
            "status=bogus",
            "status=",
            "unknown=1",
            "type=invoice.paid&colour=blue",
            "cursor=garbage",
            "cursor=bm90LWEtY3Vyc29y",
        ] {
            let reply: Reply = app
                .get(&format!("/api/admin/events?{query}"), Some(&keys.admin))
                .await;
            reply.assert_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("[{b}] ?{query}"),
            );
        }
    }
}
