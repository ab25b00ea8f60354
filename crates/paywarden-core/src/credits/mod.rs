//! Credits: the amounts a wallet moves, how many a purchase grants and how
//! many a refund takes back.
//!
//! A movement is a [`CreditAmount`], positive and bounded, so a zero, a
//! negative or an overflowing amount cannot reach the ledger. The
//! arithmetic of grants and reversals is here, pure, so it is tested as a
//! table; the store only records what these functions decide.

mod idempotency;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use idempotency::{IdempotencyKey, IdempotencyKeyError};

/// A positive number of credits, at most [`CreditAmount::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CreditAmount(i64);

/// Why a number is not a credit amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditAmountError {
    #[error("an amount of credits must be at least 1")]
    NotPositive,
    #[error("an amount of credits must be at most {}", CreditAmount::MAX)]
    TooLarge,
}

impl CreditAmount {
    /// A trillion: far beyond any real wallet, far below where sums of
    /// many entries could overflow an `i64`.
    pub const MAX: i64 = 1_000_000_000_000;

    pub fn new(amount: i64) -> Result<Self, CreditAmountError> {
        if amount < 1 {
            Err(CreditAmountError::NotPositive)
        } else if amount > Self::MAX {
            Err(CreditAmountError::TooLarge)
        } else {
            Ok(Self(amount))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for CreditAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for CreditAmount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let amount = i64::deserialize(deserializer)?;
        Self::new(amount).map_err(serde::de::Error::custom)
    }
}

/// Credits a purchase grants: the product's credits per unit times the
/// quantity bought; `None` when it grants none (or the product says
/// nothing, or the product would overflow the bound).
pub fn granted(per_unit: Option<u64>, quantity: i64) -> Option<CreditAmount> {
    let per_unit = i64::try_from(per_unit?).ok()?;
    let quantity = quantity.max(1);
    CreditAmount::new(per_unit.checked_mul(quantity)?).ok()
}

/// How much of a grant a refund takes back in total: the refunded share of
/// what was paid, rounded down (a partial refund never takes back more than
/// its share). A payment of nothing that is refunded at all takes back the
/// whole grant.
pub fn reversal_target(granted: i64, refunded: i64, paid: i64) -> i64 {
    if granted <= 0 || refunded <= 0 {
        return 0;
    }
    if paid <= 0 || refunded >= paid {
        return granted;
    }
    let share = i128::from(granted) * i128::from(refunded) / i128::from(paid);
    i64::try_from(share).map_or(granted, |share| share.clamp(0, granted))
}

/// Default and longest life of a hold, in seconds.
pub const DEFAULT_HOLD_SECONDS: i64 = 15 * 60;
pub const MAX_HOLD_SECONDS: i64 = 7 * 24 * 60 * 60;
