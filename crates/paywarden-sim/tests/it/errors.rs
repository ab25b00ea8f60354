//! Bad input is a Stripe-shaped 400 naming the parameter; unknown ids 404.

use crate::support::{error_of, Server};

#[tokio::test]
async fn bad_params_name_the_param() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let prod = server.ok_post("/v1/products", "name=P").await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let cases = [
        (
            "/v1/customers",
            "bogus=1".to_owned(),
            "bogus",
            "Received unknown parameter: bogus",
        ),
        (
            "/v1/products",
            "description=x".to_owned(),
            "name",
            "Missing required param: name.",
        ),
        (
            "/v1/prices",
            format!("currency=usd&product={prod}&unit_amount=abc"),
            "unit_amount",
            "Invalid integer: abc",
        ),
        (
            "/v1/prices",
            format!("product={prod}&unit_amount=1"),
            "currency",
            "Missing required param: currency.",
        ),
        (
            "/v1/prices",
            format!("currency=usd&product={prod}&unit_amount=1&recurring[interval_count]=2"),
            "recurring[interval]",
            "Missing required param: recurring[interval].",
        ),
        ("/v1/customers", "a=1&a[b]=2".to_owned(), "a", ""),
    ];
    for (path, body, param, message) in cases {
        let (status, error) = error_of(server.post(path, &body).await?).await?;
        assert_eq!(status, 400, "{path} {body}");
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert_eq!(error["param"], param, "{body}");
        if !message.is_empty() {
            assert_eq!(error["message"], message, "{body}");
        }
    }
    let (status, error) = error_of(server.get("/v1/customers?limit=101").await?).await?;
    assert_eq!((status, error["param"].as_str()), (400, Some("limit")));
    Ok(())
}

#[tokio::test]
async fn unknown_ids_and_urls() -> anyhow::Result<()> {
    let server = Server::start().await?;
    for path in [
        "/v1/customers/cus_nope",
        "/v1/products/prod_nope",
        "/v1/prices/price_nope",
    ] {
        let response = server.get(path).await?;
        assert!(response.headers().contains_key("request-id"));
        let (status, error) = error_of(response).await?;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error["code"], "resource_missing");
        assert_eq!(error["param"], "id");
    }
    let (status, error) = error_of(
        server
            .post("/v1/prices", "currency=usd&unit_amount=1&product=prod_nope")
            .await?,
    )
    .await?;
    assert_eq!((status, error["param"].as_str()), (400, Some("product")));
    let (status, _) = error_of(server.get("/v1/nothing_here").await?).await?;
    assert_eq!(status, 404);
    let put = server
        .request(reqwest::Method::PUT, "/v1/customers")
        .send()
        .await?;
    let (status, error) = error_of(put).await?;
    assert_eq!(status, 404);
    assert!(error["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Unrecognized request URL (PUT")));
    Ok(())
}
