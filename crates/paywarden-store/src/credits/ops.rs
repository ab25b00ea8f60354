//! Credit requests: debit, hold, settle, release and an operator's grant,
//! each in one transaction under its idempotency key.
//!
//! Each checks the available balance with the wallet locked, so concurrent
//! requests of one user are decided one after another and the balance can
//! never go below what is on hold; the database checks the same again.

use paywarden_core::ids::CreditHoldId;
use paywarden_core::UserId;
use sqlx::AnyConnection;

use super::announce;
use super::idempotency::{self, Claim};
use super::reads::{hold_of, wallet_of, HOLD_COLUMNS};
use super::wallet::{self, Movement};
use super::{CreditOp, CreditOutcome, CreditReceipt, EntryKind, Hold, HoldStatus, Idempotent};
use crate::error::StoreError;
use crate::store::Store;

pub(super) async fn apply(
    store: &Store,
    user: &UserId,
    op: &CreditOp,
    idempotent: Idempotent<'_>,
    now_ms: i64,
) -> Result<CreditOutcome, StoreError> {
    let mut tx = store.begin().await?;
    match idempotency::claim(&mut tx.tx, idempotent, now_ms).await? {
        Claim::Fresh => {}
        Claim::Answered(receipt) => return Ok(CreditOutcome::Replayed(*receipt)),
        Claim::Reused => return Ok(CreditOutcome::KeyReused),
    }
    wallet::lock(&mut tx.tx, user, now_ms).await?;
    wallet::expire_holds(&mut tx.tx, user, now_ms).await?;
    let available = wallet::lock(&mut tx.tx, user, now_ms).await?.available();
    let source_key = format!("request:{}:{}", idempotent.scope, idempotent.key.as_str());
    let done = match op {
        CreditOp::Debit {
            amount,
            description,
        }
        | CreditOp::Grant {
            amount,
            description,
        } => {
            let (signed, kind) = match op {
                CreditOp::Debit { .. } => (-amount.get(), EntryKind::Debit),
                _ => (amount.get(), EntryKind::Grant),
            };
            if -signed > available {
                return Ok(CreditOutcome::Insufficient { available });
            }
            let movement = Movement {
                user,
                amount: signed,
                kind,
                source_key,
                stripe_event_id: None,
                hold_id: None,
                description: description.clone(),
                now_ms,
            };
            Done::Entry(wallet::post(&mut tx.tx, movement).await?)
        }
        CreditOp::Hold {
            amount,
            description,
            expires_at,
        } => {
            if amount.get() > available {
                return Ok(CreditOutcome::Insufficient { available });
            }
            let hold = Hold {
                id: CreditHoldId::generate(),
                user_id: user.clone(),
                amount: amount.get(),
                status: HoldStatus::Active,
                description: description.clone(),
                expires_at: *expires_at,
                created_at: now_ms,
                closed_at: None,
                settled: None,
            };
            insert_hold(&mut tx.tx, &hold).await?;
            wallet::add_held(&mut tx.tx, user, hold.amount, now_ms).await?;
            Done::Hold(hold)
        }
        CreditOp::Settle { hold, amount } => {
            let mut hold = match live_hold(&mut tx.tx, user, hold).await? {
                Ok(hold) => hold,
                Err(outcome) => return Ok(outcome),
            };
            let spend = amount.map_or(hold.amount, |a| a.get());
            if spend > hold.amount {
                return Ok(CreditOutcome::SettleExceedsHold { held: hold.amount });
            }
            close_hold(
                &mut tx.tx,
                &mut hold,
                HoldStatus::Settled,
                Some(spend),
                now_ms,
            )
            .await?;
            wallet::add_held(&mut tx.tx, user, -hold.amount, now_ms).await?;
            let movement = Movement {
                user,
                amount: -spend,
                kind: EntryKind::Settle,
                source_key,
                stripe_event_id: None,
                hold_id: Some(hold.id),
                description: hold.description.clone(),
                now_ms,
            };
            let entry = wallet::post(&mut tx.tx, movement).await?;
            Done::Settled(hold, entry)
        }
        CreditOp::Release { hold } => {
            let mut hold = match live_hold(&mut tx.tx, user, hold).await? {
                Ok(hold) => hold,
                Err(outcome) => return Ok(outcome),
            };
            close_hold(&mut tx.tx, &mut hold, HoldStatus::Released, None, now_ms).await?;
            wallet::add_held(&mut tx.tx, user, -hold.amount, now_ms).await?;
            Done::Hold(hold)
        }
    };
    let (wallet, _) = wallet_of(&mut tx.tx, user, now_ms).await?;
    let receipt = match done {
        Done::Entry(entry) => CreditReceipt {
            wallet,
            entry,
            hold: None,
        },
        Done::Hold(hold) => CreditReceipt {
            wallet,
            entry: None,
            hold: Some(hold),
        },
        Done::Settled(hold, entry) => CreditReceipt {
            wallet,
            entry,
            hold: Some(hold),
        },
    };
    idempotency::answer(&mut tx.tx, idempotent, &receipt).await?;
    announce::credits_changed(&mut tx.tx, user, receipt.entry.as_ref(), now_ms).await?;
    tx.commit().await?;
    Ok(CreditOutcome::Applied(receipt))
}

enum Done {
    Entry(Option<super::LedgerEntry>),
    Hold(Hold),
    Settled(Hold, Option<super::LedgerEntry>),
}

async fn insert_hold(conn: &mut AnyConnection, hold: &Hold) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO credit_holds (id, user_id, amount, status, description, expires_at, created_at) \
         VALUES ($1, $2, $3, 'active', $4, $5, $6)",
    )
    .bind(hold.id.to_string())
    .bind(hold.user_id.as_str())
    .bind(hold.amount)
    .bind(hold.description.as_str())
    .bind(hold.expires_at)
    .bind(hold.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The user's hold if it is still active (expired ones were closed just
/// before); otherwise the outcome to answer.
async fn live_hold(
    conn: &mut AnyConnection,
    user: &UserId,
    id: &CreditHoldId,
) -> Result<Result<Hold, CreditOutcome>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {HOLD_COLUMNS} FROM credit_holds WHERE id = $1 AND user_id = $2"
    ))
    .bind(id.to_string())
    .bind(user.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Err(CreditOutcome::HoldNotFound));
    };
    let hold = hold_of(&row)?;
    if hold.status != HoldStatus::Active {
        return Ok(Err(CreditOutcome::HoldClosed(hold.status)));
    }
    Ok(Ok(hold))
}

async fn close_hold(
    conn: &mut AnyConnection,
    hold: &mut Hold,
    status: HoldStatus,
    settled: Option<i64>,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE credit_holds SET status = $1, closed_at = $2, settled = $3 \
         WHERE id = $4 AND status = 'active'",
    )
    .bind(status.as_str())
    .bind(now_ms)
    .bind(settled)
    .bind(hold.id.to_string())
    .execute(&mut *conn)
    .await?;
    hold.status = status;
    hold.closed_at = Some(now_ms);
    hold.settled = settled;
    Ok(())
}
