//! Reading wallets, holds and the ledger.

use paywarden_core::UserId;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{
    CreditLedger, CreditOp, CreditOutcome, EntryKind, Hold, HoldStatus, Idempotent, LedgerEntry,
    LedgerPage, LedgerReport, Wallet,
};
use crate::error::StoreError;
use crate::row::{parsed, parsed_opt};
use crate::store::Store;

pub(super) fn entry_of(row: &AnyRow) -> Result<LedgerEntry, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(LedgerEntry {
        seq: row.try_get("seq")?,
        id: parsed(row, "id")?,
        user_id: parsed(row, "user_id")?,
        amount: row.try_get("amount")?,
        balance_after: row.try_get("balance_after")?,
        kind: EntryKind::parse(&kind)?,
        stripe_event_id: row.try_get("stripe_event_id")?,
        hold_id: parsed_opt(row, "hold_id")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) const HOLD_COLUMNS: &str =
    "id, user_id, amount, status, description, expires_at, created_at, closed_at, settled";

pub(super) fn hold_of(row: &AnyRow) -> Result<Hold, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Hold {
        id: parsed(row, "id")?,
        user_id: parsed(row, "user_id")?,
        amount: row.try_get("amount")?,
        status: HoldStatus::parse(&status)?,
        description: row.try_get("description")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        closed_at: row.try_get("closed_at")?,
        settled: row.try_get("settled")?,
    })
}

/// The wallet as this connection sees it, holds past their time not counted.
pub(super) async fn wallet_of(
    conn: &mut AnyConnection,
    user: &UserId,
    now_ms: i64,
) -> Result<(Wallet, Vec<Hold>), StoreError> {
    let balance: i64 = sqlx::query("SELECT balance FROM credit_wallets WHERE user_id = $1")
        .bind(user.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .map(|row| row.try_get("balance"))
        .transpose()?
        .unwrap_or(0);
    let holds = sqlx::query(&format!(
        "SELECT {HOLD_COLUMNS} FROM credit_holds \
         WHERE user_id = $1 AND status = 'active' AND expires_at > $2 ORDER BY created_at, id"
    ))
    .bind(user.as_str())
    .bind(now_ms.div_euclid(1000))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(hold_of)
    .collect::<Result<Vec<_>, _>>()?;
    let held: i64 = holds.iter().map(|h| h.amount).sum();
    let wallet = Wallet {
        user_id: user.clone(),
        balance,
        held,
        available: balance - held,
    };
    Ok((wallet, holds))
}

impl CreditLedger for Store {
    async fn apply_credit_op(
        &self,
        user: &UserId,
        op: &CreditOp,
        idempotent: Idempotent<'_>,
        now_ms: i64,
    ) -> Result<CreditOutcome, StoreError> {
        super::ops::apply(self, user, op, idempotent, now_ms).await
    }

    async fn wallet(&self, user: &UserId, now_ms: i64) -> Result<(Wallet, Vec<Hold>), StoreError> {
        let mut conn = self.read.acquire().await?;
        wallet_of(&mut conn, user, now_ms).await
    }

    async fn ledger_page(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<LedgerPage, StoreError> {
        let before = match cursor {
            None => i64::MAX,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|seq| *seq > 0)
                .ok_or(StoreError::InvalidCursor)?,
        };
        let limit = limit.clamp(1, 100);
        let rows = sqlx::query(
            "SELECT seq, id, user_id, amount, balance_after, kind, stripe_event_id, hold_id, \
                 description, created_at \
             FROM credit_ledger WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(user.as_str())
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.read)
        .await?;
        let mut entries = rows.iter().map(entry_of).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if entries.len() > limit as usize {
            entries.truncate(limit as usize);
            entries.last().map(|e| e.seq.to_string())
        } else {
            None
        };
        Ok(LedgerPage {
            entries,
            next_cursor,
        })
    }

    async fn verify_ledger(&self) -> Result<LedgerReport, StoreError> {
        let mut conn = self.read.acquire().await?;
        super::verify::verify(&mut conn).await
    }
}
