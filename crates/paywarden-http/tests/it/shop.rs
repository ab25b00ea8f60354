//! A whole shop for one test: the app (real router, real store, user auth,
//! billing) on a loopback port, the Stripe stand-in on another, the demo
//! catalog synced into it, and the stand-in's webhook endpoint pointed at
//! the app's `/webhooks/stripe`. Optionally a misbehaving proxy sits
//! between the app and the stand-in.

use paywarden_app::limits::{LimitSettings, PaymentLimits};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use paywarden_app::auth::{ClaimRules, UserAuth};
use paywarden_app::billing::sync::sync_catalog;
use paywarden_app::billing::Billing;
use paywarden_app::entitlements::{CacheSettings, EntitlementCache, Entitlements};
use paywarden_app::keys;
use paywarden_app::webhooks::{WebhookInbox, WebhookSettings};
use paywarden_app::PublicBaseUrl;
use paywarden_core::catalog::Catalog;
use paywarden_core::signature::WebhookSecret;
use paywarden_http::{router, serve, AppState};
use paywarden_sim::state::Settings;
use paywarden_sim::Sim;
use paywarden_store::{ApiKeyRole, ProjectionReader, Store};
use paywarden_stripe::{StripeClient, StripeConfig};
use paywarden_testkit::stripe_proxy::{Action, Proxy};
use paywarden_testkit::{now_secs, TestStore};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The HS256 secret the product signs its users' tokens with.
pub const JWT_SECRET: &str = "the-product-signs-user-tokens-with-this!";
pub const AUDIENCE: &str = "paywarden-shop";
const STRIPE_KEY: &str = "sk_test_paywarden_shop";
pub const DEMO_CATALOG: &str = include_str!("../../../../catalog.toml");

/// An answer: status and JSON body (or `Null`).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

