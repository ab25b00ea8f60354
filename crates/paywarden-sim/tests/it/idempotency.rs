//! Idempotency keys replay, reject mismatches and never double-create.

use reqwest::Method;

use crate::support::{error_of, Server};

#[tokio::test]
async fn replay_and_mismatch() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let send = |body: &'static str| {
        server
            .request(Method::POST, "/v1/customers")
            .header("idempotency-key", "key-1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let first = send("name=Ada&email=a%40b.c").await?;
    assert_eq!(first.status(), 200);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first_request = first
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert!(first_request.is_some());
    let first: serde_json::Value = first.json().await?;

    let again = send("email=a%40b.c&name=Ada").await?;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(
        again
            .headers()
            .get("original-request")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        first_request
    );
    let again: serde_json::Value = again.json().await?;
    assert_eq!(again["id"], first["id"]);

    let (status, error) = error_of(send("name=Bob").await?).await?;
    assert_eq!(status, 400);
    assert_eq!(error["type"], "idempotency_error");

    // Another endpoint with the same key is a different request.
    let other = server
        .request(Method::POST, "/v1/products")
        .header("idempotency-key", "key-1")
        .body("name=Ada&email=a%40b.c")
        .send()
        .await?;
    let (status, error) = error_of(other).await?;
    assert_eq!(
        (status, error["type"].as_str()),
        (400, Some("idempotency_error"))
    );

    // Another account may use the same key for its own request.
    let elsewhere = server
        .client
        .post(format!("{}/v1/customers", server.base))
        .bearer_auth("sk_test_other_account")
        .header("idempotency-key", "key-1")
        .body("name=Bob")
        .send()
        .await?;
    assert_eq!(elsewhere.status(), 200);

    let list = server.ok_get("/v1/customers").await?;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    Ok(())
}

#[tokio::test]
async fn validation_errors_are_not_kept() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let send = |body: &'static str| {
        server
            .request(Method::POST, "/v1/products")
            .header("idempotency-key", "key-2")
            .body(body)
            .send()
    };
    assert_eq!(send("").await?.status(), 400);
    assert_eq!(send("name=Fixed").await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn concurrent_same_key_creates_one() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let requests = (0..32).map(|_| {
        server
            .request(Method::POST, "/v1/customers")
            .header("idempotency-key", "same-key")
            .body("name=Once")
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut ids = std::collections::BTreeSet::new();
    for response in responses {
        let response = response?;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await?;
        ids.insert(body["id"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(ids.len(), 1);
    let list = server.ok_get("/v1/customers").await?;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    Ok(())
}
