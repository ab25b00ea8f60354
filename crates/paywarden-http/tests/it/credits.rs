//! Credits over HTTP, against the stand-in: packs and plans grant credits
//! once per payment, refunds take them back, and debits and holds under
//! `Idempotency-Key` never spend a credit twice, however they race.

use futures::future::join_all;
use paywarden_store::{ApiKeyRole, CreditLedger};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::shop::{shops, Shop};

const VISA: &str = "4242 4242 4242 4242";

/// An answer with the header that says whether it was replayed.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Value,
    replayed: Option<String>,
}

enum As<'a> {
    User(&'a str),
    Key(&'a str),
}

async fn send(
    shop: &Shop,
    who: As<'_>,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let token = match who {
        As::User(user) => Shop::token(user),
        As::Key(key) => key.to_owned(),
    };
    let mut request = shop
        .http
        .request(method, format!("{}{path}", shop.base))
        .bearer_auth(token);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("call the app");
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        replayed,
    }
}

async fn wallet(shop: &Shop, user: &str) -> Value {
    let reply = shop
        .call(Method::GET, "/api/me/credits", Some(user), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn balance(shop: &Shop, user: &str) -> i64 {
    wallet(shop, user).await["balance"]
        .as_i64()
        .expect("a balance")
}

async fn ledger(shop: &Shop, user: &str) -> Vec<Value> {
    let reply = shop
        .call(Method::GET, "/api/me/ledger?limit=100", Some(user), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"].as_array().cloned().unwrap_or_default()
}

async fn assert_ledger_verifies(shop: &Shop) {
    let report = shop.store.verify_ledger().await.expect("verify");
    assert!(
        report.is_consistent(),
        "{}: ledger verify: {:?}",
        shop.backend,
        report.mismatches
    );
}

/// Pays a Checkout for `price` × `quantity` and waits for the webhooks;
/// answers the stand-in's session.
async fn buy(shop: &Shop, user: &str, price: &str, quantity: Option<i64>) -> Value {
    let session = shop.checkout(user, price, quantity).await;
    assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER);
    shop.flush().await;
    let id = session["id"].as_str().expect("a session id");
    shop.sim_get(&format!("/v1/checkout/sessions/{id}")).await
}

/// An operator's grant, to start a wallet without a purchase.
async fn grant(shop: &Shop, admin: &str, user: &str, amount: i64) {
    let answer = send(
        shop,
        As::Key(admin),
        Method::POST,
        &format!("/api/admin/users/{user}/credits"),
        Some(&format!("seed-{user}-{amount}")),
        Some(json!({ "amount": amount, "reason": "test balance" })),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn packs_grant_once_per_payment_and_a_refund_takes_its_share_back() {
    for shop in shops().await {
        let b = shop.backend;
        let first = buy(&shop, "ana", "credits_100", Some(2)).await;
        assert_eq!(balance(&shop, "ana").await, 200, "{b}: two packs of 100");
        // Every event again: nothing is granted twice.
        shop.resend_all_events().await;
        assert_eq!(balance(&shop, "ana").await, 200, "{b}: redelivery");
        let entries = ledger(&shop, "ana").await;
        assert_eq!(entries.len(), 1, "{b}: {entries:?}");
        assert_eq!(entries[0]["kind"], "grant", "{b}");
        assert_eq!(entries[0]["amount"], 200, "{b}");
        assert!(
            entries[0]["stripe_event_id"]
                .as_str()
                .is_some_and(|e| e.starts_with("evt_")),
            "{b}: the grant names its event: {}",
            entries[0]
        );

        buy(&shop, "ana", "credits_100", None).await;
        assert_eq!(balance(&shop, "ana").await, 300, "{b}: another pack");
        let spent = send(
            &shop,
            As::User("ana"),
            Method::POST,
            "/api/credits/debit",
            Some("spend-250"),
            Some(json!({ "amount": 250, "description": "a long render" })),
        )
        .await;
        assert_eq!(spent.status, StatusCode::OK, "{b}: {}", spent.body);

        // The first payment refunded in full: its 200 credits come back
        // out, but 150 of them were spent, so only the 50 left are taken…
        let payment_intent = first["payment_intent"].as_str().expect("a PaymentIntent");
        shop.sim_post("/v1/refunds", &[("payment_intent", payment_intent)])
            .await;
        shop.flush().await;
        assert_eq!(balance(&shop, "ana").await, 0, "{b}: refund reversed");
        shop.resend_all_events().await;
        assert_eq!(balance(&shop, "ana").await, 0, "{b}: reversed once");
        // …and the other 150 from the next credits that arrive.
        buy(&shop, "ana", "credits_1000", None).await;
        assert_eq!(balance(&shop, "ana").await, 850, "{b}: rest taken back");
        let kinds: Vec<(String, i64)> = ledger(&shop, "ana")
            .await
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap_or_default().to_owned(),
                    e["amount"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("reversal".to_owned(), -150),
                ("grant".to_owned(), 1000),
                ("reversal".to_owned(), -50),
                ("debit".to_owned(), -250),
                ("grant".to_owned(), 100),
                ("grant".to_owned(), 200),
            ],
            "{b}: newest first"
        );
        assert_ledger_verifies(&shop).await;
    }
}

#[tokio::test]
async fn a_plan_with_credits_grants_them_for_its_paid_invoice() {
    for shop in shops().await {
        let b = shop.backend;
        buy(&shop, "bo", "starter_monthly", None).await;
        assert_eq!(balance(&shop, "bo").await, 100, "{b}: the first invoice");
        shop.resend_all_events().await;
        assert_eq!(balance(&shop, "bo").await, 100, "{b}: once per invoice");
        let entries = ledger(&shop, "bo").await;
        assert!(
            entries[0]["description"]
                .as_str()
                .is_some_and(|d| d.contains("invoice in_")),
            "{b}: {entries:?}"
        );
        // Nobody else got anything.
        assert_eq!(balance(&shop, "ana").await, 0, "{b}");
        assert_ledger_verifies(&shop).await;
    }
}

#[tokio::test]
async fn fifty_concurrent_debits_never_spend_more_than_the_balance() {
    for shop in shops().await {
        let b = shop.backend;
        let admin = shop.server_key(ApiKeyRole::Admin).await;
        let server = shop.server_key(ApiKeyRole::Server).await;
        grant(&shop, &admin, "cy", 1000).await;
        let debits = (0..50).map(|i| {
            let (shop, server) = (&shop, &server);
            async move {
                send(
                    shop,
                    As::Key(server),
                    Method::POST,
                    "/api/users/cy/credits/debit",
                    Some(&format!("race-{i}")),
                    Some(json!({ "amount": 37 })),
                )
                .await
            }
        });
        let answers = join_all(debits).await;
        let mut spent = 0;
        for answer in &answers {
            match answer.status {
                StatusCode::OK => {
                    spent += 37;
                    assert!(answer.body["wallet"]["balance"].as_i64() >= Some(0), "{b}");
                }
                StatusCode::CONFLICT => assert_eq!(
                    answer.body["error"]["code"], "insufficient_credits",
                    "{b}: {}",
                    answer.body
                ),
                other => panic!("{b}: {other}: {}", answer.body),
            }
        }
        assert!(spent <= 1000, "{b}: spent {spent} of 1000");
        assert_eq!(spent, 27 * 37, "{b}: each debit that fit went through");
        assert_eq!(balance(&shop, "cy").await, 1000 - spent, "{b}");
        let report = send(
            &shop,
            As::Key(&admin),
            Method::GET,
            "/api/admin/ledger/verify",
            None,
            None,
        )
        .await;
        assert_eq!(report.body["consistent"], true, "{b}: {}", report.body);
        assert_ledger_verifies(&shop).await;
    }
}

#[tokio::test]
async fn one_idempotency_key_sent_concurrently_moves_credits_once() {
    for shop in shops().await {
        let b = shop.backend;
        let admin = shop.server_key(ApiKeyRole::Admin).await;
        grant(&shop, &admin, "di", 500).await;
        let same = (0..20).map(|_| {
            let shop = &shop;
            async move {
                send(
                    shop,
                    As::User("di"),
                    Method::POST,
                    "/api/credits/debit",
                    Some("job-7"),
                    Some(json!({ "amount": 10, "description": "job 7" })),
                )
                .await
            }
        });
        let answers = join_all(same).await;
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::OK, "{b}: {}", answer.body);
            assert_eq!(answer.body, answers[0].body, "{b}: one answer for one key");
        }
        let first = answers
            .iter()
            .filter(|a| a.replayed.as_deref() == Some("false"))
            .count();
        assert_eq!(first, 1, "{b}: exactly one first answer, the rest replays");
        assert_eq!(balance(&shop, "di").await, 490, "{b}: one debit");

        // The same key with another body: refused, nothing moves.
        let other = send(
            &shop,
            As::User("di"),
            Method::POST,
            "/api/credits/debit",
            Some("job-7"),
            Some(json!({ "amount": 11, "description": "job 7" })),
        )
        .await;
        assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(other.body["error"]["code"], "idempotency_key_reused", "{b}");
        // Keys are per caller: the product's backend may use the same key.
        let server = shop.server_key(ApiKeyRole::Server).await;
        let theirs = send(
            &shop,
            As::Key(&server),
            Method::POST,
            "/api/users/di/credits/debit",
            Some("job-7"),
            Some(json!({ "amount": 10, "description": "job 7" })),
        )
        .await;
        assert_eq!(theirs.status, StatusCode::OK, "{b}: {}", theirs.body);
        assert_eq!(theirs.replayed.as_deref(), Some("false"), "{b}");
        assert_eq!(balance(&shop, "di").await, 480, "{b}");
        assert_ledger_verifies(&shop).await;
    }
}

#[tokio::test]
async fn holds_are_settled_or_released_once_over_http() {
    for shop in shops().await {
        let b = shop.backend;
        let admin = shop.server_key(ApiKeyRole::Admin).await;
        grant(&shop, &admin, "ed", 100).await;
        let hold = |key: &'static str, amount: i64| {
            send(
                &shop,
                As::User("ed"),
                Method::POST,
                "/api/credits/hold",
                Some(key),
                Some(json!({ "amount": amount, "expires_in": 600 })),
            )
        };
        let held = hold("h1", 60).await;
        assert_eq!(held.status, StatusCode::OK, "{b}: {}", held.body);
        let id = held.body["hold"]["id"]
            .as_str()
            .expect("hold id")
            .to_owned();
        let on_hold = wallet(&shop, "ed").await;
        assert_eq!(
            (on_hold["balance"].clone(), on_hold["available"].clone()),
            (json!(100), json!(40)),
            "{b}: {on_hold}"
        );
        assert_eq!(on_hold["holds"][0]["id"], id.as_str(), "{b}");

        let settle_path = format!("/api/credits/holds/{id}/settle");
        let settle = |key: &'static str, body: Option<Value>| {
            send(
                &shop,
                As::User("ed"),
                Method::POST,
                &settle_path,
                Some(key),
                body,
            )
        };
        let settled = settle("s1", Some(json!({ "amount": 45 }))).await;
        assert_eq!(settled.status, StatusCode::OK, "{b}: {}", settled.body);
        assert_eq!(settled.body["wallet"]["balance"], 55, "{b}");
        assert_eq!(settled.body["entry"]["amount"], -45, "{b}");
        let replay = settle("s1", Some(json!({ "amount": 45 }))).await;
        assert_eq!(replay.replayed.as_deref(), Some("true"), "{b}");
        assert_eq!(replay.body, settled.body, "{b}");
        let twice = settle("s2", None).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{b}: {}", twice.body);

        // Another user cannot see or touch the hold.
        let theirs = send(
            &shop,
            As::User("eve"),
            Method::POST,
            &format!("/api/credits/holds/{id}/release"),
            Some("r"),
            None,
        )
        .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{b}: {}", theirs.body);

        let second = hold("h2", 55).await;
        let id2 = second.body["hold"]["id"].as_str().expect("hold id");
        let released = send(
            &shop,
            As::User("ed"),
            Method::POST,
            &format!("/api/credits/holds/{id2}/release"),
            Some("r2"),
            None,
        )
        .await;
        assert_eq!(released.status, StatusCode::OK, "{b}: {}", released.body);
        assert_eq!(released.body["wallet"]["available"], 55, "{b}");
        assert_eq!(released.body["hold"]["status"], "released", "{b}");
        assert_ledger_verifies(&shop).await;
    }
}

