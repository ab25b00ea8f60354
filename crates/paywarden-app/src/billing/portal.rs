//! The billing portal: Stripe's hosted page where a user manages payment
//! methods, invoices and their subscription.

use paywarden_core::UserId;
use paywarden_stripe::{CreatePortalSession, IdempotencyKey};
use serde::Serialize;

use super::{return_paths, Billing};
use crate::AppError;

/// Where to send the user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PortalSessionCreated {
    pub url: String,
}

impl Billing {
    /// A portal session for the user's customer, returning to `/account`.
    /// A user who never bought anything has no customer: 409.
    pub async fn portal_session(&self, user: &UserId) -> Result<PortalSessionCreated, AppError> {
        let customer = self.existing_customer(user).await?.ok_or_else(|| {
            AppError::Conflict("nothing to manage yet: buy a plan or a pack first".into())
        })?;
        let params = CreatePortalSession {
            customer: customer.as_str().to_owned(),
            return_url: Some(self.public_base_url().join(return_paths::ACCOUNT)),
        };
        // Portal sessions are short-lived and harmless to repeat; the key
        // only dedupes retries of one request (same user, same minute).
        let minute = (paywarden_store::now_ms() / 60_000).to_string();
        let key = IdempotencyKey::derive("portal", &[user.as_str(), &minute]);
        let session = self.stripe().create_portal_session(&params, &key).await?;
        Ok(PortalSessionCreated { url: session.url })
    }
}
