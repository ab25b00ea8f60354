//! What every case needs: the real router served on `127.0.0.1:0`, a client
//! for it, the store behind it, signed deliveries, operator keys, and
//! Stripe event bodies.

use std::sync::Arc;
use std::time::Duration;

use paywarden_app::keys;
use paywarden_app::outbound::{DestinationPolicy, Outbound, OutboundSettings};
use paywarden_app::webhooks::{WebhookInbox, WebhookSettings};
use paywarden_core::signature::{header_for, WebhookSecret};
use paywarden_http::{router, serve, AppState};
use paywarden_store::{
    ApiKeyRole, EventLog, ProjectionCounts, ProjectionReader, Store, StoredEvent,
};
use paywarden_testkit::{now_secs, TestStore, TEST_WEBHOOK_SECRET};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The daily cap a provisioned account starts with, unless a case says otherwise.
pub const DAILY_CAP: i64 = 40;

/// How the app under test is configured.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Accepted webhook secrets (rotation: more than one).
    pub secrets: Vec<String>,
    /// The cap provisioned accounts start with (webhooks and retries alike).
    pub daily_cap: i64,
    /// Outbound webhooks (tests reach receivers on loopback).
    pub outbound: OutboundSettings,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            secrets: vec![TEST_WEBHOOK_SECRET.to_owned()],
            daily_cap: DAILY_CAP,
            outbound: outbound_settings(),
        }
    }
}

/// The application, served for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// `sqlite` or `postgres`, for messages.
    pub backend: &'static str,
    /// The secrets the app accepts; deliveries are signed with the first.
    pub secrets: Vec<String>,
    // Keeps the database (a SQLite temp dir) alive as long as the app.
    _db: Arc<TestStore>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestApp({} at {})", self.backend, self.base)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Idle keep-alive connections would hold a graceful shutdown open.
        self.server.abort();
    }
}

/// An answer from the app.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    /// `error.code` of an error body.
    pub fn error_code(&self) -> Option<&str> {
        self.json
            .get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
    }

    /// Asserts the error envelope: this status, this code, a non-empty message.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: status; body {}", self.text);
        assert_eq!(
            self.error_code(),
            Some(code),
            "{what}: error code; body {}",
            self.text
        );
        let message = self.json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "{what}: error message; body {}",
            self.text
        );
        let keys: Vec<&String> = self
            .json
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            ["error"],
            "{what}: only `error` at the top; body {}",
            self.text
        );
    }

    pub fn is_duplicate(&self) -> bool {
        self.json.get("duplicate") == Some(&Value::Bool(true))
    }
}

impl TestApp {
    /// Serves the app with the default configuration on a fresh store.
    pub async fn spawn(db: TestStore) -> Self {
        Self::spawn_with(Arc::new(db), AppConfig::default()).await
    }

