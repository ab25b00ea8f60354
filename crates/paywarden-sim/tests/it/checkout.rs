//! Checkout sessions over the API and the hosted page, driven as a
//! browser would drive it (plain form posts, redirects not followed).

use serde_json::Value;

use crate::support::{error_of, Server};

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_owned()
}

/// A product with a one-time 20.00 USD price and a 9.00 USD monthly one.
async fn catalog(server: &Server) -> anyhow::Result<(String, String)> {
    let product = server.ok_post("/v1/products", "name=Pro+plan").await?;
    let one_time = server
        .ok_post(
            "/v1/prices",
            &format!("product={}&unit_amount=2000&currency=usd", id(&product)),
        )
        .await?;
    let monthly = server
        .ok_post(
            "/v1/prices",
            &format!(
                "product={}&unit_amount=900&currency=usd&recurring[interval]=month",
                id(&product)
            ),
        )
        .await?;
    Ok((id(&one_time), id(&monthly)))
}

const URLS: &str = "success_url=https%3A%2F%2Fapp.example%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D&cancel_url=https%3A%2F%2Fapp.example%2Fcancel";

async fn payment_session(server: &Server, price: &str, extra: &str) -> anyhow::Result<Value> {
    server
        .ok_post(
            "/v1/checkout/sessions",
            &format!(
                "mode=payment&line_items[0][price]={price}&line_items[0][quantity]=2&{URLS}{extra}"
            ),
        )
        .await
}

/// A browser: no API key, redirects not followed.
fn browser() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

async fn submit(server: &Server, session: &str, card: &str) -> anyhow::Result<reqwest::Response> {
    let form = [
        ("email", "buyer@example.com"),
        ("name", "Ada Buyer"),
        ("card_number", card),
        ("exp", "12 / 40"),
        ("cvc", "123"),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    Ok(browser()?
        .post(format!("{}/checkout/{session}", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?)
}

async fn page(server: &Server, session: &str) -> anyhow::Result<(u16, String)> {
    let response = browser()?
        .get(format!("{}/checkout/{session}", server.base))
        .send()
        .await?;
    Ok((response.status().as_u16(), response.text().await?))
}

#[tokio::test]
async fn create_fields_line_items_and_list() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (price, _) = catalog(&server).await?;
    let session = payment_session(
        &server,
        &price,
        "&client_reference_id=team_7&metadata[team]=7&customer_email=ada%40example.com&payment_intent_data[metadata][order]=9",
    )
    .await?;
    let cs = id(&session);
    assert!(cs.starts_with("cs_test_"));
    assert_eq!(session["object"], "checkout.session");
    assert_eq!(session["mode"], "payment");
    assert_eq!(session["status"], "open");
    assert_eq!(session["payment_status"], "unpaid");
    assert_eq!(session["amount_subtotal"], 4000);
    assert_eq!(session["amount_total"], 4000);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["livemode"], false);
    // Stored in the newest shape; clients before dahlia see `hosted`.
    let newest: Value = server
        .request(reqwest::Method::GET, &format!("/v1/checkout/sessions/{cs}"))
        .header("stripe-version", "2026-03-25.dahlia")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(newest["ui_mode"], "hosted_page");
    assert_eq!(session["payment_method_types"], serde_json::json!(["card"]));
    assert_eq!(session["client_reference_id"], "team_7");
    assert_eq!(session["customer_email"], "ada@example.com");
    assert_eq!(session["metadata"]["team"], "7");
    assert!(session["customer"].is_null());
    assert!(session["payment_intent"].is_null());
    let url = session["url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("http") && url.ends_with(&format!("/checkout/{cs}")),
        "{url}"
    );
    let created = session["created"].as_i64().unwrap_or(0);
    assert_eq!(session["expires_at"].as_i64(), Some(created + 24 * 3600));

    let items = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}/line_items"))
        .await?;
    assert_eq!(items["object"], "list");
    let item = &items["data"][0];
    assert!(id(item).starts_with("li_"));
    assert_eq!(item["object"], "item");
    assert_eq!(item["quantity"], 2);
    assert_eq!(item["amount_total"], 4000);
    assert_eq!(item["description"], "Pro plan");
    assert_eq!(item["price"]["id"], price.as_str());
    assert_eq!(item["price"]["object"], "price");

    let expanded = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}?expand[]=line_items"))
        .await?;
    assert_eq!(expanded["line_items"]["data"][0]["id"], item["id"]);

    // price_data makes an inline price; expires_at inside 30 min – 24 h.
    let expires = created + 3600;
    let inline = server
        .ok_post(
            "/v1/checkout/sessions",
            &format!("mode=payment&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=1250&line_items[0][price_data][product_data][name]=Sticker&line_items[0][quantity]=3&{URLS}&expires_at={expires}"),
        )
        .await?;
    assert_eq!(inline["amount_total"], 3750);
    assert_eq!(inline["currency"], "eur");
    assert_eq!(inline["expires_at"], expires);

    let open = server
        .ok_get("/v1/checkout/sessions?status=open&limit=1")
        .await?;
    assert_eq!(open["data"][0]["id"], inline["id"]);
    assert_eq!(open["has_more"], true);
    Ok(())
}

