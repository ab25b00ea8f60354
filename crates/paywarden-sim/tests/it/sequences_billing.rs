//! Event sequences of the billing flows, in the order STRIPE_NOTES §5
//! gives: subscription start (§5.2 without Checkout), renewal (§5.5),
//! dunning (§5.6), proration (§5.7), period-end and immediate cancel
//! (§5.8, §5.9), `pause_collection` and `paused` (§5.10), trial notice and
//! end (§5.11). Each test marks the event log before an action and asserts
//! the exact types the action added, oldest first, plus key fields.

use serde_json::Value;

use crate::subscriptions::{id, types, Billing, DAY, T0};

const PAID: [&str; 3] = [
    "payment_intent.created",
    "charge.succeeded",
    "payment_intent.succeeded",
];
const INVOICE_PAID: [&str; 3] = [
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice_payment.paid",
];

fn seq(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn assert_types(events: &[Value], expected: &[String]) {
    assert_eq!(types(events), expected, "event sequence");
}

fn object<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == kind)
        .map_or(&Value::Null, |e| &e["data"]["object"])
}

/// A clock at T0 with a customer paying by `card` (if any) and a 2000/month
/// price; returns (clock, customer, price).
async fn setup(b: &Billing, card: Option<&str>) -> anyhow::Result<(String, String, String)> {
    let clock = b.clock(T0).await?;
    let customer = b.customer(Some(&clock)).await?;
    if let Some(card) = card {
        b.default_card(&customer, card).await?;
    }
    let price = b.price("Pro", 2000, "month").await?;
    Ok((clock, customer, price))
}

#[tokio::test]
async fn subscription_start_paid() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (_, customer, price) = setup(&b, Some("pm_card_visa")).await?;
    let mark = b.mark();
    let sub = b.subscribe(&customer, &price, "").await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[
            &[
                "customer.subscription.created",
                "invoice.created",
                "invoice.finalized",
            ],
            &PAID,
            &INVOICE_PAID,
            &["customer.subscription.updated"],
        ]),
    );
    assert_eq!(
        object(&events, "customer.subscription.created")["status"],
        "incomplete"
    );
    assert_eq!(object(&events, "invoice.created")["status"], "draft");
    assert_eq!(
        object(&events, "invoice.created")["billing_reason"],
        "subscription_create"
    );
    assert_eq!(object(&events, "invoice.finalized")["status"], "open");
    let updated = events.last().map(|e| e["data"].clone()).unwrap_or_default();
    assert_eq!(updated["object"]["status"], "active");
    assert_eq!(updated["previous_attributes"]["status"], "incomplete");
    assert_eq!(
        object(&events, "invoice_payment.paid")["invoice"],
        sub["latest_invoice"]
    );
    assert!(events.iter().all(|e| e["created"] == T0), "clock time");
    Ok(())
}

#[tokio::test]
async fn subscription_start_with_a_trial() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (_, customer, price) = setup(&b, None).await?;
    let mark = b.mark();
    b.subscribe(&customer, &price, "&trial_period_days=30")
        .await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[&[
            "customer.subscription.created",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
        ]]),
    );
    assert_eq!(
        object(&events, "customer.subscription.created")["status"],
        "trialing"
    );
    assert_eq!(object(&events, "invoice.paid")["amount_paid"], 0);
    Ok(())
}

#[tokio::test]
async fn renewal_succeeds() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, price) = setup(&b, Some("pm_card_visa")).await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default();
    let mark = b.mark();
    b.advance(&clock, end + 3600).await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[
            &[
                "test_helpers.test_clock.advancing",
                "invoice.created",
                "customer.subscription.updated",
                "invoice.finalized",
            ],
            &PAID,
            &INVOICE_PAID,
            &["test_helpers.test_clock.ready"],
        ]),
    );
    let created = object(&events, "invoice.created");
    assert_eq!(created["billing_reason"], "subscription_cycle");
    assert_eq!(created["status"], "draft");
    let updated = &events[2]["data"];
    assert_eq!(
        updated["previous_attributes"]["items"]["data"][0]["current_period_end"], end,
        "the old period is in previous_attributes"
    );
    assert_eq!(
        updated["object"]["items"]["data"][0]["current_period_start"],
        end
    );
    assert!(events[1..events.len() - 1]
        .iter()
        .all(|e| e["created"] == end));
    Ok(())
}

