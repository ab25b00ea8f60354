//! CSRF protection for the pages' forms: a double-submit token.
//!
//! Each visitor gets a random token in a `SameSite=Strict`, `HttpOnly`
//! cookie, and every form carries the same value in a hidden field. A
//! post is accepted only when the two match (compared in constant time):
//! another site can make a browser send the cookie (not even that, with
//! `Strict`), but cannot read it to fill in the field. It needs no
//! server-side state, so it works across replicas and restarts.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::extract::user::cookie;

/// The cookie's name, and the form field's.
pub const CSRF_COOKIE: &str = "pw_csrf";
pub const CSRF_FIELD: &str = "csrf";

/// The visitor's token: the one their cookie holds, or a new one that the
/// page response sets.
#[derive(Debug, Clone)]
pub struct CsrfToken {
    value: String,
    fresh: bool,
}

impl CsrfToken {
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The `Set-Cookie` value for a new token; `None` if the cookie has it.
    pub fn set_cookie(&self) -> Option<String> {
        self.fresh.then(|| {
            format!(
                "{CSRF_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                self.value
            )
        })
    }

    /// Whether a submitted form's token is this visitor's. A token the
    /// server made just now (no cookie came) never matches: the post did
    /// not come from one of our pages.
    pub fn accepts(&self, submitted: &str) -> bool {
        !self.fresh
            && !submitted.is_empty()
            && bool::from(self.value.as_bytes().ct_eq(submitted.as_bytes()))
    }

    /// [`accepts`](Self::accepts), as the 403 the form post answers.
    pub fn check(&self, submitted: &str) -> Result<(), ApiError> {
        if self.accepts(submitted) {
            Ok(())
        } else {
            Err(ApiError::CsrfRejected(
                "the form's security token is missing or stale: reload the page and try again"
                    .into(),
            ))
        }
    }
}

fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(value) = cookie(parts, CSRF_COOKIE).filter(|v| well_formed(v)) {
            return Ok(Self {
                value: value.to_owned(),
                fresh: false,
            });
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Ok(Self {
            value: URL_SAFE_NO_PAD.encode(bytes),
            fresh: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cookies_own_token_is_accepted() {
        let token = CsrfToken {
            value: "a".repeat(43),
            fresh: false,
        };
        assert!(token.accepts(&"a".repeat(43)));
        assert!(!token.accepts(&"b".repeat(43)));
        assert!(!token.accepts(""));
        let new = CsrfToken {
            value: "a".repeat(43),
            fresh: true,
        };
        assert!(
            !new.accepts(&"a".repeat(43)),
            "no cookie came with the post"
        );
        assert!(new
            .set_cookie()
            .is_some_and(|c| c.contains("SameSite=Strict")));
        assert!(token.set_cookie().is_none());
    }
}