#[tokio::test]
async fn create_validation_names_params() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (one_time, monthly) = catalog(&server).await?;
    let (retired, _) = catalog(&server).await?;
    server
        .ok_post(&format!("/v1/prices/{retired}"), "active=false")
        .await?;
    let item = |price: &str| format!("line_items[0][price]={price}&line_items[0][quantity]=1");
    let cases: Vec<(String, &str)> = vec![
        (format!("{}&{URLS}", item(&monthly)), "mode"),
        (format!("mode=payment&{URLS}"), "line_items"),
        (format!("mode=payment&{}&{URLS}", item(&monthly)), "line_items"),
        (format!("mode=payment&{}", item(&monthly).replace(&monthly, "price_x")), "success_url"),
        (format!("mode=subscription&{}&{URLS}", item(&one_time)), "line_items"),
        (format!("mode=payment&{}&{URLS}", item("price_nope")), "line_items[0][price]"),
        (format!("mode=payment&line_items[0][price]={monthly}&{URLS}"), "line_items[0][quantity]"),
        (format!("mode=subscription&{}&{URLS}&customer=cus_nope", item(&monthly)), "customer"),
        (format!("mode=subscription&{}&{URLS}&customer_creation=always", item(&monthly)), "customer_creation"),
        (format!("mode=subscription&{}&{URLS}&expires_at=1", item(&monthly)), "expires_at"),
        (format!("mode=subscription&{}&success_url=notaurl", item(&monthly)), "success_url"),
        (format!("mode=subscription&{}&{URLS}&bogus=1", item(&monthly)), "bogus"),
        (format!("mode=subscription&line_items[0][price]={monthly}&line_items[0][quantity]=1&line_items[0][colour]=red&{URLS}"), "line_items[0][colour]"),
        (format!("mode=payment&{}&{URLS}&subscription_data[trial_period_days]=7", item(&monthly)), "subscription_data"),
        (format!("mode=wat&{}&{URLS}", item(&monthly)), "mode"),
    ];
    for (body, param) in cases {
        let (status, error) = error_of(server.post("/v1/checkout/sessions", &body).await?).await?;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert_eq!(error["param"], param, "{body}: {error}");
    }
    let (status, error) = error_of(
        server
            .post(
                "/v1/checkout/sessions",
                &format!("mode=payment&{}&{URLS}", item(&retired)),
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(error["param"], "line_items[0][price]");
    assert!(error["message"]
        .as_str()
        .is_some_and(|m| m.contains("inactive")));

    let product = server.ok_post("/v1/products", "name=Yearly").await?;
    let yearly = server
        .ok_post(
            "/v1/prices",
            &format!(
                "product={}&unit_amount=9000&currency=usd&recurring[interval]=year",
                id(&product)
            ),
        )
        .await?;
    let (status, error) = error_of(
        server
            .post(
                "/v1/checkout/sessions",
                &format!(
                    "mode=subscription&{}&line_items[1][price]={}&line_items[1][quantity]=1&{URLS}",
                    item(&monthly),
                    id(&yearly)
                ),
            )
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "mixed intervals");
    assert_eq!(error["param"], "line_items");
    Ok(())
}

#[tokio::test]
async fn hosted_page_pays_and_redirects() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (price, _) = catalog(&server).await?;
    let session = payment_session(
        &server,
        &price,
        "&customer_email=ada%40example.com&customer_creation=always",
    )
    .await?;
    let cs = id(&session);

    let (status, html) = page(&server, &cs).await?;
    assert_eq!(status, 200);
    assert!(html.contains("Pro plan"), "{html}");
    assert!(html.contains("$40.00"), "total shown: {html}");
    assert!(html.contains("× 2"));
    assert!(
        html.contains("value=\"ada@example.com\""),
        "email prefilled"
    );
    assert!(html.contains("name=\"card_number\"") && html.contains("MM / YY"));
    assert!(html.contains(">Pay<"));
    assert!(html.contains("href=\"https://app.example/cancel\""));

    let response = submit(&server, &cs, "4242 4242 4242 4242").await?;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok()),
        Some(format!("https://app.example/ok?session_id={cs}").as_str())
    );

    let done = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}"))
        .await?;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["payment_status"], "paid");
    assert!(done["url"].is_null());
    assert_eq!(done["customer_details"]["email"], "buyer@example.com");
    assert_eq!(done["customer_details"]["name"], "Ada Buyer");
    let customer = done["customer"].as_str().unwrap_or_default().to_owned();
    assert!(customer.starts_with("cus_"), "customer_creation=always");
    let pi = done["payment_intent"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let intent = server.ok_get(&format!("/v1/payment_intents/{pi}")).await?;
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], 4000);
    assert_eq!(intent["customer"], customer.as_str());
    let found = server
        .ok_get(&format!("/v1/checkout/sessions?payment_intent={pi}"))
        .await?;
    assert_eq!(found["data"][0]["id"], cs.as_str());

    // A completed session shows no form and refuses another payment.
    let (status, html) = page(&server, &cs).await?;
    assert_eq!(status, 200);
    assert!(html.contains("already complete") && !html.contains("<form"));
    assert_eq!(
        submit(&server, &cs, "4242424242424242").await?.status(),
        400
    );
    let (status, error) = error_of(
        server
            .post(&format!("/v1/checkout/sessions/{cs}/expire"), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400, "only open sessions expire");
    assert!(error["message"].is_string());
    Ok(())
}