#[tokio::test]
async fn renewal_fails_then_dunning_then_cancel() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, price) = setup(&b, Some("pm_card_visa")).await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default();

    let mark = b.mark();
    b.advance(&clock, end + 60).await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[&[
            "test_helpers.test_clock.advancing",
            "invoice.created",
            "customer.subscription.updated",
            "invoice.finalized",
            "payment_intent.created",
            "charge.failed",
            "payment_intent.payment_failed",
            "invoice.payment_failed",
            "customer.subscription.updated",
            "test_helpers.test_clock.ready",
        ]]),
    );
    let failed = object(&events, "invoice.payment_failed");
    assert_eq!(failed["attempt_count"], 1);
    assert_eq!(failed["next_payment_attempt"], end + 3 * DAY);
    assert_eq!(events[8]["data"]["object"]["status"], "past_due");
    assert_eq!(events[8]["data"]["previous_attributes"]["status"], "active");

    let mark = b.mark();
    b.advance(&clock, end + 3 * DAY + 60).await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[&[
            "test_helpers.test_clock.advancing",
            "charge.failed",
            "payment_intent.payment_failed",
            "invoice.payment_failed",
            "invoice.updated",
            "test_helpers.test_clock.ready",
        ]]),
    );
    assert_eq!(
        object(&events, "invoice.payment_failed")["attempt_count"],
        2
    );
    assert_eq!(events[1]["created"], end + 3 * DAY);

    let mark = b.mark();
    b.advance(&clock, end + 20 * DAY).await?;
    let events = b.since(mark);
    let last: Vec<&str> = types(&events).into_iter().rev().take(3).collect();
    assert_eq!(
        last,
        [
            "test_helpers.test_clock.ready",
            "customer.subscription.deleted",
            "invoice.updated"
        ]
    );
    let deleted = object(&events, "customer.subscription.deleted");
    assert_eq!(deleted["cancellation_details"]["reason"], "payment_failed");
    Ok(())
}

#[tokio::test]
async fn paying_a_past_due_invoice_reactivates() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, price) = setup(&b, Some("pm_card_visa")).await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default();
    b.advance(&clock, end + 60).await?;
    let invoice = b.subscription(&id(&sub)).await?["latest_invoice"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mark = b.mark();
    b.default_card(&customer, "pm_card_visa").await?;
    b.ok_post(&format!("/v1/invoices/{invoice}/pay"), "")
        .await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[
            &["payment_method.attached", "customer.updated"],
            &["charge.succeeded", "payment_intent.succeeded"],
            &INVOICE_PAID,
            &["customer.subscription.updated"],
        ]),
    );
    let updated = &events[events.len() - 1]["data"];
    assert_eq!(updated["object"]["status"], "active");
    assert_eq!(updated["previous_attributes"]["status"], "past_due");
    Ok(())
}

#[tokio::test]
async fn plan_change_with_proration() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (_, customer, price) = setup(&b, Some("pm_card_visa")).await?;
    let bigger = b.price("Team", 4000, "month").await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    let item = id(&sub["items"]["data"][0]);
    let path = format!("/v1/subscriptions/{}", id(&sub));

    let mark = b.mark();
    b.ok_post(
        &path,
        &format!("items[0][id]={item}&items[0][price]={bigger}"),
    )
    .await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[&[
            "customer.subscription.updated",
            "invoiceitem.created",
            "invoiceitem.created",
        ]]),
    );
    assert_eq!(
        events[0]["data"]["previous_attributes"]["items"]["data"][0]["price"]["id"],
        price.as_str()
    );

    let mark = b.mark();
    b.ok_post(
        &path,
        &format!("items[0][id]={item}&items[0][price]={price}&proration_behavior=none"),
    )
    .await?;
    assert_types(&b.since(mark), &seq(&[&["customer.subscription.updated"]]));

    let mark = b.mark();
    b.ok_post(
        &path,
        &format!("items[0][id]={item}&items[0][price]={bigger}&proration_behavior=always_invoice"),
    )
    .await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[
            &[
                "customer.subscription.updated",
                "invoiceitem.created",
                "invoiceitem.created",
                "invoice.created",
                "invoice.finalized",
            ],
            &PAID,
            &INVOICE_PAID,
        ]),
    );
    assert_eq!(
        object(&events, "invoice.created")["billing_reason"],
        "subscription_update"
    );
    Ok(())
}

