//! Event sequences of the payment flows, in the order STRIPE_NOTES §5
//! gives: one-time Checkout (§5.1), Checkout expiry (§5.4), refunds
//! (§5.12), disputes (§5.13) and payment method attach/detach (§5.14).
//!
//! Each test lists `/v1/events` (oldest first) before and after an action
//! and asserts the exact types (and key fields) of the events the action
//! added.

use paywarden_sim::Sim;
use serde_json::Value;

use crate::support::KEY;

/// A sim on port 0 (kept at hand for driving time directly).
struct Harness {
    base: String,
    client: reqwest::Client,
    sim: Sim,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Harness {
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sim = Sim::new();
        tokio::spawn(paywarden_sim::serve(listener, sim.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            sim,
            _stop: stop,
        })
    }

    async fn post(&self, path: &str, body: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await?)
    }

    async fn ok_post(&self, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self.post(path, body).await?;
        anyhow::ensure!(
            response.status() == 200,
            "POST {path}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }

    /// Every event so far, oldest first, as `GET /v1/events` lists them
    /// (newest first, paged with `starting_after`).
    async fn events(&self) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = "/v1/events?limit=100".to_owned();
            if let Some(last) = &after {
                path.push_str(&format!("&starting_after={last}"));
            }
            let response = self
                .client
                .get(format!("{}{path}", self.base))
                .bearer_auth(KEY)
                .header("stripe-version", "2026-03-25.dahlia")
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 200,
                "GET {path}: {}",
                response.status()
            );
            let page: Value = response.json().await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data.last().map(id);
            all.extend(data);
            if page["has_more"] != true || after.is_none() {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }

    async fn mark(&self) -> anyhow::Result<usize> {
        Ok(self.events().await?.len())
    }

    /// The events recorded since `mark`, oldest first.
    async fn since(&self, mark: usize) -> anyhow::Result<Vec<Value>> {
        Ok(self.events().await?.into_iter().skip(mark).collect())
    }

    /// Completes session `cs` on the hosted page with `card`.
    async fn pay_page(&self, cs: &str, card: &str) -> anyhow::Result<u16> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("email", "seq@example.com"),
                ("name", "Seq"),
                ("card_number", card),
                ("exp", "12/40"),
                ("cvc", "123"),
            ])
            .finish();
        let response = self
            .client
            .post(format!("{}/checkout/{cs}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    async fn payment_session(&self, extra: &str) -> anyhow::Result<String> {
        let session = self
            .ok_post(
                "/v1/checkout/sessions",
                &format!("mode=payment&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1500&line_items[0][price_data][product_data][name]=Book&line_items[0][quantity]=1&success_url=https%3A%2F%2Fa.example%2Fok{extra}"),
            )
            .await?;
        Ok(id(&session))
    }
}

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_owned()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect()
}

fn object<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == kind)
        .map_or(&Value::Null, |e| &e["data"]["object"])
}

#[tokio::test]
async fn one_time_checkout_payment() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let cs = h.payment_session("&customer_creation=always").await?;
    assert!(
        h.since(0).await?.is_empty(),
        "creating a session emits nothing"
    );
    assert_eq!(h.pay_page(&cs, "4242424242424242").await?, 303);
    let events = h.since(0).await?;
    assert_eq!(
        types(&events),
        [
            "customer.created",
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.completed",
        ]
    );
    let completed = object(&events, "checkout.session.completed");
    assert_eq!(completed["id"], cs.as_str());
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(
        completed["payment_intent"],
        object(&events, "payment_intent.succeeded")["id"]
    );
    assert_eq!(
        completed["customer"],
        object(&events, "customer.created")["id"]
    );
    assert!(
        events.iter().all(|e| e["request"]["id"].is_null()),
        "hosted-page changes are not API requests"
    );
    Ok(())
}

