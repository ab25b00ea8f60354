//! Charges: one per payment attempt of a payment intent, succeeded or
//! failed, and `GET /v1/charges`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::cards::Decline;
use crate::error::StripeError;
use crate::ids::{new_id, BALANCE_TRANSACTION, CHARGE};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::state::Sim;

/// `object` without the sim's private `_sim` bookkeeping.
pub fn public(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("_sim");
    }
    copy
}

/// A charge of `intent` to card `pm` at `at`: succeeded (captured or only
/// authorized) or, with `decline`, failed.
pub fn build(
    intent: &Value,
    pm: &Value,
    at: i64,
    captured: bool,
    decline: Option<&Decline>,
) -> Value {
    let amount = intent["amount"].as_i64().unwrap_or(0);
    let ok = decline.is_none();
    let card = &pm["card"];
    let outcome = match decline {
        Some(d) => d.outcome(),
        None => json!({
            "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
            "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized",
        }),
    };
    let mut charge = json!({
        "id": new_id(CHARGE),
        "object": "charge",
        "amount": amount,
        "amount_captured": if ok && captured { amount } else { 0 },
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": if ok && captured { json!(new_id(BALANCE_TRANSACTION)) } else { Value::Null },
        "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "PAYWARDEN SIM",
        "captured": ok && captured,
        "created": at,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": decline.map(|d| d.code),
        "failure_message": decline.map(|d| d.message),
        "fraud_details": {},
        "livemode": false,
        "metadata": intent["metadata"],
        "on_behalf_of": null,
        "outcome": outcome,
    });
    let rest = json!({
        "paid": ok,
        "payment_intent": intent["id"],
        "payment_method": pm["id"],
        "payment_method_details": {
            "type": "card",
            "card": {
                "amount_authorized": if ok { json!(amount) } else { Value::Null },
                "brand": card["brand"], "last4": card["last4"],
                "exp_month": card["exp_month"], "exp_year": card["exp_year"],
                "funding": card["funding"], "country": card["country"],
                "fingerprint": card["fingerprint"], "network": card["brand"],
                "checks": card["checks"], "three_d_secure": null, "wallet": null,
            }
        },
        "receipt_email": intent["receipt_email"],
        "receipt_number": null,
        "receipt_url": null,
        "refunded": false,
        "review": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": if ok { "succeeded" } else { "failed" },
        "transfer_data": null,
        "transfer_group": null,
    });
    if let (Some(map), Value::Object(rest)) = (charge.as_object_mut(), rest) {
        map.extend(rest);
    }
    charge
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .charges
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("charge", &id, "id"))
}

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["customer", "payment_intent"])
        .collect();
    params.only(&allowed)?;
    let customer = params.string("customer")?;
    let intent = params.string("payment_intent")?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().charges, &created, |c| {
        customer.as_deref().is_none_or(|x| c["customer"] == x)
            && intent.as_deref().is_none_or(|x| c["payment_intent"] == x)
    });
    page(&items, &params, "/v1/charges").map(Json)
}
