//! Credits: a wallet per user and an append-only ledger.
//!
//! The wallet holds two figures, the balance (the sum of the user's ledger
//! entries) and what is on hold; the database refuses a negative balance,
//! a negative hold and holds larger than the balance, and refuses any
//! UPDATE or DELETE of a ledger row (a trigger on both backends). Credits
//! arrive from purchases and paid invoices ([`grants`], run by the
//! projections) and leave through idempotent requests ([`CreditLedger`]):
//! a debit, or a hold that is later settled, released or left to expire.

mod announce;
mod grants;
mod idempotency;
mod ops;
mod reads;
mod verify;
mod wallet;

use std::future::Future;

use paywarden_core::credits::{CreditAmount, IdempotencyKey};
use paywarden_core::ids::{CreditHoldId, LedgerEntryId};
use paywarden_core::UserId;
use serde::{Deserialize, Serialize};

pub(crate) use grants::{sync_user as sync_grants, users_of_payment_intent};
pub use verify::{LedgerMismatch, LedgerReport};

use crate::error::StoreError;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Credits in: a purchase, a paid invoice, an operator.
    Grant,
    /// Credits out, at once.
    Debit,
    /// Credits out, from a hold.
    Settle,
    /// Credits back out after a refund.
    Reversal,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Debit => "debit",
            Self::Settle => "settle",
            Self::Reversal => "reversal",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "grant" => Ok(Self::Grant),
            "debit" => Ok(Self::Debit),
            "settle" => Ok(Self::Settle),
            "reversal" => Ok(Self::Reversal),
            other => Err(StoreError::Corrupt(format!("credit_ledger.kind {other}"))),
        }
    }
}

/// One movement of credits, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Order of recording; the listing cursor.
    pub seq: i64,
    pub id: LedgerEntryId,
    pub user_id: UserId,
    /// Signed: positive for credits in.
    pub amount: i64,
    pub balance_after: i64,
    pub kind: EntryKind,
    pub stripe_event_id: Option<String>,
    pub hold_id: Option<CreditHoldId>,
    pub description: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Active,
    Settled,
    Released,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Settled => "settled",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "active" => Ok(Self::Active),
            "settled" => Ok(Self::Settled),
            "released" => Ok(Self::Released),
            "expired" => Ok(Self::Expired),
            other => Err(StoreError::Corrupt(format!("credit_holds.status {other}"))),
        }
    }
}

/// Credits set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: CreditHoldId,
    pub user_id: UserId,
    pub amount: i64,
    pub status: HoldStatus,
    pub description: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub closed_at: Option<i64>,
    /// What a settled hold spent.
    pub settled: Option<i64>,
}

/// A user's credits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub user_id: UserId,
    pub balance: i64,
    pub held: i64,
    pub available: i64,
}

/// What a credit request did: the wallet after it, and the entry or hold it
/// wrote. Stored with the idempotency key, so a replay answers the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditReceipt {
    pub wallet: Wallet,
    pub entry: Option<LedgerEntry>,
    pub hold: Option<Hold>,
}

/// A request to move credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditOp {
    /// Takes credits now.
    Debit {
        amount: CreditAmount,
        description: String,
    },
    /// Sets credits aside until `expires_at` (unix seconds).
    Hold {
        amount: CreditAmount,
        description: String,
        expires_at: i64,
    },
    /// Spends a hold: all of it, or `amount` of it (the rest goes back).
    Settle {
        hold: CreditHoldId,
        amount: Option<CreditAmount>,
    },
    /// Gives a hold back.
    Release { hold: CreditHoldId },
    /// Adds credits (an operator's goodwill grant).
    Grant {
        amount: CreditAmount,
        description: String,
    },
}

/// The idempotency of one request: its key, scoped per caller and route,
/// and a fingerprint of everything the request asked.
#[derive(Debug, Clone, Copy)]
pub struct Idempotent<'a> {
    pub scope: &'a str,
    pub key: &'a IdempotencyKey,
    pub fingerprint: &'a str,
}

/// How a credit request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditOutcome {
    Applied(CreditReceipt),
    /// The key was seen with the same request: its first answer.
    Replayed(CreditReceipt),
    /// The key was seen with a different request; nothing changed.
    KeyReused,
    /// More than the available balance; nothing changed.
    Insufficient {
        available: i64,
    },
    /// No such hold of this user; nothing changed.
    HoldNotFound,
    /// The hold was settled, released or expired; nothing changed.
    HoldClosed(HoldStatus),
    /// A settle asked for more than the hold; nothing changed.
    SettleExceedsHold {
        held: i64,
    },
}

/// One page of a user's ledger, newest first.
#[derive(Debug, Clone)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Pass back for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// Credits: moving them on request, and reading them.
pub trait CreditLedger {
    /// Applies one request under its idempotency key, in one transaction.
    fn apply_credit_op(
        &self,
        user: &UserId,
        op: &CreditOp,
        idempotent: Idempotent<'_>,
        now_ms: i64,
    ) -> impl Future<Output = Result<CreditOutcome, StoreError>> + Send;

    /// The user's wallet and live holds (an expired hold counts as gone).
    fn wallet(
        &self,
        user: &UserId,
        now_ms: i64,
    ) -> impl Future<Output = Result<(Wallet, Vec<Hold>), StoreError>> + Send;

    /// A page of the user's ledger, newest first.
    fn ledger_page(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<LedgerPage, StoreError>> + Send;

    /// Checks every wallet against its entries and holds.
    fn verify_ledger(&self) -> impl Future<Output = Result<LedgerReport, StoreError>> + Send;
}
