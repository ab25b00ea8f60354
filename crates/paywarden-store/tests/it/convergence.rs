//! Order safety: any order of delivery, with any repetition, ends in the
//! state of the ordered history.
//!
//! 200 subscription histories are generated from a fixed seed: created
//! (`incomplete`), several updates (active, past_due and back, cancellation
//! toggles, quantity and item changes, periods moving forward, often two
//! events in one second), then deleted for most. Some histories also carry
//! the paid subscription Checkout, and the invoices their renewals produce.
//! Half use the ≤ acacia shape (periods on the subscription), half the
//! ≥ basil shape (periods on the items). The events are applied in order to
//! one store and shuffled, with duplicates, to another of the same backend.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paywarden_core::ids::SubscriptionId;
use paywarden_store::{ProjectionReader, SubscriptionView};
use paywarden_testkit::TestStore;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::support::*;

const HISTORIES: usize = 200;
const SEED: u64 = 0x5eed_0003;
const MONTH: i64 = 30 * 86_400;
const PARALLEL_HISTORIES: usize = 8;

/// A subscription's state as one snapshot shows it.
#[derive(Debug, Clone)]
struct Snapshot {
    status: &'static str,
    /// `(item id, price id, quantity)`.
    items: Vec<(String, &'static str, i64)>,
    period: (i64, i64),
    cancel_at_period_end: bool,
    canceled_at: Option<i64>,
}

/// Precedence as `paywarden_core::precedence` defines it, restated here so
/// the expectation does not come from the code under test.
type Key = (bool, i64, i32, String);

fn key(status: &str, created: i64, event_id: &str) -> Key {
    let rank = match status {
        "incomplete" => 0,
        "active" => 2,
        "past_due" => 3,
        "canceled" => 8,
        other => panic!("no rank for {other} in this test"),
    };
    (status == "canceled", created, rank, event_id.to_owned())
}

/// One generated history: its events in Stripe's order, and what the
/// subscription must end as.
struct History {
    subscription: String,
    events: Vec<String>,
    /// The greatest snapshot, and the greatest status assertion (a snapshot
    /// or the paid Checkout's `active`).
    winning_snapshot: (Key, Snapshot),
    winning_status: (Key, &'static str),
    user: Option<String>,
}

struct Generator {
    h: usize,
    basil: bool,
    subscription: String,
    customer: String,
    events: Vec<String>,
    snapshots: Vec<(Key, Snapshot)>,
    statuses: Vec<(Key, &'static str)>,
}

impl Generator {
    fn next_id(&self) -> String {
        format!("evt_conv_{:03}_{:02}", self.h, self.events.len())
    }

    fn subscription_object(&self, s: &Snapshot, user: Option<&str>) -> Value {
        let items: Vec<Value> = s
            .items
            .iter()
            .map(|(id, price, quantity)| {
                let mut item = json!({
                    "id": id, "object": "subscription_item", "quantity": quantity,
                    "price": {
                        "id": price, "object": "price", "product": format!("prod_{price}"),
                        "unit_amount": if *price == "price_basic" { 1000 } else { 300 },
                        "currency": "usd", "recurring": { "interval": "month", "interval_count": 1 },
                    },
                });
                if self.basil {
                    item["current_period_start"] = json!(s.period.0);
                    item["current_period_end"] = json!(s.period.1);
                }
                item
            })
            .collect();
        let mut object = json!({
            "id": self.subscription, "object": "subscription", "customer": self.customer,
            "status": s.status,
            "items": { "object": "list", "data": items },
            "cancel_at_period_end": s.cancel_at_period_end,
            "cancel_at": if s.cancel_at_period_end { Some(s.period.1) } else { None },
            "canceled_at": s.canceled_at,
            "ended_at": s.canceled_at,
            "metadata": match user { Some(user) => json!({ "user_id": user }), None => json!({}) },
        });
        if !self.basil {
            object["current_period_start"] = json!(s.period.0);
            object["current_period_end"] = json!(s.period.1);
        }
        object
    }

    fn snapshot_event(&mut self, event_type: &str, created: i64, s: &Snapshot, user: Option<&str>) {
        let id = self.next_id();
        let object = self.subscription_object(s, user);
        self.events
            .push(event_body(&id, event_type, created, object));
        let k = key(s.status, created, &id);
        self.statuses.push((k.clone(), s.status));
        self.snapshots.push((k, s.clone()));
    }