    /// Serves the app on `db` (which another app may share).
    pub async fn spawn_with(db: Arc<TestStore>, config: AppConfig) -> Self {
        let secrets = config
            .secrets
            .iter()
            .map(|s| WebhookSecret::new(s).expect("non-blank test secret"))
            .collect();
        let store = db.store.clone();
        let inbox = WebhookInbox::new(
            store.clone(),
            WebhookSettings {
                secrets,
                tolerance: Duration::from_secs(300),
                default_daily_cap: config.daily_cap,
                catalog: None,
            },
        );
        let state = AppState::new(store.clone(), inbox)
            .with_outbound(Outbound::new(store.clone(), config.outbound.clone()));
        // Bound before serving: the socket accepts at once, no waiting needed.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router(state), async {
            let _ = stop.await;
        }));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Self {
            base: format!("http://{addr}"),
            client,
            store,
            backend: db.name,
            secrets: config.secrets,
            _db: db,
            shutdown: Some(shutdown),
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn reply(&self, request: reqwest::RequestBuilder, what: &str) -> Reply {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("[{}] {what}: request failed: {e}", self.backend));
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("[{}] {what}: reading body: {e}", self.backend));
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    /// POSTs `body` to the webhook endpoint with this `Stripe-Signature`
    /// (none when `None`), byte for byte.
    pub async fn post_webhook(&self, body: Vec<u8>, signature: Option<&str>) -> Reply {
        let mut request = self
            .client
            .post(self.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        self.reply(request, "POST /webhooks/stripe").await
    }

    /// Signs `body` now with the first configured secret and delivers it.
    pub async fn deliver(&self, body: &[u8]) -> Reply {
        let header = sign_at(&self.secrets[0], now_secs(), body);
        self.post_webhook(body.to_vec(), Some(&header)).await
    }

    /// Delivers `body` and asserts it was accepted as a first delivery.
    #[track_caller]
    pub fn assert_received(&self, reply: &Reply, what: &str) {
        assert_eq!(
            (reply.status, &reply.json),
            (StatusCode::OK, &json!({ "received": true })),
            "[{}] {what}: body {}",
            self.backend,
            reply.text
        );
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.client.get(self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.reply(request, &format!("GET {path}")).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.client.post(self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.reply(request, &format!("POST {path}")).await
    }

    /// A fresh admin key and a fresh server key, made as `paywarden keys create` makes them.
    pub async fn keys(&self) -> Keys {
        let admin = keys::create(&self.store, "test admin", ApiKeyRole::Admin)
            .await
            .expect("create admin key");
        let server = keys::create(&self.store, "test server", ApiKeyRole::Server)
            .await
            .expect("create server key");
        Keys {
            admin: admin.reveal().to_owned(),
            admin_id: admin.key.id.to_string(),
            server: server.reveal().to_owned(),
        }
    }

    pub async fn counts(&self) -> ProjectionCounts {
        self.store
            .projection_counts()
            .await
            .unwrap_or_else(|e| panic!("[{}] projection counts: {e}", self.backend))
    }

    pub async fn digest(&self) -> Vec<String> {
        self.store
            .projection_digest()
            .await
            .unwrap_or_else(|e| panic!("[{}] projection digest: {e}", self.backend))
    }

    pub async fn event(&self, id: &str) -> Option<StoredEvent> {
        let id = id.parse().expect("test event id");
        self.store
            .event(&id)
            .await
            .unwrap_or_else(|e| panic!("[{}] read event {id}: {e}", self.backend))
    }

    /// The stored event, which must exist.
    pub async fn stored(&self, id: &str) -> StoredEvent {
        self.event(id)
            .await
            .unwrap_or_else(|| panic!("[{}] event {id} is not stored", self.backend))
    }
}

/// Operator keys, in full.
#[derive(Debug, Clone)]
pub struct Keys {
    pub admin: String,
    pub admin_id: String,
    pub server: String,
}

/// Outbound settings for tests: loopback receivers over http allowed, a
/// fast retry schedule (three retries, 20 ms apart), a short timeout.
pub fn outbound_settings() -> OutboundSettings {
    OutboundSettings {
        destinations: DestinationPolicy {
            allow_private: true,
            allow_http: true,
        },
        timeout: Duration::from_secs(2),
        schedule: vec![Duration::from_millis(20); 3],
        poll: Duration::from_millis(20),
        batch: 16,
    }
}

/// A `Stripe-Signature` header for `body` at `timestamp`, one `v1` for `secret`.
pub fn sign_at(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let secret = WebhookSecret::new(secret).expect("non-blank secret");
    header_for(&[secret], timestamp, body)
}

/// Every backend, each with a fresh store.
pub async fn apps() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for db in paywarden_testkit::backends().await {
        apps.push(TestApp::spawn(db).await);
    }
    apps
}

/// Stripe event bodies, shaped as Stripe sends them (2024-06-20, periods on
/// the subscription).
pub mod stripe {
    use serde_json::{json, Value};

    /// The envelope around `object`.
    pub fn event(id: &str, event_type: &str, created: i64, object: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": created,
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": event_type,
            "data": { "object": object },
        }))
        .expect("serialize event")
    }

    pub fn invoice_paid(
        id: &str,
        invoice: &str,
        customer: &str,
        amount: i64,
        created: i64,
    ) -> Vec<u8> {
        event(
            id,
            "invoice.paid",
            created,
            json!({
                "id": invoice,
                "object": "invoice",
                "customer": customer,
                "subscription": null,
                "status": "paid",
                "amount_due": amount,
                "amount_paid": amount,
                "total": amount,
                "currency": "eur",
                "billing_reason": "manual",
                "lines": { "object": "list", "data": [] },
                "created": created,
            }),
        )
    }

    /// A paid one-off Checkout Session of `user`.
    pub fn checkout_paid(
        id: &str,
        session: &str,
        user: &str,
        customer: &str,
        created: i64,
    ) -> Vec<u8> {
        event(
            id,
            "checkout.session.completed",
            created,
            json!({
                "id": session,
                "object": "checkout.session",
                "mode": "payment",
                "status": "complete",
                "payment_status": "paid",
                "client_reference_id": user,
                "customer": customer,
                "customer_details": { "email": format!("{user}@example.com") },
                "amount_total": 1900,
                "currency": "eur",
                "metadata": {},
                "created": created,
            }),
        )
    }

    /// A subscription snapshot with one item.
    pub fn subscription(
        id: &str,
        event_type: &str,
        created: i64,
        subscription: &str,
        status: &str,
        quantity: i64,
    ) -> Vec<u8> {
        let canceled = status == "canceled";
        event(
            id,
            event_type,
            created,
            json!({
                "id": subscription,
                "object": "subscription",
                "customer": format!("cus_{}", &subscription[4..]),
                "status": status,
                "current_period_start": created - created % 1000,
                "current_period_end": created - created % 1000 + 30 * 86_400,
                "cancel_at_period_end": false,
                "cancel_at": null,
                "canceled_at": if canceled { Some(created) } else { None },
                "ended_at": if canceled { Some(created) } else { None },
                "pause_collection": null,
                "trial_start": null,
                "trial_end": null,
                "metadata": {},
                "items": {
                    "object": "list",
                    "data": [{
                        "id": format!("si_{}", &subscription[4..]),
                        "object": "subscription_item",
                        "quantity": quantity,
                        "price": {
                            "id": "price_pro",
                            "object": "price",
                            "product": "prod_pro",
                            "currency": "eur",
                            "unit_amount": 900,
                            "recurring": { "interval": "month", "interval_count": 1 },
                        },
                    }],
                },
            }),
        )
    }

    /// A type paywarden does not project.
    pub fn unprojected(id: &str, created: i64) -> Vec<u8> {
        event(
            id,
            "balance.available",
            created,
            json!({ "object": "balance", "available": [] }),
        )
    }

    /// A subscription event whose object cannot be read: `items` is not a list.
    pub fn malformed_subscription(id: &str, subscription: &str, created: i64) -> Vec<u8> {
        event(
            id,
            "customer.subscription.updated",
            created,
            json!({
                "id": subscription,
                "object": "subscription",
                "status": "active",
                "items": "nope",
            }),
        )
    }
}
