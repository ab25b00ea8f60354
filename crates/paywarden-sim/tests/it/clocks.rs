//! Test clocks and everything time moves: renewals, dunning (past_due,
//! retries, then cancel / unpaid), paying later, trials (notice, end, no
//! payment method), period-end cancellation and `pause_collection`.

use paywarden_sim::billing::{AfterRetries, BillingSettings};
use paywarden_sim::state::Settings;
use reqwest::Method;
use serde_json::Value;

use crate::subscriptions::{id, types, Billing, DAY, T0};
use crate::support::error_of;

fn end_of(sub: &Value) -> i64 {
    sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default()
}

/// A clock at `T0`, a customer on it paying with `card`, and a monthly
/// subscription to a 2000 price created with `extra`.
async fn subscribed(
    b: &Billing,
    card: Option<&str>,
    extra: &str,
) -> anyhow::Result<(String, String, Value)> {
    let clock = b.clock(T0).await?;
    let customer = b.customer(Some(&clock)).await?;
    if let Some(card) = card {
        b.default_card(&customer, card).await?;
    }
    let price = b.price("Pro", 2000, "month").await?;
    let sub = b.subscribe(&customer, &price, extra).await?;
    Ok((clock, customer, sub))
}

#[tokio::test]
async fn clock_lifecycle() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let clock = b
        .ok_post(
            "/v1/test_helpers/test_clocks",
            &format!("frozen_time={T0}&name=Monthly"),
        )
        .await?;
    let clock_id = id(&clock);
    assert!(clock_id.starts_with("clock_"));
    assert_eq!(clock["object"], "test_helpers.test_clock");
    assert_eq!(clock["frozen_time"], T0);
    assert_eq!(clock["status"], "ready");
    assert_eq!(clock["name"], "Monthly");
    assert_eq!(clock["livemode"], false);
    let list = b.ok_get("/v1/test_helpers/test_clocks").await?;
    assert_eq!(list["data"][0]["id"], clock_id.as_str());

    let (status, error) = error_of(
        b.post(
            &format!("/v1/test_helpers/test_clocks/{clock_id}/advance"),
            &format!("frozen_time={}", T0 - 1),
        )
        .await?,
    )
    .await?;
    assert_eq!(
        (status, error["param"].as_str()),
        (400, Some("frozen_time"))
    );
    let (status, error) = error_of(b.post("/v1/test_helpers/test_clocks", "name=x").await?).await?;
    assert_eq!(
        (status, error["param"].as_str()),
        (400, Some("frozen_time"))
    );

    let customer = b.customer(Some(&clock_id)).await?;
    let answer = b
        .ok_post(
            &format!("/v1/test_helpers/test_clocks/{clock_id}/advance"),
            &format!("frozen_time={}", T0 + DAY),
        )
        .await?;
    assert_eq!(answer["status"], "advancing");
    assert_eq!(
        answer["status_details"]["advancing"]["target_frozen_time"],
        T0 + DAY
    );
    let ready = b
        .ok_get(&format!("/v1/test_helpers/test_clocks/{clock_id}"))
        .await?;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["frozen_time"], T0 + DAY);

    let clock_events: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("test_helpers"))
        })
        .collect();
    assert_eq!(
        types(&clock_events),
        [
            "test_helpers.test_clock.created",
            "test_helpers.test_clock.advancing",
            "test_helpers.test_clock.ready"
        ]
    );
    assert_eq!(clock_events[2]["created"], T0 + DAY, "clock time");

    let deleted = b
        .ok(
            Method::DELETE,
            &format!("/v1/test_helpers/test_clocks/{clock_id}"),
            "",
        )
        .await?;
    assert_eq!(deleted["deleted"], true);
    let gone = b.ok_get(&format!("/v1/customers/{customer}")).await?;
    assert_eq!(gone["deleted"], true, "the clock's customers go with it");
    let (status, _) = error_of(
        b.send(
            Method::GET,
            &format!("/v1/test_helpers/test_clocks/{clock_id}"),
            "",
        )
        .await?,
    )
    .await?;
    assert_eq!(status, 404);
    assert_eq!(
        b.events().last().map(|e| e["type"].clone()),
        Some("test_helpers.test_clock.deleted".into())
    );
    Ok(())
}

