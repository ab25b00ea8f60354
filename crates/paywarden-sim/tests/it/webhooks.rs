//! Webhook endpoints, the Events API, signed deliveries with retries and
//! chaos, and the `/_sim` control routes, against a local receiver.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use paywarden_core::signature::{verify, WebhookSecret};
use paywarden_sim::delivery::DeliverySettings;
use paywarden_sim::events::Cause;
use paywarden_sim::state::Settings;
use paywarden_sim::Sim;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::KEY;

/// A sim the test keeps a handle on (to insert objects or emit events).
#[derive(Debug)]
pub struct SimServer {
    pub base: String,
    pub client: reqwest::Client,
    pub sim: Sim,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl SimServer {
    pub async fn start(sim: Sim) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(paywarden_sim::serve(listener, sim.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            base,
            client: reqwest::Client::new(),
            sim,
            _stop: stop,
        })
    }

    pub async fn with_delivery(delivery: DeliverySettings) -> anyhow::Result<Self> {
        Self::start(Sim::with_settings(Settings {
            delivery,
            ..Settings::default()
        }))
        .await
    }

    /// Sends a request with the test key and an optional Stripe-Version;
    /// returns status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: &str,
        version: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(version) = version {
            request = request.header("stripe-version", version);
        }
        let response = request.send().await?;
        Ok((response.status().as_u16(), response.json().await?))
    }

    pub async fn ok(&self, method: Method, path: &str, body: &str) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, body, None).await?;
        anyhow::ensure!(status == 200, "{method} {path} {body}: {status} {value}");
        Ok(value)
    }

    /// A control route (no API key).
    pub async fn control(&self, method: Method, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .request(method, format!("{}/_sim{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
        Ok(response.json().await?)
    }

    pub async fn flush(&self) -> anyhow::Result<Value> {
        let flushed = self.control(Method::POST, "/webhooks/flush", "").await?;
        anyhow::ensure!(flushed["settled"] == true, "not settled: {flushed}");
        Ok(flushed)
    }

    /// Emits an event about `object` directly, as a module would.
    pub fn emit(&self, at: i64, kind: &str, object: &Value) -> String {
        self.sim
            .objects()
            .emit(&Cause::automatic(), at, kind, object, None)
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    /// Answer 500 to this many requests first.
    fail_first: AtomicUsize,
    /// Wait this long before answering.
    delay: Duration,
}

/// A local webhook receiver on port 0 that records every request.
#[derive(Debug)]
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    tokio::time::sleep(state.delay).await;
    let failing = state
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if let Ok(mut got) = state.got.lock() {
        got.push(Received { headers, body });
    }
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

impl Receiver {
    pub async fn start(fail_first: usize) -> anyhow::Result<Self> {
        Self::with(fail_first, Duration::ZERO).await
    }

    /// A receiver that answers 200 only after `delay`.
    pub async fn slow(delay: Duration) -> anyhow::Result<Self> {
        Self::with(0, delay).await
    }

    async fn with(fail_first: usize, delay: Duration) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let state = Arc::new(ReceiverState {
            got: Mutex::new(Vec::new()),
            fail_first: AtomicUsize::new(fail_first),
            delay,
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            url,
            state,
            _stop: stop,
        })
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Event ids in arrival order.
    pub fn event_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter_map(|r| r.json()["id"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Creates an endpoint for `url` taking `events`; returns (id, secret).
pub async fn endpoint(
    server: &SimServer,
    url: &str,
    events: &[&str],
    extra: &str,
) -> anyhow::Result<(String, String)> {
    let mut body = format!("url={url}{extra}");
    for event in events {
        body.push_str(&format!("&enabled_events[]={event}"));
    }
    let created = server
        .ok(Method::POST, "/v1/webhook_endpoints", &body)
        .await?;
    Ok((
        created["id"].as_str().unwrap_or_default().to_owned(),
        created["secret"].as_str().unwrap_or_default().to_owned(),
    ))
}

fn fast() -> DeliverySettings {
    DeliverySettings {
        retry_base: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
        ..DeliverySettings::default()
    }
}

fn str_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn endpoints_crud_and_secret_only_on_create() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let created = server
        .ok(
            Method::POST,
            "/v1/webhook_endpoints",
            "url=https://example.com/hook&enabled_events[]=invoice.paid&enabled_events[]=customer.created&description=main&metadata[team]=7&api_version=2024-06-20",
        )
        .await?;
    let id = str_of(&created["id"]);
    assert!(id.starts_with("we_"));
    assert_eq!(created["object"], "webhook_endpoint");
    assert!(str_of(&created["secret"]).starts_with("whsec_"));
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["api_version"], "2024-06-20");
    assert_eq!(
        created["enabled_events"],
        json!(["invoice.paid", "customer.created"])
    );
    assert_eq!(created["metadata"], json!({"team": "7"}));
    assert!(created.get("_sim").is_none());

    let fetched = server
        .ok(Method::GET, &format!("/v1/webhook_endpoints/{id}"), "")
        .await?;
    assert!(fetched.get("secret").is_none(), "{fetched}");
    assert_eq!(fetched["url"], "https://example.com/hook");

    let updated = server
        .ok(
            Method::POST,
            &format!("/v1/webhook_endpoints/{id}"),
            "disabled=true&enabled_events[]=*&description=",
        )
        .await?;
    assert_eq!(updated["status"], "disabled");
    assert_eq!(updated["enabled_events"], json!(["*"]));
    assert!(updated["description"].is_null());
    assert!(updated.get("secret").is_none());

    let list = server.ok(Method::GET, "/v1/webhook_endpoints", "").await?;
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], id.as_str());
    assert!(list["data"][0].get("secret").is_none());

    let deleted = server
        .ok(Method::DELETE, &format!("/v1/webhook_endpoints/{id}"), "")
        .await?;
    assert_eq!(
        deleted,
        json!({"id": id, "object": "webhook_endpoint", "deleted": true})
    );
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/v1/webhook_endpoints/{id}"),
            "",
            None,
        )
        .await?;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "resource_missing");

    for (body, param) in [
        ("enabled_events[]=*", "url"),
        ("url=https://example.com", "enabled_events"),
        ("url=not a url&enabled_events[]=*", "url"),
        (
            "url=https://e.com&enabled_events[]=Bad Event",
            "enabled_events[0]",
        ),
        (
            "url=https://e.com&enabled_events[]=*&api_version=2019-01-01",
            "api_version",
        ),
        ("url=https://e.com&enabled_events[]=*&wat=1", "wat"),
    ] {
        let (status, error) = server
            .call(Method::POST, "/v1/webhook_endpoints", body, None)
            .await?;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
    }
    Ok(())
}

