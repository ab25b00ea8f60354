//! Invoices: read-only, for showing a user what they were billed.

use serde::{Deserialize, Serialize};

use super::{listed, Metadata};
use crate::{List, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Invoice {
    pub id: String,
    pub customer: Option<String>,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: Option<String>,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub total: i64,
    pub hosted_invoice_url: Option<String>,
    pub billing_reason: Option<String>,
    pub created: i64,
    pub metadata: Metadata,
}

/// `GET /v1/invoices` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListInvoices {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

listed!(Invoice);

impl StripeClient {
    pub async fn retrieve_invoice(&self, id: &str) -> Result<Invoice, StripeError> {
        self.get(&format!("/v1/invoices/{id}"), &()).await
    }

    pub async fn list_invoices(&self, params: &ListInvoices) -> Result<List<Invoice>, StripeError> {
        self.get("/v1/invoices", params).await
    }
}
