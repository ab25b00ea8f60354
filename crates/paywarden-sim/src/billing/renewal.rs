//! Time-driven subscription changes: renewals at period end, trial ends and
//! `trial_will_end`, dunning retries, scheduled cancellations, the end of
//! `pause_collection`, and incomplete subscriptions expiring.
//!
//! [`advance`] applies them one at a time in time order, each at its own
//! moment (events carry that moment as `created`, in clock time), so a long
//! clock advance produces the same history as waiting would.

use serde_json::{json, Value};

use super::calendar::next_boundary;
use super::invoices::{self, LineSpec};
use super::subscriptions::{self, interval_of, items_of, payment_method, period_end, period_start};
use super::BillingSettings;
use super::{dunning, entitlements};
use crate::events::Cause;
use crate::state::Objects;

/// A transition due on a subscription, in tie-break order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Expire,
    TrialWillEnd,
    TrialEnd,
    ResumeCollection,
    Cancel,
    PeriodEnd,
    Retry(String),
}

fn on_clock(object: &Value, clock: Option<&str>) -> bool {
    object["test_clock"].as_str() == clock
}

/// The earliest transition of `sub`.
fn due_of(sub: &Value) -> Option<(i64, Due)> {
    let mut candidates = Vec::new();
    match sub["status"].as_str().unwrap_or("") {
        "incomplete" => {
            let expires = BillingSettings::of(sub).incomplete_expires_after;
            if let Some(start) = sub["start_date"].as_i64() {
                candidates.push((start.saturating_add(expires), Due::Expire));
            }
        }
        "trialing" => {
            if let Some(time) = dunning::trial_will_end_at(sub) {
                candidates.push((time, Due::TrialWillEnd));
            }
            if let Some(end) = sub["trial_end"].as_i64() {
                candidates.push((end, Due::TrialEnd));
            }
        }
        "active" | "past_due" | "unpaid" => {
            let end = period_end(sub);
            if let Some(cancel_at) = sub["cancel_at"].as_i64() {
                if end.is_none_or(|e| cancel_at < e) || sub["cancel_at_period_end"] == false {
                    candidates.push((cancel_at, Due::Cancel));
                }
            }
            if let Some(end) = end {
                candidates.push((end, Due::PeriodEnd));
            }
            if let Some(resumes) = sub["pause_collection"]["resumes_at"].as_i64() {
                candidates.push((resumes, Due::ResumeCollection));
            }
        }
        _ => {}
    }
    candidates.into_iter().min()
}

/// The earliest due transition on `clock` at or before `until`.
fn next_due(objects: &Objects, clock: Option<&str>, until: i64) -> Option<(i64, Due, String)> {
    let subs = objects
        .subscriptions
        .newest_first()
        .filter(|s| on_clock(s, clock))
        .filter_map(|s| {
            let (at, due) = due_of(s)?;
            Some((at, due, s["id"].as_str()?.to_owned()))
        });
    let retries = objects
        .invoices
        .newest_first()
        .filter(|i| on_clock(i, clock) && i["status"] == "open" && i["auto_advance"] == true)
        .filter_map(|i| {
            let at = i["next_payment_attempt"].as_i64()?;
            let sub = i["parent"]["subscription_details"]["subscription"].as_str()?;
            // An ended subscription's invoices are not retried.
            let live = objects.subscriptions.get(sub).is_some_and(|s| {
                !["canceled", "incomplete_expired"].contains(&s["status"].as_str().unwrap_or(""))
            });
            live.then(|| {
                (
                    at,
                    Due::Retry(i["id"].as_str().unwrap_or_default().to_owned()),
                    sub.to_owned(),
                )
            })
        });
    subs.chain(retries).filter(|(at, _, _)| *at <= until).min()
}

/// Applies every transition due on `clock` up to `until`, in time order.
pub fn advance(objects: &mut Objects, clock: Option<&str>, until: i64) {
    let cause = Cause::automatic();
    let mut last = None;
    // Bounded: each step changes the state it was chosen from; the bound
    // only guards against a transition that fails to.
    for _ in 0..10_000 {
        let Some(next) = next_due(objects, clock, until) else {
            return;
        };
        if last.as_ref() == Some(&next) {
            return;
        }
        let (at, due, sub) = next.clone();
        apply(objects, &cause, at, &sub, due);
        last = Some(next);
    }
}

fn apply(objects: &mut Objects, cause: &Cause, at: i64, sub: &str, due: Due) {
    match due {
        Due::Expire => dunning::expire(objects, cause, at, sub),
        Due::TrialWillEnd => dunning::trial_will_end_if_due(objects, cause, at, sub),
        Due::TrialEnd => end_trial(objects, cause, at, sub),
        Due::ResumeCollection => {
            subscriptions::change(objects, cause, at, sub, |s| {
                s["pause_collection"] = Value::Null;
            });
        }
        Due::Cancel => dunning::end(objects, cause, at, sub, "cancellation_requested"),
        Due::PeriodEnd => {
            let ends = objects
                .subscriptions
                .get(sub)
                .is_some_and(|s| s["cancel_at_period_end"] == true);
            if ends {
                dunning::end(objects, cause, at, sub, "cancellation_requested");
            } else {
                renew(objects, cause, at, sub);
            }
        }
        Due::Retry(invoice) => dunning::collect_renewal(objects, cause, at, sub, &invoice),
    }
}

