//! Outbound webhooks end to end: endpoints registered over the admin API,
//! messages written by real projections, the real delivery worker POSTing
//! to a receiver on loopback, signatures checked with the consumer's
//! verifier, on both backends.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use paywarden_app::outbound::{DeliveryWorker, OutboundSettings};
use paywarden_app::retry::Step;
use paywarden_core::ids::WebhookEndpointId;
use paywarden_core::outbound::{EndpointSecret, OutboundEvent, Signature};
use paywarden_store::{now_ms, NewWebhookEndpoint, Store, StoreOptions, WebhookEndpoints};
use paywarden_testkit::{now_secs, TestStore};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::receiver::{Received, Receiver};
use crate::shop::Shop;
use crate::support::{self, stripe, AppConfig, TestApp};

const VISA: &str = "4242424242424242";

/// POSTs JSON with a bearer key; status and body.
async fn post_json(
    client: &reqwest::Client,
    url: String,
    key: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("call the app");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Registers `url` for `types` (all when `None`); the created endpoint.
async fn register(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    url: &str,
    types: Option<Value>,
) -> Value {
    let mut body = json!({ "url": url });
    if let Some(types) = types {
        body["event_types"] = types;
    }
    let (status, created) = post_json(
        client,
        format!("{base}/api/admin/webhook-endpoints"),
        Some(admin),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// Runs worker steps until `done` says the receiver has what it should, or
/// fails with what it got.
async fn deliver_until(
    worker: &DeliveryWorker,
    receiver: &Receiver,
    within: Duration,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let deadline = Instant::now() + within;
    loop {
        let step = worker.step().await.expect("worker step");
        let received = receiver.received();
        if done(&received) {
            return received;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within {within:?}; received {} requests",
            received.len()
        );
        if step == Step::Idle {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Checks a received request the way a consumer would.
fn verify(received: &Received, secret: &str) {
    let secret = EndpointSecret::parse(secret).expect("the shown secret parses");
    Signature::verify(
        &[secret],
        received.header("webhook-id"),
        received.header("webhook-timestamp"),
        received.header("webhook-signature"),
        &received.body,
        now_secs(),
    )
    .expect("the signature verifies with the endpoint's secret");
    assert_eq!(received.header("content-type"), "application/json");
    assert!(received.header("webhook-id").starts_with("msg_"));
    assert_eq!(received.json()["id"], received.header("webhook-id"));
}

async fn deliveries(app: &TestApp, admin: &str, query: &str) -> Value {
    let reply = app
        .get(
            &format!("/api/admin/webhook-deliveries{query}"),
            Some(admin),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json
}

#[tokio::test]
async fn a_paid_checkout_sends_entitlements_updated_signed_with_the_endpoint_secret() {
    for db in paywarden_testkit::backends().await {
        let shop = Shop::open(db).await;
        let b = shop.backend;
        let receiver = Receiver::start().await;
        let admin = shop.server_key(paywarden_store::ApiKeyRole::Admin).await;
        let endpoint = register(
            &shop.http,
            &shop.base,
            &admin,
            &receiver.url,
            Some(json!(["entitlements.updated"])),
        )
        .await;
        let secret = endpoint["secret"].as_str().expect("the secret, shown once");
        assert!(secret.starts_with("whsec_"), "{b}");

        let session = shop.checkout("ada", "pro_monthly", None).await;
        assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER, "{b}");
        shop.flush().await;

        let worker =
            DeliveryWorker::new(shop.store.clone(), support::outbound_settings()).expect("worker");
        let received = deliver_until(&worker, &receiver, Duration::from_secs(10), |r| {
            r.iter().any(|m| {
                m.json()["data"]["features"]
                    .as_object()
                    .is_some_and(|f| !f.is_empty())
            })
        })
        .await;
        for message in &received {
            verify(message, secret);
            assert_eq!(message.json()["type"], "entitlements.updated", "{b}");
            assert_eq!(message.json()["data"]["user_id"], "ada", "{b}");
        }
        let granted = received
            .iter()
            .map(Received::json)
            .find(|m| {
                m["data"]["features"]
                    .as_object()
                    .is_some_and(|f| !f.is_empty())
            })
            .expect("a message granting features");
        assert!(
            granted["data"]["version"].as_i64() >= Some(1),
            "{b}: {granted}"
        );
        // The secret is never listed again.
        let listed = shop
            .call_with_token(
                Method::GET,
                "/api/admin/webhook-endpoints",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{b}");
        assert!(
            !listed.body.to_string().contains(secret),
            "{b}: {}",
            listed.body
        );
        assert_eq!(listed.body["data"][0]["id"], endpoint["id"], "{b}");
    }
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_message_on_the_third_attempt() {
    for app in support::apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        let receiver = Receiver::answering(&[500, 503]).await;
        let endpoint = register(&app.client, &app.base, &keys.admin, &receiver.url, None).await;
        let secret = endpoint["secret"].as_str().expect("secret");
        let mut tx = app.store.begin().await.expect("begin");
        tx.enqueue_outbound(
            &OutboundEvent::credits_changed(json!({ "user_id": "ada", "balance": 7 })),
            now_ms(),
        )
        .await
        .expect("enqueue");
        tx.commit().await.expect("commit");

        let worker =
            DeliveryWorker::new(app.store.clone(), support::outbound_settings()).expect("worker");
        let received = deliver_until(&worker, &receiver, Duration::from_secs(10), |r| {
            r.len() >= 3
        })
        .await;
        assert_eq!(received.len(), 3, "{b}");
        let ids: Vec<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{b}: one webhook-id across retries"
        );
        for message in &received {
            verify(message, secret);
        }
        let log = deliveries(&app, &keys.admin, "").await;
        let entry = &log["data"][0];
        assert_eq!(entry["status"], "delivered", "{b}: {log}");
        assert_eq!(entry["attempts"], 3, "{b}: {log}");
        assert_eq!(entry["last_status_code"], 200, "{b}: {log}");
        assert_eq!(entry["type"], "credits.changed", "{b}");
        assert_eq!(entry["message_id"], ids[0], "{b}");
    }
}

#[tokio::test]
async fn attempts_exhausted_make_a_delivery_dead_and_an_operator_retry_sends_it() {
    for app in support::apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        // The schedule allows four attempts; all four fail.
        let receiver = Receiver::answering(&[500, 500, 500, 500]).await;
        register(&app.client, &app.base, &keys.admin, &receiver.url, None).await;
        let mut tx = app.store.begin().await.expect("begin");
        tx.enqueue_outbound(
            &OutboundEvent::booking_updated(json!({ "booking_id": "bk_1", "status": "confirmed" })),
            now_ms(),
        )
        .await
        .expect("enqueue");
        tx.commit().await.expect("commit");
        let worker =
            DeliveryWorker::new(app.store.clone(), support::outbound_settings()).expect("worker");
        deliver_until(&worker, &receiver, Duration::from_secs(10), |r| {
            r.len() >= 4
        })
        .await;
        let log = deliveries(&app, &keys.admin, "?status=dead").await;
        let entry = &log["data"][0];
        assert_eq!(entry["attempts"], 4, "{b}: {log}");
        assert_eq!(entry["last_status_code"], 500, "{b}: {log}");
        assert!(
            entry["error"].as_str().is_some_and(|e| e.contains("500")),
            "{b}: {log}"
        );
        assert_eq!(
            worker.step().await.expect("step"),
            Step::Idle,
            "{b}: dead stays put"
        );

        let id = entry["id"].as_str().expect("delivery id");
        let reply = app
            .post(
                &format!("/api/admin/webhook-deliveries/{id}/retry"),
                Some(&keys.admin),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{b}: {}", reply.text);
        assert_eq!(reply.json["status"], "pending", "{b}");
        deliver_until(&worker, &receiver, Duration::from_secs(10), |r| {
            r.len() >= 5
        })
        .await;
        let log = deliveries(&app, &keys.admin, "?status=delivered").await;
        assert_eq!(log["data"][0]["attempts"], 5, "{b}: {log}");

        let missing = app
            .post(
                "/api/admin/webhook-deliveries/dlv_01J00000000000000000000000/retry",
                Some(&keys.admin),
            )
            .await;
        missing.assert_error(StatusCode::NOT_FOUND, "not_found", "unknown delivery");
        let bad = app
            .get(
                "/api/admin/webhook-deliveries?status=lost",
                Some(&keys.admin),
            )
            .await;
        bad.assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "bad status filter",
        );
    }
}

#[tokio::test]
async fn a_duplicate_stripe_event_enqueues_no_second_message() {
    for app in support::apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        let receiver = Receiver::start().await;
        register(
            &app.client,
            &app.base,
            &keys.admin,
            &receiver.url,
            Some(json!(["subscription.updated"])),
        )
        .await;
        let body = stripe::subscription(
            "evt_outdup1",
            "customer.subscription.updated",
            now_secs(),
            "sub_outdup",
            "active",
            1,
        );
        app.assert_received(&app.deliver(&body).await, "first delivery");
        let again = app.deliver(&body).await;
        assert!(again.is_duplicate(), "{b}: {}", again.text);

        let log = deliveries(&app, &keys.admin, "").await;
        assert_eq!(log["data"].as_array().map(Vec::len), Some(1), "{b}: {log}");
        let worker =
            DeliveryWorker::new(app.store.clone(), support::outbound_settings()).expect("worker");
        let received = deliver_until(&worker, &receiver, Duration::from_secs(10), |r| {
            !r.is_empty()
        })
        .await;
        assert_eq!(received.len(), 1, "{b}");
        let message = received[0].json();
        assert_eq!(message["type"], "subscription.updated", "{b}");
        assert_eq!(message["data"]["id"], "sub_outdup", "{b}");
        assert_eq!(message["data"]["status"], "active", "{b}");
        assert_eq!(worker.step().await.expect("step"), Step::Idle, "{b}");
    }
}

#[tokio::test]
async fn a_message_from_a_rolled_back_transaction_is_never_sent() {
    for app in support::apps().await {
        let b = app.backend;
        let keys = app.keys().await;
        let receiver = Receiver::start().await;
        register(&app.client, &app.base, &keys.admin, &receiver.url, None).await;
        let mut tx = app.store.begin().await.expect("begin");
        let message = tx
            .enqueue_outbound(
                &OutboundEvent::credits_changed(json!({ "user_id": "ada", "balance": 1 })),
                now_ms(),
            )
            .await
            .expect("enqueue");
        assert!(message.is_some(), "{b}");
        tx.rollback().await.expect("rollback");
        let worker =
            DeliveryWorker::new(app.store.clone(), support::outbound_settings()).expect("worker");
        assert_eq!(worker.step().await.expect("step"), Step::Idle, "{b}");
        assert!(receiver.received().is_empty(), "{b}");
        let log = deliveries(&app, &keys.admin, "").await;
        assert_eq!(log["data"], json!([]), "{b}");
    }
}

fn strict() -> OutboundSettings {
    OutboundSettings {
        destinations: Default::default(),
        ..support::outbound_settings()
    }
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    for db in paywarden_testkit::backends().await {
        let app = TestApp::spawn_with(
            std::sync::Arc::new(db),
            AppConfig {
                outbound: strict(),
                ..AppConfig::default()
            },
        )
        .await;
        let b = app.backend;
        let keys = app.keys().await;
        for (url, reason) in [
            ("https://127.0.0.1/hook", "loopback"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://10.0.0.5/hook", "private"),
            ("https://[::ffff:127.0.0.1]/hook", "loopback"),
            ("http://93.184.216.34/hook", "https"),
        ] {
            let (status, body) = post_json(
                &app.client,
                app.url("/api/admin/webhook-endpoints"),
                Some(&keys.admin),
                json!({ "url": url }),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{b}: {url}: {body}");
            assert_eq!(body["error"]["code"], "invalid_request", "{b}: {url}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(reason), "{b}: {url}: {message}");
        }
        let (status, body) = post_json(
            &app.client,
            app.url("/api/admin/webhook-endpoints"),
            Some(&keys.admin),
            json!({ "url": "https://93.184.216.34/hook", "event_types": ["invoice.paid"] }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b}: {body}");

        // An endpoint that became private (stored before the rule, or a
        // name now resolving inward) is refused at delivery time too.
        let receiver = Receiver::start().await;
        app.store
            .create_webhook_endpoint(&NewWebhookEndpoint {
                id: WebhookEndpointId::generate(),
                url: receiver.url.clone(),
                secret: EndpointSecret::generate(),
                event_types: None,
                created_at: now_ms(),
            })
            .await
            .expect("store an endpoint");
        let mut tx = app.store.begin().await.expect("begin");
        tx.enqueue_outbound(
            &OutboundEvent::credits_changed(json!({ "user_id": "ada", "balance": 1 })),
            now_ms(),
        )
        .await
        .expect("enqueue");
        tx.commit().await.expect("commit");
        let worker = DeliveryWorker::new(app.store.clone(), strict()).expect("worker");
        assert_eq!(worker.step().await.expect("step"), Step::Done, "{b}");
        assert!(
            receiver.received().is_empty(),
            "{b}: nothing reached loopback"
        );
        let log = deliveries(&app, &keys.admin, "").await;
        let error = log["data"][0]["error"].as_str().unwrap_or_default();
        assert!(error.contains("destination refused"), "{b}: {log}");
        assert_eq!(log["data"][0]["status"], "failed", "{b}: {log}");
    }
}

#[tokio::test]
async fn webhook_admin_routes_refuse_server_keys_and_anonymous_callers() {
    for app in support::apps().await {
        let keys = app.keys().await;
        for (method, path) in [
            (Method::GET, "/api/admin/webhook-endpoints"),
            (Method::POST, "/api/admin/webhook-endpoints"),
            (
                Method::DELETE,
                "/api/admin/webhook-endpoints/wep_01J00000000000000000000000",
            ),
            (Method::GET, "/api/admin/webhook-deliveries"),
            (
                Method::POST,
                "/api/admin/webhook-deliveries/dlv_01J00000000000000000000000/retry",
            ),
        ] {
            for (key, status) in [
                (Some(keys.server.as_str()), StatusCode::FORBIDDEN),
                (None, StatusCode::UNAUTHORIZED),
            ] {
                let mut request = app
                    .client
                    .request(method.clone(), app.url(path))
                    .json(&json!({ "url": "http://127.0.0.1:1/hook" }));
                if let Some(key) = key {
                    request = request.bearer_auth(key);
                }
                let response = request.send().await.expect("call");
                assert_eq!(
                    response.status(),
                    status,
                    "{}: {method} {path}",
                    app.backend
                );
            }
        }
        let deleted = app
            .client
            .delete(app.url("/api/admin/webhook-endpoints/wep_01J00000000000000000000000"))
            .bearer_auth(&keys.admin)
            .send()
            .await
            .expect("call");
        assert_eq!(deleted.status(), StatusCode::NOT_FOUND, "{}", app.backend);
        let (status, body) = post_json(
            &app.client,
            app.url("/api/admin/webhook-endpoints"),
            Some(&keys.admin),
            json!({ "url": "http://127.0.0.1:1/hook", "secret": "mine" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", app.backend);
    }
}

#[tokio::test]
async fn two_workers_on_one_database_deliver_each_message_once() {
    for t in paywarden_testkit::backends().await {
        let b = t.name;
        let other = Store::connect(&StoreOptions::new(t.url.clone()))
            .await
            .expect("a second connection, as another replica");
        let receiver = Receiver::start().await;
        t.store
            .create_webhook_endpoint(&NewWebhookEndpoint {
                id: WebhookEndpointId::generate(),
                url: receiver.url.clone(),
                secret: EndpointSecret::generate(),
                event_types: None,
                created_at: now_ms(),
            })
            .await
            .expect("endpoint");
        let mut tx = t.store.begin().await.expect("begin");
        for n in 0..40 {
            tx.enqueue_outbound(
                &OutboundEvent::credits_changed(json!({ "user_id": "ada", "balance": n })),
                now_ms(),
            )
            .await
            .expect("enqueue");
        }
        tx.commit().await.expect("commit");
        let settings = OutboundSettings {
            batch: 4,
            ..support::outbound_settings()
        };
        let workers = [
            DeliveryWorker::new(t.store.clone(), settings.clone()).expect("worker"),
            DeliveryWorker::new(other.clone(), settings).expect("worker"),
        ];
        // Both step until every message has arrived: a worker that finds
        // everything leased by the other sees nothing to do and tries again.
        let deadline = Instant::now() + Duration::from_secs(20);
        let runs = workers.iter().map(|worker| {
            let receiver = &receiver;
            async move {
                let mut steps = 0;
                while receiver.received().len() < 40 && Instant::now() < deadline {
                    match worker.step().await.expect("step") {
                        Step::Done => steps += 1,
                        Step::Idle => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
                steps
            }
        });
        let steps = futures::future::join_all(runs).await;
        assert!(
            steps.iter().sum::<usize>() >= 10,
            "{b}: 40 messages in batches of 4: {steps:?}"
        );
        let mut seen: HashMap<String, usize> = HashMap::new();
        for message in receiver.received() {
            *seen
                .entry(message.header("webhook-id").to_owned())
                .or_default() += 1;
        }
        assert_eq!(seen.len(), 40, "{b}: every message arrived");
        assert!(seen.values().all(|n| *n == 1), "{b}: none twice: {seen:?}");
        other.close().await;
        drop::<TestStore>(t);
    }
}

#[tokio::test]
async fn a_pack_and_a_debit_send_credits_changed_once_each() {
    for db in paywarden_testkit::backends().await {
        let shop = Shop::open(db).await;
        let b = shop.backend;
        let receiver = Receiver::start().await;
        let admin = shop.server_key(paywarden_store::ApiKeyRole::Admin).await;
        let endpoint = register(
            &shop.http,
            &shop.base,
            &admin,
            &receiver.url,
            Some(json!(["credits.changed"])),
        )
        .await;
        let secret = endpoint["secret"].as_str().expect("secret").to_owned();

        let session = shop.checkout("ada", "credits_100", None).await;
        assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER, "{b}");
        shop.flush().await;
        // Delivered twice over: still one grant, one message.
        shop.resend_all_events().await;
        let debit = shop
            .http
            .post(format!("{}/api/credits/debit", shop.base))
            .bearer_auth(Shop::token("ada"))
            .header("idempotency-key", "render-1")
            .json(&json!({ "amount": 30 }))
            .send()
            .await
            .expect("debit");
        assert_eq!(debit.status(), StatusCode::OK, "{b}");

        let worker =
            DeliveryWorker::new(shop.store.clone(), support::outbound_settings()).expect("worker");
        let received = deliver_until(&worker, &receiver, Duration::from_secs(10), |r| {
            r.len() >= 2
        })
        .await;
        // Nothing more is due.
        for _ in 0..5 {
            worker.step().await.expect("worker step");
        }
        let received = if receiver.received().len() > received.len() {
            receiver.received()
        } else {
            received
        };
        let bodies: Vec<Value> = received.iter().map(Received::json).collect();
        assert_eq!(bodies.len(), 2, "{b}: {bodies:?}");
        for message in &received {
            verify(message, &secret);
        }
        let summary: Vec<(Value, Value, Value)> = bodies
            .iter()
            .map(|m| {
                (
                    m["type"].clone(),
                    m["data"]["entry"]["kind"].clone(),
                    m["data"]["balance"].clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (json!("credits.changed"), json!("grant"), json!(100)),
                (json!("credits.changed"), json!("debit"), json!(70)),
            ],
            "{b}"
        );
        assert_eq!(bodies[0]["data"]["user_id"], "ada", "{b}");
    }
}
