//! The webhook inbox: one row per Stripe event id, whatever the number of
//! deliveries. The primary key on `events.id` is what makes an event apply
//! once: a delivery first claims the id inside the transaction that applies
//! the event; a concurrent duplicate waits on that key and then finds it
//! taken.

use std::future::Future;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use paywarden_core::ids::EventId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::{Store, StoreTx};

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Applied.
    Processed,
    /// Stored, but paywarden does not project this type.
    Ignored,
    /// Applying failed; the retry worker will try again.
    Failed,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for EventStatus {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "processed" => Ok(Self::Processed),
            "ignored" => Ok(Self::Ignored),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown event status `{other}`")),
        }
    }
}

/// A verified delivery, about to be claimed.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub id: &'a EventId,
    pub event_type: &'a str,
    pub api_version: Option<&'a str>,
    pub created: i64,
    pub livemode: bool,
    pub object_id: Option<&'a str>,
    /// The raw body, exactly as signed.
    pub payload: &'a str,
    /// The status the event will have if its effects apply.
    pub status: EventStatus,
    /// Set when the status is `Failed` already (the event could not be planned).
    pub error: Option<&'a str>,
    pub next_attempt_at: Option<i64>,
    pub received_at: i64,
}

/// The result of claiming an event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First delivery: this transaction applies it.
    New,
    /// Seen before; its delivery count went up and nothing else happens.
    Duplicate,
}

/// The outcome of applying (or re-applying) a stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Processed,
    Failed {
        error: String,
        next_attempt_at: Option<i64>,
    },
}

/// A stored event, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: EventId,
    pub event_type: String,
    pub api_version: Option<String>,
    pub created: i64,
    pub livemode: bool,
    pub object_id: Option<String>,
    pub status: EventStatus,
    pub attempts: i64,
    pub received_count: i64,
    pub first_received_at: i64,
    pub last_received_at: i64,
    pub processed_at: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub payload: String,
}

/// Filters for listing events, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub status: Option<EventStatus>,
    /// 1..=100.
    pub limit: u32,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    /// Present when more events follow.
    pub next_cursor: Option<String>,
}

