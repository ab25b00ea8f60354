//! Webhook delivery: signed POSTs of each event to every enabled endpoint
//! that wants it, retried with backoff, with optional chaos for tests.
//!
//! Stripe delivers at least once, in no guaranteed order, possibly twice;
//! a billing service must survive that, so the sim can be told to do it on
//! purpose ([`DeliverySettings`]), from a seed so a failing run replays.
//!
//! Bookkeeping lives on the event itself, under `_sim` (never shown to
//! clients): `seen` once the worker took the event, `in_flight` deliveries
//! still running, `acked` endpoints that answered 2xx, and `attempts`, the
//! log `GET /_sim/deliveries` serves. Keeping it in `Objects` means every
//! route reaches it through the `Sim` it already has.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use paywarden_core::signature::{header_for, WebhookSecret};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::events::endpoint_wants;
use crate::state::{now, Objects, Sim};

/// Retry timing and chaos switches. The defaults retry like Stripe (with
/// exponential backoff, a bounded number of times) but fast enough for
/// tests, and add no chaos.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Attempts per event and endpoint, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; each later retry waits twice as long.
    pub retry_base: Duration,
    /// How long an endpoint may take to answer before the attempt fails.
    pub timeout: Duration,
    /// Chance that an event goes twice to each endpoint (1.0: always).
    pub duplicate_probability: f64,
    /// Events are shuffled in groups of this many (0 or 1: in order). A
    /// group that stays short is sent once no event came for 50 ms.
    pub reorder_window: usize,
    /// Each delivery first waits a random time up to this.
    pub max_extra_delay: Duration,
    /// Consecutive events (up to [`SAME_SECOND_GROUP`]) get the `created`
    /// of the first of them, as bursts inside one second do on Stripe, so a
    /// consumer cannot order events by `created`. The stored event changes
    /// when the worker takes it, so `GET /v1/events` agrees with the payload.
    pub same_second: bool,
    /// Seeds every random choice above.
    pub seed: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            duplicate_probability: 0.0,
            reorder_window: 0,
            max_extra_delay: Duration::ZERO,
            same_second: false,
            seed: 0,
        }
    }
}

/// Most events that share one `created` under `same_second`.
pub const SAME_SECOND_GROUP: usize = 4;
/// How long a short reorder group waits for more events.
const REORDER_IDLE: Duration = Duration::from_millis(50);
/// Attempts kept per event in the log.
const MAX_LOGGED: usize = 50;

/// Orders attempts across events in the log.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);
/// Orders deliveries as they were started (after any reordering), so the
/// log shows what the seeded chaos decided, whatever the network did.
static DISPATCH: AtomicU64 = AtomicU64::new(0);

/// Delivers events as their ids arrive on `events`.
pub async fn run(sim: Sim, mut events: mpsc::UnboundedReceiver<String>) {
    let Some(client) = client() else {
        return;
    };
    let settings = sim.settings().delivery.clone();
    mark_loaded_events_seen(&sim);
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut group: Option<(i64, usize)> = None;
    let mut buffer: Vec<String> = Vec::new();
    let window = settings.reorder_window.max(1);
    loop {
        let next = if buffer.is_empty() {
            events.recv().await
        } else {
            match tokio::time::timeout(REORDER_IDLE, events.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    dispatch(&sim, &client, &settings, &mut rng, &mut buffer);
                    continue;
                }
            }
        };
        let Some(id) = next else {
            dispatch(&sim, &client, &settings, &mut rng, &mut buffer);
            return;
        };
        if settings.same_second {
            share_second(&sim, &id, &mut group);
        }
        buffer.push(id);
        if buffer.len() >= window {
            dispatch(&sim, &client, &settings, &mut rng, &mut buffer);
        }
    }
}

fn client() -> Option<reqwest::Client> {
    match reqwest::Client::builder().no_proxy().build() {
        Ok(client) => Some(client),
        Err(err) => {
            tracing::error!(%err, "webhook delivery disabled: no HTTP client");
            None
        }
    }
}

/// Events loaded from a state file never pass through the channel, and
/// their deliveries ended with the process that recorded them. (Events
/// emitted before the worker started are in the channel and sent anyway.)
fn mark_loaded_events_seen(sim: &Sim) {
    let mut objects = sim.objects();
    let ids: Vec<String> = objects
        .events
        .newest_first()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    for id in ids {
        set_private(&mut objects, &id, |p| {
            p["seen"] = json!(true);
            p["in_flight"] = json!(0);
        });
    }
}

fn share_second(sim: &Sim, id: &str, group: &mut Option<(i64, usize)>) {
    let mut objects = sim.objects();
    let Some(event) = objects.events.get_mut(id) else {
        return;
    };
    match group {
        Some((created, count)) if *count < SAME_SECOND_GROUP => {
            event["created"] = json!(*created);
            *count += 1;
        }
        _ => *group = event["created"].as_i64().map(|c| (c, 1)),
    }
}

