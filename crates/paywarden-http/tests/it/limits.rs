//! Rate limits on the payment endpoints: a burst above the budget gets 429
//! with `Retry-After` and `RateLimit` headers, the product's server key is not limited, and two replicas on
//! one Redis spend one budget.

use std::num::NonZeroU32;
use std::time::Duration;

use paywarden_app::limits::{LimitSettings, Rate, RedisLimitSettings};
use paywarden_testkit::TestStore;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::shop::Shop;

fn rate(per_minute: u32, burst: u32) -> Rate {
    Rate {
        per_minute: NonZeroU32::new(per_minute).expect("non-zero"),
        burst: NonZeroU32::new(burst).expect("non-zero"),
    }
}

fn settings(redis: Option<RedisLimitSettings>) -> LimitSettings {
    LimitSettings {
        per_user: rate(6, 3),
        per_ip: rate(600, 100),
        redis,
    }
}

async fn checkout(shop: &Shop, user: &str) -> reqwest::Response {
    shop.http
        .post(format!("{}/api/checkout/session", shop.base))
        .bearer_auth(Shop::token(user))
        .json(&json!({ "price": "starter_monthly" }))
        .send()
        .await
        .expect("call")
}

#[tokio::test]
async fn a_burst_above_the_budget_gets_429_with_retry_after() {
    let shop = Shop::open_with_limits(TestStore::sqlite().await, settings(None)).await;
    for n in 0..3 {
        let ok = checkout(&shop, "ada").await;
        assert_eq!(ok.status(), StatusCode::OK, "request {n}");
    }
    let refused = checkout(&shop, "ada").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert!(refused.headers()["ratelimit"]
        .to_str()
        .expect("ascii")
        .contains("remaining=0"));
    assert_eq!(refused.headers()["ratelimit-policy"], "3;w=60");
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another user has their own budget; the product's server key is not
    // limited at all.
    assert_eq!(checkout(&shop, "bob").await.status(), StatusCode::OK);
    let server = shop.server_key(paywarden_store::ApiKeyRole::Server).await;
    for _ in 0..5 {
        let reply = shop
            .call_with_token(
                Method::POST,
                "/api/users/ada/checkout/session",
                Some(&server),
                Some(json!({ "price": "starter_monthly" })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

#[tokio::test]
async fn two_replicas_on_one_redis_share_the_budget() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "TEST_REDIS_URL must be set in CI"
        );
        return;
    };
    let shared = RedisLimitSettings {
        url: redis.into(),
        prefix: format!("pwtest-{}", ulid::Ulid::new()),
        timeout: Duration::from_millis(200),
    };
    let a = Shop::open_with_limits(TestStore::sqlite().await, settings(Some(shared.clone()))).await;
    let b = Shop::open_with_limits(TestStore::sqlite().await, settings(Some(shared))).await;
    let statuses = [
        checkout(&a, "ada").await.status(),
        checkout(&b, "ada").await.status(),
        checkout(&a, "ada").await.status(),
        checkout(&b, "ada").await.status(),
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "a budget of 3 across both replicas"
    );
}

#[tokio::test]
async fn a_rate_limited_page_post_answers_a_page_with_retry_after() {
    let shop = Shop::open_with_limits(TestStore::sqlite().await, settings(None)).await;
    let post = || async {
        shop.http
            .post(format!("{}/pricing/checkout", shop.base))
            .header("cookie", format!("pw_session={}", Shop::token("ada")))
            .form(&[("price", "starter_monthly")])
            .send()
            .await
            .expect("post")
    };
    // Without the form's token each post is refused, and still counted.
    for _ in 0..3 {
        assert_eq!(post().await.status(), StatusCode::FORBIDDEN);
    }
    let limited = post().await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    let content_type = limited.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(limited
        .text()
        .await
        .expect("html")
        .contains("too many requests"));
}
