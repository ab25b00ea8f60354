//! Customers: one per paywarden user, created once and reused.

use serde::{Deserialize, Serialize};

use super::{listed, Metadata};
use crate::{IdempotencyKey, List, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub metadata: Metadata,
    pub invoice_settings: InvoiceSettings,
    pub deleted: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InvoiceSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_payment_method: Option<String>,
}

/// `POST /v1/customers` and `POST /v1/customers/{id}` (all fields optional).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CustomerParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// Attaches this payment method on creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_settings: Option<InvoiceSettings>,
}

/// `GET /v1/customers` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListCustomers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

listed!(Customer);

impl StripeClient {
    pub async fn create_customer(
        &self,
        params: &CustomerParams,
        key: &IdempotencyKey,
    ) -> Result<Customer, StripeError> {
        self.post("/v1/customers", params, key).await
    }

    pub async fn retrieve_customer(&self, id: &str) -> Result<Customer, StripeError> {
        self.get(&format!("/v1/customers/{id}"), &()).await
    }

    pub async fn update_customer(
        &self,
        id: &str,
        params: &CustomerParams,
        key: &IdempotencyKey,
    ) -> Result<Customer, StripeError> {
        self.post(&format!("/v1/customers/{id}"), params, key).await
    }

    pub async fn list_customers(
        &self,
        params: &ListCustomers,
    ) -> Result<List<Customer>, StripeError> {
        self.get("/v1/customers", params).await
    }
}