/// Sends every buffered event (shuffled when reordering) to its endpoints.
fn dispatch(
    sim: &Sim,
    client: &reqwest::Client,
    settings: &DeliverySettings,
    rng: &mut StdRng,
    buffer: &mut Vec<String>,
) {
    if settings.reorder_window > 1 {
        buffer.shuffle(rng);
    }
    for id in buffer.drain(..) {
        let endpoints = {
            let mut objects = sim.objects();
            let endpoints = wanting(&objects, &id, None);
            set_private(&mut objects, &id, |p| {
                p["seen"] = json!(true);
            });
            endpoints
        };
        for endpoint in endpoints {
            // `p > 0.0` is false for NaN, which `gen_bool` would refuse.
            let p = settings.duplicate_probability;
            let copies = if p > 0.0 && rng.gen_bool(p.min(1.0)) {
                2
            } else {
                1
            };
            for copy in 0..copies {
                let delay =
                    random_delay(rng, settings.max_extra_delay) + Duration::from_millis(20) * copy;
                spawn_delivery(sim, client, settings, &id, &endpoint, delay);
            }
        }
    }
}

fn random_delay(rng: &mut StdRng, max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.gen_range(0..=millis))
}

/// Ids of the enabled endpoints that want event `id` (or just `only`).
/// Without `only`, endpoints created after the event are left out, as on
/// Stripe (an endpoint gets the events that happen once it exists).
fn wanting(objects: &Objects, id: &str, only: Option<&str>) -> Vec<String> {
    let Some(kind) = objects.events.get(id).and_then(|e| e["type"].as_str()) else {
        return Vec::new();
    };
    let index = event_index(objects, id);
    objects
        .webhook_endpoints
        .newest_first()
        .filter(|e| endpoint_wants(e, kind))
        .filter(|e| match only {
            Some(o) => e["id"] == o,
            None => e["_sim"]["events_before"]
                .as_u64()
                .is_none_or(|before| index.is_none_or(|i| i >= before)),
        })
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

/// How many events were recorded before event `id` (searched from the
/// newest end, where the events being delivered are).
fn event_index(objects: &Objects, id: &str) -> Option<u64> {
    let from_newest = objects.events.newest_first().position(|e| e["id"] == id)?;
    u64::try_from(objects.events.len() - 1 - from_newest).ok()
}

/// What a new endpoint records so it only gets later events.
pub fn events_so_far(objects: &Objects) -> u64 {
    u64::try_from(objects.events.len()).unwrap_or(u64::MAX)
}

/// Applies `change` to event `id`'s `_sim` bookkeeping.
fn set_private(objects: &mut Objects, id: &str, change: impl FnOnce(&mut Value)) {
    if let Some(event) = objects.events.get_mut(id) {
        if !event["_sim"].is_object() {
            event["_sim"] = json!({ "in_flight": 0 });
        }
        change(&mut event["_sim"]);
    }
}

fn spawn_delivery(
    sim: &Sim,
    client: &reqwest::Client,
    settings: &DeliverySettings,
    event: &str,
    endpoint: &str,
    delay: Duration,
) {
    set_private(&mut sim.objects(), event, |p| {
        p["in_flight"] = json!(p["in_flight"].as_i64().unwrap_or(0) + 1);
    });
    let task = Delivery {
        sim: sim.clone(),
        client: client.clone(),
        settings: settings.clone(),
        event: event.to_owned(),
        endpoint: endpoint.to_owned(),
        dispatch: DISPATCH.fetch_add(1, Ordering::Relaxed),
    };
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        task.attempts().await;
        set_private(&mut task.sim.objects(), &task.event, |p| {
            p["in_flight"] = json!((p["in_flight"].as_i64().unwrap_or(1) - 1).max(0));
        });
    });
}

/// Sends event `id` again to every endpoint that wants it now (or only to
/// `endpoint`), as the Dashboard's "Resend" does. Returns how many
/// deliveries started.
pub fn resend(sim: &Sim, id: &str, endpoint: Option<&str>) -> usize {
    let Some(client) = client() else {
        return 0;
    };
    let endpoints = wanting(&sim.objects(), id, endpoint);
    let settings = sim.settings().delivery.clone();
    for endpoint in &endpoints {
        spawn_delivery(sim, &client, &settings, id, endpoint, Duration::ZERO);
    }
    endpoints.len()
}

/// One event to one endpoint, with retries.
struct Delivery {
    sim: Sim,
    client: reqwest::Client,
    settings: DeliverySettings,
    event: String,
    endpoint: String,
    /// When this delivery was started, among all deliveries.
    dispatch: u64,
}

