//! End-user authentication over HTTP: bearer tokens and the session cookie
//! accepted only when signed with the configured algorithm and key and
//! carrying the configured claims; the callback's cookie and redirect; the
//! demo page's existence; JWKS keys (RS256, ES256) made at test time.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use paywarden_app::auth::{ClaimRules, Jwks, UserAuth};
use paywarden_app::webhooks::{WebhookInbox, WebhookSettings};
use paywarden_http::{router, serve, AppState};
use paywarden_testkit::{now_secs, TestStore};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!!";
const AUD: &str = "paywarden-test";
const ISS: &str = "https://product.example";

fn rules() -> ClaimRules {
    ClaimRules {
        audience: Some(AUD.into()),
        issuer: Some(ISS.into()),
        leeway: Duration::from_secs(30),
    }
}

struct App {
    base: String,
    client: reqwest::Client,
    _db: TestStore,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn spawn(auth: UserAuth, secure: bool) -> App {
    let db = TestStore::sqlite().await;
    let inbox = WebhookInbox::new(
        db.store.clone(),
        WebhookSettings {
            secrets: vec![],
            tolerance: Duration::from_secs(300),
            default_daily_cap: 10,
            catalog: None,
        },
    );
    let state = AppState::new(db.store.clone(), inbox).with_user_auth(auth, secure);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(serve(listener, router(state), std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    App {
        base: format!("http://{addr}"),
        client,
        _db: db,
        server,
    }
}

async fn hs256_app() -> App {
    let auth = UserAuth::hs256(SECRET.to_owned().into(), rules()).expect("hs256 auth");
    spawn(auth, false).await
}

fn claims(sub: Option<&str>) -> Value {
    let now = now_secs();
    let mut c = json!({ "aud": AUD, "iss": ISS, "exp": now + 600, "iat": now });
    if let Some(sub) = sub {
        c["sub"] = json!(sub);
    }
    c
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

async fn me(app: &App, token: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(format!("{}/api/me", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /api/me");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[track_caller]
fn assert_refused(reply: &(StatusCode, Value), says: &str, token: &str, what: &str) {
    let (status, body) = reply;
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "{what}: message {message:?} should say {says:?}"
    );
    let signature = token.rsplit('.').next().unwrap_or_default();
    assert!(
        signature.is_empty() || !message.contains(signature),
        "{what}: the message repeats the token"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{what}: {body}");
}

#[tokio::test]
async fn hs256_tokens_are_checked_claim_by_claim() {
    let app = hs256_app().await;
    let good = hs256(&claims(Some("user-1")), SECRET.as_bytes());
    let (status, body) = me(&app, &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "user_id": "user-1" }));

    let mut tampered = good.clone();
    let last = tampered.pop().expect("non-empty");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_refused(
        &me(&app, &tampered).await,
        "signature",
        &tampered,
        "tampered",
    );

    let wrong_key = hs256(
        &claims(Some("user-1")),
        b"another-secret-of-at-least-32-bytes!!!",
    );
    assert_refused(
        &me(&app, &wrong_key).await,
        "signature",
        &wrong_key,
        "other key",
    );

    let mut expired = claims(Some("user-1"));
    expired["exp"] = json!(now_secs() - 120);
    let expired = hs256(&expired, SECRET.as_bytes());
    assert_refused(&me(&app, &expired).await, "expired", &expired, "expired");

    let mut early = claims(Some("user-1"));
    early["nbf"] = json!(now_secs() + 120);
    let early = hs256(&early, SECRET.as_bytes());
    assert_refused(&me(&app, &early).await, "not valid yet", &early, "nbf");

    let mut within_leeway = claims(Some("user-1"));
    within_leeway["nbf"] = json!(now_secs() + 10);
    let within = hs256(&within_leeway, SECRET.as_bytes());
    assert_eq!(
        me(&app, &within).await.0,
        StatusCode::OK,
        "nbf within leeway"
    );

    let mut aud = claims(Some("user-1"));
    aud["aud"] = json!("another-product");
    let aud = hs256(&aud, SECRET.as_bytes());
    assert_refused(&me(&app, &aud).await, "audience", &aud, "aud");

    let mut iss = claims(Some("user-1"));
    iss["iss"] = json!("https://evil.example");
    let iss = hs256(&iss, SECRET.as_bytes());
    assert_refused(&me(&app, &iss).await, "issuer", &iss, "iss");

    let mut no_exp = claims(Some("user-1"));
    no_exp.as_object_mut().expect("object").remove("exp");
    let no_exp = hs256(&no_exp, SECRET.as_bytes());
    assert_refused(&me(&app, &no_exp).await, "exp", &no_exp, "no exp");

    let no_sub = hs256(&claims(None), SECRET.as_bytes());
    assert_refused(&me(&app, &no_sub).await, "subject", &no_sub, "no sub");

    let bad_sub = hs256(&claims(Some("has space")), SECRET.as_bytes());
    assert_refused(&me(&app, &bad_sub).await, "subject", &bad_sub, "bad sub");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(Some("user-1")).to_string());
    let none = format!("{none_header}.{payload}.");
    assert_refused(&me(&app, &none).await, "algorithm none", &none, "alg none");

    let response = app
        .client
        .get(format!("{}/api/me", app.base))
        .send()
        .await
        .expect("GET /api/me");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "no token");
}

#[tokio::test]
async fn callback_sets_the_session_cookie_and_redirects_only_locally() {
    let app = hs256_app().await;
    let token = hs256(&claims(Some("user-2")), SECRET.as_bytes());
    let response = app
        .client
        .get(format!("{}/auth/callback", app.base))
        .query(&[("token", token.as_str()), ("next", "/plans?tab=1")])
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/plans?tab=1");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "http base URL: {cookie}");
    let pair = cookie.split(';').next().expect("name=value");

    let response = app
        .client
        .get(format!("{}/api/me", app.base))
        .header("cookie", pair)
        .send()
        .await
        .expect("me with cookie");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user_id"], "user-2");

    for evil in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let response = app
            .client
            .get(format!("{}/auth/callback", app.base))
            .query(&[("token", token.as_str()), ("next", evil)])
            .send()
            .await
            .expect("callback");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{evil}");
        assert_eq!(response.headers()["location"], "/", "next={evil}");
    }

    let expired = {
        let mut c = claims(Some("user-2"));
        c["exp"] = json!(now_secs() - 300);
        hs256(&c, SECRET.as_bytes())
    };
    let response = app
        .client
        .get(format!("{}/auth/callback", app.base))
        .query(&[("token", expired.as_str())])
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());

    let response = app
        .client
        .post(format!("{}/auth/logout", app.base))
        .send()
        .await
        .expect("logout");
    let cleared = response.headers()["set-cookie"].to_str().expect("ascii");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn demo_page_exists_only_in_demo_mode() {
    let app = hs256_app().await;
    let response = app
        .client
        .get(format!("{}/auth/demo", app.base))
        .send()
        .await
        .expect("demo");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let app = spawn(UserAuth::demo_random(rules()).expect("demo"), true).await;
    let page = app
        .client
        .get(format!("{}/auth/demo", app.base))
        .query(&[("next", "/x\"><script>")])
        .send()
        .await
        .expect("demo");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("Demo mode"), "{html}");
    assert!(!html.contains("<script>"), "escaped: {html}");
    let response = app
        .client
        .get(format!("{}/auth/demo", app.base))
        .query(&[("user", "bob"), ("next", "/account")])
        .send()
        .await
        .expect("demo sign-in");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/account");
    let cookie = response.headers()["set-cookie"].to_str().expect("ascii");
    assert!(cookie.contains("Secure"), "https base URL: {cookie}");
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let response = app
        .client
        .get(format!("{}/api/me", app.base))
        .header("cookie", pair)
        .send()
        .await
        .expect("me");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user_id"], "bob");
}

/// A key pair made with the `openssl` CLI for this run only.
struct TestKey {
    private_pem: Vec<u8>,
    public_pem: Vec<u8>,
    jwk: Value,
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn temp_key_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pw-auth-{}-{name}.pem", std::process::id()))
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn rsa_key(kid: &str) -> TestKey {
    let path = temp_key_path(kid);
    let p = path.to_str().expect("utf-8 path");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        p,
    ]);
    let private_pem = std::fs::read(&path).expect("read key");
    let public_pem = openssl(&["pkey", "-in", p, "-pubout"]);
    let modulus =
        String::from_utf8(openssl(&["rsa", "-in", p, "-noout", "-modulus"])).expect("utf-8");
    let _ = std::fs::remove_file(&path);
    let n = hex_decode(modulus.trim().trim_start_matches("Modulus="));
    let jwk = json!({
        "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB",
    });
    TestKey {
        private_pem,
        public_pem,
        jwk,
    }
}

