//! Payment methods, test cards, payment intents, charges, refunds and
//! disputes, as an SDK user sees them.

use serde_json::Value;

use crate::support::{error_of, Server};

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_owned()
}

async fn customer(server: &Server) -> anyhow::Result<String> {
    Ok(id(&server
        .ok_post("/v1/customers", "email=pay%40example.com")
        .await?))
}

/// Creates and confirms a 20.00 USD intent with `pm`; the raw response.
async fn pay(server: &Server, pm: &str, extra: &str) -> anyhow::Result<reqwest::Response> {
    server
        .post(
            "/v1/payment_intents",
            &format!("amount=2000&currency=usd&payment_method={pm}&confirm=true{extra}"),
        )
        .await
}

async fn paid(server: &Server, pm: &str) -> anyhow::Result<Value> {
    let response = pay(server, pm, "").await?;
    anyhow::ensure!(
        response.status() == 200,
        "pay with {pm}: {}",
        response.status()
    );
    Ok(response.json().await?)
}

#[tokio::test]
async fn each_test_card_declines_as_stripe_does() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let cases = [
        (
            "pm_card_chargeDeclined",
            "card_declined",
            Some("generic_decline"),
            "Your card was declined.",
        ),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            Some("insufficient_funds"),
            "Your card has insufficient funds.",
        ),
        (
            "pm_card_chargeDeclinedLostCard",
            "card_declined",
            Some("lost_card"),
            "Your card was declined.",
        ),
        (
            "pm_card_chargeDeclinedStolenCard",
            "card_declined",
            Some("stolen_card"),
            "Your card was declined.",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            Some("expired_card"),
            "Your card has expired.",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            Some("incorrect_cvc"),
            "Your card's security code is incorrect.",
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "processing_error",
            Some("processing_error"),
            "An error occurred while processing your card. Try again in a little bit.",
        ),
        (
            "pm_card_chargeCustomerFail",
            "card_declined",
            Some("generic_decline"),
            "Your card was declined.",
        ),
        (
            "tok_chargeDeclined",
            "card_declined",
            Some("generic_decline"),
            "Your card was declined.",
        ),
    ];
    for (pm, code, decline_code, message) in cases {
        let (status, error) = error_of(pay(&server, pm, "").await?).await?;
        assert_eq!(status, 402, "{pm}");
        assert_eq!(error["type"], "card_error", "{pm}");
        assert_eq!(error["code"], code, "{pm}");
        assert_eq!(error["decline_code"].as_str(), decline_code, "{pm}");
        assert_eq!(error["message"], message, "{pm}");
        let intent = &error["payment_intent"];
        assert_eq!(intent["status"], "requires_payment_method", "{pm}");
        assert_eq!(intent["last_payment_error"]["code"], code, "{pm}");
        let charge_id = error["charge"].as_str().unwrap_or_default().to_owned();
        assert!(charge_id.starts_with("ch_"), "{pm}: {error}");
        assert_eq!(intent["latest_charge"], charge_id.as_str());
        let charge = server.ok_get(&format!("/v1/charges/{charge_id}")).await?;
        assert_eq!(charge["status"], "failed");
        assert_eq!(charge["paid"], false);
        assert_eq!(charge["failure_code"], code);
        let fetched = server
            .ok_get(&format!("/v1/payment_intents/{}", id(intent)))
            .await?;
        assert_eq!(fetched["status"], "requires_payment_method");
        assert!(fetched["payment_method"].is_null());
    }
    Ok(())
}

