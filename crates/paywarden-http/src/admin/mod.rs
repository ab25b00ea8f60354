//! `/api/admin`: operator routes. Every handler takes an [`AdminKey`],
//! so none can be reached without an admin key.
//!
//! [`AdminKey`]: crate::auth::AdminKey

mod credits;
mod events;
mod grants;
mod webhooks;

pub use events::event_json;

use crate::route_table::Routes;

pub(crate) fn routes() -> Routes {
    events::routes()
        .merge(grants::routes())
        .merge(credits::routes())
        .merge(webhooks::routes())
}
