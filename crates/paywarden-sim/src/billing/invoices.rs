//! Invoices of subscriptions: drafting lines, finalizing, attempting
//! payment, and the terminal moves (paid, void, uncollectible), each
//! emitting Stripe's events.

use serde_json::{json, Value};

use super::subscriptions;
use crate::error::StripeError;
use crate::events::Cause;
use crate::ids::{new_id, INVOICE, INVOICE_LINE, INVOICE_PAYMENT};
use crate::payments::{collect, PaymentRequest};
use crate::state::{Objects, Settings};

/// One line to put on a new invoice.
#[derive(Debug, Clone)]
pub struct LineSpec {
    /// The subscription item billed.
    pub item: Value,
    pub start: i64,
    pub end: i64,
    pub amount: i64,
    pub quantity: i64,
    pub description: Option<String>,
    pub proration: bool,
    pub invoice_item: Option<String>,
}

impl LineSpec {
    /// A full period of `item` (`trial`: the free trial line).
    pub fn for_item(item: &Value, start: i64, end: i64, trial: bool) -> Self {
        let quantity = item["quantity"].as_i64().unwrap_or(1);
        let unit = item["price"]["unit_amount"].as_i64().unwrap_or(0);
        Self {
            item: item.clone(),
            start,
            end,
            amount: if trial {
                0
            } else {
                unit.saturating_mul(quantity)
            },
            quantity,
            description: trial.then(|| "Trial period".to_owned()),
            proration: false,
            invoice_item: None,
        }
    }
}

/// `$20.00`, or `20.00 EUR` for other currencies.
pub fn money(amount: i64, currency: &str) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    let value = format!("{}.{:02}", abs / 100, abs % 100);
    if currency == "usd" {
        format!("{sign}${value}")
    } else {
        format!("{sign}{value} {}", currency.to_ascii_uppercase())
    }
}

fn product_name(objects: &Objects, price: &Value) -> String {
    price["product"]
        .as_str()
        .and_then(|p| objects.products.get(p))
        .and_then(|p| p["name"].as_str())
        .unwrap_or("Subscription")
        .to_owned()
}

fn describe(objects: &Objects, spec: &LineSpec) -> String {
    let price = &spec.item["price"];
    let name = product_name(objects, price);
    match &spec.description {
        Some(trial) if trial == "Trial period" => format!("Trial period for {name}"),
        Some(text) => text.clone(),
        None => format!(
            "{} × {name} (at {} / {})",
            spec.quantity,
            money(
                price["unit_amount"].as_i64().unwrap_or(0),
                price["currency"].as_str().unwrap_or("usd")
            ),
            price["recurring"]["interval"].as_str().unwrap_or("month")
        ),
    }
}

fn line(objects: &Objects, invoice: &str, subscription: &str, spec: &LineSpec) -> Value {
    let price = &spec.item["price"];
    json!({
        "id": new_id(INVOICE_LINE), "object": "line_item", "amount": spec.amount,
        "currency": price["currency"], "description": describe(objects, spec),
        "discount_amounts": [], "discountable": !spec.proration, "discounts": [],
        "invoice": invoice, "livemode": false, "metadata": {},
        "parent": {
            "type": "subscription_item_details", "invoice_item_details": null,
            "subscription_item_details": {
                "invoice_item": spec.invoice_item, "proration": spec.proration,
                "proration_details": { "credited_items": null },
                "subscription": subscription, "subscription_item": spec.item["id"]
            }
        },
        "period": { "start": spec.start, "end": spec.end },
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": { "price": price["id"], "product": price["product"] },
            "unit_amount_decimal": price["unit_amount_decimal"]
        },
        "quantity": spec.quantity, "subscription": subscription,
        "subtotal": spec.amount, "taxes": []
    })
}

