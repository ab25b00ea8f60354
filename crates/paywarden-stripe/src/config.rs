//! How to reach Stripe: base URL, key, pinned version, time and retry budget.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// The Stripe API version every request is sent with; the response types in
/// this crate are written against it.
pub const API_VERSION: &str = "2026-10-28.endive";

/// Settings for a [`crate::StripeClient`]. `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `https://api.stripe.com` in production, the stand-in's URL otherwise.
    pub api_base: Url,
    /// The secret (or restricted) key; exposed only when building a request.
    pub secret_key: SecretString,
    /// Sent as `Stripe-Version`; [`API_VERSION`] unless a test overrides it.
    pub api_version: String,
    /// Time limit for one attempt (connect + request + response body).
    pub timeout: Duration,
    /// Retries after the first attempt (Stripe's SDKs default to 2).
    pub max_retries: u32,
    /// First backoff delay; doubled per retry, capped at `max_retry_delay`.
    pub initial_retry_delay: Duration,
    /// Largest single backoff delay.
    pub max_retry_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub max_total_time: Duration,
}

impl StripeConfig {
    /// Stripe's SDK defaults: 30 s per attempt, 2 retries, 0.5 s → 5 s backoff.
    pub fn new(api_base: Url, secret_key: SecretString) -> Self {
        Self {
            api_base,
            secret_key,
            api_version: API_VERSION.to_owned(),
            timeout: Duration::from_secs(30),
            max_retries: 2,
            initial_retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(5),
            max_total_time: Duration::from_secs(60),
        }
    }
}
