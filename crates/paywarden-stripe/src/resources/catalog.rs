//! Products and prices: what `paywarden catalog sync` creates and updates by
//! `lookup_key`.

use serde::{Deserialize, Serialize};

use super::{listed, Metadata};
use crate::{IdempotencyKey, List, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub active: bool,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Price {
    pub id: String,
    pub product: String,
    pub active: bool,
    pub currency: String,
    pub unit_amount: Option<i64>,
    pub lookup_key: Option<String>,
    pub nickname: Option<String>,
    pub recurring: Option<Recurring>,
    /// `one_time` or `recurring`.
    #[serde(rename = "type")]
    pub kind: String,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Recurring {
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    pub interval_count: u32,
}

/// `POST /v1/products`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateProduct {
    /// Our own id for the product, when we want a stable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `POST /v1/products/{id}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateProduct {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `GET /v1/products` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListProducts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

/// `POST /v1/prices`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreatePrice {
    pub product: String,
    pub currency: String,
    pub unit_amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurring: Option<Recurring>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_key: Option<String>,
    /// Moves the lookup key from the price that holds it to this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_lookup_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `POST /v1/prices/{id}` (amounts of a price never change in Stripe).
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdatePrice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookup_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_lookup_key: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// `GET /v1/prices` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListPrices {
    #[serde(rename = "lookup_keys", skip_serializing_if = "Vec::is_empty")]
    pub lookup_keys: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
}

listed!(Product, Price);

impl StripeClient {
    pub async fn create_product(
        &self,
        params: &CreateProduct,
        key: &IdempotencyKey,
    ) -> Result<Product, StripeError> {
        self.post("/v1/products", params, key).await
    }

    pub async fn retrieve_product(&self, id: &str) -> Result<Product, StripeError> {
        self.get(&format!("/v1/products/{id}"), &()).await
    }

    pub async fn update_product(
        &self,
        id: &str,
        params: &UpdateProduct,
        key: &IdempotencyKey,
    ) -> Result<Product, StripeError> {
        self.post(&format!("/v1/products/{id}"), params, key).await
    }

    pub async fn list_products(&self, params: &ListProducts) -> Result<List<Product>, StripeError> {
        self.get("/v1/products", params).await
    }

    pub async fn create_price(
        &self,
        params: &CreatePrice,
        key: &IdempotencyKey,
    ) -> Result<Price, StripeError> {
        self.post("/v1/prices", params, key).await
    }

    pub async fn retrieve_price(&self, id: &str) -> Result<Price, StripeError> {
        self.get(&format!("/v1/prices/{id}"), &()).await
    }

    pub async fn update_price(
        &self,
        id: &str,
        params: &UpdatePrice,
        key: &IdempotencyKey,
    ) -> Result<Price, StripeError> {
        self.post(&format!("/v1/prices/{id}"), params, key).await
    }

    pub async fn list_prices(&self, params: &ListPrices) -> Result<List<Price>, StripeError> {
        self.get("/v1/prices", params).await
    }

    /// Every price matching `params`, across pages.
    pub async fn list_all_prices(&self, params: &ListPrices) -> Result<Vec<Price>, StripeError> {
        self.list_all("/v1/prices", params).await
    }
}
