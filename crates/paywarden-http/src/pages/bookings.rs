//! `/bookings`: the visitor's bookings with their payment status, a
//! button to continue or retry a payment (`POST /bookings/{id}/pay`) and
//! one to cancel a paid booking with a refund (`POST /bookings/{id}/cancel`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;
use paywarden_core::courses::BookingStatus;

use super::csrf::{CsrfToken, CSRF_FIELD};
use super::layout::{money, page, when};
use super::{back_to, to_stripe, IdPath, PageError, PagePost, SignedIn};
use crate::extract::Path;
use crate::route_table::Routes;
use crate::routes::bookings::booking_id;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/bookings", get(list))
        .route("/bookings/{id}/pay", post(pay))
        .route("/bookings/{id}/cancel", post(cancel))
}

async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let bookings = state.billing()?.bookings_of(&user).await?;
    let body = html! {
        h1 { "My bookings" }
        @if bookings.is_empty() {
            p { "You have no bookings yet. " a href="/courses" { "Browse the courses" } "." }
        } @else {
            table {
                caption.muted { "Your course bookings and their payment status" }
                thead { tr { th scope="col" { "Course" } th scope="col" { "Starts" } th scope="col" { "Amount" } th scope="col" { "Status" } th scope="col" { "Action" } } }
                tbody {
                    @for view in &bookings {
                        @let b = &view.booking;
                        tr data-booking=(b.id) {
                            td { (view.course_title) }
                            td { (when(view.course_starts_at)) }
                            td { (money(b.amount_paid.unwrap_or(b.price.amount), b.price.currency.as_str())) }
                            td {
                                span class={ "status status-" (b.status.as_str()) } { (b.status.as_str()) }
                                @if let Some(reason) = &b.status_reason {
                                    br; span.muted { (reason) }
                                }
                            }
                            td {
                                @match b.status {
                                    BookingStatus::Pending | BookingStatus::Failed | BookingStatus::Expired => {
                                        form method="post" action={ "/bookings/" (b.id) "/pay" } {
                                            input type="hidden" name=(CSRF_FIELD) value=(csrf.value());
                                            button type="submit" {
                                                @if b.status == BookingStatus::Pending { "Continue payment" } @else { "Try again" }
                                            }
                                        }
                                    }
                                    BookingStatus::Confirmed if b.cancel_requested_at.is_some() => { "Refund pending" }
                                    BookingStatus::Confirmed => {
                                        "Paid "
                                        form method="post" action={ "/bookings/" (b.id) "/cancel" } {
                                            input type="hidden" name=(CSRF_FIELD) value=(csrf.value());
                                            button.secondary type="submit" aria-label={ "Cancel the booking of " (view.course_title) " and get a refund" } { "Cancel and refund" }
                                        }
                                    }
                                    BookingStatus::Cancelled => { "Refunded" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(StatusCode::OK, "My bookings", Some(&csrf), body))
}

async fn pay(
    State(state): State<AppState>,
    Path(IdPath { id }): Path<IdPath>,
    PagePost { user, .. }: PagePost,
) -> Result<Response, PageError> {
    let checkout = state
        .billing()?
        .booking_checkout(&user, booking_id(&id)?)
        .await?;
    Ok(to_stripe(&checkout.checkout_url))
}

async fn cancel(
    State(state): State<AppState>,
    Path(IdPath { id }): Path<IdPath>,
    PagePost { user, .. }: PagePost,
) -> Result<Response, PageError> {
    state
        .billing()?
        .cancel_booking(&user, booking_id(&id)?)
        .await?;
    Ok(back_to("/bookings"))
}
