//! The Stripe stand-in as the binary runs it: `paywarden sim` on its own
//! (with `--state` kept across a restart), and mounted under `/sim` by
//! `paywarden serve` when no `STRIPE_SECRET_KEY` is set.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::database::TestDatabase;
use crate::server::{eventually, paywarden, run, run_with_env, Server};
use crate::stripe_events::client;

/// Any test key is accepted by the stand-in.
const TEST_KEY: &str = "sk_test_paywarden_it";

/// A running `paywarden sim` and the base URL it printed.
struct Standalone {
    child: Child,
    base: String,
}

impl Standalone {
    /// Starts `paywarden sim` on port 0 and reads the base URL from the
    /// `export STRIPE_API_BASE=…` hint it prints.
    async fn start(dir: &Path, extra: &[&str]) -> Self {
        let log = std::fs::File::create(dir.join("sim.log")).expect("create sim log");
        let mut child = paywarden(dir, "sqlite://unused.db")
            .args(["sim", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn paywarden sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(base) = line.trim().strip_prefix("export STRIPE_API_BASE=") {
                    return base.to_owned();
                }
            }
            let log = std::fs::read_to_string(dir.join("sim.log")).unwrap_or_default();
            panic!("paywarden sim printed no STRIPE_API_BASE hint:\n{log}");
        })
        .await
        .expect("paywarden sim prints its base URL within 30 s");
        // Keep reading stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, base }
    }

    /// SIGTERM, then the exit status.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("paywarden sim stops within 20 s of SIGTERM")
            .expect("wait for paywarden sim")
    }
}

/// Signs `user` in on the demo page: a client that does not follow
/// redirects, and the session cookie (`pw_session=…`) it was given.
async fn demo_sign_in(base: &str, user: &str) -> (reqwest::Client, String) {
    let browser = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let signed_in = browser
        .get(format!("{base}/auth/demo?user={user}&next=/api/me"))
        .send()
        .await
        .expect("sign in on the demo page");
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    (browser, cookie)
}

