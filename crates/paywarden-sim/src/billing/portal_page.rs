//! The hosted billing portal behind a session's `url`: plain HTML (no
//! JavaScript) listing the customer's subscriptions, with forms to switch
//! plan, cancel at period end, undo that, and change the card. Each form
//! POSTs to `/portal/{id}/…`, changes state through the same code as the
//! API (so the same events are emitted, with `request.id` null), and
//! redirects back to the page (303).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::calendar::date;
use super::invoices::money;
use super::sub_changes::apply_update;
use super::subscriptions::{self, items_of, period_end};
use crate::error::StripeError;
use crate::events::Cause;
use crate::params::Params;
use crate::state::{Objects, Sim};

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/portal/{id}", get(page))
        .route("/portal/{id}/switch", post(switch))
        .route("/portal/{id}/cancel", post(cancel))
        .route("/portal/{id}/resume", post(resume))
        .route("/portal/{id}/card", post(card))
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><p>This portal session does not exist.</p>"),
    )
        .into_response()
}

fn back(id: &str, error: Option<&str>) -> Response {
    let location = match error {
        None => format!("/portal/{id}"),
        Some(message) => format!("/portal/{id}?error={}", encode(message)),
    };
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn price_label(objects: &Objects, price: &Value) -> String {
    let name = price["product"]
        .as_str()
        .and_then(|p| objects.products.get(p))
        .and_then(|p| p["name"].as_str())
        .unwrap_or("Plan");
    format!(
        "{name} — {} / {}",
        money(
            price["unit_amount"].as_i64().unwrap_or(0),
            price["currency"].as_str().unwrap_or("usd")
        ),
        price["recurring"]["interval"].as_str().unwrap_or("month")
    )
}

fn customer_subscriptions(objects: &Objects, customer: &str) -> Vec<Value> {
    let mut subs: Vec<Value> = objects
        .subscriptions
        .newest_first()
        .filter(|s| s["customer"] == customer)
        .filter(|s| {
            !["canceled", "incomplete_expired"].contains(&s["status"].as_str().unwrap_or(""))
        })
        .cloned()
        .collect();
    subs.reverse();
    subs
}

fn subscription_section(objects: &Objects, session: &str, sub: &Value) -> String {
    let id = escape(sub["id"].as_str().unwrap_or(""));
    let items = items_of(sub);
    let current = items
        .first()
        .map(|i| i["price"].clone())
        .unwrap_or(Value::Null);
    let mut html = format!(
        "<section class=\"subscription\" id=\"{id}\"><h2>{}</h2><p>Status: <strong>{}</strong></p>",
        escape(&price_label(objects, &current)),
        escape(sub["status"].as_str().unwrap_or(""))
    );
    let end = period_end(sub).map(date).unwrap_or_default();
    if sub["cancel_at_period_end"] == true || !sub["cancel_at"].is_null() {
        let when = sub["cancel_at"].as_i64().map(date).unwrap_or(end);
        html.push_str(&format!(
            "<p class=\"notice\">Cancels on {}.</p><form method=\"post\" action=\"/portal/{session}/resume\"><input type=\"hidden\" name=\"subscription\" value=\"{id}\"><button type=\"submit\">Renew plan</button></form>",
            escape(&when)
        ));
    } else {
        html.push_str(&format!(
            "<p>Renews on {}.</p><form method=\"post\" action=\"/portal/{session}/cancel\"><input type=\"hidden\" name=\"subscription\" value=\"{id}\"><button type=\"submit\">Cancel plan</button></form>",
            escape(&end)
        ));
    }
    let options: Vec<String> = objects
        .prices
        .newest_first()
        .filter(|p| p["active"] == true && p["type"] == "recurring" && p["id"] != current["id"])
        .filter(|p| p["currency"] == current["currency"])
        .map(|p| {
            format!(
                "<option value=\"{}\">{}</option>",
                escape(p["id"].as_str().unwrap_or("")),
                escape(&price_label(objects, p))
            )
        })
        .collect();
    if !options.is_empty() {
        html.push_str(&format!(
            "<form method=\"post\" action=\"/portal/{session}/switch\"><input type=\"hidden\" name=\"subscription\" value=\"{id}\"><label>Switch plan <select name=\"price\">{}</select></label> <button type=\"submit\">Update plan</button></form>",
            options.join("")
        ));
    }
    html.push_str("</section>");
    html
}

fn default_card(objects: &Objects, customer: &Value) -> String {
    let card = customer["invoice_settings"]["default_payment_method"]
        .as_str()
        .and_then(|pm| objects.payment_methods.get(pm))
        .map(|pm| pm["card"].clone());
    match card {
        Some(card) if card.is_object() => format!(
            "{} ending in {}",
            card["brand"].as_str().unwrap_or("card"),
            card["last4"].as_str().unwrap_or("????")
        ),
        _ => "none".to_owned(),
    }
}

async fn page(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let objects = sim.objects();
    let Some(session) = objects.portal_sessions.get(&id).cloned() else {
        return not_found();
    };
    let customer_id = session["customer"].as_str().unwrap_or_default();
    let customer = objects
        .customers
        .get(customer_id)
        .cloned()
        .unwrap_or(Value::Null);
    let who = customer["email"]
        .as_str()
        .or(customer["name"].as_str())
        .unwrap_or(customer_id);
    let session_id = escape(&id);
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Billing portal</title></head><body><h1>Billing portal</h1><p>Signed in as {}</p>",
        escape(who)
    );
    if let Some(error) = query.get("error") {
        html.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        ));
    }
    let subs = customer_subscriptions(&objects, customer_id);
    if subs.is_empty() {
        html.push_str("<p>No active subscriptions.</p>");
    }
    for sub in &subs {
        html.push_str(&subscription_section(&objects, &session_id, sub));
    }
    html.push_str(&format!(
        "<section id=\"payment-method\"><h2>Payment method</h2><p>Default card: {}</p><form method=\"post\" action=\"/portal/{session_id}/card\"><label>Card number <input name=\"number\" autocomplete=\"cc-number\"></label> <button type=\"submit\">Update card</button></form></section>",
        escape(&default_card(&objects, &customer))
    ));
    if let Some(url) = session["return_url"].as_str() {
        html.push_str(&format!(
            "<p><a href=\"{}\">Return to {}</a></p>",
            escape(url),
            escape(url)
        ));
    }
    html.push_str("</body></html>");
    Html(html).into_response()
}

