//! Server-rendered pages for end users: courses, bookings, pricing and
//! the account. They work without JavaScript, are
//! maud templates (every value escaped), and every form post carries a
//! CSRF token. Signed-out visitors are sent to sign in.

pub(crate) mod csrf;
pub(crate) mod layout;

mod account;
mod bookings;
mod courses;
mod pricing;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::Form;
use serde::de::DeserializeOwned;

use self::csrf::CsrfToken;
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use paywarden_app::AppError;
use paywarden_core::UserId;

use crate::error::ApiError;
use crate::extract::limit::PaymentLimit;
use crate::extract::user::EndUser;
use crate::html::query_value;
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .merge(courses::routes())
        .merge(bookings::routes())
        .merge(pricing::routes())
        .merge(account::routes())
}

/// The `{id}` of a page route.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct IdPath {
    pub id: String,
}

/// A form that posts nothing but the CSRF token.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    pub csrf: String,
}

/// A page form: it carries the visitor's CSRF token.
pub(crate) trait CsrfForm {
    fn csrf(&self) -> &str;
}

impl CsrfForm for TokenForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A page's form post, admitted: within the payment rate budget, from a
/// signed-in visitor, carrying their CSRF token. Every page post takes
/// it, so none can skip a check.
#[derive(Debug)]
pub(crate) struct PagePost<F = TokenForm> {
    pub user: UserId,
    pub form: F,
}

impl<F> FromRequest<AppState> for PagePost<F>
where
    F: DeserializeOwned + CsrfForm + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        PageLimit::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let SignedIn(user) = SignedIn::from_request_parts(&mut parts, state).await?;
        let csrf = match CsrfToken::from_request_parts(&mut parts, state).await {
            Ok(csrf) => csrf,
            Err(never) => match never {},
        };
        let Form(form) = Form::<F>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        csrf.check(form.csrf())
            .map_err(|err| PageError::from(err).into_response())?;
        Ok(Self { user, form })
    }
}

/// 303 to a Stripe-hosted page (Checkout, the billing portal).
pub(crate) fn to_stripe(url: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, url.to_owned())]).into_response()
}

/// 303 back to one of our pages after a form post.
pub(crate) fn back_to(path: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, path)]).into_response()
}

/// The signed-in visitor of a page; anyone else is sent to sign in.
#[derive(Debug, Clone)]
pub struct SignedIn(pub UserId);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match EndUser::from_request_parts(parts, state).await {
            Ok(EndUser(user)) => Ok(Self(user)),
            Err(_) => {
                let back_to = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                Err(sign_in_first(state, &back_to))
            }
        }
    }
}

/// Not signed in: to the demo sign-in (demo mode), or a page that says
/// to sign in through the product.
pub fn sign_in_first(state: &AppState, back_to: &str) -> Response {
    if state.users().demo_mode() {
        let next = query_value(back_to);
        return (
            StatusCode::SEE_OTHER,
            [(LOCATION, format!("/auth/demo?next={next}"))],
        )
            .into_response();
    }
    layout::page(
        StatusCode::UNAUTHORIZED,
        "Sign in",
        None,
        html! {
            h1 { "Please sign in" }
            p { "Sign in to the product you came from, then open this page again." }
        },
    )
}

/// An error on a page: the same status as the API would answer, shown
/// as a page (and logged the same way).
#[derive(Debug)]
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl From<AppError> for PageError {
    fn from(err: AppError) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // Display never carries an internal cause; the API's response
        // logs it and gives the status and headers (Retry-After, say).
        let message = self.0.to_string();
        let api = self.0.into_response();
        let status = api.status();
        let title = if status.is_server_error() {
            "Something went wrong"
        } else {
            "That did not work"
        };
        let mut page = layout::page(
            status,
            title,
            None,
            html! {
                h1 { (title) }
                div.error role="alert" { p { (message) } }
                p { a href="/courses" { "Back to the courses" } " · " a href="/bookings" { "My bookings" } }
            },
        );
        for name in ["retry-after", "ratelimit", "ratelimit-policy"] {
            if let Some(value) = api.headers().get(name) {
                page.headers_mut().insert(name, value.clone());
            }
        }
        page
    }
}

/// [`PaymentLimit`] for a page: a refusal is a page, not JSON.
#[derive(Debug, Clone, Copy)]
pub struct PageLimit;

impl FromRequestParts<AppState> for PageLimit {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        PaymentLimit::from_request_parts(parts, state)
            .await
            .map(|_| Self)
            .map_err(PageError::from)
    }
}
