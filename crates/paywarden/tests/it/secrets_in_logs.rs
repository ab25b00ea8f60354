//! What the server logs, at its most verbose: never a webhook secret, an
//! API key, a `Stripe-Signature` value, a database password, an email
//! address, the JWT secret, an end user's token, an outbound endpoint's
//! secret or its signatures; and a replayed delivery is logged as `skipped replay` with its
//! event id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use paywarden_testkit::{postgres_schema_url, sign};
use serde_json::Value;

use crate::database::{postgres_base_url, TestDatabase};
use crate::server::{eventually, run, Server};
use crate::stripe_events::{client, customer_created, envelope, invoice_paid, post_signed};

/// A value no test or library would print by accident.
fn planted(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// A database whose URL carries a password: PostgreSQL when available
/// (the planted password is ignored by a `trust` setup, and kept as is when
/// `TEST_DATABASE_URL` already has one), else SQLite (no password).
async fn database_with_password() -> (TestDatabase, Option<String>) {
    let Some(base) = postgres_base_url() else {
        return (TestDatabase::sqlite(), None);
    };
    let mut url = url::Url::parse(&base).expect("TEST_DATABASE_URL is a URL");
    let password = match url.password() {
        Some(password) => password.to_owned(),
        None => {
            let password = planted("pgpass-planted-");
            url.set_password(Some(&password)).expect("set password");
            password
        }
    };
    let db = TestDatabase {
        name: "postgres",
        url: postgres_schema_url(url.as_str()).await,
        dir: tempfile::tempdir().expect("temp dir"),
    };
    (db, Some(password))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_logs_never_appear_at_debug_and_replays_are_logged() {
    let (db, password) = database_with_password().await;
    let dir = db.dir.path();
    let secret = planted("whsec_planted_");
    let wrong_secret = planted("whsec_wrong_");

    let created = run(
        dir,
        &db.url,
        &["keys", "create", "--role", "admin", "--name", "logs"],
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let created: Value = serde_json::from_slice(&created.stdout).expect("keys create prints JSON");
    let key = created["key"].as_str().expect("key").to_owned();
    let wrong_key = format!("pw_{}", planted("wrongkey"));
    let jwt_secret = planted("jwt-secret-planted-of-32-bytes-or-more-");
    let user_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({ "sub": "ada", "exp": 4_102_444_800_i64 }),
        &jsonwebtoken::EncodingKey::from_secret(jwt_secret.as_bytes()),
    )
    .expect("sign a user token");
    let forged_token = format!("{}x", &user_token[..user_token.len() - 1]);

    let server = Server::start_with_env(
        dir,
        &db.url,
        &[
            ("PAYWARDEN_LOG", "debug"),
            ("PAYWARDEN_LOG_FORMAT", "json"),
            ("STRIPE_WEBHOOK_SECRET", &secret),
            ("PAYWARDEN_JWT_SECRET", &jwt_secret),
            ("PAYWARDEN_OUTBOUND_ALLOW_PRIVATE", "true"),
            ("PAYWARDEN_OUTBOUND_ALLOW_HTTP", "true"),
            ("PAYWARDEN_OUTBOUND_POLL_MS", "50"),
        ],
    )
    .await;
    let client = client();
    let base = &server.base;
    let mut signatures = Vec::new();
    let mut post = |body: String, secret: &str| {
        let signature = sign(secret, body.as_bytes());
        signatures.push(signature.clone());
        let client = client.clone();
        async move {
            post_signed(&client, base, &body, &signature)
                .await
                .expect("POST /webhooks/stripe")
        }
    };

    let event = invoice_paid("logs", 0);
    let email_event = customer_created("logs", 1);
    let email = "user1@example.com";
    assert!(email_event.body.contains(email));
    let first = post(event.body.clone(), &secret).await;
    assert_eq!(
        (first.status.as_u16(), first.is_duplicate()),
        (200, false),
        "{first:?}"
    );
    let replay = post(event.body.clone(), &secret).await;
    assert_eq!(
        (replay.status.as_u16(), replay.is_duplicate()),
        (200, true),
        "{replay:?}"
    );
    let customer = post(email_event.body.clone(), &secret).await;
    assert_eq!(customer.status, 200, "{customer:?}");
    let bad = post(invoice_paid("logs", 2).body, &wrong_secret).await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.body["error"]["code"], "invalid_signature", "{bad:?}");

    for (presented, expected) in [(&key, 200), (&wrong_key, 401)] {
        for path in [
            "/api/admin/events",
            &format!("/api/admin/events/{}", event.id),
        ] {
            let response = client
                .get(format!("{base}{path}"))
                .bearer_auth(presented)
                .send()
                .await
                .expect("admin request");
            assert_eq!(response.status(), expected, "{path}");
        }
    }

    // Outbound webhooks: an endpoint on loopback, a subscription change
    // sent to it signed with the endpoint's secret.
    let (hook_url, hooks) = raw_receiver().await;
    let response = client
        .post(format!("{base}/api/admin/webhook-endpoints"))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "url": hook_url }))
        .send()
        .await
        .expect("POST /api/admin/webhook-endpoints");
    assert_eq!(response.status(), 201);
    let endpoint: Value = response.json().await.expect("endpoint JSON");
    let endpoint_secret = endpoint["secret"].as_str().expect("secret").to_owned();
    let subscription = envelope(
        "evt_logs_sub_1",
        "customer.subscription.updated",
        serde_json::json!({
            "id": "sub_logs1", "customer": "cus_logs1", "status": "active",
            "items": { "data": [{ "id": "si_logs1", "quantity": 1, "price": { "id": "price_1" } }] },
        }),
    );
    let changed = post(subscription, &secret).await;
    assert_eq!(changed.status, 200, "{changed:?}");
    let outbound_signatures: Vec<String> = eventually(
        Duration::from_secs(10),
        "the outbound webhook delivered",
        || async {
            let seen = hooks.lock().map(|h| h.clone()).unwrap_or_default();
            let signatures: Vec<String> = seen
                .iter()
                .flat_map(|request| request.lines().map(str::to_owned).collect::<Vec<_>>())
                .filter_map(|line| {
                    line.to_ascii_lowercase()
                        .starts_with("webhook-signature:")
                        .then(|| line["webhook-signature:".len()..].trim().to_owned())
                })
                .collect();
            if signatures.is_empty() {
                Err(format!("received so far: {seen:?}"))
            } else {
                Ok(signatures)
            }
        },
    )
    .await;

    // End users: a good token, a forged one, and a purchase refused.
    for (token, expected) in [(&user_token, 200), (&forged_token, 401)] {
        let response = client
            .get(format!("{base}/api/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /api/me");
        assert_eq!(response.status(), expected);
    }
    let refused = client
        .post(format!("{base}/api/checkout/session"))
        .bearer_auth(&user_token)
        .json(&serde_json::json!({ "price": "not_for_sale" }))
        .send()
        .await
        .expect("POST /api/checkout/session");
    assert_eq!(refused.status(), 400);

    let replay_logged = |log: &str| {
        log.lines().any(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| {
                v["message"] == "skipped replay" && v["event.id"] == event.id.as_str()
            })
        })
    };
    eventually(
        Duration::from_secs(10),
        "`skipped replay` logged",
        || async {
            let log = server.log();
            if replay_logged(&log) {
                Ok(())
            } else {
                Err(format!("log so far:\n{log}"))
            }
        },
    )
    .await;
    let log = server.kill().await;

    // The log is the one we think it is: JSON lines, debug level on.
    assert!(
        log.contains("\"level\":\"DEBUG\""),
        "no debug lines:\n{log}"
    );
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "a log line that is not JSON: {line}"
        );
    }

    // Every request ends with one line naming its route by template (the
    // event id stays out of it), its status and its latency.
    let finished: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["message"] == "request finished")
        .collect();
    for status in [200, 401] {
        assert!(
            finished
                .iter()
                .any(|v| v["span"]["http.route"] == "/api/admin/events/{id}"
                    && v["status"] == status
                    && v["latency_ms"].is_number()
                    && v["span"]["request_id"]
                        .as_str()
                        .is_some_and(|id| id.len() == 36)),
            "no `request finished` {status} line for /api/admin/events/{{id}}:\n{log}"
        );
    }

    let mut forbidden = vec![
        ("webhook secret", secret.clone()),
        ("wrong webhook secret", wrong_secret.clone()),
        ("admin key", key.clone()),
        ("admin key body", key["pw_".len()..].to_owned()),
        ("presented wrong key", wrong_key.clone()),
        ("email address", email.to_owned()),
        ("JWT secret", jwt_secret.clone()),
        ("user token", user_token.clone()),
        ("forged user token", forged_token.clone()),
        (
            "user token signature",
            user_token.rsplit('.').next().unwrap_or_default().to_owned(),
        ),
    ];
    for signature in &signatures {
        forbidden.push(("Stripe-Signature header", signature.clone()));
        for part in signature.split(',') {
            if let Some(mac) = part.strip_prefix("v1=") {
                forbidden.push(("Stripe-Signature v1 value", mac.to_owned()));
            }
        }
    }
    forbidden.push(("outbound endpoint secret", endpoint_secret.clone()));
    forbidden.push((
        "outbound endpoint key",
        endpoint_secret["whsec_".len()..].to_owned(),
    ));
    for signature in &outbound_signatures {
        forbidden.push(("webhook-signature value", signature.clone()));
    }
    if let Some(password) = password {
        forbidden.push(("database password", password));
    }
    for (what, value) in &forbidden {
        assert!(
            !log.contains(value.as_str()),
            "the {db} server log contains the {what}:\n{}",
            log.lines()
                .filter(|l| l.contains(value.as_str()))
                .collect::<Vec<_>>()
                .join("\n"),
            db = db.name,
        );
    }
}

/// A bare HTTP endpoint on loopback for outbound webhooks: records each
/// raw request and answers 204.
async fn raw_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !complete(&request) {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                if let Ok(mut log) = log.lock() {
                    log.push(String::from_utf8_lossy(&request).into_owned());
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, seen)
}

/// Whether a raw request has its headers and all of its body.
fn complete(request: &[u8]) -> bool {
    let text = String::from_utf8_lossy(request);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .and_then(|v| v.trim().parse::<usize>().ok())
        })
        .unwrap_or(0);
    body.len() >= length
}
