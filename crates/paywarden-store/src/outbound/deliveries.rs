//! The delivery queue and log: claiming due deliveries, recording each
//! attempt, and the listing operators read.
//!
//! A worker claims a batch with one `UPDATE` that sets a lease (a fresh
//! token and an expiry) on due rows whose lease is free; on PostgreSQL the
//! rows are picked `FOR UPDATE SKIP LOCKED`, so concurrent claimers take
//! disjoint rows, and the outer `WHERE` re-checks the lease in case a row
//! changed under it. An attempt is recorded only under the token that
//! claimed it, so a worker whose lease ran out cannot overwrite a newer
//! attempt. If a worker dies, its lease expires and the row is due again.

use std::future::Future;

use paywarden_core::ids::{OutboundDeliveryId, OutboundMessageId, WebhookEndpointId};
use paywarden_core::outbound::EndpointSecret;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::row::parsed;
use crate::store::Store;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Attempted and refused; another attempt is scheduled.
    Failed,
    /// Attempts exhausted (or the endpoint deleted); an operator may retry.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed, Self::Dead]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A delivery claimed for sending: everything the worker needs.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: OutboundDeliveryId,
    pub message_id: OutboundMessageId,
    pub endpoint_id: WebhookEndpointId,
    pub url: String,
    pub secret: EndpointSecret,
    /// The exact body to send.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
    lease: String,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered {
        status_code: i64,
    },
    /// Refused or unreachable; try again at `next_attempt_at`, or never
    /// (`dead`) when it is `None`.
    Failed {
        status_code: Option<i64>,
        error: String,
        next_attempt_at: Option<i64>,
    },
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: OutboundDeliveryId,
    pub message_id: OutboundMessageId,
    pub endpoint_id: WebhookEndpointId,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// Which deliveries to list (newest first).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub endpoint: Option<WebhookEndpointId>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1..=100.
    pub limit: u32,
}

/// One page of the log.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

/// The outbound queue.
pub trait OutboundQueue {
    /// Leases up to `limit` due deliveries for `lease_ms`.
    fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ClaimedDelivery>, StoreError>> + Send;