fn ec_key(kid: &str) -> TestKey {
    let path = temp_key_path(kid);
    let p = path.to_str().expect("utf-8 path");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        p,
    ]);
    let private_pem = std::fs::read(&path).expect("read key");
    let public_pem = openssl(&["pkey", "-in", p, "-pubout"]);
    let der = openssl(&["pkey", "-in", p, "-pubout", "-outform", "DER"]);
    let _ = std::fs::remove_file(&path);
    let point = &der[der.len() - 64..];
    let jwk = json!({
        "kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[..32]), "y": URL_SAFE_NO_PAD.encode(&point[32..]),
    });
    TestKey {
        private_pem,
        public_pem,
        jwk,
    }
}

fn signed(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

#[tokio::test]
async fn jwks_keys_verify_rs256_and_es256_and_unknown_kids_are_bounded() {
    let rsa = rsa_key("rsa-1");
    let ec = ec_key("ec-1");
    let set = json!({ "keys": [rsa.jwk, ec.jwk] });
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let jwks_app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let set = set.clone();
            async move { axum::Json(set) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let jwks_addr = listener.local_addr().expect("addr");
    let jwks_server = tokio::spawn(async move { axum::serve(listener, jwks_app).await });

    let jwks = Jwks::new(
        &format!("http://{jwks_addr}/jwks.json"),
        Duration::from_secs(60),
    )
    .expect("jwks");
    let app = spawn(UserAuth::jwks(jwks, rules()).expect("auth"), false).await;

    let rs = signed(
        Algorithm::RS256,
        "rsa-1",
        &EncodingKey::from_rsa_pem(&rsa.private_pem).expect("rsa pem"),
        &claims(Some("rsa-user")),
    );
    let (status, body) = me(&app, &rs).await;
    assert_eq!(status, StatusCode::OK, "RS256: {body}");
    assert_eq!(body["user_id"], "rsa-user");

    let es = signed(
        Algorithm::ES256,
        "ec-1",
        &EncodingKey::from_ec_pem(&ec.private_pem).expect("ec pem"),
        &claims(Some("ec-user")),
    );
    let (status, body) = me(&app, &es).await;
    assert_eq!(status, StatusCode::OK, "ES256: {body}");
    assert_eq!(body["user_id"], "ec-user");

    // Algorithm confusion: HS256 keyed with the RSA public key.
    let confused = signed(
        Algorithm::HS256,
        "rsa-1",
        &EncodingKey::from_secret(&rsa.public_pem),
        &claims(Some("rsa-user")),
    );
    assert_refused(
        &me(&app, &confused).await,
        "algorithm HS256",
        &confused,
        "alg confusion",
    );
    // ES256 token presented under the RSA key's kid.
    let swapped = signed(
        Algorithm::ES256,
        "rsa-1",
        &EncodingKey::from_ec_pem(&ec.private_pem).expect("ec pem"),
        &claims(Some("rsa-user")),
    );
    assert_refused(
        &me(&app, &swapped).await,
        "algorithm ES256",
        &swapped,
        "kid/alg swap",
    );

    let _ = ec.public_pem;
    let before = fetches.load(Ordering::SeqCst);
    assert_eq!(before, 1, "the set is fetched once and cached");
    for i in 0..5 {
        let unknown = signed(
            Algorithm::RS256,
            &format!("unknown-{i}"),
            &EncodingKey::from_rsa_pem(&rsa.private_pem).expect("rsa pem"),
            &claims(Some("rsa-user")),
        );
        assert_refused(&me(&app, &unknown).await, "key id", &unknown, "unknown kid");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        before,
        "unknown kids within the refresh interval fetch nothing"
    );
    jwks_server.abort();
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_refresh_after_the_interval() {
    let rsa = rsa_key("rsa-r");
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let set = json!({ "keys": [rsa.jwk] });
    let jwks_app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let set = set.clone();
            async move { axum::Json(set) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let jwks_server = tokio::spawn(async move { axum::serve(listener, jwks_app).await });
    let jwks = Jwks::new(
        &format!("http://{addr}/jwks.json"),
        Duration::from_millis(200),
    )
    .expect("jwks");
    let app = spawn(UserAuth::jwks(jwks, rules()).expect("auth"), false).await;
    let key = EncodingKey::from_rsa_pem(&rsa.private_pem).expect("pem");
    let unknown = signed(Algorithm::RS256, "rotated", &key, &claims(Some("u")));
    assert_refused(&me(&app, &unknown).await, "key id", &unknown, "first");
    assert_refused(&me(&app, &unknown).await, "key id", &unknown, "second");
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "one fetch within the interval"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_refused(
        &me(&app, &unknown).await,
        "key id",
        &unknown,
        "after interval",
    );
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "one refresh after the interval"
    );
    let known = signed(Algorithm::RS256, "rsa-r", &key, &claims(Some("u")));
    assert_eq!(me(&app, &known).await.0, StatusCode::OK);
    jwks_server.abort();
}
