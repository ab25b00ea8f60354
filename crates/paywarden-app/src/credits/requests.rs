//! The bodies of credit requests, as clients send them, and what they
//! become. A body's canonical JSON is its fingerprint: the same key with a
//! different body is refused rather than answered with someone else's
//! answer.

use paywarden_core::credits::{CreditAmount, DEFAULT_HOLD_SECONDS, MAX_HOLD_SECONDS};
use paywarden_core::ids::CreditHoldId;
use paywarden_store::CreditOp;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

const MAX_DESCRIPTION: usize = 500;

fn description(text: Option<&str>, default: &str) -> Result<String, AppError> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    match text {
        Some(text) if text.chars().count() > MAX_DESCRIPTION => Err(AppError::Invalid(format!(
            "description is at most {MAX_DESCRIPTION} characters"
        ))),
        Some(text) => Ok(text.to_owned()),
        None => Ok(default.to_owned()),
    }
}

/// `POST /api/credits/debit`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DebitRequest {
    pub amount: CreditAmount,
    #[serde(default)]
    pub description: Option<String>,
}

impl DebitRequest {
    pub(super) fn op(&self) -> Result<CreditOp, AppError> {
        Ok(CreditOp::Debit {
            amount: self.amount,
            description: description(self.description.as_deref(), "debit")?,
        })
    }
}

/// `POST /api/credits/hold`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub amount: CreditAmount,
    #[serde(default)]
    pub description: Option<String>,
    /// Seconds until the hold lapses by itself.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

impl HoldRequest {
    pub(super) fn op(&self, now_ms: i64) -> Result<CreditOp, AppError> {
        let expires_in = self.expires_in.unwrap_or(DEFAULT_HOLD_SECONDS);
        if !(1..=MAX_HOLD_SECONDS).contains(&expires_in) {
            return Err(AppError::Invalid(format!(
                "expires_in is 1 to {MAX_HOLD_SECONDS} seconds"
            )));
        }
        Ok(CreditOp::Hold {
            amount: self.amount,
            description: description(self.description.as_deref(), "hold")?,
            expires_at: now_ms.div_euclid(1000) + expires_in,
        })
    }
}

/// `POST /api/credits/holds/{id}/settle`: all of the hold, or `amount`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SettleRequest {
    #[serde(default)]
    pub amount: Option<CreditAmount>,
}

/// `POST /api/credits/holds/{id}/release` takes no fields.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {}

/// `POST /api/admin/users/{user_id}/credits`: an operator's grant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub amount: CreditAmount,
    pub reason: String,
}

impl GrantRequest {
    pub(super) fn op(&self) -> Result<CreditOp, AppError> {
        let reason = description(Some(&self.reason), "")?;
        if reason.is_empty() {
            return Err(AppError::Invalid("a grant needs a reason".into()));
        }
        Ok(CreditOp::Grant {
            amount: self.amount,
            description: reason,
        })
    }
}

pub(super) fn hold_id(text: &str) -> Result<CreditHoldId, AppError> {
    // An id that cannot be a hold is no hold of this user either.
    text.parse().map_err(|_| AppError::NotFound("credit hold"))
}
