//! The sim's in-memory state: objects as JSON, per kind, in creation order.
//!
//! Objects are stored in the shape the API returns, so a retrieve is a
//! clone and lists are a slice of the creation order reversed. The lock is a
//! `std::sync::Mutex` held only for plain map work, never across an await.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::StripeError;

use crate::idempotency::Keys;

/// One kind of object (customers, prices…) in creation order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Collection {
    order: Vec<String>,
    by_id: HashMap<String, Value>,
    deleted: HashSet<String>,
}

impl Collection {
    /// Adds a new object; `id` must be fresh.
    pub fn insert(&mut self, id: String, object: Value) {
        if self.by_id.insert(id.clone(), object).is_none() {
            self.order.push(id);
        }
    }

    pub fn get(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.by_id.get_mut(id)
    }

    /// Applies `change` to a copy of the object `kind`/`id` and stores the
    /// copy only if `change` succeeds, so a refused update changes nothing.
    /// An unknown id is Stripe's `resource_missing`.
    pub fn update(
        &mut self,
        kind: &str,
        id: &str,
        change: impl FnOnce(&mut Value) -> Result<(), StripeError>,
    ) -> Result<Value, StripeError> {
        let object = self
            .by_id
            .get_mut(id)
            .ok_or_else(|| StripeError::no_such(kind, id, "id"))?;
        let mut updated = object.clone();
        change(&mut updated)?;
        *object = updated.clone();
        Ok(updated)
    }

    pub fn remove(&mut self, id: &str) -> Option<Value> {
        let removed = self.by_id.remove(id)?;
        self.order.retain(|o| o != id);
        self.deleted.insert(id.to_owned());
        Some(removed)
    }

    /// Whether `id` existed and was deleted; Stripe still answers a
    /// retrieve of a deleted customer, with the deletion stub.
    pub fn was_deleted(&self, id: &str) -> bool {
        self.deleted.contains(id)
    }

    /// Every object, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Value> {
        self.order.iter().rev().filter_map(|id| self.by_id.get(id))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Every collection, plus the sim's own clock and event outbox.
///
/// Objects are kept in the newest shape the sim renders (2025-03-31.basil
/// and later: subscription periods on items, invoice `parent`); older
/// `Stripe-Version`s are produced from it when a response is rendered.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Objects {
    pub customers: Collection,
    pub products: Collection,
    pub prices: Collection,
    pub payment_methods: Collection,
    pub payment_intents: Collection,
    pub charges: Collection,
    pub refunds: Collection,
    pub disputes: Collection,
    pub checkout_sessions: Collection,
    pub subscriptions: Collection,
    pub subscription_items: Collection,
    pub invoices: Collection,
    pub invoice_items: Collection,
    pub invoice_payments: Collection,
    pub portal_sessions: Collection,
    pub webhook_endpoints: Collection,
    pub events: Collection,
    pub test_clocks: Collection,
    pub features: Collection,
    pub product_features: Collection,
    /// Seconds added to the wall clock for objects on no test clock
    /// (moved by `POST /_sim/clock/advance`).
    pub time_offset: i64,
    /// The sim's settings, for code that only holds the objects (Checkout
    /// starting a subscription, clock advances). Not saved in state files.
    #[serde(skip)]
    pub settings: Settings,
    /// Event ids recorded but not yet handed to the delivery worker.
    #[serde(skip)]
    pub(crate) outbox: Option<mpsc::UnboundedSender<String>>,
}

impl Objects {
    /// The sim's "now" for objects on no test clock.
    pub fn now(&self) -> i64 {
        now().saturating_add(self.time_offset)
    }

    /// "Now" for objects on `clock` (a test clock's frozen time), or the
    /// sim's now when `clock` is `None` or unknown.
    pub fn now_on(&self, clock: Option<&str>) -> i64 {
        clock
            .and_then(|id| self.test_clocks.get(id))
            .and_then(|c| c["frozen_time"].as_i64())
            .unwrap_or_else(|| self.now())
    }

    /// The test clock a customer is attached to, if any.
    pub fn clock_of_customer(&self, customer: &str) -> Option<String> {
        self.customers
            .get(customer)
            .and_then(|c| c["test_clock"].as_str())
            .map(str::to_owned)
    }

    /// "Now" for a customer's objects: their test clock's time, if any.
    pub fn now_for_customer(&self, customer: Option<&str>) -> i64 {
        let clock = customer.and_then(|c| self.clock_of_customer(c));
        self.now_on(clock.as_deref())
    }
}

#[derive(Debug)]
struct Inner {
    objects: Mutex<Objects>,
    keys: Keys,
    /// Taken once by the delivery worker.
    deliveries: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    background: std::sync::Once,
    settings: Settings,
}

/// Knobs for the sim's behaviour; the defaults are Stripe's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL the hosted pages are reached at (`url` of Checkout and
    /// portal sessions), e.g. `http://127.0.0.1:12111`.
    pub public_url: String,
    /// Webhook delivery chaos and retry timing.
    pub delivery: crate::delivery::DeliverySettings,
    /// Renewal and dunning behaviour.
    pub billing: crate::billing::BillingSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:12111".to_owned(),
            delivery: crate::delivery::DeliverySettings::default(),
            billing: crate::billing::BillingSettings::default(),
        }
    }
}

/// The sim's shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

impl Default for Sim {
    fn default() -> Self {
        Self::with_settings(Settings::default())
    }
}

impl Sim {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_settings(settings: Settings) -> Self {
        Self::from_objects(Objects::default(), settings)
    }

    /// A sim holding `objects` (e.g. loaded from a state file).
    pub fn from_objects(mut objects: Objects, settings: Settings) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        objects.outbox = Some(sender);
        objects.settings = settings.clone();
        Self {
            inner: Arc::new(Inner {
                objects: Mutex::new(objects),
                keys: Keys::default(),
                deliveries: Mutex::new(Some(receiver)),
                background: std::sync::Once::new(),
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Starts the webhook delivery worker and the ticker that moves
    /// time-driven objects (checkout expiry, renewals not on a test clock).
    /// Must be called inside a tokio runtime; later calls do nothing.
    pub fn start_background(&self) {
        self.inner.background.call_once(|| {
            let receiver = self
                .inner
                .deliveries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(receiver) = receiver {
                tokio::spawn(crate::delivery::run(self.clone(), receiver));
            }
            tokio::spawn(crate::time::tick(self.clone()));
        });
    }

    /// Locks the objects. A panic elsewhere cannot leave a half-made object
    /// (every change is a single insert or field write), so a poisoned lock
    /// is still usable.
    pub fn objects(&self) -> MutexGuard<'_, Objects> {
        self.inner
            .objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }
}

/// Seconds since the epoch, as Stripe's `created`.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
