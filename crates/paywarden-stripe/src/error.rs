//! The one error type of the Stripe layer. No variant can hold the secret key:
//! Stripe's messages are scrubbed of it before they are stored.

/// Stripe's error `type`, read tolerantly (unknown values are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    ApiError,
    CardError,
    IdempotencyError,
    InvalidRequestError,
    RateLimitError,
    Other(String),
}

impl ErrorKind {
    pub(crate) fn parse(kind: &str) -> Self {
        match kind {
            "api_error" => Self::ApiError,
            "card_error" => Self::CardError,
            "idempotency_error" => Self::IdempotencyError,
            "invalid_request_error" => Self::InvalidRequestError,
            "rate_limit_error" => Self::RateLimitError,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Stripe's error object, with the HTTP status and `Request-Id` it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// Stripe's `type`.
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    /// The request parameter Stripe blames, if any.
    pub param: Option<String>,
    /// Stripe's message, scrubbed of the secret key.
    pub message: String,
    pub request_id: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stripe {} {:?}", self.status, self.kind)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What went wrong talking to Stripe.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error object (boxed: it is large, and rare).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The key was refused (401) or lacks a permission (403).
    #[error("stripe refused the API key ({status}): {message}")]
    Authentication {
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    /// No answer: connection refused or reset, DNS, TLS.
    #[error("network error talking to stripe")]
    Network(#[source] reqwest::Error),
    /// One attempt took longer than the configured timeout.
    #[error("stripe did not answer in time")]
    Timeout,
    /// A 2xx body that does not read as the expected type.
    #[error("unexpected stripe response body")]
    Decode(#[source] serde_json::Error),
}

impl StripeError {
    /// Stripe's HTTP status, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(api) => Some(api.status),
            Self::Authentication { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a 404 `resource_missing`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api(api) if api.status == 404)
    }
}