/// What an attempt needs, read under the lock.
struct Target {
    url: String,
    secret: WebhookSecret,
    body: String,
}

impl Delivery {
    /// The endpoint's URL and secret and the payload at its version, or
    /// `None` once the endpoint is gone or disabled (no more retries).
    fn target(&self) -> Option<Target> {
        let objects = self.sim.objects();
        let endpoint = objects.webhook_endpoints.get(&self.endpoint)?;
        if endpoint["status"] != "enabled" {
            return None;
        }
        let event = objects.events.get(&self.event)?;
        let version = endpoint["api_version"]
            .as_str()
            .or_else(|| event["api_version"].as_str())
            .unwrap_or(crate::DEFAULT_STRIPE_VERSION);
        let payload = crate::render::payload(&objects, event, version);
        let secret = match WebhookSecret::new(endpoint["_sim"]["secret"].as_str().unwrap_or("")) {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(endpoint = %self.endpoint, %err, "webhook endpoint without a secret");
                return None;
            }
        };
        let body = match serde_json::to_string(&payload) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(event = %self.event, %err, "event payload did not serialize");
                return None;
            }
        };
        Some(Target {
            url: endpoint["url"].as_str()?.to_owned(),
            secret,
            body,
        })
    }

    async fn attempts(&self) {
        let Some(target) = self.target() else {
            return;
        };
        let mut wait = self.settings.retry_base;
        for attempt in 1..=self.settings.max_attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
                if self.target().is_none() {
                    return;
                }
            }
            let sent_at = now();
            let outcome = self.send(&target, sent_at).await;
            let ok = matches!(outcome, Ok(status) if (200..300).contains(&status));
            self.record(attempt, sent_at, &outcome, ok);
            if ok {
                return;
            }
        }
    }

    async fn send(&self, target: &Target, at: i64) -> Result<u16, String> {
        let signature = header_for(
            std::slice::from_ref(&target.secret),
            at,
            target.body.as_bytes(),
        );
        let response = self
            .client
            .post(&target.url)
            .timeout(self.settings.timeout)
            .header("content-type", "application/json; charset=utf-8")
            .header("stripe-signature", signature)
            .header(
                "user-agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .body(target.body.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_owned()
                } else {
                    format!("connection error: {e}")
                }
            })?;
        Ok(response.status().as_u16())
    }

    fn record(&self, attempt: u32, at: i64, outcome: &Result<u16, String>, ok: bool) {
        let entry = json!({
            "sequence": SEQUENCE.fetch_add(1, Ordering::Relaxed),
            "dispatch": self.dispatch,
            "event": self.event,
            "endpoint": self.endpoint,
            "attempt": attempt,
            "status": outcome.as_ref().ok(),
            "error": outcome.as_ref().err(),
            "succeeded": ok,
            "at": at,
        });
        let mut objects = self.sim.objects();
        let endpoint = self.endpoint.clone();
        let mut first_ack = false;
        set_private(&mut objects, &self.event, |p| {
            if !p["attempts"].is_array() {
                p["attempts"] = json!([]);
            }
            if let Some(log) = p["attempts"].as_array_mut() {
                if log.len() >= MAX_LOGGED {
                    log.remove(0);
                }
                log.push(entry);
            }
            if ok {
                if !p["acked"].is_array() {
                    p["acked"] = json!([]);
                }
                if let Some(acked) = p["acked"].as_array_mut() {
                    if !acked.iter().any(|a| a == &json!(endpoint)) {
                        acked.push(json!(endpoint));
                        first_ack = true;
                    }
                }
            }
        });
        if first_ack {
            if let Some(event) = objects.events.get_mut(&self.event) {
                let pending = event["pending_webhooks"].as_i64().unwrap_or(0);
                event["pending_webhooks"] = json!((pending - 1).max(0));
            }
        }
    }
}

/// Every recorded attempt (optionally of one event), oldest first.
pub fn attempts(objects: &Objects, event: Option<&str>) -> Vec<Value> {
    let mut all: Vec<Value> = objects
        .events
        .newest_first()
        .filter(|e| event.is_none_or(|id| e["id"] == id))
        .filter_map(|e| e["_sim"]["attempts"].as_array())
        .flatten()
        .cloned()
        .collect();
    all.sort_by_key(|a| a["sequence"].as_u64().unwrap_or(0));
    all
}

/// Events the worker has not finished with: not yet taken from the
/// channel, or with deliveries still running.
pub fn unsettled(objects: &Objects) -> usize {
    objects
        .events
        .newest_first()
        .filter(|e| e["_sim"]["seen"] != true || e["_sim"]["in_flight"].as_i64().unwrap_or(0) > 0)
        .count()
}