#[tokio::test]
async fn cancel_at_period_end_then_immediate_cancel() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, price) = setup(&b, Some("pm_card_visa")).await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    let path = format!("/v1/subscriptions/{}", id(&sub));
    let mark = b.mark();
    b.ok_post(&path, "cancel_at_period_end=true").await?;
    let events = b.since(mark);
    assert_types(&events, &seq(&[&["customer.subscription.updated"]]));
    assert_eq!(
        events[0]["data"]["previous_attributes"]["cancel_at_period_end"],
        false
    );
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default();
    let mark = b.mark();
    b.advance(&clock, end + 60).await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[&[
            "test_helpers.test_clock.advancing",
            "customer.subscription.deleted",
            "test_helpers.test_clock.ready",
        ]]),
    );
    assert_eq!(events[1]["created"], end);
    assert_eq!(
        events[1]["data"]["object"]["cancellation_details"]["reason"],
        "cancellation_requested"
    );

    let other = b.subscribe(&customer, &price, "").await?;
    let mark = b.mark();
    b.send(
        reqwest::Method::DELETE,
        &format!("/v1/subscriptions/{}", id(&other)),
        "",
    )
    .await?;
    let events = b.since(mark);
    assert_types(&events, &seq(&[&["customer.subscription.deleted"]]));
    assert_eq!(events[0]["data"]["object"]["status"], "canceled");
    Ok(())
}

#[tokio::test]
async fn pause_collection_and_paused_status() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, price) = setup(&b, None).await?;
    let sub = b
        .subscribe(
            &customer,
            &price,
            "&trial_period_days=3&trial_settings[end_behavior][missing_payment_method]=pause",
        )
        .await?;
    let mark = b.mark();
    b.advance(&clock, T0 + 3 * DAY + 60).await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[&[
            "test_helpers.test_clock.advancing",
            "customer.subscription.paused",
            "customer.subscription.updated",
            "test_helpers.test_clock.ready",
        ]]),
    );
    assert_eq!(
        events[2]["data"]["previous_attributes"]["status"],
        "trialing"
    );

    b.default_card(&customer, "pm_card_visa").await?;
    let mark = b.mark();
    b.ok_post(&format!("/v1/subscriptions/{}/resume", id(&sub)), "")
        .await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[
            &[
                "customer.subscription.resumed",
                "customer.subscription.updated",
                "invoice.created",
                "invoice.finalized",
            ],
            &PAID,
            &INVOICE_PAID,
        ]),
    );

    let mark = b.mark();
    b.ok_post(
        &format!("/v1/subscriptions/{}", id(&sub)),
        "pause_collection[behavior]=mark_uncollectible",
    )
    .await?;
    let events = b.since(mark);
    assert_types(&events, &seq(&[&["customer.subscription.updated"]]));
    assert!(events[0]["data"]["previous_attributes"]["pause_collection"].is_null());
    let end = b.subscription(&id(&sub)).await?["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default();
    let mark = b.mark();
    b.advance(&clock, end + 60).await?;
    assert_types(
        &b.since(mark),
        &seq(&[&[
            "test_helpers.test_clock.advancing",
            "invoice.created",
            "customer.subscription.updated",
            "invoice.finalized",
            "invoice.marked_uncollectible",
            "test_helpers.test_clock.ready",
        ]]),
    );
    Ok(())
}

#[tokio::test]
async fn trial_will_end_then_trial_end() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, price) = setup(&b, Some("pm_card_visa")).await?;
    b.subscribe(&customer, &price, "&trial_period_days=10")
        .await?;
    let mark = b.mark();
    b.advance(&clock, T0 + 10 * DAY + 60).await?;
    let events = b.since(mark);
    assert_types(
        &events,
        &seq(&[
            &[
                "test_helpers.test_clock.advancing",
                "customer.subscription.trial_will_end",
                "invoice.created",
                "customer.subscription.updated",
                "invoice.finalized",
            ],
            &PAID,
            &INVOICE_PAID,
            &["test_helpers.test_clock.ready"],
        ]),
    );
    assert_eq!(events[1]["created"], T0 + 7 * DAY);
    assert_eq!(events[2]["created"], T0 + 10 * DAY);
    assert_eq!(
        object(&events, "invoice.created")["billing_reason"],
        "subscription_cycle"
    );
    assert_eq!(
        events[3]["data"]["previous_attributes"]["status"],
        "trialing"
    );

    // Ending a trial early (trial_end=now) sends the notice at once.
    let sub = b
        .subscribe(&customer, &price, "&trial_period_days=30")
        .await?;
    let mark = b.mark();
    b.ok_post(&format!("/v1/subscriptions/{}", id(&sub)), "trial_end=now")
        .await?;
    let events = b.since(mark);
    assert_eq!(
        types(&events).first().copied(),
        Some("customer.subscription.trial_will_end")
    );
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "active");
    Ok(())
}