/// Pending invoice items (prorations) of `subscription`, claimed for
/// `invoice`.
fn claim_pending(objects: &mut Objects, subscription: &str, invoice: &str) -> Vec<LineSpec> {
    let pending: Vec<Value> = objects
        .invoice_items
        .newest_first()
        .filter(|ii| {
            ii["invoice"].is_null()
                && ii["parent"]["subscription_details"]["subscription"] == subscription
        })
        .cloned()
        .collect();
    let mut specs = Vec::new();
    for ii in pending.into_iter().rev() {
        let Some(id) = ii["id"].as_str() else {
            continue;
        };
        if let Some(stored) = objects.invoice_items.get_mut(id) {
            stored["invoice"] = json!(invoice);
        }
        let item_id = ii["parent"]["subscription_details"]["subscription_item"].clone();
        let price = objects
            .prices
            .get(
                ii["pricing"]["price_details"]["price"]
                    .as_str()
                    .unwrap_or(""),
            )
            .cloned()
            .unwrap_or(Value::Null);
        specs.push(LineSpec {
            item: json!({ "id": item_id, "price": price }),
            start: ii["period"]["start"].as_i64().unwrap_or(0),
            end: ii["period"]["end"].as_i64().unwrap_or(0),
            amount: ii["amount"].as_i64().unwrap_or(0),
            quantity: ii["quantity"].as_i64().unwrap_or(1),
            description: ii["description"].as_str().map(str::to_owned),
            proration: true,
            invoice_item: Some(id.to_owned()),
        });
    }
    specs
}

/// Creates a draft invoice for `subscription` with `lines` plus its pending
/// prorations, emits `invoice.created` and makes it the subscription's
/// `latest_invoice`. Returns the invoice id.
pub fn create_draft(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    subscription: &str,
    reason: &str,
    mut lines: Vec<LineSpec>,
    (period_start, period_end): (i64, i64),
) -> Result<String, StripeError> {
    let sub = objects
        .subscriptions
        .get(subscription)
        .cloned()
        .ok_or_else(StripeError::internal)?;
    let customer_id = sub["customer"].as_str().unwrap_or_default().to_owned();
    let customer = objects
        .customers
        .get(&customer_id)
        .cloned()
        .unwrap_or(Value::Null);
    let id = new_id(INVOICE);
    lines.extend(claim_pending(objects, subscription, &id));
    let data: Vec<Value> = lines
        .iter()
        .map(|spec| line(objects, &id, subscription, spec))
        .collect();
    let total: i64 = lines.iter().map(|l| l.amount).sum();
    let due = total.max(0);
    let mut invoice = json!({
        "id": id, "object": "invoice", "account_country": "US",
        "account_name": "paywarden sim", "account_tax_ids": null,
        "amount_due": due, "amount_overpaid": 0, "amount_paid": 0,
        "amount_remaining": due, "amount_shipping": 0, "application": null,
        "attempt_count": 0, "attempted": false, "auto_advance": true,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null },
        "automatically_finalizes_at": null, "billing_reason": reason,
        "collection_method": "charge_automatically", "confirmation_secret": null,
        "created": at, "currency": sub["currency"], "custom_fields": null,
        "customer": customer_id
    });
    let middle = json!({ "customer_address": customer["address"],
        "customer_email": customer["email"], "customer_name": customer["name"],
        "customer_phone": customer["phone"], "customer_shipping": null,
        "customer_tax_exempt": customer["tax_exempt"], "customer_tax_ids": [],
        "default_payment_method": null, "default_source": null, "default_tax_rates": [],
        "description": null, "discounts": [], "due_date": null, "effective_at": null,
        "ending_balance": null, "footer": null, "from_invoice": null,
        "hosted_invoice_url": null, "invoice_pdf": null,
        "issuer": { "type": "self" }, "last_finalization_error": null,
        "latest_revision": null,
        "lines": {
            "object": "list", "data": data, "has_more": false,
            "total_count": lines.len(), "url": format!("/v1/invoices/{id}/lines")
        },
        "livemode": false, "metadata": {}, "next_payment_attempt": null, "number": null
    });
    let rest = json!({
        "on_behalf_of": null,
        "parent": {
            "type": "subscription_details", "quote_details": null,
            "subscription_details": {
                "metadata": sub["metadata"], "subscription": subscription,
                "subscription_proration_date": null
            }
        },
        "payment_settings": { "default_mandate": null, "payment_method_options": null, "payment_method_types": null },
        "payments": {
            "object": "list", "data": [], "has_more": false, "total_count": 0,
            "url": format!("/v1/invoice_payments?invoice={id}")
        },
        "period_end": period_end, "period_start": period_start,
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
        "receipt_number": null, "rendering": null, "shipping_cost": null,
        "shipping_details": null, "starting_balance": 0, "statement_descriptor": null,
        "status": "draft",
        "status_transitions": {
            "finalized_at": null, "marked_uncollectible_at": null, "paid_at": null, "voided_at": null
        },
        "subtotal": total, "subtotal_excluding_tax": total, "test_clock": sub["test_clock"],
        "total": total, "total_discount_amounts": [], "total_excluding_tax": total,
        "total_pretax_credit_amounts": [], "total_taxes": [], "webhooks_delivered_at": at,
        "_sim": { "public_url": sub["_sim"]["public_url"], "payment_intent": null }
    });
    // Built in parts: one `json!` this large exceeds the macro's
    // recursion limit.
    for part in [middle, rest] {
        if let (Some(map), Value::Object(part)) = (invoice.as_object_mut(), part) {
            map.extend(part);
        }
    }
    objects.invoices.insert(id.clone(), invoice.clone());
    objects.emit(cause, at, "invoice.created", &invoice, None);
    if let Some(stored) = objects.subscriptions.get_mut(subscription) {
        stored["latest_invoice"] = json!(id);
    }
    Ok(id)
}

