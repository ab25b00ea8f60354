//! `/metrics`: counters in Prometheus' text format, for a scraper on the
//! internal network. Today: where entitlement checks were answered from;
//! the request, webhook and delivery metrics join them here.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::route_table::Routes;
use crate::AppState;

pub(crate) fn routes() -> Routes {
    Routes::new().route("/metrics", get(metrics))
}

fn counter(out: &mut String, name: &str, help: &str, samples: &[(&str, u64)]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    if let Ok(entitlements) = state.entitlements() {
        let cache = entitlements.cache();
        let c = cache.counts();
        counter(
            &mut out,
            "paywarden_entitlement_checks_total",
            "Entitlement checks by the tier that answered.",
            &[
                ("{source=\"memory\"}", c.memory_hits),
                ("{source=\"redis\"}", c.redis_hits),
                ("{source=\"database\"}", c.database_reads),
            ],
        );
        counter(
            &mut out,
            "paywarden_entitlement_redis_fallbacks_total",
            "Checks the database answered because Redis was down, slow or refusing.",
            &[("", c.redis_fallbacks)],
        );
        counter(
            &mut out,
            "paywarden_entitlement_redis_publish_failures_total",
            "Committed changes that could not be written to Redis at once (retried).",
            &[("", c.redis_publish_failures)],
        );
        counter(
            &mut out,
            "paywarden_entitlement_remote_updates_total",
            "Changes from other replicas applied to this one's memory.",
            &[("", c.remote_updates)],
        );
        let _ = writeln!(
            out,
            "# HELP paywarden_entitlement_cache_entries Users held in this replica's memory.\n\
             # TYPE paywarden_entitlement_cache_entries gauge\n\
             paywarden_entitlement_cache_entries {}",
            cache.entries()
        );
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
}