#[tokio::test]
async fn one_time_checkout_declined_then_paid() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let cs = h.payment_session("").await?;
    assert_eq!(h.pay_page(&cs, "4000000000000002").await?, 402);
    assert_eq!(h.pay_page(&cs, "4242424242424242").await?, 303);
    let events = h.since(0).await?;
    assert_eq!(
        types(&events),
        [
            "payment_intent.created",
            "charge.failed",
            "payment_intent.payment_failed",
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.completed",
        ]
    );
    let failed = object(&events, "payment_intent.payment_failed");
    assert_eq!(
        failed["last_payment_error"]["decline_code"],
        "generic_decline"
    );
    assert_eq!(
        failed["id"],
        object(&events, "payment_intent.succeeded")["id"],
        "the retry reuses the intent"
    );
    Ok(())
}

#[tokio::test]
async fn checkout_expiry() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let cs = h.payment_session("").await?;
    let mark = h.mark().await?;
    let expired = h
        .ok_post(&format!("/v1/checkout/sessions/{cs}/expire"), "")
        .await?;
    assert_eq!(expired["status"], "expired");
    let events = h.since(mark).await?;
    assert_eq!(types(&events), ["checkout.session.expired"]);
    assert!(object(&events, "checkout.session.expired")["url"].is_null());

    // After a failed attempt the session's intent is canceled too.
    let cs = h.payment_session("").await?;
    assert_eq!(h.pay_page(&cs, "4000000000000002").await?, 402);
    let mark = h.mark().await?;
    h.ok_post(&format!("/v1/checkout/sessions/{cs}/expire"), "")
        .await?;
    let events = h.since(mark).await?;
    assert_eq!(
        types(&events),
        ["checkout.session.expired", "payment_intent.canceled"]
    );

    // expires_at passing expires the session by itself, stamped with that time.
    let cs = h.payment_session("").await?;
    let expires_at = {
        let objects = h.sim.objects();
        objects
            .checkout_sessions
            .get(&cs)
            .and_then(|s| s["expires_at"].as_i64())
            .unwrap_or(0)
    };
    let mark = h.mark().await?;
    paywarden_sim::time::run_due(&mut h.sim.objects(), None, expires_at - 1);
    assert!(h.since(mark).await?.is_empty(), "not yet due");
    paywarden_sim::time::run_due(&mut h.sim.objects(), None, expires_at);
    let events = h.since(mark).await?;
    assert_eq!(types(&events), ["checkout.session.expired"]);
    assert_eq!(events[0]["created"], expires_at);
    assert_eq!(events[0]["data"]["object"]["id"], cs.as_str());
    Ok(())
}

#[tokio::test]
async fn refund() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let intent = h
        .ok_post(
            "/v1/payment_intents",
            "amount=3000&currency=usd&payment_method=pm_card_visa&confirm=true",
        )
        .await?;
    assert_eq!(
        types(&h.since(0).await?),
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded"
        ]
    );
    let mark = h.mark().await?;
    h.ok_post(
        "/v1/refunds",
        &format!("payment_intent={}&amount=1000", id(&intent)),
    )
    .await?;
    let events = h.since(mark).await?;
    assert_eq!(types(&events), ["refund.created", "charge.refunded"]);
    let refunded = &events[1]["data"];
    assert_eq!(refunded["object"]["amount_refunded"], 1000);
    assert_eq!(refunded["object"]["refunded"], false);
    assert_eq!(refunded["previous_attributes"]["amount_refunded"], 0);
    assert!(events.iter().all(|e| e["request"]["id"]
        .as_str()
        .is_some_and(|r| r.starts_with("req_"))));

    let mark = h.mark().await?;
    h.ok_post("/v1/refunds", &format!("payment_intent={}", id(&intent)))
        .await?;
    let events = h.since(mark).await?;
    assert_eq!(types(&events), ["refund.created", "charge.refunded"]);
    assert_eq!(events[1]["data"]["object"]["refunded"], true);
    assert_eq!(events[1]["data"]["previous_attributes"]["refunded"], false);
    Ok(())
}