fn invoice(objects: &Objects, id: &str) -> Result<Value, StripeError> {
    objects
        .invoices
        .get(id)
        .cloned()
        .ok_or_else(|| StripeError::no_such("invoice", id, "id"))
}

fn store(objects: &mut Objects, invoice: &Value) {
    if let Some(id) = invoice["id"].as_str() {
        objects.invoices.insert(id.to_owned(), invoice.clone());
    }
}

/// The next number in the customer's invoice sequence, e.g. `A1B2C3D4-0001`.
fn next_number(objects: &mut Objects, customer: &str) -> String {
    let Some(stored) = objects.customers.get_mut(customer) else {
        return "SIM-0001".to_owned();
    };
    let prefix = stored["invoice_prefix"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            customer
                .trim_start_matches("cus_")
                .chars()
                .take(8)
                .collect::<String>()
                .to_ascii_uppercase()
        });
    let sequence = stored["next_invoice_sequence"].as_i64().unwrap_or(1);
    stored["next_invoice_sequence"] = json!(sequence + 1);
    format!("{prefix}-{sequence:04}")
}

/// `draft` → `open`: number, hosted URL, `invoice.finalized`.
pub fn finalize(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
) -> Result<(), StripeError> {
    let mut invoice = invoice(objects, id)?;
    if invoice["status"] != "draft" {
        return Err(StripeError::invalid(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        )
        .with_code("invoice_not_editable"));
    }
    let customer = invoice["customer"].as_str().unwrap_or_default().to_owned();
    let public = invoice["_sim"]["public_url"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| Settings::default().public_url);
    invoice["status"] = json!("open");
    invoice["number"] = json!(next_number(objects, &customer));
    invoice["hosted_invoice_url"] = json!(format!("{public}/invoices/{id}"));
    // No PDF is rendered; `invoice_pdf` stays null.
    invoice["status_transitions"]["finalized_at"] = json!(at);
    invoice["effective_at"] = json!(at);
    invoice["ending_balance"] = json!(0);
    store(objects, &invoice);
    objects.emit(cause, at, "invoice.finalized", &invoice, None);
    Ok(())
}

/// Refreshes the invoice's embedded `payments` list.
fn refresh_payments(objects: &mut Objects, id: &str) {
    let mut payments: Vec<Value> = objects
        .invoice_payments
        .newest_first()
        .filter(|p| p["invoice"] == id)
        .cloned()
        .collect();
    payments.reverse();
    if let Some(stored) = objects.invoices.get_mut(id) {
        stored["payments"]["total_count"] = json!(payments.len());
        stored["payments"]["data"] = json!(payments);
    }
}

