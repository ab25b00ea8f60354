//! Subscriptions over HTTP: create (paid, incomplete, trial, payment
//! behaviours), validation, updates with prorations, scheduled and
//! immediate cancellation, `pause_collection`, listing, subscription items
//! and the invoice endpoints. `Billing` is the harness the other billing
//! test files share.

use paywarden_sim::state::Settings;
use paywarden_sim::Sim;
use reqwest::Method;
use serde_json::Value;

use crate::support::{error_of, KEY};

/// A sim on port 0, its state (to read events in recording order) and a
/// client that does not follow redirects (portal forms answer 303).
pub struct Billing {
    pub base: String,
    pub client: reqwest::Client,
    pub sim: Sim,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn id(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_owned()
}

pub fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect()
}

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// 2026-01-15T00:00:00Z, a fixed start for clocks.
pub const T0: i64 = 1_768_435_200;

impl Billing {
    pub async fn start() -> anyhow::Result<Self> {
        Self::with_settings(Settings::default()).await
    }

    pub async fn with_settings(settings: Settings) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sim = Sim::with_settings(settings);
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

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: &str,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await?)
    }

    pub async fn post(&self, path: &str, body: &str) -> anyhow::Result<reqwest::Response> {
        self.send(Method::POST, path, body).await
    }

    pub async fn ok(&self, method: Method, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self.send(method.clone(), path, body).await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status == 200, "{method} {path} {body}: {status} {text}");
        Ok(serde_json::from_str(&text)?)
    }

    pub async fn ok_post(&self, path: &str, body: &str) -> anyhow::Result<Value> {
        self.ok(Method::POST, path, body).await
    }

    pub async fn ok_get(&self, path: &str) -> anyhow::Result<Value> {
        self.ok(Method::GET, path, "").await
    }

    /// Every event so far, oldest first.
    pub fn events(&self) -> Vec<Value> {
        let objects = self.sim.objects();
        let mut events: Vec<Value> = objects.events.newest_first().cloned().collect();
        events.reverse();
        events
    }

    pub fn mark(&self) -> usize {
        self.events().len()
    }

    /// The events recorded since `mark`, oldest first.
    pub fn since(&self, mark: usize) -> Vec<Value> {
        self.events().into_iter().skip(mark).collect()
    }

    /// A recurring price (with its product) of `amount` per `interval`.
    pub async fn price(&self, name: &str, amount: i64, interval: &str) -> anyhow::Result<String> {
        let price = self
            .ok_post(
                "/v1/prices",
                &format!("currency=usd&unit_amount={amount}&recurring[interval]={interval}&product_data[name]={name}"),
            )
            .await?;
        Ok(id(&price))
    }

    /// A customer, on `clock` if given.
    pub async fn customer(&self, clock: Option<&str>) -> anyhow::Result<String> {
        let body = match clock {
            Some(clock) => format!("email=sub%40example.com&test_clock={clock}"),
            None => "email=sub%40example.com".to_owned(),
        };
        Ok(id(&self.ok_post("/v1/customers", &body).await?))
    }

    /// Attaches a test card (`pm_card_visa`…) and makes it the customer's
    /// default payment method; returns the payment method id.
    pub async fn default_card(&self, customer: &str, magic: &str) -> anyhow::Result<String> {
        let pm = self
            .ok_post(
                &format!("/v1/payment_methods/{magic}/attach"),
                &format!("customer={customer}"),
            )
            .await?;
        let pm = id(&pm);
        self.ok_post(
            &format!("/v1/customers/{customer}"),
            &format!("invoice_settings[default_payment_method]={pm}"),
        )
        .await?;
        Ok(pm)
    }

    pub async fn subscribe(
        &self,
        customer: &str,
        price: &str,
        extra: &str,
    ) -> anyhow::Result<Value> {
        self.ok_post(
            "/v1/subscriptions",
            &format!("customer={customer}&items[0][price]={price}{extra}"),
        )
        .await
    }

    pub async fn clock(&self, frozen: i64) -> anyhow::Result<String> {
        let clock = self
            .ok_post(
                "/v1/test_helpers/test_clocks",
                &format!("frozen_time={frozen}&name=test"),
            )
            .await?;
        Ok(id(&clock))
    }

    /// Advances `clock` to `to` and waits until it is `ready` again.
    pub async fn advance(&self, clock: &str, to: i64) -> anyhow::Result<()> {
        self.ok_post(
            &format!("/v1/test_helpers/test_clocks/{clock}/advance"),
            &format!("frozen_time={to}"),
        )
        .await?;
        for _ in 0..100 {
            let state = self
                .ok_get(&format!("/v1/test_helpers/test_clocks/{clock}"))
                .await?;
            if state["status"] == "ready" {
                anyhow::ensure!(state["frozen_time"] == to, "clock at {to}");
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        anyhow::bail!("clock {clock} never became ready")
    }

    pub async fn subscription(&self, sub: &str) -> anyhow::Result<Value> {
        self.ok_get(&format!("/v1/subscriptions/{sub}")).await
    }

    pub async fn invoice(&self, invoice: &str) -> anyhow::Result<Value> {
        self.ok_get(&format!("/v1/invoices/{invoice}")).await
    }

    /// The subscription's invoices, oldest first.
    pub async fn invoices_of(&self, sub: &str) -> anyhow::Result<Vec<Value>> {
        let list = self
            .ok_get(&format!("/v1/invoices?subscription={sub}&limit=100"))
            .await?;
        let mut data = list["data"].as_array().cloned().unwrap_or_default();
        data.reverse();
        Ok(data)
    }
}

fn period_end(sub: &Value) -> i64 {
    sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default()
}

#[tokio::test]
async fn create_with_a_card_is_active_with_a_paid_first_invoice() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;
    let pm = b.default_card(&customer, "pm_card_visa").await?;
    let sub = b
        .subscribe(&customer, &price, "&metadata[team_id]=77&description=Team")
        .await?;
    assert!(id(&sub).starts_with("sub_"));
    assert_eq!(sub["object"], "subscription");
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["customer"], customer.as_str());
    assert_eq!(sub["metadata"]["team_id"], "77");
    assert_eq!(sub["description"], "Team");
    assert_eq!(sub["cancel_at_period_end"], false);
    assert!(sub["cancel_at"].is_null() && sub["canceled_at"].is_null());
    assert!(sub["pause_collection"].is_null());
    assert!(sub.get("_sim").is_none(), "private state is not rendered");
    let item = &sub["items"]["data"][0];
    assert!(id(item).starts_with("si_"));
    assert_eq!(item["price"]["id"], price.as_str());
    assert_eq!(item["price"]["object"], "price");
    assert_eq!(item["quantity"], 1);
    let start = item["current_period_start"].as_i64().unwrap_or_default();
    let end = item["current_period_end"].as_i64().unwrap_or_default();
    assert!(end - start >= 28 * DAY && end - start <= 31 * DAY);
    assert_eq!(sub["billing_cycle_anchor"], start);
    assert_eq!(sub["start_date"], start);

    let invoice = b
        .invoice(sub["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["billing_reason"], "subscription_create");
    assert_eq!(invoice["amount_due"], 2000);
    assert_eq!(invoice["amount_paid"], 2000);
    assert_eq!(invoice["amount_remaining"], 0);
    assert_eq!(invoice["attempt_count"], 1);
    assert!(invoice["number"].is_string());
    let hosted = invoice["hosted_invoice_url"].as_str().unwrap_or_default();
    let path = hosted.find("/invoices/").map_or("", |at| &hosted[at..]);
    let page = b.client.get(format!("{}{path}", b.base)).send().await?;
    assert_eq!(page.status(), 200, "{hosted}");
    let html = page.text().await?;
    assert!(html.contains(invoice["number"].as_str().unwrap_or("?")));
    assert!(html.contains("$20.00"));
    assert!(invoice["status_transitions"]["paid_at"].is_i64());
    assert_eq!(invoice["parent"]["type"], "subscription_details");
    assert_eq!(
        invoice["parent"]["subscription_details"]["subscription"],
        id(&sub)
    );
    assert_eq!(
        invoice["parent"]["subscription_details"]["metadata"]["team_id"],
        "77"
    );
    let line = &invoice["lines"]["data"][0];
    assert_eq!(line["amount"], 2000);
    assert_eq!(line["period"]["end"], end);
    assert_eq!(
        line["parent"]["subscription_item_details"]["subscription_item"],
        id(item)
    );
    assert_eq!(
        line["parent"]["subscription_item_details"]["proration"],
        false
    );
    assert_eq!(line["pricing"]["price_details"]["price"], price.as_str());
    let payment = &invoice["payments"]["data"][0];
    assert_eq!(payment["object"], "invoice_payment");
    assert_eq!(payment["status"], "paid");
    assert_eq!(payment["amount_paid"], 2000);
    let intent = payment["payment"]["payment_intent"]
        .as_str()
        .unwrap_or_default();
    let pi = b.ok_get(&format!("/v1/payment_intents/{intent}")).await?;
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["payment_method"], pm.as_str());

    let payments = b
        .ok_get(&format!("/v1/invoice_payments?invoice={}", id(&invoice)))
        .await?;
    assert_eq!(payments["data"].as_array().map(Vec::len), Some(1));
    let one = b
        .ok_get(&format!("/v1/invoice_payments/{}", id(payment)))
        .await?;
    assert_eq!(one["invoice"], id(&invoice));
    let lines = b
        .ok_get(&format!("/v1/invoices/{}/lines", id(&invoice)))
        .await?;
    assert_eq!(lines["data"][0]["id"], line["id"]);
    let items = b
        .ok_get(&format!("/v1/subscription_items?subscription={}", id(&sub)))
        .await?;
    assert_eq!(items["data"][0]["id"], item["id"]);
    let one = b
        .ok_get(&format!("/v1/subscription_items/{}", id(item)))
        .await?;
    assert_eq!(one["subscription"], id(&sub));
    Ok(())
}