/// The session's customer and the form's `subscription`, checked to belong
/// to that customer.
fn session_subscription(
    objects: &Objects,
    session: &str,
    params: &Params,
) -> Result<Option<(String, String)>, StripeError> {
    let Some(session) = objects.portal_sessions.get(session) else {
        return Ok(None);
    };
    let customer = session["customer"].as_str().unwrap_or_default().to_owned();
    let sub = params.required("subscription")?;
    let owned = objects
        .subscriptions
        .get(&sub)
        .is_some_and(|s| s["customer"] == customer.as_str());
    if !owned {
        return Err(StripeError::no_such("subscription", &sub, "subscription"));
    }
    Ok(Some((customer, sub)))
}

/// Runs an API-shaped update from a portal form.
fn portal_update(
    sim: &Sim,
    session: &str,
    params: &Params,
    update: impl FnOnce(&Objects, &str) -> Result<Map<String, Value>, StripeError>,
) -> Response {
    let mut objects = sim.objects();
    let sub = match session_subscription(&objects, session, params) {
        Ok(Some((_, sub))) => sub,
        Ok(None) => return not_found(),
        Err(error) => return back(session, Some(&error.message)),
    };
    let outcome = update(&objects, &sub).and_then(|changes| {
        apply_update(&mut objects, &Cause::automatic(), &sub, &Params(changes))
    });
    match outcome {
        Ok(_) => back(session, None),
        Err(error) => back(session, Some(&error.message)),
    }
}

async fn switch(State(sim): State<Sim>, Path(id): Path<String>, params: Params) -> Response {
    let price = params.string("price").ok().flatten().unwrap_or_default();
    portal_update(&sim, &id, &params, |objects, sub| {
        let item = objects
            .subscriptions
            .get(sub)
            .and_then(|s| items_of(s).first().map(|i| i["id"].clone()))
            .ok_or_else(StripeError::internal)?;
        let mut changes = Map::new();
        changes.insert("items".into(), json!([{ "id": item, "price": price }]));
        changes.insert("proration_behavior".into(), json!("create_prorations"));
        Ok(changes)
    })
}

async fn cancel(State(sim): State<Sim>, Path(id): Path<String>, params: Params) -> Response {
    portal_update(&sim, &id, &params, |_, _| {
        let mut changes = Map::new();
        changes.insert("cancel_at_period_end".into(), json!("true"));
        Ok(changes)
    })
}

async fn resume(State(sim): State<Sim>, Path(id): Path<String>, params: Params) -> Response {
    portal_update(&sim, &id, &params, |objects, sub| {
        let mut changes = Map::new();
        let scheduled = objects
            .subscriptions
            .get(sub)
            .is_some_and(|s| s["cancel_at_period_end"] == true);
        if scheduled {
            changes.insert("cancel_at_period_end".into(), json!("false"));
        } else {
            changes.insert("cancel_at".into(), json!(""));
        }
        Ok(changes)
    })
}

/// A new card: attached to the customer (payments), then made the
/// customer's and their subscriptions' default payment method.
async fn card(State(sim): State<Sim>, Path(id): Path<String>, params: Params) -> Response {
    let number: String = params
        .string("number")
        .ok()
        .flatten()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let mut objects = sim.objects();
    let Some(session) = objects.portal_sessions.get(&id).cloned() else {
        return not_found();
    };
    let customer = session["customer"].as_str().unwrap_or_default().to_owned();
    if number.is_empty() {
        return back(&id, Some("Enter a card number."));
    }
    let cause = Cause::automatic();
    let at = objects.now_for_customer(Some(&customer));
    let pm = match crate::payments::card_for_customer(&mut objects, &cause, at, &number, &customer)
    {
        Ok(pm) => pm,
        Err(error) => return back(&id, Some(&error.message)),
    };
    if let Some(before) = objects.customers.get(&customer).cloned() {
        let mut after = before.clone();
        after["invoice_settings"]["default_payment_method"] = json!(pm);
        objects.customers.insert(customer.clone(), after.clone());
        objects.emit_updated(&cause, at, "customer.updated", &before, &after);
    }
    for sub in customer_subscriptions(&objects, &customer) {
        if let Some(sub_id) = sub["id"].as_str() {
            subscriptions::change(&mut objects, &cause, at, sub_id, |s| {
                s["default_payment_method"] = json!(pm);
            });
        }
    }
    back(&id, None)
}
