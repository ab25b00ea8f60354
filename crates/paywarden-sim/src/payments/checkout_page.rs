//! The hosted Checkout page at a session's `url`: plain server-rendered
//! HTML (no JavaScript) that a person or a test's HTTP client can fill in.
//!
//! `GET /checkout/{id}` shows the order and a card form; `POST` (a normal
//! form submission) completes the session and redirects to `success_url`
//! with `{CHECKOUT_SESSION_ID}` replaced, or shows the form again with
//! Stripe's message.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::checkout_complete::{complete, CardForm, PageError};
use super::checkout_items::items_of;
use crate::state::{Objects, Sim};

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
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

const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// `2000, "usd"` → `$20.00`; `500, "jpy"` → `¥500`; others `12.00 CHF`.
pub fn format_amount(amount: i64, currency: &str) -> String {
    let currency = currency.to_ascii_lowercase();
    let number = if ZERO_DECIMAL.contains(&currency.as_str()) {
        amount.to_string()
    } else {
        format!("{}.{:02}", amount / 100, (amount % 100).abs())
    };
    match currency.as_str() {
        "usd" => format!("${number}"),
        "eur" => format!("€{number}"),
        "gbp" => format!("£{number}"),
        "jpy" => format!("¥{number}"),
        _ => format!("{number} {}", currency.to_uppercase()),
    }
}

