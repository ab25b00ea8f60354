//! paywarden's storage.
//!
//! One [`Store`] speaks to SQLite (the embedded default) or PostgreSQL
//! (production), chosen by the URL scheme. The SQL is shared wherever the
//! two dialects agree (`$n` placeholders, `ON CONFLICT`, `RETURNING`, row
//! value comparison); what differs (connection setup, how a write
//! transaction begins, row locks) lives in `backend/`. Each backend has its
//! own migrations under `migrations/<backend>/`, with matching names.
//!
//! Work is grouped by aggregate: the event inbox ([`EventInbox`] inside a
//! transaction, [`EventLog`] for reads), projections ([`ProjectionWriter`]),
//! operator keys ([`ApiKeys`]), courses and seat bookings ([`Bookings`]), and outbound webhooks ([`WebhookEndpoints`],
//! [`OutboundQueue`], and `StoreTx::enqueue_outbound` inside a transaction). The rules that protect money and
//! exactly-once delivery are constraints in both schemas, not only code.
#![forbid(unsafe_code)]

mod accounts;
mod api_keys;
mod backend;
mod bookings;
mod credits;
mod entitlements;
mod error;
mod events;
mod listener;
mod manual_grants;
mod outbound;
mod projections;
mod purchases;
mod reads;
mod row;
mod store;
mod time;

pub use api_keys::{ApiKey, ApiKeyRole, ApiKeys, NewApiKey};
pub use backend::Backend;
pub use bookings::{
    Booking, BookingSettlement, BookingView, Bookings, CourseSeats, HoldOutcome, Settled,
    HOLD_GRACE_SECS,
};
pub use credits::{
    CreditLedger, CreditOp, CreditOutcome, CreditReceipt, EntryKind, Hold, HoldStatus, Idempotent,
    LedgerEntry, LedgerMismatch, LedgerPage, LedgerReport, Wallet,
};
pub use entitlements::{EntitlementReader, EntitlementsRow};
pub use error::StoreError;
pub use events::{
    Claim, EventFilter, EventInbox, EventLog, EventOutcome, EventPage, EventStatus, NewEvent,
    StoredEvent,
};
pub use listener::CommitListener;
pub use manual_grants::{ManualGrant, ManualGrants, NewManualGrant};
pub use outbound::{
    AttemptResult, ClaimedDelivery, Delivery, DeliveryFilter, DeliveryPage, DeliveryStatus,
    NewWebhookEndpoint, OutboundQueue, WebhookEndpoint, WebhookEndpoints,
};
pub use projections::{ApplyContext, ProjectionWriter};
pub use purchases::{CheckoutRequest, PaymentRow, Purchases, SubscriptionItemRow, LIVE_STATUSES};
pub use reads::{AccountView, ProjectionCounts, ProjectionReader, SubscriptionView};
pub use sqlx::Error as SqlxError;
pub use store::{DatabaseUrl, Store, StoreOptions, StoreTx};
pub use time::now_ms;
