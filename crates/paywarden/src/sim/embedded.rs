//! The embedded default: with no `STRIPE_SECRET_KEY`, `serve` mounts the
//! Stripe stand-in under `/sim` of its own listener and points everything
//! Stripe-related at it.
//!
//! The stand-in gets a webhook endpoint for every event type whose URL is
//! this server's `/webhooks/stripe`, and that endpoint's `whsec_` secret
//! joins the accepted webhook secrets, so a fresh `paywarden serve`
//! receives signed events from its own stand-in with no configuration. The
//! endpoint is created through the stand-in's own API (in process, before
//! the server answers anything) because the webhook inbox takes its
//! secrets when it is built.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use paywarden_core::signature::WebhookSecret;
use paywarden_sim::state::Settings;
use paywarden_sim::{persist, Sim};
use serde_json::Value;
use tower::ServiceExt;

use crate::stripe::{StripeSecretKey, StripeTarget};

/// Where the stand-in is mounted on `serve`'s listener.
pub const MOUNT: &str = "/sim";

/// Pages of old endpoints deleted at most, in case a deletion did not take.
const MAX_ROUNDS: usize = 10;

/// Largest answer read from the stand-in while setting it up.
const MAX_SETUP_BODY: usize = 1 << 20;

/// A stand-in ready to be nested under [`MOUNT`].
#[derive(Debug)]
pub struct Embedded {
    /// The stand-in's routes, to nest under [`MOUNT`].
    pub router: Router,
    /// Where paywarden's Stripe calls go: the stand-in, with a generated
    /// `sk_test_` key.
    pub target: StripeTarget,
    /// The stand-in's webhook endpoint for this server.
    pub webhook: Webhook,
    /// The stand-in itself (to save its state).
    pub sim: Sim,
}

/// The stand-in's webhook endpoint for this server.
#[derive(Debug)]
pub struct Webhook {
    /// The secret the stand-in signs its deliveries with.
    pub secret: WebhookSecret,
    /// The endpoint's id (`we_…`).
    pub endpoint_id: String,
    /// Where its deliveries go: this server's `/webhooks/stripe`.
    pub url: String,
}

/// Marks the endpoints `serve` makes, so that a restart with a state file
/// replaces its previous one instead of adding another.
const ENDPOINT_DESCRIPTION: &str = "paywarden serve: the embedded stand-in's deliveries";

/// Builds the stand-in for a server bound to `addr` (with the objects in
/// `state`, if given and present), gives it a fresh webhook endpoint and
/// starts its background work (delivery, clocks).
pub async fn start(addr: SocketAddr, state: Option<&Path>) -> anyhow::Result<Embedded> {
    let base = super::base_url(addr);
    let public_url = format!("{base}{MOUNT}");
    let settings = Settings {
        public_url: public_url.clone(),
        ..Settings::default()
    };
    let sim = match state {
        Some(path) => persist::open(path, settings)?,
        None => Sim::with_settings(settings),
    };
    let secret_key = StripeSecretKey::new(&format!("sk_test_{}", paywarden_sim::ids::new_id("")))
        .context("generating the stand-in's test key")?;
    // The pages and API answer under the mount, e.g. `/sim/v1/customers`.
    let router =
        paywarden_sim::router(sim.clone()).layer(axum::middleware::from_fn(super::log_request));
    let url = format!("{base}/webhooks/stripe");
    remove_previous_endpoints(&router, &secret_key)
        .await
        .context("removing the embedded Stripe stand-in's previous webhook endpoint")?;
    let (endpoint_id, secret) = create_endpoint(&router, &secret_key, &url)
        .await
        .context("creating the embedded Stripe stand-in's webhook endpoint")?;
    if let Some(path) = state {
        // At once, so a path that cannot be written stops the start.
        persist::save(&sim, path)?;
    }
    sim.start_background();
    Ok(Embedded {
        router,
        target: StripeTarget {
            api_base: public_url,
            secret_key,
        },
        webhook: Webhook {
            secret,
            endpoint_id,
            url,
        },
        sim,
    })
}

/// `POST /v1/webhook_endpoints` with `enabled_events[]=*`; returns the
/// endpoint's id and its signing secret.
async fn create_endpoint(
    router: &Router,
    key: &StripeSecretKey,
    url: &str,
) -> anyhow::Result<(String, WebhookSecret)> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("url", url)
        .append_pair("enabled_events[]", "*")
        .append_pair("description", ENDPOINT_DESCRIPTION)
        .finish();
    let endpoint = call(router, key, Method::POST, "/v1/webhook_endpoints", body).await?;
    let id = endpoint["id"].as_str().unwrap_or_default();
    let secret = endpoint["secret"].as_str().unwrap_or_default();
    if !id.starts_with("we_") || !secret.starts_with("whsec_") {
        bail!("the answer has no endpoint id and whsec_ secret");
    }
    let secret = WebhookSecret::new(secret)
        .map_err(|e| anyhow::anyhow!("the endpoint's secret is unusable: {e}"))?;
    Ok((id.to_owned(), secret))
}

/// Deletes the endpoints an earlier run of `serve` made (kept in the state
/// file): their secrets are no longer accepted and their URLs may be stale.
async fn remove_previous_endpoints(router: &Router, key: &StripeSecretKey) -> anyhow::Result<()> {
    for _ in 0..MAX_ROUNDS {
        let listed = call(
            router,
            key,
            Method::GET,
            "/v1/webhook_endpoints?limit=100",
            String::new(),
        )
        .await?;
        let ours: Vec<String> = listed["data"]
            .as_array()
            .map(|endpoints| {
                endpoints
                    .iter()
                    .filter(|e| e["description"] == ENDPOINT_DESCRIPTION)
                    .filter_map(|e| e["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if ours.is_empty() {
            return Ok(());
        }
        for id in ours {
            call(
                router,
                key,
                Method::DELETE,
                &format!("/v1/webhook_endpoints/{id}"),
                String::new(),
            )
            .await?;
        }
    }
    bail!("the endpoints are still listed after {MAX_ROUNDS} rounds of deletion")
}

/// One API call to the stand-in, in process; a non-200 answer is an error
/// carrying the stand-in's message.
async fn call(
    router: &Router,
    key: &StripeSecretKey,
    method: Method,
    path: &str,
    form: String,
) -> anyhow::Result<Value> {
    let request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", key.expose()))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .context("building the request")?;
    let response = router
        .clone()
        .oneshot(request)
        .await
        .with_context(|| format!("{method} {path}"))?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_SETUP_BODY)
        .await
        .with_context(|| format!("reading the answer to {method} {path}"))?;
    if status != StatusCode::OK {
        bail!(
            "{method} {path}: the stand-in answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{method} {path}: the answer is not JSON"))
}
