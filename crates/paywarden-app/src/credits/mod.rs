//! Credits for the HTTP layer and the CLI: debit, hold, settle, release and
//! an operator's grant, each under the client's `Idempotency-Key`; the
//! wallet, the ledger and `ledger verify`.
//!
//! A key is scoped per caller (the signed-in user, or the server key that
//! acts for users) and per route; its fingerprint is the acting user, the
//! route's object and the request body. A replay answers the first answer
//! and says so; a refused request (not enough credits, say) leaves no trace
//! and may be retried under the same key.

mod requests;

use paywarden_core::credits::IdempotencyKey;
use paywarden_core::ids::ApiKeyId;
use paywarden_core::UserId;
use paywarden_store::{
    now_ms, CreditLedger, CreditOp, CreditOutcome, CreditReceipt, Hold, Idempotent, LedgerPage,
    LedgerReport, Store, Wallet,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use requests::{DebitRequest, GrantRequest, HoldRequest, ReleaseRequest, SettleRequest};

use crate::error::AppError;

/// Who sent a request: the scope of its idempotency key.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The signed-in end user.
    User(UserId),
    /// An API key (server or admin) acting for users.
    Key(ApiKeyId),
}

impl Caller {
    fn scope(&self, route: &str) -> String {
        match self {
            Self::User(user) => format!("user:{user}:{route}"),
            Self::Key(key) => format!("key:{key}:{route}"),
        }
    }
}

/// A credit request's answer, and whether it is a replay of the first.
#[derive(Debug, Clone)]
pub struct CreditAnswer {
    pub receipt: CreditReceipt,
    pub replayed: bool,
}

/// Credits, over the store.
#[derive(Debug, Clone)]
pub struct Credits {
    store: Store,
}

impl Credits {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn debit(
        &self,
        user: &UserId,
        caller: &Caller,
        key: &str,
        request: &DebitRequest,
    ) -> Result<CreditAnswer, AppError> {
        let op = request.op()?;
        self.run(user, caller, "credits.debit", "", key, request, op)
            .await
    }

    pub async fn hold(
        &self,
        user: &UserId,
        caller: &Caller,
        key: &str,
        request: &HoldRequest,
    ) -> Result<CreditAnswer, AppError> {
        let op = request.op(now_ms())?;
        self.run(user, caller, "credits.hold", "", key, request, op)
            .await
    }

    pub async fn settle(
        &self,
        user: &UserId,
        caller: &Caller,
        key: &str,
        hold: &str,
        request: &SettleRequest,
    ) -> Result<CreditAnswer, AppError> {
        let op = CreditOp::Settle {
            hold: requests::hold_id(hold)?,
            amount: request.amount,
        };
        self.run(user, caller, "credits.settle", hold, key, request, op)
            .await
    }

    pub async fn release(
        &self,
        user: &UserId,
        caller: &Caller,
        key: &str,
        hold: &str,
        request: &ReleaseRequest,
    ) -> Result<CreditAnswer, AppError> {
        let op = CreditOp::Release {
            hold: requests::hold_id(hold)?,
        };
        self.run(user, caller, "credits.release", hold, key, request, op)
            .await
    }

    /// An operator's grant.
    pub async fn grant(
        &self,
        user: &UserId,
        admin: ApiKeyId,
        key: &str,
        request: &GrantRequest,
    ) -> Result<CreditAnswer, AppError> {
        let op = request.op()?;
        self.run(
            user,
            &Caller::Key(admin),
            "credits.grant",
            "",
            key,
            request,
            op,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        user: &UserId,
        caller: &Caller,
        route: &str,
        object: &str,
        key: &str,
        body: &impl Serialize,
        op: CreditOp,
    ) -> Result<CreditAnswer, AppError> {
        let key = IdempotencyKey::parse(key).map_err(|e| AppError::Invalid(e.to_string()))?;
        let scope = caller.scope(route);
        let body = serde_json::to_string(body)
            .map_err(|e| AppError::Internal(format!("encoding a credit request: {e}")))?;
        let fingerprint = hex::encode(Sha256::digest(
            format!("{user}\n{object}\n{body}").as_bytes(),
        ));
        let idempotent = Idempotent {
            scope: &scope,
            key: &key,
            fingerprint: &fingerprint,
        };
        let outcome = self
            .store
            .apply_credit_op(user, &op, idempotent, now_ms())
            .await?;
        match outcome {
            CreditOutcome::Applied(receipt) => Ok(CreditAnswer {
                receipt,
                replayed: false,
            }),
            CreditOutcome::Replayed(receipt) => Ok(CreditAnswer {
                receipt,
                replayed: true,
            }),
            CreditOutcome::KeyReused => Err(AppError::IdempotencyKeyReused),
            CreditOutcome::Insufficient { available } => {
                Err(AppError::InsufficientCredits { available })
            }
            CreditOutcome::HoldNotFound => Err(AppError::NotFound("credit hold")),
            CreditOutcome::HoldClosed(status) => Err(AppError::Conflict(format!(
                "the hold is already {}",
                status.as_str()
            ))),
            CreditOutcome::SettleExceedsHold { held } => Err(AppError::Invalid(format!(
                "amount is more than the {held} credits on hold"
            ))),
        }
    }

    /// The user's wallet and live holds.
    pub async fn wallet(&self, user: &UserId) -> Result<(Wallet, Vec<Hold>), AppError> {
        Ok(self.store.wallet(user, now_ms()).await?)
    }

    /// A page of the user's ledger, newest first.
    pub async fn ledger(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<LedgerPage, AppError> {
        let limit = limit.unwrap_or(25);
        if !(1..=100).contains(&limit) {
            return Err(AppError::Invalid("limit is 1 to 100".into()));
        }
        self.store
            .ledger_page(user, cursor, limit)
            .await
            .map_err(|e| match e {
                paywarden_store::StoreError::InvalidCursor => {
                    AppError::Invalid("cursor is not one this listing handed out".into())
                }
                e => e.into(),
            })
    }

    /// Checks every wallet against its entries.
    pub async fn verify(&self) -> Result<LedgerReport, AppError> {
        Ok(self.store.verify_ledger().await?)
    }
}
