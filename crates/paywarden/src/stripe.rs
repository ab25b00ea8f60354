//! Which Stripe paywarden talks to: the real one (when `STRIPE_SECRET_KEY`
//! is set) or the stand-in it mounts under `/sim` (when it is not).
//!
//! The embedded default lets a fresh checkout run end to end with no
//! account and no network: the stand-in's API is the Stripe API, its
//! webhook endpoint posts signed events back to `/webhooks/stripe`.

use std::fmt;

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};

/// Stripe's own API base, the default of `stripe_api_base`.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// A Stripe secret (or restricted) API key. Its `Debug` cannot print it.
#[derive(Clone)]
pub struct StripeSecretKey(SecretString);

impl StripeSecretKey {
    /// Wraps a key; it must look like one (`sk_…` or `rk_…`).
    pub fn new(key: &str) -> anyhow::Result<Self> {
        let key = key.trim();
        let looks_right = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
            .iter()
            .any(|prefix| key.len() > prefix.len() && key.starts_with(prefix));
        if !looks_right {
            bail!("must be a Stripe secret key (sk_test_…, sk_live_…, rk_test_… or rk_live_…)");
        }
        Ok(Self(SecretString::from(key.to_owned())))
    }

    /// The key, for the `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether this is a test-mode key.
    pub fn is_test(&self) -> bool {
        let key = self.0.expose_secret();
        key.starts_with("sk_test_") || key.starts_with("rk_test_")
    }
}

impl fmt::Debug for StripeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StripeSecretKey([redacted])")
    }
}

/// Where Stripe API calls go and with which key. `api_base` is the URL the
/// `/v1/…` paths are appended to, as the official SDKs take it
/// (`https://api.stripe.com`, or `http://127.0.0.1:8080/sim` for the
/// embedded stand-in), without a trailing slash.
#[derive(Debug, Clone)]
pub struct StripeTarget {
    pub api_base: String,
    pub secret_key: StripeSecretKey,
}

impl StripeTarget {
    /// `api_base` + `/v1`: the prefix of every API path.
    pub fn v1(&self) -> String {
        format!("{}/v1", self.api_base)
    }

    /// A client for this Stripe, with the SDKs' retry and timeout defaults.
    pub fn client(&self) -> anyhow::Result<paywarden_stripe::StripeClient> {
        let base = url::Url::parse(&self.api_base)
            .map_err(|e| anyhow::anyhow!("stripe_api_base is not a URL: {e}"))?;
        let config = paywarden_stripe::StripeConfig::new(base, self.secret_key.0.clone());
        paywarden_stripe::StripeClient::new(config)
            .map_err(|e| anyhow::anyhow!("building the Stripe client: {e}"))
    }
}

/// The configured choice; the embedded target is known only once the
/// server has bound its address.
#[derive(Debug, Clone)]
pub enum StripeSetup {
    /// No `STRIPE_SECRET_KEY`: serve the stand-in under `/sim` and use it.
    Embedded,
    /// A key was given: use `api_base` (Stripe's, unless overridden).
    Remote(StripeTarget),
}

/// Checks a configured API base: an absolute http(s) URL, kept without a
/// trailing slash.
pub fn api_base(text: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(text.trim()).map_err(|e| anyhow::anyhow!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("must be an http:// or https:// URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("must not have a query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_never_printed() {
        let key = StripeSecretKey::new(" sk_test_abc123 ").expect("a test key");
        assert!(key.is_test());
        assert_eq!(key.expose(), "sk_test_abc123");
        assert!(!format!("{key:?}").contains("abc123"));
        for bad in ["", "sk_test_", "pk_test_abc", "whsec_abc", "abc"] {
            assert!(StripeSecretKey::new(bad).is_err(), "{bad:?} refused");
        }
    }

    #[test]
    fn api_bases_are_urls_without_a_trailing_slash() {
        assert_eq!(
            api_base("https://api.stripe.com/").expect("valid"),
            "https://api.stripe.com"
        );
        assert_eq!(
            api_base("http://127.0.0.1:12111").expect("valid"),
            "http://127.0.0.1:12111"
        );
        assert_eq!(
            api_base("http://localhost:8080/sim/").expect("valid"),
            "http://localhost:8080/sim"
        );
        for bad in ["api.stripe.com", "ftp://x", "http://x/?a=1", ""] {
            assert!(api_base(bad).is_err(), "{bad:?} refused");
        }
    }
}
