//! `credits.changed` for the host product: written in the transaction that
//! moved credits, so a movement that rolls back is never announced.

use paywarden_core::outbound::{OutboundEvent, OutboundEventType};
use paywarden_core::UserId;
use serde_json::json;
use sqlx::AnyConnection;

use super::reads::wallet_of;
use super::LedgerEntry;
use crate::error::StoreError;
use crate::outbound;

/// Queues `credits.changed` with the wallet as it now stands and the entry
/// that changed it (none for a hold or a release).
pub(crate) async fn credits_changed(
    conn: &mut AnyConnection,
    user: &UserId,
    entry: Option<&LedgerEntry>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let targets = outbound::subscribers(conn, OutboundEventType::CreditsChanged).await?;
    if targets.is_empty() {
        // Nobody listens: no need to read the wallet.
        return Ok(());
    }
    let (wallet, _) = wallet_of(conn, user, now_ms).await?;
    let event = OutboundEvent::credits_changed(json!({
        "user_id": user.as_str(),
        "balance": wallet.balance,
        "held": wallet.held,
        "available": wallet.available,
        "entry": entry.map(|e| json!({
            "id": e.id,
            "amount": e.amount,
            "kind": e.kind,
            "description": e.description,
            "stripe_event_id": e.stripe_event_id,
        })),
    }));
    outbound::enqueue_to(conn, &targets, &event, now_ms).await?;
    Ok(())
}