#[tokio::test]
async fn bad_credit_requests_are_refused_and_change_nothing() {
    for shop in shops().await {
        let b = shop.backend;
        let admin = shop.server_key(ApiKeyRole::Admin).await;
        let server = shop.server_key(ApiKeyRole::Server).await;
        grant(&shop, &admin, "fay", 50).await;
        let debit = |key: Option<&'static str>, body: Value| {
            send(
                &shop,
                As::User("fay"),
                Method::POST,
                "/api/credits/debit",
                key,
                Some(body),
            )
        };
        let bad_bodies = [
            json!({ "amount": 0 }),
            json!({ "amount": -5 }),
            json!({ "amount": "ten" }),
            json!({ "amount": 1.5 }),
            json!({}),
            json!({ "amount": 5, "price": 1 }),
            json!({ "amount": 5, "description": "x".repeat(501) }),
        ];
        for (i, body) in bad_bodies.into_iter().enumerate() {
            let key: &'static str = ["b0", "b1", "b2", "b3", "b4", "b5", "b6"][i];
            let answer = debit(Some(key), body.clone()).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{b}: {body}");
            assert_eq!(
                answer.body["error"]["code"], "invalid_request",
                "{b}: {body}"
            );
        }
        let no_key = debit(None, json!({ "amount": 5 })).await;
        assert_eq!(
            no_key.status,
            StatusCode::BAD_REQUEST,
            "{b}: {}",
            no_key.body
        );
        let bad_key = send(
            &shop,
            As::User("fay"),
            Method::POST,
            "/api/credits/debit",
            Some("has space"),
            Some(json!({ "amount": 5 })),
        )
        .await;
        assert_eq!(bad_key.status, StatusCode::BAD_REQUEST, "{b}");
        let too_much = debit(Some("big"), json!({ "amount": 51 })).await;
        assert_eq!(too_much.status, StatusCode::CONFLICT, "{b}");
        assert_eq!(
            too_much.body["error"]["code"], "insufficient_credits",
            "{b}"
        );
        let hold = send(
            &shop,
            As::User("fay"),
            Method::POST,
            "/api/credits/hold",
            Some("h"),
            Some(json!({ "amount": 5, "expires_in": 0 })),
        )
        .await;
        assert_eq!(hold.status, StatusCode::BAD_REQUEST, "{b}: {}", hold.body);
        let forged = send(
            &shop,
            As::User("fay"),
            Method::POST,
            "/api/credits/holds/hld_nope/settle",
            Some("s"),
            None,
        )
        .await;
        assert_eq!(forged.status, StatusCode::NOT_FOUND, "{b}");

        // Signed out, or the wrong kind of key.
        let anonymous = shop
            .call(
                Method::POST,
                "/api/credits/debit",
                None,
                Some(json!({ "amount": 1 })),
            )
            .await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{b}");
        let anonymous = shop.call(Method::GET, "/api/me/credits", None, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{b}");
        let not_admin = send(
            &shop,
            As::Key(&server),
            Method::POST,
            "/api/admin/users/fay/credits",
            Some("g"),
            Some(json!({ "amount": 1000, "reason": "free money" })),
        )
        .await;
        assert_eq!(not_admin.status, StatusCode::FORBIDDEN, "{b}");
        let user_as_server = send(
            &shop,
            As::User("fay"),
            Method::POST,
            "/api/users/fay/credits/debit",
            Some("u"),
            Some(json!({ "amount": 1 })),
        )
        .await;
        assert_eq!(user_as_server.status, StatusCode::UNAUTHORIZED, "{b}");
        let cursor = shop
            .call(Method::GET, "/api/me/ledger?cursor=zzz", Some("fay"), None)
            .await;
        assert_eq!(cursor.status, StatusCode::BAD_REQUEST, "{b}");

        assert_eq!(balance(&shop, "fay").await, 50, "{b}: nothing moved");
        assert_eq!(ledger(&shop, "fay").await.len(), 1, "{b}: only the grant");
        assert_ledger_verifies(&shop).await;
    }
}
