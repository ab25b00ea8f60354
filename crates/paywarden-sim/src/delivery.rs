//! Webhook delivery: signed POSTs of each event to every enabled endpoint
//! that wants it, retried with backoff, with optional chaos for tests.
//!
//! OWNED BY THE WEBHOOKS HELPER.

use tokio::sync::mpsc;

use crate::state::Sim;

/// Retry timing and chaos switches.
#[derive(Debug, Clone, Default)]
pub struct DeliverySettings {}

/// Delivers events as their ids arrive on `events`.
pub async fn run(_sim: Sim, mut events: mpsc::UnboundedReceiver<String>) {
    while events.recv().await.is_some() {}
}
