//! The use-case layer's error, composed from the layers below.

use paywarden_core::signature::SignatureError;
use paywarden_core::stripe::EnvelopeError;
use paywarden_store::StoreError;

/// Why a use case could not complete.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The webhook signature check failed.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A correctly signed body is not a Stripe event.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The request is well-formed but asks for something invalid.
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A debit or hold asked for more than the available balance.
    #[error("not enough credits: {available} available")]
    InsufficientCredits { available: i64 },
    /// An `Idempotency-Key` already answered a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// An end user's token was refused.
    #[error(transparent)]
    Unauthorized(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A call to Stripe failed.
    #[error(transparent)]
    Stripe(#[from] paywarden_stripe::StripeError),
    /// The database is unavailable; reported where the original error
    /// cannot be (it went to another delivery of the same batch).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A broken invariant of our own (a background task gone, say).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Whether the caller should be told to come back later (503): the
    /// database is down, or kept aborting the transaction for conflicts.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Store(err) => err.is_unavailable() || err.is_transient(),
            Self::Unavailable(_) => true,
            _ => false,
        }
    }
}
