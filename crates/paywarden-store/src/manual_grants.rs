//! Features an operator grants by hand (a goodwill month, a partner
//! account), until an expiry or for good. Granting and revoking recompute
//! the user's entitlements in the same transaction, like any projection.

use std::collections::BTreeMap;
use std::future::Future;

use paywarden_core::catalog::{Catalog, FeatureValue};
use paywarden_core::ids::ManualGrantId;
use paywarden_core::UserId;
use sqlx::Row;

use crate::entitlements::EntitlementsRow;
use crate::error::StoreError;
use crate::store::Store;

/// A grant to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewManualGrant {
    pub id: ManualGrantId,
    pub user_id: UserId,
    pub features: BTreeMap<String, FeatureValue>,
    /// Unix seconds; `None` for good.
    pub expires_at: Option<i64>,
    pub reason: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualGrant {
    pub id: ManualGrantId,
    pub user_id: UserId,
    pub features: BTreeMap<String, FeatureValue>,
    pub expires_at: Option<i64>,
    pub reason: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Manual grants and their effect on entitlements.
pub trait ManualGrants {
    /// Records the grant and answers the user's entitlements after it.
    fn grant_manually(
        &self,
        grant: &NewManualGrant,
        catalog: &Catalog,
    ) -> impl Future<Output = Result<EntitlementsRow, StoreError>> + Send;

    /// Revokes one of `user`'s live grants; `None` when there is no such
    /// grant (or it belongs to someone else, or is already revoked).
    fn revoke_manual_grant(
        &self,
        user: &UserId,
        id: &ManualGrantId,
        catalog: &Catalog,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<EntitlementsRow>, StoreError>> + Send;

    /// `user`'s grants, newest first, revoked ones included.
    fn manual_grants_of(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<ManualGrant>, StoreError>> + Send;
}

impl ManualGrants for Store {
    async fn grant_manually(
        &self,
        grant: &NewManualGrant,
        catalog: &Catalog,
    ) -> Result<EntitlementsRow, StoreError> {
        let features = serde_json::to_string(&grant.features)
            .map_err(|e| StoreError::Corrupt(format!("encoding grant features: {e}")))?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO manual_grants (id, user_id, features, expires_at, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(grant.id.to_string())
        .bind(grant.user_id.as_str())
        .bind(features.as_str())
        .bind(grant.expires_at)
        .bind(grant.reason.as_str())
        .bind(grant.created_at)
        .execute(&mut *tx.tx)
        .await?;
        let row = tx
            .recompute_entitlements(&grant.user_id, catalog, grant.created_at)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn revoke_manual_grant(
        &self,
        user: &UserId,
        id: &ManualGrantId,
        catalog: &Catalog,
        now_ms: i64,
    ) -> Result<Option<EntitlementsRow>, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE manual_grants SET revoked_at = $1 \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(id.to_string())
        .bind(user.as_str())
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = tx.recompute_entitlements(user, catalog, now_ms).await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    async fn manual_grants_of(&self, user: &UserId) -> Result<Vec<ManualGrant>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, features, expires_at, reason, created_at, revoked_at FROM manual_grants \
             WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(user.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let features: String = row.try_get("features")?;
                let id: String = row.try_get("id")?;
                Ok(ManualGrant {
                    id: id
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("manual_grants.id: {e}")))?,
                    user_id: user.clone(),
                    features: serde_json::from_str(&features)
                        .map_err(|e| StoreError::Corrupt(format!("manual_grants.features: {e}")))?,
                    expires_at: row.try_get("expires_at")?,
                    reason: row.try_get("reason")?,
                    created_at: row.try_get("created_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .collect()
    }
}
