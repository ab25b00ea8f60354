//! `/v1/refunds`: full and partial refunds of a succeeded charge.
//!
//! Card refunds succeed at once in test mode; the refund-pending test card
//! (…7726) leaves them `pending`, the only state `cancel` accepts.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::cards::{self, Behaviour};
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, BALANCE_TRANSACTION, REFUND};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::state::{Objects, Sim};

const REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

/// The charge a refund request names, by `charge` or `payment_intent`.
fn charge_of(objects: &Objects, params: &Params) -> Result<Value, StripeError> {
    let charge = params.string("charge")?.filter(|s| !s.is_empty());
    let intent = params.string("payment_intent")?.filter(|s| !s.is_empty());
    let id = match (charge, intent) {
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: charge, payment_intent.",
            )
            .with_param("payment_intent"))
        }
        (Some(charge), None) => charge,
        (None, Some(intent)) => {
            let pi = objects.payment_intents.get(&intent).ok_or_else(|| {
                StripeError::no_such("payment_intent", &intent, "payment_intent").with_status_400()
            })?;
            if pi["status"] != "succeeded" {
                return Err(StripeError::invalid(format!(
                    "This PaymentIntent ({intent}) does not have a successful charge to refund."
                ))
                .with_param("payment_intent"));
            }
            pi["latest_charge"].as_str().unwrap_or_default().to_owned()
        }
        (None, None) => return Err(StripeError::missing_param("payment_intent")),
    };
    objects
        .charges
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("charge", &id, "charge").with_status_400())
}

fn money(amount: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        amount / 100,
        amount % 100,
        currency.to_uppercase()
    )
}

pub async fn create(
    State(sim): State<Sim>,
    cause: Cause,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[
        "charge",
        "payment_intent",
        "amount",
        "reason",
        "metadata",
        "expand",
    ])?;
    let reason = params.string("reason")?.filter(|s| !s.is_empty());
    if let Some(r) = &reason {
        if !REASONS.contains(&r.as_str()) {
            return Err(StripeError::invalid(
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            )
            .with_param("reason"));
        }
    }
    let mut objects = sim.objects();
    let charge = charge_of(&objects, &params)?;
    let charge_id = charge["id"].as_str().unwrap_or_default().to_owned();
    let currency = charge["currency"].as_str().unwrap_or("usd").to_owned();
    if charge["status"] != "succeeded" || charge["captured"] != true {
        return Err(StripeError::invalid(format!(
            "Charge {charge_id} has not been captured or did not succeed, so it cannot be refunded."
        ))
        .with_param("charge"));
    }
    if charge["disputed"] == true {
        return Err(StripeError::invalid(format!(
            "Charge {charge_id} has been charged back; you cannot refund a disputed charge."
        ))
        .with_code("charge_disputed"));
    }
    // The part of a partial capture that was never taken already counts
    // as refunded, as on Stripe.
    let refundable =
        charge["amount"].as_i64().unwrap_or(0) - charge["amount_refunded"].as_i64().unwrap_or(0);
    if refundable <= 0 {
        return Err(
            StripeError::invalid(format!("Charge {charge_id} has already been refunded."))
                .with_code("charge_already_refunded"),
        );
    }
    let amount = params.integer("amount")?.unwrap_or(refundable);
    if amount <= 0 {
        return Err(StripeError::invalid(
            "Invalid positive integer: amount must be greater than 0",
        )
        .with_param("amount"));
    }
    if amount > refundable {
        return Err(StripeError::invalid(format!(
            "Refund amount ({}) is greater than unrefunded amount on charge ({})",
            money(amount, &currency),
            money(refundable, &currency)
        ))
        .with_param("amount"));
    }
    let pending = objects
        .payment_methods
        .get(charge["payment_method"].as_str().unwrap_or_default())
        .is_some_and(|pm| cards::behaviour(cards::number_of(pm)) == Behaviour::RefundPending);
    let at = objects.now_for_customer(charge["customer"].as_str());
    let mut refund = json!({
        "id": new_id(REFUND),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id(BALANCE_TRANSACTION),
        "charge": charge_id,
        "created": at,
        "currency": currency,
        "destination_details": { "type": "card", "card": {
            "reference": null, "reference_status": "pending",
            "reference_type": "acquirer_reference_number", "type": "refund" } },
        "failure_reason": null,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "pending_reason": if pending { json!("processing") } else { Value::Null },
        "reason": reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": if pending { "pending" } else { "succeeded" },
        "transfer_reversal": null,
    });
    params.apply_metadata(&mut refund)?;
    let refund_id = refund["id"].as_str().unwrap_or_default().to_owned();
    objects.refunds.insert(refund_id, refund.clone());
    let after = objects.charges.update("charge", &charge_id, |c| {
        let refunded = c["amount_refunded"].as_i64().unwrap_or(0) + amount;
        c["amount_refunded"] = json!(refunded);
        c["refunded"] = json!(refunded >= c["amount"].as_i64().unwrap_or(0));
        Ok(())
    })?;
    objects.emit(&cause, at, "refund.created", &refund, None);
    objects.emit_updated(&cause, at, "charge.refunded", &charge, &after);
    Ok(Json(refund))
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .refunds
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("refund", &id, "id"))
}

pub async fn update(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["metadata", "expand"])?;
    let mut objects = sim.objects();
    let before = objects
        .refunds
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("refund", &id, "id"))?;
    let after = objects
        .refunds
        .update("refund", &id, |r| params.apply_metadata(r))?;
    let at = objects.now();
    objects.emit_updated(&cause, at, "refund.updated", &before, &after);
    Ok(Json(after))
}

/// Cancels a `pending` refund: the charge gets the amount back.
pub async fn cancel(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let mut objects = sim.objects();
    let before = objects
        .refunds
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("refund", &id, "id"))?;
    let status = before["status"].as_str().unwrap_or("");
    if status != "pending" && status != "requires_action" {
        return Err(StripeError::invalid(format!(
            "Can't cancel a refund that is {status}; only pending refunds can be canceled."
        )));
    }
    let after = objects.refunds.update("refund", &id, |r| {
        r["status"] = json!("canceled");
        r["pending_reason"] = Value::Null;
        Ok(())
    })?;
    let amount = before["amount"].as_i64().unwrap_or(0);
    let charge = before["charge"].as_str().unwrap_or_default().to_owned();
    objects.charges.update("charge", &charge, |c| {
        let refunded = c["amount_refunded"].as_i64().unwrap_or(0) - amount;
        c["amount_refunded"] = json!(refunded.max(0));
        c["refunded"] = json!(false);
        Ok(())
    })?;
    let at = objects.now();
    objects.emit_updated(&cause, at, "refund.updated", &before, &after);
    Ok(Json(after))
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["charge", "payment_intent"])
        .collect();
    params.only(&allowed)?;
    let charge = params.string("charge")?;
    let intent = params.string("payment_intent")?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().refunds, &created, |r| {
        charge.as_deref().is_none_or(|x| r["charge"] == x)
            && intent.as_deref().is_none_or(|x| r["payment_intent"] == x)
    });
    page(&items, &params, "/v1/refunds").map(Json)
}
