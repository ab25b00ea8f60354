//! Recording events: every state change the sim makes is an `event`.
//!
//! An event is stored with a snapshot of its object at that moment (in the
//! sim's internal, newest shape) and handed to the delivery worker. Code
//! that changes state calls [`Objects::emit`] while it still holds the
//! lock, so the order of events is the order of changes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{json, Value};

use crate::ids::{new_id, EVENT};
use crate::state::Objects;
use crate::DEFAULT_STRIPE_VERSION;

/// What caused an event: the API request (its `req_` id and idempotency
/// key), or nothing for automatic changes (renewals, clock advances,
/// hosted-page actions), where Stripe sends `request.id: null`.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Cause {
    /// A change the sim made by itself.
    pub fn automatic() -> Self {
        Self::default()
    }

    fn to_json(&self) -> Value {
        json!({ "id": self.request_id, "idempotency_key": self.idempotency_key })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Cause {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            request_id: parts
                .extensions
                .get::<crate::RequestId>()
                .map(|id| id.0.clone()),
            idempotency_key: parts
                .headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}

/// Whether an endpoint's `enabled_events` takes `kind`.
pub fn endpoint_wants(endpoint: &Value, kind: &str) -> bool {
    endpoint["status"] == "enabled"
        && endpoint["enabled_events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e == "*" || e == kind))
}

impl Objects {
    /// Records an event of `kind` about `object` at time `at` and queues it
    /// for delivery. `previous` is `data.previous_attributes` (the changed
    /// fields' old values), for `*.updated` events. Returns the event id.
    pub fn emit(
        &mut self,
        cause: &Cause,
        at: i64,
        kind: &str,
        object: &Value,
        previous: Option<Value>,
    ) -> String {
        let id = new_id(EVENT);
        let pending = self
            .webhook_endpoints
            .newest_first()
            .filter(|e| endpoint_wants(e, kind))
            .count();
        let mut data = json!({ "object": object });
        if let Some(previous) = previous {
            data["previous_attributes"] = previous;
        }
        let event = json!({
            "id": id,
            "object": "event",
            "api_version": DEFAULT_STRIPE_VERSION,
            "created": at,
            "type": kind,
            "livemode": false,
            "pending_webhooks": pending,
            "request": cause.to_json(),
            "data": data,
        });
        self.events.insert(id.clone(), event);
        if let Some(outbox) = &self.outbox {
            // The receiver lives as long as the sim; if the worker never
            // started (a library user without `start_background`), events
            // still exist for `GET /v1/events`.
            let _ = outbox.send(id.clone());
        }
        id
    }

    /// Emits `<kind>` for an update: `previous_attributes` holds the
    /// top-level fields of `before` that differ in `after`. Emits nothing
    /// when nothing changed.
    pub fn emit_updated(
        &mut self,
        cause: &Cause,
        at: i64,
        kind: &str,
        before: &Value,
        after: &Value,
    ) -> Option<String> {
        let previous = changed_fields(before, after);
        if previous.as_object().is_none_or(serde_json::Map::is_empty) {
            return None;
        }
        Some(self.emit(cause, at, kind, after, Some(previous)))
    }
}

/// The top-level fields of `before` whose value differs in `after`, with
/// their old values.
pub fn changed_fields(before: &Value, after: &Value) -> Value {
    let mut previous = serde_json::Map::new();
    if let (Some(old), Some(new)) = (before.as_object(), after.as_object()) {
        for (key, value) in old {
            if new.get(key) != Some(value) {
                previous.insert(key.clone(), value.clone());
            }
        }
        for key in new.keys() {
            if !old.contains_key(key) {
                previous.insert(key.clone(), Value::Null);
            }
        }
    }
    Value::Object(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_attributes_hold_old_values_of_changed_fields() {
        let before = json!({ "status": "incomplete", "quantity": 1, "id": "sub_1" });
        let after = json!({ "status": "active", "quantity": 1, "id": "sub_1" });
        assert_eq!(
            changed_fields(&before, &after),
            json!({ "status": "incomplete" })
        );
    }

    #[test]
    fn emit_records_envelope_and_counts_endpoints() {
        let mut objects = Objects::default();
        objects.webhook_endpoints.insert(
            "we_1".into(),
            json!({ "id": "we_1", "status": "enabled", "enabled_events": ["customer.created"] }),
        );
        objects.webhook_endpoints.insert(
            "we_2".into(),
            json!({ "id": "we_2", "status": "enabled", "enabled_events": ["invoice.paid"] }),
        );
        let cause = Cause {
            request_id: Some("req_1".into()),
            idempotency_key: None,
        };
        let id = objects.emit(
            &cause,
            42,
            "customer.created",
            &json!({"id": "cus_1"}),
            None,
        );
        let event = objects.events.get(&id).expect("stored");
        assert_eq!(event["type"], "customer.created");
        assert_eq!(event["created"], 42);
        assert_eq!(event["pending_webhooks"], 1);
        assert_eq!(event["request"]["id"], "req_1");
        assert_eq!(event["data"]["object"]["id"], "cus_1");
        assert!(event["data"].get("previous_attributes").is_none());
    }
}