#[tokio::test]
async fn deliveries_are_signed_filtered_and_acknowledged() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(fast()).await?;
    let receiver = Receiver::start(0).await?;
    let (_, secret) = endpoint(&server, &receiver.url, &["customer.created"], "").await?;
    let customer = server
        .ok(Method::POST, "/v1/customers", "email=a%40example.com")
        .await?;
    server
        .ok(Method::POST, "/v1/products", "name=Not+wanted")
        .await?;
    server.flush().await?;

    let got = receiver.received();
    assert_eq!(got.len(), 1, "only the wanted type is sent");
    let delivery = &got[0];
    assert_eq!(
        delivery.headers["content-type"],
        "application/json; charset=utf-8"
    );
    let header = delivery.headers["stripe-signature"].to_str()?;
    let now = paywarden_sim::state::now();
    verify(
        &[WebhookSecret::new(&secret)?],
        Some(header),
        &delivery.body,
        now,
        300,
    )?;
    let event = delivery.json();
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "customer.created");
    assert_eq!(event["data"]["object"]["id"], customer["id"]);
    assert_eq!(event["api_version"], paywarden_sim::DEFAULT_STRIPE_VERSION);
    assert!(event.get("_sim").is_none());
    assert_eq!(
        event["pending_webhooks"], 1,
        "sent before it was acknowledged"
    );

    let stored = server
        .ok(
            Method::GET,
            &format!("/v1/events/{}", str_of(&event["id"])),
            "",
        )
        .await?;
    assert_eq!(stored["pending_webhooks"], 0);
    // product.created went nowhere, so nothing is pending for it either.
    let successful = server
        .ok(Method::GET, "/v1/events?delivery_success=true", "")
        .await?;
    assert_eq!(successful["data"].as_array().map(Vec::len), Some(2));
    let failed = server
        .ok(Method::GET, "/v1/events?delivery_success=false", "")
        .await?;
    assert_eq!(failed["data"].as_array().map(Vec::len), Some(0));

    let log = server.control(Method::GET, "/deliveries", "").await?;
    assert_eq!(log["data"][0]["event"], event["id"]);
    assert_eq!(log["data"][0]["status"], 200);
    assert_eq!(log["data"][0]["attempt"], 1);
    Ok(())
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_a_fresh_signature() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(fast()).await?;
    let receiver = Receiver::start(2).await?;
    let (_, secret) = endpoint(&server, &receiver.url, &["*"], "").await?;
    server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    server.flush().await?;
    let got = receiver.received();
    assert_eq!(got.len(), 3, "two 500s, then success");
    let ids = receiver.event_ids();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    for delivery in &got {
        let header = delivery.headers["stripe-signature"].to_str()?;
        verify(
            &[WebhookSecret::new(&secret)?],
            Some(header),
            &delivery.body,
            paywarden_sim::state::now(),
            300,
        )?;
    }
    let log = server
        .control(Method::GET, &format!("/deliveries?event={}", ids[0]), "")
        .await?;
    let statuses: Vec<&Value> = log["data"]
        .as_array()
        .map(|a| a.iter().map(|d| &d["status"]).collect())
        .unwrap_or_default();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    let event = server
        .ok(Method::GET, &format!("/v1/events/{}", ids[0]), "")
        .await?;
    assert_eq!(event["pending_webhooks"], 0);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_endpoint_gives_up_after_bounded_attempts() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(DeliverySettings {
        max_attempts: 3,
        retry_base: Duration::from_millis(20),
        ..fast()
    })
    .await?;
    // A port nothing listens on: bind, read the port, close.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", closed.local_addr()?);
    drop(closed);
    endpoint(&server, &url, &["*"], "").await?;
    let healthy = Receiver::start(0).await?;
    endpoint(&server, &healthy.url, &["*"], "").await?;
    server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    server.flush().await?;
    let log = server.control(Method::GET, "/deliveries", "").await?;
    let failures: Vec<&Value> = log["data"]
        .as_array()
        .map(|a| a.iter().filter(|d| d["succeeded"] == false).collect())
        .unwrap_or_default();
    assert_eq!(failures.len(), 3);
    assert!(failures
        .iter()
        .all(|d| str_of(&d["error"]).starts_with("connection error")));
    assert_eq!(
        healthy.received().len(),
        1,
        "one endpoint's failure does not stop another"
    );
    let event = server
        .ok(Method::GET, "/v1/events?type=customer.created", "")
        .await?;
    assert_eq!(event["data"][0]["pending_webhooks"], 1);
    Ok(())
}

