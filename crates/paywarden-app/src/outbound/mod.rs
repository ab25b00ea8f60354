//! Outbound webhooks to the host product: the operator's use cases
//! (register, list and delete endpoints; read the delivery log; retry a
//! delivery) and the delivery worker.
//!
//! Messages are enqueued by the store inside the transaction of the change
//! they report; this module decides where they may go
//! ([`destination`]), when a failed one is tried again ([`schedule`]), and
//! sends them ([`worker`]).

pub mod destination;
pub mod schedule;
pub mod worker;

use std::time::Duration;

use paywarden_core::ids::{OutboundDeliveryId, WebhookEndpointId};
use paywarden_core::outbound::{EndpointSecret, OutboundEventType};
use paywarden_store::{
    now_ms, Delivery, DeliveryFilter, DeliveryPage, DeliveryStatus, NewWebhookEndpoint,
    OutboundQueue, Store, StoreError, WebhookEndpoint, WebhookEndpoints,
};

pub use destination::{DestinationError, DestinationPolicy};
pub use worker::DeliveryWorker;

use crate::error::AppError;

/// Largest page of the delivery log.
pub const MAX_PAGE: u32 = 100;

/// How outbound webhooks are sent.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    pub destinations: DestinationPolicy,
    /// Per attempt, connection included.
    pub timeout: Duration,
    /// Delay after each failed attempt; when exhausted, the delivery is dead.
    pub schedule: Vec<Duration>,
    /// How often an idle worker looks for due deliveries.
    pub poll: Duration,
    /// Deliveries one worker step sends at most (concurrently).
    pub batch: u32,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            destinations: DestinationPolicy::default(),
            timeout: Duration::from_secs(10),
            schedule: schedule::default_schedule(),
            poll: Duration::from_secs(1),
            batch: 16,
        }
    }
}

/// An endpoint just created, with its secret: the only time it is shown.
#[derive(Debug, Clone)]
pub struct CreatedEndpoint {
    pub endpoint: WebhookEndpoint,
    pub secret: EndpointSecret,
}

/// The operator's side of outbound webhooks.
#[derive(Debug, Clone)]
pub struct Outbound {
    store: Store,
    settings: OutboundSettings,
}

impl Outbound {
    pub fn new(store: Store, settings: OutboundSettings) -> Self {
        Self { store, settings }
    }

    /// Registers an endpoint after checking its URL (and what it resolves
    /// to); `event_types` `None` subscribes to every type.
    pub async fn create_endpoint(
        &self,
        url: &str,
        event_types: Option<&[String]>,
    ) -> Result<CreatedEndpoint, AppError> {
        let url = self
            .settings
            .destinations
            .check(url)
            .await
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let event_types = match event_types {
            None => None,
            Some([]) => {
                return Err(AppError::Invalid(
                    "event_types must name at least one type, or be left out for all".into(),
                ))
            }
            Some(names) => {
                let mut types = names
                    .iter()
                    .map(|n| n.parse::<OutboundEventType>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AppError::Invalid(e.to_string()))?;
                types.sort();
                types.dedup();
                Some(types)
            }
        };
        let secret = EndpointSecret::generate();
        let endpoint = self
            .store
            .create_webhook_endpoint(&NewWebhookEndpoint {
                id: WebhookEndpointId::generate(),
                url: url.to_string(),
                secret: secret.clone(),
                event_types,
                created_at: now_ms(),
            })
            .await?;
        Ok(CreatedEndpoint { endpoint, secret })
    }

    pub async fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, AppError> {
        Ok(self.store.webhook_endpoints().await?)
    }

    pub async fn delete_endpoint(&self, id: &str) -> Result<(), AppError> {
        let id = id
            .parse::<WebhookEndpointId>()
            .map_err(|_| AppError::NotFound("webhook endpoint"))?;
        if self.store.delete_webhook_endpoint(&id, now_ms()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("webhook endpoint"))
        }
    }

    /// The delivery log, newest first. `limit` defaults to 20.
    pub async fn deliveries(
        &self,
        status: Option<&str>,
        endpoint: Option<&str>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<DeliveryPage, AppError> {
        let status = status
            .map(|s| {
                DeliveryStatus::parse(s).ok_or_else(|| {
                    AppError::Invalid(format!(
                        "status must be pending, delivered, failed or dead, not `{}`",
                        s.chars().take(32).collect::<String>()
                    ))
                })
            })
            .transpose()?;
        let endpoint = endpoint
            .map(|e| {
                e.parse::<WebhookEndpointId>()
                    .map_err(|err| AppError::Invalid(format!("endpoint: {err}")))
            })
            .transpose()?;
        let limit = limit.unwrap_or(20);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AppError::Invalid(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let filter = DeliveryFilter {
            status,
            endpoint,
            cursor,
            limit,
        };
        self.store
            .deliveries(&filter)
            .await
            .map_err(|err| match err {
                StoreError::InvalidCursor => AppError::Invalid("invalid cursor".into()),
                err => err.into(),
            })
    }

    /// Makes a delivery due now (dead, failed, or even delivered: sent
    /// again with the same `webhook-id`).
    pub async fn retry_delivery(&self, id: &str) -> Result<Delivery, AppError> {
        let id = id
            .parse::<OutboundDeliveryId>()
            .map_err(|_| AppError::NotFound("webhook delivery"))?;
        if let Some(delivery) = self.store.retry_delivery(&id, now_ms()).await? {
            return Ok(delivery);
        }
        match self.store.delivery(&id).await? {
            None => Err(AppError::NotFound("webhook delivery")),
            Some(_) => Err(AppError::Conflict(format!(
                "delivery {id} is being sent right now, or its endpoint was deleted"
            ))),
        }
    }
}
