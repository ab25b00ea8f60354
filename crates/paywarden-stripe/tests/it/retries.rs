//! Idempotency and retries: a request that fails on the way (cut connection,
//! 5xx, 429) is retried with the same key and creates exactly one object.

use std::time::{Duration, Instant};

use paywarden_stripe::*;

use paywarden_testkit::stripe_proxy::{Action, Proxy};

use crate::support::TestSim;

async fn through(sim: &TestSim, script: Vec<Action>) -> anyhow::Result<(Proxy, StripeClient)> {
    let proxy = Proxy::start(&sim.base, script).await?;
    let client = StripeClient::new(sim.config(&proxy.base)?)?;
    Ok((proxy, client))
}

fn customer_params() -> CustomerParams {
    CustomerParams {
        email: Some("ada@example.com".to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_same_operation_key_twice_creates_one_customer() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let key = IdempotencyKey::derive("customer", &["u1", "req_1"]);
    let first = client.create_customer(&customer_params(), &key).await?;
    let second = client.create_customer(&customer_params(), &key).await?;
    assert_eq!(first.id, second.id);
    assert_eq!(sim.sim.objects().customers.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_connection_cut_after_the_sim_acted_creates_no_duplicate_customer() -> anyhow::Result<()>
{
    let sim = TestSim::start().await?;
    let (proxy, client) = through(
        &sim,
        vec![Action::DropAfterForward, Action::DropAfterForward],
    )
    .await?;
    let customer = client
        .create_customer(
            &customer_params(),
            &IdempotencyKey::derive("customer", &["u1"]),
        )
        .await?;
    assert_eq!(proxy.count(), 3);
    let keys = proxy.keys();
    let expected = IdempotencyKey::derive("customer", &["u1"]);
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter()
            .all(|key| key.as_deref() == Some(expected.as_str())),
        "every attempt carries the same derived key: {keys:?}"
    );
    let objects = sim.sim.objects();
    assert_eq!(objects.customers.len(), 1);
    assert!(objects.customers.get(&customer.id).is_some());
    Ok(())
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_into_one_session() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let direct = sim.client()?;
    let product = direct
        .create_product(
            &CreateProduct {
                name: "Pro".to_owned(),
                ..Default::default()
            },
            &IdempotencyKey::derive("product", &["pro"]),
        )
        .await?;
    let price = direct
        .create_price(
            &CreatePrice {
                product: product.id,
                currency: "usd".to_owned(),
                unit_amount: 900,
                ..Default::default()
            },
            &IdempotencyKey::derive("price", &["pro"]),
        )
        .await?;
    let (proxy, client) = through(
        &sim,
        vec![
            Action::Reply(500, None),
            Action::DropAfterForward,
            Action::Reply(429, Some("true")),
        ],
    )
    .await?;
    let session = client
        .create_checkout_session(
            &CreateCheckoutSession {
                mode: CheckoutMode::Payment,
                line_items: vec![LineItem::price(price.id, 1)],
                success_url: "https://app.example/ok".to_owned(),
                cancel_url: "https://app.example/cancel".to_owned(),
                customer: None,
                customer_email: None,
                client_reference_id: Some("u1".to_owned()),
                metadata: Metadata::new(),
                subscription_data: None,
                payment_intent_data: None,
                allow_promotion_codes: None,
                expires_at: None,
            },
            &IdempotencyKey::derive("checkout", &["u1", "req_9"]),
        )
        .await?;
    assert_eq!(proxy.count(), 4);
    let objects = sim.sim.objects();
    assert_eq!(objects.checkout_sessions.len(), 1);
    assert!(objects.checkout_sessions.get(&session.id).is_some());
    Ok(())
}

#[tokio::test]
async fn a_cut_connection_creates_no_duplicate_subscription() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let direct = sim.client()?;
    let product = direct
        .create_product(
            &CreateProduct {
                name: "Pro".to_owned(),
                ..Default::default()
            },
            &IdempotencyKey::derive("product", &["pro"]),
        )
        .await?;
    let price = direct
        .create_price(
            &CreatePrice {
                product: product.id,
                currency: "usd".to_owned(),
                unit_amount: 900,
                recurring: Some(Recurring {
                    interval: "month".to_owned(),
                    interval_count: 1,
                }),
                ..Default::default()
            },
            &IdempotencyKey::derive("price", &["pro"]),
        )
        .await?;
    let customer = direct
        .create_customer(
            &customer_params(),
            &IdempotencyKey::derive("customer", &["u1"]),
        )
        .await?;
    let (proxy, client) = through(&sim, vec![Action::DropAfterForward]).await?;
    let subscription = client
        .create_subscription(
            &CreateSubscription {
                customer: customer.id,
                items: vec![SubscriptionItemParams {
                    price: Some(price.id),
                    ..Default::default()
                }],
                default_payment_method: Some("pm_card_visa".to_owned()),
                ..Default::default()
            },
            &IdempotencyKey::derive("subscribe", &["u1", "req_3"]),
        )
        .await?;
    assert_eq!(proxy.count(), 2);
    let objects = sim.sim.objects();
    assert_eq!(objects.subscriptions.len(), 1);
    assert!(objects.subscriptions.get(&subscription.id).is_some());
    Ok(())
}

#[tokio::test]
async fn should_retry_false_is_not_retried() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let (proxy, client) = through(&sim, vec![Action::Reply(500, Some("false"))]).await?;
    let error = client
        .create_customer(
            &customer_params(),
            &IdempotencyKey::derive("customer", &["u1"]),
        )
        .await
        .expect_err("not retried");
    assert_eq!(error.status(), Some(500));
    assert_eq!(proxy.count(), 1);
    assert!(sim.sim.objects().customers.is_empty());
    Ok(())
}

#[tokio::test]
async fn retries_stop_after_max_retries() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let (proxy, client) = through(&sim, vec![Action::Reply(503, None); 10]).await?;
    let error = client
        .retrieve_customer("cus_1")
        .await
        .expect_err("gives up");
    assert_eq!(error.status(), Some(503));
    assert_eq!(proxy.count(), 4, "one attempt and max_retries = 3 retries");
    Ok(())
}