#[tokio::test]
async fn hosted_page_shows_declines_and_stays_open() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (price, _) = catalog(&server).await?;
    let session = payment_session(&server, &price, "").await?;
    let cs = id(&session);

    let response = submit(&server, &cs, "4000 0000 0000 0002").await?;
    assert_eq!(response.status(), 402);
    let html = response.text().await?;
    assert!(html.contains("Your card was declined."), "{html}");
    assert!(html.contains("<form"), "the form is shown again");
    let open = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}"))
        .await?;
    assert_eq!(open["status"], "open");
    assert_eq!(open["payment_status"], "unpaid");
    let pi = open["payment_intent"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let intent = server.ok_get(&format!("/v1/payment_intents/{pi}")).await?;
    assert_eq!(intent["status"], "requires_payment_method");
    assert_eq!(
        intent["last_payment_error"]["decline_code"],
        "generic_decline"
    );

    let response = submit(&server, &cs, "4242424242424241").await?;
    assert_eq!(response.status(), 402);
    assert!(response
        .text()
        .await?
        .contains("Your card number is incorrect."));

    let response = submit(&server, &cs, "4000000000009995").await?;
    assert!(response
        .text()
        .await?
        .contains("Your card has insufficient funds."));

    // The same intent succeeds with a good card.
    assert_eq!(
        submit(&server, &cs, "4242424242424242").await?.status(),
        303
    );
    let done = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}"))
        .await?;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["payment_intent"], pi.as_str());
    assert!(
        done["customer"].is_null(),
        "customer_creation=if_required makes none"
    );
    let intent = server.ok_get(&format!("/v1/payment_intents/{pi}")).await?;
    assert_eq!(intent["status"], "succeeded");
    Ok(())
}

#[tokio::test]
async fn subscription_decline_leaves_nothing_behind() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (_, monthly) = catalog(&server).await?;
    let session = server
        .ok_post(
            "/v1/checkout/sessions",
            &format!(
                "mode=subscription&line_items[0][price]={monthly}&line_items[0][quantity]=1&{URLS}"
            ),
        )
        .await?;
    let cs = id(&session);
    let (_, html) = page(&server, &cs).await?;
    assert!(html.contains(">Subscribe<"));
    assert!(html.contains("per month"));
    for card in ["4000000000000002", "4000000000000341"] {
        let response = submit(&server, &cs, card).await?;
        assert_eq!(response.status(), 402, "{card}");
        assert!(response.text().await?.contains("Your card was declined."));
    }
    let customers = server.ok_get("/v1/customers").await?;
    assert_eq!(customers["data"].as_array().map(Vec::len), Some(0));
    let methods = server.ok_get("/v1/payment_methods").await?;
    assert_eq!(methods["data"].as_array().map(Vec::len), Some(0));
    let open = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}"))
        .await?;
    assert_eq!(open["status"], "open");
    Ok(())
}

