//! Each typed call's round trip through the sim.

use paywarden_stripe::*;

use crate::support::TestSim;

fn key(operation: &str, part: &str) -> IdempotencyKey {
    IdempotencyKey::derive(operation, &[part])
}

fn metadata(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn plan(client: &StripeClient, lookup_key: &str, recurring: bool) -> anyhow::Result<Price> {
    let product = client
        .create_product(
            &CreateProduct {
                name: format!("Plan {lookup_key}"),
                ..Default::default()
            },
            &key("product", lookup_key),
        )
        .await?;
    Ok(client
        .create_price(
            &CreatePrice {
                product: product.id,
                currency: "usd".to_owned(),
                unit_amount: 1500,
                recurring: recurring.then(|| Recurring {
                    interval: "month".to_owned(),
                    interval_count: 1,
                }),
                lookup_key: Some(lookup_key.to_owned()),
                ..Default::default()
            },
            &key("price", lookup_key),
        )
        .await?)
}

#[tokio::test]
async fn customers_round_trip() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let created = client
        .create_customer(
            &CustomerParams {
                email: Some("ada@example.com".to_owned()),
                metadata: metadata(&[("user_id", "u1")]),
                ..Default::default()
            },
            &key("customer", "u1"),
        )
        .await?;
    assert!(created.id.starts_with("cus_"));
    assert_eq!(created.metadata["user_id"], "u1");

    let updated = client
        .update_customer(
            &created.id,
            &CustomerParams {
                name: Some("Ada".to_owned()),
                ..Default::default()
            },
            &key("customer-name", "u1"),
        )
        .await?;
    assert_eq!(updated.name.as_deref(), Some("Ada"));
    let fetched = client.retrieve_customer(&created.id).await?;
    assert_eq!(fetched.email.as_deref(), Some("ada@example.com"));

    let found = client
        .list_customers(&ListCustomers {
            email: Some("ada@example.com".to_owned()),
            ..Default::default()
        })
        .await?;
    assert_eq!(found.data.len(), 1);
    assert_eq!(found.data[0].id, created.id);
    Ok(())
}

#[tokio::test]
async fn products_and_prices_round_trip() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let price = plan(&client, "pro_monthly", true).await?;
    assert_eq!(price.kind, "recurring");
    assert_eq!(
        price.recurring.as_ref().map(|r| r.interval.as_str()),
        Some("month")
    );
    plan(&client, "credits_100", false).await?;

    let product = client
        .update_product(
            &price.product,
            &UpdateProduct {
                name: Some("Pro".to_owned()),
                ..Default::default()
            },
            &key("product-rename", "pro"),
        )
        .await?;
    assert_eq!(product.name, "Pro");
    assert_eq!(client.retrieve_product(&price.product).await?.name, "Pro");
    let products = client.list_products(&ListProducts::default()).await?;
    assert_eq!(products.data.len(), 2);

    let found = client
        .list_prices(&ListPrices {
            lookup_keys: vec!["pro_monthly".to_owned()],
            active: Some(true),
            ..Default::default()
        })
        .await?;
    assert_eq!(found.data.len(), 1);
    assert_eq!(found.data[0].id, price.id);

    let retired = client
        .update_price(
            &price.id,
            &UpdatePrice {
                active: Some(false),
                ..Default::default()
            },
            &key("price-retire", &price.id),
        )
        .await?;
    assert!(!retired.active);
    assert!(!client.retrieve_price(&price.id).await?.active);
    let active = client
        .list_prices(&ListPrices {
            lookup_keys: vec!["pro_monthly".to_owned()],
            active: Some(true),
            ..Default::default()
        })
        .await?;
    assert!(active.data.is_empty());

    let all = client
        .list_all_prices(&ListPrices {
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    assert_eq!(all.len(), 2, "the pager walks has_more");
    Ok(())
}

#[tokio::test]
async fn checkout_sessions_round_trip() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let price = plan(&client, "pro_monthly", true).await?;
    let session = client
        .create_checkout_session(
            &CreateCheckoutSession {
                mode: CheckoutMode::Subscription,
                line_items: vec![LineItem::price(price.id.clone(), 1)],
                success_url: "https://app.example/ok?session_id={CHECKOUT_SESSION_ID}".to_owned(),
                cancel_url: "https://app.example/cancel".to_owned(),
                customer: None,
                customer_email: Some("ada@example.com".to_owned()),
                client_reference_id: Some("u1".to_owned()),
                metadata: metadata(&[("user_id", "u1"), ("plan", "pro")]),
                subscription_data: Some(SubscriptionData {
                    metadata: metadata(&[("user_id", "u1")]),
                    trial_period_days: None,
                }),
                payment_intent_data: None,
                allow_promotion_codes: Some(true),
                expires_at: None,
            },
            &key("checkout", "u1"),
        )
        .await?;
    assert!(session.id.starts_with("cs_"));
    assert!(session
        .url
        .as_deref()
        .is_some_and(|url| url.starts_with(&sim.base)));
    assert_eq!(session.mode, "subscription");
    assert!(session.expires_at > 0);

    let fetched = client
        .retrieve_checkout_session(&session.id, &["subscription"])
        .await?;
    assert_eq!(fetched.client_reference_id.as_deref(), Some("u1"));
    assert_eq!(fetched.metadata["plan"], "pro");
    assert_eq!(fetched.payment_status, "unpaid");
    assert!(
        fetched.subscription.is_none(),
        "no subscription before payment"
    );
    Ok(())
}