fn interval_text(price: &Value) -> String {
    let recurring = &price["recurring"];
    let Some(interval) = recurring["interval"].as_str() else {
        return String::new();
    };
    match recurring["interval_count"].as_i64().unwrap_or(1) {
        1 => format!(" per {interval}"),
        n => format!(" every {n} {interval}s"),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}\
table{width:100%;border-collapse:collapse}td{padding:.4rem 0;border-bottom:1px solid #eee}\
td.amount{text-align:right}label{display:block;margin-top:.8rem}input{width:100%;padding:.4rem;font-size:1rem}\
.row{display:flex;gap:1rem}.error{color:#b00020;background:#fde;padding:.6rem;border-radius:4px}\
button{margin-top:1rem;padding:.6rem 1.4rem;font-size:1rem}.test{color:#a60;font-size:.85rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message));
    (status, Html(document(title, &body))).into_response()
}

fn order_summary(session: &Value) -> String {
    let mut rows = String::new();
    for item in items_of(session) {
        let currency = item["currency"].as_str().unwrap_or("usd");
        let name = item["description"].as_str().unwrap_or("Item");
        let quantity = item["quantity"].as_i64().unwrap_or(1);
        let unit = item["price"]["unit_amount"].as_i64().unwrap_or(0);
        rows.push_str(&format!(
            "<tr><td>{} <span>× {quantity}</span><br><small>{} each{}</small></td><td class=\"amount\">{}</td></tr>",
            escape(name),
            escape(&format_amount(unit, currency)),
            escape(&interval_text(&item["price"])),
            escape(&format_amount(item["amount_total"].as_i64().unwrap_or(0), currency)),
        ));
    }
    let currency = session["currency"].as_str().unwrap_or("usd");
    let total = format_amount(session["amount_total"].as_i64().unwrap_or(0), currency);
    format!(
        "<table>{rows}<tr><td><strong>Total due today</strong></td><td class=\"amount\"><strong id=\"total\">{}</strong></td></tr></table>",
        escape(&total)
    )
}

fn form_page(objects: &Objects, session: &Value, form: &CardForm, error: Option<&str>) -> String {
    let id = session["id"].as_str().unwrap_or_default();
    let email = if form.email.is_empty() {
        session["customer_email"]
            .as_str()
            .or_else(|| {
                session["customer"]
                    .as_str()
                    .and_then(|c| objects.customers.get(c))
                    .and_then(|c| c["email"].as_str())
            })
            .unwrap_or("")
            .to_owned()
    } else {
        form.email.clone()
    };
    let button = if session["mode"] == "subscription" {
        "Subscribe"
    } else {
        "Pay"
    };
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let cancel = session["cancel_url"]
        .as_str()
        .map(|url| {
            format!(
                "<p><a href=\"{}\" id=\"cancel\">← Cancel and go back</a></p>",
                escape(url)
            )
        })
        .unwrap_or_default();
    // The form has no `action`: it posts back to the page's own URL, which
    // stays right wherever the sim is mounted (e.g. under `/sim`).
    let body = format!(
        "{cancel}<h1>Checkout</h1><p class=\"test\">Test mode: use card 4242 4242 4242 4242, any future date, any CVC.</p>\
{summary}{error}\
<form method=\"post\" id=\"checkout-{id_attr}\">\
<label>Email <input type=\"email\" name=\"email\" value=\"{email}\" autocomplete=\"email\"></label>\
<label>Name on card <input type=\"text\" name=\"name\" value=\"{name}\" autocomplete=\"cc-name\"></label>\
<label>Card number <input type=\"text\" name=\"card_number\" value=\"{number}\" inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"1234 1234 1234 1234\"></label>\
<div class=\"row\"><label>Expiry <input type=\"text\" name=\"exp\" value=\"{exp}\" placeholder=\"MM / YY\" autocomplete=\"cc-exp\"></label>\
<label>CVC <input type=\"text\" name=\"cvc\" value=\"\" placeholder=\"CVC\" autocomplete=\"cc-csc\"></label></div>\
<button type=\"submit\">{button}</button></form>",
        summary = order_summary(session),
        id_attr = escape(id),
        email = escape(&email),
        name = escape(&form.name),
        number = escape(&form.card_number),
        exp = escape(&form.exp),
    );
    document("Checkout", &body)
}

fn closed_page(session: &Value, status: StatusCode) -> Response {
    let message = if session["status"] == "complete" {
        "This Checkout Session is already complete."
    } else {
        "This Checkout Session has expired. Return to the site and start again."
    };
    message_page(status, "Checkout closed", message)
}

pub async fn show(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    let objects = sim.objects();
    let Some(session) = objects.checkout_sessions.get(&id).cloned() else {
        return message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "This Checkout Session does not exist.",
        );
    };
    if session["status"] != "open" {
        return closed_page(&session, StatusCode::OK);
    }
    Html(form_page(&objects, &session, &CardForm::default(), None)).into_response()
}

fn parse_form(body: &[u8]) -> CardForm {
    let mut form = CardForm::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "email" => form.email = value.trim().to_owned(),
            "name" => form.name = value.trim().to_owned(),
            "card_number" => form.card_number = value,
            "exp" => form.exp = value,
            "cvc" => form.cvc = value,
            _ => {}
        }
    }
    form
}

pub async fn submit(State(sim): State<Sim>, Path(id): Path<String>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let mut objects = sim.objects();
    let Some(session) = objects.checkout_sessions.get(&id).cloned() else {
        return message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "This Checkout Session does not exist.",
        );
    };
    if session["status"] != "open" {
        return closed_page(&session, StatusCode::BAD_REQUEST);
    }
    match complete(&mut objects, &id, &form) {
        Ok(done) => {
            let target = done["success_url"]
                .as_str()
                .or_else(|| done["return_url"].as_str())
                .unwrap_or("/")
                .replace("{CHECKOUT_SESSION_ID}", &id);
            (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response()
        }
        Err(PageError { status, message }) if status.is_server_error() => {
            message_page(status, "Something went wrong", &message)
        }
        Err(PageError { status, message }) => {
            let session = objects
                .checkout_sessions
                .get(&id)
                .cloned()
                .unwrap_or(session);
            (
                status,
                Html(form_page(&objects, &session, &form, Some(&message))),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(format_amount(2000, "usd"), "$20.00");
        assert_eq!(format_amount(999, "eur"), "€9.99");
        assert_eq!(format_amount(500, "jpy"), "¥500");
        assert_eq!(format_amount(1205, "chf"), "12.05 CHF");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