    fn invoice_event(
        &mut self,
        event_type: &str,
        created: i64,
        invoice_id: &str,
        attempt: i64,
        amount: i64,
    ) {
        let id = self.next_id();
        let mut object = invoice(
            invoice_id,
            &self.customer,
            Some(&self.subscription),
            amount,
            attempt,
        );
        if self.basil {
            // ≥ basil: the subscription moved under `parent`.
            object["subscription"] = Value::Null;
            object["parent"] = json!({
                "type": "subscription_details",
                "subscription_details": { "subscription": self.subscription },
            });
        }
        self.events
            .push(event_body(&id, event_type, created, object));
    }

    fn checkout_event(&mut self, created: i64, user: &str) {
        let id = self.next_id();
        let session = checkout_session(
            &format!("cs_conv_{:03}", self.h),
            Some(user),
            &self.customer.clone(),
            "subscription",
            "paid",
            Some(&self.subscription.clone()),
        );
        self.events.push(event_body(
            &id,
            "checkout.session.completed",
            created,
            session,
        ));
        self.statuses.push((key("active", created, &id), "active"));
    }
}

fn amount(s: &Snapshot) -> i64 {
    s.items
        .iter()
        .map(|(_, price, q)| {
            if *price == "price_basic" {
                1000 * q
            } else {
                300 * q
            }
        })
        .sum()
}

fn history(h: usize, rng: &mut StdRng) -> History {
    let mut g = Generator {
        h,
        basil: h % 2 == 1,
        subscription: format!("sub_conv_{h:03}"),
        customer: format!("cus_conv_{h:03}"),
        events: Vec::new(),
        snapshots: Vec::new(),
        statuses: Vec::new(),
    };
    let with_checkout = h.is_multiple_of(3);
    let user = with_checkout.then(|| format!("user_conv_{}", h % 40));
    // Some products also put the user in the subscription's metadata.
    let metadata_user = user.clone().filter(|_| h.is_multiple_of(2));
    let deleted = h % 8 != 7;
    let with_invoices = h % 4 != 2;

    let mut t = 1_700_000_000 + h as i64 * 100_000;
    let mut s = Snapshot {
        status: "incomplete",
        items: vec![(format!("si_conv_{h:03}_a"), "price_basic", 1)],
        period: (t, t + MONTH),
        cancel_at_period_end: false,
        canceled_at: None,
    };
    g.snapshot_event(
        "customer.subscription.created",
        t,
        &s,
        metadata_user.as_deref(),
    );
    if let Some(user) = &user {
        g.checkout_event(t + rng.gen_range(0..=2), user);
    }

    // Each invoice is paid at most once: after a payment, the next failure
    // is a new invoice's.
    let mut invoice_no = 0;
    let mut attempt = 0;
    let updates = rng.gen_range(3..=7);
    for n in 0..updates {
        t += rng.gen_range(0..=2);
        let before = s.status;
        s.status = match (n, s.status) {
            (0, _) => "active",
            (_, "past_due") => "active",
            _ if rng.gen_bool(0.4) => "past_due",
            _ => "active",
        };
        if rng.gen_bool(0.3) {
            s.cancel_at_period_end = !s.cancel_at_period_end;
        }
        if rng.gen_bool(0.4) {
            s.items[0].2 = rng.gen_range(1..=5);
        }
        if rng.gen_bool(0.3) {
            s.period = (s.period.1, s.period.1 + MONTH);
        }
        if rng.gen_bool(0.2) {
            if s.items.len() == 1 {
                s.items.push((
                    format!("si_conv_{h:03}_b"),
                    "price_addon",
                    rng.gen_range(1..=3),
                ));
            } else {
                s.items.pop();
            }
        }
        g.snapshot_event(
            "customer.subscription.updated",
            t,
            &s,
            metadata_user.as_deref(),
        );
        if with_invoices {
            let invoice_id = format!("in_conv_{h:03}_{invoice_no}");
            if s.status == "past_due" {
                attempt += 1;
                g.invoice_event(
                    "invoice.payment_failed",
                    t,
                    &invoice_id,
                    attempt,
                    amount(&s),
                );
                if rng.gen_bool(0.3) {
                    // Stripe sometimes sends one attempt's failure twice under new ids.
                    g.invoice_event(
                        "invoice.payment_failed",
                        t,
                        &invoice_id,
                        attempt,
                        amount(&s),
                    );
                }
            } else if before != "active" {
                g.invoice_event("invoice.paid", t, &invoice_id, attempt.max(1), amount(&s));
                g.invoice_event(
                    "invoice.payment_succeeded",
                    t,
                    &invoice_id,
                    attempt.max(1),
                    amount(&s),
                );
                invoice_no += 1;
                attempt = 0;
            }
        }
    }
    if deleted {
        t += rng.gen_range(0..=1);
        s.status = "canceled";
        s.canceled_at = Some(t);
        g.snapshot_event(
            "customer.subscription.deleted",
            t,
            &s,
            metadata_user.as_deref(),
        );
    }

    let winning_snapshot = g
        .snapshots
        .iter()
        .max_by(|a, b| a.0.cmp(&b.0))
        .cloned()
        .expect("a snapshot");
    let winning_status = g
        .statuses
        .iter()
        .max_by(|a, b| a.0.cmp(&b.0))
        .cloned()
        .expect("a status");
    History {
        subscription: g.subscription,
        events: g.events,
        winning_snapshot,
        winning_status,
        user,
    }
}

fn histories() -> Vec<History> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..HISTORIES).map(|h| history(h, &mut rng)).collect()
}

/// Each history's events once, in Stripe's order.
fn in_order(histories: &[History]) -> Vec<Vec<String>> {
    histories.iter().map(|h| h.events.clone()).collect()
}

/// Each history's events, a quarter of them twice, in a seeded random
/// order: one global shuffle, then split by history so that every object
/// still sees exactly the shuffled sequence of its own events.
fn shuffled_with_duplicates(histories: &[History]) -> Vec<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0xffff);
    let mut tagged: Vec<(usize, String)> = histories
        .iter()
        .enumerate()
        .flat_map(|(n, h)| h.events.iter().map(move |body| (n, body.clone())))
        .collect();
    let duplicates: Vec<(usize, String)> = tagged
        .iter()
        .filter(|_| rng.gen_bool(0.25))
        .cloned()
        .collect();
    tagged.extend(duplicates);
    tagged.shuffle(&mut rng);
    let mut streams = vec![Vec::new(); histories.len()];
    for (n, body) in tagged {
        streams[n].push(body);
    }
    streams
}

