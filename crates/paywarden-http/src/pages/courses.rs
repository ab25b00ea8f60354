//! `/courses` (every published course, its price and free seats, and a
//! Book button) and `/courses/{id}`; `POST /courses/{id}/book` holds a
//! seat and sends the visitor to Stripe Checkout.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{html, Markup};
use paywarden_store::{now_ms, CourseSeats};

use super::csrf::{CsrfToken, CSRF_FIELD};
use super::layout::{money, page, when};
use super::{to_stripe, IdPath, PageError, PagePost, SignedIn};
use crate::extract::Path;
use crate::route_table::Routes;
use crate::routes::bookings::course_id;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/courses", get(list))
        .route("/courses/{id}", get(show))
        .route("/courses/{id}/book", post(book))
}

/// The Book button, or why there is none.
fn book_button(seats: &CourseSeats, csrf: &CsrfToken, now_secs: i64) -> Markup {
    let course = &seats.course;
    let label = format!(
        "Book {} for {}",
        course.title(),
        money(course.price().amount, course.price().currency.as_str())
    );
    html! {
        @if course.starts_at() <= now_secs {
            p.muted { "This course has started; bookings are closed." }
        } @else if seats.seats_left() == 0 {
            p.muted { "Full: every seat is booked or being paid for." }
            button type="button" disabled { "Full" }
        } @else {
            form method="post" action={ "/courses/" (course.id()) "/book" } {
                input type="hidden" name=(CSRF_FIELD) value=(csrf.value());
                button type="submit" aria-label=(label) { "Book" }
            }
        }
    }
}

fn seats_text(seats: &CourseSeats) -> String {
    match seats.seats_left() {
        0 => "No seats left".to_owned(),
        1 => "1 seat left".to_owned(),
        n => format!("{n} of {} seats left", seats.course.capacity()),
    }
}

async fn list(
    State(state): State<AppState>,
    SignedIn(_user): SignedIn,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let courses = state.billing()?.courses().await?;
    let now = now_ms() / 1000;
    let body = html! {
        h1 { "Courses" }
        @if courses.is_empty() {
            p { "No courses are open for booking yet." }
        }
        ul.cards {
            @for seats in &courses {
                @let course = &seats.course;
                li.card {
                    h2 { a href={ "/courses/" (course.id()) } { (course.title()) } }
                    p.muted { (when(course.starts_at())) }
                    p.price { (money(course.price().amount, course.price().currency.as_str())) }
                    p { (seats_text(seats)) }
                    (book_button(seats, &csrf, now))
                }
            }
        }
    };
    Ok(page(StatusCode::OK, "Courses", Some(&csrf), body))
}

async fn show(
    State(state): State<AppState>,
    SignedIn(_user): SignedIn,
    csrf: CsrfToken,
    Path(IdPath { id }): Path<IdPath>,
) -> Result<Response, PageError> {
    let seats = state.billing()?.course(course_id(&id)?).await?;
    let course = &seats.course;
    let now = now_ms() / 1000;
    let body = html! {
        p { a href="/courses" { "← All courses" } }
        h1 { (course.title()) }
        p.muted { (when(course.starts_at())) " to " (when(course.ends_at())) }
        p { (course.description()) }
        p.price { (money(course.price().amount, course.price().currency.as_str())) }
        p { (seats_text(&seats)) }
        (book_button(&seats, &csrf, now))
    };
    Ok(page(StatusCode::OK, course.title(), Some(&csrf), body))
}

async fn book(
    State(state): State<AppState>,
    Path(IdPath { id }): Path<IdPath>,
    PagePost { user, .. }: PagePost,
) -> Result<Response, PageError> {
    let checkout = state.billing()?.book(&user, course_id(&id)?).await?;
    Ok(to_stripe(&checkout.checkout_url))
}