async fn post_form(base: &str, path: &str, body: &str) -> (u16, Value) {
    let response = client()
        .post(format!("{base}{path}"))
        .bearer_auth(TEST_KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get_json(base: &str, path: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{base}{path}"))
        .bearer_auth(TEST_KEY)
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sim_subcommand_serves_stripe_and_keeps_its_state_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("sim-state.json");
    let state_arg = state.to_str().expect("utf-8 path");
    let sim = Standalone::start(dir.path(), &["--state", state_arg]).await;
    assert!(sim.base.starts_with("http://127.0.0.1:"), "{}", sim.base);

    let (status, customer) = post_form(&sim.base, "/v1/customers", "name=Ada").await;
    assert_eq!(status, 200, "{customer}");
    let id = customer["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("cus_"), "{id}");
    let unauthenticated = client()
        .get(format!("{}/v1/customers", sim.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(unauthenticated.status(), 401, "the stand-in wants a key");

    let status = sim.terminate().await;
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    assert!(state.exists(), "the state is saved on exit");

    let again = Standalone::start(dir.path(), &["--state", state_arg]).await;
    let (status, fetched) = get_json(&again.base, &format!("/v1/customers/{id}")).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched, customer, "the customer came back as it was");
    again.terminate().await;

    std::fs::write(&state, "{ not a state file").expect("corrupt the state");
    let output = paywarden(dir.path(), "sqlite://unused.db")
        .args(["sim", "--addr", "127.0.0.1:0", "--state", state_arg])
        .output()
        .await
        .expect("run paywarden sim");
    assert!(
        !output.status.success(),
        "a corrupt state file stops the start"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sim-state.json"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&state).expect("still there"),
        "{ not a state file",
        "the file is left for the operator"
    );
}

#[tokio::test]
async fn serve_without_a_stripe_key_mounts_the_stand_in_under_sim() {
    let db = TestDatabase::sqlite();
    let server = Server::start(db.dir.path(), &db.url).await;
    let sim = format!("{}/sim", server.base);
    let (status, customer) = post_form(&sim, "/v1/customers", "email=ada%40example.com").await;
    assert_eq!(status, 200, "{customer}");
    assert_eq!(customer["object"], "customer");
    let (status, listed) = get_json(&sim, "/v1/customers").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"][0]["id"], customer["id"]);
    // Hosted pages are reached under the mount too.
    let (status, price) = post_form(
        &sim,
        "/v1/prices",
        "unit_amount=500&currency=usd&product_data[name]=Credits",
    )
    .await;
    assert_eq!(status, 200, "{price}");
    let price = price["id"].as_str().expect("a price id");
    let (status, session) = post_form(
        &sim,
        "/v1/checkout/sessions",
        &format!(
            "mode=payment&line_items[0][price]={price}&line_items[0][quantity]=1\
             &success_url=https%3A%2F%2Fexample.com%2Fok"
        ),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let url = session["url"].as_str().expect("a Checkout url");
    assert!(url.starts_with(&format!("{sim}/")), "{url} is under {sim}");
    let page = client()
        .get(url)
        .send()
        .await
        .expect("GET the Checkout page");
    assert_eq!(page.status(), 200, "{url}");
    let page = page.text().await.expect("the page");
    assert!(
        page.contains("Credits"),
        "the page shows the line item: {page}"
    );
    let (status, error) = get_json(&sim, "/v1/nothing_here").await;
    assert_eq!(status, 404, "the stand-in's own 404: {error}");
    assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
    // paywarden's own routes are untouched.
    let ready = client()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), 200);
    // Demo mode is on in the embedded default: the page says so, and a
    // demo user's session cookie signs in.
    let demo = client()
        .get(format!("{}/auth/demo", server.base))
        .send()
        .await
        .expect("GET /auth/demo");
    assert_eq!(demo.status(), 200);
    let page = demo.text().await.expect("the demo page");
    assert!(page.contains("Demo mode is on"), "{page}");
    let (_, cookie) = demo_sign_in(&server.base, "bob").await;
    let me = client()
        .get(format!("{}/api/me", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET /api/me");
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.expect("json");
    assert_eq!(me["user_id"], "bob");
    let log = server.log();
    assert!(log.contains("Stripe stand-in"), "{log}");
    assert!(log.contains("demo mode is on"), "{log}");
    assert!(
        !log.contains("sk_test_"),
        "the generated key is never logged"
    );
    server.kill().await;
}

#[tokio::test]
async fn serve_with_a_stripe_key_mounts_no_stand_in() {
    let db = TestDatabase::sqlite();
    let server = Server::start_with_env(
        db.dir.path(),
        &db.url,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_configured_elsewhere"),
            ("STRIPE_API_BASE", "http://127.0.0.1:9"),
        ],
    )
    .await;
    let (status, body) = post_form(&server.base, "/sim/v1/customers", "name=x").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["error"]["code"], "not_found",
        "paywarden's 404: {body}"
    );
    let (status, body) = get_json(&server.base, "/auth/demo").await;
    assert_eq!(
        status, 404,
        "no demo page outside the embedded default: {body}"
    );
    let (status, body) = get_json(&server.base, "/api/me").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let log = eventually(
        Duration::from_secs(10),
        "the Stripe target is logged",
        || {
            let log = server.log();
            async move {
                if log.contains("http://127.0.0.1:9") {
                    Ok(log)
                } else {
                    Err(log)
                }
            }
        },
    )
    .await;
    assert!(
        !log.contains("configured_elsewhere"),
        "the key is never logged: {log}"
    );
    server.kill().await;
}
#[tokio::test]
async fn serve_receives_signed_events_from_its_own_stand_in_with_no_configuration() {
    let db = TestDatabase::sqlite();
    let dir = db.dir.path();
    let created = run(
        dir,
        &db.url,
        &["keys", "create", "--role", "admin", "--name", "e2e"],
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let created: Value = serde_json::from_slice(&created.stdout).expect("keys create prints JSON");
    let admin = created["key"].as_str().expect("a key").to_owned();
    // No webhook secret at all: the stand-in's is the only one.
    let server = Server::start_with_env(dir, &db.url, &[("STRIPE_WEBHOOK_SECRET", "")]).await;
    let sim = format!("{}/sim", server.base);

    let (status, endpoints) = get_json(&sim, "/v1/webhook_endpoints").await;
    assert_eq!(status, 200, "{endpoints}");
    let endpoint = &endpoints["data"][0];
    assert_eq!(
        endpoint["url"],
        format!("{}/webhooks/stripe", server.base).as_str(),
        "{endpoints}"
    );
    assert_eq!(endpoint["enabled_events"], serde_json::json!(["*"]));
    assert_eq!(endpoints["data"].as_array().map(Vec::len), Some(1));

    let (status, customer) = post_form(&sim, "/v1/customers", "name=Ada").await;
    assert_eq!(status, 200, "{customer}");
    let customer_id = customer["id"].as_str().expect("an id").to_owned();

    let events_url = format!("{}/api/admin/events?type=customer.created", server.base);
    let stored = eventually(Duration::from_secs(30), "customer.created stored", || {
        let request = client().get(&events_url).bearer_auth(admin.clone()).send();
        let customer_id = customer_id.clone();
        async move {
            let listed: Value = request
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            listed["data"]
                .as_array()
                .and_then(|events| {
                    events
                        .iter()
                        .find(|e| e["object_id"] == customer_id.as_str())
                        .cloned()
                })
                .ok_or_else(|| listed.to_string())
        }
    })
    .await;
    assert_eq!(stored["status"], "processed", "{stored}");
    assert_eq!(stored["received_count"], 1, "delivered once: {stored}");
    let id = stored["id"].as_str().expect("an event id");
    let (status, sim_event) = get_json(&sim, &format!("/v1/events/{id}")).await;
    assert_eq!(status, 200, "the stand-in's own event: {sim_event}");
    assert_eq!(sim_event["type"], "customer.created");

    // A one-time Checkout paid on the hosted page, as a browser would.
    // (With metadata: a session created without any currently arrives with
    // `metadata: null`, which Stripe never sends and paywarden refuses.)
    let (status, price) = post_form(
        &sim,
        "/v1/prices",
        "unit_amount=1500&currency=usd&product_data[name]=Credits",
    )
    .await;
    assert_eq!(status, 200, "{price}");
    let price = price["id"].as_str().expect("a price id");
    let (status, session) = post_form(
        &sim,
        "/v1/checkout/sessions",
        &format!(
            "mode=payment&line_items[0][price]={price}&line_items[0][quantity]=2\
             &customer={customer_id}&client_reference_id=user_42&metadata[plan]=credits\
             &success_url=https%3A%2F%2Fexample.com%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D"
        ),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let session_id = session["id"].as_str().expect("a session id").to_owned();
    let browser = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    let paid = browser
        .post(session["url"].as_str().expect("a Checkout url"))
        .form(&[
            ("email", "ada@example.com"),
            ("name", "Ada"),
            ("card_number", "4242 4242 4242 4242"),
            ("exp", "12 / 34"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .expect("POST the Checkout form");
    assert!(paid.status().is_redirection(), "{}", paid.status());
    let location = paid
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(location, format!("https://example.com/ok?s={session_id}"));
    let completed_url = format!(
        "{}/api/admin/events?type=checkout.session.completed",
        server.base
    );
    let completed = eventually(
        Duration::from_secs(30),
        "checkout.session.completed stored",
        || {
            let request = client()
                .get(&completed_url)
                .bearer_auth(admin.clone())
                .send();
            let session_id = session_id.clone();
            async move {
                let listed: Value = request
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                listed["data"]
                    .as_array()
                    .and_then(|events| {
                        events
                            .iter()
                            .find(|e| e["object_id"] == session_id.as_str())
                            .cloned()
                    })
                    .ok_or_else(|| listed.to_string())
            }
        },
    )
    .await;
    assert_eq!(completed["status"], "processed", "{completed}");

    // A subscription Checkout too; then every event the stand-in sent was
    // applied: none failed.
    let (status, monthly) = post_form(
        &sim,
        "/v1/prices",
        "unit_amount=900&currency=usd&recurring[interval]=month&product_data[name]=Pro",
    )
    .await;
    assert_eq!(status, 200, "{monthly}");
    let monthly = monthly["id"].as_str().expect("a price id");
    let (status, session) = post_form(
        &sim,
        "/v1/checkout/sessions",
        &format!(
            "mode=subscription&line_items[0][price]={monthly}&line_items[0][quantity]=1\
             &customer_email=grace%40example.com&client_reference_id=user_43&metadata[plan]=pro\
             &success_url=https%3A%2F%2Fexample.com%2Fok"
        ),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let paid = browser
        .post(session["url"].as_str().expect("a Checkout url"))
        .form(&[
            ("email", "grace@example.com"),
            ("name", "Grace"),
            ("card_number", "4242424242424242"),
            ("exp", "12 / 34"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .expect("POST the Checkout form");
    assert!(paid.status().is_redirection(), "{}", paid.status());
    let (status, sim_events) = get_json(&sim, "/v1/events?limit=100").await;
    assert_eq!(status, 200, "{sim_events}");
    let sent: Vec<String> = sim_events["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    let all_url = format!("{}/api/admin/events?limit=100", server.base);
    let stored = eventually(
        Duration::from_secs(30),
        "every event the stand-in recorded is stored",
        || {
            let request = client().get(&all_url).bearer_auth(admin.clone()).send();
            let sent = sent.clone();
            async move {
                let listed: Value = request
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                let stored = listed["data"].as_array().cloned().unwrap_or_default();
                let missing: Vec<&String> = sent
                    .iter()
                    .filter(|id| !stored.iter().any(|e| e["id"] == id.as_str()))
                    .collect();
                if missing.is_empty() {
                    Ok(stored)
                } else {
                    Err(format!("missing {missing:?}"))
                }
            }
        },
    )
    .await;
    // `ignored`: a type paywarden has no use for (charge.succeeded, …).
    let failed: Vec<&Value> = stored
        .iter()
        .filter(|e| e["status"] != "processed" && e["status"] != "ignored")
        .collect();
    assert!(failed.is_empty(), "events not applied: {failed:#?}");
    assert!(
        stored
            .iter()
            .any(|e| e["type"] == "customer.subscription.created" && e["status"] == "processed"),
        "{stored:#?}"
    );

    let log = server.log();
    assert!(
        !log.contains("STRIPE_WEBHOOK_SECRET is not set"),
        "no warning about a missing secret: {log}"
    );
    assert!(
        !log.contains("whsec_"),
        "the stand-in's secret is never logged"
    );
    server.kill().await;
}

#[tokio::test]
async fn serve_pointed_at_a_standalone_stand_in_applies_duplicated_deliveries_once() {
    let db = TestDatabase::sqlite();
    let dir = db.dir.path();
    let sim = Standalone::start(dir, &["--duplicate-probability", "1", "--seed", "7"]).await;
    let (status, endpoint) = post_form(
        &sim.base,
        "/v1/webhook_endpoints",
        "url=http%3A%2F%2F127.0.0.1%3A9%2Fnot-yet&enabled_events[]=customer.created",
    )
    .await;
    assert_eq!(status, 200, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().expect("an endpoint id");
    let secret = endpoint["secret"].as_str().expect("a whsec_ secret");

    let created = run(
        dir,
        &db.url,
        &["keys", "create", "--role", "admin", "--name", "chaos"],
    )
    .await;
    let created: Value = serde_json::from_slice(&created.stdout).expect("keys create prints JSON");
    let admin = created["key"].as_str().expect("a key").to_owned();
    let server = Server::start_with_env(
        dir,
        &db.url,
        &[
            ("STRIPE_SECRET_KEY", TEST_KEY),
            ("STRIPE_API_BASE", &sim.base),
            ("STRIPE_WEBHOOK_SECRET", secret),
        ],
    )
    .await;
    let (status, _) = post_form(
        &sim.base,
        &format!("/v1/webhook_endpoints/{endpoint_id}"),
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("url", &format!("{}/webhooks/stripe", server.base))
            .finish(),
    )
    .await;
    assert_eq!(status, 200);

    let (status, customer) = post_form(&sim.base, "/v1/customers", "name=Twice").await;
    assert_eq!(status, 200, "{customer}");
    let customer_id = customer["id"].as_str().expect("an id").to_owned();
    let events_url = format!("{}/api/admin/events?type=customer.created", server.base);
    let stored = eventually(
        Duration::from_secs(30),
        "customer.created delivered twice",
        || {
            let request = client().get(&events_url).bearer_auth(admin.clone()).send();
            let customer_id = customer_id.clone();
            async move {
                let listed: Value = request
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                listed["data"]
                    .as_array()
                    .and_then(|events| {
                        events
                            .iter()
                            .find(|e| {
                                e["object_id"] == customer_id.as_str() && e["received_count"] == 2
                            })
                            .cloned()
                    })
                    .ok_or_else(|| listed.to_string())
            }
        },
    )
    .await;
    assert_eq!(stored["status"], "processed", "{stored}");
    assert_eq!(stored["attempts"], 1, "applied once: {stored}");
    let log = server.log();
    assert!(
        log.contains(&format!("using Stripe at {}/v1", sim.base)),
        "{log}"
    );
    server.kill().await;
    sim.terminate().await;
}

#[tokio::test]
async fn serve_keeps_the_embedded_stand_in_in_its_state_file_across_a_restart() {
    let db = TestDatabase::sqlite();
    let dir = db.dir.path();
    let state = dir.join("embedded-sim.json");
    let state_env = state.to_str().expect("utf-8 path").to_owned();
    let env = [
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("PAYWARDEN_SIM_STATE_FILE", state_env.as_str()),
    ];
    let first = Server::start_with_env(dir, &db.url, &env).await;
    let (status, customer) =
        post_form(&format!("{}/sim", first.base), "/v1/customers", "name=Kept").await;
    assert_eq!(status, 200, "{customer}");
    let id = customer["id"].as_str().expect("an id").to_owned();
    eventually(Duration::from_secs(10), "the customer is saved", || {
        let saved = std::fs::read_to_string(&state).unwrap_or_default();
        let id = id.clone();
        async move {
            if saved.contains(&id) {
                Ok(())
            } else {
                Err(format!("{} bytes saved", saved.len()))
            }
        }
    })
    .await;
    first.kill().await;

    let second = Server::start_with_env(dir, &db.url, &env).await;
    let sim = format!("{}/sim", second.base);
    let (status, fetched) = get_json(&sim, &format!("/v1/customers/{id}")).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["name"], "Kept");
    let (status, endpoints) = get_json(&sim, "/v1/webhook_endpoints").await;
    assert_eq!(status, 200, "{endpoints}");
    let urls: Vec<&str> = endpoints["data"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(|e| e["url"].as_str())
        .collect();
    assert_eq!(
        urls,
        vec![format!("{}/webhooks/stripe", second.base)],
        "the previous run's endpoint was replaced"
    );
    // The new endpoint's secret is accepted.
    let (status, newer) = post_form(&sim, "/v1/customers", "name=After").await;
    assert_eq!(status, 200, "{newer}");
    let newer = newer["id"].as_str().expect("an id").to_owned();
    let (status, events) = get_json(&sim, "/v1/events?type=customer.created").await;
    assert_eq!(status, 200, "{events}");
    let event = events["data"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|e| e["data"]["object"]["id"] == newer.as_str())
        })
        .and_then(|e| e["id"].as_str())
        .unwrap_or_else(|| panic!("no customer.created for {newer}: {events}"))
        .to_owned();
    let deliveries_url = format!("{sim}/_sim/deliveries?event={event}");
    eventually(Duration::from_secs(30), "customer.created accepted", || {
        let request = client().get(&deliveries_url).send();
        async move {
            let log: Value = request
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let accepted = log["data"]
                .as_array()
                .is_some_and(|attempts| attempts.iter().any(|a| a["status"] == 200));
            if accepted {
                Ok(())
            } else {
                Err(log.to_string())
            }
        }
    })
    .await;
    second.kill().await;
}

#[tokio::test]
async fn catalog_sync_puts_the_catalog_into_a_standalone_stand_in_once() {
    let db = TestDatabase::sqlite();
    let sim = Standalone::start(db.dir.path(), &[]).await;
    let env = [
        ("STRIPE_SECRET_KEY", TEST_KEY),
        ("STRIPE_API_BASE", sim.base.as_str()),
        (
            "PAYWARDEN_CATALOG_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml"),
        ),
    ];
    let first = run_with_env(db.dir.path(), &db.url, &["catalog", "sync"], &env).await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("created price pro_monthly (usd 29.00 / month)"),
        "{stdout}"
    );
    assert!(
        !stderr.contains(TEST_KEY) && !stdout.contains(TEST_KEY),
        "the key is never printed"
    );
    let (_, prices) = get_json(&sim.base, "/v1/prices?limit=100").await;
    let count = prices["data"].as_array().map_or(0, Vec::len);
    assert_eq!(count, 7, "every catalog price: {prices}");

    let second = run_with_env(db.dir.path(), &db.url, &["catalog", "sync"], &env).await;
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    assert!(
        stdout.contains("0 products created, 0 updated; 0 prices created, 0 updated, 0 replaced"),
        "{stdout}"
    );
    let (_, prices) = get_json(&sim.base, "/v1/prices?limit=100").await;
    assert_eq!(
        prices["data"].as_array().map_or(0, Vec::len),
        7,
        "nothing new"
    );

    // Without a key there is nothing to sync to; it says what to do instead.
    let refused = run(db.dir.path(), &db.url, &["catalog", "sync"]).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("STRIPE_SECRET_KEY"), "{stderr}");
    sim.terminate().await;
}

#[tokio::test]
async fn the_embedded_default_sells_its_demo_catalog_end_to_end() {
    let db = TestDatabase::sqlite();
    // Blank: no catalog file, so the embedded default's demo catalog.
    let server =
        Server::start_with_env(db.dir.path(), &db.url, &[("PAYWARDEN_CATALOG_FILE", "")]).await;
    let (browser, cookie) = demo_sign_in(&server.base, "alice").await;
    // The catalog reaches the stand-in shortly after start-up.
    let session: Value = eventually(Duration::from_secs(20), "a Checkout Session", || {
        let request = browser
            .post(format!("{}/api/checkout/session", server.base))
            .header("cookie", cookie.clone())
            .json(&serde_json::json!({ "price": "pro_monthly" }))
            .send();
        async move {
            let response = request.await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            if status == 200 {
                Ok(body)
            } else {
                Err(format!("{status}: {body}"))
            }
        }
    })
    .await;
    let url = session["url"].as_str().expect("a hosted page");
    assert!(url.starts_with(&format!("{}/sim/", server.base)), "{url}");
    let paid = browser
        .post(url)
        .form(&[
            ("email", "alice@example.com"),
            ("name", "Alice"),
            ("card_number", "4242424242424242"),
            ("exp", "12 / 40"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .expect("pay");
    assert_eq!(paid.status(), 303);
    let back = paid
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("back to paywarden")
        .to_owned();
    assert!(
        back.starts_with(&format!("{}/payment/success?session_id=cs_", server.base)),
        "{back}"
    );
    let page = browser
        .get(&back)
        .header("cookie", cookie.clone())
        .send()
        .await
        .expect("success page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("Thank you"));
    let subscriptions: Value = browser
        .get(format!("{}/api/subscriptions", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        subscriptions["data"][0]["status"], "active",
        "{subscriptions}"
    );
    assert_eq!(subscriptions["data"][0]["items"][0]["plan"], "pro");
    server.kill().await;
}
