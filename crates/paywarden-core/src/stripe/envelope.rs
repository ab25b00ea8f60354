//! The event envelope: what every webhook body must be before it is stored.

use serde::Deserialize;
use serde_json::Value;

use crate::ids::EventId;

/// Largest body the webhook endpoint accepts (1 MiB).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// A Stripe event as delivered. `object` is the snapshot of the resource at
/// event time, kept as JSON and read into a typed object by the projection
/// that needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub event_type: String,
    /// Unix seconds; `0` when an (old or hand-written) event has none, so it
    /// never takes precedence over a dated one.
    pub created: i64,
    pub api_version: Option<String>,
    pub livemode: bool,
    /// `data.object`; may be JSON `null` (Stripe's `ping`).
    pub object: Value,
    /// `data.previous_attributes` on `*.updated` events.
    pub previous_attributes: Option<Value>,
}

/// Why a body is not an event envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body is not a Stripe event: {0}")]
    NotAnEvent(String),
}

#[derive(Deserialize)]
struct RawEvent {
    id: Value,
    #[serde(rename = "type")]
    event_type: Value,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    livemode: Option<bool>,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: Value,
    #[serde(default)]
    previous_attributes: Option<Value>,
}

impl Event {
    /// Parses a webhook body. The body must be a JSON object with an `evt_`
    /// id, a non-empty `type`, and `data.object`; `object`, when present,
    /// must be `"event"`.
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        if !value.is_object() {
            return Err(EnvelopeError::NotAnEvent("expected a JSON object".into()));
        }
        let raw: RawEvent =
            serde_json::from_value(value).map_err(|e| EnvelopeError::NotAnEvent(e.to_string()))?;
        let id = raw
            .id
            .as_str()
            .ok_or_else(|| EnvelopeError::NotAnEvent("`id` must be a string".into()))?
            .parse::<EventId>()
            .map_err(|e| EnvelopeError::NotAnEvent(e.to_string()))?;
        let event_type = raw
            .event_type
            .as_str()
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| EnvelopeError::NotAnEvent("`type` must be a non-empty string".into()))?
            .to_owned();
        if let Some(object) = &raw.object {
            if object != "event" {
                return Err(EnvelopeError::NotAnEvent(format!(
                    "`object` is `{object}`, expected `event`"
                )));
            }
        }
        Ok(Self {
            id,
            event_type,
            created: raw.created.unwrap_or(0),
            api_version: raw.api_version,
            livemode: raw.livemode.unwrap_or(false),
            object: raw.data.object,
            previous_attributes: raw.data.previous_attributes,
        })
    }

    /// The `id` of `data.object`, when it has one.
    pub fn object_id(&self) -> Option<&str> {
        self.object.get("id").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_envelope_parses() {
        let event = Event::parse(br#"{"id":"evt_1","type":"ping","data":{"object":null}}"#)
            .expect("an envelope");
        assert_eq!(event.id.as_str(), "evt_1");
        assert_eq!(event.created, 0);
        assert!(event.object.is_null());
    }

    #[test]
    fn non_envelopes_are_refused() {
        for body in [
            &b"not json"[..],
            b"[]",
            b"{}",
            br#"{"id":"cus_1","type":"x","data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"","data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"x"}"#,
            br#"{"id":"evt_1","type":"x","object":"customer","data":{"object":{}}}"#,
            br#"{"id":7,"type":"x","data":{"object":{}}}"#,
        ] {
            assert!(
                Event::parse(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
