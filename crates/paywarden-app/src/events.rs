//! Operators' view of the inbox: list, show, retry.

use paywarden_core::ids::EventId;
use paywarden_store::{
    EventFilter, EventLog, EventPage, EventStatus, Store, StoreError, StoredEvent,
};

use crate::error::AppError;
use crate::retry::{retry_event, RetryOutcome};

/// Largest page an operator may ask for.
pub const MAX_PAGE: u32 = 100;

/// Lists events, newest first. `limit` defaults to 20.
pub async fn list(
    store: &Store,
    event_type: Option<String>,
    status: Option<&str>,
    limit: Option<u32>,
    cursor: Option<String>,
) -> Result<EventPage, AppError> {
    let status = status
        .map(|s| s.parse::<EventStatus>().map_err(AppError::Invalid))
        .transpose()?;
    let limit = limit.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::Invalid(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let filter = EventFilter {
        event_type,
        status,
        limit,
        cursor,
    };
    store.list_events(&filter).await.map_err(|err| match err {
        StoreError::InvalidCursor => AppError::Invalid("invalid cursor".into()),
        err => err.into(),
    })
}

pub fn parse_id(id: &str) -> Result<EventId, AppError> {
    id.parse()
        .map_err(|e: paywarden_core::IdError| AppError::Invalid(e.to_string()))
}

pub async fn show(store: &Store, id: &EventId) -> Result<StoredEvent, AppError> {
    store.event(id).await?.ok_or(AppError::NotFound("event"))
}

/// Retries a failed event by hand. An event that is not failed answers
/// `Conflict`; one that does not exist, `NotFound`.
pub async fn retry(
    store: &Store,
    id: &EventId,
    settings: &crate::ProjectionSettings,
) -> Result<(RetryOutcome, StoredEvent), AppError> {
    let outcome = retry_event(store, id, settings).await?;
    let event = show(store, id).await?;
    if outcome == RetryOutcome::NotFailed {
        return Err(AppError::Conflict(format!(
            "event {id} is {}, not failed: nothing to retry",
            event.status.as_str()
        )));
    }
    Ok((outcome, event))
}
