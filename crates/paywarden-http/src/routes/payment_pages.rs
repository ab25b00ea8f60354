//! Where Stripe Checkout sends the user back: the success page syncs the
//! session from Stripe (so access shows at once, even before the webhook)
//! and says what was bought; the cancel page offers the way back.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::user::EndUser;
use crate::extract::Query;
use crate::html::{escape, page, query_value};
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/payment/success", get(success))
        .route("/payment/cancel", get(cancel))
}

#[derive(Debug, Deserialize)]
struct SuccessParams {
    session_id: String,
}

/// Not signed in: to the demo sign-in (demo mode) or a page that says so.
fn sign_in_first(state: &AppState, back_to: &str) -> Response {
    if state.users().demo_mode() {
        let next: String = query_value(back_to);
        return (
            StatusCode::SEE_OTHER,
            [(LOCATION, format!("/auth/demo?next={next}"))],
        )
            .into_response();
    }
    page(
        StatusCode::UNAUTHORIZED,
        "Sign in",
        "<h1>Please sign in</h1><p>Sign in to the product you bought from, then open this page again.</p>",
    )
}

fn money(amount: Option<i64>, currency: Option<&str>) -> String {
    match (amount, currency) {
        (Some(amount), Some(currency)) => format!(
            "{} {}.{:02}",
            currency.to_uppercase(),
            amount / 100,
            (amount % 100).abs()
        ),
        _ => String::new(),
    }
}

async fn success(
    State(state): State<AppState>,
    user: Result<EndUser, ApiError>,
    Query(params): Query<SuccessParams>,
) -> Result<Response, ApiError> {
    let Ok(EndUser(user)) = user else {
        return Ok(sign_in_first(
            &state,
            &format!("/payment/success?session_id={}", params.session_id),
        ));
    };
    let status = state
        .billing()?
        .sync_checkout(&user, &params.session_id)
        .await?;
    let what = escape(status.plan.as_deref().unwrap_or("your purchase"));
    let amount = escape(&money(status.amount_total, status.currency.as_deref()));
    let body = if status.fulfilled {
        format!(
            "<h1>Thank you!</h1><p>Your payment for <strong>{what}</strong> {amount} went through \
             and your access is active now.</p><p><a href=\"/account\">Go to your account</a></p>"
        )
    } else if status.status == "complete" {
        format!(
            "<h1>Payment processing</h1><p>Your payment for <strong>{what}</strong> is being \
             processed. Access starts as soon as it clears; this page does not need to stay open.</p>"
        )
    } else {
        "<h1>Payment not completed</h1><p>This checkout was not completed. \
         <a href=\"/pricing\">Choose a plan again</a>.</p>"
            .to_owned()
    };
    Ok(page(StatusCode::OK, "Payment", &body))
}

async fn cancel() -> Response {
    page(
        StatusCode::OK,
        "Checkout canceled",
        "<h1>Checkout canceled</h1><p>Nothing was charged. \
         <a href=\"/pricing\">Back to the plans</a> to try again.</p>",
    )
}
