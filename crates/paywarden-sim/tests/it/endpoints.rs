//! Happy paths for customers, products and prices.

use reqwest::Method;

use crate::support::{error_of, Server};

#[tokio::test]
async fn customers() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let created = server
        .ok_post(
            "/v1/customers",
            "email=ada%40example.com&name=Ada&metadata[user_id]=42&description=first",
        )
        .await?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("cus_"));
    assert_eq!(created["object"], "customer");
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["metadata"]["user_id"], "42");
    assert_eq!(created["livemode"], false);
    assert!(created["phone"].is_null());
    assert!(created["invoice_settings"]["default_payment_method"].is_null());

    let fetched = server.ok_get(&format!("/v1/customers/{id}")).await?;
    assert_eq!(fetched, created);

    let updated = server
        .ok_post(
            &format!("/v1/customers/{id}"),
            "name=Ada+L&description=&metadata[user_id]=&metadata[plan]=pro&address[country]=DE&preferred_locales[0]=de&tax_exempt=reverse",
        )
        .await?;
    assert_eq!(updated["name"], "Ada L");
    assert!(updated["description"].is_null());
    assert_eq!(updated["metadata"], serde_json::json!({"plan": "pro"}));
    assert_eq!(updated["address"]["country"], "DE");
    assert!(updated["address"]["line1"].is_null());
    assert_eq!(updated["preferred_locales"], serde_json::json!(["de"]));
    assert_eq!(updated["tax_exempt"], "reverse");

    let list = server
        .ok_get("/v1/customers?email=ada%40example.com")
        .await?;
    assert_eq!(list["object"], "list");
    assert_eq!(list["url"], "/v1/customers");
    assert_eq!(list["data"][0]["id"], id.as_str());

    let deleted: serde_json::Value = server
        .request(Method::DELETE, &format!("/v1/customers/{id}"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        deleted,
        serde_json::json!({"id": id, "object": "customer", "deleted": true})
    );
    // Stripe still answers a retrieve of a deleted customer, with the stub.
    let stub = server.ok_get(&format!("/v1/customers/{id}")).await?;
    assert_eq!(stub["deleted"], true);
    let (status, error) = error_of(
        server
            .post(&format!("/v1/customers/{id}"), "name=x")
            .await?,
    )
    .await?;
    assert_eq!(status, 404);
    assert_eq!(error["code"], "resource_missing");
    Ok(())
}

#[tokio::test]
async fn products_and_prices() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let product = server
        .ok_post("/v1/products", "name=Pro&metadata[tier]=2")
        .await?;
    let prod = product["id"].as_str().unwrap_or_default().to_owned();
    assert!(prod.starts_with("prod_"));
    assert_eq!(product["active"], true);
    let archived = server
        .ok_post(&format!("/v1/products/{prod}"), "active=false")
        .await?;
    assert_eq!(archived["active"], false);
    assert_eq!(
        server.ok_get(&format!("/v1/products/{prod}")).await?["active"],
        false
    );
    let active = server.ok_get("/v1/products?active=true").await?;
    assert_eq!(active["data"].as_array().map(Vec::len), Some(0));

    let once = server
        .ok_post(
            "/v1/prices",
            &format!("currency=USD&unit_amount=500&product={prod}"),
        )
        .await?;
    assert!(once["id"].as_str().is_some_and(|i| i.starts_with("price_")));
    assert_eq!(once["type"], "one_time");
    assert_eq!(once["currency"], "usd");
    assert!(once["recurring"].is_null());

    let monthly = server
        .ok_post(
            "/v1/prices",
            &format!("currency=usd&unit_amount=2000&product={prod}&recurring[interval]=month&lookup_key=pro_monthly"),
        )
        .await?;
    assert_eq!(monthly["type"], "recurring");
    assert_eq!(monthly["recurring"]["interval"], "month");
    assert_eq!(monthly["recurring"]["interval_count"], 1);
    assert_eq!(monthly["unit_amount_decimal"], "2000");
    let id = monthly["id"].as_str().unwrap_or_default();
    assert_eq!(server.ok_get(&format!("/v1/prices/{id}")).await?, monthly);

    let expanded = server
        .ok_get(&format!("/v1/prices/{id}?expand[]=product"))
        .await?;
    assert_eq!(expanded["product"]["id"], prod.as_str());
    let by_key = server
        .ok_get("/v1/prices?lookup_keys%5B0%5D=pro_monthly&expand%5B0%5D=data.product")
        .await?;
    assert_eq!(by_key["data"][0]["product"]["object"], "product");
    assert_eq!(by_key["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_key["data"][0]["id"], id);
    let by_key = server
        .ok_get("/v1/prices?lookup_keys[]=pro_monthly&lookup_keys[]=none")
        .await?;
    assert_eq!(by_key["data"].as_array().map(Vec::len), Some(1));

    let taken = server
        .post(
            "/v1/prices",
            &format!("currency=usd&unit_amount=3000&product={prod}&lookup_key=pro_monthly"),
        )
        .await?;
    let (status, error) = error_of(taken).await?;
    assert_eq!((status, error["param"].as_str()), (400, Some("lookup_key")));
    let moved = server
        .ok_post(
            "/v1/prices",
            &format!("currency=usd&unit_amount=3000&product={prod}&lookup_key=pro_monthly&transfer_lookup_key=true"),
        )
        .await?;
    let by_key = server
        .ok_get("/v1/prices?lookup_keys[]=pro_monthly")
        .await?;
    assert_eq!(by_key["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_key["data"][0]["id"], moved["id"]);
    let moved_id = moved["id"].as_str().unwrap_or_default();
    server
        .ok_post(&format!("/v1/prices/{moved_id}"), "active=false")
        .await?;

    let inline = server
        .ok_post(
            "/v1/prices",
            "currency=eur&unit_amount=900&product_data[name]=Inline&recurring[interval]=year",
        )
        .await?;
    let inline_product = inline["product"].as_str().unwrap_or_default();
    assert!(inline_product.starts_with("prod_"));
    let fetched = server
        .ok_get(&format!("/v1/products/{inline_product}"))
        .await?;
    assert_eq!(fetched["name"], "Inline");
    server
        .ok_post(
            &format!("/v1/prices/{}", inline["id"].as_str().unwrap_or_default()),
            "active=false",
        )
        .await?;

    server
        .ok_post(&format!("/v1/prices/{id}"), "active=false")
        .await?;
    let active = server.ok_get("/v1/prices?active=true").await?;
    assert_eq!(active["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(active["data"][0]["id"], once["id"]);
    Ok(())
}