#[tokio::test]
async fn expire_closes_the_page() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (price, _) = catalog(&server).await?;
    let session = payment_session(&server, &price, "").await?;
    let cs = id(&session);
    // A failed attempt leaves an intent, which expiry cancels.
    submit(&server, &cs, "4000000000000002").await?;
    let expired = server
        .ok_post(&format!("/v1/checkout/sessions/{cs}/expire"), "")
        .await?;
    assert_eq!(expired["status"], "expired");
    assert!(expired["url"].is_null());
    let pi = expired["payment_intent"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let intent = server.ok_get(&format!("/v1/payment_intents/{pi}")).await?;
    assert_eq!(intent["status"], "canceled");

    let (status, _) = error_of(
        server
            .post(&format!("/v1/checkout/sessions/{cs}/expire"), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400);
    let (status, html) = page(&server, &cs).await?;
    assert_eq!(status, 200);
    assert!(html.contains("expired") && !html.contains("<form"));
    assert_eq!(
        submit(&server, &cs, "4242424242424242").await?.status(),
        400
    );
    let (status, _) = page(&server, "cs_test_nope").await?;
    assert_eq!(status, 404);
    let (status, error) = error_of(server.get("/v1/checkout/sessions/cs_test_nope").await?).await?;
    assert_eq!(status, 404);
    assert_eq!(error["code"], "resource_missing");
    Ok(())
}

#[tokio::test]
async fn page_escapes_what_it_prints() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let session = server
        .ok_post(
            "/v1/checkout/sessions",
            &format!("mode=payment&line_items[0][price_data][currency]=gbp&line_items[0][price_data][unit_amount]=500&line_items[0][price_data][product_data][name]=%3Cscript%3Ealert(1)%3C%2Fscript%3E&line_items[0][quantity]=1&{URLS}&customer_email=a%22%3E%3Cb%3E%40x.co"),
        )
        .await?;
    let (_, html) = page(&server, &id(&session)).await?;
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("\"><b>"));
    assert!(html.contains("£5.00"));
    Ok(())
}

#[tokio::test]
async fn manual_capture_completes_unpaid() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (price, _) = catalog(&server).await?;
    let session = payment_session(
        &server,
        &price,
        "&payment_intent_data[capture_method]=manual&payment_intent_data[metadata][order]=42",
    )
    .await?;
    let cs = id(&session);
    assert_eq!(
        submit(&server, &cs, "4242424242424242").await?.status(),
        303
    );
    let done = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}"))
        .await?;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["payment_status"], "unpaid", "only authorized");
    let pi = done["payment_intent"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let intent = server.ok_get(&format!("/v1/payment_intents/{pi}")).await?;
    assert_eq!(intent["status"], "requires_capture");
    assert_eq!(intent["metadata"]["order"], "42");
    let captured = server
        .ok_post(&format!("/v1/payment_intents/{pi}/capture"), "")
        .await?;
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["amount_received"], 4000);
    Ok(())
}

#[tokio::test]
async fn sessions_expire_when_the_clock_passes_expires_at() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let (price, _) = catalog(&server).await?;
    let session = payment_session(&server, &price, "").await?;
    let cs = id(&session);
    let expires_at = session["expires_at"].as_i64().unwrap_or(0);
    let response = server
        .client
        .post(format!("{}/_sim/clock/advance", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("to={}", expires_at - 60))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let still = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}"))
        .await?;
    assert_eq!(still["status"], "open", "a minute before expires_at");
    server
        .client
        .post(format!("{}/_sim/clock/advance", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("to={expires_at}"))
        .send()
        .await?;
    let expired = server
        .ok_get(&format!("/v1/checkout/sessions/{cs}"))
        .await?;
    assert_eq!(expired["status"], "expired");
    assert!(expired["url"].is_null());
    let events = server
        .ok_get("/v1/events?type=checkout.session.expired")
        .await?;
    assert_eq!(events["data"][0]["data"]["object"]["id"], cs.as_str());
    assert_eq!(events["data"][0]["created"], expires_at);
    let (_, html) = page(&server, &cs).await?;
    assert!(html.contains("expired"));
    Ok(())
}
