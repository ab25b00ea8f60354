//! Courses and bookings: `GET /api/courses` (public, like the plans),
//! and, for the signed-in user or the product's backend acting for one,
//! `POST /api/bookings` `{ course_id }` (a pending booking holding a seat,
//! and the Checkout to pay it on), `GET /api/bookings`,
//! `GET /api/bookings/{id}` and `POST /api/bookings/{id}/checkout` (the
//! open Checkout again, or a retry after a failure or expiry) and
//! `POST /api/bookings/{id}/cancel` (a full refund, within the policy).
//! Another user's booking answers 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;
use paywarden_app::billing::BookingCheckout;
use paywarden_core::courses::BookingStatus;
use paywarden_core::ids::{BookingId, CourseId};
use paywarden_core::Currency;
use paywarden_store::{Booking, CourseSeats};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::acting::ActingUser;
use crate::extract::limit::PaymentLimit;
use crate::extract::{JsonBody, Path};
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/api/courses", get(list_courses))
        .route("/api/courses/{id}", get(show_course))
        .nest("/api", user_routes())
        .nest("/api/users/{user_id}", user_routes())
}

fn user_routes() -> Routes {
    Routes::new()
        .route("/bookings", get(list_bookings).post(create_booking))
        .route("/bookings/{id}", get(show_booking))
        .route("/bookings/{id}/checkout", post(booking_checkout))
        .route("/bookings/{id}/cancel", post(cancel_booking))
}

/// A course as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct CourseView<'a> {
    id: CourseId,
    title: &'a str,
    description: &'a str,
    price: i64,
    currency: Currency,
    capacity: u32,
    seats_left: u32,
    starts_at: i64,
    ends_at: i64,
}

impl<'a> From<&'a CourseSeats> for CourseView<'a> {
    fn from(seats: &'a CourseSeats) -> Self {
        let course = &seats.course;
        Self {
            id: course.id(),
            title: course.title(),
            description: course.description(),
            price: course.price().amount,
            currency: course.price().currency,
            capacity: course.capacity(),
            seats_left: seats.seats_left(),
            starts_at: course.starts_at(),
            ends_at: course.ends_at(),
        }
    }
}

/// A booking as the API shows it (no internal hold bookkeeping).
#[derive(Debug, Serialize)]
struct BookingJson<'a> {
    id: BookingId,
    course_id: CourseId,
    #[serde(skip_serializing_if = "Option::is_none")]
    course_title: Option<&'a str>,
    status: BookingStatus,
    status_reason: Option<&'a str>,
    amount: i64,
    currency: &'a str,
    amount_paid: Option<i64>,
    checkout_session: Option<&'a str>,
    created_at: i64,
    confirmed_at: Option<i64>,
}

fn booking_json<'a>(booking: &'a Booking, course_title: Option<&'a str>) -> BookingJson<'a> {
    BookingJson {
        id: booking.id,
        course_id: booking.course_id,
        course_title,
        status: booking.status,
        status_reason: booking.status_reason.as_deref(),
        amount: booking.price.amount,
        currency: booking.price.currency.as_str(),
        amount_paid: booking.amount_paid,
        checkout_session: booking.checkout_session_id.as_deref(),
        created_at: booking.created_at,
        confirmed_at: booking.confirmed_at,
    }
}

#[derive(Debug, Deserialize)]
struct ObjectPath {
    id: String,
}

pub(crate) fn course_id(text: &str) -> Result<CourseId, ApiError> {
    // A malformed id names no course: the same answer as an unknown one.
    text.parse()
        .map_err(|_| ApiError::NotFound("course".into()))
}

pub(crate) fn booking_id(text: &str) -> Result<BookingId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound("booking".into()))
}

async fn list_courses(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let courses = state.billing()?.courses().await?;
    let data: Vec<CourseView> = courses.iter().map(CourseView::from).collect();
    Ok(Json(json!({ "data": data })))
}

async fn show_course(
    State(state): State<AppState>,
    Path(ObjectPath { id }): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    let seats = state.billing()?.course(course_id(&id)?).await?;
    Ok(Json(json!(CourseView::from(&seats))))
}

/// `POST /api/bookings`: only the course is chosen by the client; the
/// price and the redirect URLs come from the server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBooking {
    course_id: String,
}

async fn create_booking(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    ActingUser(user): ActingUser,
    JsonBody(request): JsonBody<NewBooking>,
) -> Result<(StatusCode, Json<BookingCheckout>), ApiError> {
    let course = course_id(&request.course_id)?;
    let created = state.billing()?.book(&user, course).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list_bookings(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
) -> Result<Json<Value>, ApiError> {
    let views = state.billing()?.bookings_of(&user).await?;
    let data: Vec<BookingJson> = views
        .iter()
        .map(|v| booking_json(&v.booking, Some(&v.course_title)))
        .collect();
    Ok(Json(json!({ "data": data })))
}

async fn show_booking(
    State(state): State<AppState>,
    ActingUser(user): ActingUser,
    Path(ObjectPath { id }): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    let booking = state.billing()?.booking(&user, booking_id(&id)?).await?;
    Ok(Json(json!(booking_json(&booking, None))))
}

async fn booking_checkout(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    ActingUser(user): ActingUser,
    Path(ObjectPath { id }): Path<ObjectPath>,
) -> Result<Json<BookingCheckout>, ApiError> {
    Ok(Json(
        state
            .billing()?
            .booking_checkout(&user, booking_id(&id)?)
            .await?,
    ))
}

async fn cancel_booking(
    State(state): State<AppState>,
    _limit: PaymentLimit,
    ActingUser(user): ActingUser,
    Path(ObjectPath { id }): Path<ObjectPath>,
) -> Result<Json<Value>, ApiError> {
    let booking = state
        .billing()?
        .cancel_booking(&user, booking_id(&id)?)
        .await?;
    Ok(Json(json!(booking_json(&booking, None))))
}