/// Delivers each stream in its order, up to `PARALLEL_HISTORIES` streams at
/// once. Histories share nothing the digest compares (users they share get
/// one account, first come first served, and its billing is not compared),
/// so running them side by side changes no object's delivery order; it
/// only keeps PostgreSQL's per-commit latency from adding up.
async fn deliver_streams(t: &TestStore, streams: &[Vec<String>]) -> Duration {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(PARALLEL_HISTORIES));
    let mut tasks = JoinSet::new();
    for stream in streams {
        let (store, stream, name) = (t.store.clone(), stream.clone(), t.name);
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            for body in &stream {
                try_deliver(&store, body)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: delivery failed: {e:?}\n{body}"));
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("delivery task panicked");
    }
    started.elapsed()
}

fn expected_view(history: &History) -> SubscriptionView {
    let (_, snapshot) = &history.winning_snapshot;
    let mut items: Vec<(String, Option<String>, Option<i64>)> = snapshot
        .items
        .iter()
        .map(|(id, price, q)| (id.clone(), Some((*price).to_owned()), Some(*q)))
        .collect();
    items.sort();
    SubscriptionView {
        id: history.subscription.clone(),
        customer_id: Some(history.subscription.replace("sub_", "cus_")),
        user_id: history.user.clone(),
        status: history.winning_status.1.to_owned(),
        current_period_start: Some(snapshot.period.0),
        current_period_end: Some(snapshot.period.1),
        cancel_at_period_end: snapshot.cancel_at_period_end,
        cancel_at: snapshot.cancel_at_period_end.then_some(snapshot.period.1),
        canceled_at: snapshot.canceled_at,
        pause_behavior: None,
        trial_end: None,
        items,
    }
}

async fn subscription(t: &TestStore, id: &str) -> SubscriptionView {
    let id: SubscriptionId = id.parse().expect("subscription id");
    t.store
        .subscription(&id)
        .await
        .unwrap_or_else(|e| panic!("{}: read {id}: {e:?}", t.name))
        .unwrap_or_else(|| panic!("{}: no row for {id}", t.name))
}

/// The lines one digest has and the other lacks, for a readable failure.
fn digest_difference(a: &[String], b: &[String]) -> String {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    let only_a: Vec<_> = a.difference(&b).take(20).collect();
    let only_b: Vec<_> = b.difference(&a).take(20).collect();
    format!("only in order:\n{only_a:#?}\nonly shuffled:\n{only_b:#?}")
}

