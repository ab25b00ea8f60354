//! Operator API keys, stored as SHA-256 hashes. A key is shown once, at
//! creation; afterwards only its id, name, role and a short hint remain.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use paywarden_core::ids::ApiKeyId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyRole {
    /// Everything, including `/api/admin`.
    Admin,
    /// The product backend: entitlement checks and user-scoped calls.
    Server,
}

impl ApiKeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Server => "server",
        }
    }
}

impl FromStr for ApiKeyRole {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "admin" => Ok(Self::Admin),
            "server" => Ok(Self::Server),
            other => Err(format!("unknown role `{other}` (expected admin or server)")),
        }
    }
}

impl fmt::Display for ApiKeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key to store: its hash, never the key itself.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: ApiKeyRole,
    /// Lowercase hex SHA-256 of the full key.
    pub key_hash: String,
    /// The first characters of the key, to recognise it in a list.
    pub key_hint: String,
    pub created_at: i64,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: ApiKeyRole,
    pub key_hint: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Operator keys.
pub trait ApiKeys {
    fn create_api_key(
        &self,
        key: &NewApiKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The live (not revoked) key with this hash.
    fn find_api_key(
        &self,
        key_hash: &str,
    ) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;
    fn list_api_keys(&self) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;
    /// Revokes a key; `false` if there was no live key with this id.
    fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

fn read_key(row: &AnyRow) -> Result<ApiKey, StoreError> {
    let id: String = row.try_get("id")?;
    let role: String = row.try_get("role")?;
    Ok(ApiKey {
        id: id
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("api key id: {e}")))?,
        name: row.try_get("name")?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        key_hint: row.try_get("key_hint")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl ApiKeys for Store {
    async fn create_api_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, key_hash, key_hint, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.to_string())
        .bind(key.name.as_str())
        .bind(key.role.as_str())
        .bind(key.key_hash.as_str())
        .bind(key.key_hint.as_str())
        .bind(key.created_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, key_hint, created_at, revoked_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(read_key).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, key_hint, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(read_key).collect()
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, now: i64) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.to_string())
                .bind(now)
                .execute(&self.write)
                .await?;
        Ok(result.rows_affected() > 0)
    }
}
