//! Manual grants: an operator gives a user features (a goodwill month, a
//! partner's account) until an expiry or for good, and can revoke them.
//! The user's entitlements are recomputed in the same transaction, and the
//! change reaches every cache like any other.

use std::collections::BTreeMap;

use paywarden_core::catalog::FeatureValue;
use paywarden_core::ids::ManualGrantId;
use paywarden_core::UserId;
use paywarden_store::{now_ms, EntitlementsRow, ManualGrant, ManualGrants, NewManualGrant};

use super::Entitlements;
use crate::AppError;

/// Most features one grant may carry.
const MAX_FEATURES: usize = 100;
/// Longest reason kept with a grant.
const MAX_REASON: usize = 500;

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub features: BTreeMap<String, FeatureValue>,
    /// Unix seconds; `None` for good.
    pub expires_at: Option<i64>,
    pub reason: String,
}

fn check_feature_name(name: &str) -> Result<(), AppError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(AppError::Invalid(format!(
            "feature name `{}` must be 1 to 64 characters of a-z, 0-9, `_`, `-` or `.`",
            name.chars().take(64).collect::<String>()
        )))
    }
}

impl GrantRequest {
    fn check(&self, now_secs: i64) -> Result<(), AppError> {
        if self.features.is_empty() || self.features.len() > MAX_FEATURES {
            return Err(AppError::Invalid(format!(
                "features must name 1 to {MAX_FEATURES} features"
            )));
        }
        for (name, value) in &self.features {
            check_feature_name(name)?;
            if matches!(value, FeatureValue::Limit(limit) if *limit < 0) {
                return Err(AppError::Invalid(format!(
                    "feature `{name}`: a limit must not be negative"
                )));
            }
        }
        if self.expires_at.is_some_and(|at| at <= now_secs) {
            return Err(AppError::Invalid("expires_at must be in the future".into()));
        }
        let reason = self.reason.trim();
        if reason.is_empty() || reason.len() > MAX_REASON {
            return Err(AppError::Invalid(format!(
                "reason must be 1 to {MAX_REASON} characters"
            )));
        }
        Ok(())
    }
}

impl Entitlements {
    /// Grants `user` the requested features; answers the grant's id and
    /// the user's entitlements after it.
    pub async fn grant(
        &self,
        user: &UserId,
        request: GrantRequest,
    ) -> Result<(ManualGrantId, EntitlementsRow), AppError> {
        let now = now_ms();
        request.check(now.div_euclid(1000))?;
        let grant = NewManualGrant {
            id: ManualGrantId::generate(),
            user_id: user.clone(),
            features: request.features,
            expires_at: request.expires_at,
            reason: request.reason.trim().to_owned(),
            created_at: now,
        };
        let row = self.store.grant_manually(&grant, &self.catalog).await?;
        Ok((grant.id, row))
    }

    /// Revokes one of `user`'s live grants (404 for anyone else's).
    pub async fn revoke(&self, user: &UserId, id: &str) -> Result<EntitlementsRow, AppError> {
        let id: ManualGrantId = id.parse().map_err(|_| AppError::NotFound("grant"))?;
        self.store
            .revoke_manual_grant(user, &id, &self.catalog, now_ms())
            .await?
            .ok_or(AppError::NotFound("grant"))
    }

    pub async fn grants_of(&self, user: &UserId) -> Result<Vec<ManualGrant>, AppError> {
        Ok(self.store.manual_grants_of(user).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(features: &[(&str, FeatureValue)], expires_at: Option<i64>) -> GrantRequest {
        GrantRequest {
            features: features
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            expires_at,
            reason: "goodwill".into(),
        }
    }

    #[test]
    fn bad_grants_are_refused_with_a_reason() {
        let now = 1_000;
        assert!(request(&[("api", FeatureValue::Flag(true))], None)
            .check(now)
            .is_ok());
        assert!(request(&[], None).check(now).is_err(), "no features");
        assert!(request(&[("API key", FeatureValue::Flag(true))], None)
            .check(now)
            .is_err());
        assert!(request(&[("seats", FeatureValue::Limit(-1))], None)
            .check(now)
            .is_err());
        assert!(request(&[("api", FeatureValue::Flag(true))], Some(now))
            .check(now)
            .is_err());
        let mut blank = request(&[("api", FeatureValue::Flag(true))], None);
        blank.reason = "  ".into();
        assert!(blank.check(now).is_err());
    }
}