    /// Records the attempt made under `claim`; `false` when the lease was
    /// lost (expired and taken by another worker), so nothing was written.
    fn record_attempt(
        &self,
        claim: &ClaimedDelivery,
        result: &AttemptResult,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn delivery(
        &self,
        id: &OutboundDeliveryId,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    fn deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> impl Future<Output = Result<DeliveryPage, StoreError>> + Send;

    /// Makes a delivery due now (whatever its status), unless it is being
    /// sent or its endpoint is deleted: then `None`.
    fn retry_delivery(
        &self,
        id: &OutboundDeliveryId,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;
}

const LIVE_ENDPOINT: &str =
    "endpoint_id IN (SELECT id FROM webhook_endpoints WHERE deleted_at IS NULL)";

const DELIVERY_COLUMNS: &str = "d.id, d.message_id, d.endpoint_id, m.event_type, d.status, d.attempts, \
     d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at";

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

fn read_delivery(row: &AnyRow) -> Result<Delivery, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: parsed(row, "id")?,
        message_id: parsed(row, "message_id")?,
        endpoint_id: parsed(row, "endpoint_id")?,
        event_type: row.try_get("event_type")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt("outbound_deliveries.status", &status))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        last_status_code: row.try_get("last_status_code")?,
        last_error: row.try_get("last_error")?,
        delivered_at: row.try_get("delivered_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn read_claim(row: &AnyRow, lease: &str) -> Result<ClaimedDelivery, StoreError> {
    let secret: String = row.try_get("secret")?;
    Ok(ClaimedDelivery {
        id: parsed(row, "id")?,
        message_id: parsed(row, "message_id")?,
        endpoint_id: parsed(row, "endpoint_id")?,
        url: row.try_get("url")?,
        // The error says which rule failed, never the value.
        secret: EndpointSecret::parse(&secret)
            .map_err(|e| corrupt("webhook_endpoints.secret", e))?,
        body: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        lease: lease.to_owned(),
    })
}

impl OutboundQueue for Store {
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let lease = ulid::Ulid::new().to_string();
        let due = format!(
            "status IN ('pending', 'failed') AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until <= $3) AND {LIVE_ENDPOINT}"
        );
        // The pick is a materialized CTE: as a plain `IN (subquery)`,
        // PostgreSQL may run the subquery more than once and claim more
        // than `limit` rows.
        let sql = format!(
            "WITH picked AS MATERIALIZED (SELECT id FROM outbound_deliveries WHERE {due} \
                 ORDER BY next_attempt_at LIMIT $4{}) \
             UPDATE outbound_deliveries SET lease_token = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM picked) AND {due}",
            self.backend.skip_locked()
        );
        sqlx::query(&sql)
            .bind(lease.as_str())
            .bind(now_ms + lease_ms)
            .bind(now_ms)
            .bind(i64::from(limit.max(1)))
            .execute(&self.write)
            .await?;
        let rows = sqlx::query(
            "SELECT d.id, d.message_id, d.endpoint_id, d.attempts, m.payload, e.url, e.secret \
             FROM outbound_deliveries d \
             JOIN outbound_messages m ON m.id = d.message_id \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.lease_token = $1 ORDER BY d.next_attempt_at",
        )
        .bind(lease.as_str())
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(|row| read_claim(row, &lease)).collect()
    }

    async fn record_attempt(
        &self,
        claim: &ClaimedDelivery,
        result: &AttemptResult,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (status, code, error, next, delivered_at) = match result {
            AttemptResult::Delivered { status_code } => {
                ("delivered", Some(*status_code), None, None, Some(now_ms))
            }
            AttemptResult::Failed {
                status_code,
                error,
                next_attempt_at,
            } => (
                if next_attempt_at.is_some() {
                    "failed"
                } else {
                    "dead"
                },
                *status_code,
                Some(error.as_str()),
                *next_attempt_at,
                None,
            ),
        };
        let done = sqlx::query(
            "UPDATE outbound_deliveries SET status = $1, attempts = attempts + 1, \
                 last_status_code = $2, last_error = $3, next_attempt_at = $4, \
                 delivered_at = COALESCE($5, delivered_at), last_attempt_at = $6, \
                 lease_token = NULL, lease_until = NULL \
             WHERE id = $7 AND lease_token = $8",
        )
        .bind(status)
        .bind(code)
        .bind(error)
        .bind(next)
        .bind(delivered_at)
        .bind(now_ms)
        .bind(claim.id.to_string())
        .bind(claim.lease.as_str())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delivery(&self, id: &OutboundDeliveryId) -> Result<Option<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries d \
             JOIN outbound_messages m ON m.id = d.message_id WHERE d.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(read_delivery).transpose()
    }

    async fn deliveries(&self, filter: &DeliveryFilter) -> Result<DeliveryPage, StoreError> {
        let limit = filter.limit.clamp(1, 100);
        let cursor = match &filter.cursor {
            Some(text) => Some(
                text.parse::<OutboundDeliveryId>()
                    .map_err(|_| StoreError::InvalidCursor)?,
            ),
            None => None,
        };
        let mut conditions = Vec::new();
        let mut next = 1;
        let mut placeholder = || {
            let p = format!("${next}");
            next += 1;
            p
        };
        if filter.status.is_some() {
            conditions.push(format!("d.status = {}", placeholder()));
        }
        if filter.endpoint.is_some() {
            conditions.push(format!("d.endpoint_id = {}", placeholder()));
        }
        if cursor.is_some() {
            conditions.push(format!("d.id < {}", placeholder()));
        }
        let limit_placeholder = placeholder();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries d \
             JOIN outbound_messages m ON m.id = d.message_id{where_clause} \
             ORDER BY d.id DESC LIMIT {limit_placeholder}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(endpoint) = &filter.endpoint {
            query = query.bind(endpoint.to_string());
        }
        if let Some(cursor) = &cursor {
            query = query.bind(cursor.to_string());
        }
        let rows = query
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.read)
            .await?;
        let mut deliveries = rows
            .iter()
            .map(read_delivery)
            .collect::<Result<Vec<_>, _>>()?;
        let more = deliveries.len() > limit as usize;
        deliveries.truncate(limit as usize);
        let next_cursor = if more {
            deliveries.last().map(|d| d.id.to_string())
        } else {
            None
        };
        Ok(DeliveryPage {
            deliveries,
            next_cursor,
        })
    }

    async fn retry_delivery(
        &self,
        id: &OutboundDeliveryId,
        now_ms: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let sql = format!(
            "UPDATE outbound_deliveries SET status = 'pending', next_attempt_at = $1 \
             WHERE id = $2 AND (lease_until IS NULL OR lease_until <= $1) AND {LIVE_ENDPOINT}"
        );
        let done = sqlx::query(&sql)
            .bind(now_ms)
            .bind(id.to_string())
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.delivery(id).await
    }
}