#[tokio::test]
async fn subscriptions_round_trip() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let pro = plan(&client, "pro_monthly", true).await?;
    let team = plan(&client, "team_monthly", true).await?;
    let customer = client
        .create_customer(&CustomerParams::default(), &key("customer", "u1"))
        .await?;
    let subscription = client
        .create_subscription(
            &CreateSubscription {
                customer: customer.id.clone(),
                items: vec![SubscriptionItemParams {
                    price: Some(pro.id.clone()),
                    ..Default::default()
                }],
                default_payment_method: Some("pm_card_visa".to_owned()),
                metadata: metadata(&[("user_id", "u1")]),
                ..Default::default()
            },
            &key("subscribe", "u1"),
        )
        .await?;
    assert_eq!(subscription.status, "active");
    assert_eq!(
        subscription.customer.as_ref().map(Expandable::id),
        Some(customer.id.as_str())
    );
    assert!(subscription.latest_invoice.is_some());
    assert_eq!(subscription.items.data.len(), 1);
    let item = &subscription.items.data[0];
    assert!(item.current_period_end.is_some());

    let changed = client
        .update_subscription(
            &subscription.id,
            &UpdateSubscription {
                items: vec![SubscriptionItemParams {
                    id: Some(item.id.clone()),
                    price: Some(team.id.clone()),
                    quantity: Some(3),
                }],
                proration_behavior: Some("create_prorations".to_owned()),
                ..Default::default()
            },
            &key("change", "u1"),
        )
        .await?;
    assert_eq!(changed.items.data[0].price.id, team.id);
    assert_eq!(changed.items.data[0].quantity, Some(3));

    let ending = client
        .update_subscription(
            &subscription.id,
            &UpdateSubscription {
                cancel_at_period_end: Some(true),
                ..Default::default()
            },
            &key("cancel-at-end", "u1"),
        )
        .await?;
    assert!(ending.cancel_at_period_end);

    let paused = client
        .update_subscription(
            &subscription.id,
            &UpdateSubscription {
                pause_collection: Some(PauseCollection::Pause {
                    behavior: "void".to_owned(),
                }),
                ..Default::default()
            },
            &key("pause", "u1"),
        )
        .await?;
    assert_eq!(
        paused
            .pause_collection
            .map(|pause| pause.behavior)
            .as_deref(),
        Some("void")
    );
    let unpaused = client
        .update_subscription(
            &subscription.id,
            &UpdateSubscription {
                pause_collection: Some(PauseCollection::Unset),
                ..Default::default()
            },
            &key("unpause", "u1"),
        )
        .await?;
    assert!(unpaused.pause_collection.is_none());

    let listed = client
        .list_subscriptions(&ListSubscriptions {
            customer: Some(customer.id.clone()),
            ..Default::default()
        })
        .await?;
    assert_eq!(listed.data.len(), 1);

    let invoices = client
        .list_invoices(&ListInvoices {
            customer: Some(customer.id.clone()),
            ..Default::default()
        })
        .await?;
    assert!(!invoices.data.is_empty());
    let invoice = client.retrieve_invoice(&invoices.data[0].id).await?;
    assert_eq!(invoice.customer.as_deref(), Some(customer.id.as_str()));

    let portal = client
        .create_portal_session(
            &CreatePortalSession {
                customer: customer.id.clone(),
                return_url: Some("https://app.example/account".to_owned()),
            },
            &key("portal", "u1"),
        )
        .await?;
    assert!(portal.url.starts_with(&sim.base));

    // Stripe pauses with `pause_collection`; the sim also offers the newer
    // `POST /v1/subscriptions/{id}/pause`, which `resume` undoes.
    let paused = reqwest::Client::new()
        .post(format!(
            "{}/v1/subscriptions/{}/pause",
            sim.base, subscription.id
        ))
        .bearer_auth(crate::support::KEY)
        .form(&[("type", "subscription")])
        .send()
        .await?;
    anyhow::ensure!(paused.status() == 200, "pause: {}", paused.text().await?);
    assert_eq!(
        client.retrieve_subscription(&subscription.id).await?.status,
        "paused"
    );
    let resumed = client
        .resume_subscription(
            &subscription.id,
            &ResumeSubscription::default(),
            &key("resume", "u1"),
        )
        .await?;
    assert_eq!(resumed.status, "active");

    let canceled = client.cancel_subscription(&subscription.id).await?;
    assert_eq!(canceled.status, "canceled");
    assert_eq!(
        client.retrieve_subscription(&subscription.id).await?.status,
        "canceled"
    );
    Ok(())
}

