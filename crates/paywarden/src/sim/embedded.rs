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

use anyhow::{bail, Context};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use paywarden_core::signature::WebhookSecret;
use paywarden_sim::state::Settings;
use paywarden_sim::Sim;
use serde_json::Value;
use tower::ServiceExt;

use crate::stripe::{StripeSecretKey, StripeTarget};

/// Where the stand-in is mounted on `serve`'s listener.
pub const MOUNT: &str = "/sim";

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

/// Builds the stand-in for a server bound to `addr`, creates its webhook
/// endpoint and starts its background work (delivery, clocks).
pub async fn start(addr: SocketAddr) -> anyhow::Result<Embedded> {
    let base = super::base_url(addr);
    let public_url = format!("{base}{MOUNT}");
    let sim = Sim::with_settings(Settings {
        public_url: public_url.clone(),
        ..Settings::default()
    });
    let secret_key = StripeSecretKey::new(&format!("sk_test_{}", paywarden_sim::ids::new_id("")))
        .context("generating the stand-in's test key")?;
    // The pages and API answer under the mount, e.g. `/sim/v1/customers`.
    let router =
        paywarden_sim::router(sim.clone()).layer(axum::middleware::from_fn(super::log_request));
    let url = format!("{base}/webhooks/stripe");
    let (endpoint_id, secret) = create_endpoint(&router, &secret_key, &url)
        .await
        .context("creating the embedded Stripe stand-in's webhook endpoint")?;
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
        .append_pair(
            "description",
            "paywarden serve: the embedded stand-in's deliveries",
        )
        .finish();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/webhook_endpoints")
        .header(header::AUTHORIZATION, format!("Bearer {}", key.expose()))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .context("building the request")?;
    let response = router
        .clone()
        .oneshot(request)
        .await
        .context("calling the stand-in")?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_SETUP_BODY)
        .await
        .context("reading the stand-in's answer")?;
    if status != StatusCode::OK {
        bail!(
            "the stand-in answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let endpoint: Value = serde_json::from_slice(&bytes).context("the answer is not JSON")?;
    let id = endpoint["id"].as_str().unwrap_or_default();
    let secret = endpoint["secret"].as_str().unwrap_or_default();
    if !id.starts_with("we_") || !secret.starts_with("whsec_") {
        bail!("the answer has no endpoint id and whsec_ secret");
    }
    let secret = WebhookSecret::new(secret)
        .map_err(|e| anyhow::anyhow!("the endpoint's secret is unusable: {e}"))?;
    Ok((id.to_owned(), secret))
}
