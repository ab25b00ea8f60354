//! One Stripe customer per user, created on first need and reused.
//!
//! The customer is created with an idempotency key derived from the user
//! id alone, so concurrent or retried first purchases of one user all get
//! the same customer back from Stripe; the link is then stored once.

use paywarden_core::ids::CustomerId;
use paywarden_core::UserId;
use paywarden_store::{now_ms, Purchases};
use paywarden_stripe::{CustomerParams, IdempotencyKey};

use super::Billing;
use crate::AppError;

impl Billing {
    /// The user's customer, if paywarden has made one.
    pub async fn existing_customer(&self, user: &UserId) -> Result<Option<CustomerId>, AppError> {
        Ok(self.store().customer_of(user).await?)
    }

    /// The user's customer, made now if there is none yet.
    pub async fn customer_for(&self, user: &UserId) -> Result<CustomerId, AppError> {
        if let Some(customer) = self.store().customer_of(user).await? {
            return Ok(customer);
        }
        let params = CustomerParams {
            metadata: [("user_id".to_owned(), user.as_str().to_owned())].into(),
            ..CustomerParams::default()
        };
        let key = IdempotencyKey::derive("customer", &[user.as_str()]);
        let created = self.stripe().create_customer(&params, &key).await?;
        let customer: CustomerId = created.id.parse().map_err(|e| {
            AppError::Internal(format!("Stripe answered a customer with a bad id: {e}"))
        })?;
        Ok(self
            .store()
            .link_customer(user, &customer, now_ms())
            .await?)
    }
}
