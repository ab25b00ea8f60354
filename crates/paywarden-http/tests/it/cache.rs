//! The entitlements cache across replicas: two apps on one database (and
//! one Redis, reached through a proxy that can cut it), checked over HTTP.
//! A change acknowledged on one replica is seen there at once and on the
//! other within 100 ms; `min_version` never answers older; expired grants
//! are never served; Redis going away costs fallbacks, never a 5xx.

use std::sync::Arc;
use std::time::{Duration, Instant};

use paywarden_app::entitlements::{CacheSettings, EntitlementCache, Entitlements, RedisSettings};
use paywarden_app::webhooks::{WebhookInbox, WebhookSettings};
use paywarden_core::catalog::Catalog;
use paywarden_http::{router, serve, AppState};
use paywarden_store::{ApiKeyRole, DatabaseUrl, Store, StoreOptions};
use paywarden_testkit::chaos_proxy::ChaosProxy;
use paywarden_testkit::{now_secs, TestStore};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::shop::{Shop, DEMO_CATALOG};

/// The shared Redis, or `None` (the test is skipped outside CI).
fn redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "TEST_REDIS_URL must be set in CI: run scripts/test"
            );
            eprintln!("TEST_REDIS_URL unset: skipping");
            None
        }
    }
}

/// Settings for a Redis tier that only this test's replicas share.
fn with_redis(url: &str, prefix: &str) -> CacheSettings {
    CacheSettings {
        redis: Some(RedisSettings {
            url: url.to_owned().into(),
            prefix: prefix.to_owned(),
            timeout: Duration::from_millis(50),
            ttl: Duration::from_secs(600),
        }),
        ..CacheSettings::default()
    }
}

fn unique_prefix() -> String {
    format!("pwtest-{}", ulid::Ulid::new())
}

