//! Events: the reconciliation path when a webhook was missed.

use serde::{Deserialize, Serialize};

use super::{listed, Range};
use crate::{List, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub api_version: Option<String>,
    pub livemode: bool,
    pub data: EventData,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventData {
    /// The object as it was when the event happened, kept raw: its type
    /// depends on the event type.
    pub object: serde_json::Value,
    pub previous_attributes: Option<serde_json::Value>,
}

/// `GET /v1/events` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListEvents {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Range>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

listed!(Event);

impl StripeClient {
    pub async fn retrieve_event(&self, id: &str) -> Result<Event, StripeError> {
        self.get(&format!("/v1/events/{id}"), &()).await
    }

    pub async fn list_events(&self, params: &ListEvents) -> Result<List<Event>, StripeError> {
        self.get("/v1/events", params).await
    }

    /// Every event matching `params`, walking `has_more` (newest first).
    pub async fn list_all_events(&self, params: &ListEvents) -> Result<Vec<Event>, StripeError> {
        self.list_all("/v1/events", params).await
    }
}