#[tokio::test]
async fn payment_intents_refunds_and_events_round_trip() -> anyhow::Result<()> {
    let sim = TestSim::start().await?;
    let client = sim.client()?;
    let customer = client
        .create_customer(&CustomerParams::default(), &key("customer", "u1"))
        .await?;
    let intent = client
        .create_payment_intent(
            &CreatePaymentIntent {
                amount: 2000,
                currency: "usd".to_owned(),
                customer: Some(customer.id.clone()),
                payment_method: Some("pm_card_visa".to_owned()),
                confirm: Some(true),
                ..Default::default()
            },
            &key("charge", "u1"),
        )
        .await?;
    assert_eq!(intent.status, "succeeded");
    assert_eq!(
        client
            .retrieve_payment_intent(&intent.id)
            .await?
            .amount_received,
        2000
    );

    let refund = client
        .create_refund(
            &CreateRefund {
                payment_intent: intent.id.clone(),
                amount: Some(500),
                ..Default::default()
            },
            &key("refund", &intent.id),
        )
        .await?;
    assert_eq!(refund.amount, 500);
    assert_eq!(refund.payment_intent.as_deref(), Some(intent.id.as_str()));

    let events = client
        .list_all_events(&ListEvents {
            created: Some(Range {
                gte: Some(0),
                ..Default::default()
            }),
            limit: Some(2),
            ..Default::default()
        })
        .await?;
    let total = sim.sim.objects().events.len();
    assert!(total > 2, "enough events to need paging: {total}");
    assert_eq!(events.len(), total, "the pager walks every page once");
    let types: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert!(types.contains(&"customer.created"), "{types:?}");
    assert!(types.contains(&"charge.refunded"), "{types:?}");

    let future = client
        .list_events(&ListEvents {
            created: Some(Range {
                gt: Some(events[0].created + 3600),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
    assert!(future.data.is_empty(), "the created filter is sent");

    let one = client.retrieve_event(&events[0].id).await?;
    assert_eq!(one.kind, events[0].kind);
    assert!(one.data.object.is_object());
    Ok(())
}
