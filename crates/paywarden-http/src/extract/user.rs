//! The end user behind a request: a JWT from the host product, presented
//! as `Authorization: Bearer <JWT>` or in the pages' session cookie.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use paywarden_app::auth::{AuthError, UserAuth};
use paywarden_app::AppError;
use paywarden_core::UserId;

use crate::error::ApiError;
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pw_session";

/// End-user authentication as configured (none: every token refused).
#[derive(Debug, Default)]
pub struct Users {
    auth: Option<UserAuth>,
    secure_cookie: bool,
}

impl Users {
    pub fn new(auth: UserAuth, secure_cookie: bool) -> Self {
        Self {
            auth: Some(auth),
            secure_cookie,
        }
    }

    /// The verifier, or a 401 saying end-user auth is off.
    pub fn auth(&self) -> Result<&UserAuth, ApiError> {
        self.auth.as_ref().ok_or_else(|| {
            ApiError::Unauthorized("end-user authentication is not configured".into())
        })
    }

    /// Whether demo mode is on.
    pub fn demo_mode(&self) -> bool {
        self.auth.as_ref().is_some_and(UserAuth::demo_mode)
    }

    /// The `Set-Cookie` value that stores `token` (or clears it, `None`).
    pub fn cookie(&self, token: Option<&str>) -> String {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        match token {
            Some(token) => {
                format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/{secure}")
            }
            None => format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}"),
        }
    }

    /// The user a token names.
    pub async fn verify(&self, token: &str) -> Result<UserId, ApiError> {
        self.auth()?
            .verify(token)
            .await
            .map_err(|e| ApiError::from(AppError::from(e)))
    }
}

/// A request made by an authenticated end user.
#[derive(Debug, Clone)]
pub struct EndUser(pub UserId);

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The value of the request's cookie `name`, if it is set and not empty.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

fn session_cookie(parts: &Parts) -> Option<&str> {
    cookie(parts, SESSION_COOKIE)
}

impl FromRequestParts<AppState> for EndUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .or_else(|| session_cookie(parts))
            .ok_or_else(|| ApiError::Unauthorized(AuthError::Missing.to_string()))?;
        let user = state.users().verify(token).await?;
        tracing::Span::current().record("user.id", tracing::field::display(&user));
        Ok(EndUser(user))
    }
}
