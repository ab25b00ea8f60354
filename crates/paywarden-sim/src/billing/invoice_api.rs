//! `/v1/invoices` (retrieve, list, lines, pay, finalize, void,
//! mark_uncollectible), `/v1/invoice_payments` and `/v1/invoiceitems`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use super::{dunning, invoices, subscriptions};
use crate::error::StripeError;
use crate::events::Cause;
use crate::list::{matching, page, Created, LIST_PARAMS};
use crate::params::Params;
use crate::state::{Objects, Sim};

fn invoice(objects: &Objects, id: &str) -> Result<Value, StripeError> {
    objects
        .invoices
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("invoice", id, "id"))
}

fn subscription_of(invoice: &Value) -> Option<String> {
    invoice["parent"]["subscription_details"]["subscription"]
        .as_str()
        .map(str::to_owned)
}

fn at_for(objects: &Objects, invoice: &Value) -> i64 {
    objects.now_for_customer(invoice["customer"].as_str())
}

pub async fn retrieve(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    invoice(&sim.objects(), &id).map(Json)
}

const STATUSES: &[&str] = &["draft", "open", "paid", "uncollectible", "void"];

pub async fn list(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["customer", "subscription", "status", "collection_method"])
        .collect();
    params.only(&allowed)?;
    let customer = params.string("customer")?;
    let subscription = params.string("subscription")?;
    let status = params.string("status")?;
    if let Some(s) = status.as_deref() {
        if !STATUSES.contains(&s) {
            return Err(StripeError::invalid(
                "Invalid status: must be one of draft, open, paid, uncollectible, or void",
            )
            .with_param("status"));
        }
    }
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().invoices, &created, |i| {
        customer.as_deref().is_none_or(|c| i["customer"] == c)
            && status.as_deref().is_none_or(|s| i["status"] == s)
            && subscription
                .as_deref()
                .is_none_or(|s| subscription_of(i).as_deref() == Some(s))
    });
    page(&items, &params, "/v1/invoices").map(Json)
}

pub async fn lines(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["limit", "starting_after", "ending_before", "expand"])?;
    let invoice = invoice(&sim.objects(), &id)?;
    let lines = invoice["lines"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    page(&lines, &params, &format!("/v1/invoices/{id}/lines")).map(Json)
}

pub async fn pay(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&[
        "payment_method",
        "paid_out_of_band",
        "off_session",
        "forgive",
        "mandate",
        "source",
        "expand",
    ])?;
    let pm = params.string("payment_method")?.filter(|s| !s.is_empty());
    let out_of_band = params.boolean("paid_out_of_band")?.unwrap_or(false);
    let mut objects = sim.objects();
    let current = invoice(&objects, &id)?;
    let at = at_for(&objects, &current);
    match current["status"].as_str().unwrap_or("") {
        "paid" => {
            return Err(
                StripeError::invalid("Invoice is already paid").with_code("invoice_already_paid")
            )
        }
        "void" => {
            return Err(StripeError::invalid(
                "This invoice has been voided and can no longer be paid.",
            )
            .with_code("invoice_not_editable"))
        }
        "draft" => invoices::finalize(&mut objects, &cause, at, &id)?,
        _ => {}
    }
    let customer = current["customer"].as_str().unwrap_or_default().to_owned();
    if let Some(pm) = &pm {
        subscriptions::check_payment_method(&objects, &customer, pm, "payment_method")?;
    }
    let sub = subscription_of(&current);
    if out_of_band {
        invoices::mark_paid_out_of_band(&mut objects, &cause, at, &id);
    } else {
        let pm = pm.or_else(|| {
            sub.as_deref()
                .and_then(|s| objects.subscriptions.get(s))
                .and_then(|s| subscriptions::payment_method(&objects, s))
                .or_else(|| {
                    objects
                        .customers
                        .get(&customer)
                        .and_then(|c| c["invoice_settings"]["default_payment_method"].as_str())
                        .map(str::to_owned)
                })
        });
        let retry = current["next_payment_attempt"].as_i64();
        invoices::attempt(&mut objects, &cause, at, &id, pm, retry)?;
    }
    if let Some(sub) = sub {
        dunning::settle_after_payment(&mut objects, &cause, at, &sub);
    }
    invoice(&objects, &id).map(Json)
}

pub async fn finalize(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["auto_advance", "expand"])?;
    let auto_advance = params.boolean("auto_advance")?;
    let mut objects = sim.objects();
    let current = invoice(&objects, &id)?;
    let at = at_for(&objects, &current);
    invoices::finalize(&mut objects, &cause, at, &id)?;
    if let (Some(flag), Some(stored)) = (auto_advance, objects.invoices.get_mut(&id)) {
        stored["auto_advance"] = Value::Bool(flag);
    }
    invoice(&objects, &id).map(Json)
}

pub async fn void(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let mut objects = sim.objects();
    let current = invoice(&objects, &id)?;
    let at = at_for(&objects, &current);
    invoices::void(&mut objects, &cause, at, &id).map(Json)
}

pub async fn mark_uncollectible(
    State(sim): State<Sim>,
    cause: Cause,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    let mut objects = sim.objects();
    let current = invoice(&objects, &id)?;
    let at = at_for(&objects, &current);
    invoices::mark_uncollectible(&mut objects, &cause, at, &id).map(Json)
}

pub async fn list_payments(
    State(sim): State<Sim>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = LIST_PARAMS
        .iter()
        .copied()
        .chain(["invoice", "payment", "status"])
        .collect();
    params.only(&allowed)?;
    let invoice = params.string("invoice")?;
    let status = params.string("status")?;
    let created = Created::from_params(&params)?;
    let items = matching(&sim.objects().invoice_payments, &created, |p| {
        invoice.as_deref().is_none_or(|i| p["invoice"] == i)
            && status.as_deref().is_none_or(|s| p["status"] == s)
    });
    page(&items, &params, "/v1/invoice_payments").map(Json)
}

pub async fn retrieve_payment(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .invoice_payments
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("invoice_payment", &id, "id"))
}

pub async fn list_items(
    State(sim): State<Sim>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    let allowed: Vec<&str> = ["limit", "starting_after", "ending_before", "expand"]
        .into_iter()
        .chain(["customer", "invoice", "pending"])
        .collect();
    params.only(&allowed)?;
    let customer = params.string("customer")?;
    let invoice = params.string("invoice")?;
    let pending = params.boolean("pending")?;
    // Invoice items carry `date`, not `created`.
    let items: Vec<Value> = sim
        .objects()
        .invoice_items
        .newest_first()
        .filter(|ii| {
            customer.as_deref().is_none_or(|c| ii["customer"] == c)
                && invoice.as_deref().is_none_or(|i| ii["invoice"] == i)
                && pending.is_none_or(|p| ii["invoice"].is_null() == p)
        })
        .cloned()
        .collect();
    page(&items, &params, "/v1/invoiceitems").map(Json)
}

pub async fn retrieve_item(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, StripeError> {
    params.only(&["expand"])?;
    sim.objects()
        .invoice_items
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| StripeError::no_such("invoiceitem", &id, "id"))
}
