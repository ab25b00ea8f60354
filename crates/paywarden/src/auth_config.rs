//! End-user authentication settings: which key verifies the host product's
//! JWTs, which claims they must carry, and whether demo mode is on.
//!
//! Checked at start-up like every other setting; the verifier itself is
//! built by `serve` (a JWKS needs an HTTP client).

use std::time::Duration;

use anyhow::{bail, Context};
use paywarden_app::auth::{ClaimRules, Jwks, UserAuth, MAX_LEEWAY};
use secrecy::SecretString;

/// How often an unknown key id may trigger a JWKS refetch.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);

/// The key that verifies tokens.
#[derive(Debug, Clone)]
pub enum TokenKey {
    /// A shared HS256 secret (`jwt_secret`).
    Hs256(SecretString),
    /// RS256/ES256 keys published at a JWKS URL (`jwks_url`).
    Jwks(String),
    /// No key configured: demo mode signs with a secret made at start-up;
    /// without demo mode every end-user route answers 401.
    None,
}

/// Checked end-user auth settings.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub key: TokenKey,
    pub rules: ClaimRules,
    /// The demo login page exists (and demo tokens are signed).
    pub demo_mode: bool,
}

/// The auth keys as read from configuration.
pub struct RawAuth<'a> {
    pub jwt_secret: Option<&'a str>,
    pub jwks_url: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub leeway_secs: u64,
    /// Unset: on in the embedded default, off otherwise.
    pub demo_mode: Option<bool>,
    pub embedded: bool,
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl AuthSettings {
    pub fn check(raw: RawAuth<'_>) -> anyhow::Result<Self> {
        let leeway = Duration::from_secs(raw.leeway_secs);
        if leeway > MAX_LEEWAY {
            bail!(
                "jwt_leeway_secs must be at most {} seconds",
                MAX_LEEWAY.as_secs()
            );
        }
        let key = match (present(raw.jwt_secret), present(raw.jwks_url)) {
            (Some(_), Some(_)) => bail!(
                "set one of jwt_secret (PAYWARDEN_JWT_SECRET) and jwks_url (PAYWARDEN_JWKS_URL), not both"
            ),
            (Some(secret), None) => {
                if secret.len() < paywarden_app::auth::MIN_HS256_SECRET_BYTES {
                    bail!(
                        "jwt_secret (PAYWARDEN_JWT_SECRET) must be at least {} bytes",
                        paywarden_app::auth::MIN_HS256_SECRET_BYTES
                    );
                }
                TokenKey::Hs256(SecretString::from(secret.to_owned()))
            }
            (None, Some(url)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    bail!("jwks_url (PAYWARDEN_JWKS_URL) must be an http(s) URL");
                }
                TokenKey::Jwks(url.to_owned())
            }
            (None, None) => TokenKey::None,
        };
        let demo_mode = raw.demo_mode.unwrap_or(raw.embedded);
        if demo_mode && matches!(key, TokenKey::Jwks(_)) {
            bail!("demo_mode cannot sign tokens for a JWKS (jwks_url); turn one of them off");
        }
        Ok(Self {
            key,
            rules: ClaimRules {
                audience: present(raw.audience).map(str::to_owned),
                issuer: present(raw.issuer).map(str::to_owned),
                leeway,
            },
            demo_mode,
        })
    }

    /// The verifier, or `None` when end users cannot sign in at all.
    pub fn build(&self) -> anyhow::Result<Option<UserAuth>> {
        let rules = self.rules.clone();
        let auth = match (&self.key, self.demo_mode) {
            (TokenKey::Hs256(secret), demo) => {
                let auth = UserAuth::hs256(secret.clone(), rules).context("jwt_secret")?;
                if demo {
                    auth.with_demo()
                } else {
                    auth
                }
            }
            (TokenKey::Jwks(url), _) => {
                let jwks = Jwks::new(url, JWKS_MIN_REFRESH).context("jwks_url")?;
                UserAuth::jwks(jwks, rules).context("jwks_url")?
            }
            (TokenKey::None, true) => UserAuth::demo_random(rules).context("demo mode")?,
            (TokenKey::None, false) => return Ok(None),
        };
        Ok(Some(auth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawAuth<'static> {
        RawAuth {
            jwt_secret: None,
            jwks_url: None,
            audience: None,
            issuer: None,
            leeway_secs: 30,
            demo_mode: None,
            embedded: false,
        }
    }

    #[test]
    fn demo_mode_follows_the_embedded_default_unless_set() {
        let embedded = AuthSettings::check(RawAuth {
            embedded: true,
            ..raw()
        })
        .expect("valid");
        assert!(embedded.demo_mode);
        let auth = embedded.build().expect("builds").expect("demo signs in");
        assert!(auth.demo_mode());

        let remote = AuthSettings::check(raw()).expect("valid");
        assert!(!remote.demo_mode);
        assert!(
            remote.build().expect("builds").is_none(),
            "no key, no users"
        );

        let forced_off = AuthSettings::check(RawAuth {
            embedded: true,
            demo_mode: Some(false),
            ..raw()
        })
        .expect("valid");
        assert!(!forced_off.demo_mode);
    }

    #[test]
    fn a_secret_or_a_jwks_but_not_both() {
        let err = AuthSettings::check(RawAuth {
            jwt_secret: Some("0123456789abcdef0123456789abcdef"),
            jwks_url: Some("https://id.example/jwks.json"),
            ..raw()
        })
        .expect_err("both refused");
        assert!(err.to_string().contains("not both"), "{err}");

        let err = AuthSettings::check(RawAuth {
            jwt_secret: Some("short-secret-planted"),
            ..raw()
        })
        .expect_err("short refused");
        let shown = format!("{err:#}");
        assert!(shown.contains("at least 32 bytes"), "{shown}");
        assert!(!shown.contains("planted"), "never echoed: {shown}");

        let err = AuthSettings::check(RawAuth {
            jwks_url: Some("https://id.example/jwks.json"),
            demo_mode: Some(true),
            ..raw()
        })
        .expect_err("demo cannot sign for a JWKS");
        assert!(err.to_string().contains("demo_mode"), "{err}");
    }

    #[test]
    fn leeway_is_capped_at_a_minute() {
        let err = AuthSettings::check(RawAuth {
            leeway_secs: 61,
            ..raw()
        })
        .expect_err("refused");
        assert!(err.to_string().contains("jwt_leeway_secs"), "{err}");
    }

    #[test]
    fn the_secret_never_prints() {
        let settings = AuthSettings::check(RawAuth {
            jwt_secret: Some("planted-secret-of-more-than-32-bytes!!"),
            audience: Some("product"),
            ..raw()
        })
        .expect("valid");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("planted"), "{shown}");
        assert!(settings.build().expect("builds").is_some());
    }
}