/// Moves every item to the period starting at `start` and returns it.
fn next_period(sub: &Value, start: i64) -> (i64, i64) {
    let (interval, count) = interval_of(sub);
    let anchor = sub["billing_cycle_anchor"].as_i64().unwrap_or(start);
    (start, next_boundary(anchor, &interval, count, start))
}

fn with_period(sub: &Value, (start, end): (i64, i64)) -> Value {
    let items: Vec<Value> = items_of(sub)
        .into_iter()
        .map(|mut item| {
            item["current_period_start"] = json!(start);
            item["current_period_end"] = json!(end);
            item
        })
        .collect();
    json!(items)
}

/// Opens a new period: a `subscription_cycle` invoice for it (with pending
/// prorations), `customer.subscription.updated` with the old periods in
/// `previous_attributes`, then finalization and payment, unless
/// `pause_collection` or `unpaid` holds the invoice back.
fn renew(objects: &mut Objects, cause: &Cause, at: i64, id: &str) {
    let Some(sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    let old = (
        period_start(&sub).unwrap_or(at),
        period_end(&sub).unwrap_or(at),
    );
    let period = next_period(&sub, old.1);
    cycle(objects, cause, at, &sub, old, period, |_| {});
}

/// Shared by renewals and trial ends: invoice the new `period`, update the
/// subscription (plus `extra` changes), then collect.
fn cycle(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    sub: &Value,
    old: (i64, i64),
    period: (i64, i64),
    extra: impl FnOnce(&mut Value),
) {
    let Some(id) = sub["id"].as_str() else {
        return;
    };
    let items = with_period(sub, period);
    let lines: Vec<LineSpec> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| LineSpec::for_item(item, period.0, period.1, false))
        .collect();
    let Ok(invoice) =
        invoices::create_draft(objects, cause, at, id, "subscription_cycle", lines, old)
    else {
        return;
    };
    subscriptions::change(objects, cause, at, id, |s| {
        s["items"]["data"] = items;
        extra(s);
    });
    let Some(sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    let hold = sub["pause_collection"]["behavior"]
        .as_str()
        .map(str::to_owned);
    match hold.as_deref() {
        Some("keep_as_draft") => hold_draft(objects, &invoice),
        Some("mark_uncollectible") => {
            if invoices::finalize(objects, cause, at, &invoice).is_ok() {
                // The invoice was just finalized, so it is open.
                let _marked = invoices::mark_uncollectible(objects, cause, at, &invoice);
            }
        }
        Some("void") => {
            if invoices::finalize(objects, cause, at, &invoice).is_ok() {
                let _voided = invoices::void(objects, cause, at, &invoice);
            }
        }
        _ if sub["status"] == "unpaid" => hold_draft(objects, &invoice),
        _ => {
            if invoices::finalize(objects, cause, at, &invoice).is_ok() {
                dunning::collect_renewal(objects, cause, at, id, &invoice);
            }
        }
    }
}

/// Leaves a renewal invoice as a draft that is not finalized automatically.
fn hold_draft(objects: &mut Objects, invoice: &str) {
    if let Some(stored) = objects.invoices.get_mut(invoice) {
        stored["auto_advance"] = json!(false);
    }
}

/// A trial ends: invoice the first paid period and become `active` (then
/// `past_due` if payment fails). With no payment method the trial settings
/// decide: `pause` → `paused`, `cancel` → canceled, `create_invoice` → an
/// invoice that cannot be paid.
pub fn end_trial(objects: &mut Objects, cause: &Cause, at: i64, id: &str) {
    let Some(sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    if sub["status"] != "trialing" {
        return;
    }
    let cancels =
        sub["cancel_at_period_end"] == true || sub["cancel_at"].as_i64().is_some_and(|c| c <= at);
    if cancels {
        dunning::end(objects, cause, at, id, "cancellation_requested");
        return;
    }
    // A trial ended early still owes its notice.
    dunning::send_trial_will_end(objects, cause, at, id);
    let Some(sub) = objects.subscriptions.get(id).cloned() else {
        return;
    };
    let missing = payment_method(objects, &sub).is_none();
    let behavior = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
        .as_str()
        .unwrap_or("create_invoice")
        .to_owned();
    if missing && behavior == "pause" {
        let mut after = sub.clone();
        after["status"] = json!("paused");
        after["trial_end"] = json!(at);
        after["status_details"] =
            json!({ "paused": { "reason": "trial_end_without_payment_method", "at": at } });
        subscriptions::store(objects, &after);
        objects.emit(cause, at, "customer.subscription.paused", &after, None);
        let previous = subscriptions::visible_changes(&sub, &after);
        objects.emit(
            cause,
            at,
            "customer.subscription.updated",
            &after,
            Some(previous),
        );
        entitlements::sync_subscription(objects, cause, at, &after);
        return;
    }
    if missing && behavior == "cancel" {
        dunning::end(objects, cause, at, id, "cancellation_requested");
        return;
    }
    let old = (
        period_start(&sub).unwrap_or(at),
        period_end(&sub).unwrap_or(at),
    );
    let mut anchored = sub.clone();
    anchored["billing_cycle_anchor"] = json!(at);
    let period = next_period(&anchored, at);
    cycle(objects, cause, at, &sub, old, period, |s| {
        s["status"] = json!("active");
        s["trial_end"] = json!(at);
        s["billing_cycle_anchor"] = json!(at);
    });
}