/// A shop serving one test.
pub struct Shop {
    pub base: String,
    pub sim_base: String,
    pub store: Store,
    pub backend: &'static str,
    pub http: reqwest::Client,
    pub endpoint: String,
    pub proxy: Option<Proxy>,
    /// This app's entitlement cache.
    pub cache: Arc<EntitlementCache>,
    _shutdown: tokio_util::sync::DropGuard,
    _db: Arc<TestStore>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Shop {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn stripe_client(base: &str) -> StripeClient {
    let mut config = StripeConfig::new(base.parse().expect("url"), STRIPE_KEY.to_owned().into());
    config.initial_retry_delay = Duration::from_millis(20);
    config.max_retry_delay = Duration::from_millis(100);
    config.timeout = Duration::from_secs(5);
    config.max_retries = 3;
    StripeClient::new(config).expect("client")
}

impl Shop {
    pub async fn open(db: TestStore) -> Self {
        Self::open_with(db, None::<fn(usize, &str) -> Action>).await
    }

    /// With a proxy between the app and Stripe that treats each request as
    /// `decide(number, request line)` says.
    pub async fn open_with(
        db: TestStore,
        decide: Option<impl Fn(usize, &str) -> Action + Send + Sync + 'static>,
    ) -> Self {
        Self::open_full(db, decide, CacheSettings::default(), None).await
    }

    /// With the payment endpoints' rate limits on.
    pub async fn open_with_limits(db: TestStore, limits: LimitSettings) -> Self {
        Self::open_full(
            db,
            None::<fn(usize, &str) -> Action>,
            CacheSettings::default(),
            Some(limits),
        )
        .await
    }

    /// With these entitlement cache settings (Redis, say).
    pub async fn open_with_cache(db: TestStore, cache: CacheSettings) -> Self {
        Self::open_full(db, None::<fn(usize, &str) -> Action>, cache, None).await
    }

    async fn open_full(
        db: TestStore,
        decide: Option<impl Fn(usize, &str) -> Action + Send + Sync + 'static>,
        cache: CacheSettings,
        limits: Option<LimitSettings>,
    ) -> Self {
        let db = Arc::new(db);
        let shutdown = CancellationToken::new();
        let cache = EntitlementCache::start(cache, shutdown.clone()).expect("cache");
        let store = db.store.clone().with_listener(cache.clone());
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        // The stand-in.
        let sim_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let sim_base = format!("http://{}", sim_listener.local_addr().expect("addr"));
        let sim = Sim::with_settings(Settings {
            public_url: sim_base.clone(),
            ..Settings::default()
        });
        let sim_task = tokio::spawn({
            let sim = sim.clone();
            async move {
                let _ = paywarden_sim::serve(sim_listener, sim, std::future::pending()).await;
            }
        });
        // The app's address first: the webhook endpoint needs it.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let endpoint: Value = http
            .post(format!("{sim_base}/v1/webhook_endpoints"))
            .bearer_auth(STRIPE_KEY)
            .form(&[
                ("url", format!("{base}/webhooks/stripe")),
                ("enabled_events[]", "*".to_owned()),
            ])
            .send()
            .await
            .expect("create the webhook endpoint")
            .json()
            .await
            .expect("json");
        let secret = endpoint["secret"].as_str().expect("a whsec_").to_owned();
        let proxy = match decide {
            Some(decide) => Some(Proxy::start_with(&sim_base, decide).await.expect("proxy")),
            None => None,
        };
        let stripe_base = proxy.as_ref().map_or(sim_base.clone(), |p| p.base.clone());
        let catalog = Arc::new(Catalog::parse(DEMO_CATALOG).expect("demo catalog"));
        sync_catalog(&stripe_client(&sim_base), &catalog, false)
            .await
            .expect("sync the catalog into the stand-in");
        let billing = Billing::new(
            store.clone(),
            stripe_client(&stripe_base),
            catalog.clone(),
            PublicBaseUrl::parse(&base).expect("base"),
            10,
        );
        let inbox = WebhookInbox::new(
            store.clone(),
            WebhookSettings {
                secrets: vec![WebhookSecret::parse_list(&secret)
                    .expect("secret")
                    .remove(0)],
                tolerance: Duration::from_secs(300),
                default_daily_cap: 10,
                catalog: Some(catalog.clone()),
            },
        );
        let auth = UserAuth::hs256(
            JWT_SECRET.to_owned().into(),
            ClaimRules {
                audience: Some(AUDIENCE.into()),
                issuer: None,
                leeway: Duration::from_secs(5),
            },
        )
        .expect("auth");
        let entitlements = Entitlements::new(store.clone(), catalog.clone(), cache.clone());
        let mut state = AppState::new(store.clone(), inbox);
        if let Some(limits) = &limits {
            state = state.with_limits(PaymentLimits::new(limits).expect("limits"));
        }
        let state = state
            .with_user_auth(auth, false)
            .with_billing(billing)
            .with_entitlements(entitlements)
            .with_outbound(paywarden_app::outbound::Outbound::new(
                store.clone(),
                crate::support::outbound_settings(),
            ));
        let app_task = tokio::spawn(async move {
            let _ = serve(listener, router(state), std::future::pending()).await;
        });
        Self {
            base,
            sim_base,
            store: store.clone(),
            backend: db.name,
            http,
            endpoint: endpoint["id"].as_str().expect("we_").to_owned(),
            proxy,
            _db: db,
            cache,
            _shutdown: shutdown.drop_guard(),
            tasks: vec![sim_task, app_task],
        }
    }

    /// A token for `user`, as the product would sign it.
    pub fn token(user: &str) -> String {
        token_with(json!({ "sub": user, "aud": AUDIENCE, "exp": now_secs() + 3600 }))
    }

    /// Calls the app as `user` (a bearer token) or anonymously.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with_token(method, path, user.map(Self::token).as_deref(), body)
            .await
    }

    pub async fn call_with_token(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("call the app");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    /// A `server` API key for the product's backend.
    pub async fn server_key(&self, role: ApiKeyRole) -> String {
        keys::create(&self.store, "shop backend", role)
            .await
            .expect("create a key")
            .reveal()
            .to_owned()
    }

    /// Starts a Checkout for `user`; panics unless it is created.
    pub async fn checkout(&self, user: &str, price: &str, quantity: Option<i64>) -> Value {
        let mut body = json!({ "price": price });
        if let Some(quantity) = quantity {
            body["quantity"] = json!(quantity);
        }
        let reply = self
            .call(
                Method::POST,
                "/api/checkout/session",
                Some(user),
                Some(body),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: {}",
            self.backend,
            reply.body
        );
        reply.body
    }

    /// Pays on the hosted Checkout page with `card`; the page's status.
    pub async fn pay(&self, session: &Value, card: &str) -> StatusCode {
        let url = session["url"].as_str().expect("a Checkout url");
        self.http
            .post(url)
            .form(&[
                ("email", "buyer@example.com"),
                ("name", "Ada Buyer"),
                ("card_number", card),
                ("exp", "12 / 40"),
                ("cvc", "123"),
            ])
            .send()
            .await
            .expect("submit the Checkout page")
            .status()
    }

    /// Waits until every webhook delivery the stand-in started is done.
    pub async fn flush(&self) {
        let answer = self
            .http
            .post(format!("{}/_sim/webhooks/flush", self.sim_base))
            .send()
            .await
            .expect("flush");
        assert!(answer.status().is_success(), "flush: {}", answer.status());
    }

    /// Stops (or restarts) deliveries to the app, as a dashboard toggle would.
    pub async fn deliveries_enabled(&self, enabled: bool) {
        let answer = self
            .http
            .post(format!(
                "{}/v1/webhook_endpoints/{}",
                self.sim_base, self.endpoint
            ))
            .bearer_auth(STRIPE_KEY)
            .form(&[("disabled", if enabled { "false" } else { "true" })])
            .send()
            .await
            .expect("toggle the endpoint");
        assert!(answer.status().is_success());
    }

    /// Sends every event the stand-in has made (again) to the app.
    pub async fn resend_all_events(&self) {
        for event in self.sim_list("/v1/events").await {
            let id = event["id"].as_str().expect("evt_");
            let answer = self
                .http
                .post(format!("{}/_sim/events/{id}/resend", self.sim_base))
                .send()
                .await
                .expect("resend");
            assert!(answer.status().is_success(), "resend {id}");
        }
        self.flush().await;
    }

    /// Every object of a stand-in list endpoint (`/v1/customers`, …).
    pub async fn sim_list(&self, path: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("limit", "100".to_owned())];
            if let Some(after) = &after {
                query.push(("starting_after", after.clone()));
            }
            let page: Value = self
                .http
                .get(format!("{}{path}", self.sim_base))
                .bearer_auth(STRIPE_KEY)
                .query(&query)
                .send()
                .await
                .expect("list")
                .json()
                .await
                .expect("json");
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data
                .last()
                .and_then(|o| o["id"].as_str())
                .map(str::to_owned);
            all.extend(data);
            if page["has_more"] != json!(true) {
                return all;
            }
        }
    }

    /// A form POST to the stand-in's API, as a Stripe SDK would send it.
    pub async fn sim_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let answer = self
            .http
            .post(format!("{}{path}", self.sim_base))
            .bearer_auth(STRIPE_KEY)
            .form(form)
            .send()
            .await
            .expect("post to the stand-in");
        let status = answer.status();
        let body: Value = answer.json().await.expect("json");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// One stand-in object, by path.
    pub async fn sim_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.sim_base))
            .bearer_auth(STRIPE_KEY)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    pub async fn digest(&self) -> Vec<String> {
        self.store.projection_digest().await.expect("digest")
    }
}

/// A token with exactly these claims, HS256 with the product's secret.
pub fn token_with(claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign")
}

/// One shop per available backend.
pub async fn shops() -> Vec<Shop> {
    let mut shops = Vec::new();
    for db in paywarden_testkit::backends().await {
        shops.push(Shop::open(db).await);
    }
    shops
}
