//! What a payment's outcome does to a subscription: `incomplete`/`past_due`
//! → `active` once its latest invoice is paid; `past_due` on a failed
//! renewal; retries on the subscription's schedule; and, when they run
//! out, cancel / `unpaid` / stay `past_due` (STRIPE_NOTES §5.6). Also the
//! lifecycle moves shared by the API and the clock: ending a subscription
//! and `trial_will_end`.

use serde_json::{json, Value};

use super::calendar::DAY;
use super::subscriptions::{self, payment_method};
use super::{entitlements, invoices};
use super::{AfterRetries, BillingSettings};
use crate::events::Cause;
use crate::state::Objects;

/// Emits `customer.subscription.trial_will_end` once, when the trial ends
/// within the notice period (3 days) of `at`.
pub fn trial_will_end_if_due(objects: &mut Objects, cause: &Cause, at: i64, id: &str) {
    let Some(sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    if trial_will_end_at(&sub).is_some_and(|time| time <= at) {
        send_trial_will_end(objects, cause, at, id);
    }
}

/// Emits `customer.subscription.trial_will_end` now unless it was sent
/// (a trial ended early gets its notice at once).
pub fn send_trial_will_end(objects: &mut Objects, cause: &Cause, at: i64, id: &str) {
    let Some(mut sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    if sub["status"] != "trialing" || sub["_sim"]["trial_will_end_sent"] == true {
        return;
    }
    sub["_sim"]["trial_will_end_sent"] = json!(true);
    subscriptions::store(objects, &sub);
    objects.emit(
        cause,
        at,
        "customer.subscription.trial_will_end",
        &sub,
        None,
    );
}

/// When `trial_will_end` is due, if it has not been sent.
pub fn trial_will_end_at(sub: &Value) -> Option<i64> {
    if sub["status"] != "trialing" || sub["_sim"]["trial_will_end_sent"] == true {
        return None;
    }
    let end = sub["trial_end"].as_i64()?;
    let notice = BillingSettings::of(sub).trial_will_end_before;
    Some(
        end.saturating_sub(notice)
            .max(sub["created"].as_i64().unwrap_or(0)),
    )
}

/// Ends subscription `id` now: `canceled`, `ended_at`, the reason, and
/// `customer.subscription.deleted`.
pub fn end(objects: &mut Objects, cause: &Cause, at: i64, id: &str, reason: &str) {
    let Some(mut sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    if ["canceled", "incomplete_expired"].contains(&sub["status"].as_str().unwrap_or("")) {
        return;
    }
    sub["status"] = json!("canceled");
    sub["ended_at"] = json!(at);
    if sub["canceled_at"].is_null() {
        sub["canceled_at"] = json!(at);
    }
    sub["cancellation_details"]["reason"] = json!(reason);
    subscriptions::store(objects, &sub);
    objects.emit(cause, at, "customer.subscription.deleted", &sub, None);
    entitlements::sync_subscription(objects, cause, at, &sub);
}

/// An `incomplete` subscription whose first invoice went unpaid for 23
/// hours: `incomplete_expired`, the invoice voided. Stripe reports the end
/// of a subscription as `customer.subscription.deleted`.
pub fn expire(objects: &mut Objects, cause: &Cause, at: i64, id: &str) {
    let Some(mut sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    if let Some(invoice) = sub["latest_invoice"].as_str().map(str::to_owned) {
        let open = objects
            .invoices
            .get(&invoice)
            .is_some_and(|i| i["status"] == "open");
        if open {
            // Only an open invoice is voided; nothing to refuse here.
            let _voided = invoices::void(objects, cause, at, &invoice);
        }
    }
    sub["status"] = json!("incomplete_expired");
    sub["ended_at"] = json!(at);
    subscriptions::store(objects, &sub);
    objects.emit(cause, at, "customer.subscription.deleted", &sub, None);
    entitlements::sync_subscription(objects, cause, at, &sub);
}

/// `incomplete`, `past_due` or `unpaid` → `active` once the latest
/// invoice is paid (`customer.subscription.updated`).
pub fn settle_after_payment(objects: &mut Objects, cause: &Cause, at: i64, id: &str) {
    let Some(sub) = objects.subscriptions.get(id) else {
        return;
    };
    let paid = sub["latest_invoice"]
        .as_str()
        .and_then(|i| objects.invoices.get(i))
        .is_some_and(|i| i["status"] == "paid");
    let waiting =
        ["incomplete", "past_due", "unpaid"].contains(&sub["status"].as_str().unwrap_or(""));
    if paid && waiting {
        subscriptions::change(objects, cause, at, id, |s| s["status"] = json!("active"));
    }
}

/// When the next retry of an invoice that has now failed `attempts` times
/// is due, per the subscription's schedule; `None` when retries ran out.
fn retry_at(settings: &BillingSettings, attempts: i64, at: i64) -> Option<i64> {
    let index = usize::try_from(attempts.saturating_sub(1)).ok()?;
    settings
        .retry_days
        .get(index)
        .map(|days| at.saturating_add(days.saturating_mul(DAY)))
}

/// Attempts a renewal (or retry) payment of `invoice` for subscription
/// `id`, then moves the subscription: `active` when paid; `past_due` on a
/// failure; the after-retries setting once the schedule is spent.
pub fn collect_renewal(objects: &mut Objects, cause: &Cause, at: i64, id: &str, invoice: &str) {
    let Some(sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    let settings = BillingSettings::of(&sub);
    let attempts = objects
        .invoices
        .get(invoice)
        .and_then(|i| i["attempt_count"].as_i64())
        .unwrap_or(0)
        + 1;
    let next = retry_at(&settings, attempts, at);
    let pm = payment_method(objects, &sub);
    if invoices::attempt(objects, cause, at, invoice, pm, next).is_ok() {
        settle_after_payment(objects, cause, at, id);
        return;
    }
    if attempts > 1 {
        let before = objects.invoices.get(invoice).cloned();
        if let Some(before) = before {
            let mut shown = before.clone();
            shown["attempt_count"] = json!(attempts - 1);
            let previous = subscriptions::visible_changes(&shown, &before);
            objects.emit(cause, at, "invoice.updated", &before, Some(previous));
        }
    }
    if ["active", "trialing"].contains(&sub["status"].as_str().unwrap_or("")) {
        subscriptions::change(objects, cause, at, id, |s| s["status"] = json!("past_due"));
    }
    if next.is_none() {
        match settings.after_retries {
            AfterRetries::Cancel => end(objects, cause, at, id, "payment_failed"),
            AfterRetries::MarkUnpaid => {
                subscriptions::change(objects, cause, at, id, |s| s["status"] = json!("unpaid"));
            }
            AfterRetries::LeavePastDue => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        let settings = BillingSettings::default();
        assert_eq!(retry_at(&settings, 1, 0), Some(3 * DAY));
        assert_eq!(retry_at(&settings, 3, 10), Some(10 + 7 * DAY));
        assert_eq!(retry_at(&settings, 4, 0), None);
    }
}