#[tokio::test]
async fn successful_cards_and_raw_numbers() -> anyhow::Result<()> {
    let server = Server::start().await?;
    for (pm, brand, last4) in [
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_mastercard", "mastercard", "4444"),
        ("tok_visa", "visa", "4242"),
    ] {
        let intent = paid(&server, pm).await?;
        assert_eq!(intent["status"], "succeeded");
        assert_eq!(intent["amount_received"], 2000);
        let pm_id = intent["payment_method"].as_str().unwrap_or_default();
        assert!(
            pm_id.starts_with("pm_") && pm_id != pm,
            "magic id became a real pm_: {pm_id}"
        );
        let charge = server
            .ok_get(&format!(
                "/v1/charges/{}",
                intent["latest_charge"].as_str().unwrap_or_default()
            ))
            .await?;
        assert_eq!(charge["status"], "succeeded");
        assert_eq!(charge["captured"], true);
        assert_eq!(charge["amount_captured"], 2000);
        assert_eq!(charge["payment_intent"], intent["id"]);
        assert_eq!(charge["payment_method_details"]["card"]["brand"], brand);
        assert_eq!(charge["payment_method_details"]["card"]["last4"], last4);
    }

    let pm = server
        .ok_post(
            "/v1/payment_methods",
            "type=card&card[number]=4000000000009995&card[exp_month]=12&card[exp_year]=2040&card[cvc]=123&billing_details[name]=Ada",
        )
        .await?;
    assert_eq!(pm["object"], "payment_method");
    assert_eq!(pm["card"]["last4"], "9995");
    assert_eq!(pm["card"]["brand"], "visa");
    assert_eq!(pm["card"]["exp_year"], 2040);
    assert_eq!(pm["card"]["funding"], "credit");
    assert!(pm["card"]["fingerprint"].is_string());
    assert_eq!(pm["billing_details"]["name"], "Ada");
    assert!(pm["customer"].is_null());
    let (status, error) = error_of(pay(&server, &id(&pm), "").await?).await?;
    assert_eq!(status, 402);
    assert_eq!(error["decline_code"], "insufficient_funds");

    let (status, error) = error_of(
        server
            .post(
                "/v1/payment_methods",
                "type=card&card[number]=4242424242424241&card[exp_month]=12&card[exp_year]=2040",
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 402);
    assert_eq!(error["code"], "incorrect_number");
    assert_eq!(error["param"], "number");

    let (status, error) = error_of(
        server
            .post(
                "/v1/payment_methods",
                "type=card&card[number]=4242424242424242&card[exp_month]=13&card[exp_year]=2040",
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 402);
    assert_eq!(error["code"], "invalid_expiry_month");

    let (status, error) = error_of(server.post("/v1/payment_methods", "type=card").await?).await?;
    assert_eq!(status, 400);
    assert_eq!(error["param"], "card");
    Ok(())
}

#[tokio::test]
async fn attach_detach_and_list() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let cus = customer(&server).await?;
    let attached = server
        .ok_post(
            "/v1/payment_methods/pm_card_visa/attach",
            &format!("customer={cus}"),
        )
        .await?;
    let pm = id(&attached);
    assert!(pm.starts_with("pm_") && pm != "pm_card_visa");
    assert_eq!(attached["customer"], cus.as_str());

    let listed = server
        .ok_get(&format!("/v1/customers/{cus}/payment_methods"))
        .await?;
    assert_eq!(listed["data"][0]["id"], pm.as_str());
    let listed = server
        .ok_get(&format!("/v1/payment_methods?customer={cus}&type=card"))
        .await?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));

    let updated = server
        .ok_post(
            &format!("/v1/payment_methods/{pm}"),
            "metadata[k]=v&billing_details[email]=a%40b.co",
        )
        .await?;
    assert_eq!(updated["metadata"]["k"], "v");
    assert_eq!(updated["billing_details"]["email"], "a@b.co");

    // 0341 attaches fine; every charge to it is declined.
    let fail = server
        .ok_post(
            "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
            &format!("customer={cus}"),
        )
        .await?;
    let (status, error) = error_of(
        pay(
            &server,
            &id(&fail),
            &format!("&customer={cus}&off_session=true"),
        )
        .await?,
    )
    .await?;
    assert_eq!(status, 402);
    assert_eq!(error["code"], "card_declined");

    // Cards refused by the network refuse to attach and leave nothing behind.
    let (status, error) = error_of(
        server
            .post(
                "/v1/payment_methods/pm_card_chargeDeclined/attach",
                &format!("customer={cus}"),
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 402);
    assert_eq!(error["decline_code"], "generic_decline");
    let listed = server
        .ok_get(&format!("/v1/customers/{cus}/payment_methods"))
        .await?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));

    let detached = server
        .ok_post(&format!("/v1/payment_methods/{pm}/detach"), "")
        .await?;
    assert!(detached["customer"].is_null());
    let (status, error) = error_of(
        server
            .post(
                &format!("/v1/payment_methods/{pm}/attach"),
                &format!("customer={cus}"),
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "a detached payment method cannot be reused");
    assert_eq!(error["code"], "payment_method_unexpected_state");
    let (status, _) = error_of(
        server
            .post(&format!("/v1/payment_methods/{pm}/detach"), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400);

    let (status, error) = error_of(
        server
            .post(
                "/v1/payment_methods/pm_card_visa/attach",
                "customer=cus_nope",
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "resource_missing");
    assert_eq!(error["param"], "customer");
    let (status, _) = error_of(server.get("/v1/payment_methods/pm_nope").await?).await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
async fn intent_state_machine() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let cus = customer(&server).await?;
    let created = server
        .ok_post(
            "/v1/payment_intents",
            &format!("amount=1500&currency=eur&customer={cus}&description=Order+7&metadata[order]=7&automatic_payment_methods[enabled]=true"),
        )
        .await?;
    let pi = id(&created);
    assert!(pi.starts_with("pi_"));
    assert_eq!(created["status"], "requires_payment_method");
    assert!(created["client_secret"]
        .as_str()
        .is_some_and(|s| s.starts_with(&format!("{pi}_secret"))));
    assert_eq!(created["automatic_payment_methods"]["enabled"], true);
    assert!(created["latest_charge"].is_null());

    let (status, error) = error_of(
        server
            .post(&format!("/v1/payment_intents/{pi}/confirm"), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "no payment method yet");
    assert_eq!(error["code"], "payment_intent_unexpected_state");

    let updated = server
        .ok_post(
            &format!("/v1/payment_intents/{pi}"),
            "payment_method=pm_card_visa&amount=1700",
        )
        .await?;
    assert_eq!(updated["status"], "requires_confirmation");
    assert_eq!(updated["amount"], 1700);
    let confirmed = server
        .ok_post(&format!("/v1/payment_intents/{pi}/confirm"), "")
        .await?;
    assert_eq!(confirmed["status"], "succeeded");
    assert_eq!(confirmed["amount_received"], 1700);
    assert_eq!(confirmed["metadata"]["order"], "7");

    let (status, error) = error_of(
        server
            .post(&format!("/v1/payment_intents/{pi}/confirm"), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "payment_intent_unexpected_state");
    let (status, _) = error_of(
        server
            .post(&format!("/v1/payment_intents/{pi}/cancel"), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "a succeeded intent cannot be canceled");

    let listed = server
        .ok_get(&format!("/v1/payment_intents?customer={cus}"))
        .await?;
    assert_eq!(listed["data"][0]["id"], pi.as_str());
    let charges = server
        .ok_get(&format!("/v1/charges?payment_intent={pi}"))
        .await?;
    assert_eq!(charges["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(charges["data"][0]["customer"], cus.as_str());

    // Manual capture: authorize, capture part.
    let held = server
        .ok_post(
            "/v1/payment_intents",
            "amount=5000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
        )
        .await?;
    assert_eq!(held["status"], "requires_capture");
    assert_eq!(held["amount_capturable"], 5000);
    let captured = server
        .ok_post(
            &format!("/v1/payment_intents/{}/capture", id(&held)),
            "amount_to_capture=3000",
        )
        .await?;
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["amount_received"], 3000);
    assert_eq!(captured["amount_capturable"], 0);
    let charge = server
        .ok_get(&format!(
            "/v1/charges/{}",
            captured["latest_charge"].as_str().unwrap_or_default()
        ))
        .await?;
    assert_eq!(charge["captured"], true);
    assert_eq!(charge["amount_captured"], 3000);
    assert_eq!(
        charge["amount_refunded"], 2000,
        "the uncaptured rest is released"
    );
    let (status, error) = error_of(
        server
            .post(
                "/v1/refunds",
                &format!("payment_intent={}&amount=3001", id(&held)),
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "only what was captured can be refunded");
    assert_eq!(error["param"], "amount");
    let refund = server
        .ok_post("/v1/refunds", &format!("payment_intent={}", id(&held)))
        .await?;
    assert_eq!(refund["amount"], 3000);

    // Cancel before paying.
    let open = server
        .ok_post("/v1/payment_intents", "amount=900&currency=usd")
        .await?;
    let canceled = server
        .ok_post(
            &format!("/v1/payment_intents/{}/cancel", id(&open)),
            "cancellation_reason=requested_by_customer",
        )
        .await?;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["cancellation_reason"], "requested_by_customer");
    assert!(canceled["canceled_at"].is_i64());

    // 3D Secure cards: on-session they need action, off-session they decline.
    let action = server
        .ok_post(
            "/v1/payment_intents",
            "amount=900&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true",
        )
        .await?;
    assert_eq!(action["status"], "requires_action");
    assert_eq!(action["next_action"]["type"], "use_stripe_sdk");
    let done = server
        .ok_post(&format!("/v1/payment_intents/{}/confirm", id(&action)), "")
        .await?;
    assert_eq!(done["status"], "succeeded");
    let (status, error) = error_of(
        pay(
            &server,
            "pm_card_authenticationRequired",
            "&off_session=true",
        )
        .await?,
    )
    .await?;
    assert_eq!(status, 402);
    assert_eq!(error["decline_code"], "authentication_required");

    for (body, param) in [
        ("currency=usd", "amount"),
        ("amount=10&currency=usd", "amount"),
        ("amount=1000", "currency"),
        ("amount=1000&currency=usd&customer=cus_nope", "customer"),
        (
            "amount=1000&currency=usd&payment_method=pm_nope",
            "payment_method",
        ),
        ("amount=1000&currency=usd&bogus=1", "bogus"),
    ] {
        let (status, error) = error_of(server.post("/v1/payment_intents", body).await?).await?;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["param"], param, "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn refunds_full_partial_and_too_much() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let intent = paid(&server, "pm_card_visa").await?;
    let pi = id(&intent);
    let charge_id = intent["latest_charge"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let partial = server
        .ok_post(
            "/v1/refunds",
            &format!("payment_intent={pi}&amount=500&reason=requested_by_customer&metadata[r]=1"),
        )
        .await?;
    assert!(id(&partial).starts_with("re_"));
    assert_eq!(partial["status"], "succeeded");
    assert_eq!(partial["amount"], 500);
    assert_eq!(partial["charge"], charge_id.as_str());
    assert_eq!(partial["payment_intent"], pi.as_str());
    assert_eq!(partial["reason"], "requested_by_customer");
    assert_eq!(partial["metadata"]["r"], "1");
    let charge = server.ok_get(&format!("/v1/charges/{charge_id}")).await?;
    assert_eq!(charge["amount_refunded"], 500);
    assert_eq!(charge["refunded"], false);

    let (status, error) = error_of(
        server
            .post("/v1/refunds", &format!("charge={charge_id}&amount=1600"))
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "more than the 1500 left");
    assert_eq!(error["param"], "amount");

    let rest = server
        .ok_post("/v1/refunds", &format!("charge={charge_id}"))
        .await?;
    assert_eq!(rest["amount"], 1500);
    let charge = server.ok_get(&format!("/v1/charges/{charge_id}")).await?;
    assert_eq!(charge["amount_refunded"], 2000);
    assert_eq!(charge["refunded"], true);
    let (status, error) = error_of(
        server
            .post("/v1/refunds", &format!("payment_intent={pi}"))
            .await?,
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "charge_already_refunded");

    let listed = server
        .ok_get(&format!("/v1/refunds?payment_intent={pi}"))
        .await?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed["data"][0]["id"], rest["id"]);
    let fetched = server
        .ok_get(&format!("/v1/refunds/{}", id(&partial)))
        .await?;
    assert_eq!(fetched, partial);
    let (status, _) = error_of(
        server
            .post(&format!("/v1/refunds/{}/cancel", id(&partial)), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "a succeeded refund cannot be canceled");

    // The refund-pending card leaves refunds pending, which can be canceled.
    let slow = paid(&server, "pm_card_refundPending").await?;
    let pending = server
        .ok_post("/v1/refunds", &format!("payment_intent={}", id(&slow)))
        .await?;
    assert_eq!(pending["status"], "pending");
    let canceled = server
        .ok_post(&format!("/v1/refunds/{}/cancel", id(&pending)), "")
        .await?;
    assert_eq!(canceled["status"], "canceled");
    let charge = server
        .ok_get(&format!(
            "/v1/charges/{}",
            slow["latest_charge"].as_str().unwrap_or_default()
        ))
        .await?;
    assert_eq!(charge["amount_refunded"], 0);

    for (body, param) in [
        ("", "payment_intent"),
        ("payment_intent=pi_nope", "payment_intent"),
        ("charge=ch_nope", "charge"),
    ] {
        let (status, error) = error_of(server.post("/v1/refunds", body).await?).await?;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["param"], param, "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn dispute_card_opens_a_dispute() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let pm = server
        .ok_post(
            "/v1/payment_methods",
            "type=card&card[number]=4000000000000259&card[exp_month]=1&card[exp_year]=2045",
        )
        .await?;
    let intent = paid(&server, &id(&pm)).await?;
    assert_eq!(intent["status"], "succeeded");
    let charge_id = intent["latest_charge"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let charge = server.ok_get(&format!("/v1/charges/{charge_id}")).await?;
    assert_eq!(charge["disputed"], true);

    let disputes = server
        .ok_get(&format!("/v1/disputes?charge={charge_id}"))
        .await?;
    let dispute = disputes["data"][0].clone();
    assert!(id(&dispute).starts_with("dp_"));
    assert_eq!(dispute["status"], "needs_response");
    assert_eq!(dispute["reason"], "fraudulent");
    assert_eq!(dispute["amount"], 2000);
    assert_eq!(dispute["payment_intent"], intent["id"]);

    let (status, error) = error_of(
        server
            .post("/v1/refunds", &format!("charge={charge_id}"))
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "a disputed charge is not refunded");
    assert_eq!(error["code"], "charge_disputed");

    let evidence = server
        .ok_post(
            &format!("/v1/disputes/{}", id(&dispute)),
            "evidence[uncategorized_text]=Delivered+on+time&metadata[case]=12",
        )
        .await?;
    assert_eq!(
        evidence["evidence"]["uncategorized_text"],
        "Delivered on time"
    );
    assert_eq!(evidence["evidence_details"]["has_evidence"], true);
    assert_eq!(evidence["metadata"]["case"], "12");

    let closed = server
        .ok_post(&format!("/v1/disputes/{}/close", id(&dispute)), "")
        .await?;
    assert_eq!(closed["status"], "lost");
    let (status, _) = error_of(
        server
            .post(&format!("/v1/disputes/{}/close", id(&dispute)), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400);
    let (status, error) = error_of(server.get("/v1/disputes/dp_nope").await?).await?;
    assert_eq!(status, 404);
    assert_eq!(error["code"], "resource_missing");
    Ok(())
}

/// Arbitrary form bodies built from this module's parameter names (and
/// magic card ids, so confirms really run) against its endpoints: always a
/// JSON answer below 500.
mod arbitrary_bodies {
    use axum::body::Body;
    use axum::http::Request;
    use proptest::prelude::*;
    use tower::ServiceExt;

    const PATHS: &[(&str, &str)] = &[
        ("POST", "/v1/payment_intents"),
        ("POST", "/v1/payment_methods"),
        ("POST", "/v1/payment_methods/pm_card_visa/attach"),
        ("POST", "/v1/checkout/sessions"),
        ("POST", "/v1/refunds"),
        ("GET", "/v1/payment_intents"),
        ("GET", "/v1/charges"),
        ("GET", "/v1/checkout/sessions"),
        ("GET", "/v1/payment_methods"),
    ];

    async fn send(method: &str, path: &str, body: &str) -> anyhow::Result<Option<(u16, bool)>> {
        let router = paywarden_sim::router(paywarden_sim::Sim::new());
        let get = method == "GET";
        let uri = if get {
            format!("{path}?{body}")
        } else {
            path.to_owned()
        };
        let Ok(request) = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Bearer sk_test_fuzz")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(if get {
                Body::empty()
            } else {
                Body::from(body.to_owned())
            })
        else {
            return Ok(None);
        };
        let response = router.oneshot(request).await?;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        Ok(Some((
            status,
            serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
        )))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn payment_endpoints_never_fail_inside(
            which in 0..PATHS.len(),
            body in "(&|=|\\[|\\]|[0-9]|amount=2000|currency=usd|payment_method=pm_card_visa|payment_method=pm_card_chargeDeclined|confirm=true|off_session=true|capture_method=manual|customer|mode=payment|mode=subscription|line_items|\\[0\\]|\\[price_data\\]|\\[quantity\\]=1|\\[unit_amount\\]=5|\\[currency\\]=usd|\\[product_data\\]\\[name\\]=x|\\[recurring\\]\\[interval\\]=month|success_url=http://a.b|type=card|card\\[number\\]=4242424242424242|card\\[exp_month\\]=1|card\\[exp_year\\]=2040|metadata|expires_at|limit|expand){0,24}",
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (method, path) = PATHS[which];
            let outcome = runtime
                .block_on(send(method, path, &body))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Some((status, json)) = outcome {
                prop_assert!(status < 500, "{} {} {}: {}", method, path, body, status);
                prop_assert!(json, "{} {} {}: body is not JSON", method, path, body);
            }
        }
    }
}

#[tokio::test]
async fn retried_payments_charge_once() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let send = |body: &'static str, key: &'static str| {
        server
            .request(reqwest::Method::POST, "/v1/payment_intents")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", key)
            .body(body)
            .send()
    };
    let body = "amount=2500&currency=usd&payment_method=pm_card_visa&confirm=true";
    let first: Value = send(body, "pay-once").await?.json().await?;
    let again: Value = send(body, "pay-once").await?.json().await?;
    assert_eq!(first["id"], again["id"]);
    let declined = "amount=2500&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true";
    let (status, error) = error_of(send(declined, "decline-once").await?).await?;
    let (replayed_status, replayed) = error_of(send(declined, "decline-once").await?).await?;
    assert_eq!((status, replayed_status), (402, 402));
    assert_eq!(
        error["payment_intent"]["id"],
        replayed["payment_intent"]["id"]
    );
    let charges = server.ok_get("/v1/charges").await?;
    assert_eq!(
        charges["data"].as_array().map(Vec::len),
        Some(2),
        "one succeeded and one failed charge, not four"
    );
    Ok(())
}
