//! Order safety over HTTP: subscription histories delivered shuffled (with
//! repeats, several at once) end as the same rows as delivered in order; a
//! late `updated` never revives a deleted subscription. The store suite
//! covers this with 200 richer histories; this one checks the whole path.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use paywarden_core::ids::SubscriptionId;
use paywarden_store::ProjectionReader;
use paywarden_testkit::{now_secs, TestStore};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;

use crate::support::{stripe, AppConfig, TestApp};

const SEED: u64 = 0x0de5_0003;
const HISTORIES: usize = 30;

/// Each history: created (incomplete) → updated (active) → updated
/// (quantity changes, sometimes past_due and back, sometimes two events in
/// the same second) → deleted (canceled).
fn histories(rng: &mut StdRng) -> Vec<(String, Vec<u8>)> {
    let base = now_secs() - 86_400;
    let mut events = Vec::new();
    for h in 0..HISTORIES {
        let sub = format!("sub_reord_{h:02}");
        let mut t = base + (h as i64) * 100;
        let mut n = 0;
        let mut push =
            |event_type: &str, t: i64, status: &str, quantity: i64, events: &mut Vec<_>| {
                let id = format!("evt_reord_{h:02}_{n:02}");
                n += 1;
                events.push((
                    id.clone(),
                    stripe::subscription(&id, event_type, t, &sub, status, quantity),
                ));
            };
        push(
            "customer.subscription.created",
            t,
            "incomplete",
            1,
            &mut events,
        );
        t += rng.gen_range(0..3);
        push("customer.subscription.updated", t, "active", 1, &mut events);
        for _ in 0..rng.gen_range(1..5) {
            // Zero: two events in one second, ordered by the tie rule.
            t += rng.gen_range(0..3);
            let status = if rng.gen_bool(0.3) {
                "past_due"
            } else {
                "active"
            };
            push(
                "customer.subscription.updated",
                t,
                status,
                rng.gen_range(1..6),
                &mut events,
            );
        }
        t += rng.gen_range(0..3);
        push(
            "customer.subscription.deleted",
            t,
            "canceled",
            1,
            &mut events,
        );
    }
    events
}

async fn deliver_all(app: &TestApp, events: Vec<(String, Vec<u8>)>, in_flight: usize) {
    let replies: Vec<_> = stream::iter(events)
        .map(|(id, body)| async move { (id, app.deliver(&body).await) })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    for (id, reply) in replies {
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "[{}] {id}: {}",
            app.backend,
            reply.text
        );
    }
}

async fn app_on(db: TestStore) -> TestApp {
    TestApp::spawn_with(Arc::new(db), AppConfig::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffled_histories_converge_to_the_ordered_state() {
    let mut rng = StdRng::seed_from_u64(SEED);
    let ordered = histories(&mut rng);
    let mut shuffled = ordered.clone();
    // Every fifth event delivered twice.
    shuffled.extend(ordered.iter().step_by(5).cloned());
    shuffled.shuffle(&mut rng);

    let mut backends = vec![(TestStore::sqlite().await, TestStore::sqlite().await)];
    if let (Some(a), Some(b)) = (TestStore::postgres().await, TestStore::postgres().await) {
        backends.push((a, b));
    }
    for (in_order_db, shuffled_db) in backends {
        let in_order = app_on(in_order_db).await;
        let out_of_order = app_on(shuffled_db).await;
        let b = in_order.backend;

        deliver_all(&in_order, ordered.clone(), 1).await;
        deliver_all(&out_of_order, shuffled.clone(), 8).await;

        let expected = in_order.digest().await;
        assert!(
            expected
                .iter()
                .filter(|l| l.starts_with("subscriptions|"))
                .count()
                == HISTORIES,
            "[{b}] one subscription row per history: {expected:#?}"
        );
        let actual = out_of_order.digest().await;
        let missing: Vec<_> = expected.iter().filter(|l| !actual.contains(l)).collect();
        let extra: Vec<_> = actual.iter().filter(|l| !expected.contains(l)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "[{b}] shuffled delivery differs from ordered delivery\nonly in order: {missing:#?}\nonly shuffled: {extra:#?}"
        );
        for h in 0..HISTORIES {
            let id: SubscriptionId = format!("sub_reord_{h:02}")
                .parse()
                .expect("subscription id");
            let sub = out_of_order
                .store
                .subscription(&id)
                .await
                .expect("read subscription")
                .unwrap_or_else(|| panic!("[{b}] {id} missing"));
            assert_eq!(sub.status, "canceled", "[{b}] {id} ends canceled");
        }
    }
}

#[tokio::test]
async fn a_late_update_does_not_revive_a_deleted_subscription() {
    for db in paywarden_testkit::backends().await {
        let app = app_on(db).await;
        let b = app.backend;
        let sub = "sub_late_1";
        let t = now_secs() - 600;
        let created = stripe::subscription(
            "evt_late_1",
            "customer.subscription.created",
            t,
            sub,
            "active",
            1,
        );
        let updated = stripe::subscription(
            "evt_late_2",
            "customer.subscription.updated",
            t + 10,
            sub,
            "active",
            3,
        );
        let deleted = stripe::subscription(
            "evt_late_3",
            "customer.subscription.deleted",
            t + 20,
            sub,
            "canceled",
            1,
        );
        for body in [&created, &deleted] {
            let reply = app.deliver(body).await;
            app.assert_received(&reply, "history");
        }
        let before = app.digest().await;

        // The update Stripe sent before the deletion arrives after it.
        let reply = app.deliver(&updated).await;
        app.assert_received(&reply, "late update");
        assert_eq!(
            app.digest().await,
            before,
            "[{b}] a late update changes nothing"
        );

        // Even an update stamped after the deletion (Stripe sends none) does not revive it.
        let after = stripe::subscription(
            "evt_late_4",
            "customer.subscription.updated",
            t + 30,
            sub,
            "active",
            5,
        );
        let reply = app.deliver(&after).await;
        app.assert_received(&reply, "update after deletion");
        let view = app
            .store
            .subscription(&sub.parse().expect("subscription id"))
            .await
            .expect("read subscription")
            .expect("subscription row");
        assert_eq!(view.status, "canceled", "[{b}] still canceled");
        assert_eq!(
            app.digest().await,
            before,
            "[{b}] an update after deletion changes nothing"
        );
    }
}