#[tokio::test]
async fn a_slow_endpoint_times_out_without_holding_up_others() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(DeliverySettings {
        max_attempts: 2,
        retry_base: Duration::from_millis(50),
        timeout: Duration::from_millis(300),
        ..fast()
    })
    .await?;
    let slow = Receiver::slow(Duration::from_secs(3)).await?;
    let (slow_id, _) = endpoint(&server, &slow.url, &["*"], "").await?;
    let quick = Receiver::start(0).await?;
    let (quick_id, _) = endpoint(&server, &quick.url, &["*"], "").await?;
    server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    server.flush().await?;
    let server = &server;
    let of = |id: String| async move {
        let log = server
            .control(Method::GET, &format!("/deliveries?endpoint={id}"), "")
            .await?;
        anyhow::Ok(log["data"].as_array().cloned().unwrap_or_default())
    };
    let slow_log = of(slow_id.clone()).await?;
    assert_eq!(slow_log.len(), 2, "{slow_log:?}");
    assert!(slow_log.iter().all(|d| d["error"] == "timeout"));
    let quick_log = of(quick_id.clone()).await?;
    assert_eq!(quick_log.len(), 1);
    assert_eq!(quick_log[0]["status"], 200);
    assert!(
        quick_log[0]["sequence"].as_u64() < slow_log[0]["sequence"].as_u64(),
        "the quick endpoint was answered before the slow one timed out"
    );
    Ok(())
}

