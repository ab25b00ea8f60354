//! Where Stripe Checkout sends the user back: the success page syncs the
//! session from Stripe (so access or a booking shows at once, even before
//! the webhook) and says what was bought; the cancel page offers the way
//! back (for a booking, a button that opens its Checkout again).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::html;
use paywarden_core::courses::BookingStatus;
use paywarden_core::ids::BookingId;
use serde::Deserialize;

use crate::extract::Query;
use crate::pages::csrf::{CsrfToken, CSRF_FIELD};
use crate::pages::layout::{money, page};
use crate::pages::{PageError, SignedIn};
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

async fn success(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    Query(params): Query<SuccessParams>,
) -> Result<Response, PageError> {
    let billing = state.billing()?;
    let status = billing.sync_checkout(&user, &params.session_id).await?;
    let amount = match (status.amount_total, status.currency.as_deref()) {
        (Some(amount), Some(currency)) => money(amount, currency),
        _ => String::new(),
    };
    let booking = match status
        .booking
        .as_deref()
        .and_then(|id| id.parse::<BookingId>().ok())
    {
        Some(id) => billing.booking(&user, id).await.ok(),
        None => None,
    };
    let body = match booking {
        Some(booking) => html! {
            @if booking.status == BookingStatus::Confirmed {
                h1 { "Your seat is booked" }
                div.notice role="status" {
                    p { "Payment of " (amount) " received. Your booking is " strong { "confirmed" } "." }
                }
            } @else {
                h1 { "Payment processing" }
                p { "Your booking is " strong { (booking.status.as_str()) } ". It is confirmed as soon as Stripe confirms the payment; this page does not need to stay open." }
            }
            p { a href="/bookings" { "See my bookings" } }
        },
        None if status.fulfilled => html! {
            h1 { "Thank you!" }
            div.notice role="status" {
                p { "Your payment for " strong { (status.plan.as_deref().unwrap_or("your purchase")) } " " (amount) " went through and your access is active now." }
            }
            p { a href="/account" { "Go to your account" } }
        },
        None if status.status == "complete" => html! {
            h1 { "Payment processing" }
            p { "Your payment for " strong { (status.plan.as_deref().unwrap_or("your purchase")) } " is being processed. Access starts as soon as it clears; this page does not need to stay open." }
        },
        None => html! {
            h1 { "Payment not completed" }
            p { "This checkout was not completed. " a href="/pricing" { "Choose a plan again" } "." }
        },
    };
    Ok(page(StatusCode::OK, "Payment", None, body))
}

#[derive(Debug, Deserialize)]
struct CancelParams {
    booking: Option<String>,
}

async fn cancel(
    SignedIn(_user): SignedIn,
    csrf: CsrfToken,
    Query(params): Query<CancelParams>,
) -> Response {
    let booking = params
        .booking
        .as_deref()
        .and_then(|id| id.parse::<BookingId>().ok());
    let body = html! {
        h1 { "Checkout canceled" }
        p { "Nothing was charged." }
        @if let Some(booking) = booking {
            p { "Your seat stays held for a little while. You can pay for it now:" }
            form method="post" action={ "/bookings/" (booking) "/pay" } {
                input type="hidden" name=(CSRF_FIELD) value=(csrf.value());
                button type="submit" { "Retry payment" }
            }
            p { a href="/bookings" { "My bookings" } }
        } @else {
            p { a href="/pricing" { "Back to the plans" } " to try again." }
        }
    };
    page(StatusCode::OK, "Checkout canceled", Some(&csrf), body)
}
