//! Billing portal sessions: Stripe's hosted page to manage a subscription.

use serde::{Deserialize, Serialize};

use crate::{IdempotencyKey, StripeClient, StripeError};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PortalSession {
    pub id: String,
    pub url: String,
    pub customer: String,
    pub return_url: Option<String>,
}

/// `POST /v1/billing_portal/sessions`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreatePortalSession {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

impl StripeClient {
    pub async fn create_portal_session(
        &self,
        params: &CreatePortalSession,
        key: &IdempotencyKey,
    ) -> Result<PortalSession, StripeError> {
        self.post("/v1/billing_portal/sessions", params, key).await
    }
}
