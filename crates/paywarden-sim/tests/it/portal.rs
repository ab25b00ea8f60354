//! The billing portal: `POST /v1/billing_portal/sessions` and the hosted
//! page's actions, driven as a browser would (plain form POSTs, 303 back).

use reqwest::Response;
use serde_json::Value;

use crate::subscriptions::{id, types, Billing};
use crate::support::error_of;

/// POSTs a portal form (no API key, as a browser would).
async fn form(b: &Billing, path: &str, body: &str) -> anyhow::Result<Response> {
    Ok(b.client
        .post(format!("{}{path}", b.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await?)
}

async fn page(b: &Billing, path: &str) -> anyhow::Result<(u16, String)> {
    let response = b.client.get(format!("{}{path}", b.base)).send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn session_create_shape_and_validation() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let customer = b.customer(None).await?;
    let mark = b.mark();
    let session = b
        .ok_post(
            "/v1/billing_portal/sessions",
            &format!("customer={customer}&return_url=https%3A%2F%2Fapp.example%2Faccount"),
        )
        .await?;
    assert!(id(&session).starts_with("bps_"));
    assert_eq!(session["object"], "billing_portal.session");
    assert_eq!(session["customer"], customer.as_str());
    assert_eq!(session["return_url"], "https://app.example/account");
    assert!(session["configuration"]
        .as_str()
        .is_some_and(|c| c.starts_with("bpc_")));
    assert_eq!(session["livemode"], false);
    assert!(session["flow"].is_null() && session["locale"].is_null());
    assert!(session["url"]
        .as_str()
        .is_some_and(|u| u.ends_with(&format!("/portal/{}", id(&session)))));
    assert!(b.since(mark).is_empty(), "creating a session emits nothing");

    for (body, param) in [
        ("return_url=https%3A%2F%2Fa.example".to_owned(), "customer"),
        ("customer=cus_nope".to_owned(), "customer"),
        (
            format!("customer={customer}&flow_data[type]=nope"),
            "flow_data[type]",
        ),
        (format!("customer={customer}&colour=red"), "colour"),
    ] {
        let (status, error) = error_of(b.post("/v1/billing_portal/sessions", &body).await?).await?;
        assert_eq!(
            (status, error["param"].as_str()),
            (400, Some(param)),
            "{body}"
        );
    }
    let (status, _) = page(&b, "/portal/bps_nope").await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
async fn portal_actions_change_the_subscription_and_emit_events() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let basic = b.price("Basic", 2000, "month").await?;
    let pro = b.price("Pro", 5000, "month").await?;
    let customer = id(&b
        .ok_post("/v1/customers", "name=%3Cb%3EAda%3C%2Fb%3E")
        .await?);
    b.default_card(&customer, "pm_card_visa").await?;
    let sub = b.subscribe(&customer, &basic, "").await?;
    let sub_id = id(&sub);
    let session = b
        .ok_post(
            "/v1/billing_portal/sessions",
            &format!("customer={customer}&return_url=https%3A%2F%2Fapp.example%2Faccount"),
        )
        .await?;
    let portal = format!("/portal/{}", id(&session));

    let (status, html) = page(&b, &portal).await?;
    assert_eq!(status, 200);
    assert!(html.contains("&lt;b&gt;Ada&lt;/b&gt;"), "escaped: {html}");
    assert!(!html.contains("<b>Ada"));
    assert!(html.contains("Basic"));
    assert!(html.contains("Renews on"));
    assert!(
        html.contains(&format!("value=\"{pro}\"")),
        "other plans offered"
    );
    assert!(html.contains("Return to https://app.example/account"));
    assert!(!html.contains("<script"));

    // Cancel at period end.
    let mark = b.mark();
    let response = form(
        &b,
        &format!("{portal}/cancel"),
        &format!("subscription={sub_id}"),
    )
    .await?;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), portal);
    let state = b.subscription(&sub_id).await?;
    assert_eq!(state["cancel_at_period_end"], true);
    let events = b.since(mark);
    assert_eq!(types(&events), ["customer.subscription.updated"]);
    assert!(
        events[0]["request"]["id"].is_null(),
        "no API request caused it"
    );
    let (_, html) = page(&b, &portal).await?;
    assert!(html.contains("Cancels on"));

    // Undo it.
    let response = form(
        &b,
        &format!("{portal}/resume"),
        &format!("subscription={sub_id}"),
    )
    .await?;
    assert_eq!(response.status(), 303);
    assert_eq!(
        b.subscription(&sub_id).await?["cancel_at_period_end"],
        false
    );

    // Switch plan, with prorations.
    let mark = b.mark();
    let response = form(
        &b,
        &format!("{portal}/switch"),
        &format!("subscription={sub_id}&price={pro}"),
    )
    .await?;
    assert_eq!(response.status(), 303);
    let state = b.subscription(&sub_id).await?;
    assert_eq!(state["items"]["data"][0]["price"]["id"], pro.as_str());
    assert_eq!(
        types(&b.since(mark)),
        [
            "customer.subscription.updated",
            "invoiceitem.created",
            "invoiceitem.created"
        ]
    );

    // Change card.
    let mark = b.mark();
    let response = form(&b, &format!("{portal}/card"), "number=5555+5555+5555+4444").await?;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), portal);
    assert_eq!(
        types(&b.since(mark)),
        [
            "payment_method.attached",
            "customer.updated",
            "customer.subscription.updated"
        ]
    );
    let customer_now = b.ok_get(&format!("/v1/customers/{customer}")).await?;
    let pm = customer_now["invoice_settings"]["default_payment_method"].clone();
    let card = b
        .ok_get(&format!(
            "/v1/payment_methods/{}",
            pm.as_str().unwrap_or_default()
        ))
        .await?;
    assert_eq!(card["card"]["last4"], "4444");
    assert_eq!(b.subscription(&sub_id).await?["default_payment_method"], pm);
    let (_, html) = page(&b, &portal).await?;
    assert!(html.contains("ending in 4444"));
    Ok(())
}

#[tokio::test]
async fn portal_refusals_are_shown_on_the_page() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Basic", 2000, "month").await?;
    let customer = b.customer(None).await?;
    let stranger = b.customer(None).await?;
    b.default_card(&stranger, "pm_card_visa").await?;
    let theirs = b.subscribe(&stranger, &price, "").await?;
    let session = b
        .ok_post(
            "/v1/billing_portal/sessions",
            &format!("customer={customer}"),
        )
        .await?;
    let portal = format!("/portal/{}", id(&session));
    let (_, html) = page(&b, &portal).await?;
    assert!(html.contains("No active subscriptions"));
    assert!(!html.contains("Return to"), "no return_url, no link");

    let mark = b.mark();
    let response = form(
        &b,
        &format!("{portal}/cancel"),
        &format!("subscription={}", id(&theirs)),
    )
    .await?;
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("error="));
    assert!(
        b.since(mark).is_empty(),
        "another customer's subscription is untouched"
    );

    let response = form(&b, &format!("{portal}/card"), "number=4000000000000002").await?;
    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.contains("error="), "{target}");
    let (_, html) = page(&b, &target).await?;
    assert!(html.contains("role=\"alert\""));
    let customer_now: Value = b.ok_get(&format!("/v1/customers/{customer}")).await?;
    assert!(customer_now["invoice_settings"]["default_payment_method"].is_null());
    Ok(())
}
