//! Arbitrary form bodies against every endpoint: always a JSON answer,
//! never a 500 and never a panic.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use tower::ServiceExt;

const PATHS: &[(&str, &str)] = &[
    ("POST", "/v1/customers"),
    ("POST", "/v1/products"),
    ("POST", "/v1/prices"),
    ("GET", "/v1/customers"),
    ("GET", "/v1/prices"),
    ("POST", "/v1/customers/cus_x"),
];

/// Status and whether the body is JSON; `None` when the query is not a
/// valid URI (such a request never reaches the router).
async fn send(method: &str, path: &str, body: &str) -> anyhow::Result<Option<(StatusCode, bool)>> {
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
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    Ok(Some((
        status,
        serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
    )))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn endpoints_never_fail_inside(
        which in 0..PATHS.len(),
        body in "([a-z_\\[\\]0-9%=&+]|name|currency|unit_amount|product|recurring|metadata|limit|expand){0,60}",
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (method, path) = PATHS[which];
        let outcome = runtime
            .block_on(send(method, path, &body))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Some((status, json)) = outcome {
            prop_assert!(status.as_u16() < 500, "{} {} {}: {}", method, path, body, status);
            prop_assert!(json, "{} {} {}: body is not JSON", method, path, body);
        }
    }
}
