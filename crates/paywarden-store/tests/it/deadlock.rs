//! Two transactions that lock the same rows in opposite orders: PostgreSQL
//! aborts one of them, and the store must call that `Transient` (run it
//! again), not a failure of the event. SQLite has a single writer and
//! cannot deadlock.

use paywarden_core::precedence::Precedence;
use paywarden_core::projection::{Change, CustomerRecord};
use paywarden_store::{now_ms, ApplyContext, ProjectionWriter, StoreError};
use paywarden_testkit::TestStore;

fn customer(id: &str, event: &str) -> Vec<Change> {
    vec![Change::Customer(CustomerRecord {
        id: id.parse().expect("customer id"),
        email: None,
        name: Some(event.to_owned()),
        user_id: None,
        deleted: false,
        precedence: Precedence {
            terminal: false,
            created: 10,
            rank: 0,
            event_id: event.parse().expect("event id"),
        },
    })]
}

#[tokio::test]
async fn a_deadlock_is_transient() {
    let Some(t) = TestStore::postgres().await else {
        return;
    };
    let ctx = ApplyContext {
        default_daily_cap: 1,
        now: now_ms(),
        catalog: None,
    };
    // Both rows exist, so the upserts below take row locks.
    for (id, event) in [("cus_a", "evt_seed_a"), ("cus_b", "evt_seed_b")] {
        let mut tx = t.store.begin().await.expect("begin");
        tx.apply_changes(&customer(id, event), &ctx)
            .await
            .expect("seed");
        tx.commit().await.expect("commit");
    }
    let mut first = t.store.begin().await.expect("begin");
    let mut second = t.store.begin().await.expect("begin");
    first
        .apply_changes_unguarded(&customer("cus_a", "evt_1a"), &ctx)
        .await
        .expect("first locks a");
    second
        .apply_changes_unguarded(&customer("cus_b", "evt_2b"), &ctx)
        .await
        .expect("second locks b");
    let (first_b, second_a) = (customer("cus_b", "evt_1b"), customer("cus_a", "evt_2a"));
    let (one, two) = tokio::join!(
        first.apply_changes_unguarded(&first_b, &ctx),
        second.apply_changes_unguarded(&second_a, &ctx),
    );
    let errors: Vec<StoreError> = [one, two].into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1, "exactly one side is aborted: {errors:?}");
    assert!(errors[0].is_transient(), "{:?}", errors[0]);
    assert!(!errors[0].is_unavailable(), "{:?}", errors[0]);
}
