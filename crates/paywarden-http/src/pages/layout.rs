//! The frame every end-user page shares (navigation, styles, a skip link)
//! and the small formatters pages use for money and dates.
//!
//! Pages are maud templates: every interpolated value is escaped, so no
//! page builds HTML from strings by hand.

use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use paywarden_core::catalog::FeatureValue;

use super::csrf::CsrfToken;

/// Styles: system fonts, high contrast (text #1a1a1a on white, links
/// #0b57d0, both above WCAG AA), a visible focus ring on everything.
const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}\
a{color:#0b57d0}\
header{border-bottom:1px solid #d0d7de;background:#f6f8fa}\
nav{max-width:56rem;margin:0 auto;padding:.75rem 1rem;display:flex;gap:1.25rem;align-items:center;flex-wrap:wrap}\
nav .brand{font-weight:700;text-decoration:none;color:#1a1a1a;margin-right:auto}\
main{max-width:56rem;margin:0 auto;padding:1.5rem 1rem 3rem}\
.skip{position:absolute;left:-10rem}.skip:focus{left:1rem;top:.5rem;background:#fff;padding:.25rem .5rem}\
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem;padding:0;list-style:none}\
.card{border:1px solid #d0d7de;border-radius:.5rem;padding:1rem;display:flex;flex-direction:column;gap:.5rem}\
.card h2{font-size:1.1rem;margin:0}\
.price{font-size:1.25rem;font-weight:600}\
.muted{color:#4a5560}\
button,.button{font:inherit;background:#0b57d0;color:#fff;border:0;border-radius:.375rem;padding:.5rem 1rem;cursor:pointer;text-decoration:none;display:inline-block}\
button[disabled]{background:#6b7785;cursor:not-allowed}\
.secondary{background:#fff;color:#0b57d0;border:1px solid #0b57d0}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.5rem;border-bottom:1px solid #d0d7de}\
.status{font-weight:600}.status-confirmed{color:#116329}.status-failed,.status-expired{color:#a40e26}.status-pending{color:#7d4e00}\
.notice{border-left:4px solid #0b57d0;background:#f0f6ff;padding:.75rem 1rem}\
.error{border-left:4px solid #a40e26;background:#fff0f0;padding:.75rem 1rem}";

/// A whole page. `csrf` is the visitor's form token; a new one is set as
/// a cookie with the page.
pub fn page(status: StatusCode, title: &str, csrf: Option<&CsrfToken>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · paywarden" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/courses" { "paywarden" }
                        a href="/courses" { "Courses" }
                        a href="/pricing" { "Pricing" }
                        a href="/bookings" { "My bookings" }
                        a href="/account" { "Account" }
                    }
                }
                main #main { (body) }
            }
        }
    };
    let mut response = (
        status,
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response();
    if let Some(cookie) = csrf.and_then(CsrfToken::set_cookie) {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// A feature map as list items: `api`, `projects: 50`, `exports: no`.
pub fn feature_items(features: &std::collections::BTreeMap<String, FeatureValue>) -> Markup {
    html! {
        @for (name, value) in features {
            li data-feature=(name) { (name) @match value {
                FeatureValue::Flag(true) => {},
                FeatureValue::Flag(false) => { ": no" },
                FeatureValue::Limit(n) => { ": " (n) },
            } }
        }
    }
}

/// Currencies Stripe counts in whole units (no minor unit).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// `USD 149.00` from minor units.
pub fn money(amount: i64, currency: &str) -> String {
    let code = currency.to_uppercase();
    if ZERO_DECIMAL.contains(&currency.to_ascii_lowercase().as_str()) {
        return format!("{code} {amount}");
    }
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    format!("{code} {sign}{}.{:02}", abs / 100, abs % 100)
}

/// `2026-12-14 09:00 UTC` from unix seconds.
pub fn when(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "unknown date".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_in_major_units() {
        assert_eq!(money(14_900, "usd"), "USD 149.00");
        assert_eq!(money(5, "eur"), "EUR 0.05");
        assert_eq!(money(-250, "usd"), "USD -2.50");
        assert_eq!(money(500, "jpy"), "JPY 500");
    }

    #[test]
    fn dates_are_shown_in_utc() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
    }
}
