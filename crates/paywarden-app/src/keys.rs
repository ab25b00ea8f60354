//! Operator API keys: created with a role, shown once, stored hashed.
//!
//! A key is `pw_` followed by 40 random base62 characters (≈238 bits), so
//! one SHA-256 is enough to store it: nothing short enough to guess sits
//! behind the hash.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

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
///
/// A deployment has a handful of server keys, so this is a plain map under a
/// read-write lock rather than a general cache: a hit is one read lock and
/// one hash lookup, with no bookkeeping for eviction. The map is capped at
/// [`KeyCache::CAPACITY`]; when it is full, expired entries are dropped, and
/// if none had expired it is emptied (the keys are read again on their next
/// use).
#[derive(Clone)]
pub struct KeyCache {
    store: Store,
    live: Arc<RwLock<HashMap<[u8; 32], LiveKey>>>,
}

struct LiveKey {
    key: Arc<ApiKey>,
    read_at: Instant,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache").finish_non_exhaustive()
    }
}

impl KeyCache {
    /// How long a live key is trusted without asking the database again.
    pub const TTL: Duration = Duration::from_secs(5);

    /// At most this many keys are remembered at once.
    pub const CAPACITY: usize = 1_000;

    pub fn new(store: Store) -> Self {
        Self {
            store,
            live: Arc::default(),
        }
    }

    /// The live key a client presented, if any.
    pub async fn authenticate(
        &self,
        presented: &PresentedKey,
    ) -> Result<Option<Arc<ApiKey>>, AppError> {
        if !presented.0.expose_secret().starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        let digest = presented.digest();
        if let Some(key) = self.remembered(&digest) {
            return Ok(Some(key));
        }
        let Some(found) = self.store.find_api_key(&hex::encode(digest)).await? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        if found.role == ApiKeyRole::Server {
            self.remember(digest, found.clone());
        }
        Ok(Some(found))
    }

    fn remembered(&self, digest: &[u8; 32]) -> Option<Arc<ApiKey>> {
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        live.get(digest)
            .filter(|entry| entry.read_at.elapsed() < Self::TTL)
            .map(|entry| entry.key.clone())
    }

    fn remember(&self, digest: [u8; 32], key: Arc<ApiKey>) {
        let mut live = self.live.write().unwrap_or_else(PoisonError::into_inner);
        if live.len() >= Self::CAPACITY && !live.contains_key(&digest) {
            live.retain(|_, entry| entry.read_at.elapsed() < Self::TTL);
            if live.len() >= Self::CAPACITY {
                live.clear();
            }
        }
        live.insert(
            digest,
            LiveKey {
                key,
                read_at: Instant::now(),
            },
        );
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
