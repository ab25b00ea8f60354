//! The four kinds of outbound event and the payload each carries.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::catalog::FeatureValue;
use crate::UserId;

/// What an outbound message is about. Endpoints subscribe to a subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutboundEventType {
    /// A user's resolved entitlements changed (a new version).
    EntitlementsUpdated,
    /// A user's credit balance changed.
    CreditsChanged,
    /// A subscription's projected state changed.
    SubscriptionUpdated,
    /// A booking changed state.
    BookingUpdated,
}

impl OutboundEventType {
    /// Every type, in a stable order.
    pub const ALL: [Self; 4] = [
        Self::EntitlementsUpdated,
        Self::CreditsChanged,
        Self::SubscriptionUpdated,
        Self::BookingUpdated,
    ];

    /// The wire name (`entitlements.updated`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EntitlementsUpdated => "entitlements.updated",
            Self::CreditsChanged => "credits.changed",
            Self::SubscriptionUpdated => "subscription.updated",
            Self::BookingUpdated => "booking.updated",
        }
    }
}

impl fmt::Display for OutboundEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the outbound event types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an outbound event type (entitlements.updated, credits.changed, subscription.updated, booking.updated)")]
pub struct UnknownEventType(pub String);

impl FromStr for OutboundEventType {
    type Err = UnknownEventType;
    fn from_str(value: &str) -> Result<Self, UnknownEventType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| UnknownEventType(value.chars().take(64).collect()))
    }
}

/// One event to tell the host product about: its type and its `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundEvent {
    pub event_type: OutboundEventType,
    pub data: Value,
}

impl OutboundEvent {
    /// `entitlements.updated`: the user's features as of `version`.
    pub fn entitlements_updated(
        user: &UserId,
        version: i64,
        features: &BTreeMap<String, FeatureValue>,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            event_type: OutboundEventType::EntitlementsUpdated,
            data: json!({
                "user_id": user.as_str(),
                "version": version,
                "features": features,
                "expires_at": expires_at,
            }),
        }
    }

    /// `subscription.updated`: the subscription's state as now projected.
    /// `data` is built by the store, which holds the row.
    pub fn subscription_updated(data: Value) -> Self {
        Self {
            event_type: OutboundEventType::SubscriptionUpdated,
            data,
        }
    }

    /// `credits.changed`: a wallet's balance after a ledger entry.
    pub fn credits_changed(data: Value) -> Self {
        Self {
            event_type: OutboundEventType::CreditsChanged,
            data,
        }
    }

    /// `booking.updated`: a booking's state after a change.
    pub fn booking_updated(data: Value) -> Self {
        Self {
            event_type: OutboundEventType::BookingUpdated,
            data,
        }
    }

    /// The body sent (and stored, byte for byte, so every retry signs the
    /// same bytes): `{"id","type","timestamp","data"}`, the envelope the
    /// Standard Webhooks spec suggests. `timestamp` is RFC 3339.
    pub fn body(&self, message_id: &str, timestamp: &str) -> String {
        json!({
            "id": message_id,
            "type": self.event_type.as_str(),
            "timestamp": timestamp,
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip_and_unknown_ones_are_refused() {
        for t in OutboundEventType::ALL {
            assert_eq!(t.as_str().parse::<OutboundEventType>(), Ok(t));
        }
        assert!("entitlements.deleted".parse::<OutboundEventType>().is_err());
    }

    #[test]
    fn an_entitlements_body_carries_user_version_features_and_expiry() {
        let user: UserId = "u_1".parse().expect("user id");
        let mut features = BTreeMap::new();
        features.insert("pro".to_owned(), FeatureValue::Flag(true));
        let event = OutboundEvent::entitlements_updated(&user, 3, &features, Some(99));
        let body: Value =
            serde_json::from_str(&event.body("msg_1", "2026-01-01T00:00:00Z")).expect("json body");
        assert_eq!(body["type"], "entitlements.updated");
        assert_eq!(body["id"], "msg_1");
        assert_eq!(body["data"]["user_id"], "u_1");
        assert_eq!(body["data"]["version"], 3);
        assert_eq!(body["data"]["features"]["pro"], true);
        assert_eq!(body["data"]["expires_at"], 99);
    }
}
