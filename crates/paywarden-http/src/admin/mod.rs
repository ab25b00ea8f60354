//! `/api/admin`: operator routes. Every handler takes an [`AdminKey`],
//! so none can be reached without an admin key.
//!
//! [`AdminKey`]: crate::auth::AdminKey

mod credits;
mod events;
mod grants;
mod webhooks;

pub use events::event_json;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    events::routes()
        .merge(grants::routes())
        .merge(credits::routes())
        .merge(webhooks::routes())
}
