//! The access policy: which billing facts grant a plan's features, and
//! until when.
//!
//! A user's entitlements are the union of what each of their grants gives
//! (flags: on if any grant has them; limits: the largest), and they are
//! valid until the earliest moment one of those grants ends. Everything
//! here is a pure function of the facts and the clock, so the same facts
//! always resolve to the same entitlements and the rules can be tested as
//! a table.

use std::collections::BTreeMap;

use crate::catalog::FeatureValue;
use crate::stripe::SubscriptionStatus;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The policy, as written in the catalog's `[access]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Statuses that grant while the period runs (`active`, `trialing`).
    pub granting: Vec<SubscriptionStatus>,
    /// `past_due` keeps granting this many days from the start of the
    /// period whose renewal failed (0: past due grants nothing).
    pub past_due_grace_days: u32,
    /// An active period is trusted this long past its end, because the
    /// renewal's events arrive after the period has ended.
    pub renewal_leeway_hours: u32,
    /// A subscription canceled at once still grants until the end of the
    /// period it paid for (a subscription canceled at period end always does).
    pub canceled_keeps_paid_period: bool,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            granting: vec![SubscriptionStatus::Active, SubscriptionStatus::Trialing],
            past_due_grace_days: 3,
            renewal_leeway_hours: 24,
            canceled_keeps_paid_period: false,
        }
    }
}

/// How long something grants access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Until this unix second (exclusive).
    At(i64),
    /// For good.
    Forever,
}

impl Until {
    fn holds_at(self, now: i64) -> bool {
        match self {
            Self::At(end) => now < end,
            Self::Forever => true,
        }
    }
}

/// What paywarden knows about one subscription of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub status: SubscriptionStatus,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// When the subscription ended (canceled ones).
    pub ended_at: Option<i64>,
}

impl AccessPolicy {
    /// Until when a subscription grants its plan's features, or `None` when
    /// it grants nothing now.
    pub fn subscription_access(&self, facts: &SubscriptionFacts, now: i64) -> Option<Until> {
        let period_end = facts.current_period_end;
        let until = match &facts.status {
            status if self.granting.contains(status) => {
                let end = period_end?;
                if facts.cancel_at_period_end {
                    Until::At(end)
                } else {
                    Until::At(end + i64::from(self.renewal_leeway_hours) * HOUR)
                }
            }
            SubscriptionStatus::PastDue if self.past_due_grace_days > 0 => {
                let failed_at = facts.current_period_start.or(period_end)?;
                Until::At(failed_at + i64::from(self.past_due_grace_days) * DAY)
            }
            SubscriptionStatus::Canceled => {
                let end = period_end?;
                let at_period_end = facts.ended_at.is_none_or(|ended| ended >= end);
                if at_period_end || self.canceled_keeps_paid_period {
                    Until::At(end)
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        until.holds_at(now).then_some(until)
    }
}

/// One reason the user has some features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub features: BTreeMap<String, FeatureValue>,
    pub until: Until,
}

/// A user's resolved entitlements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entitlements {
    pub features: BTreeMap<String, FeatureValue>,
    /// When these stop being true (a grant ends); `None` if never.
    pub expires_at: Option<i64>,
}

/// Merges the grants that hold at `now`: flags are on if any grant has
/// them on, limits take the largest value, and the result expires when the
/// first contributing grant ends.
pub fn resolve(grants: impl IntoIterator<Item = Grant>, now: i64) -> Entitlements {
    let mut out = Entitlements::default();
    for grant in grants {
        if !grant.until.holds_at(now) {
            continue;
        }
        if let Until::At(end) = grant.until {
            out.expires_at = Some(out.expires_at.map_or(end, |e| e.min(end)));
        }
        for (name, value) in grant.features {
            let merged = match (out.features.get(&name), &value) {
                (Some(FeatureValue::Limit(a)), FeatureValue::Limit(b)) => {
                    FeatureValue::Limit(*a.max(b))
                }
                (Some(FeatureValue::Flag(true)), _) => FeatureValue::Flag(true),
                (Some(FeatureValue::Limit(a)), FeatureValue::Flag(_)) => FeatureValue::Limit(*a),
                _ => value,
            };
            out.features.insert(name, merged);
        }
    }
    out
}

#[cfg(test)]
mod tests;

/// Everything known about one user that can grant access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFacts {
    /// Each subscription with the Stripe product ids of its items.
    pub subscriptions: Vec<(SubscriptionFacts, Vec<String>)>,
    /// Paid one-time purchases: the catalog product key and when it was paid.
    pub purchases: Vec<(String, i64)>,
    /// Grants made by an operator.
    pub manual: Vec<Grant>,
}

/// The user's entitlements at `now` under the catalog's policy.
pub fn entitlements_of(
    catalog: &crate::catalog::Catalog,
    facts: &UserFacts,
    now: i64,
) -> Entitlements {
    let policy = &catalog.access;
    let mut grants = Vec::new();
    for (subscription, products) in &facts.subscriptions {
        let Some(until) = policy.subscription_access(subscription, now) else {
            continue;
        };
        for product in products {
            if let Some(product) = catalog.product_by_stripe_id(product) {
                grants.push(Grant {
                    features: product.features.clone(),
                    until,
                });
            }
        }
    }
    for (plan, paid_at) in &facts.purchases {
        let Some(product) = catalog.products().iter().find(|p| p.key.as_str() == plan) else {
            continue;
        };
        let until = match product.access_days {
            Some(days) => Until::At(paid_at + i64::from(days) * DAY),
            None => Until::Forever,
        };
        grants.push(Grant {
            features: product.features.clone(),
            until,
        });
    }
    grants.extend(facts.manual.iter().cloned());
    resolve(grants, now)
}
