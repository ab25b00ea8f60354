//! Disputes: opened by the dispute test card (…0259) right after its
//! charge succeeds; `GET /v1/disputes`, `POST /v1/disputes/{id}/close`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, DISPUTE};
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::state::{Objects, Sim};

/// Seven days to respond, as for Stripe's test disputes.
const RESPONSE_WINDOW: i64 = 7 * 24 * 3600;

/// Opens a fraudulent dispute on `charge` (marking it `disputed`),
/// emitting `charge.dispute.created`.
pub fn open(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    charge: &str,
) -> Result<Value, StripeError> {
    let charge = objects.charges.update("charge", charge, |c| {
        c["disputed"] = json!(true);
        Ok(())
    })?;
    let dispute = json!({
        "id": new_id(DISPUTE),
        "object": "dispute",
        "amount": charge["amount"],
        "balance_transactions": [],
        "charge": charge["id"],
        "created": at,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {
            "customer_email_address": null, "customer_name": null, "product_description": null,
            "receipts": null, "uncategorized_text": null, "access_activity_log": null,
        },
        "evidence_details": {
            "due_by": at + RESPONSE_WINDOW, "has_evidence": false,
            "past_due": false, "submission_count": 0,
        },
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "network_reason_code": "83",
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "type": "card",
            "card": { "brand": charge["payment_method_details"]["card"]["brand"],
                      "case_type": "chargeback", "network_reason_code": "83" }
        },
        "reason": "fraudulent",
        "status": "needs_response",
    });
    let id = dispute["id"].as_str().unwrap_or_default().to_owned();
    objects.disputes.insert(id, dispute.clone());
    objects.emit(cause, at, "charge.dispute.created", &dispute, None);
    Ok(dispute)
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .disputes
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("dispute", &id, "id"))
}

/// `POST /v1/disputes/{id}`: metadata and evidence text.
pub async fn update(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["metadata", "evidence", "submit", "expand"])?;
    let evidence = params.hash("evidence")?;
    let mut objects = sim.objects();
    let before = objects
        .disputes
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("dispute", &id, "id"))?;
    let after = objects.disputes.update("dispute", &id, |d| {
        if let Some(evidence) = &evidence {
            for (key, value) in &evidence.0 {
                d["evidence"][key] = value.clone();
            }
            d["evidence_details"]["has_evidence"] = json!(true);
        }
        params.apply_metadata(d)
    })?;
    let at = objects.now();
    objects.emit_updated(&cause, at, "charge.dispute.updated", &before, &after);
    Ok(Json(after))
}

/// Accepting the dispute: it is `lost` (`charge.dispute.closed`).
pub async fn close(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let mut objects = sim.objects();
    let before = objects
        .disputes
        .get(&id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("dispute", &id, "id"))?;
    let open = [
        "needs_response",
        "warning_needs_response",
        "under_review",
        "warning_under_review",
    ];
    if !open.iter().any(|s| before["status"] == *s) {
        return Err(StripeError::invalid(format!(
            "This dispute is already closed (status: {}).",
            before["status"].as_str().unwrap_or("")
        )));
    }
    let after = objects.disputes.update("dispute", &id, |d| {
        d["status"] = json!("lost");
        d["is_charge_refundable"] = json!(false);
        Ok(())
    })?;
    let at = objects.now();
    objects.emit(
        &cause,
        at,
        "charge.dispute.closed",
        &after,
        Some(json!({ "status": before["status"] })),
    );
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
    let items = matching(&sim.objects().disputes, &created, |d| {
        charge.as_deref().is_none_or(|x| d["charge"] == x)
            && intent.as_deref().is_none_or(|x| d["payment_intent"] == x)
    });
    page(&items, &params, "/v1/disputes").map(Json)
}
