//! The Stripe stand-in (`paywarden-sim`) as the binary runs it: alone
//! (`paywarden sim`, in `cli/sim.rs`) or mounted under `/sim` by `serve`
//! when no `STRIPE_SECRET_KEY` is set (`embedded.rs`).

pub mod embedded;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::info;

/// `http://host:port` for a bound address, with a wildcard address
/// (`0.0.0.0`, `::`) replaced by loopback: the URL must be one a browser
/// and the stand-in's own webhook worker can reach.
pub fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Middleware: one log line per request to the stand-in, with method,
/// path (never the query, which may hold an email), status and duration.
pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    info!(
        %method,
        path,
        status = response.status().as_u16(),
        duration_ms,
        "sim request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_become_loopback() {
        let url = |text: &str| base_url(text.parse().expect("an address"));
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080");
        assert_eq!(url("127.0.0.1:12111"), "http://127.0.0.1:12111");
        assert_eq!(url("10.1.2.3:80"), "http://10.1.2.3:80");
    }
}
