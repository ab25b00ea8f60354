//! The rows a projection writes: plain data, one struct per kind of row.
//!
//! A projection turns a verified event into a list of [`Change`]s; the store
//! applies them inside the transaction that records the event. Object rows
//! carry a [`Precedence`] and are written only when it beats the stored one;
//! fact rows (payments, failures, notifications, accounts) are insert-once
//! under a unique key, so a repeated apply adds nothing.

use serde_json::Value;

use crate::ids::{
    ChargeId, CheckoutSessionId, CustomerId, DisputeId, EventId, InvoiceId, PaymentIntentId,
    PaymentMethodId, PriceId, ProductId, RefundId, SubscriptionId, SubscriptionItemId,
};
use crate::money::Currency;
use crate::precedence::Precedence;
use crate::stripe::SubscriptionStatus;
use crate::user::UserId;

/// One row-level effect of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Customer(CustomerRecord),
    /// Associates a Stripe customer with a user (from a completed Checkout).
    CustomerLink(CustomerLink),
    Product(ProductRecord),
    Price(PriceRecord),
    CheckoutSession(CheckoutSessionRecord),
    Subscription(SubscriptionRecord),
    /// A completed subscription Checkout: the subscription exists, is paid
    /// for, and belongs to this user.
    SubscriptionActivation(SubscriptionActivation),
    ProvisionAccount(AccountProvision),
    Payment(PaymentRecord),
    /// Stripe says this PaymentIntent paid this invoice.
    InvoicePaymentLink(InvoicePaymentLink),
    PaymentFailure(PaymentFailureRecord),
    Notification(NotificationRecord),
    Refund(RefundRecord),
    Dispute(DisputeRecord),
    PaymentMethod(PaymentMethodRecord),
    /// A payment, failure or expiry of a session paywarden made for a
    /// course booking (`metadata.booking_id`).
    Booking(BookingRecord),
}

/// What a verified event says about a booking's payment.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingRecord {
    pub booking: crate::ids::BookingId,
    /// The Checkout Session, when the event is about one.
    pub session: Option<CheckoutSessionId>,
    /// `Paid`, `Failed` or `Expired` (never `AwaitingPayment`).
    pub outcome: CheckoutOutcome,
    pub amount_paid: Option<i64>,
    pub payment_intent: Option<PaymentIntentId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecord {
    pub id: CustomerId,
    pub email: Option<String>,
    pub name: Option<String>,
    /// `metadata.user_id`, when the product set it.
    pub user_id: Option<UserId>,
    pub deleted: bool,
    pub precedence: Precedence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerLink {
    pub customer: CustomerId,
    pub user_id: UserId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProductRecord {
    pub id: ProductId,
    pub name: Option<String>,
    pub active: bool,
    pub deleted: bool,
    pub precedence: Precedence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PriceRecord {
    pub id: PriceId,
    pub product: Option<ProductId>,
    pub active: bool,
    pub deleted: bool,
    pub currency: Option<Currency>,
    pub unit_amount: Option<i64>,
    /// `day|week|month|year` for recurring prices, `None` for one-time.
    pub interval: Option<String>,
    pub interval_count: Option<i64>,
    pub lookup_key: Option<String>,
    pub nickname: Option<String>,
    pub precedence: Precedence,
}

/// What paywarden concluded about a Checkout Session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutOutcome {
    /// Completed and paid (or nothing to pay): fulfil.
    Paid,
    /// Completed, but a delayed payment method has not settled yet.
    AwaitingPayment,
    /// The delayed payment failed.
    Failed,
    /// Expired without completing.
    Expired,
}

impl CheckoutOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutSessionRecord {
    pub id: CheckoutSessionId,
    pub user_id: Option<UserId>,
    pub customer: Option<CustomerId>,
    /// `payment|subscription|setup`.
    pub mode: Option<String>,
    pub status: Option<String>,
    pub payment_status: Option<String>,
    pub outcome: CheckoutOutcome,
    pub subscription: Option<SubscriptionId>,
    pub payment_intent: Option<PaymentIntentId>,
    pub amount_total: Option<i64>,
    pub currency: Option<Currency>,
    /// The catalog product bought (`metadata.plan`, set by paywarden).
    pub plan: Option<String>,
    pub precedence: Precedence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionItemRecord {
    pub id: SubscriptionItemId,
    pub price: Option<PriceId>,
    pub product: Option<ProductId>,
    pub quantity: Option<i64>,
    pub unit_amount: Option<i64>,
    pub currency: Option<Currency>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    pub id: SubscriptionId,
    pub customer: Option<CustomerId>,
    /// `metadata.user_id`, when the product set it.
    pub user_id: Option<UserId>,
    pub status: SubscriptionStatus,
    pub items: Vec<SubscriptionItemRecord>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// `keep_as_draft|mark_uncollectible|void` while collection is paused.
    pub pause_behavior: Option<String>,
    pub pause_resumes_at: Option<i64>,
    pub trial_start: Option<i64>,
    pub trial_end: Option<i64>,
    pub precedence: Precedence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionActivation {
    pub id: SubscriptionId,
    pub customer: Option<CustomerId>,
    pub user_id: Option<UserId>,
    /// Precedence of an `active` state at the Checkout event's time: it
    /// creates the row if missing, and only raises the status if nothing
    /// newer is known.
    pub precedence: Precedence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountProvision {
    pub user_id: UserId,
    /// The billing facts from the Checkout Session (customer, email, amount,
    /// currency, mode, subscription, payment status).
    pub billing: Value,
    /// The event that provisioned the account.
    pub event_id: EventId,
    pub created: i64,
}

/// What kind of Stripe object a payment row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentSource {
    Invoice,
    PaymentIntent,
}

impl PaymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::PaymentIntent => "payment_intent",
        }
    }
}

/// A successful payment, recorded once per paying object.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRecord {
    /// `in_…` or `pi_…`: the row's unique key.
    pub source_id: String,
    pub source: PaymentSource,
    pub invoice: Option<InvoiceId>,
    pub payment_intent: Option<PaymentIntentId>,
    pub customer: Option<CustomerId>,
    pub subscription: Option<SubscriptionId>,
    pub amount: i64,
    pub currency: Option<Currency>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub event_id: EventId,
    pub created: i64,
}