#[tokio::test]
async fn renewal_on_the_clock_is_invoiced_and_paid() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, _, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    assert_eq!(sub["start_date"], T0, "objects on a clock use its time");
    let end = end_of(&sub);
    assert_eq!(end, T0 + 31 * DAY, "2026-01-15 → 2026-02-15");
    b.advance(&clock, end + 3600).await?;
    let renewed = b.subscription(&id(&sub)).await?;
    assert_eq!(renewed["status"], "active");
    assert_eq!(renewed["items"]["data"][0]["current_period_start"], end);
    assert_eq!(end_of(&renewed), end + 28 * DAY, "2026-03-15");
    let invoices = b.invoices_of(&id(&sub)).await?;
    assert_eq!(invoices.len(), 2);
    let cycle = &invoices[1];
    assert_eq!(cycle["billing_reason"], "subscription_cycle");
    assert_eq!(cycle["status"], "paid");
    assert_eq!(cycle["amount_paid"], 2000);
    assert_eq!(cycle["created"], end);
    assert_eq!(cycle["lines"]["data"][0]["period"]["start"], end);
    assert_eq!(cycle["lines"]["data"][0]["period"]["end"], end_of(&renewed));
    assert_eq!(renewed["latest_invoice"], cycle["id"]);

    // Two more periods in one advance: each renews at its own time.
    b.advance(&clock, end + 60 * DAY).await?;
    let invoices = b.invoices_of(&id(&sub)).await?;
    assert_eq!(invoices.len(), 4);
    assert!(invoices.iter().all(|i| i["status"] == "paid"));
    assert!(invoices[2]["created"].as_i64() < invoices[3]["created"].as_i64());
    Ok(())
}

#[tokio::test]
async fn failed_renewal_retries_then_cancels() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    let end = end_of(&sub);
    b.advance(&clock, end + 60).await?;
    let past_due = b.subscription(&id(&sub)).await?;
    assert_eq!(past_due["status"], "past_due");
    let invoice = b
        .invoice(past_due["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["attempt_count"], 1);
    assert_eq!(invoice["next_payment_attempt"], end + 3 * DAY);
    let intents: Vec<Value> = invoice["payments"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(intents.len(), 1);

    b.advance(&clock, end + 3 * DAY + 60).await?;
    let invoice = b.invoice(&id(&invoice)).await?;
    assert_eq!(invoice["attempt_count"], 2);
    assert_eq!(invoice["next_payment_attempt"], end + 8 * DAY);
    assert_eq!(
        invoice["payments"]["data"].as_array().map(Vec::len),
        Some(1),
        "retries reuse the payment intent"
    );
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "past_due");

    b.advance(&clock, end + 15 * DAY + 60).await?;
    let invoice = b.invoice(&id(&invoice)).await?;
    assert_eq!(invoice["attempt_count"], 4);
    assert!(invoice["next_payment_attempt"].is_null());
    let canceled = b.subscription(&id(&sub)).await?;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["cancellation_details"]["reason"], "payment_failed");
    assert_eq!(canceled["ended_at"], end + 15 * DAY);
    Ok(())
}

#[tokio::test]
async fn exhausted_retries_can_mark_unpaid_and_paying_reactivates() -> anyhow::Result<()> {
    let settings = Settings {
        billing: BillingSettings {
            retry_days: vec![1],
            after_retries: AfterRetries::MarkUnpaid,
            ..BillingSettings::default()
        },
        ..Settings::default()
    };
    let b = Billing::with_settings(settings).await?;
    let (clock, customer, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    let end = end_of(&sub);
    b.advance(&clock, end + 2 * DAY).await?;
    let unpaid = b.subscription(&id(&sub)).await?;
    assert_eq!(unpaid["status"], "unpaid");
    let invoice = unpaid["latest_invoice"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // The customer fixes the card; paying the invoice reactivates.
    let (status, error) =
        error_of(b.post(&format!("/v1/invoices/{invoice}/pay"), "").await?).await?;
    assert_eq!((status, error["type"].as_str()), (402, Some("card_error")));
    b.default_card(&customer, "pm_card_visa").await?;
    let paid = b
        .ok_post(&format!("/v1/invoices/{invoice}/pay"), "")
        .await?;
    assert_eq!(paid["status"], "paid");
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "active");
    Ok(())
}

#[tokio::test]
async fn leave_past_due_keeps_the_status() -> anyhow::Result<()> {
    let settings = Settings {
        billing: BillingSettings {
            retry_days: vec![],
            after_retries: AfterRetries::LeavePastDue,
            ..BillingSettings::default()
        },
        ..Settings::default()
    };
    let b = Billing::with_settings(settings).await?;
    let (clock, customer, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    b.advance(&clock, end_of(&sub) + 10 * DAY).await?;
    let sub = b.subscription(&id(&sub)).await?;
    assert_eq!(sub["status"], "past_due");
    let invoice = b
        .invoice(sub["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["attempt_count"], 1);
    assert!(invoice["next_payment_attempt"].is_null());
    Ok(())
}

#[tokio::test]
async fn trial_will_end_three_days_before_then_the_trial_ends() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, _, sub) = subscribed(&b, Some("pm_card_visa"), "&trial_period_days=7").await?;
    let notices = |b: &Billing| -> Vec<Value> {
        b.events()
            .into_iter()
            .filter(|e| e["type"] == "customer.subscription.trial_will_end")
            .collect()
    };
    b.advance(&clock, T0 + 3 * DAY).await?;
    assert!(notices(&b).is_empty());
    b.advance(&clock, T0 + 5 * DAY).await?;
    let sent = notices(&b);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["created"], T0 + 4 * DAY);
    b.advance(&clock, T0 + 7 * DAY + 60).await?;
    assert_eq!(notices(&b).len(), 1, "sent once");
    let active = b.subscription(&id(&sub)).await?;
    assert_eq!(active["status"], "active");
    assert_eq!(
        active["items"]["data"][0]["current_period_start"],
        T0 + 7 * DAY
    );
    let invoices = b.invoices_of(&id(&sub)).await?;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1]["billing_reason"], "subscription_cycle");
    assert_eq!(invoices[1]["status"], "paid");
    assert_eq!(invoices[1]["amount_paid"], 2000);

    // A trial shorter than the notice period gets it at once.
    let (_, _, short) = subscribed(&b, Some("pm_card_visa"), "&trial_period_days=2").await?;
    assert!(notices(&b)
        .iter()
        .any(|e| e["data"]["object"]["id"] == short["id"] && e["created"] == T0));
    Ok(())
}