#[tokio::test]
async fn dispute() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    h.ok_post(
        "/v1/payment_intents",
        "amount=4200&currency=usd&payment_method=pm_card_createDispute&confirm=true",
    )
    .await?;
    let events = h.since(0).await?;
    assert_eq!(
        types(&events),
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "charge.dispute.created",
        ]
    );
    let dispute = object(&events, "charge.dispute.created");
    assert_eq!(dispute["status"], "needs_response");
    assert_eq!(dispute["reason"], "fraudulent");
    assert_eq!(dispute["charge"], object(&events, "charge.succeeded")["id"]);

    let mark = h.mark().await?;
    h.ok_post(&format!("/v1/disputes/{}/close", id(dispute)), "")
        .await?;
    let events = h.since(mark).await?;
    assert_eq!(types(&events), ["charge.dispute.closed"]);
    assert_eq!(events[0]["data"]["object"]["status"], "lost");
    Ok(())
}

#[tokio::test]
async fn payment_method_attach_detach() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let customer = id(&h.ok_post("/v1/customers", "email=pm%40example.com").await?);
    let mark = h.mark().await?;
    let pm = id(&h
        .ok_post(
            "/v1/payment_methods/pm_card_visa/attach",
            &format!("customer={customer}"),
        )
        .await?);
    h.ok_post(
        &format!("/v1/customers/{customer}"),
        &format!("invoice_settings[default_payment_method]={pm}"),
    )
    .await?;
    h.ok_post(&format!("/v1/payment_methods/{pm}/detach"), "")
        .await?;
    let events = h.since(mark).await?;
    assert_eq!(
        types(&events),
        [
            "payment_method.attached",
            "customer.updated",
            "payment_method.detached",
            "customer.updated",
        ]
    );
    assert_eq!(events[0]["data"]["object"]["customer"], customer.as_str());
    assert_eq!(events[2]["data"]["object"]["customer"], Value::Null);
    assert_eq!(
        events[2]["data"]["previous_attributes"]["customer"],
        customer.as_str()
    );
    assert_eq!(
        events[1]["data"]["object"]["invoice_settings"]["default_payment_method"],
        pm.as_str()
    );
    assert_eq!(
        events[3]["data"]["object"]["invoice_settings"]["default_payment_method"],
        Value::Null
    );
    Ok(())
}

/// A subscription-mode session for a 9.00 USD monthly price.
async fn subscription_session(h: &Harness, extra: &str) -> anyhow::Result<String> {
    let product = h.ok_post("/v1/products", "name=Team").await?;
    let price = h
        .ok_post(
            "/v1/prices",
            &format!(
                "product={}&unit_amount=900&currency=usd&recurring[interval]=month",
                id(&product)
            ),
        )
        .await?;
    let session = h
        .ok_post(
            "/v1/checkout/sessions",
            &format!("mode=subscription&line_items[0][price]={}&line_items[0][quantity]=1&success_url=https%3A%2F%2Fa.example%2Fok{extra}", id(&price)),
        )
        .await?;
    Ok(id(&session))
}

/// The §5.2 types, in the order STRIPE_NOTES gives them.
const SUBSCRIPTION_CHECKOUT: &[&str] = &[
    "customer.created",
    "payment_method.attached",
    "customer.updated",
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    "payment_intent.created",
    "charge.succeeded",
    "payment_intent.succeeded",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice_payment.paid",
    "customer.subscription.updated",
    "checkout.session.completed",
];