#[tokio::test]
async fn shuffled_and_duplicated_histories_converge_to_the_ordered_state() {
    let histories = histories();
    let ordered = in_order(&histories);
    let shuffled = shuffled_with_duplicates(&histories);
    let (ordered_count, shuffled_count) = (
        ordered.iter().map(Vec::len).sum::<usize>(),
        shuffled.iter().map(Vec::len).sum::<usize>(),
    );
    assert!(ordered_count > 5 * HISTORIES, "{ordered_count} events");
    assert!(shuffled_count > ordered_count, "no duplicates");
    assert!(
        ordered.iter().zip(&shuffled).any(|(a, b)| a != b),
        "the shuffle kept every history in order"
    );
    let deleted = histories
        .iter()
        .filter(|h| h.winning_status.1 == "canceled")
        .count();
    assert!(
        deleted > HISTORIES / 2 && deleted < HISTORIES,
        "{deleted} deleted"
    );

    for (forward, backward) in store_pairs().await {
        let ordered_took = deliver_streams(&forward, &ordered).await;
        let shuffled_took = deliver_streams(&backward, &shuffled).await;
        eprintln!(
            "{}: {ordered_count} ordered deliveries in {ordered_took:?}, \
             {shuffled_count} shuffled in {shuffled_took:?}",
            forward.name,
        );

        let (a, b) = (digest(&forward).await, digest(&backward).await);
        assert!(a == b, "{}: {}", forward.name, digest_difference(&a, &b));

        for history in &histories {
            let expected = expected_view(history);
            for t in [&forward, &backward] {
                let view = subscription(t, &history.subscription).await;
                assert_eq!(view, expected, "{}: {}", t.name, history.subscription);
            }
        }
        let failed = failed_count(&forward).await + failed_count(&backward).await;
        assert_eq!(failed, 0, "{}: failed events", forward.name);
    }
}

async fn failed_count(t: &TestStore) -> usize {
    use paywarden_store::{EventFilter, EventLog, EventStatus};
    t.store
        .list_events(&EventFilter {
            status: Some(EventStatus::Failed),
            limit: 100,
            ..EventFilter::default()
        })
        .await
        .expect("list failed")
        .events
        .len()
}

fn subscription_event(id: &str, event_type: &str, created: i64, status: &str) -> String {
    event_body(
        id,
        event_type,
        created,
        json!({
            "id": "sub_late", "object": "subscription", "customer": "cus_late", "status": status,
            "current_period_start": 1_000, "current_period_end": 2_000,
            "items": { "data": [ { "id": "si_late", "quantity": 1, "price": { "id": "price_basic" } } ] },
        }),
    )
}

#[tokio::test]
async fn late_update_after_deletion_leaves_the_subscription_canceled() {
    let bodies = [
        subscription_event("evt_l1", "customer.subscription.created", 100, "incomplete"),
        subscription_event("evt_l2", "customer.subscription.updated", 110, "active"),
        subscription_event("evt_l3", "customer.subscription.deleted", 120, "canceled"),
        // Stamped after the deletion, delivered after it.
        subscription_event("evt_l4", "customer.subscription.updated", 130, "active"),
    ];
    for (forward, backward) in in_both_orders(&bodies).await {
        for t in [&forward, &backward] {
            let view = subscription(t, "sub_late").await;
            assert_eq!(view.status, "canceled", "{}", t.name);
        }
    }
}

#[tokio::test]
async fn late_paid_checkout_does_not_revive_a_canceled_subscription() {
    let session = checkout_session(
        "cs_late",
        Some("user_late"),
        "cus_late",
        "subscription",
        "paid",
        Some("sub_late"),
    );
    let bodies = [
        subscription_event("evt_m1", "customer.subscription.created", 100, "incomplete"),
        subscription_event("evt_m2", "customer.subscription.deleted", 120, "canceled"),
        event_body("evt_m3", "checkout.session.completed", 130, session),
    ];
    for (forward, backward) in in_both_orders(&bodies).await {
        for t in [&forward, &backward] {
            let view = subscription(t, "sub_late").await;
            assert_eq!(view.status, "canceled", "{}", t.name);
            assert_eq!(view.user_id.as_deref(), Some("user_late"), "{}", t.name);
        }
    }
}

#[tokio::test]
async fn checkout_before_any_snapshot_creates_an_active_row_the_snapshot_completes() {
    let session = checkout_session(
        "cs_first",
        Some("user_first"),
        "cus_late",
        "subscription",
        "paid",
        Some("sub_late"),
    );
    let bodies = [
        event_body("evt_n1", "checkout.session.completed", 100, session),
        subscription_event("evt_n2", "customer.subscription.created", 100, "incomplete"),
    ];
    for (forward, backward) in in_both_orders(&bodies).await {
        for t in [&forward, &backward] {
            let view = subscription(t, "sub_late").await;
            // Same second: `active` (rank 2) outranks `incomplete` (rank 0).
            assert_eq!(view.status, "active", "{}", t.name);
            assert_eq!(view.current_period_end, Some(2_000), "{}", t.name);
            assert_eq!(view.items.len(), 1, "{}", t.name);
            assert_eq!(view.user_id.as_deref(), Some("user_first"), "{}", t.name);
        }
    }
}
