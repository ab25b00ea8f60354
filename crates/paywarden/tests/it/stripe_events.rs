//! Signed Stripe event bodies and a client that delivers them.

use std::time::Duration;

use paywarden_testkit::{sign, TEST_WEBHOOK_SECRET};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// What a test event projects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `invoice.paid`: one payment row for its invoice.
    InvoicePaid,
    /// `customer.created`: one customer row.
    CustomerCreated,
}

/// One distinct event: its id, what it projects to, and its body.
#[derive(Debug, Clone)]
pub struct TestEvent {
    pub id: String,
    pub kind: Kind,
    /// The object it creates: `in_…` or `cus_…`.
    pub object_id: String,
    pub body: String,
}

/// The envelope Stripe sends around `object`.
pub fn envelope(id: &str, event_type: &str, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": paywarden_testkit::now_secs(),
        "livemode": false,
        "type": event_type,
        "data": { "object": object },
    })
    .to_string()
}

/// A paid invoice `in_{tag}_{n}` of customer `cus_{tag}_{n}`.
pub fn invoice_paid(tag: &str, n: usize) -> TestEvent {
    let id = format!("evt_{tag}_inv_{n}");
    let invoice = format!("in_{tag}_{n}");
    let object = json!({
        "id": invoice,
        "object": "invoice",
        "customer": format!("cus_{tag}_{n}"),
        "subscription": null,
        "status": "paid",
        "amount_due": 1000 + n,
        "amount_paid": 1000 + n,
        "total": 1000 + n,
        "currency": "usd",
        "attempt_count": 1,
        "payment_intent": format!("pi_{tag}_{n}"),
        "lines": { "object": "list", "data": [ { "period": { "start": 1_700_000_000, "end": 1_702_592_000 } } ] },
    });
    TestEvent {
        body: envelope(&id, "invoice.paid", object),
        id,
        kind: Kind::InvoicePaid,
        object_id: invoice,
    }
}

/// A new customer `cus_{tag}_new_{n}`.
pub fn customer_created(tag: &str, n: usize) -> TestEvent {
    let id = format!("evt_{tag}_cus_{n}");
    let customer = format!("cus_{tag}_new_{n}");
    let object = json!({
        "id": customer,
        "object": "customer",
        "email": format!("user{n}@example.com"),
        "name": format!("User {n}"),
        "metadata": {},
    });
    TestEvent {
        body: envelope(&id, "customer.created", object),
        id,
        kind: Kind::CustomerCreated,
        object_id: customer,
    }
}

/// `count` distinct events: three invoices to every new customer.
pub fn mixed(tag: &str, count: usize) -> Vec<TestEvent> {
    (0..count)
        .map(|n| {
            if n % 4 == 3 {
                customer_created(tag, n)
            } else {
                invoice_paid(tag, n)
            }
        })
        .collect()
}

/// An HTTP client for loopback servers: no proxy from the environment, and
/// a bound on every request so no test can hang on one.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// What the webhook endpoint answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<String>,
}

impl Answer {
    /// `{"received":true,"duplicate":true}`.
    pub fn is_duplicate(&self) -> bool {
        self.body["duplicate"] == json!(true)
    }
}

/// Posts `body` to `/webhooks/stripe` with the given `Stripe-Signature`.
pub async fn post_signed(
    client: &reqwest::Client,
    base: &str,
    body: &str,
    signature: &str,
) -> reqwest::Result<Answer> {
    let response = client
        .post(format!("{base}/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer {
        status,
        body,
        retry_after,
    })
}

/// Delivers `body` signed now with the test secret.
pub async fn deliver(client: &reqwest::Client, base: &str, body: &str) -> reqwest::Result<Answer> {
    let signature = sign(TEST_WEBHOOK_SECRET, body.as_bytes());
    post_signed(client, base, body, &signature).await
}
