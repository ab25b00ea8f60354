//! End-user authentication: the host product's JWT, verified.
//!
//! The algorithm is pinned by configuration, never taken from the token:
//! HS256 when a shared secret is configured, RS256 or ES256 as the matching
//! JWK says when a JWKS URL is. `exp` is required; `nbf`, `aud` and `iss` are
//! checked with at most 60 s of clock skew; `sub` is the user id. Errors say
//! what was wrong and never repeat the token.

mod error;
mod jwks;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use paywarden_core::UserId;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use error::{AuthConfigError, AuthError};
pub use jwks::Jwks;

/// Largest clock skew tolerated on `exp` and `nbf`.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// How long a demo token lives.
const DEMO_TOKEN_TTL_SECS: i64 = 8 * 3600;

/// What every token must carry besides a valid signature.
#[derive(Debug, Clone, Default)]
pub struct ClaimRules {
    /// Required `aud`, when set.
    pub audience: Option<String>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Clock skew tolerated on `exp`/`nbf`, at most [`MAX_LEEWAY`].
    pub leeway: Duration,
}

#[derive(Debug)]
enum Keys {
    Hs256 { secret: SecretString, demo: bool },
    Jwks(Jwks),
}

/// Verifies end users' tokens; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct UserAuth {
    keys: Keys,
    rules: ClaimRules,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
}

#[derive(Debug, Serialize)]
struct DemoClaims<'a> {
    sub: &'a str,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
}

impl UserAuth {
    /// HS256 with a shared secret of at least [`MIN_HS256_SECRET_BYTES`].
    pub fn hs256(secret: SecretString, rules: ClaimRules) -> Result<Self, AuthConfigError> {
        check_leeway(&rules)?;
        if secret.expose_secret().len() < MIN_HS256_SECRET_BYTES {
            return Err(AuthConfigError::ShortSecret(MIN_HS256_SECRET_BYTES));
        }
        Ok(Self {
            keys: Keys::Hs256 {
                secret,
                demo: false,
            },
            rules,
        })
    }

    /// RS256/ES256 with the keys published at a JWKS URL.
    pub fn jwks(jwks: Jwks, rules: ClaimRules) -> Result<Self, AuthConfigError> {
        check_leeway(&rules)?;
        Ok(Self {
            keys: Keys::Jwks(jwks),
            rules,
        })
    }

    /// Demo mode without a configured secret: HS256 with a random secret
    /// made for this process, and demo tokens signed with it.
    pub fn demo_random(rules: ClaimRules) -> Result<Self, AuthConfigError> {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = SecretString::from(URL_SAFE_NO_PAD.encode(bytes));
        Self::hs256(secret, rules).map(Self::with_demo)
    }

    /// Turns demo signing on (HS256 only; a JWKS verifier cannot sign).
    pub fn with_demo(mut self) -> Self {
        if let Keys::Hs256 { demo, .. } = &mut self.keys {
            *demo = true;
        }
        self
    }

    /// Whether demo mode is on (the demo login page exists).
    pub fn demo_mode(&self) -> bool {
        matches!(self.keys, Keys::Hs256 { demo: true, .. })
    }

    /// A token for `user` signed with the demo secret, in demo mode only.
    pub fn sign_demo(&self, user: &UserId) -> Option<Result<String, AuthError>> {
        let Keys::Hs256 { secret, demo: true } = &self.keys else {
            return None;
        };
        let now = chrono::Utc::now().timestamp();
        let claims = DemoClaims {
            sub: user.as_str(),
            exp: now + DEMO_TOKEN_TTL_SECS,
            iat: now,
            aud: self.rules.audience.as_deref(),
            iss: self.rules.issuer.as_deref(),
        };
        let key = EncodingKey::from_secret(secret.expose_secret().as_bytes());
        Some(
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
                .map_err(|e| AuthError::Signing(e.to_string())),
        )
    }

    /// The user a token names, if it is valid.
    pub async fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        let header_alg = header_alg(token)?;
        let (alg, key) = match &self.keys {
            Keys::Hs256 { secret, .. } => (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.expose_secret().as_bytes()),
            ),
            Keys::Jwks(jwks) => {
                let kid = jsonwebtoken::decode_header(token)
                    .map_err(|_| AuthError::Malformed)?
                    .kid
                    .ok_or(AuthError::NoKeyId)?;
                jwks.key(&kid).await?
            }
        };
        if header_alg != alg_name(alg) {
            return Err(AuthError::Algorithm(header_alg));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.rules.leeway.as_secs();
        validation.validate_nbf = true;
        validation.validate_exp = true;
        let mut required = vec!["exp"];
        match &self.rules.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.rules.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(AuthError::from_jwt)?;
        let sub = data.claims.sub.ok_or(AuthError::MissingSubject)?;
        sub.parse().map_err(|_| AuthError::InvalidSubject)
    }
}

fn check_leeway(rules: &ClaimRules) -> Result<(), AuthConfigError> {
    if rules.leeway > MAX_LEEWAY {
        return Err(AuthConfigError::Leeway(MAX_LEEWAY.as_secs()));
    }
    Ok(())
}

/// The `alg` the token's header claims, read before anything else so that
/// `none` and unknown algorithms are named in the refusal.
fn header_alg(token: &str) -> Result<String, AuthError> {
    let header = token.split('.').next().ok_or(AuthError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    let alg = value
        .get("alg")
        .and_then(serde_json::Value::as_str)
        .ok_or(AuthError::Malformed)?;
    // Only printable, short names are ever repeated in a message.
    if alg.len() > 16 || !alg.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AuthError::Malformed);
    }
    Ok(alg.to_owned())
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        _ => "unsupported",
    }
}
