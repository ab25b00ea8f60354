//! Duplicate storms: many concurrent deliveries, each event sent several
//! times, and each applied once. (Named `storm`: nextest runs these one at
//! a time, see `.config/nextest.toml`.)

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use paywarden_store::EventStatus;
use paywarden_testkit::now_secs;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{apps, stripe, Reply, TestApp};

const SEED: u64 = 0x5707_0003;
/// HTTP requests in flight at once.
const IN_FLIGHT: usize = 64;
const DISTINCT: usize = 200;
const DELIVERIES: usize = 5;
/// The first `INVOICES` events pay distinct invoices; the rest are paid
/// Checkouts of `USERS` users, several per user.
const INVOICES: usize = 120;
const USERS: usize = 30;

struct Storm {
    /// `(event id, body)`.
    events: Vec<(String, Vec<u8>)>,
    invoices: BTreeSet<String>,
    users: BTreeSet<String>,
}

fn storm() -> Storm {
    let created = now_secs() - 3600;
    let mut storm = Storm {
        events: Vec::new(),
        invoices: BTreeSet::new(),
        users: BTreeSet::new(),
    };
    for n in 0..DISTINCT {
        let id = format!("evt_storm_{n:03}");
        let body = if n < INVOICES {
            let invoice = format!("in_storm_{n:03}");
            storm.invoices.insert(invoice.clone());
            stripe::invoice_paid(
                &id,
                &invoice,
                &format!("cus_storm_{}", n % 17),
                1000 + n as i64,
                created + n as i64,
            )
        } else {
            let user = format!("user_{}", n % USERS);
            storm.users.insert(user.clone());
            let customer = format!("cus_storm_{user}");
            stripe::checkout_paid(
                &id,
                &format!("cs_storm_{n:03}"),
                &user,
                &customer,
                created + n as i64,
            )
        };
        storm.events.push((id, body));
    }
    assert!(
        storm.users.len() < DISTINCT - INVOICES,
        "several Checkouts share a user"
    );
    storm
}

/// Sends every `(event id, body)` with `IN_FLIGHT` requests at once;
/// returns each reply with its event id.
async fn send_all(app: &TestApp, deliveries: Vec<(String, Vec<u8>)>) -> Vec<(String, Reply)> {
    stream::iter(deliveries)
        .map(|(id, body)| async move { (id, app.deliver(&body).await) })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_storm_applies_each_event_once() {
    let storm = storm();
    let mut deliveries: Vec<(String, Vec<u8>)> = storm
        .events
        .iter()
        .flat_map(|event| std::iter::repeat_n(event.clone(), DELIVERIES))
        .collect();
    deliveries.shuffle(&mut StdRng::seed_from_u64(SEED));
    let total = deliveries.len();

    for app in apps().await {
        let b = app.backend;
        let started = Instant::now();
        let replies = send_all(&app, deliveries.clone()).await;
        let elapsed = started.elapsed();

        let mut firsts: BTreeMap<String, usize> = BTreeMap::new();
        let mut duplicates = 0;
        for (id, reply) in &replies {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "[{b}] delivery of {id}: {}",
                reply.text
            );
            if reply.is_duplicate() {
                assert_eq!(
                    reply.json,
                    json!({ "received": true, "duplicate": true }),
                    "[{b}] {id}"
                );
                duplicates += 1;
            } else {
                assert_eq!(reply.json, json!({ "received": true }), "[{b}] {id}");
                *firsts.entry(id.clone()).or_default() += 1;
            }
        }
        assert_eq!(duplicates, total - DISTINCT, "[{b}] duplicate answers");
        assert_eq!(
            firsts.len(),
            DISTINCT,
            "[{b}] every event had a first delivery"
        );
        assert!(
            firsts.values().all(|&n| n == 1),
            "[{b}] an event answered as new more than once: {:?}",
            firsts.iter().filter(|(_, &n)| n != 1).collect::<Vec<_>>()
        );

        let counts = app.counts().await;
        assert_eq!(counts.events, DISTINCT as i64, "[{b}] events stored");
        assert_eq!(
            counts.payments,
            storm.invoices.len() as i64,
            "[{b}] one payment per invoice"
        );
        assert_eq!(
            counts.accounts,
            storm.users.len() as i64,
            "[{b}] one account per user"
        );
        assert_eq!(
            counts.account_events, counts.accounts,
            "[{b}] one account event per account"
        );
        for (id, _) in &storm.events {
            let event = app.stored(id).await;
            assert_eq!(
                event.status,
                EventStatus::Processed,
                "[{b}] {id}: {:?}",
                event.last_error
            );
            assert_eq!(
                event.received_count, DELIVERIES as i64,
                "[{b}] {id} received_count"
            );
            assert_eq!(event.attempts, 1, "[{b}] {id} attempts");
        }
        for user in &storm.users {
            let account = paywarden_store::ProjectionReader::account(
                &app.store,
                &user.parse().expect("user id"),
            )
            .await
            .expect("read account")
            .unwrap_or_else(|| panic!("[{b}] no account for {user}"));
            assert_eq!(
                account.events,
                ["stripe_checkout"],
                "[{b}] {user}'s account events"
            );
            assert_eq!(
                account.status, "provisioning",
                "[{b}] {user}'s account status"
            );
        }
        eprintln!(
            "[{b}] {total} deliveries ({DISTINCT} distinct), {IN_FLIGHT} in flight: {elapsed:?} ({:.0}/s)",
            total as f64 / elapsed.as_secs_f64()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storm_of_one_event_has_exactly_one_first_delivery() {
    for app in apps().await {
        let b = app.backend;
        let body = stripe::checkout_paid(
            "evt_storm_one",
            "cs_storm_one",
            "user_one",
            "cus_storm_one",
            now_secs(),
        );
        let replies = send_all(&app, vec![("evt_storm_one".to_owned(), body); IN_FLIGHT]).await;
        assert!(
            replies.iter().all(|(_, r)| r.status == StatusCode::OK),
            "[{b}] every delivery answered 200: {:?}",
            replies
                .iter()
                .map(|(_, r)| (r.status, &r.text))
                .collect::<Vec<_>>()
        );
        let firsts = replies
            .iter()
            .filter(|(_, r)| r.json == json!({ "received": true }))
            .count();
        let duplicates = replies
            .iter()
            .filter(|(_, r)| r.json == json!({ "received": true, "duplicate": true }))
            .count();
        assert_eq!(
            (firsts, duplicates),
            (1, IN_FLIGHT - 1),
            "[{b}] first and duplicate answers"
        );
        let counts = app.counts().await;
        assert_eq!(
            (counts.events, counts.accounts, counts.account_events),
            (1, 1, 1),
            "[{b}] one event, one account, one account event"
        );
        let event = app.stored("evt_storm_one").await;
        assert_eq!(
            event.received_count, IN_FLIGHT as i64,
            "[{b}] every delivery counted"
        );
        assert_eq!(
            event.status,
            EventStatus::Processed,
            "[{b}] {:?}",
            event.last_error
        );
    }
}
