//! Buying through paywarden, end to end against the Stripe stand-in, on
//! both storage backends: Checkout with test cards, the webhook, the
//! success-page sync, subscription changes, the portal, server keys acting
//! for a user, and bad input that must change nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use paywarden_core::UserId;
use paywarden_store::{ApiKeyRole, ProjectionReader};
use paywarden_testkit::stripe_proxy::Action;
use paywarden_testkit::{now_secs, TestStore};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::shop::{shops, token_with, Shop, AUDIENCE};

const VISA: &str = "4242424242424242";
const DECLINED: &str = "4000000000000002";

fn user(id: &str) -> UserId {
    id.parse().expect("a user id")
}

/// The user's subscriptions as the API lists them.
async fn subscriptions(shop: &Shop, who: &str) -> Vec<Value> {
    let reply = shop
        .call(Method::GET, "/api/subscriptions", Some(who), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"].as_array().cloned().unwrap_or_default()
}

/// Buys `price` for `who` with a good card and waits for the webhooks.
async fn buy(shop: &Shop, who: &str, price: &str) -> Value {
    let session = shop.checkout(who, price, None).await;
    assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER);
    shop.flush().await;
    session
}

fn error_code(reply: &crate::shop::Reply) -> &str {
    reply.body["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn a_plan_bought_with_4242_is_active_and_provisions_the_account() {
    for shop in shops().await {
        let b = shop.backend;
        let session = shop.checkout("ada", "pro_monthly", None).await;
        let id = session["id"].as_str().expect("id");
        assert!(id.starts_with("cs_"), "{b}: {session}");
        assert!(session["expires_at"].as_i64().expect("expires_at") > now_secs() + 600);
        // What Stripe was asked for came from the server, not the client.
        let stripe_session = shop.sim_get(&format!("/v1/checkout/sessions/{id}")).await;
        assert_eq!(stripe_session["mode"], "subscription", "{b}");
        assert_eq!(stripe_session["client_reference_id"], "ada", "{b}");
        assert_eq!(stripe_session["metadata"]["user_id"], "ada", "{b}");
        assert_eq!(stripe_session["metadata"]["plan"], "pro", "{b}");
        assert_eq!(
            stripe_session["success_url"],
            format!(
                "{}/payment/success?session_id={{CHECKOUT_SESSION_ID}}",
                shop.base
            ),
            "{b}"
        );
        assert_eq!(
            stripe_session["cancel_url"],
            format!("{}/payment/cancel", shop.base)
        );
        assert_eq!(stripe_session["amount_total"], 2900, "{b}");

        assert!(shop
            .store
            .account(&user("ada"))
            .await
            .expect("read")
            .is_none());
        assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER, "{b}");
        shop.flush().await;

        let subs = subscriptions(&shop, "ada").await;
        assert_eq!(subs.len(), 1, "{b}: {subs:?}");
        assert_eq!(subs[0]["status"], "active", "{b}: {subs:?}");
        assert_eq!(subs[0]["items"][0]["price"], "pro_monthly", "{b}");
        assert_eq!(subs[0]["items"][0]["plan"], "pro", "{b}");
        let account = shop.store.account(&user("ada")).await.expect("read");
        assert!(
            account.is_some(),
            "{b}: the webhook provisioned ada's account"
        );

        // Ada already has Pro: buying it again (any interval) is refused.
        let again = shop
            .call(
                Method::POST,
                "/api/checkout/session",
                Some("ada"),
                Some(json!({ "price": "pro_yearly" })),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{b}: {}", again.body);
        // Another user sees none of it.
        assert!(subscriptions(&shop, "bob").await.is_empty(), "{b}");
        let sub_id = subs[0]["id"].as_str().expect("sub id");
        let peek = shop
            .call(
                Method::GET,
                &format!("/api/subscriptions/{sub_id}"),
                Some("bob"),
                None,
            )
            .await;
        assert_eq!(peek.status, StatusCode::NOT_FOUND, "{b}: {}", peek.body);
        // One Stripe customer for ada, reused.
        let customers = shop.sim_list("/v1/customers").await;
        assert_eq!(customers.len(), 1, "{b}: {customers:?}");
        assert_eq!(customers[0]["metadata"]["user_id"], "ada");
    }
}

#[tokio::test]
async fn a_pack_bought_once_is_paid_and_can_be_bought_again() {
    for shop in shops().await {
        let b = shop.backend;
        let session = shop.checkout("ada", "credits_100", Some(2)).await;
        let id = session["id"].as_str().expect("id").to_owned();
        let stripe_session = shop.sim_get(&format!("/v1/checkout/sessions/{id}")).await;
        assert_eq!(stripe_session["mode"], "payment", "{b}");
        assert_eq!(stripe_session["amount_total"], 1000, "{b}: 2 × 500");
        assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER);
        shop.flush().await;
        let status = shop
            .call(
                Method::GET,
                &format!("/api/checkout/session/{id}"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(status.status, StatusCode::OK, "{b}: {}", status.body);
        assert_eq!(status.body["fulfilled"], true, "{b}: {}", status.body);
        assert_eq!(status.body["price"], "credits_100");
        assert!(
            shop.store
                .account(&user("ada"))
                .await
                .expect("read")
                .is_some(),
            "{b}"
        );
        assert!(subscriptions(&shop, "ada").await.is_empty(), "{b}");
        let counts = shop.store.projection_counts().await.expect("counts");
        assert!(counts.counted_payments >= 1, "{b}: {counts:?}");
        // Packs are bought as often as one likes: a new session.
        let second = shop.checkout("ada", "credits_100", Some(2)).await;
        assert_ne!(second["id"], session["id"], "{b}");
    }
}

#[tokio::test]
async fn a_declined_card_grants_nothing() {
    for shop in shops().await {
        let b = shop.backend;
        let session = shop.checkout("ada", "starter_monthly", None).await;
        let answer = shop.pay(&session, DECLINED).await;
        assert_ne!(
            answer,
            StatusCode::SEE_OTHER,
            "{b}: a decline does not redirect"
        );
        shop.flush().await;
        assert!(
            shop.store
                .account(&user("ada"))
                .await
                .expect("read")
                .is_none(),
            "{b}"
        );
        assert!(
            subscriptions(&shop, "ada")
                .await
                .iter()
                .all(|s| s["status"] != "active"),
            "{b}"
        );
        let id = session["id"].as_str().expect("id");
        let status = shop
            .call(
                Method::GET,
                &format!("/api/checkout/session/{id}"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(status.body["fulfilled"], false, "{b}: {}", status.body);
        assert_eq!(status.body["status"], "open", "{b}");
        // The open session is handed out again rather than a second one.
        let again = shop.checkout("ada", "starter_monthly", None).await;
        assert_eq!(again["id"], session["id"], "{b}");
    }
}

#[tokio::test]
async fn the_success_page_grants_before_the_webhook_and_the_webhook_then_changes_nothing() {
    for shop in shops().await {
        let b = shop.backend;
        shop.deliveries_enabled(false).await;
        let session = shop.checkout("ada", "pro_monthly", None).await;
        assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER);
        shop.flush().await;
        assert!(
            shop.store
                .account(&user("ada"))
                .await
                .expect("read")
                .is_none(),
            "{b}: no webhook yet"
        );
        // Stripe already knows ada subscribes: buying Pro again is refused
        // even though paywarden has not heard of it yet.
        let twice = shop
            .call(
                Method::POST,
                "/api/checkout/session",
                Some("ada"),
                Some(json!({ "price": "pro_yearly" })),
            )
            .await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{b}: {}", twice.body);
        // A forged visit to the success page of an unpaid session grants nothing.
        let unpaid = shop.checkout("bob", "starter_monthly", None).await;
        let forged = shop
            .call(
                Method::GET,
                &format!(
                    "/payment/success?session_id={}",
                    unpaid["id"].as_str().expect("id")
                ),
                Some("bob"),
                None,
            )
            .await;
        assert_eq!(forged.status, StatusCode::OK);
        assert!(
            shop.store
                .account(&user("bob"))
                .await
                .expect("read")
                .is_none(),
            "{b}"
        );
        // Another user's session is not found, and grants nothing either.
        let id = session["id"].as_str().expect("id");
        let stolen = shop
            .call(
                Method::GET,
                &format!("/payment/success?session_id={id}"),
                Some("bob"),
                None,
            )
            .await;
        assert_eq!(stolen.status, StatusCode::NOT_FOUND, "{b}");
        assert!(
            shop.store
                .account(&user("bob"))
                .await
                .expect("read")
                .is_none(),
            "{b}"
        );

        let page = shop
            .call(
                Method::GET,
                &format!("/payment/success?session_id={id}"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{b}");
        assert!(
            page.body.as_str().unwrap_or_default().contains("Thank you"),
            "{b}: {}",
            page.body
        );
        let account = shop
            .store
            .account(&user("ada"))
            .await
            .expect("read")
            .expect("granted now");
        assert_eq!(account.events, ["stripe_checkout"], "{b}");
        let features = shop
            .call(Method::GET, "/api/me/entitlements", Some("ada"), None)
            .await;
        assert_eq!(
            features.body["features"]["api"], true,
            "{b}: {}",
            features.body
        );
        let version = features.body["version"].clone();
        let subs = subscriptions(&shop, "ada").await;
        assert_eq!(subs.len(), 1, "{b}");
        assert_eq!(subs[0]["status"], "active", "{b}");
        let before = shop.digest().await;

        shop.deliveries_enabled(true).await;
        shop.resend_all_events().await;
        let events = shop.store.projection_counts().await.expect("counts").events;
        assert!(events > 3, "{b}: the webhooks arrived ({events})");
        // What the sync granted is exactly what the webhooks say; they add
        // only facts the session does not carry (the invoice's payment, the
        // card's brand).
        assert_eq!(
            granted_rows(&shop.digest().await),
            granted_rows(&before),
            "{b}: the webhooks changed nothing the sync wrote"
        );
        // And a further delivery of the completion itself changes nothing at all.
        let after = shop.digest().await;
        let completed = shop
            .sim_list("/v1/events")
            .await
            .into_iter()
            .find(|e| e["type"] == "checkout.session.completed")
            .expect("the completion event");
        let resent = shop
            .http
            .post(format!(
                "{}/_sim/events/{}/resend",
                shop.sim_base,
                completed["id"].as_str().expect("evt")
            ))
            .send()
            .await
            .expect("resend");
        assert!(resent.status().is_success());
        shop.flush().await;
        assert_eq!(shop.digest().await, after, "{b}");
        let account = shop
            .store
            .account(&user("ada"))
            .await
            .expect("read")
            .expect("account");
        assert_eq!(account.events, ["stripe_checkout"], "{b}: provisioned once");
        let after = shop
            .call(Method::GET, "/api/me/entitlements", Some("ada"), None)
            .await;
        assert_eq!(
            after.body["version"], version,
            "{b}: the webhooks bumped nothing"
        );
    }
}

/// The rows a paid Checkout grants: the account, the session, the
/// subscription and its items.
fn granted_rows(digest: &[String]) -> Vec<String> {
    digest
        .iter()
        .filter(|line| {
            [
                "accounts|",
                "checkout_sessions|",
                "subscriptions|",
                "subscription_items|",
            ]
            .iter()
            .any(|table| line.starts_with(table))
        })
        .cloned()
        .collect()
}

/// The API's view of a subscription, and Stripe's.
async fn both_views(shop: &Shop, who: &str, id: &str) -> (Value, Value) {
    let ours = shop
        .call(
            Method::GET,
            &format!("/api/subscriptions/{id}"),
            Some(who),
            None,
        )
        .await;
    assert_eq!(ours.status, StatusCode::OK, "{}", ours.body);
    (
        ours.body,
        shop.sim_get(&format!("/v1/subscriptions/{id}")).await,
    )
}

async fn change(shop: &Shop, id: &str, body: Value) -> Value {
    let reply = shop
        .call(
            Method::PUT,
            &format!("/api/subscriptions/{id}"),
            Some("ada"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}: {body} → {}",
        shop.backend,
        reply.body
    );
    reply.body
}

#[tokio::test]
async fn plan_changes_cancellation_pause_and_resume_end_in_the_state_stripe_reports() {
    for shop in shops().await {
        let b = shop.backend;
        buy(&shop, "ada", "pro_monthly").await;
        let id = subscriptions(&shop, "ada").await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();

        let changed = change(&shop, &id, json!({ "price": "pro_yearly" })).await;
        assert_eq!(changed["items"][0]["price"], "pro_yearly", "{b}: {changed}");
        let (ours, stripe) = both_views(&shop, "ada", &id).await;
        assert_eq!(
            stripe["items"]["data"][0]["price"]["lookup_key"], "pro_yearly",
            "{b}"
        );
        assert_eq!(
            ours["items"][0]["price_id"],
            stripe["items"]["data"][0]["price"]["id"]
        );
        assert_eq!(ours["status"], stripe["status"]);

        for flag in [true, false, true] {
            let changed = change(&shop, &id, json!({ "cancel_at_period_end": flag })).await;
            assert_eq!(changed["cancel_at_period_end"], flag, "{b}");
            let (ours, stripe) = both_views(&shop, "ada", &id).await;
            assert_eq!(stripe["cancel_at_period_end"], flag, "{b}: {stripe}");
            assert_eq!(ours["cancel_at_period_end"], flag, "{b}");
        }
        change(&shop, &id, json!({ "cancel_at_period_end": false })).await;

        let paused = change(&shop, &id, json!({ "pause": true })).await;
        assert_eq!(paused["pause_behavior"], "void", "{b}: {paused}");
        let (_, stripe) = both_views(&shop, "ada", &id).await;
        assert_eq!(stripe["pause_collection"]["behavior"], "void", "{b}");
        let resumed = change(&shop, &id, json!({ "pause": false })).await;
        assert_eq!(resumed["pause_behavior"], Value::Null, "{b}: {resumed}");
        let (_, stripe) = both_views(&shop, "ada", &id).await;
        assert_eq!(stripe["pause_collection"], Value::Null, "{b}");

        let at_end = shop
            .call(
                Method::DELETE,
                &format!("/api/subscriptions/{id}?at_period_end=true"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(at_end.status, StatusCode::OK, "{b}: {}", at_end.body);
        assert_eq!(at_end.body["cancel_at_period_end"], true);
        assert_eq!(at_end.body["status"], "active");

        let now = shop
            .call(
                Method::DELETE,
                &format!("/api/subscriptions/{id}"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(now.status, StatusCode::OK, "{b}: {}", now.body);
        assert_eq!(now.body["status"], "canceled", "{b}");
        // The webhooks of all these changes arrive afterwards and agree.
        shop.flush().await;
        let (ours, stripe) = both_views(&shop, "ada", &id).await;
        assert_eq!(stripe["status"], "canceled");
        assert_eq!(ours["status"], "canceled", "{b}: {ours}");
        let late = shop
            .call(
                Method::PUT,
                &format!("/api/subscriptions/{id}"),
                Some("ada"),
                Some(json!({ "cancel_at_period_end": false })),
            )
            .await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{b}: {}", late.body);
        // Ada may buy Pro again now.
        shop.checkout("ada", "pro_monthly", None).await;
    }
}

/// Cuts the connection after Stripe acted, for the first `cuts` attempts of
/// every POST whose path starts with one of `paths`.
fn cutter(
    paths: &'static [&'static str],
    cuts: usize,
) -> impl Fn(usize, &str) -> Action + Send + Sync {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    move |_, line| {
        let mut parts = line.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = path.split('?').next().unwrap_or("");
        if method != "POST" || !paths.contains(&path) {
            return Action::Forward;
        }
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        let n = seen.entry(path.to_owned()).or_default();
        *n += 1;
        if *n <= cuts {
            Action::DropAfterForward
        } else {
            Action::Forward
        }
    }
}

#[tokio::test]
async fn a_cut_network_path_to_stripe_creates_no_duplicates() {
    for db in paywarden_testkit::backends().await {
        let shop = Shop::open_with(
            db,
            Some(cutter(
                &[
                    "/v1/customers",
                    "/v1/checkout/sessions",
                    "/v1/subscriptions",
                ],
                1,
            )),
        )
        .await;
        let b = shop.backend;
        // Each create is cut once after Stripe acted; the retry gets
        // Stripe's answer to the same idempotency key.
        let session = shop.checkout("ada", "credits_100", None).await;
        let again = shop.checkout("ada", "credits_100", None).await;
        assert_eq!(again["id"], session["id"], "{b}: the client's retry too");
        assert_eq!(shop.sim_list("/v1/customers").await.len(), 1, "{b}");
        assert_eq!(shop.sim_list("/v1/checkout/sessions").await.len(), 1, "{b}");
        assert_eq!(shop.pay(&session, VISA).await, StatusCode::SEE_OTHER);
        shop.flush().await;

        // Starting a plan with the saved card, cut on the way back.
        let customer = shop.sim_list("/v1/customers").await[0]["id"]
            .as_str()
            .expect("cus")
            .to_owned();
        save_card(&shop, &customer).await;
        let started = shop
            .call(
                Method::POST,
                "/api/subscriptions",
                Some("ada"),
                Some(json!({ "price": "starter_monthly" })),
            )
            .await;
        assert_eq!(started.status, StatusCode::OK, "{b}: {}", started.body);
        assert_eq!(started.body["status"], "active", "{b}: {}", started.body);
        let retried = shop
            .call(
                Method::POST,
                "/api/subscriptions",
                Some("ada"),
                Some(json!({ "price": "starter_monthly" })),
            )
            .await;
        assert_eq!(
            retried.status,
            StatusCode::CONFLICT,
            "{b}: {}",
            retried.body
        );
        assert_eq!(shop.sim_list("/v1/subscriptions").await.len(), 1, "{b}");
        let cut_seen = shop.proxy.as_ref().expect("proxy").count();
        assert!(cut_seen >= 6, "{b}: the proxy saw the retries ({cut_seen})");
    }
}

#[tokio::test]
async fn stripe_unreachable_past_every_retry_is_503_and_the_retry_creates_one_session() {
    let db = TestStore::sqlite().await;
    // Four attempts (the first and three retries) all cut: the request fails.
    let shop = Shop::open_with(db, Some(cutter(&["/v1/checkout/sessions"], 4))).await;
    let failed = shop
        .call(
            Method::POST,
            "/api/checkout/session",
            Some("ada"),
            Some(json!({ "price": "credits_100" })),
        )
        .await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        failed.body
    );
    assert_eq!(error_code(&failed), "payment_provider_unavailable");
    let session = shop.checkout("ada", "credits_100", None).await;
    let sessions = shop.sim_list("/v1/checkout/sessions").await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["id"], session["id"]);
}

/// Saves a card as the customer's default, as the portal would.
async fn save_card(shop: &Shop, customer: &str) {
    let pm: Value = shop
        .http
        .post(format!(
            "{}/v1/payment_methods/pm_card_visa/attach",
            shop.sim_base
        ))
        .bearer_auth("sk_test_paywarden_shop")
        .form(&[("customer", customer)])
        .send()
        .await
        .expect("attach")
        .json()
        .await
        .expect("json");
    let pm = pm["id"].as_str().expect("pm id");
    let answer = shop
        .http
        .post(format!("{}/v1/customers/{customer}", shop.sim_base))
        .bearer_auth("sk_test_paywarden_shop")
        .form(&[("invoice_settings[default_payment_method]", pm)])
        .send()
        .await
        .expect("update customer");
    assert!(answer.status().is_success());
}

#[tokio::test]
async fn bad_input_gets_the_right_4xx_in_one_shape_and_creates_nothing() {
    for shop in shops().await {
        let b = shop.backend;
        let post = |body: Value| {
            let shop = &shop;
            async move {
                shop.call(
                    Method::POST,
                    "/api/checkout/session",
                    Some("ada"),
                    Some(body),
                )
                .await
            }
        };
        let cases = [
            (
                json!({ "price": "pro_monthly", "success_url": "https://evil.example" }),
                "success_url",
            ),
            (json!({ "price": "pro_monthly", "quantity": 0 }), "quantity"),
            (
                json!({ "price": "credits_100", "quantity": -1 }),
                "quantity",
            ),
            (
                json!({ "price": "credits_100", "quantity": 11 }),
                "quantity",
            ),
            (json!({ "price": "gold_forever" }), "gold_forever"),
            (json!({ "price": "pro_monthly", "amount": 1 }), "amount"),
            (json!({ "quantity": 1 }), "price"),
            (json!("pro_monthly"), "invalid body"),
        ];
        for (body, named) in cases {
            let reply = post(body.clone()).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{b}: {body} → {}",
                reply.body
            );
            assert_eq!(error_code(&reply), "invalid_request", "{b}: {}", reply.body);
            let message = reply.body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(named), "{b}: {body} → {message}");
        }
        let not_json = shop
            .http
            .post(format!("{}/api/checkout/session", shop.base))
            .bearer_auth(Shop::token("ada"))
            .body("price=pro_monthly")
            .send()
            .await
            .expect("post");
        assert_eq!(not_json.status(), StatusCode::BAD_REQUEST, "{b}");

        let good = Shop::token("ada");
        let mut tampered = good.clone();
        tampered.pop();
        tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
        let expired = token_with(json!({ "sub": "ada", "aud": AUDIENCE, "exp": now_secs() - 600 }));
        let other_audience =
            token_with(json!({ "sub": "ada", "aud": "someone-else", "exp": now_secs() + 600 }));
        let none_header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let none_claims = base64_url(
            json!({ "sub": "ada", "aud": AUDIENCE, "exp": now_secs() + 600 })
                .to_string()
                .as_bytes(),
        );
        let alg_none = format!("{none_header}.{none_claims}.");
        for (what, token) in [
            ("tampered", Some(tampered.as_str())),
            ("expired", Some(expired.as_str())),
            ("another audience", Some(other_audience.as_str())),
            ("alg none", Some(alg_none.as_str())),
            ("no token", None),
        ] {
            let reply = shop
                .call_with_token(
                    Method::POST,
                    "/api/checkout/session",
                    token,
                    Some(json!({ "price": "pro_monthly" })),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{b}: {what}: {}",
                reply.body
            );
            assert_eq!(error_code(&reply), "unauthorized", "{b}: {what}");
        }
        assert!(
            shop.sim_list("/v1/customers").await.is_empty(),
            "{b}: no customer created"
        );
        assert!(
            shop.sim_list("/v1/checkout/sessions").await.is_empty(),
            "{b}: no session"
        );

        // Another user's subscription: 404 whatever the verb.
        buy(&shop, "ada", "starter_monthly").await;
        let id = subscriptions(&shop, "ada").await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(json!({ "cancel_at_period_end": true }))),
            (Method::DELETE, None),
        ] {
            let reply = shop
                .call(
                    method.clone(),
                    &format!("/api/subscriptions/{id}"),
                    Some("bob"),
                    body,
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{b}: {method} → {}",
                reply.body
            );
            assert_eq!(error_code(&reply), "not_found");
        }
        let (_, stripe) = both_views(&shop, "ada", &id).await;
        assert_eq!(stripe["status"], "active", "{b}: bob changed nothing");
        assert_eq!(stripe["cancel_at_period_end"], false, "{b}");
        let empty = shop
            .call(
                Method::PUT,
                &format!("/api/subscriptions/{id}"),
                Some("ada"),
                Some(json!({})),
            )
            .await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{b}: {}", empty.body);
        let junk = shop
            .call(
                Method::GET,
                "/api/subscriptions/not-a-sub",
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(junk.status, StatusCode::NOT_FOUND, "{b}");
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_server_key_acts_for_a_user_and_other_credentials_do_not() {
    for shop in shops().await {
        let b = shop.backend;
        let server = shop.server_key(ApiKeyRole::Server).await;
        let admin = shop.server_key(ApiKeyRole::Admin).await;
        let body = json!({ "price": "starter_monthly" });
        let path = "/api/users/carol/checkout/session";
        let created = shop
            .call_with_token(Method::POST, path, Some(&server), Some(body.clone()))
            .await;
        assert_eq!(created.status, StatusCode::OK, "{b}: {}", created.body);
        let id = created.body["id"].as_str().expect("id");
        let stripe = shop.sim_get(&format!("/v1/checkout/sessions/{id}")).await;
        assert_eq!(stripe["client_reference_id"], "carol", "{b}");
        let listed = shop
            .call_with_token(
                Method::GET,
                "/api/users/carol/subscriptions",
                Some(&server),
                None,
            )
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{b}: {}", listed.body);
        let forbidden = shop
            .call_with_token(Method::POST, path, Some(&admin), Some(body.clone()))
            .await;
        assert_eq!(
            forbidden.status,
            StatusCode::FORBIDDEN,
            "{b}: {}",
            forbidden.body
        );
        let user_token = Shop::token("carol");
        for token in [Some(user_token.as_str()), None] {
            let refused = shop
                .call_with_token(Method::POST, path, token, Some(body.clone()))
                .await;
            assert_eq!(
                refused.status,
                StatusCode::UNAUTHORIZED,
                "{b}: {}",
                refused.body
            );
        }
    }
}

#[tokio::test]
async fn the_portal_opens_for_a_customer_and_returns_to_the_account_page() {
    for shop in shops().await {
        let b = shop.backend;
        let early = shop
            .call(Method::POST, "/api/portal/session", Some("ada"), None)
            .await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{b}: {}", early.body);
        buy(&shop, "ada", "credits_100").await;
        let portal = shop
            .call(Method::POST, "/api/portal/session", Some("ada"), None)
            .await;
        assert_eq!(portal.status, StatusCode::OK, "{b}: {}", portal.body);
        let url = portal.body["url"].as_str().expect("url");
        assert!(url.starts_with(&shop.sim_base), "{b}: {url}");
        let page = shop.http.get(url).send().await.expect("portal page");
        assert_eq!(page.status(), StatusCode::OK, "{b}");
        let page = page.text().await.expect("html");
        assert!(
            page.contains(&format!("{}/account", shop.base)),
            "{b}: returns to /account"
        );
    }
}

#[tokio::test]
async fn plans_list_the_catalog_for_a_pricing_page() {
    let shop = Shop::open(TestStore::sqlite().await).await;
    let reply = shop.call(Method::GET, "/api/plans", None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let plans = reply.body["data"].as_array().expect("data");
    let pro = plans.iter().find(|p| p["key"] == "pro").expect("pro");
    assert_eq!(pro["features"]["exports"], true);
    assert_eq!(pro["features"]["projects"], 50);
    let monthly = &pro["prices"][0];
    assert_eq!(monthly["lookup_key"], "pro_monthly");
    assert_eq!(monthly["amount"], 2900);
    assert_eq!(monthly["currency"], "usd");
    assert_eq!(monthly["interval"], "month");
    assert_eq!(monthly["mode"], "subscription");
    let pack = plans
        .iter()
        .find(|p| p["key"] == "credits-100")
        .expect("a pack");
    assert_eq!(pack["prices"][0]["mode"], "payment");
    assert_eq!(pack["credits"], 100);
    let tiers: Vec<i64> = plans.iter().filter_map(|p| p["tier"].as_i64()).collect();
    assert!(tiers.windows(2).all(|w| w[0] <= w[1]), "{tiers:?}");
}

async fn entitlements(shop: &Shop, who: &str, query: &str) -> crate::shop::Reply {
    shop.call(
        Method::GET,
        &format!("/api/me/entitlements{query}"),
        Some(who),
        None,
    )
    .await
}

#[tokio::test]
async fn entitlements_follow_purchases_changes_and_cancellation_with_a_growing_version() {
    for shop in shops().await {
        let b = shop.backend;
        let none = entitlements(&shop, "ada", "").await;
        assert_eq!(none.status, StatusCode::OK, "{b}: {}", none.body);
        assert_eq!(none.body["version"], 0, "{b}");
        assert_eq!(none.body["features"], json!({}), "{b}");

        buy(&shop, "ada", "pro_monthly").await;
        let granted = entitlements(&shop, "ada", "").await;
        assert_eq!(
            granted.body["features"]["api"], true,
            "{b}: {}",
            granted.body
        );
        assert_eq!(granted.body["features"]["projects"], 50, "{b}");
        assert_eq!(
            granted.body["source"], "memory",
            "{b}: the commit put it there"
        );
        let v1 = granted.body["version"].as_i64().expect("version");
        assert!(v1 >= 1, "{b}");
        let exports = entitlements(&shop, "ada", "?feature=exports").await;
        assert_eq!(exports.body["allowed"], true, "{b}: {}", exports.body);
        let sso = entitlements(&shop, "ada", "?feature=sso").await;
        assert_eq!(
            sso.body["allowed"], false,
            "{b}: Team has SSO, Pro does not"
        );
        let ahead = entitlements(&shop, "ada", &format!("?min_version={}", v1 + 1)).await;
        assert_eq!(
            ahead.status,
            StatusCode::CONFLICT,
            "{b}: never an older answer"
        );
        let at = entitlements(&shop, "ada", &format!("?min_version={v1}")).await;
        assert_eq!(at.status, StatusCode::OK, "{b}");

        // The product's backend asks with its server key.
        let server = shop.server_key(ApiKeyRole::Server).await;
        let by_server = shop
            .call_with_token(Method::GET, "/api/entitlements/ada", Some(&server), None)
            .await;
        assert_eq!(by_server.status, StatusCode::OK, "{b}: {}", by_server.body);
        assert_eq!(by_server.body["version"], v1, "{b}");
        assert_eq!(by_server.body["user_id"], "ada");
        let as_user = shop
            .call(Method::GET, "/api/entitlements/ada", Some("ada"), None)
            .await;
        assert_eq!(
            as_user.status,
            StatusCode::UNAUTHORIZED,
            "{b}: a user token is not a key"
        );
        assert_eq!(
            entitlements(&shop, "bob", "").await.body["features"],
            json!({}),
            "{b}: bob has nothing"
        );

        // Upgrading changes the features, and the version.
        let id = subscriptions(&shop, "ada").await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        change(&shop, &id, json!({ "price": "team_monthly_seat" })).await;
        let team = entitlements(&shop, "ada", "").await;
        assert_eq!(team.body["features"]["sso"], true, "{b}: {}", team.body);
        let v2 = team.body["version"].as_i64().expect("version");
        assert!(v2 > v1, "{b}");

        // Cancelling now takes everything away, at a newer version still.
        let canceled = shop
            .call(
                Method::DELETE,
                &format!("/api/subscriptions/{id}"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(canceled.status, StatusCode::OK, "{b}");
        let gone = entitlements(&shop, "ada", "").await;
        assert_eq!(gone.body["features"], json!({}), "{b}: {}", gone.body);
        let v3 = gone.body["version"].as_i64().expect("version");
        assert!(v3 > v2, "{b}");
        // The cancellation's webhooks, arriving later, change nothing.
        shop.flush().await;
        let settled = entitlements(&shop, "ada", "").await;
        assert_eq!(settled.body["version"], v3, "{b}: {}", settled.body);
        assert_eq!(settled.body["features"], json!({}), "{b}");
    }
}
