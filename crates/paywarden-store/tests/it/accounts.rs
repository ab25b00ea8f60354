//! Accounts: provisioned by a user's first paid Checkout, never twice.

use paywarden_core::UserId;
use paywarden_store::{AccountView, EventStatus, ProjectionReader};
use paywarden_testkit::{backends, TestStore};
use serde_json::{json, Value};

use crate::support::*;

fn user(id: &str) -> UserId {
    id.parse().expect("user id")
}

async fn account(t: &TestStore, user_id: &str) -> Option<AccountView> {
    t.store
        .account(&user(user_id))
        .await
        .unwrap_or_else(|e| panic!("{}: reading account: {e:?}", t.name))
}

fn completed(event: &str, created: i64, session: Value) -> String {
    event_body(event, "checkout.session.completed", created, session)
}

#[tokio::test]
async fn first_paid_checkout_provisions_an_account_with_defaults() {
    for t in backends().await {
        let session = checkout_session(
            "cs_first",
            Some("user_7"),
            "cus_7",
            "subscription",
            "paid",
            Some("sub_7"),
        );
        deliver(&t, &completed("evt_first_paid", 100, session)).await;

        let account = account(&t, "user_7")
            .await
            .unwrap_or_else(|| panic!("{}: no account", t.name));
        assert!(account.id.starts_with("acc_"), "{}: {}", t.name, account.id);
        assert_eq!(account.user_id, "user_7", "{}", t.name);
        assert_eq!(account.status, "provisioning", "{}", t.name);
        assert_eq!(account.locale, "en", "{}", t.name);
        assert_eq!(
            (
                account.quiet_hours_start.as_str(),
                account.quiet_hours_end.as_str()
            ),
            ("22:00", "07:00"),
            "{}",
            t.name
        );
        assert_eq!(account.daily_cap, DAILY_CAP, "{}", t.name);
        assert_eq!(account.events, ["stripe_checkout"], "{}", t.name);

        let billing: Value = serde_json::from_str(&account.billing)
            .unwrap_or_else(|e| panic!("{}: billing is JSON: {e}", t.name));
        assert_eq!(
            billing,
            json!({
                "checkout_session": "cs_first",
                "customer": "cus_7",
                "email": "cus_7@example.com",
                "amount": 1500,
                "currency": "usd",
                "mode": "subscription",
                "subscription": "sub_7",
                "payment_status": "paid",
            }),
            "{}",
            t.name
        );
        let counts = counts(&t).await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (1, 1),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_second_checkout_for_the_same_user_provisions_nothing_more() {
    for t in backends().await {
        let first = checkout_session("cs_a", Some("user_2"), "cus_2", "payment", "paid", None);
        let second = checkout_session("cs_b", Some("user_2"), "cus_2", "payment", "paid", None);
        deliver(&t, &completed("evt_cs_a", 100, first)).await;
        let before = account(&t, "user_2").await.expect("account");
        deliver(&t, &completed("evt_cs_b", 200, second)).await;
        let after = account(&t, "user_2").await.expect("account");

        assert_eq!(after, before, "{}: the first account is kept as is", t.name);
        assert_eq!(after.events, ["stripe_checkout"], "{}", t.name);
        let counts = counts(&t).await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (1, 1),
            "{}",
            t.name
        );
        assert_eq!(
            stored(&t, "evt_cs_b").await.status,
            EventStatus::Processed,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn accounts_are_per_user() {
    for t in backends().await {
        for (n, user) in ["user_a", "user_b", "user_c"].into_iter().enumerate() {
            let session = checkout_session(
                &format!("cs_{n}"),
                Some(user),
                "cus_x",
                "payment",
                "paid",
                None,
            );
            deliver(&t, &completed(&format!("evt_{n}"), 10, session)).await;
        }
        let counts = counts(&t).await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (3, 3),
            "{}",
            t.name
        );
        let a = account(&t, "user_a").await.expect("a");
        let b = account(&t, "user_b").await.expect("b");
        assert_ne!(a.id, b.id, "{}", t.name);
    }
}

#[tokio::test]
async fn unpaid_completion_provisions_nothing() {
    for t in backends().await {
        let session = checkout_session(
            "cs_unpaid",
            Some("user_3"),
            "cus_3",
            "payment",
            "unpaid",
            None,
        );
        deliver(&t, &completed("evt_unpaid", 100, session)).await;
        assert_eq!(account(&t, "user_3").await, None, "{}", t.name);
        let counts = counts(&t).await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (0, 0),
            "{}",
            t.name
        );
        let row = row(&t, "checkout_sessions", "cs_unpaid").await;
        assert_eq!(row[6], "awaiting_payment", "{}: {row:?}", t.name);
    }
}

#[tokio::test]
async fn async_payment_success_provisions_after_an_unpaid_completion() {
    for t in backends().await {
        let session = checkout_session(
            "cs_async",
            Some("user_4"),
            "cus_4",
            "payment",
            "unpaid",
            None,
        );
        deliver(&t, &completed("evt_async_1", 100, session.clone())).await;
        let succeeded = event_body(
            "evt_async_2",
            "checkout.session.async_payment_succeeded",
            200,
            session,
        );
        deliver(&t, &succeeded).await;
        let account = account(&t, "user_4")
            .await
            .unwrap_or_else(|| panic!("{}: no account", t.name));
        assert_eq!(account.events, ["stripe_checkout"], "{}", t.name);
        let row = row(&t, "checkout_sessions", "cs_async").await;
        assert_eq!(row[6], "paid", "{}: {row:?}", t.name);
    }
}

#[tokio::test]
async fn paid_checkout_without_a_user_provisions_nothing() {
    for t in backends().await {
        let session = checkout_session("cs_anon", None, "cus_anon", "payment", "paid", None);
        deliver(&t, &completed("evt_anon", 100, session)).await;
        let counts = counts(&t).await;
        assert_eq!(
            (counts.accounts, counts.account_events),
            (0, 0),
            "{}",
            t.name
        );
        assert_eq!(
            stored(&t, "evt_anon").await.status,
            EventStatus::Processed,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn paid_checkout_links_the_customer_to_the_user() {
    for t in backends().await {
        let session = checkout_session("cs_link", Some("user_9"), "cus_9", "payment", "paid", None);
        deliver(&t, &completed("evt_link", 100, session)).await;
        // customers: id, user_id, email, name, deleted
        assert_eq!(
            row(&t, "customers", "cus_9").await,
            ["cus_9", "user_9", "∅", "∅", "0"],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn paid_subscription_checkout_activates_the_subscription_for_the_user() {
    for t in backends().await {
        let session = checkout_session(
            "cs_sub",
            Some("user_5"),
            "cus_5",
            "subscription",
            "paid",
            Some("sub_5"),
        );
        deliver(&t, &completed("evt_sub_checkout", 100, session)).await;
        let sub = t
            .store
            .subscription(&"sub_5".parse().expect("id"))
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{}: no subscription row", t.name));
        assert_eq!(sub.status, "active", "{}", t.name);
        assert_eq!(sub.user_id.as_deref(), Some("user_5"), "{}", t.name);
        assert_eq!(sub.customer_id.as_deref(), Some("cus_5"), "{}", t.name);
    }
}
