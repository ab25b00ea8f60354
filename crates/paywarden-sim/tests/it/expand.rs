//! `expand[]`: ids replaced by objects on GET and POST, nested paths,
//! `data.` on lists, Stripe's refusals.

use paywarden_sim::Sim;
use reqwest::Method;
use serde_json::{json, Value};

use crate::webhooks::SimServer;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn post_bodies_and_lists_expand() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let price = server
        .ok(
            Method::POST,
            "/v1/prices",
            "currency=usd&unit_amount=900&product_data[name]=Pro&expand[]=product",
        )
        .await?;
    assert_eq!(price["object"], "price");
    assert_eq!(price["product"]["object"], "product");
    assert_eq!(price["product"]["name"], "Pro");
    assert_eq!(price["unit_amount"], 900, "the handler still saw the body");

    let list = server
        .ok(Method::GET, "/v1/prices?expand[]=data.product", "")
        .await?;
    assert_eq!(list["data"][0]["product"]["name"], "Pro");

    let events = server
        .ok(
            Method::GET,
            "/v1/events?type=price.created&expand[]=data.data.object.product",
            "",
        )
        .await?;
    assert_eq!(
        events["data"][0]["data"]["object"]["product"]["name"],
        "Pro"
    );
    Ok(())
}

#[tokio::test]
async fn nested_paths_expand_every_step() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let customer = server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    let cus = id(&customer);
    {
        let mut objects = server.sim.objects();
        objects.invoices.insert(
            "in_x1".into(),
            json!({"id": "in_x1", "object": "invoice", "status": "paid", "customer": cus,
                   "_sim": {"secret": true},
                   "parent": {"type": "subscription_details",
                              "subscription_details": {"subscription": "sub_x1", "metadata": {}}}}),
        );
    }
    let subscription = json!({
        "id": "sub_x1", "object": "subscription", "customer": cus,
        "latest_invoice": "in_x1", "default_payment_method": null,
        "items": {"object": "list", "data": []}
    });
    let event = server.emit(1, "customer.subscription.created", &subscription);

    let (status, got) = server
        .call(
            Method::GET,
            &format!("/v1/events/{event}?expand[]=data.object.latest_invoice.customer&expand[]=data.object.default_payment_method"),
            "",
            Some("2024-06-20"),
        )
        .await?;
    assert_eq!(status, 200, "{got}");
    let invoice = &got["data"]["object"]["latest_invoice"];
    assert_eq!(invoice["object"], "invoice");
    assert_eq!(invoice["customer"]["name"], "Ada");
    assert!(invoice.get("_sim").is_none());
    assert_eq!(
        invoice["paid"], true,
        "expanded objects are rendered at the version"
    );
    assert_eq!(invoice["subscription"], "sub_x1");
    assert!(got["data"]["object"]["default_payment_method"].is_null());
    // Unexpanded siblings stay ids.
    assert_eq!(got["data"]["object"]["customer"], cus.as_str());
    Ok(())
}

#[tokio::test]
async fn unexpandable_paths_are_refused() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let customer = server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    let cus = id(&customer);
    for path in ["nope", "name", "address.city.x", "a.b.c.d.e"] {
        let (status, body) = server
            .call(
                Method::GET,
                &format!("/v1/customers/{cus}?expand[]={path}"),
                "",
                None,
            )
            .await?;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["param"], "expand", "{path}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(path)),
            "{body}"
        );
    }
    // A path too deep for any object is refused before anything changes.
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/customers",
            "name=Bea&expand[]=a.b.c.d.e",
            None,
        )
        .await?;
    assert_eq!(status, 400);
    let all = server.ok(Method::GET, "/v1/customers", "").await?;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(1));

    let (status, body) = server
        .call(
            Method::GET,
            &format!("/v1/customers/{cus}?expand[]=nope"),
            "",
            None,
        )
        .await?;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "This property cannot be expanded (nope)."
    );
    Ok(())
}

#[tokio::test]
async fn paths_follow_the_requested_versions_shape() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let price = server
        .ok(
            Method::POST,
            "/v1/prices",
            "currency=usd&unit_amount=900&product_data[name]=Pro&recurring[interval]=month",
        )
        .await?;
    {
        let mut objects = server.sim.objects();
        objects.payment_intents.insert(
            "pi_x2".into(),
            json!({"id": "pi_x2", "object": "payment_intent", "status": "succeeded"}),
        );
        objects.invoices.insert(
            "in_x2".into(),
            json!({"id": "in_x2", "object": "invoice", "status": "paid",
                   "payments": {"object": "list", "data": [
                       {"id": "inpay_x2", "object": "invoice_payment", "status": "paid",
                        "payment": {"type": "payment_intent", "payment_intent": "pi_x2"}}]}}),
        );
    }
    let subscription = json!({
        "id": "sub_x2", "object": "subscription", "latest_invoice": "in_x2",
        "items": {"object": "list", "data": [
            {"id": "si_x2", "object": "subscription_item", "price": price}
        ]}
    });
    let event = server.emit(1, "customer.subscription.created", &subscription);
    let path = format!(
        "/v1/events/{event}?expand[]=data.object.latest_invoice.payment_intent&expand[]=data.object.items.data.price.product"
    );
    let (status, got) = server
        .call(Method::GET, &path, "", Some("2024-06-20"))
        .await?;
    assert_eq!(status, 200, "{got}");
    let object = &got["data"]["object"];
    assert_eq!(
        object["latest_invoice"]["payment_intent"]["object"],
        "payment_intent"
    );
    assert_eq!(
        object["items"]["data"][0]["price"]["product"]["name"],
        "Pro"
    );
    // Since basil an invoice has no payment_intent to expand.
    let (status, body) = server
        .call(Method::GET, &path, "", Some("2025-03-31.basil"))
        .await?;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "expand");
    Ok(())
}

#[tokio::test]
async fn includable_lists_appear_only_when_asked_for() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let customer = server.ok(Method::POST, "/v1/customers", "name=Ada").await?;
    let cus = id(&customer);
    server.sim.objects().subscriptions.insert(
        "sub_x3".into(),
        json!({"id": "sub_x3", "object": "subscription", "customer": cus, "status": "active",
               "items": {"object": "list", "data": [
                   {"id": "si_x3", "object": "subscription_item",
                    "current_period_start": 4_000_000_000_i64,
                    "current_period_end": 4_100_000_000_i64}]}}),
    );
    // (Periods far in the future: the sim's ticker renews any subscription
    // whose period has ended, which would race with this test.)
    let plain = server
        .ok(Method::GET, &format!("/v1/customers/{cus}"), "")
        .await?;
    assert!(plain.get("subscriptions").is_none());
    let (status, with) = server
        .call(
            Method::GET,
            &format!("/v1/customers/{cus}?expand[]=subscriptions"),
            "",
            Some("2024-06-20"),
        )
        .await?;
    assert_eq!(status, 200, "{with}");
    assert_eq!(with["subscriptions"]["object"], "list");
    assert_eq!(with["subscriptions"]["data"][0]["id"], "sub_x3");
    assert_eq!(
        with["subscriptions"]["data"][0]["current_period_end"], 4_100_000_000_i64,
        "listed objects are rendered at the version"
    );
    Ok(())
}
