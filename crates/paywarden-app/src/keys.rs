//! Operator API keys: created with a role, shown once, stored hashed.
//!
//! A key is `pw_` followed by 40 random base62 characters (≈238 bits), so
//! one SHA-256 is enough to store it: nothing short enough to guess sits
//! behind the hash.

use std::fmt;

use paywarden_core::ids::ApiKeyId;
use paywarden_store::{now_ms, ApiKey, ApiKeyRole, ApiKeys, NewApiKey, Store};
use rand::distributions::Alphanumeric;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::AppError;

const KEY_PREFIX: &str = "pw_";

/// A key as presented by a client. `Debug` never shows it.
#[derive(Clone)]
pub struct PresentedKey(SecretString);

impl PresentedKey {
    pub fn new(key: &str) -> Self {
        Self(SecretString::from(key.to_owned()))
    }

    fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.expose_secret().as_bytes()).into()
    }

    /// What the database stores: the digest in hex.
    fn hash(&self) -> String {
        hex::encode(self.digest())
    }
}

impl fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresentedKey([redacted])")
    }
}

/// A newly created key: the only time the full key exists outside the client.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: PresentedKey,
}

impl CreatedKey {
    /// The full key, to show once.
    pub fn reveal(&self) -> &str {
        self.secret.0.expose_secret()
    }
}

/// Creates a key with a role and a name.
pub async fn create(store: &Store, name: &str, role: ApiKeyRole) -> Result<CreatedKey, AppError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::Invalid(
            "a key name is 1 to 100 characters".into(),
        ));
    }
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let secret = PresentedKey::new(&format!("{KEY_PREFIX}{body}"));
    let new = NewApiKey {
        id: ApiKeyId::generate(),
        name: name.to_owned(),
        role,
        key_hash: secret.hash(),
        key_hint: format!("{KEY_PREFIX}{}…", &body[..6]),
        created_at: now_ms(),
    };
    store.create_api_key(&new).await?;
    let key = ApiKey {
        id: new.id,
        name: new.name,
        role,
        key_hint: new.key_hint,
        created_at: new.created_at,
        revoked_at: None,
    };
    Ok(CreatedKey { key, secret })
}

/// Live server keys remembered for a few seconds, so a hot route (an
/// entitlement check) does not pay a database round trip per request.
///
/// Only server keys are remembered: an admin key can move money and change
/// access, so it is checked against the database on every call and a revoked
/// admin key stops working at once. A revoked server key stops working
/// within [`KeyCache::TTL`]. An unknown key is never remembered, so
/// a new key works at once.
#[derive(Clone)]
pub struct KeyCache {
    store: Store,
    live: moka::sync::Cache<[u8; 32], ApiKey>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache").finish_non_exhaustive()
    }
}

impl KeyCache {
    /// How long a live key is trusted without asking the database again.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);

    pub fn new(store: Store) -> Self {
        Self {
            store,
            live: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Self::TTL)
                .build(),
        }
    }

    /// The live key a client presented, if any.
    pub async fn authenticate(&self, presented: &PresentedKey) -> Result<Option<ApiKey>, AppError> {
        if !presented.0.expose_secret().starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        let digest = presented.digest();
        if let Some(key) = self.live.get(&digest) {
            return Ok(Some(key));
        }
        let found = self.store.find_api_key(&hex::encode(digest)).await?;
        if let Some(key) = found.as_ref().filter(|k| k.role == ApiKeyRole::Server) {
            self.live.insert(digest, key.clone());
        }
        Ok(found)
    }
}

pub async fn list(store: &Store) -> Result<Vec<ApiKey>, AppError> {
    Ok(store.list_api_keys().await?)
}

pub async fn revoke(store: &Store, id: &str) -> Result<(), AppError> {
    let id: ApiKeyId = id
        .parse()
        .map_err(|e: paywarden_core::IdError| AppError::Invalid(e.to_string()))?;
    if store.revoke_api_key(&id, now_ms()).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("api key"))
    }
}
