//! Why a token was refused, and why auth settings were refused at startup.
//!
//! Messages say what was wrong; none of them repeats the token.

use jsonwebtoken::errors::ErrorKind;

/// Why a token does not authenticate anyone (answered as 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token or session cookie")]
    Missing,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm {0} is not the one configured")]
    Algorithm(String),
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token is from another issuer")]
    Issuer,
    #[error("the token lacks the required claim {0}")]
    MissingClaim(String),
    #[error("the token has no subject (sub)")]
    MissingSubject,
    #[error("the token's subject is not a valid user id")]
    InvalidSubject,
    #[error("the token has no key id (kid)")]
    NoKeyId,
    #[error("the token's key id is not in the key set")]
    UnknownKey,
    #[error("the key set could not be fetched: {0}")]
    KeysUnavailable(String),
    #[error("a demo token could not be signed: {0}")]
    Signing(String),
}

impl AuthError {
    pub(crate) fn from_jwt(err: jsonwebtoken::errors::Error) -> Self {
        match err.kind() {
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm => Self::Algorithm("of this token".into()),
            _ => Self::Malformed,
        }
    }
}

/// Auth settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthConfigError {
    #[error("the HS256 secret must be at least {0} bytes")]
    ShortSecret(usize),
    #[error("the clock-skew leeway may be at most {0} s")]
    Leeway(u64),
    #[error("the JWKS URL is not a valid http(s) URL")]
    JwksUrl,
}
