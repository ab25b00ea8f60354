//! Subscriptions, invoices, payments, refunds and disputes.

use serde_json::json;

use super::records::*;
use super::{currency, malformed, object, precedence, primary_id, read, ProjectionError};
use crate::ids::{ChargeId, InvoiceId};
use crate::stripe::{
    metadata_text, Charge, Dispute, Event, Invoice, InvoicePayment, PaymentIntent, Refund,
    Subscription,
};

pub(super) fn subscription(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let snapshot: Subscription = object(event)?;
    Ok(vec![Change::Subscription(subscription_record(
        event, &snapshot,
    )?)])
}

fn subscription_record(
    event: &Event,
    snapshot: &Subscription,
) -> Result<SubscriptionRecord, ProjectionError> {
    let (current_period_start, current_period_end) = snapshot.current_period();
    let items = snapshot
        .items
        .data
        .iter()
        .map(|item| {
            let price = item.price();
            Ok(SubscriptionItemRecord {
                id: primary_id(event, &item.id)?,
                price: price.and_then(|p| p.id.parse().ok()),
                product: price
                    .and_then(|p| p.product.as_ref())
                    .and_then(|r| r.typed()),
                quantity: item.quantity,
                unit_amount: price.and_then(|p| p.amount()),
                currency: price.and_then(|p| currency(&p.currency)),
                current_period_start: item.current_period_start.or(current_period_start),
                current_period_end: item.current_period_end.or(current_period_end),
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    let pause = snapshot.pause_collection.as_ref();
    Ok(SubscriptionRecord {
        id: primary_id(event, &snapshot.id)?,
        customer: snapshot.customer.as_ref().and_then(|r| r.typed()),
        user_id: metadata_text(&snapshot.metadata, "user_id").and_then(|id| id.parse().ok()),
        status: snapshot.status.clone(),
        items,
        current_period_start,
        current_period_end,
        cancel_at_period_end: snapshot.cancel_at_period_end.unwrap_or(false),
        cancel_at: snapshot.cancel_at,
        canceled_at: snapshot.canceled_at,
        ended_at: snapshot.ended_at,
        pause_behavior: pause.and_then(|p| p.behavior.clone()),
        pause_resumes_at: pause.and_then(|p| p.resumes_at),
        trial_start: snapshot.trial_start,
        trial_end: snapshot.trial_end,
        precedence: precedence(event, snapshot.status.is_terminal(), snapshot.status.rank()),
    })
}

/// An invoice sent with its subscription expanded also tells the
/// subscription's state (e.g. `past_due` after a failed renewal).
fn expanded_subscription(
    event: &Event,
    invoice: &Invoice,
) -> Result<Option<Change>, ProjectionError> {
    let Some(value) = invoice.expanded_subscription() else {
        return Ok(None);
    };
    let snapshot: Subscription = read(event, value)?;
    Ok(Some(Change::Subscription(subscription_record(
        event, &snapshot,
    )?)))
}

fn invoice_id(event: &Event, invoice: &Invoice) -> Result<InvoiceId, ProjectionError> {
    let id = invoice
        .id
        .as_deref()
        .ok_or_else(|| malformed(event, "invoice without an id"))?;
    primary_id(event, id)
}

pub(super) fn invoice_paid(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let invoice: Invoice = object(event)?;
    let id = invoice_id(event, &invoice)?;
    let (period_start, period_end) = invoice.service_period();
    let mut changes = vec![Change::Payment(PaymentRecord {
        source_id: id.to_string(),
        source: PaymentSource::Invoice,
        invoice: Some(id),
        payment_intent: invoice.payment_intent_ref().and_then(|r| r.typed()),
        customer: invoice.customer.as_ref().and_then(|r| r.typed()),
        subscription: invoice.subscription_id(),
        amount: invoice.amount_paid.or(invoice.total).unwrap_or(0),
        currency: currency(&invoice.currency),
        period_start,
        period_end,
        event_id: event.id.clone(),
        created: event.created,
    })];
    if let Some(payment_intent) = invoice.payment_intent_ref().and_then(|r| r.typed()) {
        changes.push(Change::InvoicePaymentLink(InvoicePaymentLink {
            invoice: invoice_id(event, &invoice)?,
            payment_intent,
        }));
    }
    changes.extend(expanded_subscription(event, &invoice)?);
    Ok(changes)
}

/// `invoice_payment.paid` (≥ basil): which PaymentIntent paid which invoice.
pub(super) fn invoice_payment_paid(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let payment: InvoicePayment = object(event)?;
    let invoice = payment.invoice.as_ref().and_then(|r| r.typed());
    let intent = payment
        .payment
        .as_ref()
        .and_then(|p| p.payment_intent.as_ref())
        .and_then(|r| r.typed());
    Ok(match (invoice, intent) {
        (Some(invoice), Some(payment_intent)) => {
            vec![Change::InvoicePaymentLink(InvoicePaymentLink {
                invoice,
                payment_intent,
            })]
        }
        // Paid out of band or by another kind of payment: nothing to link.
        _ => Vec::new(),
    })
}

pub(super) fn invoice_payment_failed(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let invoice: Invoice = object(event)?;
    let id = invoice_id(event, &invoice)?;
    let customer = invoice.customer.as_ref().and_then(|r| r.typed());
    let subscription = invoice.subscription_id();
    let attempt = invoice.attempt_count.unwrap_or(0);
    let mut changes = vec![
        Change::PaymentFailure(PaymentFailureRecord {
            event_id: event.id.clone(),
            invoice: Some(id.clone()),
            payment_intent: invoice.payment_intent_ref().and_then(|r| r.typed()),
            customer: customer.clone(),
            subscription: subscription.clone(),
            amount: invoice.amount_due,
            currency: currency(&invoice.currency),
            attempt_count: invoice.attempt_count,
            next_attempt_at: invoice.next_payment_attempt,
            message: None,
            created: event.created,
        }),
        Change::Notification(NotificationRecord {
            cause_key: format!("payment_failed:{id}:{attempt}"),
            kind: "payment_failed".into(),
            customer,
            payload: json!({
                "invoice": id.as_str(),
                "subscription": subscription.as_ref().map(|s| s.as_str()),
                "amount_due": invoice.amount_due,
                "currency": invoice.currency,
                "attempt_count": invoice.attempt_count,
                "next_payment_attempt": invoice.next_payment_attempt,
                "hosted_invoice_url": invoice.hosted_invoice_url,
            }),
            created: event.created,
        }),
    ];
    changes.extend(expanded_subscription(event, &invoice)?);
    Ok(changes)
}

pub(super) fn payment_intent_succeeded(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let intent: PaymentIntent = object(event)?;
    let id = primary_id(event, &intent.id)?;
    // A PaymentIntent that names its invoice (≤ acacia) is counted with it.
    if let Some(invoice) = intent.invoice.as_ref().and_then(|r| r.typed()) {
        return Ok(vec![Change::InvoicePaymentLink(InvoicePaymentLink {
            invoice,
            payment_intent: id,
        })]);
    }
    let mut changes = Vec::new();
    // A booking's Checkout copies `booking_id` onto its PaymentIntent, so
    // the payment confirms the booking even if the session's event is late.
    if let Some(booking) =
        metadata_text(&intent.metadata, "booking_id").and_then(|b| b.parse().ok())
    {
        changes.push(Change::Booking(BookingRecord {
            booking,
            session: None,
            outcome: CheckoutOutcome::Paid,
            amount_paid: intent.amount_received.or(intent.amount),
            payment_intent: Some(id.clone()),
        }));
    }
    changes.push(Change::Payment(PaymentRecord {
        source_id: intent.id.clone(),
        source: PaymentSource::PaymentIntent,
        invoice: None,
        payment_intent: Some(id),
        customer: intent.customer.as_ref().and_then(|r| r.typed()),
        subscription: None,
        amount: intent.amount_received.or(intent.amount).unwrap_or(0),
        currency: currency(&intent.currency),
        period_start: None,
        period_end: None,
        event_id: event.id.clone(),
        created: event.created,
    }));
    Ok(changes)
}

pub(super) fn payment_intent_failed(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let intent: PaymentIntent = object(event)?;
    Ok(vec![Change::PaymentFailure(PaymentFailureRecord {
        event_id: event.id.clone(),
        invoice: intent.invoice.as_ref().and_then(|r| r.typed()),
        payment_intent: Some(primary_id(event, &intent.id)?),
        customer: intent.customer.as_ref().and_then(|r| r.typed()),
        subscription: None,
        amount: intent.amount,
        currency: currency(&intent.currency),
        attempt_count: None,
        next_attempt_at: None,
        message: intent
            .last_payment_error
            .as_ref()
            .and_then(|e| e.message.clone()),
        created: event.created,
    })])
}

fn refund_record(event: &Event, refund: &Refund) -> Result<RefundRecord, ProjectionError> {
    let status = refund.status.clone();
    let terminal = matches!(status.as_deref(), Some("succeeded" | "failed" | "canceled"));
    Ok(RefundRecord {
        key: refund.id.clone(),
        refund: Some(primary_id(event, &refund.id)?),
        charge: refund.charge.as_ref().and_then(|r| r.typed()),
        payment_intent: refund.payment_intent.as_ref().and_then(|r| r.typed()),
        amount: refund.amount.unwrap_or(0),
        currency: currency(&refund.currency),
        status,
        reason: refund.reason.clone(),
        precedence: precedence(event, terminal, 0),
    })
}

pub(super) fn refund(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let refund: Refund = object(event)?;
    Ok(vec![Change::Refund(refund_record(event, &refund)?)])
}

pub(super) fn charge_refunded(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let charge: Charge = object(event)?;
    let charge_id: ChargeId = primary_id(event, &charge.id)?;
    let listed = charge
        .refunds
        .as_ref()
        .map(|l| l.data.as_slice())
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed
            .iter()
            .map(|refund| {
                let mut record = refund_record(event, refund)?;
                record.charge = record.charge.or_else(|| Some(charge_id.clone()));
                Ok(Change::Refund(record))
            })
            .collect();
    }
    // Newer versions do not list refunds here: keep the charge's total.
    Ok(vec![Change::Refund(RefundRecord {
        key: charge_id.to_string(),
        refund: None,
        charge: Some(charge_id),
        payment_intent: charge.payment_intent.as_ref().and_then(|r| r.typed()),
        amount: charge.amount_refunded.unwrap_or(0),
        currency: currency(&charge.currency),
        status: Some("succeeded".into()),
        reason: None,
        precedence: precedence(event, false, 0),
    })])
}

pub(super) fn dispute(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let dispute: Dispute = object(event)?;
    let (terminal, rank) = match dispute.status.as_deref() {
        Some("won" | "lost" | "warning_closed" | "prevented") => (true, 0),
        Some("under_review" | "warning_under_review" | "appeal_under_review") => (false, 1),
        _ => (false, 0),
    };
    Ok(vec![Change::Dispute(DisputeRecord {
        id: primary_id(event, &dispute.id)?,
        charge: dispute.charge.as_ref().and_then(|r| r.typed()),
        payment_intent: dispute.payment_intent.as_ref().and_then(|r| r.typed()),
        amount: dispute.amount.unwrap_or(0),
        currency: currency(&dispute.currency),
        status: dispute.status.clone(),
        reason: dispute.reason.clone(),
        precedence: precedence(event, terminal, rank),
    })])
}