/// Writing to the inbox, inside a transaction.
pub trait EventInbox {
    /// Claims the event id. `New` if this transaction inserted it;
    /// `Duplicate` (after counting the delivery) if it existed.
    fn claim_event(
        &mut self,
        event: &NewEvent<'_>,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Records the outcome of an apply attempt made in this transaction.
    fn record_outcome(
        &mut self,
        id: &EventId,
        outcome: &EventOutcome,
        count_attempt: bool,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Locks a `failed` event for a retry; `None` if it is not failed (any
    /// more), so a retry that lost a race does nothing.
    fn lock_failed_event(
        &mut self,
        id: &EventId,
    ) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;
}

/// Reading the inbox.
pub trait EventLog {
    fn event(
        &self,
        id: &EventId,
    ) -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;
    fn list_events(
        &self,
        filter: &EventFilter,
    ) -> impl Future<Output = Result<EventPage, StoreError>> + Send;
    /// Failed events whose next attempt is due, oldest first.
    fn events_due_for_retry(
        &self,
        now: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventId>, StoreError>> + Send;
    /// Events received at or after `since` (unix ms), oldest first, for replay.
    fn events_since(
        &self,
        since: i64,
        limit: u32,
        after: Option<&EventId>,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;
}

const EVENT_COLUMNS: &str = "id, event_type, api_version, created, livemode, object_id, status, attempts, \
     received_count, first_received_at, last_received_at, processed_at, last_error, next_attempt_at, payload";

fn read_event(row: &AnyRow) -> Result<StoredEvent, StoreError> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    Ok(StoredEvent {
        id: id
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("event id: {e}")))?,
        event_type: row.try_get("event_type")?,
        api_version: row.try_get("api_version")?,
        created: row.try_get("created")?,
        livemode: crate::row::flag(row, "livemode")?,
        object_id: row.try_get("object_id")?,
        status: status.parse().map_err(StoreError::Corrupt)?,
        attempts: i64::from(row.try_get::<i32, _>("attempts")?),
        received_count: i64::from(row.try_get::<i32, _>("received_count")?),
        first_received_at: row.try_get("first_received_at")?,
        last_received_at: row.try_get("last_received_at")?,
        processed_at: row.try_get("processed_at")?,
        last_error: row.try_get("last_error")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        payload: row.try_get("payload")?,
    })
}

impl EventInbox for StoreTx {
    async fn claim_event(&mut self, event: &NewEvent<'_>) -> Result<Claim, StoreError> {
        let processed_at = (event.status != EventStatus::Failed).then_some(event.received_at);
        let row = sqlx::query(
            "INSERT INTO events (id, event_type, api_version, created, livemode, object_id, payload, status, \
                 attempts, received_count, first_received_at, last_received_at, processed_at, last_error, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, 1, $9, $9, $10, $11, $12) \
             ON CONFLICT (id) DO UPDATE SET received_count = events.received_count + 1, \
                 last_received_at = excluded.last_received_at \
             RETURNING received_count",
        )
        .bind(event.id.as_str())
        .bind(event.event_type)
        .bind(event.api_version)
        .bind(event.created)
        .bind(event.livemode)
        .bind(event.object_id)
        .bind(event.payload)
        .bind(event.status.as_str())
        .bind(event.received_at)
        .bind(processed_at)
        .bind(event.error)
        .bind(event.next_attempt_at)
        .fetch_one(&mut *self.tx)
        .await?;
        let count: i32 = row.try_get("received_count")?;
        Ok(if count == 1 {
            Claim::New
        } else {
            Claim::Duplicate
        })
    }

    async fn record_outcome(
        &mut self,
        id: &EventId,
        outcome: &EventOutcome,
        count_attempt: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let (status, error, next_attempt_at, processed_at) = match outcome {
            EventOutcome::Processed => ("processed", None, None, Some(now)),
            EventOutcome::Failed {
                error,
                next_attempt_at,
            } => ("failed", Some(error.as_str()), *next_attempt_at, None),
        };
        sqlx::query(
            "UPDATE events SET status = $2, last_error = $3, next_attempt_at = $4, \
                 processed_at = $5, attempts = attempts + $6 \
             WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(status)
        .bind(error)
        .bind(next_attempt_at)
        .bind(processed_at)
        .bind(i32::from(count_attempt))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn lock_failed_event(&mut self, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND status = 'failed'{}",
            self.backend.for_update()
        );
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(read_event).transpose()
    }
}

/// The position after an event in the newest-first listing.
fn encode_cursor(event: &StoredEvent) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", event.first_received_at, event.id))
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, id) = text.split_once(':')?;
    Some((at.parse().ok()?, id.to_owned()))
}

impl EventLog for Store {
    async fn event(&self, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(read_event).transpose()
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<EventPage, StoreError> {
        let limit = filter.limit.clamp(1, 100);
        let cursor = match &filter.cursor {
            Some(text) => Some(decode_cursor(text).ok_or(StoreError::InvalidCursor)?),
            None => None,
        };
        let mut conditions = Vec::new();
        let mut next = 1;
        let mut placeholder = || {
            let p = format!("${next}");
            next += 1;
            p
        };
        if filter.event_type.is_some() {
            conditions.push(format!("event_type = {}", placeholder()));
        }
        if filter.status.is_some() {
            conditions.push(format!("status = {}", placeholder()));
        }
        if cursor.is_some() {
            let (at, id) = (placeholder(), placeholder());
            conditions.push(format!("(first_received_at, id) < ({at}, {id})"));
        }
        let limit_placeholder = placeholder();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events{where_clause} \
             ORDER BY first_received_at DESC, id DESC LIMIT {limit_placeholder}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(event_type) = &filter.event_type {
            query = query.bind(event_type.as_str());
        }
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some((at, id)) = cursor {
            query = query.bind(at).bind(id);
        }
        let rows = query
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.read)
            .await?;
        let mut events = rows.iter().map(read_event).collect::<Result<Vec<_>, _>>()?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let next_cursor = if more {
            events.last().map(encode_cursor)
        } else {
            None
        };
        Ok(EventPage {
            events,
            next_cursor,
        })
    }

    async fn events_due_for_retry(&self, now: i64, limit: u32) -> Result<Vec<EventId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM events WHERE status = 'failed' AND next_attempt_at IS NOT NULL \
                 AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                id.parse()
                    .map_err(|e| StoreError::Corrupt(format!("event id: {e}")))
            })
            .collect()
    }

    async fn events_since(
        &self,
        since: i64,
        limit: u32,
        after: Option<&EventId>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE first_received_at >= $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(since)
            .bind(after.map(|id| id.as_str()).unwrap_or(""))
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(read_event).collect()
    }
}
