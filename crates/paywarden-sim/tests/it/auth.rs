//! Only test secret keys get in.

use crate::support::{error_of, Server};

#[tokio::test]
async fn keys() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let url = format!("{}/v1/customers", server.base);
    let cases = [
        None,
        Some("garbage".to_owned()),
        // Built at run time so no committed literal looks like a live key.
        Some(format!("Bearer sk_{}_123456789012345", "live")),
        Some("Bearer pk_test_123456789".to_owned()),
    ];
    for header in cases {
        let mut request = server.client.get(&url);
        if let Some(h) = &header {
            request = request.header("authorization", h);
        }
        let response = request.send().await?;
        assert!(response.headers().contains_key("request-id"));
        let (status, error) = error_of(response).await?;
        assert_eq!(status, 401, "{header:?}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("API key") || m.contains("API Key")),
            "{error}"
        );
    }
    let ok = server
        .client
        .get(&url)
        .bearer_auth("sk_test_anything")
        .send()
        .await?;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()
            .get("stripe-version")
            .and_then(|v| v.to_str().ok()),
        Some(paywarden_sim::DEFAULT_STRIPE_VERSION)
    );
    let basic = server
        .client
        .get(&url)
        .basic_auth("sk_test_anything", Some(""))
        .send()
        .await?;
    assert_eq!(basic.status(), 200);
    Ok(())
}
