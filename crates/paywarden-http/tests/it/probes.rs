//! Probes, unknown routes, request ids, and a store that is gone.

use paywarden_testkit::{now_secs, TEST_WEBHOOK_SECRET};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{apps, sign_at, stripe};

#[tokio::test]
async fn probes_answer_and_name_the_database() {
    for app in apps().await {
        let b = app.backend;
        let health = app.get("/healthz", None).await;
        assert_eq!(
            (health.status, &health.json),
            (StatusCode::OK, &json!({ "status": "ok" })),
            "[{b}] /healthz"
        );
        let ready = app.get("/readyz", None).await;
        assert_eq!(
            (ready.status, &ready.json),
            (StatusCode::OK, &json!({ "status": "ready", "database": b })),
            "[{b}] /readyz"
        );
    }
}

#[tokio::test]
async fn unknown_routes_are_404_in_the_error_shape() {
    for app in apps().await {
        let b = app.backend;
        for path in [
            "/nope",
            "/api/admin",
            "/api/admin/nothing",
            "/webhooks/paypal",
            "/webhooks/stripe/extra",
        ] {
            app.get(path, None).await.assert_error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("[{b}] GET {path}"),
            );
            app.post(path, None).await.assert_error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("[{b}] POST {path}"),
            );
        }
    }
}

#[tokio::test]
async fn a_known_route_with_the_wrong_method_is_405_in_the_error_shape() {
    for app in apps().await {
        let b = app.backend;
        for (method, path) in [
            (reqwest::Method::GET, "/webhooks/stripe"),
            (reqwest::Method::PUT, "/webhooks/stripe"),
            (reqwest::Method::POST, "/healthz"),
            (reqwest::Method::DELETE, "/api/admin/events"),
        ] {
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .expect("request");
            let status = response.status();
            let allow = response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "[{b}] {method} {path}"
            );
            assert_eq!(
                body["error"]["code"],
                json!("method_not_allowed"),
                "[{b}] {method} {path}: {body}"
            );
            assert!(
                allow.is_some_and(|a| !a.is_empty()),
                "[{b}] {method} {path}: an Allow header"
            );
        }
    }
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    for app in apps().await {
        let b = app.backend;
        let sent = "req-paywarden-test-42";
        for (what, request) in [
            ("GET /healthz", app.client.get(app.url("/healthz"))),
            ("GET /nope", app.client.get(app.url("/nope"))),
            (
                "GET /api/admin/events",
                app.client.get(app.url("/api/admin/events")),
            ),
            (
                "POST /webhooks/stripe",
                app.client.post(app.url("/webhooks/stripe")).body("{}"),
            ),
        ] {
            let echoed = request
                .try_clone()
                .expect("clonable request")
                .header("x-request-id", sent)
                .send()
                .await
                .expect("request");
            assert_eq!(
                echoed
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok()),
                Some(sent),
                "[{b}] {what} echoes the caller's request id"
            );
            let fresh = request.send().await.expect("request");
            let id = fresh
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("[{b}] {what} has a request id"))
                .to_owned();
            assert_eq!(id.len(), 36, "[{b}] {what}: a UUID request id, got {id}");
            assert_ne!(id, sent, "[{b}] {what}");
        }
    }
}

/// The store going away (here: its pools closed) is 503 with
/// `Retry-After`, never 2xx and never 400.
#[tokio::test]
async fn a_closed_store_answers_503() {
    for app in apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        app.store.close().await;

        let body = stripe::invoice_paid("evt_down_1", "in_down_1", "cus_down", 100, now_secs());
        let header = sign_at(TEST_WEBHOOK_SECRET, now_secs(), &body);
        for reply in [
            app.post_webhook(body.clone(), Some(&header)).await,
            app.get("/readyz", None).await,
            app.get("/api/admin/events", Some(&keys.admin)).await,
        ] {
            reply.assert_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &format!("[{b}] store closed"),
            );
            assert_eq!(
                reply
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("5"),
                "[{b}] Retry-After"
            );
        }
        let health = app.get("/healthz", None).await;
        assert_eq!(
            health.status,
            StatusCode::OK,
            "[{b}] the process is still alive"
        );
    }
}
