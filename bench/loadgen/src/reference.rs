//! `reference` mode: the same events written straight into PostgreSQL, one
//! transaction per event (event row + subscription upsert), with no HTTP,
//! signature check or JSON parsing. It is the floor paywarden is measured
//! against on the same machine.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::stats::{Report, Tally};
use crate::{event, pool, unix_now, Outcome, Plan};

const MAX_LOGGED_FAILURES: u32 = 5;

const SETUP: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS bench_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        created BIGINT NOT NULL,
        payload TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS bench_subscriptions (
        id TEXT PRIMARY KEY,
        customer TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        src_created BIGINT NOT NULL
    )",
    "TRUNCATE bench_events, bench_subscriptions",
];

const INSERT_EVENT: &str = "INSERT INTO bench_events (id, type, created, payload) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";

const UPSERT_SUBSCRIPTION: &str =
    "INSERT INTO bench_subscriptions (id, customer, status, payload, src_created) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, payload = excluded.payload, \
     src_created = excluded.src_created \
     WHERE bench_subscriptions.src_created <= excluded.src_created";

pub async fn run(plan: Plan, database_url: &str) -> anyhow::Result<Outcome> {
    let connections = u32::try_from(plan.concurrency).context("concurrency too large")?;
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .min_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect(database_url)
        .await
        .context("connecting to PostgreSQL")?;
    for statement in SETUP {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .with_context(|| format!("running {}", first_line(statement)))?;
    }
    warm_up(&pool, plan.concurrency).await?;

    let run_id: Arc<str> = plan.run_id.as_str().into();
    let logged = Arc::new(AtomicU32::new(0));
    let (tally, elapsed, stopped_early) =
        pool::run(plan.concurrency, plan.count, plan.max_time, |dispenser| {
            let pool = pool.clone();
            let run_id = Arc::clone(&run_id);
            let logged = Arc::clone(&logged);
            async move {
                let mut tally = Tally::default();
                while let Some(i) = dispenser.take() {
                    let ev = event::build(&run_id, i, unix_now());
                    tally.attempted += 1;
                    let started = Instant::now();
                    match write_one(&pool, &ev).await {
                        Ok(()) => {
                            tally.record(started.elapsed());
                            tally.ok += 1;
                        }
                        Err(e) => {
                            tally.transport += 1;
                            if logged.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED_FAILURES {
                                eprintln!("{}: database error: {e}", ev.id);
                            }
                        }
                    }
                }
                tally
            }
        })
        .await?;
    pool.close().await;

    Ok(Report::finish(
        "reference",
        &plan,
        elapsed,
        stopped_early,
        tally,
    )?)
}

async fn write_one(pool: &PgPool, ev: &event::Event) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(INSERT_EVENT)
        .bind(&ev.id)
        .bind("customer.subscription.updated")
        .bind(ev.created)
        .bind(&ev.body)
        .execute(&mut *tx)
        .await?;
    sqlx::query(UPSERT_SUBSCRIPTION)
        .bind(&ev.subscription_id)
        .bind(&ev.customer_id)
        .bind("active")
        .bind(&ev.object)
        .bind(ev.created)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Opens all `n` connections before the clock starts, so connection set-up
/// is not billed to the first events.
async fn warm_up(pool: &PgPool, n: usize) -> anyhow::Result<()> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(pool.acquire().await.context("opening pool connections")?);
    }
    for conn in &mut held {
        sqlx::query("SELECT 1")
            .execute(&mut **conn)
            .await
            .context("warming up a connection")?;
    }
    Ok(())
}

fn first_line(statement: &str) -> &str {
    statement.lines().next().unwrap_or(statement)
}
