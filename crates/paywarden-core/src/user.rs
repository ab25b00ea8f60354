//! The host product's user id.
//!
//! paywarden does not own users: the product names them, in a JWT's `sub`,
//! a Checkout Session's `client_reference_id` or `metadata.user_id`. A
//! `UserId` is any such name that is safe to store and show.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A user id as the host product spells it: 1..=200 printable ASCII
/// characters without spaces (Stripe's limit for `client_reference_id`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// Why a string is not a usable user id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a user id is 1 to 200 printable ASCII characters without spaces")]
pub struct InvalidUserId;

impl UserId {
    /// The id as the product spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserId {
    type Err = InvalidUserId;
    fn from_str(value: &str) -> Result<Self, InvalidUserId> {
        let ok =
            !value.is_empty() && value.len() <= 200 && value.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidUserId)
        }
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidUserId;
    fn try_from(value: String) -> Result<Self, InvalidUserId> {
        value.parse()
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_bounded_and_printable() {
        assert!("user_42".parse::<UserId>().is_ok());
        assert!("".parse::<UserId>().is_err());
        assert!("a b".parse::<UserId>().is_err());
        assert!("x".repeat(201).parse::<UserId>().is_err());
    }
}
