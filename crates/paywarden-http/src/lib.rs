//! paywarden's HTTP surface.
//!
//! Routers for the Stripe webhook, health probes and the admin API; the
//! extractors that authenticate operators; request ids and request logs;
//! and the one place where errors become HTTP responses (`error.rs`). No
//! SQL here: handlers call the use cases in `paywarden-app`.
#![forbid(unsafe_code)]

mod admin;
mod auth;
mod error;
mod extract;
mod health;
mod html;
mod metrics;
mod observability;
mod pages;
mod route_table;
mod webhooks;
mod routes {
    pub mod auth;
    pub mod billing;
    pub mod bookings;
    pub mod credits;
    pub mod entitlements;
    pub mod payment_pages;
}

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use paywarden_app::credits::Credits;
use paywarden_app::entitlements::Entitlements;
use paywarden_app::keys::KeyCache;
use paywarden_app::webhooks::WebhookInbox;
use paywarden_store::Store;
use tokio::net::TcpListener;

pub use admin::event_json;
pub use error::ApiError;

/// What every handler can reach. One pointer: axum clones the state for
/// every request, and cloning each part's handles showed in the profile of
/// the entitlement check route.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Parts>);

#[derive(Debug, Clone)]
struct Parts {
    inner: Arc<Inner>,
    users: Arc<extract::user::Users>,
    billing: Option<paywarden_app::billing::Billing>,
    entitlements: Option<Entitlements>,
    outbound: Option<paywarden_app::outbound::Outbound>,
    limits: Option<Arc<paywarden_app::limits::PaymentLimits>>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    inbox: WebhookInbox,
    keys: KeyCache,
    credits: Credits,
}

impl AppState {
    pub fn new(store: Store, inbox: WebhookInbox) -> Self {
        Self(Arc::new(Parts {
            inner: Arc::new(Inner {
                keys: KeyCache::new(store.clone()),
                credits: Credits::new(store.clone()),
                store,
                inbox,
            }),
            users: Arc::default(),
            billing: None,
            entitlements: None,
            outbound: None,
            limits: None,
        }))
    }

    /// The parts, to set one while the state is being built.
    fn parts_mut(&mut self) -> &mut Parts {
        Arc::make_mut(&mut self.0)
    }

    /// Turns entitlement checks on (without it they answer 503).
    pub fn with_entitlements(mut self, entitlements: Entitlements) -> Self {
        self.parts_mut().entitlements = Some(entitlements);
        self
    }

    pub(crate) fn entitlements(&self) -> Result<&Entitlements, ApiError> {
        self.0
            .entitlements
            .as_ref()
            .ok_or(ApiError::Unavailable(None))
    }

    pub(crate) fn credits(&self) -> &Credits {
        &self.0.inner.credits
    }

    /// Turns the outbound webhook routes on (without it they answer 503).
    pub fn with_outbound(mut self, outbound: paywarden_app::outbound::Outbound) -> Self {
        self.parts_mut().outbound = Some(outbound);
        self
    }

    pub(crate) fn outbound(&self) -> Result<&paywarden_app::outbound::Outbound, ApiError> {
        self.0.outbound.as_ref().ok_or(ApiError::Unavailable(None))
    }

    /// Turns on the payment endpoints' rate limits (off without it).
    pub fn with_limits(mut self, limits: paywarden_app::limits::PaymentLimits) -> Self {
        self.parts_mut().limits = Some(Arc::new(limits));
        self
    }

    pub(crate) fn limits(&self) -> Option<&paywarden_app::limits::PaymentLimits> {
        self.0.limits.as_deref()
    }

    pub(crate) fn keys(&self) -> &KeyCache {
        &self.0.inner.keys
    }

    /// Turns selling on: plans, Checkout, subscriptions, the portal
    /// (without it those routes answer 503).
    pub fn with_billing(mut self, billing: paywarden_app::billing::Billing) -> Self {
        self.parts_mut().billing = Some(billing);
        self
    }

    pub(crate) fn billing(&self) -> Result<&paywarden_app::billing::Billing, ApiError> {
        self.0.billing.as_ref().ok_or(ApiError::Unavailable(None))
    }

    /// Turns end-user authentication on (without it every end-user route
    /// answers 401). `secure_cookie`: the public base URL is https.
    pub fn with_user_auth(
        mut self,
        auth: paywarden_app::auth::UserAuth,
        secure_cookie: bool,
    ) -> Self {
        self.parts_mut().users = Arc::new(extract::user::Users::new(auth, secure_cookie));
        self
    }

    pub(crate) fn users(&self) -> &extract::user::Users {
        &self.0.users
    }

    pub(crate) fn store(&self) -> &Store {
        &self.0.inner.store
    }

    pub(crate) fn inbox(&self) -> &WebhookInbox {
        &self.0.inner.inbox
    }
}

/// The whole application: its router and the names of its routes.
#[derive(Debug, Clone)]
pub struct App {
    router: Router,
    paths: Vec<String>,
}

impl App {
    /// Mounts another router (the embedded Stripe stand-in) under `prefix`;
    /// its requests are logged under the route `{prefix}/{*rest}`.
    pub fn nest(mut self, prefix: &str, router: Router) -> Self {
        self.router = self.router.nest(prefix, router);
        self.paths.push(format!("{prefix}/{{*rest}}"));
        self
    }
}

/// The whole application router.
pub fn router(state: AppState) -> App {
    let (routes, paths) = route_table::Routes::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(webhooks::routes())
        .nest("/api/admin", admin::routes())
        .merge(routes::auth::routes())
        .merge(routes::billing::routes())
        .merge(routes::bookings::routes())
        .merge(routes::credits::routes())
        .merge(routes::entitlements::routes())
        .merge(routes::payment_pages::routes())
        .merge(pages::routes())
        .into_parts();
    let router = routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state);
    App { router, paths }
}

/// Serves `app` on an already-bound listener until `shutdown` resolves.
/// Tests bind `127.0.0.1:0` and pass the listener in.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let names = route_table::RouteNames::new(app.paths.iter().map(String::as_str));
    let service = observability::RequestService::new(app.router, names);
    let per_connection = tower::service_fn(
        move |stream: axum::serve::IncomingStream<'_, TcpListener>| {
            let service = service.clone().for_peer(*stream.remote_addr());
            std::future::ready(Ok::<_, std::convert::Infallible>(service))
        },
    );
    axum::serve(listener, per_connection)
        .with_graceful_shutdown(shutdown)
        .await
}