#[tokio::test]
async fn the_timeout_is_honoured() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let proxy = Proxy::start(&sim.base, vec![Action::Stall; 10]).await?;
    let mut config = sim.config(&proxy.base)?;
    config.timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let client = StripeClient::new(config)?;
    let started = Instant::now();
    let error = client
        .retrieve_customer("cus_1")
        .await
        .expect_err("times out");
    assert!(matches!(error, StripeError::Timeout), "{error:?}");
    assert_eq!(proxy.count(), 2, "a timeout is retried");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn an_idempotency_conflict_409_is_retried() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let (proxy, client) = through(&sim, vec![Action::Reply(409, None)]).await?;
    client
        .create_customer(
            &customer_params(),
            &IdempotencyKey::derive("customer", &["u1"]),
        )
        .await?;
    assert_eq!(proxy.count(), 2);
    assert_eq!(sim.sim.objects().customers.len(), 1);
    Ok(())
}

#[tokio::test]
async fn retries_stop_when_the_time_budget_is_spent() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let proxy = Proxy::start(&sim.base, vec![Action::Reply(503, None); 10]).await?;
    let mut config = sim.config(&proxy.base)?;
    config.max_retries = 10;
    config.initial_retry_delay = Duration::from_millis(200);
    config.max_retry_delay = Duration::from_millis(200);
    config.max_total_time = Duration::from_millis(250);
    let client = StripeClient::new(config)?;
    let error = client
        .retrieve_customer("cus_1")
        .await
        .expect_err("gives up");
    assert_eq!(error.status(), Some(503));
    assert!(
        proxy.count() <= 3,
        "a 250 ms budget allows at most two 100-200 ms waits: {}",
        proxy.count()
    );
    Ok(())
}

#[tokio::test]
async fn gets_carry_no_idempotency_key_and_a_base_path_prefix_is_kept() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let (proxy, client) = through(&sim, Vec::new()).await?;
    let customer = client
        .create_customer(
            &customer_params(),
            &IdempotencyKey::derive("customer", &["u1"]),
        )
        .await?;
    client.retrieve_customer(&customer.id).await?;
    let keys = proxy.keys();
    assert!(keys[0].is_some() && keys[1].is_none(), "{keys:?}");

    let mut config = sim.config(&format!("{}/prefix/", sim.base))?;
    config.max_retries = 0;
    let prefixed = StripeClient::new(config)?;
    let error = prefixed
        .retrieve_customer(&customer.id)
        .await
        .expect_err("the sim has nothing under /prefix");
    assert_eq!(error.status(), Some(404), "{error:?}");
    Ok(())
}