#[tokio::test]
async fn subscription_checkout() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let cs = subscription_session(&h, "&subscription_data[metadata][team]=7").await?;
    let mark = h.mark().await?;
    assert_eq!(h.pay_page(&cs, "4242424242424242").await?, 303);
    let events = h.since(mark).await?;
    let listed: Vec<&str> = types(&events)
        .into_iter()
        .filter(|t| SUBSCRIPTION_CHECKOUT.contains(t))
        .collect();
    assert_eq!(listed, SUBSCRIPTION_CHECKOUT, "all: {:?}", types(&events));
    assert_eq!(
        types(&events).last().copied(),
        Some("checkout.session.completed")
    );
    let created = object(&events, "customer.subscription.created");
    assert_eq!(created["status"], "incomplete");
    assert_eq!(created["metadata"]["team"], "7");
    let updated = events
        .iter()
        .find(|e| e["type"] == "customer.subscription.updated")
        .map_or(&Value::Null, |e| &e["data"]);
    assert_eq!(updated["object"]["status"], "active");
    assert_eq!(updated["previous_attributes"]["status"], "incomplete");
    let completed = object(&events, "checkout.session.completed");
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(completed["subscription"], created["id"]);
    assert_eq!(completed["invoice"], object(&events, "invoice.paid")["id"]);
    assert_eq!(
        completed["customer"],
        object(&events, "customer.created")["id"]
    );
    assert_eq!(
        object(&events, "customer.updated")["invoice_settings"]["default_payment_method"],
        object(&events, "payment_method.attached")["id"]
    );
    Ok(())
}

#[tokio::test]
async fn subscription_checkout_with_trial() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    // 0341 attaches fine; with a trial nothing is charged yet.
    let cs = subscription_session(&h, "&subscription_data[trial_period_days]=14").await?;
    let mark = h.mark().await?;
    assert_eq!(h.pay_page(&cs, "4000000000000341").await?, 303);
    let events = h.since(mark).await?;
    let all = types(&events);
    assert!(
        !all.contains(&"charge.succeeded") && !all.contains(&"payment_intent.created"),
        "{all:?}"
    );
    assert_eq!(all.last().copied(), Some("checkout.session.completed"));
    let created = object(&events, "customer.subscription.created");
    assert_eq!(created["status"], "trialing");
    let completed = object(&events, "checkout.session.completed");
    assert_eq!(completed["payment_status"], "no_payment_required");
    assert_eq!(completed["subscription"], created["id"]);
    Ok(())
}

#[tokio::test]
async fn payment_intent_lifecycles() -> anyhow::Result<()> {
    let h = Harness::start().await?;
    let declined = h
        .post(
            "/v1/payment_intents",
            "amount=1000&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true",
        )
        .await?;
    assert_eq!(declined.status(), 402);
    assert_eq!(
        types(&h.since(0).await?),
        [
            "payment_intent.created",
            "charge.failed",
            "payment_intent.payment_failed"
        ]
    );

    let mark = h.mark().await?;
    let held = h
        .ok_post(
            "/v1/payment_intents",
            "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
        )
        .await?;
    assert_eq!(
        types(&h.since(mark).await?),
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.amount_capturable_updated"
        ]
    );
    let mark = h.mark().await?;
    h.ok_post(&format!("/v1/payment_intents/{}/capture", id(&held)), "")
        .await?;
    let events = h.since(mark).await?;
    assert_eq!(
        types(&events),
        ["charge.captured", "payment_intent.succeeded"]
    );
    assert_eq!(events[0]["data"]["object"]["captured"], true);
    assert_eq!(events[0]["data"]["previous_attributes"]["captured"], false);

    let open = h
        .ok_post("/v1/payment_intents", "amount=1000&currency=usd")
        .await?;
    let mark = h.mark().await?;
    h.ok_post(&format!("/v1/payment_intents/{}/cancel", id(&open)), "")
        .await?;
    assert_eq!(types(&h.since(mark).await?), ["payment_intent.canceled"]);

    // A pending refund canceled: refund.updated.
    let slow = h
        .ok_post(
            "/v1/payment_intents",
            "amount=1000&currency=usd&payment_method=pm_card_refundPending&confirm=true",
        )
        .await?;
    let refund = h
        .ok_post("/v1/refunds", &format!("payment_intent={}", id(&slow)))
        .await?;
    let mark = h.mark().await?;
    h.ok_post(&format!("/v1/refunds/{}/cancel", id(&refund)), "")
        .await?;
    let events = h.since(mark).await?;
    assert_eq!(types(&events), ["refund.updated"]);
    assert_eq!(
        events[0]["data"]["previous_attributes"]["status"],
        "pending"
    );
    assert_eq!(events[0]["data"]["object"]["status"], "canceled");
    Ok(())
}