#[tokio::test]
async fn without_a_payment_method_it_is_incomplete_with_an_open_invoice() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    assert_eq!(sub["status"], "incomplete");
    let invoice = b
        .invoice(sub["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["attempt_count"], 0);

    // Paying it later (after adding a card) activates the subscription.
    let pm = b.default_card(&customer, "pm_card_visa").await?;
    let paid = b
        .ok_post(
            &format!("/v1/invoices/{}/pay", id(&invoice)),
            &format!("payment_method={pm}"),
        )
        .await?;
    assert_eq!(paid["status"], "paid");
    assert_eq!(b.subscription(&id(&sub)).await?["status"], "active");
    let (status, error) = error_of(
        b.post(&format!("/v1/invoices/{}/pay", id(&invoice)), "")
            .await?,
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "invoice_already_paid");
    Ok(())
}

#[tokio::test]
async fn payment_behaviours_on_create() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;

    let (status, error) = error_of(
        b.post(
            "/v1/subscriptions",
            &format!(
                "customer={customer}&items[0][price]={price}&payment_behavior=error_if_incomplete"
            ),
        )
        .await?,
    )
    .await?;
    assert_eq!(status, 400, "no payment method: {error}");

    b.default_card(&customer, "pm_card_chargeCustomerFail")
        .await?;
    let (status, error) = error_of(
        b.post(
            "/v1/subscriptions",
            &format!(
                "customer={customer}&items[0][price]={price}&payment_behavior=error_if_incomplete"
            ),
        )
        .await?,
    )
    .await?;
    assert_eq!(status, 402);
    assert_eq!(error["type"], "card_error");
    let all = b.ok_get("/v1/subscriptions?status=all").await?;
    assert_eq!(
        all["data"].as_array().map(Vec::len),
        Some(0),
        "error_if_incomplete keeps nothing"
    );

    let sub = b.subscribe(&customer, &price, "").await?;
    assert_eq!(sub["status"], "incomplete", "allow_incomplete");
    let invoice = b
        .invoice(sub["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["attempt_count"], 1);
    assert!(invoice["next_payment_attempt"].is_null());

    let deferred = b
        .subscribe(&customer, &price, "&payment_behavior=default_incomplete")
        .await?;
    assert_eq!(deferred["status"], "incomplete");
    let invoice = b
        .invoice(deferred["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(
        invoice["attempt_count"], 0,
        "default_incomplete does not charge"
    );
    Ok(())
}

#[tokio::test]
async fn a_trial_starts_trialing_with_a_paid_zero_invoice() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;
    let sub = b
        .subscribe(&customer, &price, "&trial_period_days=14")
        .await?;
    assert_eq!(sub["status"], "trialing");
    let start = sub["trial_start"].as_i64().unwrap_or_default();
    assert_eq!(sub["trial_end"], start + 14 * DAY);
    assert_eq!(period_end(&sub), start + 14 * DAY);
    let invoice = b
        .invoice(sub["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["amount_due"], 0);
    assert_eq!(invoice["lines"]["data"][0]["amount"], 0);
    assert_eq!(
        invoice["payments"]["data"].as_array().map(Vec::len),
        Some(0)
    );
    Ok(())
}

#[tokio::test]
async fn create_validation_names_the_param() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let yearly = b.price("Pro yearly", 20000, "year").await?;
    let one_time = id(&b
        .ok_post(
            "/v1/prices",
            "currency=usd&unit_amount=500&product_data[name]=Once",
        )
        .await?);
    let customer = b.customer(None).await?;
    let cases = [
        (format!("items[0][price]={price}"), 400, "customer"),
        (
            format!("customer=cus_nope&items[0][price]={price}"),
            400,
            "customer",
        ),
        (format!("customer={customer}"), 400, "items"),
        (
            format!("customer={customer}&items[0][price]=price_nope"),
            400,
            "items[0][price]",
        ),
        (
            format!("customer={customer}&items[0][price]={one_time}"),
            400,
            "items[0][price]",
        ),
        (
            format!("customer={customer}&items[0][price]={price}&items[1][price]={yearly}"),
            400,
            "items",
        ),
        (
            format!("customer={customer}&items[0][price]={price}&items[0][quantity]=x"),
            400,
            "items[0][quantity]",
        ),
        (
            format!("customer={customer}&items[0][price]={price}&items[0][colour]=red"),
            400,
            "items[0][colour]",
        ),
        (
            format!("customer={customer}&items[0][price]={price}&payment_behavior=maybe"),
            400,
            "payment_behavior",
        ),
        (
            format!("customer={customer}&items[0][price]={price}&trial_end=1"),
            400,
            "trial_end",
        ),
        (
            format!("customer={customer}&items[0][price]={price}&wat=1"),
            400,
            "wat",
        ),
        (
            format!("customer={customer}&items[0][price]={price}&default_payment_method=pm_nope"),
            400,
            "default_payment_method",
        ),
    ];
    for (body, status, param) in cases {
        let (got, error) = error_of(b.post("/v1/subscriptions", &body).await?).await?;
        assert_eq!(
            (got, error["param"].as_str()),
            (status, Some(param)),
            "{body}: {error}"
        );
    }
    let (status, _) = error_of(
        b.send(Method::GET, "/v1/subscriptions/sub_nope", "")
            .await?,
    )
    .await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
async fn changing_the_price_prorates_by_default() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let basic = b.price("Basic", 3000, "month").await?;
    let pro = b.price("Pro", 6000, "month").await?;
    let customer = b.customer(None).await?;
    b.default_card(&customer, "pm_card_visa").await?;
    let sub = b.subscribe(&customer, &basic, "").await?;
    let item = id(&sub["items"]["data"][0]);
    let updated = b
        .ok_post(
            &format!("/v1/subscriptions/{}", id(&sub)),
            &format!("items[0][id]={item}&items[0][price]={pro}"),
        )
        .await?;
    assert_eq!(updated["items"]["data"][0]["id"], item.as_str());
    assert_eq!(updated["items"]["data"][0]["price"]["id"], pro.as_str());
    assert_eq!(
        updated["latest_invoice"], sub["latest_invoice"],
        "no invoice yet"
    );
    let pending = b
        .ok_get(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await?;
    let amounts: Vec<i64> = pending["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ii| ii["amount"].as_i64())
        .collect();
    assert_eq!(amounts.len(), 2, "a credit and a charge: {pending}");
    assert!(amounts.iter().any(|a| (-3000..0).contains(a)));
    assert!(amounts.iter().any(|a| (0..=6000).contains(a) && *a > 0));
    assert!(pending["data"][0]["proration"] == true);

    // proration_behavior=none changes the price without invoice items.
    b.ok_post(
        &format!("/v1/subscriptions/{}", id(&sub)),
        &format!("items[0][id]={item}&items[0][price]={basic}&proration_behavior=none"),
    )
    .await?;
    let pending_after = b
        .ok_get(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await?;
    assert_eq!(pending_after["data"].as_array().map(Vec::len), Some(2));

    // always_invoice bills the prorations (all pending ones) now.
    let now = b
        .ok_post(
            &format!("/v1/subscriptions/{}", id(&sub)),
            &format!("items[0][id]={item}&items[0][price]={pro}&proration_behavior=always_invoice"),
        )
        .await?;
    let _ = now;
    let latest = b.subscription(&id(&sub)).await?;
    let invoice = b
        .invoice(latest["latest_invoice"].as_str().unwrap_or_default())
        .await?;
    assert_eq!(invoice["billing_reason"], "subscription_update");
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["lines"]["data"].as_array().map(Vec::len), Some(4));
    assert!(invoice["lines"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|l| l["parent"]["subscription_item_details"]["proration"] == true));
    let pending_last = b
        .ok_get(&format!(
            "/v1/invoiceitems?customer={customer}&pending=true"
        ))
        .await?;
    assert_eq!(pending_last["data"].as_array().map(Vec::len), Some(0));

    let (status, error) = error_of(
        b.post(
            &format!("/v1/subscriptions/{}", id(&sub)),
            "items[0][id]=si_nope&items[0][price]=x",
        )
        .await?,
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(error["param"], "items[0][id]");
    Ok(())
}

#[tokio::test]
async fn cancel_at_period_end_and_undo() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;
    b.default_card(&customer, "pm_card_visa").await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    let path = format!("/v1/subscriptions/{}", id(&sub));
    let scheduled = b.ok_post(&path, "cancel_at_period_end=true").await?;
    assert_eq!(scheduled["status"], "active");
    assert_eq!(scheduled["cancel_at_period_end"], true);
    assert_eq!(scheduled["cancel_at"], period_end(&sub));
    assert!(scheduled["canceled_at"].is_i64());
    assert_eq!(
        scheduled["cancellation_details"]["reason"],
        "cancellation_requested"
    );
    let undone = b.ok_post(&path, "cancel_at_period_end=false").await?;
    assert_eq!(undone["cancel_at_period_end"], false);
    assert!(undone["cancel_at"].is_null());
    assert!(undone["canceled_at"].is_null());
    Ok(())
}

#[tokio::test]
async fn cancel_now_and_list_filters() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let other = b.price("Team", 5000, "month").await?;
    let customer = b.customer(None).await?;
    b.default_card(&customer, "pm_card_visa").await?;
    let first = b.subscribe(&customer, &price, "").await?;
    let second = b.subscribe(&customer, &other, "").await?;
    let canceled = b
        .ok(
            Method::DELETE,
            &format!("/v1/subscriptions/{}", id(&first)),
            "",
        )
        .await?;
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["ended_at"].is_i64());
    assert_eq!(canceled["canceled_at"], canceled["ended_at"]);
    assert_eq!(
        canceled["cancellation_details"]["reason"],
        "cancellation_requested"
    );
    let (status, _) = error_of(
        b.send(
            Method::DELETE,
            &format!("/v1/subscriptions/{}", id(&first)),
            "",
        )
        .await?,
    )
    .await?;
    assert_eq!(status, 400, "already canceled");

    let ids = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(id)
            .collect()
    };
    let default = b
        .ok_get(&format!("/v1/subscriptions?customer={customer}"))
        .await?;
    assert_eq!(
        ids(&default),
        [id(&second)],
        "canceled ones are not listed by default"
    );
    let all = b.ok_get("/v1/subscriptions?status=all").await?;
    assert_eq!(ids(&all), [id(&second), id(&first)]);
    let ended = b.ok_get("/v1/subscriptions?status=ended").await?;
    assert_eq!(ids(&ended), [id(&first)]);
    let by_price = b
        .ok_get(&format!("/v1/subscriptions?price={other}"))
        .await?;
    assert_eq!(ids(&by_price), [id(&second)]);
    let (status, error) = error_of(
        b.send(Method::GET, "/v1/subscriptions?status=nope", "")
            .await?,
    )
    .await?;
    assert_eq!((status, error["param"].as_str()), (400, Some("status")));
    Ok(())
}

#[tokio::test]
async fn pause_collection_is_set_and_cleared() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;
    b.default_card(&customer, "pm_card_visa").await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    let path = format!("/v1/subscriptions/{}", id(&sub));
    let paused = b
        .ok_post(&path, "pause_collection[behavior]=keep_as_draft")
        .await?;
    assert_eq!(paused["status"], "active", "status is unchanged");
    assert_eq!(paused["pause_collection"]["behavior"], "keep_as_draft");
    let resumed = b.ok_post(&path, "pause_collection=").await?;
    assert!(resumed["pause_collection"].is_null());
    let (status, error) =
        error_of(b.post(&path, "pause_collection[behavior]=sleep").await?).await?;
    assert_eq!(
        (status, error["param"].as_str()),
        (400, Some("pause_collection[behavior]"))
    );
    let (status, _) = error_of(b.post(&format!("{path}/resume"), "").await?).await?;
    assert_eq!(status, 400, "only a paused subscription can be resumed");

    let mark = b.mark();
    let paused = b.ok_post(&format!("{path}/pause"), "").await?;
    assert_eq!(paused["status"], "paused");
    assert_eq!(
        types(&b.since(mark)),
        [
            "customer.subscription.paused",
            "customer.subscription.updated"
        ]
    );
    let (status, _) = error_of(b.post(&format!("{path}/pause"), "").await?).await?;
    assert_eq!(status, 400, "already paused");
    let resumed = b.ok_post(&format!("{path}/resume"), "").await?;
    assert_eq!(resumed["status"], "active");
    Ok(())
}

#[tokio::test]
async fn invoice_actions_follow_the_status_machine() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let customer = b.customer(None).await?;
    let first = b.subscribe(&customer, &price, "").await?;
    let second = b.subscribe(&customer, &price, "").await?;
    let open = first["latest_invoice"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let other = second["latest_invoice"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let (status, error) =
        error_of(b.post(&format!("/v1/invoices/{open}/finalize"), "").await?).await?;
    assert_eq!(status, 400, "already finalized: {error}");
    let uncollectible = b
        .ok_post(&format!("/v1/invoices/{open}/mark_uncollectible"), "")
        .await?;
    assert_eq!(uncollectible["status"], "uncollectible");
    let void = b.ok_post(&format!("/v1/invoices/{open}/void"), "").await?;
    assert_eq!(void["status"], "void");
    assert!(void["status_transitions"]["voided_at"].is_i64());
    let (status, _) = error_of(b.post(&format!("/v1/invoices/{open}/pay"), "").await?).await?;
    assert_eq!(status, 400, "a void invoice cannot be paid");

    let out_of_band = b
        .ok_post(
            &format!("/v1/invoices/{other}/pay"),
            "paid_out_of_band=true",
        )
        .await?;
    assert_eq!(out_of_band["status"], "paid");
    assert_eq!(b.subscription(&id(&second)).await?["status"], "active");

    let list = b
        .ok_get(&format!("/v1/invoices?customer={customer}&status=void"))
        .await?;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["data"][0]["id"], open.as_str());
    let (status, _) = error_of(b.send(Method::GET, "/v1/invoices/in_nope", "").await?).await?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
async fn subscriptions_grant_their_products_features() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let price = b.price("Pro", 2000, "month").await?;
    let product = b.ok_get(&format!("/v1/prices/{price}")).await?["product"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let feature = b
        .ok_post(
            "/v1/entitlements/features",
            "lookup_key=seats&name=Seats&metadata[tier]=pro",
        )
        .await?;
    assert!(id(&feature).starts_with("feat_"));
    assert_eq!(feature["object"], "entitlements.feature");
    assert_eq!(feature["active"], true);
    assert_eq!(feature["metadata"]["tier"], "pro");
    let (status, error) = error_of(
        b.post("/v1/entitlements/features", "lookup_key=seats&name=Again")
            .await?,
    )
    .await?;
    assert_eq!((status, error["param"].as_str()), (400, Some("lookup_key")));
    let renamed = b
        .ok_post(
            &format!("/v1/entitlements/features/{}", id(&feature)),
            "name=Team+seats",
        )
        .await?;
    assert_eq!(renamed["name"], "Team seats");
    let listed = b
        .ok_get("/v1/entitlements/features?lookup_key=seats")
        .await?;
    assert_eq!(listed["data"][0]["id"], feature["id"]);

    let attached = b
        .ok_post(
            &format!("/v1/products/{product}/features"),
            &format!("entitlement_feature={}", id(&feature)),
        )
        .await?;
    assert!(id(&attached).starts_with("prodft_"));
    assert_eq!(attached["object"], "product_feature");
    assert_eq!(attached["entitlement_feature"]["id"], feature["id"]);
    assert!(attached.get("_sim").is_none());
    let on_product = b
        .ok_get(&format!("/v1/products/{product}/features"))
        .await?;
    assert_eq!(on_product["data"][0]["id"], attached["id"]);

    let customer = b.customer(None).await?;
    b.default_card(&customer, "pm_card_visa").await?;
    let mark = b.mark();
    let sub = b.subscribe(&customer, &price, "").await?;
    let events = b.since(mark);
    assert_eq!(
        types(&events).last().copied(),
        Some("entitlements.active_entitlement_summary.updated"),
        "after the subscription became active"
    );
    let summary = &events[events.len() - 1]["data"]["object"];
    assert_eq!(summary["customer"], customer.as_str());
    assert_eq!(summary["entitlements"]["data"][0]["lookup_key"], "seats");

    let active = b
        .ok_get(&format!(
            "/v1/entitlements/active_entitlements?customer={customer}"
        ))
        .await?;
    let entitlement = &active["data"][0];
    assert!(id(entitlement).starts_with("ent_"));
    assert_eq!(entitlement["object"], "entitlements.active_entitlement");
    assert_eq!(entitlement["feature"], feature["id"]);
    let again = b
        .ok_get(&format!(
            "/v1/entitlements/active_entitlements/{}",
            id(entitlement)
        ))
        .await?;
    assert_eq!(&again, entitlement);

    let mark = b.mark();
    b.ok(
        Method::DELETE,
        &format!("/v1/subscriptions/{}", id(&sub)),
        "",
    )
    .await?;
    assert_eq!(
        types(&b.since(mark)),
        [
            "customer.subscription.deleted",
            "entitlements.active_entitlement_summary.updated"
        ]
    );
    let active = b
        .ok_get(&format!(
            "/v1/entitlements/active_entitlements?customer={customer}"
        ))
        .await?;
    assert_eq!(active["data"].as_array().map(Vec::len), Some(0));
    let detached = b
        .ok(
            Method::DELETE,
            &format!("/v1/products/{product}/features/{}", id(&attached)),
            "",
        )
        .await?;
    assert_eq!(detached["deleted"], true);
    let (status, error) = error_of(
        b.send(Method::GET, "/v1/entitlements/active_entitlements", "")
            .await?,
    )
    .await?;
    assert_eq!((status, error["param"].as_str()), (400, Some("customer")));
    Ok(())
}

/// Deleting a customer cancels their subscriptions first, so no renewal
/// ever bills a customer who no longer exists.
#[tokio::test]
async fn deleting_a_customer_cancels_their_subscriptions() -> anyhow::Result<()> {
    let b = Billing::start().await?;
    let customer = b.customer(None).await?;
    b.default_card(&customer, "pm_card_visa").await?;
    let price = b.price("Pro", 2000, "month").await?;
    let sub = b.subscribe(&customer, &price, "").await?;
    assert_eq!(sub["status"], "active");
    let mark = b.mark();
    let deleted = b
        .ok(Method::DELETE, &format!("/v1/customers/{customer}"), "")
        .await?;
    assert_eq!(deleted["deleted"], true);
    let canceled = b.subscription(&id(&sub)).await?;
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["ended_at"].is_i64());
    let events = b.since(mark);
    let types = types(&events);
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "customer.subscription.deleted")
            .count(),
        1
    );
    assert_eq!(types.last(), Some(&"customer.deleted"));
    Ok(())
}
