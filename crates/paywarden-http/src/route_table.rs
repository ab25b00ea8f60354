//! The route table: every route's path template, kept beside the axum
//! router that serves it.
//!
//! axum does not say which routes a router holds, and the request layer
//! (see `observability`) runs outside the router, where axum's
//! `MatchedPath` is not yet known. So each module registers its routes
//! here, and the table both builds the router and names the route of any
//! request path (`/api/entitlements/{user_id}`, never the raw path with its
//! ids) for logs. Tests walk the same list, so a new route cannot be
//! forgotten by them.

use std::sync::Arc;

use axum::routing::MethodRouter;
use axum::Router;

use crate::AppState;

/// Routes being assembled: the router and the paths it serves.
#[derive(Default)]
pub(crate) struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Routes {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path.to_owned());
        self
    }

    pub(crate) fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// `other`'s routes under `prefix` (which must not end with `/`).
    pub(crate) fn nest(mut self, prefix: &str, other: Routes) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.paths.extend(
            other
                .paths
                .into_iter()
                .map(|path| format!("{prefix}{path}")),
        );
        self
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<String>) {
        (self.router, self.paths)
    }
}

/// Names the route of a request path.
#[derive(Clone)]
pub(crate) struct RouteNames {
    matcher: Arc<matchit::Router<Arc<str>>>,
}

impl std::fmt::Debug for RouteNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteNames").finish_non_exhaustive()
    }
}

impl RouteNames {
    /// axum accepted every one of these paths with the same matcher, so
    /// none can be refused here; one that were would only go unnamed.
    pub(crate) fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut matcher = matchit::Router::new();
        for path in paths {
            if let Err(err) = matcher.insert(path, Arc::from(path)) {
                tracing::warn!(path, error = %err, "a route cannot be named in logs");
            }
        }
        Self {
            matcher: Arc::new(matcher),
        }
    }

    /// The template of the route serving `path`, if any.
    pub(crate) fn name(&self, path: &str) -> Option<&str> {
        self.matcher.at(path).ok().map(|found| &**found.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_named_by_its_template_never_by_its_ids() {
        let names = RouteNames::new([
            "/api/entitlements/{user_id}",
            "/api/me/entitlements",
            "/sim/{*rest}",
        ]);
        assert_eq!(
            names.name("/api/entitlements/u_123"),
            Some("/api/entitlements/{user_id}")
        );
        assert_eq!(
            names.name("/api/me/entitlements"),
            Some("/api/me/entitlements")
        );
        assert_eq!(names.name("/sim/v1/customers"), Some("/sim/{*rest}"));
        assert_eq!(names.name("/nope"), None);
    }

    #[test]
    fn nested_routes_keep_their_prefix() {
        let inner = Routes::new().route("/events/{id}", axum::routing::get(|| async { "" }));
        let (_, paths) = Routes::new().nest("/api/admin", inner).into_parts();
        assert_eq!(paths, ["/api/admin/events/{id}"]);
    }
}
