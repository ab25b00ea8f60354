//! Idempotency keys: the first answer to a key, kept with a fingerprint of
//! the request that got it.
//!
//! The claim is an insert under the key's primary key, in the same
//! transaction as the work: a concurrent request with the same key waits on
//! that row (PostgreSQL) or on the write lock (SQLite), then finds the
//! committed answer. A request that ends without an effect rolls back and
//! leaves no claim, so it can be retried under the same key.

use sqlx::{AnyConnection, Row};

use super::{CreditReceipt, Idempotent};
use crate::error::StoreError;

/// What a claim found.
pub(super) enum Claim {
    /// The key is new: do the work, then [`answer`].
    Fresh,
    /// The key answered this same request before.
    Answered(Box<CreditReceipt>),
    /// The key was used for a different request.
    Reused,
}

pub(super) async fn claim(
    conn: &mut AnyConnection,
    request: Idempotent<'_>,
    now_ms: i64,
) -> Result<Claim, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, response, created_at) \
         VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(request.scope)
    .bind(request.key.as_str())
    .bind(request.fingerprint)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Fresh);
    }
    let row = sqlx::query(
        "SELECT fingerprint, response FROM idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(request.scope)
    .bind(request.key.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let fingerprint: String = row.try_get("fingerprint")?;
    if fingerprint != request.fingerprint {
        return Ok(Claim::Reused);
    }
    let response: Option<String> = row.try_get("response")?;
    // A claim is committed only together with its answer.
    let response =
        response.ok_or_else(|| StoreError::Corrupt("idempotency key without an answer".into()))?;
    let receipt = serde_json::from_str(&response)
        .map_err(|e| StoreError::Corrupt(format!("idempotency_keys.response: {e}")))?;
    Ok(Claim::Answered(Box::new(receipt)))
}

/// Stores the answer to a fresh claim.
pub(super) async fn answer(
    conn: &mut AnyConnection,
    request: Idempotent<'_>,
    receipt: &CreditReceipt,
) -> Result<(), StoreError> {
    let response = serde_json::to_string(receipt)
        .map_err(|e| StoreError::Corrupt(format!("encoding a credit receipt: {e}")))?;
    sqlx::query("UPDATE idempotency_keys SET response = $1 WHERE scope = $2 AND key = $3")
        .bind(response)
        .bind(request.scope)
        .bind(request.key.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