/// The invoice payment for `intent`, created `open` if new.
fn invoice_payment(objects: &mut Objects, at: i64, invoice: &Value, intent: &str) -> String {
    let existing = objects
        .invoice_payments
        .newest_first()
        .find(|p| p["payment"]["payment_intent"] == intent)
        .and_then(|p| p["id"].as_str().map(str::to_owned));
    if let Some(id) = existing {
        return id;
    }
    let id = new_id(INVOICE_PAYMENT);
    let payment = json!({
        "id": id, "object": "invoice_payment", "amount_paid": null,
        "amount_requested": invoice["amount_remaining"], "created": at,
        "currency": invoice["currency"], "invoice": invoice["id"], "is_default": true,
        "livemode": false,
        "payment": { "type": "payment_intent", "payment_intent": intent },
        "status": "open",
        "status_transitions": { "canceled_at": null, "paid_at": null }
    });
    objects.invoice_payments.insert(id.clone(), payment);
    id
}

/// Charges the invoice's remaining amount to `pm`. On a decline the
/// attempt is counted, `next_payment_attempt` becomes `retry_at` and
/// `invoice.payment_failed` is emitted; the card error is returned.
pub fn attempt(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
    pm: Option<String>,
    retry_at: Option<i64>,
) -> Result<(), StripeError> {
    let mut invoice = invoice(objects, id)?;
    let amount = invoice["amount_remaining"].as_i64().unwrap_or(0);
    if amount == 0 {
        mark_paid(objects, cause, at, id, None);
        return Ok(());
    }
    invoice["attempt_count"] = json!(invoice["attempt_count"].as_i64().unwrap_or(0) + 1);
    invoice["attempted"] = json!(true);
    let Some(pm) = pm else {
        invoice["next_payment_attempt"] = json!(retry_at);
        store(objects, &invoice);
        objects.emit(cause, at, "invoice.payment_failed", &invoice, None);
        return Err(StripeError::invalid(
            "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
        )
        .with_code("resource_missing"));
    };
    store(objects, &invoice);
    let reason = match invoice["billing_reason"].as_str() {
        Some("subscription_create") => "Subscription creation",
        Some("subscription_update") => "Subscription update",
        _ => "Subscription cycle",
    };
    let request = PaymentRequest {
        customer: invoice["customer"].as_str().map(str::to_owned),
        payment_method: pm,
        amount,
        currency: invoice["currency"].as_str().unwrap_or("usd").to_owned(),
        description: Some(reason.to_owned()),
        metadata: json!({}),
        existing_intent: invoice["_sim"]["payment_intent"]
            .as_str()
            .map(str::to_owned),
    };
    match collect(objects, cause, at, request) {
        Ok(collected) => {
            invoice_payment(objects, at, &invoice, &collected.payment_intent);
            if let Some(stored) = objects.invoices.get_mut(id) {
                stored["_sim"]["payment_intent"] = json!(collected.payment_intent);
            }
            mark_paid(objects, cause, at, id, Some(collected.payment_intent));
            Ok(())
        }
        Err(declined) => {
            if !declined.payment_intent.is_empty() {
                invoice_payment(objects, at, &invoice, &declined.payment_intent);
                invoice["_sim"]["payment_intent"] = json!(declined.payment_intent);
            }
            invoice["next_payment_attempt"] = json!(retry_at);
            store(objects, &invoice);
            refresh_payments(objects, id);
            let invoice = objects.invoices.get(id).cloned().unwrap_or(invoice);
            objects.emit(cause, at, "invoice.payment_failed", &invoice, None);
            Err(declined.error)
        }
    }
}

/// Marks the invoice paid: `invoice.paid`, `invoice.payment_succeeded`
/// and, when a payment intent paid it, `invoice_payment.paid`.
pub fn mark_paid(objects: &mut Objects, cause: &Cause, at: i64, id: &str, intent: Option<String>) {
    let Some(mut invoice) = objects.invoices.get(id).cloned() else {
        return;
    };
    let due = invoice["amount_remaining"].as_i64().unwrap_or(0);
    let paid_before = invoice["amount_paid"].as_i64().unwrap_or(0);
    invoice["status"] = json!("paid");
    invoice["amount_paid"] = json!(paid_before + due);
    invoice["amount_remaining"] = json!(0);
    invoice["next_payment_attempt"] = Value::Null;
    invoice["auto_advance"] = json!(false);
    invoice["status_transitions"]["paid_at"] = json!(at);
    store(objects, &invoice);
    let payment = intent.map(|pi| {
        let payment_id = invoice_payment(objects, at, &invoice, &pi);
        if let Some(p) = objects.invoice_payments.get_mut(&payment_id) {
            p["status"] = json!("paid");
            p["amount_paid"] = json!(due);
            p["status_transitions"]["paid_at"] = json!(at);
        }
        payment_id
    });
    refresh_payments(objects, id);
    let invoice = objects.invoices.get(id).cloned().unwrap_or(invoice);
    objects.emit(cause, at, "invoice.paid", &invoice, None);
    objects.emit(cause, at, "invoice.payment_succeeded", &invoice, None);
    if let Some(payment) = payment.and_then(|p| objects.invoice_payments.get(&p).cloned()) {
        objects.emit(cause, at, "invoice_payment.paid", &payment, None);
    }
}

