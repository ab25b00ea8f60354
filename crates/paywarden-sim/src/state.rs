//! The sim's in-memory state: objects as JSON, per kind, in creation order.
//!
//! Objects are stored in the shape the API returns, so a retrieve is a
//! clone and lists are a slice of the creation order reversed. The lock is a
//! `std::sync::Mutex` held only for plain map work, never across an await.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::error::StripeError;

use crate::idempotency::Keys;

/// One kind of object (customers, prices…) in creation order.
#[derive(Debug, Default)]
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

/// Every collection.
#[derive(Debug, Default)]
pub struct Objects {
    pub customers: Collection,
    pub products: Collection,
    pub prices: Collection,
}

#[derive(Debug, Default)]
struct Inner {
    objects: Mutex<Objects>,
    keys: Keys,
}

/// The sim's shared state; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Sim {
    inner: Arc<Inner>,
}

impl Sim {
    pub fn new() -> Self {
        Self::default()
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
