//! Prorations for a mid-period change: a credit for the unused time on what
//! the subscription had and a charge for the remaining time on what it has
//! now, as pending invoice items (`invoiceitem.created`) that the next
//! invoice of the subscription picks up.
//!
//! The sim prorates by whole days (remaining days ÷ period days), which is
//! close to, but simpler than, Stripe's per-second proration.

use serde_json::{json, Value};

use super::calendar::{date, DAY};
use super::subscriptions::items_of;
use crate::events::Cause;
use crate::ids::{new_id, INVOICE_ITEM};
use crate::state::Objects;

fn full_amount(item: &Value) -> i64 {
    item["price"]["unit_amount"]
        .as_i64()
        .unwrap_or(0)
        .saturating_mul(item["quantity"].as_i64().unwrap_or(1))
}

/// `full` scaled to the whole days left of `(start, end)` after `at`.
pub fn prorated(full: i64, (start, end): (i64, i64), at: i64) -> i64 {
    let days = |seconds: i64| (seconds + DAY / 2) / DAY;
    let total = days(end - start);
    if total <= 0 {
        return 0;
    }
    let left = days((end - at).max(0)).min(total);
    full.saturating_mul(left) / total
}

/// Whether `item` is billed differently in `others` (gone, or another
/// price or quantity).
fn changed(item: &Value, others: &[Value]) -> bool {
    !others.iter().any(|o| {
        o["id"] == item["id"]
            && o["price"]["id"] == item["price"]["id"]
            && o["quantity"] == item["quantity"]
    })
}

/// Creates the proration items between `before` and `after` (the same
/// subscription) at `at`; returns their ids. Emits `invoiceitem.created`.
pub fn create(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    before: &Value,
    after: &Value,
) -> Vec<String> {
    let old = items_of(before);
    let new = items_of(after);
    let mut created = Vec::new();
    for (items, others, sign, verb) in [
        (&old, &new, -1, "Unused time on"),
        (&new, &old, 1, "Remaining time on"),
    ] {
        for item in items.iter().filter(|i| changed(i, others)) {
            let period = (
                item["current_period_start"].as_i64().unwrap_or(at),
                item["current_period_end"].as_i64().unwrap_or(at),
            );
            let amount = sign * prorated(full_amount(item), period, at);
            if amount == 0 {
                continue;
            }
            let id = new_id(INVOICE_ITEM);
            let price = &item["price"];
            let name = price["product"]
                .as_str()
                .and_then(|p| objects.products.get(p))
                .and_then(|p| p["name"].as_str())
                .unwrap_or("Subscription")
                .to_owned();
            let quantity = item["quantity"].as_i64().unwrap_or(1);
            let invoice_item = json!({
                "id": id, "object": "invoiceitem", "amount": amount,
                "currency": price["currency"], "customer": after["customer"], "date": at,
                "description": format!("{verb} {quantity} × {name} after {}", date(at)),
                "discountable": false, "discounts": [], "invoice": null, "livemode": false,
                "metadata": {}, "net_amount": amount,
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": after["id"], "subscription_item": item["id"]
                    }
                },
                "period": { "start": at, "end": period.1 },
                "pricing": {
                    "type": "price_details",
                    "price_details": { "price": price["id"], "product": price["product"] },
                    "unit_amount_decimal": price["unit_amount_decimal"]
                },
                "proration": true, "proration_details": { "credited_items": null },
                "quantity": quantity, "tax_rates": [], "test_clock": after["test_clock"]
            });
            objects
                .invoice_items
                .insert(id.clone(), invoice_item.clone());
            objects.emit(cause, at, "invoiceitem.created", &invoice_item, None);
            created.push(id);
        }
    }
    created
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prorates_by_whole_days() {
        let period = (0, 30 * DAY);
        assert_eq!(prorated(3000, period, 15 * DAY), 1500);
        assert_eq!(prorated(3000, period, 0), 3000);
        assert_eq!(prorated(3000, period, 31 * DAY), 0);
        assert_eq!(prorated(3000, (0, 0), 0), 0);
    }
}
