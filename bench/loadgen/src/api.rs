//! `api` mode: the selling API as a user's browser or a product backend
//! would call it, next to the references it is compared with in one run.
//!
//! Targets (`--target`):
//! - `plans`: `GET /api/plans` (no auth, served from the catalog in memory);
//! - `healthz`: `GET /healthz`, the floor of a trivial route on the same
//!   server (the reference for `plans`);
//! - `checkout`: `POST /api/checkout/session` for a new user each time (a
//!   Stripe customer and a Checkout Session are created, three rows written);
//! - `checkout-again`: the same user asking again for the same pack (the
//!   open session is answered from the database, no Stripe call);
//! - `stripe-checkout`: the Stripe work `checkout` needs, done straight on
//!   the stand-in mounted under `/sim` (create a customer, then a Checkout
//!   Session): the reference for `checkout`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

use crate::stats::{Report, Tally};
use crate::{pool, unix_now, Outcome, Plan};

const MAX_LOGGED_FAILURES: u32 = 5;
/// The pack every checkout buys (in the demo catalog).
const PRICE: &str = "credits_100";
/// Any test key: the stand-in accepts every `sk_test_` key.
const SIM_KEY: &str = "sk_test_paywarden_bench";

/// What to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Plans,
    Healthz,
    Checkout,
    CheckoutAgain,
    StripeCheckout,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::Plans => "plans",
            Self::Healthz => "healthz",
            Self::Checkout => "checkout",
            Self::CheckoutAgain => "checkout-again",
            Self::StripeCheckout => "stripe-checkout",
        }
    }
}

/// Everything a worker needs, shared.
struct Setup {
    client: reqwest::Client,
    base: String,
    target: Target,
    jwt: EncodingKey,
    run_id: String,
    /// The stand-in's price id behind `PRICE` (for `stripe-checkout`).
    sim_price: Option<String>,
    logged: AtomicU32,
}

impl Setup {
    fn token(&self, user: &str) -> anyhow::Result<String> {
        let claims = json!({ "sub": user, "exp": unix_now() + 3600 });
        jsonwebtoken::encode(&Header::default(), &claims, &self.jwt).context("signing a token")
    }

    async fn one(&self, i: u64) -> anyhow::Result<reqwest::Response> {
        let base = &self.base;
        Ok(match self.target {
            Target::Plans => self.client.get(format!("{base}/api/plans")).send().await?,
            Target::Healthz => self.client.get(format!("{base}/healthz")).send().await?,
            Target::Checkout | Target::CheckoutAgain => {
                let user = if self.target == Target::Checkout {
                    format!("bench-{}-{i}", self.run_id)
                } else {
                    format!("bench-{}-again", self.run_id)
                };
                self.client
                    .post(format!("{base}/api/checkout/session"))
                    .bearer_auth(self.token(&user)?)
                    .json(&json!({ "price": PRICE }))
                    .send()
                    .await?
            }
            Target::StripeCheckout => {
                let price = self.sim_price.as_deref().context("no stand-in price")?;
                let customer: Value = self
                    .client
                    .post(format!("{base}/sim/v1/customers"))
                    .bearer_auth(SIM_KEY)
                    .form(&[("metadata[user_id]", format!("ref-{}-{i}", self.run_id))])
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let customer = customer["id"].as_str().context("a customer id")?;
                self.client
                    .post(format!("{base}/sim/v1/checkout/sessions"))
                    .bearer_auth(SIM_KEY)
                    .form(&[
                        ("mode", "payment"),
                        ("customer", customer),
                        ("line_items[0][price]", price),
                        ("line_items[0][quantity]", "1"),
                        ("success_url", "http://127.0.0.1/ok"),
                        ("cancel_url", "http://127.0.0.1/cancel"),
                    ])
                    .send()
                    .await?
            }
        })
    }
}

/// The stand-in's price for `PRICE` (the catalog reaches it shortly after
/// the server starts; wait up to 30 s).
async fn sim_price(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed: Value = client
            .get(format!("{base}/sim/v1/prices"))
            .bearer_auth(SIM_KEY)
            .query(&[("lookup_keys[]", PRICE)])
            .send()
            .await?
            .json()
            .await?;
        if let Some(id) = listed["data"][0]["id"].as_str() {
            return Ok(id.to_owned());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the stand-in at {base}/sim has no price {PRICE}: is this the embedded default?"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(
    plan: Plan,
    base: String,
    target: Target,
    jwt_secret: &str,
    request_timeout: Duration,
) -> anyhow::Result<Outcome> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(plan.concurrency)
        .timeout(request_timeout)
        .build()
        .context("building the HTTP client")?;
    let base = base.trim_end_matches('/').to_owned();
    // Every target needs the catalog in the stand-in; wait for it.
    let price = sim_price(&client, &base).await?;
    let setup = Arc::new(Setup {
        client,
        base,
        target,
        jwt: EncodingKey::from_secret(jwt_secret.as_bytes()),
        run_id: plan.run_id.clone(),
        sim_price: Some(price),
        logged: AtomicU32::new(0),
    });
    let (tally, elapsed, stopped_early) =
        pool::run(plan.concurrency, plan.count, plan.max_time, |dispenser| {
            let setup = Arc::clone(&setup);
            async move {
                let mut tally = Tally::default();
                while let Some(i) = dispenser.take() {
                    tally.attempted += 1;
                    let started = Instant::now();
                    match setup.one(i).await {
                        Ok(response) => {
                            let status = response.status();
                            let body = response.bytes().await;
                            tally.record(started.elapsed());
                            tally.count_answer(status, body, |m| setup.log(m));
                        }
                        Err(e) => {
                            tally.transport += 1;
                            setup.log(&format!("{e:#}"));
                        }
                    }
                }
                tally
            }
        })
        .await?;
    Ok(Report::finish(
        target.name(),
        &plan,
        elapsed,
        stopped_early,
        tally,
    )?)
}

impl Setup {
    fn log(&self, what: &str) {
        if self.logged.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED_FAILURES {
            eprintln!(
                "{}: {}",
                self.target.name(),
                what.chars().take(300).collect::<String>()
            );
        }
    }
}