#[tokio::test]
async fn trial_end_without_a_payment_method() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let pause = "&trial_period_days=3&trial_settings[end_behavior][missing_payment_method]=pause";
    let (clock, customer, paused) = subscribed(&b, None, pause).await?;
    b.advance(&clock, T0 + 3 * DAY + 60).await?;
    let state = b.subscription(&id(&paused)).await?;
    assert_eq!(state["status"], "paused");
    assert_eq!(b.invoices_of(&id(&paused)).await?.len(), 1, "no invoice");

    b.default_card(&customer, "pm_card_visa").await?;
    let resumed = b
        .ok_post(&format!("/v1/subscriptions/{}/resume", id(&paused)), "")
        .await?;
    assert_eq!(resumed["status"], "active");
    let invoices = b.invoices_of(&id(&paused)).await?;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1]["status"], "paid");

    let cancel = "&trial_period_days=3&trial_settings[end_behavior][missing_payment_method]=cancel";
    let (clock, _, canceled) = subscribed(&b, None, cancel).await?;
    b.advance(&clock, T0 + 4 * DAY).await?;
    assert_eq!(b.subscription(&id(&canceled)).await?["status"], "canceled");

    let (clock, _, invoiced) = subscribed(&b, None, "&trial_period_days=3").await?;
    b.advance(&clock, T0 + 4 * DAY).await?;
    assert_eq!(
        b.subscription(&id(&invoiced)).await?["status"],
        "past_due",
        "create_invoice leaves an unpaid invoice"
    );
    Ok(())
}

#[tokio::test]
async fn cancel_at_period_end_takes_effect_without_an_invoice() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, _, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    b.ok_post(
        &format!("/v1/subscriptions/{}", id(&sub)),
        "cancel_at_period_end=true",
    )
    .await?;
    let end = end_of(&sub);
    b.advance(&clock, end - 60).await?;
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "active");
    b.advance(&clock, end + 60).await?;
    let ended = b.subscription(&id(&sub)).await?;
    assert_eq!(ended["status"], "canceled");
    assert_eq!(ended["ended_at"], end);
    assert_eq!(ended["canceled_at"], T0, "when it was requested");
    assert_eq!(b.invoices_of(&id(&sub)).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn pause_collection_holds_renewal_invoices() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, _, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    let path = format!("/v1/subscriptions/{}", id(&sub));
    b.ok_post(&path, "pause_collection[behavior]=keep_as_draft")
        .await?;
    let end = end_of(&sub);
    b.advance(&clock, end + 60).await?;
    let invoices = b.invoices_of(&id(&sub)).await?;
    assert_eq!(invoices[1]["status"], "draft");
    assert_eq!(invoices[1]["auto_advance"], false);
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "active");

    b.ok_post(&path, "pause_collection[behavior]=void").await?;
    b.advance(&clock, end + 29 * DAY).await?;
    let invoices = b.invoices_of(&id(&sub)).await?;
    assert_eq!(invoices.len(), 3);
    assert_eq!(invoices[2]["status"], "void");
    Ok(())
}

#[tokio::test]
async fn prorations_are_billed_on_the_next_renewal() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, _, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    let bigger = b.price("Team", 4000, "month").await?;
    b.advance(&clock, T0 + 10 * DAY).await?;
    let item = id(&sub["items"]["data"][0]);
    b.ok_post(
        &format!("/v1/subscriptions/{}", id(&sub)),
        &format!("items[0][id]={item}&items[0][price]={bigger}"),
    )
    .await?;
    b.advance(&clock, end_of(&sub) + 60).await?;
    let invoices = b.invoices_of(&id(&sub)).await?;
    let renewal = &invoices[1];
    let lines = renewal["lines"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(lines.len(), 3, "the new period and two prorations");
    let prorations = lines
        .iter()
        .filter(|l| l["parent"]["subscription_item_details"]["proration"] == true)
        .count();
    assert_eq!(prorations, 2);
    // 21 of 31 days: -2000·21/31 + 4000·21/31 = 1354 (whole days).
    assert_eq!(renewal["amount_due"], 4000 - 1354 + 2709);
    assert_eq!(renewal["status"], "paid");
    Ok(())
}

