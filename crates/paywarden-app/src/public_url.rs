//! The URL users reach paywarden at. Every redirect paywarden hands to
//! Stripe (Checkout's success and cancel URLs, the portal's return URL) is
//! built from it, never taken from a request.

use std::fmt;

use url::Url;

/// An absolute `http(s)` base URL with no query or fragment, kept without a
/// trailing slash so that paths can be appended.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

/// Why a base URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    #[error("not an absolute URL")]
    NotAbsolute,
    #[error("must be http or https")]
    Scheme,
    #[error("must not carry a query, a fragment or credentials")]
    Extras,
}

impl PublicBaseUrl {
    pub fn parse(text: &str) -> Result<Self, PublicUrlError> {
        let url = Url::parse(text.trim()).map_err(|_| PublicUrlError::NotAbsolute)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PublicUrlError::Scheme);
        }
        if url.host_str().is_none() {
            return Err(PublicUrlError::NotAbsolute);
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(PublicUrlError::Extras);
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// `path` (starting with `/`) under the base.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// Whether cookies should be `Secure`.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublicBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PublicBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicBaseUrl({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_path_and_drops_the_trailing_slash() {
        let url = PublicBaseUrl::parse("https://billing.example.com/pw/").expect("valid");
        assert_eq!(
            url.join("/payment/success"),
            "https://billing.example.com/pw/payment/success"
        );
        assert!(url.is_https());
        let local = PublicBaseUrl::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(local.join("/x"), "http://127.0.0.1:8080/x");
        assert!(!local.is_https());
    }

    #[test]
    fn refuses_what_cannot_be_a_base() {
        assert_eq!(
            PublicBaseUrl::parse("billing.example.com"),
            Err(PublicUrlError::NotAbsolute)
        );
        assert_eq!(
            PublicBaseUrl::parse("ftp://x.example"),
            Err(PublicUrlError::Scheme)
        );
        assert_eq!(
            PublicBaseUrl::parse("https://x.example/?next=evil"),
            Err(PublicUrlError::Extras)
        );
        assert_eq!(
            PublicBaseUrl::parse("https://u:p@x.example"),
            Err(PublicUrlError::Extras)
        );
    }
}
