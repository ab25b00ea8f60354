//! `Stripe-Version`: objects stored in the newest shape come back in the
//! shape of the version the client pins; bad versions are refused.

use paywarden_sim::Sim;
use reqwest::Method;
use serde_json::{json, Value};

use crate::webhooks::SimServer;

fn subscription() -> Value {
    json!({
        "id": "sub_v1", "object": "subscription", "status": "active",
        "customer": "cus_v1",
        "_sim": {"billing": {"anything": 1}},
        "items": {"object": "list", "data": [
            {"id": "si_v1", "object": "subscription_item",
             "current_period_start": 1_000, "current_period_end": 2_000}
        ]}
    })
}

fn invoice() -> Value {
    json!({
        "id": "in_v1", "object": "invoice", "status": "paid",
        "parent": {"type": "subscription_details", "quote_details": null,
            "subscription_details": {"subscription": "sub_v1", "metadata": {"plan": "pro"},
                                     "subscription_proration_date": null}},
        "payments": {"object": "list", "data": [
            {"id": "inpay_v1", "object": "invoice_payment", "status": "paid",
             "payment": {"type": "payment_intent", "payment_intent": "pi_v1"}}
        ]},
        "lines": {"object": "list", "data": [{
            "id": "il_v1", "object": "line_item", "invoice": "in_v1", "amount": 500,
            "subscription": "sub_v1",
            "parent": {"type": "subscription_item_details", "invoice_item_details": null,
                "subscription_item_details": {"subscription_item": "si_v1", "proration": false,
                    "subscription": "sub_v1", "invoice_item": null,
                    "proration_details": {"credited_items": null}}},
            "pricing": {"type": "price_details",
                "price_details": {"price": "price_v1", "product": "prod_v1"}}
        }]}
    })
}

/// A sim holding a price and a paid payment intent, with events about a
/// hand-built subscription and invoice; returns the server and event ids.
async fn setup() -> anyhow::Result<(SimServer, String, String)> {
    let server = SimServer::start(Sim::new()).await?;
    {
        let mut objects = server.sim.objects();
        objects.prices.insert(
            "price_v1".into(),
            json!({"id": "price_v1", "object": "price", "active": true, "currency": "usd",
                   "unit_amount": 500, "unit_amount_decimal": "500", "product": "prod_v1",
                   "billing_scheme": "per_unit", "created": 1, "metadata": {}, "nickname": null,
                   "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}),
        );
        objects.payment_intents.insert(
            "pi_v1".into(),
            json!({"id": "pi_v1", "object": "payment_intent", "latest_charge": "ch_v1"}),
        );
    }
    let sub = server.emit(10, "customer.subscription.created", &subscription());
    let inv = server.emit(11, "invoice.paid", &invoice());
    Ok((server, sub, inv))
}

#[tokio::test]
async fn old_versions_get_old_subscription_and_invoice_fields() -> anyhow::Result<()> {
    let (server, sub, inv) = setup().await?;
    let (status, event) = server
        .call(
            Method::GET,
            &format!("/v1/events/{sub}"),
            "",
            Some("2024-06-20"),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(event["api_version"], "2024-06-20");
    let object = &event["data"]["object"];
    assert_eq!(object["current_period_start"], 1_000);
    assert_eq!(object["current_period_end"], 2_000);
    assert!(object.get("_sim").is_none());

    let (_, event) = server
        .call(
            Method::GET,
            &format!("/v1/events/{inv}"),
            "",
            Some("2025-02-24.acacia"),
        )
        .await?;
    let invoice = &event["data"]["object"];
    assert_eq!(invoice["subscription"], "sub_v1");
    assert_eq!(invoice["subscription_details"]["metadata"]["plan"], "pro");
    assert_eq!(invoice["paid"], true);
    assert_eq!(invoice["payment_intent"], "pi_v1");
    assert_eq!(invoice["charge"], "ch_v1");
    let line = &invoice["lines"]["data"][0];
    assert_eq!(line["type"], "subscription");
    assert_eq!(line["proration"], false);
    assert_eq!(line["subscription_item"], "si_v1");
    assert_eq!(line["price"]["id"], "price_v1");
    assert_eq!(line["price"]["unit_amount"], 500);
    assert_eq!(line["plan"]["interval"], "month");
    Ok(())
}

#[tokio::test]
async fn basil_and_later_keep_the_new_shape() -> anyhow::Result<()> {
    let (server, sub, inv) = setup().await?;
    for version in ["2025-03-31.basil", "2026-10-28.endive"] {
        let (_, event) = server
            .call(Method::GET, &format!("/v1/events/{sub}"), "", Some(version))
            .await?;
        assert_eq!(event["api_version"], version);
        assert!(event["data"]["object"].get("current_period_end").is_none());
        let (_, event) = server
            .call(Method::GET, &format!("/v1/events/{inv}"), "", Some(version))
            .await?;
        let invoice = &event["data"]["object"];
        assert!(invoice.get("paid").is_none());
        assert!(invoice.get("subscription").is_none());
        assert_eq!(
            invoice["parent"]["subscription_details"]["subscription"],
            "sub_v1"
        );
        assert!(invoice["lines"]["data"][0].get("price").is_none());
    }
    // Lists convert every item.
    let (_, list) = server
        .call(Method::GET, "/v1/events", "", Some("2024-06-20"))
        .await?;
    assert_eq!(
        list["data"][1]["data"]["object"]["current_period_end"],
        2_000
    );
    Ok(())
}

#[tokio::test]
async fn checkout_ui_mode_has_its_old_name_before_dahlia() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    let session =
        json!({"id": "cs_test_v1", "object": "checkout.session", "ui_mode": "hosted_page"});
    let id = server.emit(1, "checkout.session.completed", &session);
    for (version, expected) in [
        ("2025-09-30.clover", "hosted"),
        ("2026-03-25.dahlia", "hosted_page"),
    ] {
        let (_, event) = server
            .call(Method::GET, &format!("/v1/events/{id}"), "", Some(version))
            .await?;
        assert_eq!(event["data"]["object"]["ui_mode"], expected, "{version}");
    }
    Ok(())
}

#[tokio::test]
async fn malformed_or_ancient_versions_are_refused() -> anyhow::Result<()> {
    let server = SimServer::start(Sim::new()).await?;
    for version in ["2019-12-03", "latest", "2025-13"] {
        let (status, body) = server
            .call(Method::GET, "/v1/customers", "", Some(version))
            .await?;
        assert_eq!(status, 400, "{version}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(version)),
            "{body}"
        );
    }
    // A refused version changes nothing.
    let (status, _) = server
        .call(Method::POST, "/v1/customers", "name=x", Some("1999-01-01"))
        .await?;
    assert_eq!(status, 400);
    let list = server.ok(Method::GET, "/v1/customers", "").await?;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
    // Beta suffixes are accepted.
    let (status, _) = server
        .call(
            Method::GET,
            "/v1/customers",
            "",
            Some("2025-03-31.basil; some_beta=v1"),
        )
        .await?;
    assert_eq!(status, 200);
    Ok(())
}
