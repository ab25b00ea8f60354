//! Outbound webhooks to the host product: what paywarden tells it, how the
//! message is signed, and which destinations it may be sent to.
//!
//! The event types are a closed set, the payloads are plain JSON built
//! here, the signature follows the Standard Webhooks scheme (so the
//! consumer's existing library verifies it), and the destination rules
//! are a pure check over IP addresses. Sending is the app layer's job.

mod destination;
mod event;
mod signing;

pub use destination::{forbidden_reason, ForbiddenAddress};
pub use event::{OutboundEvent, OutboundEventType, UnknownEventType};
pub use signing::{
    EndpointSecret, OutboundSignatureError, SecretError, Signature, SIGNATURE_TOLERANCE_SECS,
};