/// A second paywarden on the same database: entitlement checks and the
/// admin API, no Stripe.
struct Replica {
    base: String,
    cache: Arc<EntitlementCache>,
    _shutdown: DropGuard,
    task: JoinHandle<()>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Replica {
    async fn start(url: &DatabaseUrl, settings: CacheSettings) -> Self {
        let shutdown = CancellationToken::new();
        let cache = EntitlementCache::start(settings, shutdown.clone()).expect("cache");
        let store = Store::connect(&StoreOptions::new(url.clone()))
            .await
            .expect("connect the second replica")
            .with_listener(cache.clone());
        let catalog = Arc::new(Catalog::parse(DEMO_CATALOG).expect("catalog"));
        let inbox = WebhookInbox::new(
            store.clone(),
            WebhookSettings {
                secrets: vec![],
                tolerance: Duration::from_secs(300),
                default_daily_cap: 10,
                catalog: Some(catalog.clone()),
            },
        );
        let state = AppState::new(store.clone(), inbox).with_entitlements(Entitlements::new(
            store,
            catalog,
            cache.clone(),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = serve(listener, router(state), std::future::pending()).await;
        });
        Self {
            base,
            cache,
            _shutdown: shutdown.drop_guard(),
            task,
        }
    }
}

async fn get(http: &reqwest::Client, url: &str, key: &str) -> (StatusCode, Value) {
    let response = http.get(url).bearer_auth(key).send().await.expect("call");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn check(http: &reqwest::Client, base: &str, key: &str, user: &str) -> Value {
    let (status, body) = get(http, &format!("{base}/api/entitlements/{user}"), key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn grant(shop: &Shop, admin: &str, user: &str, features: Value) -> Value {
    let reply = shop
        .call_with_token(
            Method::POST,
            &format!("/api/admin/users/{user}/grants"),
            Some(admin),
            Some(json!({ "features": features, "reason": "cache test" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn wait_subscribed(cache: &EntitlementCache, within: Duration) {
    let deadline = Instant::now() + within;
    while cache.subscribed() != Some(true) {
        assert!(
            Instant::now() < deadline,
            "not subscribed to changes within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `base` until `user` is at `version`; answers how long it took.
async fn until_version(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    user: &str,
    version: i64,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let seen = check(http, base, key, user).await;
        let at = seen["version"].as_i64().expect("version");
        assert!(at <= version, "a version from the future: {seen}");
        if at == version {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still at {at}, not {version}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_change_acknowledged_on_one_replica_reaches_the_other_within_100ms() {
    let (Some(redis), Some(db)) = (redis_url(), TestStore::postgres().await) else {
        return;
    };
    let url = db.url.clone();
    let settings = with_redis(&redis, &unique_prefix());
    let a = Shop::open_with_cache(db, settings.clone()).await;
    let b = Replica::start(&url, settings).await;
    wait_subscribed(&a.cache, Duration::from_secs(5)).await;
    wait_subscribed(&b.cache, Duration::from_secs(5)).await;
    let server = a.server_key(ApiKeyRole::Server).await;
    let admin = a.server_key(ApiKeyRole::Admin).await;
    let http = &a.http;

    // B has ada cached with nothing.
    let before = check(http, &b.base, &server, "ada").await;
    assert_eq!(before["version"], 0);
    assert_eq!(before["source"], "database");
    let again = check(http, &b.base, &server, "ada").await;
    assert_eq!(again["source"], "memory", "{again}");

    // A webhook applied on A: A sees it at once, from memory; B soon after.
    let session = a.checkout("ada", "pro_monthly", None).await;
    assert!(a.pay(&session, "4242424242424242").await.is_redirection());
    a.flush().await;
    let on_a = check(http, &a.base, &server, "ada").await;
    assert_eq!(on_a["features"]["api"], true, "{on_a}");
    assert_eq!(on_a["source"], "memory", "{on_a}");
    let version = on_a["version"].as_i64().expect("version");
    let took = until_version(
        http,
        &b.base,
        &server,
        "ada",
        version,
        Duration::from_millis(100),
    )
    .await;
    let on_b = check(http, &b.base, &server, "ada").await;
    assert_eq!(on_b["features"]["api"], true, "{on_b}");
    assert_ne!(
        on_b["source"], "database",
        "B was told, not re-read: {on_b}"
    );
    eprintln!("webhook change reached the second replica in {took:?}");

    // An operator's grant, timed from its acknowledgement.
    for round in 0..5 {
        let granted = grant(&a, &admin, "ada", json!({ format!("beta{round}"): true })).await;
        let acked = Instant::now();
        let version = granted["entitlements"]["version"].as_i64().expect("v");
        until_version(
            http,
            &b.base,
            &server,
            "ada",
            version,
            Duration::from_millis(100),
        )
        .await;
        let took = acked.elapsed();
        assert!(
            took <= Duration::from_millis(100),
            "round {round}: {took:?}"
        );
        let counts = b.cache.counts();
        assert!(counts.remote_updates >= 1, "{counts:?}");
    }
}

#[tokio::test]
async fn min_version_reads_through_a_replica_that_has_not_heard_yet() {
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    let url = db.url.clone();
    // No Redis: B hears nothing from A, so only min_version can tell it.
    let a = Shop::open(db).await;
    let b = Replica::start(&url, CacheSettings::default()).await;
    let server = a.server_key(ApiKeyRole::Server).await;
    let admin = a.server_key(ApiKeyRole::Admin).await;
    let http = &a.http;
    assert_eq!(check(http, &b.base, &server, "ada").await["version"], 0);

    let granted = grant(&a, &admin, "ada", json!({ "api": true })).await;
    let version = granted["entitlements"]["version"].as_i64().expect("v");
    assert_eq!(version, 1);
    let stale = check(http, &b.base, &server, "ada").await;
    assert_eq!(stale["version"], 0, "B's memory, within its TTL: {stale}");
    let (status, fresh) = get(
        http,
        &format!("{}/api/entitlements/ada?min_version={version}", b.base),
        &server,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(fresh["version"], version);
    assert_eq!(fresh["source"], "database");
    assert_eq!(fresh["features"]["api"], true);
    // And B's memory now holds it.
    assert_eq!(check(http, &b.base, &server, "ada").await["version"], 1);
    let (status, ahead) = get(
        http,
        &format!("{}/api/entitlements/ada?min_version=9", b.base),
        &server,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "never older: {ahead}");
}

#[tokio::test]
async fn an_expired_grant_is_never_served_from_memory() {
    for db in paywarden_testkit::backends().await {
        let name = db.name;
        let shop = Shop::open(db).await;
        let admin = shop.server_key(ApiKeyRole::Admin).await;
        let server = shop.server_key(ApiKeyRole::Server).await;
        let expires_at = now_secs() + 2;
        let reply = shop
            .call_with_token(
                Method::POST,
                "/api/admin/users/ada/grants",
                Some(&admin),
                Some(json!({
                    "features": { "api": true, "seats": 5 },
                    "expires_at": expires_at,
                    "reason": "trial extension",
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
        let held = check(&shop.http, &shop.base, &server, "ada").await;
        assert_eq!(held["features"]["seats"], 5, "{name}: {held}");
        assert_eq!(held["expires_at"], expires_at, "{name}");
        assert_eq!(held["source"], "memory", "{name}");
        while now_secs() < expires_at {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let after = check(&shop.http, &shop.base, &server, "ada").await;
        assert_eq!(after["features"], json!({}), "{name}: {after}");
        assert!(
            after["version"].as_i64() > held["version"].as_i64(),
            "{name}: {after}"
        );
    }
}

#[tokio::test]
async fn manual_grants_are_admin_only_checked_and_revocable() {
    for db in paywarden_testkit::backends().await {
        let name = db.name;
        let shop = Shop::open(db).await;
        let admin = shop.server_key(ApiKeyRole::Admin).await;
        let server = shop.server_key(ApiKeyRole::Server).await;
        let body = json!({ "features": { "api": true }, "reason": "partner" });
        let path = "/api/admin/users/ada/grants";
        for (token, status) in [
            (Some(server.as_str()), StatusCode::FORBIDDEN),
            (None, StatusCode::UNAUTHORIZED),
        ] {
            let reply = shop
                .call_with_token(Method::POST, path, token, Some(body.clone()))
                .await;
            assert_eq!(reply.status, status, "{name}: {}", reply.body);
        }
        let as_user = shop
            .call(Method::POST, path, Some("ada"), Some(body.clone()))
            .await;
        assert_eq!(as_user.status, StatusCode::UNAUTHORIZED, "{name}");
        for bad in [
            json!({ "features": {}, "reason": "x" }),
            json!({ "features": { "Bad Name": true }, "reason": "x" }),
            json!({ "features": { "seats": -1 }, "reason": "x" }),
            json!({ "features": { "api": true }, "reason": "x", "expires_at": 1 }),
            json!({ "features": { "api": true }, "reason": "" }),
            json!({ "features": { "api": true }, "reason": "x", "price": 0 }),
        ] {
            let reply = shop
                .call_with_token(Method::POST, path, Some(&admin), Some(bad.clone()))
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {bad}");
            assert!(reply.body["error"]["code"].is_string(), "{name}");
        }
        assert_eq!(
            check(&shop.http, &shop.base, &server, "ada").await["version"],
            0,
            "{name}: nothing was granted by bad requests"
        );
        let granted = grant(&shop, &admin, "ada", json!({ "api": true })).await;
        let id = granted["id"].as_str().expect("id").to_owned();
        assert!(id.starts_with("grt_"), "{id}");
        let listed = shop
            .call_with_token(Method::GET, path, Some(&admin), None)
            .await;
        assert_eq!(listed.body["data"][0]["id"], id.as_str(), "{name}");
        // Bob's path does not reach ada's grant.
        let wrong_user = shop
            .call_with_token(
                Method::DELETE,
                &format!("/api/admin/users/bob/grants/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(wrong_user.status, StatusCode::NOT_FOUND, "{name}");
        let revoked = shop
            .call_with_token(
                Method::DELETE,
                &format!("/api/admin/users/ada/grants/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::OK, "{name}: {}", revoked.body);
        let after = check(&shop.http, &shop.base, &server, "ada").await;
        assert_eq!(after["features"], json!({}), "{name}: {after}");
        assert_eq!(after["version"], 2, "{name}");
    }
}

/// Loads `base` with checks for `users` from `tasks` tasks until `stop`;
/// answers every status seen.
fn load(
    http: reqwest::Client,
    base: String,
    key: String,
    users: usize,
    stop: CancellationToken,
) -> JoinHandle<Vec<StatusCode>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        // Bounded: at most this many requests whatever happens.
        for n in 0..20_000 {
            if stop.is_cancelled() {
                break;
            }
            let user = format!("u{}", n % users);
            let response = http
                .get(format!("{base}/api/entitlements/{user}"))
                .bearer_auth(&key)
                .send()
                .await
                .expect("the app answers");
            seen.push(response.status());
        }
        seen
    })
}

#[tokio::test]
async fn redis_cut_mid_load_costs_fallbacks_not_errors_and_invalidation_resumes() {
    let (Some(redis), Some(db)) = (redis_url(), TestStore::postgres().await) else {
        return;
    };
    let upstream = url::Url::parse(&redis).expect("redis url");
    let upstream = tokio::net::lookup_host((
        upstream.host_str().expect("host"),
        upstream.port().unwrap_or(6379),
    ))
    .await
    .expect("resolve redis")
    .next()
    .expect("an address");
    let proxy = ChaosProxy::start(upstream).await;
    let url = db.url.clone();
    let settings = with_redis(&format!("redis://{}", proxy.addr), &unique_prefix());
    let a = Shop::open_with_cache(db, settings.clone()).await;
    let b = Replica::start(&url, settings).await;
    wait_subscribed(&a.cache, Duration::from_secs(5)).await;
    wait_subscribed(&b.cache, Duration::from_secs(5)).await;
    let server = a.server_key(ApiKeyRole::Server).await;
    let admin = a.server_key(ApiKeyRole::Admin).await;
    let http = a.http.clone();

    let stop = CancellationToken::new();
    let loaders: Vec<_> = (0..4)
        .flat_map(|_| {
            [
                load(
                    http.clone(),
                    a.base.clone(),
                    server.clone(),
                    50,
                    stop.clone(),
                ),
                load(
                    http.clone(),
                    b.base.clone(),
                    server.clone(),
                    50,
                    stop.clone(),
                ),
            ]
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    proxy.break_networking().await;
    // A change while Redis is gone: A knows at once, B within its
    // unsubscribed freshness bound (1 s) by reading the database.
    let granted = grant(&a, &admin, "u1", json!({ "api": true })).await;
    let version = granted["entitlements"]["version"].as_i64().expect("v");
    assert_eq!(
        check(&http, &a.base, &server, "u1").await["version"],
        version
    );
    until_version(
        &http,
        &b.base,
        &server,
        "u1",
        version,
        Duration::from_millis(1500),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    proxy.restore_networking();
    wait_subscribed(&a.cache, Duration::from_secs(10)).await;
    wait_subscribed(&b.cache, Duration::from_secs(10)).await;
    // Invalidation works again: B, holding u2 in memory, hears the next
    // change within 100 ms (a read from the database would not prove it).
    let held = Instant::now();
    while check(&http, &b.base, &server, "u2").await["source"] != "memory" {
        assert!(held.elapsed() < Duration::from_secs(2), "B never held u2");
    }
    let granted = grant(&a, &admin, "u2", json!({ "api": true })).await;
    let acked = Instant::now();
    let version = granted["entitlements"]["version"].as_i64().expect("v");
    until_version(
        &http,
        &b.base,
        &server,
        "u2",
        version,
        Duration::from_millis(100),
    )
    .await;
    assert!(acked.elapsed() <= Duration::from_millis(150));

    stop.cancel();
    let mut total = 0;
    for loader in loaders {
        let statuses = loader.await.expect("loader");
        total += statuses.len();
        let failures: Vec<_> = statuses.iter().filter(|s| !s.is_success()).collect();
        assert!(
            failures.is_empty(),
            "non-2xx under a Redis outage: {failures:?}"
        );
    }
    assert!(total > 100, "the load ran: {total} requests");
    let counts = [a.cache.counts(), b.cache.counts()];
    assert!(
        counts
            .iter()
            .any(|c| c.redis_fallbacks > 0 || c.database_reads > 0),
        "{counts:?}"
    );
}

/// The value of one sample line of a Prometheus scrape.
fn sample(scrape: &str, line_start: &str) -> u64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in:\n{scrape}"))
}

#[tokio::test]
async fn metrics_count_where_checks_were_answered() {
    let db = paywarden_testkit::TestStore::sqlite().await;
    let shop = Shop::open(db).await;
    let admin = shop.server_key(ApiKeyRole::Admin).await;
    let server = shop.server_key(ApiKeyRole::Server).await;
    let scrape = || async {
        let response = shop
            .http
            .get(format!("{}/metrics", shop.base))
            .send()
            .await
            .expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain")));
        response.text().await.expect("text")
    };
    let before = scrape().await;
    assert!(before.contains("# TYPE paywarden_entitlement_checks_total counter"));
    let memory = "paywarden_entitlement_checks_total{source=\"memory\"}";
    let database = "paywarden_entitlement_checks_total{source=\"database\"}";
    // A user never seen: read from the database once, then from memory.
    check(&shop.http, &shop.base, &server, "newcomer").await;
    check(&shop.http, &shop.base, &server, "newcomer").await;
    grant(&shop, &admin, "ada", json!({ "api": true })).await;
    for _ in 0..3 {
        check(&shop.http, &shop.base, &server, "ada").await;
    }
    let after = scrape().await;
    assert_eq!(
        sample(&after, database) - sample(&before, database),
        1,
        "{after}"
    );
    assert_eq!(
        sample(&after, memory) - sample(&before, memory),
        4,
        "{after}"
    );
}