#[tokio::test]
async fn an_endpoint_gets_only_events_after_its_creation() -> anyhow::Result<()> {
    // A wide reorder window holds the first event back while the endpoint
    // is created.
    let server = SimServer::with_delivery(DeliverySettings {
        reorder_window: 10,
        ..fast()
    })
    .await?;
    let receiver = Receiver::start(0).await?;
    let before = server.emit(
        1,
        "customer.created",
        &json!({"id": "cus_a", "object": "customer"}),
    );
    endpoint(&server, &receiver.url, &["*"], "").await?;
    let after = server.emit(
        2,
        "customer.created",
        &json!({"id": "cus_b", "object": "customer"}),
    );
    server.flush().await?;
    assert_eq!(receiver.event_ids(), [after]);
    let old = server
        .ok(Method::GET, &format!("/v1/events/{before}"), "")
        .await?;
    assert_eq!(old["pending_webhooks"], 0);
    Ok(())
}

#[tokio::test]
async fn disabled_endpoints_get_nothing() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(fast()).await?;
    let receiver = Receiver::start(0).await?;
    let (id, _) = endpoint(&server, &receiver.url, &["*"], "").await?;
    server
        .ok(
            Method::POST,
            &format!("/v1/webhook_endpoints/{id}"),
            "disabled=true",
        )
        .await?;
    server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    server.flush().await?;
    assert!(receiver.received().is_empty());
    Ok(())
}

#[tokio::test]
async fn duplicate_chaos_sends_every_event_twice() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(DeliverySettings {
        duplicate_probability: 1.0,
        ..fast()
    })
    .await?;
    let receiver = Receiver::start(0).await?;
    endpoint(&server, &receiver.url, &["*"], "").await?;
    server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    server.flush().await?;
    let ids = receiver.event_ids();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
    let event = server
        .ok(Method::GET, &format!("/v1/events/{}", ids[0]), "")
        .await?;
    assert_eq!(event["pending_webhooks"], 0, "acknowledged once");
    Ok(())
}

