//! A JWKS fetched over HTTP and cached.
//!
//! The set is fetched on first use and again when a token names a key id
//! the cache does not hold, but at most once per `min_refresh` so that a
//! stream of made-up key ids cannot turn into a stream of fetches. Each
//! key's algorithm comes from the JWK itself (`alg`, else `kty`/`crv`):
//! RS256 for RSA, ES256 for P-256; any other key is ignored.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use super::error::{AuthConfigError, AuthError};

/// Largest key set accepted.
const MAX_JWKS_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Cache {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched_at: Option<Instant>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("fetched_at", &self.fetched_at)
            .finish()
    }
}

/// The keys at one JWKS URL.
#[derive(Debug)]
pub struct Jwks {
    url: String,
    client: reqwest::Client,
    min_refresh: Duration,
    cache: Mutex<Cache>,
}

impl Jwks {
    /// Keys at `url`, refetched for an unknown kid at most every
    /// `min_refresh`.
    pub fn new(url: &str, min_refresh: Duration) -> Result<Self, AuthConfigError> {
        let ok = url.starts_with("https://") || url.starts_with("http://");
        if !ok {
            return Err(AuthConfigError::JwksUrl);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|_| AuthConfigError::JwksUrl)?;
        Ok(Self {
            url: url.to_owned(),
            client,
            min_refresh,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The algorithm and key for `kid`, fetching the set when needed.
    pub(crate) async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(found) = cache.keys.get(kid) {
            return Ok(found.clone());
        }
        let may_fetch = cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.min_refresh);
        if !may_fetch {
            return Err(AuthError::UnknownKey);
        }
        let fetched = self.fetch().await;
        cache.fetched_at = Some(Instant::now());
        cache.keys = fetched?;
        cache.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    async fn fetch(&self) -> Result<HashMap<String, (Algorithm, DecodingKey)>, AuthError> {
        let unavailable =
            |e: reqwest::Error| AuthError::KeysUnavailable(e.without_url().to_string());
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?;
        let body = response.bytes().await.map_err(unavailable)?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(AuthError::KeysUnavailable(
                "the key set is too large".into(),
            ));
        }
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|_| AuthError::KeysUnavailable("the key set is not a JWKS".into()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), pinned_alg(jwk)) else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, (alg, key));
                }
                Err(err) => tracing::warn!(kid, error = %err, "JWKS key skipped"),
            }
        }
        Ok(keys)
    }
}

/// The one algorithm a JWK may verify, or `None` for keys we do not use.
fn pinned_alg(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Some(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Some(by_type),
        Some(_) => None,
    }
}