#[tokio::test]
async fn incomplete_subscriptions_expire_after_23_hours() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, _, sub) = subscribed(&b, None, "").await?;
    assert_eq!(sub["status"], "incomplete");
    b.advance(&clock, T0 + 22 * 3600).await?;
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "incomplete");
    let mark = b.mark();
    b.advance(&clock, T0 + 24 * 3600).await?;
    let expired = b.subscription(&id(&sub)).await?;
    assert_eq!(expired["status"], "incomplete_expired");
    assert_eq!(expired["ended_at"], T0 + 23 * 3600);
    let invoice = b
        .invoice(expired["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["status"], "void");
    assert_eq!(
        types(&b.since(mark)),
        [
            "test_helpers.test_clock.advancing",
            "invoice.voided",
            "customer.subscription.deleted",
            "test_helpers.test_clock.ready"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn subscriptions_on_no_clock_follow_the_sims_time() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;
    b.default_card(&customer, "pm_card_visa").await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    let end = end_of(&sub);
    {
        // What `POST /_sim/clock/advance` and the ticker do.
        let mut objects = b.sim.objects();
        objects.time_offset += 32 * DAY;
        let now = objects.now();
        paywarden_sim::time::run_due(&mut objects, None, now);
    }
    let renewed = b.subscription(&id(&sub)).await?;
    assert_eq!(renewed["items"]["data"][0]["current_period_start"], end);
    let invoices = b.invoices_of(&id(&sub)).await?;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1]["status"], "paid");
    assert_eq!(
        invoices[1]["created"], end,
        "at the period end, not when noticed"
    );
    Ok(())
}

#[tokio::test]
async fn a_retry_after_the_card_is_fixed_reactivates() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let (clock, customer, sub) = subscribed(&b, Some("pm_card_visa"), "").await?;
    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    let end = end_of(&sub);
    b.advance(&clock, end + 60).await?;
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "past_due");
    b.default_card(&customer, "pm_card_visa").await?;
    b.advance(&clock, end + 3 * DAY + 60).await?;
    let active = b.subscription(&id(&sub)).await?;
    assert_eq!(active["status"], "active");
    let invoice = b
        .invoice(active["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["attempt_count"], 2);
    assert_eq!(invoice["status_transitions"]["paid_at"], end + 3 * DAY);
    Ok(())
}

/// A subscription Checkout starts follows the sim's dunning settings, as
/// one created through the API does.
#[tokio::test]
async fn checkout_subscriptions_follow_the_sims_dunning_settings() -> anyhow::Result<()> {
    let settings = Settings {
        billing: BillingSettings {
            retry_days: vec![],
            after_retries: AfterRetries::MarkUnpaid,
            ..BillingSettings::default()
        },
        ..Settings::default()
    };
    let b = Billing::with_settings(settings).await?;
    let clock = b.clock(T0).await?;
    let customer = b.customer(Some(&clock)).await?;
    let price = b.price("Pro", 2000, "month").await?;
    let session = b
        .ok_post(
            "/v1/checkout/sessions",
            &format!(
                "mode=subscription&customer={customer}&line_items[0][price]={price}\
                 &line_items[0][quantity]=1&success_url=https%3A%2F%2Fa.example%2Fok"
            ),
        )
        .await?;
    let page = b
        .client
        .post(format!("{}/checkout/{}", b.base, id(&session)))
        .form(&[
            ("email", "dunning@example.com"),
            ("name", "Dunning"),
            ("card_number", "4242 4242 4242 4242"),
            ("exp", "12/40"),
            ("cvc", "123"),
        ])
        .send()
        .await?;
    assert_eq!(page.status(), 303, "the hosted page completes the session");
    let completed = b
        .ok_get(&format!("/v1/checkout/sessions/{}", id(&session)))
        .await?;
    let sub = completed["subscription"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = b.subscription(&sub).await?;
    assert_eq!(started["status"], "active");

    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    b.ok_post(
        &format!("/v1/subscriptions/{sub}"),
        "default_payment_method=",
    )
    .await?;
    b.advance(&clock, end_of(&started) + DAY).await?;
    assert_eq!(
        b.subscription(&sub).await?["status"],
        "unpaid",
        "no retries, then unpaid, as the sim is configured"
    );
    Ok(())
}