/// Under reordering chaos, emits six events in one go and returns the
/// position (in emission order) of each event in dispatch order, the
/// delivered `created` values by emission order, and the stored ones.
async fn reordered(seed: u64) -> anyhow::Result<(Vec<usize>, Vec<i64>, Vec<i64>)> {
    let server = SimServer::with_delivery(DeliverySettings {
        reorder_window: 6,
        same_second: true,
        seed,
        ..fast()
    })
    .await?;
    let receiver = Receiver::start(0).await?;
    endpoint(&server, &receiver.url, &["*"], "").await?;
    let emitted: Vec<String> = {
        let mut objects = server.sim.objects();
        (0..6)
            .map(|i| {
                let customer = json!({"id": format!("cus_{i}"), "object": "customer"});
                objects.emit(
                    &Cause::automatic(),
                    1_000 + i,
                    "customer.updated",
                    &customer,
                    None,
                )
            })
            .collect()
    };
    server.flush().await?;
    let log = server.control(Method::GET, "/deliveries", "").await?;
    let mut attempts: Vec<(u64, String)> = log["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| (d["dispatch"].as_u64().unwrap_or(0), str_of(&d["event"])))
                .collect()
        })
        .unwrap_or_default();
    attempts.sort();
    let positions = attempts
        .iter()
        .filter_map(|(_, id)| emitted.iter().position(|e| e == id))
        .collect();
    let mut delivered: Vec<(usize, i64)> = receiver
        .received()
        .iter()
        .filter_map(|r| {
            let event = r.json();
            let at = emitted.iter().position(|e| *e == str_of(&event["id"]))?;
            Some((at, event["created"].as_i64().unwrap_or(0)))
        })
        .collect();
    delivered.sort();
    let stored = {
        let objects = server.sim.objects();
        emitted
            .iter()
            .filter_map(|id| objects.events.get(id).and_then(|e| e["created"].as_i64()))
            .collect()
    };
    Ok((
        positions,
        delivered.into_iter().map(|d| d.1).collect(),
        stored,
    ))
}

#[tokio::test]
async fn reorder_chaos_is_seeded_and_same_second_shares_created() -> anyhow::Result<()> {
    let (order, created, stored) = reordered(7).await?;
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2, 3, 4, 5], "every event goes out once");
    assert_ne!(order, sorted, "seed 7 shuffles the group");
    let (again, _, _) = reordered(7).await?;
    assert_eq!(again, order, "the same seed replays the same order");
    // Groups of SAME_SECOND_GROUP consecutive events share the first's second,
    // and the Events API agrees with the payloads.
    assert_eq!(created, [1_000, 1_000, 1_000, 1_000, 1_004, 1_004]);
    assert_eq!(created, stored);
    Ok(())
}

#[tokio::test]
async fn resend_delivers_the_same_event_again() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(fast()).await?;
    let receiver = Receiver::start(0).await?;
    endpoint(&server, &receiver.url, &["customer.created"], "").await?;
    server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    server.flush().await?;
    let first = receiver.event_ids();
    assert_eq!(first.len(), 1);
    let resent = server
        .control(Method::POST, &format!("/events/{}/resend", first[0]), "")
        .await?;
    assert_eq!(resent["deliveries"], 1);
    server.flush().await?;
    assert_eq!(receiver.event_ids(), [first[0].clone(), first[0].clone()]);
    let response = server
        .client
        .post(format!("{}/_sim/events/evt_nope/resend", server.base))
        .send()
        .await?;
    assert_eq!(response.status(), 404);
    Ok(())
}

#[tokio::test]
async fn endpoint_api_version_shapes_the_payload() -> anyhow::Result<()> {
    let server = SimServer::with_delivery(fast()).await?;
    let old = Receiver::start(0).await?;
    let new = Receiver::start(0).await?;
    endpoint(&server, &old.url, &["*"], "&api_version=2024-06-20").await?;
    endpoint(&server, &new.url, &["*"], "").await?;
    let subscription = json!({
        "id": "sub_1", "object": "subscription", "status": "active",
        "_sim": {"private": true},
        "items": {"object": "list", "data": [
            {"id": "si_1", "object": "subscription_item",
             "current_period_start": 100, "current_period_end": 200}
        ]}
    });
    server.emit(50, "customer.subscription.created", &subscription);
    server.flush().await?;
    let old_event = old.received()[0].json();
    assert_eq!(old_event["api_version"], "2024-06-20");
    assert_eq!(old_event["data"]["object"]["current_period_end"], 200);
    assert!(old_event["data"]["object"].get("_sim").is_none());
    let new_event = new.received()[0].json();
    assert_eq!(
        new_event["api_version"],
        paywarden_sim::DEFAULT_STRIPE_VERSION
    );
    assert!(new_event["data"]["object"]
        .get("current_period_end")
        .is_none());
    assert!(new_event["data"]["object"].get("_sim").is_none());
    Ok(())
}

