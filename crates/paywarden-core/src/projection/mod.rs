//! Projections: what one verified event changes.
//!
//! [`plan`] reads an event into typed Stripe objects and returns the rows it
//! changes, without touching storage. The store applies the plan in the
//! same transaction that records the event, so an event and its effects are
//! durable together or not at all.

mod billing;
mod catalog;
mod checkout;
pub mod records;

use serde::de::DeserializeOwned;

pub use records::*;

use crate::precedence::Precedence;
use crate::stripe::Event;

/// What an event does.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A type paywarden projects: these rows change.
    Apply(Vec<Change>),
    /// A type paywarden stores but does not project.
    Ignore,
}

/// The event's object is not what its type promises (wrong shape, missing
/// id, a field of the wrong type). The event is kept as `failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot project {event_type}: {reason}")]
pub struct ProjectionError {
    pub event_type: String,
    pub reason: String,
}

/// Plans the effects of one event.
pub fn plan(event: &Event) -> Result<Plan, ProjectionError> {
    let Some(project) = projector(&event.event_type) else {
        return Ok(Plan::Ignore);
    };
    // Stripe's dashboard sample events carry objects without an id: there
    // is no object to key a row on, so there is nothing to project.
    if event.object.is_object()
        && event
            .object
            .get("id")
            .is_none_or(serde_json::Value::is_null)
    {
        return Ok(Plan::Apply(Vec::new()));
    }
    project(event).map(Plan::Apply)
}

type Projector = fn(&Event) -> Result<Vec<Change>, ProjectionError>;

/// The projection for an event type, if paywarden projects it.
fn projector(event_type: &str) -> Option<Projector> {
    Some(match event_type {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => checkout::plan,
        t if t.starts_with("customer.subscription.") => billing::subscription,
        "invoice.paid" | "invoice.payment_succeeded" => billing::invoice_paid,
        "invoice.payment_failed" => billing::invoice_payment_failed,
        "invoice_payment.paid" => billing::invoice_payment_paid,
        "payment_intent.succeeded" => billing::payment_intent_succeeded,
        "payment_intent.payment_failed" => billing::payment_intent_failed,
        "charge.refunded" => billing::charge_refunded,
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => {
            billing::refund
        }
        t if t.starts_with("charge.dispute.") => billing::dispute,
        "payment_method.attached"
        | "payment_method.detached"
        | "payment_method.updated"
        | "payment_method.automatically_updated" => catalog::payment_method,
        "customer.created" | "customer.updated" | "customer.deleted" => catalog::customer,
        t if t.starts_with("product.") => catalog::product,
        t if t.starts_with("price.") || t.starts_with("plan.") => catalog::price,
        _ => return None,
    })
}

/// Whether paywarden projects this event type (others are stored as `ignored`).
pub fn is_projected(event_type: &str) -> bool {
    projector(event_type).is_some()
}

/// Reads `data.object` as `T`, naming the event type on failure.
/// The error names the offending field (`items: invalid type …`).
fn object<T: DeserializeOwned>(event: &Event) -> Result<T, ProjectionError> {
    read(event, &event.object)
}

/// Reads a JSON value as `T`; the error names the path of the bad field.
fn read<T: DeserializeOwned>(
    event: &Event,
    value: &serde_json::Value,
) -> Result<T, ProjectionError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        malformed(event, format!("{path}: {}", e.into_inner()))
    })
}

fn malformed(event: &Event, reason: impl Into<String>) -> ProjectionError {
    ProjectionError {
        event_type: event.event_type.clone(),
        reason: reason.into(),
    }
}

/// Parses the primary object's id; a bad one is a malformed event.
fn primary_id<T>(event: &Event, id: &str) -> Result<T, ProjectionError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    id.parse()
        .map_err(|e: T::Err| malformed(event, e.to_string()))
}

fn precedence(event: &Event, terminal: bool, rank: i32) -> Precedence {
    Precedence {
        terminal,
        created: event.created,
        rank,
        event_id: event.id.clone(),
    }
}

fn currency(code: &Option<String>) -> Option<crate::money::Currency> {
    code.as_deref().and_then(|c| c.parse().ok())
}

#[cfg(test)]
mod tests;
