//! `check` mode: entitlement checks as a product backend makes them
//! (`GET /api/entitlements/{user}` with a server key), spread over a
//! number of users, and `constant`: a bare axum server answering every
//! request with the same small JSON body, the reference the checks are
//! measured beside (same loader, same connections, same path shape).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::conn::Connection;
use crate::stats::{Report, Tally};
use crate::{pool, Outcome, Plan};

const MAX_LOGGED_FAILURES: u32 = 5;

/// The reference's answer: the size and shape of a check's.
const CONSTANT_BODY: &str = r#"{"user_id":"u1","version":1,"as_of":1800000000000,"expires_at":null,"features":{"api":true,"exports":true,"projects":50},"source":"memory"}"#;

/// Which user request `i` asks about: a fixed permutation, so consecutive
/// requests hit users far apart (no accidental locality).
fn user_of(i: u64, users: u64) -> u64 {
    i.wrapping_mul(2_654_435_761) % users.max(1)
}

/// Serves [`CONSTANT_BODY`] on every path until killed.
pub async fn serve_constant(addr: SocketAddr) -> anyhow::Result<Outcome> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let app = axum::Router::new().fallback(|| async {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            CONSTANT_BODY,
        )
    });
    axum::serve(listener, app).await.context("serving")?;
    Ok(Outcome {
        errors: 0,
        stopped_early: false,
    })
}

struct Setup {
    authority: String,
    key: String,
    users: u64,
    request_timeout: Duration,
    logged: AtomicU32,
}

impl Setup {
    fn log(&self, what: &str) {
        if self.logged.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED_FAILURES {
            eprintln!("check: {}", what.chars().take(300).collect::<String>());
        }
    }
}

/// Counts the answers served from memory.
fn from_memory(body: &[u8]) -> bool {
    body.windows(17).any(|w| w == br#""source":"memory""#)
}

pub async fn run(
    plan: Plan,
    base: String,
    key: String,
    users: u64,
    request_timeout: Duration,
) -> anyhow::Result<Outcome> {
    let authority = crate::conn::authority(&base)?;
    let setup = Arc::new(Setup {
        authority,
        key,
        users,
        request_timeout,
        logged: AtomicU32::new(0),
    });
    let (tally, elapsed, stopped_early) =
        pool::run(plan.concurrency, plan.count, plan.max_time, |dispenser| {
            let setup = Arc::clone(&setup);
            async move {
                let mut tally = Tally::default();
                let mut connection =
                    Connection::new(setup.authority.clone(), &setup.key, setup.request_timeout);
                while let Some(i) = dispenser.take() {
                    tally.attempted += 1;
                    let user = user_of(i, setup.users);
                    let path = format!("/api/entitlements/u{user}");
                    let started = Instant::now();
                    let answer = connection.get(&path).await;
                    let (status, body) = match answer {
                        Ok((status, body)) => (status, Ok::<_, anyhow::Error>(body)),
                        Err(e) => {
                            tally.transport += 1;
                            setup.log(&format!("{e:#}"));
                            continue;
                        }
                    };
                    if let Some(body) = tally.count_answer(status, body, |m| setup.log(m)) {
                        tally.record(started.elapsed());
                        if from_memory(&body) {
                            tally.memory += 1;
                        }
                    }
                }
                tally
            }
        })
        .await?;
    Ok(Report::finish(
        "check",
        &plan,
        elapsed,
        stopped_early,
        tally,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_spread_and_in_range() {
        let users = 1_000;
        let seen: std::collections::HashSet<u64> = (0..users).map(|i| user_of(i, users)).collect();
        assert!(seen.iter().all(|u| *u < users));
        assert!(seen.len() > 900, "{}", seen.len());
        assert!(from_memory(CONSTANT_BODY.as_bytes()));
        assert!(!from_memory(br#"{"source":"database"}"#));
    }
}
