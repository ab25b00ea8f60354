//! Stripe's errors mapped to `StripeError`, and the key never shown.

use paywarden_stripe::*;
use secrecy::SecretString;

use crate::support::{TestSim, KEY};

#[tokio::test]
async fn a_declined_card_is_a_card_error_with_its_decline_code() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let error = client
        .create_payment_intent(
            &CreatePaymentIntent {
                amount: 2000,
                currency: "usd".to_owned(),
                payment_method: Some("pm_card_chargeDeclined".to_owned()),
                confirm: Some(true),
                ..Default::default()
            },
            &IdempotencyKey::derive("charge", &["declined"]),
        )
        .await
        .expect_err("declined");
    let StripeError::Api(api) = error else {
        panic!("not an API error: {error:?}");
    };
    let ApiError {
        status,
        kind,
        code,
        decline_code,
        request_id,
        ..
    } = *api;
    assert_eq!(status, 402);
    assert_eq!(kind, ErrorKind::CardError);
    assert_eq!(code.as_deref(), Some("card_declined"));
    assert_eq!(decline_code.as_deref(), Some("generic_decline"));
    assert!(request_id.is_some_and(|id| id.starts_with("req_")));
    Ok(())
}

#[tokio::test]
async fn unknown_ids_are_404_and_bad_params_name_the_param() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let missing = client
        .retrieve_customer("cus_missing")
        .await
        .expect_err("missing");
    assert!(missing.is_not_found(), "{missing:?}");

    let invalid = client
        .create_subscription(
            &CreateSubscription {
                customer: "cus_missing".to_owned(),
                items: vec![SubscriptionItemParams {
                    price: Some("price_missing".to_owned()),
                    ..Default::default()
                }],
                ..Default::default()
            },
            &IdempotencyKey::derive("subscribe", &["nobody"]),
        )
        .await
        .expect_err("invalid");
    let StripeError::Api(api) = &invalid else {
        panic!("not an API error: {invalid:?}");
    };
    assert_eq!(api.status, 400);
    assert_eq!(api.kind, ErrorKind::InvalidRequestError);
    assert!(api.param.is_some(), "{invalid:?}");
    assert!(sim.sim.objects().subscriptions.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_bad_key_is_an_authentication_error_that_never_shows_the_key() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let bad_key = "sk_live_not_accepted_by_the_sim_123";
    let mut config = sim.config(&sim.base)?;
    config.secret_key = SecretString::from(bad_key);
    let client = StripeClient::new(config)?;
    let error = client
        .retrieve_customer("cus_1")
        .await
        .expect_err("refused");
    assert!(
        matches!(error, StripeError::Authentication { status: 401, .. }),
        "{error:?}"
    );
    for shown in [
        format!("{error:?}"),
        error.to_string(),
        format!("{client:?}"),
    ] {
        assert!(!shown.contains(bad_key), "key leaked: {shown}");
    }
    Ok(())
}

#[tokio::test]
async fn debug_output_never_shows_the_key() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let config = sim.config(&sim.base)?;
    for shown in [format!("{client:?}"), format!("{config:?}")] {
        assert!(!shown.contains(KEY), "key leaked: {shown}");
        assert!(shown.contains("2026-10-28.endive"), "{shown}");
    }
    Ok(())
}
