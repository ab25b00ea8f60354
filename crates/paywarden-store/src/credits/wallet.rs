//! The wallet row and the ledger insert: the only code that moves credits.
//!
//! Every movement locks the user's wallet row first (an upsert that
//! touches it, which takes the row lock on PostgreSQL; SQLite's write
//! transaction already excludes other writers), so two movements of one
//! user never interleave. An entry is inserted once under its
//! `source_key`; a repeat of the same cause inserts nothing and moves
//! nothing.

use paywarden_core::ids::{CreditHoldId, LedgerEntryId};
use paywarden_core::UserId;
use sqlx::{AnyConnection, Row};

use super::{EntryKind, LedgerEntry};
use crate::error::StoreError;

/// A locked wallet's figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Locked {
    pub balance: i64,
    pub held: i64,
}

impl Locked {
    pub fn available(self) -> i64 {
        self.balance - self.held
    }
}

/// Locks `user`'s wallet for this transaction, creating an empty one.
pub(crate) async fn lock(
    conn: &mut AnyConnection,
    user: &UserId,
    now_ms: i64,
) -> Result<Locked, StoreError> {
    let row = sqlx::query(
        "INSERT INTO credit_wallets (user_id, balance, held, updated_at) VALUES ($1, 0, 0, $2) \
         ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at \
         RETURNING balance, held",
    )
    .bind(user.as_str())
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Locked {
        balance: row.try_get("balance")?,
        held: row.try_get("held")?,
    })
}

/// A movement to record.
pub(crate) struct Movement<'a> {
    pub user: &'a UserId,
    /// Signed: positive adds credits.
    pub amount: i64,
    pub kind: EntryKind,
    pub source_key: String,
    pub stripe_event_id: Option<&'a str>,
    pub hold_id: Option<CreditHoldId>,
    pub description: String,
    pub now_ms: i64,
}

/// Records a movement and applies it to the wallet; `None` when its
/// source was recorded before (nothing moves twice).
pub(crate) async fn post(
    conn: &mut AnyConnection,
    movement: Movement<'_>,
) -> Result<Option<LedgerEntry>, StoreError> {
    let wallet = lock(conn, movement.user, movement.now_ms).await?;
    let balance_after = wallet
        .balance
        .checked_add(movement.amount)
        .ok_or_else(|| StoreError::Constraint("credit balance out of range".into()))?;
    let id = LedgerEntryId::generate();
    let inserted = sqlx::query(
        "INSERT INTO credit_ledger (id, user_id, amount, balance_after, kind, source_key, \
             stripe_event_id, hold_id, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (source_key) DO NOTHING RETURNING seq",
    )
    .bind(id.to_string())
    .bind(movement.user.as_str())
    .bind(movement.amount)
    .bind(balance_after)
    .bind(movement.kind.as_str())
    .bind(movement.source_key.as_str())
    .bind(movement.stripe_event_id)
    .bind(movement.hold_id.map(|h| h.to_string()))
    .bind(movement.description.as_str())
    .bind(movement.now_ms)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(inserted) = inserted else {
        return Ok(None);
    };
    sqlx::query("UPDATE credit_wallets SET balance = $1, updated_at = $2 WHERE user_id = $3")
        .bind(balance_after)
        .bind(movement.now_ms)
        .bind(movement.user.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(Some(LedgerEntry {
        seq: inserted.try_get("seq")?,
        id,
        user_id: movement.user.clone(),
        amount: movement.amount,
        balance_after,
        kind: movement.kind,
        stripe_event_id: movement.stripe_event_id.map(str::to_owned),
        hold_id: movement.hold_id,
        description: movement.description,
        created_at: movement.now_ms,
    }))
}

/// Changes the credits `user` has on hold by `delta`.
pub(crate) async fn add_held(
    conn: &mut AnyConnection,
    user: &UserId,
    delta: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE credit_wallets SET held = held + $1, updated_at = $2 WHERE user_id = $3")
        .bind(delta)
        .bind(now_ms)
        .bind(user.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks `user`'s holds whose time has passed as expired and gives their
/// credits back to the available balance. Call with the wallet locked.
pub(crate) async fn expire_holds(
    conn: &mut AnyConnection,
    user: &UserId,
    now_ms: i64,
) -> Result<(), StoreError> {
    let expired = sqlx::query(
        "UPDATE credit_holds SET status = 'expired', closed_at = $1 \
         WHERE user_id = $2 AND status = 'active' AND expires_at <= $3 RETURNING amount",
    )
    .bind(now_ms)
    .bind(user.as_str())
    .bind(now_ms.div_euclid(1000))
    .fetch_all(&mut *conn)
    .await?;
    let mut released = 0i64;
    for row in &expired {
        released += row.try_get::<i64, _>("amount")?;
    }
    if released > 0 {
        add_held(conn, user, -released, now_ms).await?;
    }
    Ok(())
}
