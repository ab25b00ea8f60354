//! Group commit.
//!
//! A transaction per delivery spends most of its time on round trips
//! (BEGIN, COMMIT, a connection check) and, on SQLite, on the hand-off to
//! the single writer's thread for every statement. A batch writer takes
//! every delivery waiting in the queue (up to [`MAX_BATCH`]), claims and
//! applies them in one transaction without per-event savepoints, commits
//! once, and only then answers each caller. A repeated id inside a batch is
//! a duplicate as usual: the claim sees the row the same transaction
//! inserted. SQLite runs one writer; PostgreSQL several, each on its own
//! connection. Within a batch, deliveries are written in the order of their
//! object ids, so concurrent batches take row locks in the same order.
//!
//! If the database is unavailable, every delivery of the batch gets the
//! error (503). If anything else fails, the transaction rolls back (nothing
//! of it is stored or acknowledged) and the deliveries are written again
//! one by one through [`Writer::write_one`], which records a failing event
//! as `failed`.

use std::sync::Arc;

use paywarden_store::{now_ms, Claim, ProjectionWriter};
use tokio::sync::{mpsc, oneshot, Mutex};
use tracing::{warn, Instrument};

use super::{Delivery, Receipt, Writer};
use crate::error::AppError;

/// Most deliveries written in one transaction.
pub(super) const MAX_BATCH: usize = 64;

/// One delivery and where its answer goes.
#[derive(Debug)]
pub(super) struct Job {
    pub delivery: Delivery,
    pub reply: oneshot::Sender<Result<Receipt, AppError>>,
}

/// Starts `writers` writer tasks on one queue; they end when every sender
/// is dropped.
pub(super) fn start(writer: Arc<Writer>, writers: usize) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel(1024);
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..writers.max(1) {
        tokio::spawn(run(writer.clone(), receiver.clone()));
    }
    sender
}

async fn run(writer: Arc<Writer>, receiver: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    loop {
        // Hold the queue only while taking a batch, so another writer can
        // take the next one while this one writes.
        let taken = receiver.lock().await.recv_many(&mut jobs, MAX_BATCH).await;
        if taken == 0 {
            return;
        }
        jobs.sort_by(|a, b| a.delivery.lock_order().cmp(&b.delivery.lock_order()));
        let results = write_batch(&writer, &jobs).await;
        for (job, result) in jobs.drain(..).zip(results) {
            // The caller may have gone (client disconnected): the event is
            // stored all the same, so there is nothing to undo.
            let _ = job.reply.send(result);
        }
    }
}

async fn write_batch(writer: &Writer, jobs: &[Job]) -> Vec<Result<Receipt, AppError>> {
    if jobs.len() > 1 {
        match write_together(writer, jobs).await {
            Ok(receipts) => return receipts.into_iter().map(Ok).collect(),
            Err(err) => {
                warn!(error = %err, deliveries = jobs.len(), "batch rolled back; writing one by one")
            }
        }
    }
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let span = job.delivery.span.clone();
        results.push(writer.write_one(&job.delivery).instrument(span).await);
    }
    results
}

/// All deliveries in one transaction, or an error and nothing written.
async fn write_together(writer: &Writer, jobs: &[Job]) -> Result<Vec<Receipt>, AppError> {
    let now = now_ms();
    let ctx = writer.context(now);
    let mut tx = writer.store.begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let delivery = &job.delivery;
        let claim = delivery.claim(&mut tx, now).await?;
        if claim == Claim::New {
            if let Some(changes) = delivery.changes() {
                tx.apply_changes_unguarded(changes, &ctx).await?;
            }
        }
        outcomes.push(claim);
    }
    tx.commit().await?;
    Ok(jobs
        .iter()
        .zip(outcomes)
        .map(|(job, claim)| match claim {
            Claim::Duplicate => job.delivery.duplicate(),
            Claim::New => job.delivery.stored(job.delivery.initial_status(now).0),
        })
        .collect())
}
