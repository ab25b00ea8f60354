//! Group commit for SQLite's single writer.
//!
//! SQLite admits one writer at a time, and each statement costs a hand-off
//! to the connection's thread, so a transaction per delivery spends most of
//! its time waiting. The batch writer takes every delivery waiting in its
//! queue (up to [`MAX_BATCH`]), claims and applies them in one transaction
//! without per-event savepoints, commits once, and only then answers each
//! caller. A repeated id inside a batch is a duplicate as usual: the claim
//! sees the row the same transaction inserted.
//!
//! If anything in the batch fails, the transaction rolls back (nothing of
//! it is stored or acknowledged) and the deliveries are written again one
//! by one through [`Writer::write_one`], which records a failing event as
//! `failed` and reports an outage to its own caller.

use std::sync::Arc;

use paywarden_store::{now_ms, Claim, ProjectionWriter};
use tokio::sync::{mpsc, oneshot};
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

/// Starts the writer task; it ends when every sender is dropped.
pub(super) fn start(writer: Arc<Writer>) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel(1024);
    tokio::spawn(run(writer, receiver));
    sender
}

async fn run(writer: Arc<Writer>, mut receiver: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
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
