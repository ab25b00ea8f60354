//! End-user session routes: the callback that turns a host product's JWT
//! into a session cookie, logout, the demo login page (demo mode only) and
//! `GET /api/me`, the smallest route that needs an end user.

use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use paywarden_core::UserId;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::user::EndUser;
use crate::extract::Query;
use crate::html::{escape, query_value};
use crate::route_table::Routes;
use crate::AppState;

/// The demo users offered on the demo login page.
const DEMO_USERS: [&str; 3] = ["alice", "bob", "carol"];

pub fn routes() -> Routes {
    Routes::new()
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/demo", get(demo))
        .route("/api/me", get(me))
}

#[derive(Debug, Deserialize)]
struct CallbackParams {
    token: String,
    next: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    Query(params): Query<CallbackParams>,
) -> Result<Response, ApiError> {
    state.users().verify(&params.token).await?;
    Ok(signed_in(&state, &params.token, params.next.as_deref()))
}

async fn logout(State(state): State<AppState>) -> Response {
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, state.users().cookie(None))],
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct DemoParams {
    user: Option<String>,
    next: Option<String>,
}

async fn demo(
    State(state): State<AppState>,
    Query(params): Query<DemoParams>,
) -> Result<Response, ApiError> {
    if !state.users().demo_mode() {
        return Err(ApiError::NotFound("route".into()));
    }
    let next = local_path(params.next.as_deref());
    let Some(user) = params.user else {
        return Ok(demo_page(next));
    };
    if !DEMO_USERS.contains(&user.as_str()) {
        return Err(ApiError::InvalidRequest(
            "user must be one of alice, bob, carol".into(),
        ));
    }
    let user: UserId = user
        .parse()
        .map_err(|_| ApiError::InvalidRequest("user is not a valid user id".into()))?;
    let auth = state.users().auth()?;
    let token = auth
        .sign_demo(&user)
        .ok_or_else(|| ApiError::NotFound("route".into()))?
        .map_err(|e| ApiError::from(paywarden_app::AppError::from(e)))?;
    Ok(signed_in(&state, &token, Some(next)))
}

async fn me(EndUser(user): EndUser) -> Json<serde_json::Value> {
    Json(json!({ "user_id": user }))
}

/// 303 to `next` (a local path only) with the session cookie set.
fn signed_in(state: &AppState, token: &str, next: Option<&str>) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, state.users().cookie(Some(token))),
            (LOCATION, local_path(next).to_owned()),
        ],
    )
        .into_response()
}

/// `next` when it is a path on this site, else `/`: no scheme, no host,
/// no `//` or `/\` (which browsers read as another host), no control
/// characters.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            path
        }
        _ => "/",
    }
}

fn demo_page(next: &str) -> Response {
    let next_param = escape(&query_value(next));
    let links: String = DEMO_USERS
        .iter()
        .map(|user| {
            format!(
                "<li><a href=\"/auth/demo?user={user}&amp;next={next_param}\">Sign in as {user}</a></li>"
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Demo mode sign-in</title></head>\
         <body><h1>Demo mode</h1><p>Demo mode is on: anyone can sign in as a demo user. \
         Turn it off (demo_mode = false) before real users arrive.</p><ul>{links}</ul></body></html>"
    );
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/plans?x=1")), "/plans?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "evil",
            "/a b",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }
}