/// The PaymentIntent that paid an invoice. Since 2025-03-31.basil a
/// PaymentIntent no longer names its invoice, so an invoice's payment and
/// its PaymentIntent's arrive as two unrelated payments; this link, from
/// whichever event states it (`invoice.paid` with its payments, an older
/// PaymentIntent's `invoice`, `invoice_payment.paid`), lets the reads count
/// the money once.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoicePaymentLink {
    pub invoice: InvoiceId,
    pub payment_intent: PaymentIntentId,
}

/// A failed payment attempt, recorded once per event.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentFailureRecord {
    pub event_id: EventId,
    pub invoice: Option<InvoiceId>,
    pub payment_intent: Option<PaymentIntentId>,
    pub customer: Option<CustomerId>,
    pub subscription: Option<SubscriptionId>,
    pub amount: Option<i64>,
    pub currency: Option<Currency>,
    pub attempt_count: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub message: Option<String>,
    pub created: i64,
}

/// A message owed to a user, queued for a later delivery stage. The cause
/// key is unique: one notification per cause, however often it is seen.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    pub cause_key: String,
    pub kind: String,
    pub customer: Option<CustomerId>,
    pub payload: Value,
    pub created: i64,
}

/// A refund. Recent API versions no longer list a charge's refunds on
/// `charge.refunded`; then the row stands for "everything refunded on this
/// charge so far" and is keyed by the charge id.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundRecord {
    /// The refund id (`re_…`), or the charge id for a charge-level total.
    pub key: String,
    pub refund: Option<RefundId>,
    pub charge: Option<ChargeId>,
    pub payment_intent: Option<PaymentIntentId>,
    pub amount: i64,
    pub currency: Option<Currency>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub precedence: Precedence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DisputeRecord {
    pub id: DisputeId,
    pub charge: Option<ChargeId>,
    pub payment_intent: Option<PaymentIntentId>,
    pub amount: i64,
    pub currency: Option<Currency>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub precedence: Precedence,
}

/// A customer's payment method: brand, last4 and expiry only, never more.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentMethodRecord {
    pub id: PaymentMethodId,
    pub customer: Option<CustomerId>,
    pub method_type: Option<String>,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub attached: bool,
    pub precedence: Precedence,
}