/// Marks an open invoice paid outside Stripe (`paid_out_of_band`).
pub fn mark_paid_out_of_band(objects: &mut Objects, cause: &Cause, at: i64, id: &str) {
    let Some(before) = objects.invoices.get(id).cloned() else {
        return;
    };
    let mut invoice = before.clone();
    invoice["status"] = json!("paid");
    invoice["amount_paid"] = json!(0);
    invoice["amount_remaining"] = json!(0);
    invoice["next_payment_attempt"] = Value::Null;
    invoice["auto_advance"] = json!(false);
    invoice["status_transitions"]["paid_at"] = json!(at);
    store(objects, &invoice);
    objects.emit(cause, at, "invoice.paid", &invoice, None);
    let previous = subscriptions::visible_changes(&before, &invoice);
    objects.emit(cause, at, "invoice.updated", &invoice, Some(previous));
}

fn cancel_open_payments(objects: &mut Objects, at: i64, id: &str) {
    let open: Vec<String> = objects
        .invoice_payments
        .newest_first()
        .filter(|p| p["invoice"] == id && p["status"] == "open")
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    for payment in open {
        if let Some(p) = objects.invoice_payments.get_mut(&payment) {
            p["status"] = json!("canceled");
            p["status_transitions"]["canceled_at"] = json!(at);
        }
    }
    refresh_payments(objects, id);
}

/// `open`/`uncollectible` → `void` (`invoice.voided`).
pub fn void(objects: &mut Objects, cause: &Cause, at: i64, id: &str) -> Result<Value, StripeError> {
    let mut invoice = invoice(objects, id)?;
    if !["open", "uncollectible"].contains(&invoice["status"].as_str().unwrap_or("")) {
        return Err(StripeError::invalid(format!(
            "You can only void invoices with a status of `open` or `uncollectible`; this invoice is `{}`.",
            invoice["status"].as_str().unwrap_or("")
        ))
        .with_code("invoice_not_editable"));
    }
    invoice["status"] = json!("void");
    invoice["next_payment_attempt"] = Value::Null;
    invoice["auto_advance"] = json!(false);
    invoice["status_transitions"]["voided_at"] = json!(at);
    store(objects, &invoice);
    cancel_open_payments(objects, at, id);
    let invoice = objects.invoices.get(id).cloned().unwrap_or(invoice);
    objects.emit(cause, at, "invoice.voided", &invoice, None);
    Ok(invoice)
}

/// `open` → `uncollectible` (`invoice.marked_uncollectible`).
pub fn mark_uncollectible(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    id: &str,
) -> Result<Value, StripeError> {
    let mut invoice = invoice(objects, id)?;
    if invoice["status"] != "open" {
        return Err(StripeError::invalid(format!(
            "You can only mark invoices with a status of `open` as uncollectible; this invoice is `{}`.",
            invoice["status"].as_str().unwrap_or("")
        ))
        .with_code("invoice_not_editable"));
    }
    invoice["status"] = json!("uncollectible");
    invoice["next_payment_attempt"] = Value::Null;
    invoice["status_transitions"]["marked_uncollectible_at"] = json!(at);
    store(objects, &invoice);
    objects.emit(cause, at, "invoice.marked_uncollectible", &invoice, None);
    Ok(invoice)
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_formats() {
        assert_eq!(money(2000, "usd"), "$20.00");
        assert_eq!(money(-505, "eur"), "-5.05 EUR");
    }
}
