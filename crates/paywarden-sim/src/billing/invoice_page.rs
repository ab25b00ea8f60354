//! The hosted invoice page behind an invoice's `hosted_invoice_url`: a
//! read-only summary (number, status, lines, amounts) in plain escaped
//! HTML. Drafts have no hosted page, as in Stripe.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::calendar::date;
use super::invoices::money;
use super::portal_page::escape;
use crate::state::Sim;

pub async fn show(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    let objects = sim.objects();
    let invoice = objects
        .invoices
        .get(&id)
        .filter(|i| i["status"] != "draft")
        .cloned();
    let Some(invoice) = invoice else {
        return (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><title>Not found</title><p>This invoice does not exist.</p>"),
        )
            .into_response();
    };
    let currency = invoice["currency"].as_str().unwrap_or("usd");
    let amount = |field: &str| money(invoice[field].as_i64().unwrap_or(0), currency);
    let text = |v: &Value| escape(v.as_str().unwrap_or(""));
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Invoice {number}</title></head><body><h1>Invoice {number}</h1><p>Status: <strong>{status}</strong></p><p>Billed to {email}</p><p>Issued {issued}</p><table><thead><tr><th>Description</th><th>Period</th><th>Amount</th></tr></thead><tbody>",
        number = text(&invoice["number"]),
        status = text(&invoice["status"]),
        email = text(&invoice["customer_email"]),
        issued = escape(&date(invoice["created"].as_i64().unwrap_or(0))),
    );
    for line in invoice["lines"]["data"].as_array().into_iter().flatten() {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{} – {}</td><td>{}</td></tr>",
            text(&line["description"]),
            escape(&date(line["period"]["start"].as_i64().unwrap_or(0))),
            escape(&date(line["period"]["end"].as_i64().unwrap_or(0))),
            escape(&money(line["amount"].as_i64().unwrap_or(0), currency)),
        ));
    }
    html.push_str(&format!(
        "</tbody></table><p>Amount due: {}</p><p>Amount paid: {}</p><p>Amount remaining: {}</p></body></html>",
        escape(&amount("amount_due")),
        escape(&amount("amount_paid")),
        escape(&amount("amount_remaining")),
    ));
    Html(html).into_response()
}