#[tokio::test]
async fn events_list_filters_and_pages_newest_first() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    for name in ["a", "b", "c"] {
        server
            .ok(Method::POST, "/v1/customers", &format!("name={name}"))
            .await?;
    }
    server
        .ok(
            Method::POST,
            "/v1/prices",
            "currency=usd&unit_amount=100&product_data[name]=P",
        )
        .await?;
    let all = server.ok(Method::GET, "/v1/events", "").await?;
    let types: Vec<&str> = all["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        types,
        [
            "price.created",
            "product.created",
            "customer.created",
            "customer.created",
            "customer.created"
        ]
    );
    assert_eq!(all["url"], "/v1/events");
    let first = server
        .ok(Method::GET, "/v1/events?type=customer.created&limit=2", "")
        .await?;
    assert_eq!(first["has_more"], true);
    let last_id = str_of(&first["data"][1]["id"]);
    let second = server
        .ok(
            Method::GET,
            &format!("/v1/events?type=customer.created&limit=2&starting_after={last_id}"),
            "",
        )
        .await?;
    assert_eq!(second["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["has_more"], false);
    assert_eq!(second["data"][0]["data"]["object"]["name"], "a");

    let wildcard = server.ok(Method::GET, "/v1/events?type=pr*", "").await?;
    assert_eq!(wildcard["data"].as_array().map(Vec::len), Some(2));
    let several = server
        .ok(
            Method::GET,
            "/v1/events?types[]=price.created&types[]=product.created",
            "",
        )
        .await?;
    assert_eq!(several["data"].as_array().map(Vec::len), Some(2));
    let created = all["data"][0]["created"].as_i64().unwrap_or(0);
    let none = server
        .ok(
            Method::GET,
            &format!("/v1/events?created[gt]={created}"),
            "",
        )
        .await?;
    assert_eq!(none["data"].as_array().map(Vec::len), Some(0));

    for (query, param) in [
        ("type=a.b&types[]=c.d", "types"),
        ("wat=1", "wat"),
        ("limit=0", "limit"),
    ] {
        let (status, body) = server
            .call(Method::GET, &format!("/v1/events?{query}"), "", None)
            .await?;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["param"], param);
    }
    let (status, body) = server
        .call(Method::GET, "/v1/events/evt_nope", "", None)
        .await?;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "resource_missing");
    Ok(())
}

#[tokio::test]
async fn control_routes_health_and_clock() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let health = server.control(Method::GET, "/health", "").await?;
    assert_eq!(health["status"], "ok");
    let before = paywarden_sim::state::now();
    let moved = server
        .control(Method::POST, "/clock/advance", "seconds=86400")
        .await?;
    assert!(moved["now"].as_i64().unwrap_or(0) >= before + 86_400);
    let customer = server
        .ok(Method::POST, "/v1/customers", "name=Later")
        .await?;
    let event = server.ok(Method::GET, "/v1/events?limit=1", "").await?;
    assert!(event["data"][0]["created"].as_i64().unwrap_or(0) >= before + 86_400);
    assert_eq!(event["data"][0]["data"]["object"]["id"], customer["id"]);
    let target = moved["now"].as_i64().unwrap_or(0) + 60;
    let to = server
        .control(Method::POST, "/clock/advance", &format!("to={target}"))
        .await?;
    assert!(to["now"].as_i64().unwrap_or(0) >= target);
    for body in ["seconds=-1", "to=1", "", "seconds=1&to=5"] {
        let response = server
            .client
            .post(format!("{}/_sim/clock/advance", server.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        assert_eq!(response.status(), 400, "{body}");
    }
    Ok(())
}
