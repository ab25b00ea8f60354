//! Stripe's status enums, read tolerantly: unknown values are kept.

use std::fmt;

use serde::{Deserialize, Deserializer};

macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this version of paywarden does not know.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }

            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(|text| Self::parse(&text))
            }
        }
    };
}

open_enum!(
    /// A subscription's status (all of Stripe's, plus unknown ones).
    SubscriptionStatus {
        Incomplete = "incomplete",
        IncompleteExpired = "incomplete_expired",
        Trialing = "trialing",
        Active = "active",
        PastDue = "past_due",
        Canceled = "canceled",
        Unpaid = "unpaid",
        Paused = "paused",
    }
);

open_enum!(
    /// A Checkout Session's status.
    CheckoutStatus {
        Open = "open",
        Complete = "complete",
        Expired = "expired",
    }
);

open_enum!(
    /// A Checkout Session's payment status.
    CheckoutPaymentStatus {
        Paid = "paid",
        Unpaid = "unpaid",
        NoPaymentRequired = "no_payment_required",
    }
);

impl SubscriptionStatus {
    /// Whether the subscription has ended for good: no later state revives it.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Canceled | Self::IncompleteExpired)
    }

    /// The tie rule for two states of one subscription stamped in the same
    /// second: the one further along Stripe's lifecycle wins.
    pub fn rank(&self) -> i32 {
        match self {
            Self::Incomplete => 0,
            Self::Trialing => 1,
            Self::Active => 2,
            Self::PastDue => 3,
            Self::Unpaid => 4,
            Self::Paused => 5,
            Self::Other(_) => 6,
            Self::IncompleteExpired => 7,
            Self::Canceled => 8,
        }
    }
}
