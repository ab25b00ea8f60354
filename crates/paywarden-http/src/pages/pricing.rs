//! `/pricing`: the catalog's plans and one-time packs with a button per
//! price; `POST /pricing/checkout` starts Checkout for the chosen catalog
//! price (the amount is the catalog's, never the form's).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;
use paywarden_app::billing::{NewCheckout, PlanPrice};
use serde::Deserialize;

use super::csrf::{CsrfToken, CSRF_FIELD};
use super::layout::{feature_items, money, page};
use super::{to_stripe, CsrfForm, PageError, PagePost, SignedIn};
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/pricing", get(pricing))
        .route("/pricing/checkout", post(checkout))
}

fn cadence(price: &PlanPrice) -> String {
    match (price.interval, price.interval_count) {
        (Some(interval), Some(n)) if n > 1 => format!(" every {n} {interval}s"),
        (Some(interval), _) => format!(" a {interval}"),
        (None, _) => " once".to_owned(),
    }
}

async fn pricing(
    State(state): State<AppState>,
    SignedIn(_user): SignedIn,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let plans = state.billing()?.plans();
    let body = html! {
        h1 { "Pricing" }
        ul.cards {
            @for plan in &plans {
                li.card {
                    h2 { (plan.name) }
                    @if let Some(description) = &plan.description { p.muted { (description) } }
                    ul {
                        (feature_items(&plan.features))
                        @if let Some(credits) = plan.credits { li { (credits) " credits" } }
                    }
                    @for price in &plan.prices {
                        form method="post" action="/pricing/checkout" {
                            input type="hidden" name=(CSRF_FIELD) value=(csrf.value());
                            input type="hidden" name="price" value=(price.lookup_key);
                            p.price { (money(price.amount, &price.currency)) span.muted { (cadence(price)) } }
                            button type="submit" aria-label={ "Buy " (plan.name) " for " (money(price.amount, &price.currency)) (cadence(price)) } {
                                @if price.mode == "subscription" { "Subscribe" } @else { "Buy" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(StatusCode::OK, "Pricing", Some(&csrf), body))
}

#[derive(Debug, Deserialize)]
struct CheckoutForm {
    #[serde(default)]
    csrf: String,
    price: String,
}

impl CsrfForm for CheckoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn checkout(
    State(state): State<AppState>,
    PagePost { user, form }: PagePost<CheckoutForm>,
) -> Result<Response, PageError> {
    let session = state
        .billing()?
        .create_checkout(
            &user,
            &NewCheckout {
                price: form.price,
                quantity: None,
            },
        )
        .await?;
    Ok(to_stripe(&session.url))
}
