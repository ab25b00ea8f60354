//! Checkout Session events: record the session; on a paid completion, link
//! the customer to the user, provision the user's account and activate the
//! subscription.

use serde_json::json;

use super::records::*;
use super::{currency, malformed, object, precedence, primary_id, ProjectionError};
use crate::ids::CheckoutSessionId;
use crate::stripe::{
    metadata_text, CheckoutPaymentStatus, CheckoutSession, Event, SubscriptionStatus,
};
use crate::user::UserId;

pub(super) fn plan(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let session: CheckoutSession = object(event)?;
    let id: CheckoutSessionId = primary_id(event, &session.id)?;
    let outcome = outcome(event, &session)?;
    let user_id = user_of(&session);
    let customer = session.customer.as_ref().and_then(|r| r.typed());
    let subscription = session.subscription.as_ref().and_then(|r| r.typed());
    let (terminal, rank) = match outcome {
        CheckoutOutcome::AwaitingPayment => (false, 1),
        CheckoutOutcome::Paid => (true, 2),
        CheckoutOutcome::Failed | CheckoutOutcome::Expired => (true, 1),
    };

    let mut changes = vec![Change::CheckoutSession(CheckoutSessionRecord {
        id: id.clone(),
        user_id: user_id.clone(),
        customer: customer.clone(),
        mode: session.mode.clone(),
        status: session.status.as_ref().map(|s| s.as_str().to_owned()),
        payment_status: session
            .payment_status
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        outcome,
        subscription: subscription.clone(),
        payment_intent: session.payment_intent.as_ref().and_then(|r| r.typed()),
        amount_total: session.amount_total,
        currency: currency(&session.currency),
        plan: metadata_text(&session.metadata, "plan").map(str::to_owned),
        precedence: precedence(event, terminal, rank),
    })];

    if let Some(booking) =
        metadata_text(&session.metadata, "booking_id").and_then(|id| id.parse().ok())
    {
        if outcome != CheckoutOutcome::AwaitingPayment {
            changes.push(Change::Booking(BookingRecord {
                booking,
                session: Some(id.clone()),
                outcome,
                amount_paid: session.amount_total,
                payment_intent: session.payment_intent.as_ref().and_then(|r| r.typed()),
            }));
        }
    }
    if outcome != CheckoutOutcome::Paid {
        return Ok(changes);
    }
    if let (Some(customer), Some(user_id)) = (&customer, &user_id) {
        changes.push(Change::CustomerLink(CustomerLink {
            customer: customer.clone(),
            user_id: user_id.clone(),
        }));
    }
    if let Some(user_id) = &user_id {
        changes.push(Change::ProvisionAccount(AccountProvision {
            user_id: user_id.clone(),
            billing: json!({
                "checkout_session": session.id,
                "customer": customer.as_ref().map(|c| c.as_str()),
                "email": session.email(),
                "amount": session.amount_total,
                "currency": session.currency,
                "mode": session.mode,
                "subscription": subscription.as_ref().map(|s| s.as_str()),
                "payment_status": session.payment_status.as_ref().map(|s| s.as_str()),
            }),
            event_id: event.id.clone(),
            created: event.created,
        }));
    }
    if session.mode.as_deref() == Some("subscription") {
        if let Some(subscription) = subscription {
            changes.push(Change::SubscriptionActivation(SubscriptionActivation {
                id: subscription,
                customer,
                user_id,
                precedence: precedence(event, false, SubscriptionStatus::Active.rank()),
            }));
        }
    }
    Ok(changes)
}

/// What the event says about the purchase. A `completed` session is paid
/// only when Stripe says so; a delayed method settles in a later event.
fn outcome(event: &Event, session: &CheckoutSession) -> Result<CheckoutOutcome, ProjectionError> {
    Ok(match event.event_type.as_str() {
        "checkout.session.completed" => match session.payment_status {
            Some(CheckoutPaymentStatus::Paid | CheckoutPaymentStatus::NoPaymentRequired) => {
                CheckoutOutcome::Paid
            }
            _ => CheckoutOutcome::AwaitingPayment,
        },
        "checkout.session.async_payment_succeeded" => CheckoutOutcome::Paid,
        "checkout.session.async_payment_failed" => CheckoutOutcome::Failed,
        "checkout.session.expired" => CheckoutOutcome::Expired,
        other => return Err(malformed(event, format!("not a checkout event: {other}"))),
    })
}

/// The product's user: `client_reference_id`, else `metadata.user_id`.
fn user_of(session: &CheckoutSession) -> Option<UserId> {
    session
        .client_reference_id
        .as_deref()
        .and_then(|id| id.parse().ok())
        .or_else(|| metadata_text(&session.metadata, "user_id").and_then(|id| id.parse().ok()))
}
