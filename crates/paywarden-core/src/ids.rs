//! Identifiers.
//!
//! Stripe's ids get one newtype each that checks Stripe's prefix when parsed,
//! so a customer id can never be passed where a subscription id is expected.
//! paywarden's own ids carry prefixes Stripe never uses and a time-sortable
//! ULID body.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`{value}` is not a {kind} id (expected prefix `{prefix}`)")]
    Prefix {
        kind: &'static str,
        prefix: &'static str,
        value: String,
    },
    #[error("`{value}` is not a valid {kind} id")]
    Body { kind: &'static str, value: String },
}

/// Stripe ids are opaque: a known prefix followed by 1..=255 characters
/// from `[A-Za-z0-9_.-]` (dots appear in redacted captures).
fn check_stripe_body(body: &str) -> bool {
    !body.is_empty()
        && body.len() <= 255
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, [$($prefix:literal),+]) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefixes Stripe gives this kind of object.
            pub const PREFIXES: &'static [&'static str] = &[$($prefix),+];

            /// The id as Stripe spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                let body = Self::PREFIXES
                    .iter()
                    .find_map(|prefix| value.strip_prefix(prefix))
                    .ok_or_else(|| IdError::Prefix {
                        kind: $kind,
                        prefix: Self::PREFIXES[0],
                        value: value.chars().take(64).collect(),
                    })?;
                if check_stripe_body(body) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(IdError::Body { kind: $kind, value: value.chars().take(64).collect() })
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                value.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

stripe_id!(/// A Stripe event id (`evt_…`).
    EventId, "event", ["evt_"]);
stripe_id!(/// A Stripe customer id (`cus_…`).
    CustomerId, "customer", ["cus_"]);
stripe_id!(/// A Stripe subscription id (`sub_…`; `su_` in Stripe's oldest samples).
    SubscriptionId, "subscription", ["sub_", "su_"]);
stripe_id!(/// A Stripe subscription item id (`si_…`).
    SubscriptionItemId, "subscription item", ["si_"]);
stripe_id!(/// A Stripe Checkout Session id (`cs_…`).
    CheckoutSessionId, "checkout session", ["cs_"]);
stripe_id!(/// A Stripe invoice id (`in_…`).
    InvoiceId, "invoice", ["in_"]);
stripe_id!(/// A Stripe PaymentIntent id (`pi_…`).
    PaymentIntentId, "payment intent", ["pi_"]);
stripe_id!(/// A Stripe charge id (`ch_…`, or `py_` for non-card payments).
    ChargeId, "charge", ["ch_", "py_"]);
stripe_id!(/// A Stripe refund id (`re_…`, or `pyr_` for non-card payments).
    RefundId, "refund", ["re_", "pyr_"]);
stripe_id!(/// A Stripe dispute id (`dp_…`, or `du_` in older accounts).
    DisputeId, "dispute", ["dp_", "du_"]);
stripe_id!(/// A Stripe PaymentMethod id (`pm_…`, or a legacy `card_`/`src_`).
    PaymentMethodId, "payment method", ["pm_", "card_", "src_"]);
stripe_id!(/// A Stripe product id (`prod_…`).
    ProductId, "product", ["prod_"]);
stripe_id!(/// A Stripe price id. Legacy plans share the id space and their ids were
    /// chosen by the merchant (`gold`), so no prefix is required.
    PriceId, "price", [""]);

/// One of paywarden's own ids: a prefix Stripe never uses and a
/// time-sortable ULID body (`key_01J…`).
macro_rules! own_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(ulid::Ulid);

        impl $name {
            const PREFIX: &'static str = $prefix;

            /// A fresh, time-sortable id.
            pub fn generate() -> Self {
                Self(ulid::Ulid::new())
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                let body = value
                    .strip_prefix(Self::PREFIX)
                    .ok_or_else(|| IdError::Prefix {
                        kind: $kind,
                        prefix: Self::PREFIX,
                        value: value.chars().take(64).collect(),
                    })?;
                body.parse().map(Self).map_err(|_| IdError::Body {
                    kind: $kind,
                    value: value.chars().take(64).collect(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", Self::PREFIX, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

own_id!(
    /// An operator API key's public id (`key_<ulid>`): what lists and logs show.
    ApiKeyId, "key_", "api key"
);
own_id!(
    /// A grant of features an operator made by hand (`grt_<ulid>`).
    ManualGrantId, "grt_", "manual grant"
);
own_id!(
    /// One entry of the credits ledger (`led_<ulid>`).
    LedgerEntryId, "led_", "ledger entry"
);
own_id!(
    /// Credits set aside until settled, released or expired (`hld_<ulid>`).
    CreditHoldId, "hld_", "credit hold"
);
own_id!(
    /// A destination the host product registered for outbound webhooks (`wep_<ulid>`).
    WebhookEndpointId, "wep_", "webhook endpoint"
);
own_id!(
    /// One outbound message, the same for every endpoint and every retry;
    /// sent as `webhook-id` (`msg_<ulid>`).
    OutboundMessageId, "msg_", "outbound message"
);
own_id!(
    /// One message's delivery to one endpoint (`dlv_<ulid>`).
    OutboundDeliveryId, "dlv_", "outbound delivery"
);
own_id!(
    /// A course users book seats on (`crs_<ulid>`).
    CourseId, "crs_", "course"
);
own_id!(
    /// One user's booking of one course, kept across payment retries (`bkg_<ulid>`).
    BookingId, "bkg_", "booking"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_ids_check_their_prefix() {
        assert!("cus_123".parse::<CustomerId>().is_ok());
        assert!("sub_123".parse::<CustomerId>().is_err());
        assert!("cus_".parse::<CustomerId>().is_err());
        assert!("cus_a b".parse::<CustomerId>().is_err());
        assert!("cs_test_a1B2".parse::<CheckoutSessionId>().is_ok());
        assert!("py_1".parse::<ChargeId>().is_ok());
    }

    #[test]
    fn stripe_ids_deserialize_through_the_check() {
        let ok: Result<EventId, _> = serde_json::from_str("\"evt_1\"");
        assert!(ok.is_ok());
        let bad: Result<EventId, _> = serde_json::from_str("\"cus_1\"");
        assert!(bad.is_err());
    }

    #[test]
    fn api_key_ids_round_trip() {
        let id = ApiKeyId::generate();
        let shown = id.to_string();
        assert!(shown.starts_with("key_"));
        assert_eq!(shown.parse::<ApiKeyId>(), Ok(id));
        assert!("evt_01J".parse::<ApiKeyId>().is_err());
    }
}
