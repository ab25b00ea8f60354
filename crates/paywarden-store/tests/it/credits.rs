//! Credits: requests under idempotency keys, holds, the checks the
//! database itself enforces, and `verify` after every case.

use std::sync::Arc;

use paywarden_core::credits::{CreditAmount, IdempotencyKey};
use paywarden_core::UserId;
use paywarden_store::{
    now_ms, CreditLedger, CreditOp, CreditOutcome, CreditReceipt, HoldStatus, Idempotent,
};
use paywarden_testkit::{backends, TestStore};

fn user(name: &str) -> UserId {
    name.parse().expect("test user id")
}

fn credits(n: i64) -> CreditAmount {
    CreditAmount::new(n).expect("test amount")
}

fn debit(n: i64) -> CreditOp {
    CreditOp::Debit {
        amount: credits(n),
        description: format!("debit {n}"),
    }
}

fn grant(n: i64) -> CreditOp {
    CreditOp::Grant {
        amount: credits(n),
        description: format!("grant {n}"),
    }
}

/// Sends `op` under `key`, the fingerprint standing for the request body.
async fn send(
    t: &TestStore,
    who: &UserId,
    op: &CreditOp,
    key: &str,
    fingerprint: &str,
) -> CreditOutcome {
    let key = IdempotencyKey::parse(key).expect("test key");
    let scope = format!("test:{who}");
    t.store
        .apply_credit_op(
            who,
            op,
            Idempotent {
                scope: &scope,
                key: &key,
                fingerprint,
            },
            now_ms(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {op:?}: {e:?}", t.name))
}

fn applied(outcome: CreditOutcome, what: &str) -> CreditReceipt {
    match outcome {
        CreditOutcome::Applied(receipt) => receipt,
        other => panic!("{what}: expected applied, got {other:?}"),
    }
}

async fn assert_verified(t: &TestStore) {
    let report = t.store.verify_ledger().await.expect("verify");
    assert!(
        report.is_consistent(),
        "{}: ledger verify: {:?}",
        t.name,
        report.mismatches
    );
}

#[tokio::test]
async fn a_debit_moves_credits_once_per_key_and_never_below_zero() {
    for t in backends().await {
        let ana = user("ana");
        applied(send(&t, &ana, &grant(100), "g1", "g100").await, "grant");
        let first = applied(send(&t, &ana, &debit(30), "d1", "d30").await, "debit");
        assert_eq!(first.wallet.balance, 70, "{}", t.name);
        let entry = first.entry.clone().expect("an entry");
        assert_eq!((entry.amount, entry.balance_after), (-30, 70), "{}", t.name);

        // The same key and request: the first answer, nothing moves.
        let again = send(&t, &ana, &debit(30), "d1", "d30").await;
        assert_eq!(again, CreditOutcome::Replayed(first.clone()), "{}", t.name);
        // The same key, another request: refused, nothing moves.
        assert_eq!(
            send(&t, &ana, &debit(31), "d1", "d31").await,
            CreditOutcome::KeyReused,
            "{}",
            t.name
        );
        // More than available: refused, nothing moves, and the key stays free.
        assert_eq!(
            send(&t, &ana, &debit(71), "d2", "d71").await,
            CreditOutcome::Insufficient { available: 70 },
            "{}",
            t.name
        );
        let exact = applied(send(&t, &ana, &debit(70), "d2", "d70").await, "debit 70");
        assert_eq!(exact.wallet.balance, 0, "{}", t.name);

        let (wallet, _) = t.store.wallet(&ana, now_ms()).await.expect("wallet");
        assert_eq!((wallet.balance, wallet.available), (0, 0), "{}", t.name);
        let page = t.store.ledger_page(&ana, None, 10).await.expect("ledger");
        let amounts: Vec<i64> = page.entries.iter().map(|e| e.amount).collect();
        assert_eq!(amounts, [-70, -30, 100], "{}: newest first", t.name);
        assert_verified(&t).await;
    }
}

#[tokio::test]
async fn holds_reserve_credits_until_settled_released_or_expired() {
    for t in backends().await {
        let bo = user("bo");
        applied(send(&t, &bo, &grant(100), "g", "g").await, "grant");
        let far = now_ms() / 1000 + 600;
        let hold = |n: i64, expires_at: i64| CreditOp::Hold {
            amount: credits(n),
            description: format!("job {n}"),
            expires_at,
        };
        let held = applied(send(&t, &bo, &hold(60, far), "h1", "h60").await, "hold");
        let h1 = held.hold.clone().expect("a hold");
        assert_eq!(
            (held.wallet.balance, held.wallet.held, held.wallet.available),
            (100, 60, 40),
            "{}",
            t.name
        );
        assert!(
            held.entry.is_none(),
            "{}: a hold is not a ledger entry",
            t.name
        );
        // The held credits cannot be debited.
        assert_eq!(
            send(&t, &bo, &debit(41), "d", "d41").await,
            CreditOutcome::Insufficient { available: 40 },
            "{}",
            t.name
        );
        // Settling more than the hold is refused; settling less gives the rest back.
        let settle = |n: Option<i64>| CreditOp::Settle {
            hold: h1.id,
            amount: n.map(credits),
        };
        assert_eq!(
            send(&t, &bo, &settle(Some(61)), "s0", "s61").await,
            CreditOutcome::SettleExceedsHold { held: 60 },
            "{}",
            t.name
        );
        let settled = applied(
            send(&t, &bo, &settle(Some(45)), "s1", "s45").await,
            "settle",
        );
        assert_eq!(
            (settled.wallet.balance, settled.wallet.held),
            (55, 0),
            "{}",
            t.name
        );
        assert_eq!(
            settled.hold.as_ref().map(|h| (h.status, h.settled)),
            Some((HoldStatus::Settled, Some(45))),
            "{}",
            t.name
        );
        // A closed hold cannot be settled or released again.
        assert_eq!(
            send(&t, &bo, &CreditOp::Release { hold: h1.id }, "r1", "r").await,
            CreditOutcome::HoldClosed(HoldStatus::Settled),
            "{}",
            t.name
        );

        // Released: all back.
        let h2 = applied(send(&t, &bo, &hold(50, far), "h2", "h50").await, "hold 2")
            .hold
            .expect("hold 2");
        let released = applied(
            send(&t, &bo, &CreditOp::Release { hold: h2.id }, "r2", "r").await,
            "release",
        );
        assert_eq!(
            (released.wallet.balance, released.wallet.available),
            (55, 55),
            "{}",
            t.name
        );

        // Expired: gone from the hold at once, and closed at the next request.
        let past = now_ms() / 1000 - 1;
        let h3 = applied(send(&t, &bo, &hold(55, past), "h3", "h55").await, "hold 3")
            .hold
            .expect("hold 3");
        let (wallet, holds) = t.store.wallet(&bo, now_ms()).await.expect("wallet");
        assert_eq!((wallet.held, holds.len()), (0, 0), "{}", t.name);
        assert_eq!(
            send(
                &t,
                &bo,
                &CreditOp::Settle {
                    hold: h3.id,
                    amount: None
                },
                "s3",
                "s"
            )
            .await,
            CreditOutcome::HoldClosed(HoldStatus::Expired),
            "{}",
            t.name
        );
        applied(
            send(&t, &bo, &debit(55), "d55", "d55").await,
            "debit after expiry",
        );
        // Someone else's hold does not exist for this user.
        assert_eq!(
            send(
                &t,
                &user("eve"),
                &CreditOp::Release { hold: h2.id },
                "x",
                "x"
            )
            .await,
            CreditOutcome::HoldNotFound,
            "{}",
            t.name
        );
        assert_verified(&t).await;
    }
}

#[tokio::test]
async fn concurrent_debits_never_spend_more_than_the_balance() {
    for t in backends().await {
        let cy = user("cy");
        applied(send(&t, &cy, &grant(1000), "g", "g").await, "grant");
        let t = Arc::new(t);
        let mut tasks = Vec::new();
        for i in 0..50 {
            let t = Arc::clone(&t);
            let cy = cy.clone();
            tasks.push(tokio::spawn(async move {
                // 50 × 37 = 1850 asked of 1000.
                send(&t, &cy, &debit(37), &format!("race-{i}"), "d37").await
            }));
        }
        let mut spent = 0;
        for task in tasks {
            match task.await.expect("task") {
                CreditOutcome::Applied(r) => {
                    assert!(r.wallet.balance >= 0, "{}", t.name);
                    spent += 37;
                }
                CreditOutcome::Insufficient { available } => {
                    assert!(available < 37, "{}: refused with {available} left", t.name)
                }
                other => panic!("{}: {other:?}", t.name),
            }
        }
        let (wallet, _) = t.store.wallet(&cy, now_ms()).await.expect("wallet");
        assert!(spent <= 1000, "{}: spent {spent}", t.name);
        assert_eq!(wallet.balance, 1000 - spent, "{}", t.name);
        assert_eq!(
            spent,
            27 * 37,
            "{}: every debit that fit went through",
            t.name
        );
        assert_verified(&t).await;
    }
}

#[tokio::test]
async fn one_key_sent_concurrently_has_one_effect() {
    for t in backends().await {
        let di = user("di");
        applied(send(&t, &di, &grant(500), "g", "g").await, "grant");
        let t = Arc::new(t);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let t = Arc::clone(&t);
            let di = di.clone();
            tasks.push(tokio::spawn(async move {
                send(&t, &di, &debit(10), "same-key", "d10").await
            }));
        }
        let mut receipts = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                CreditOutcome::Applied(r) | CreditOutcome::Replayed(r) => receipts.push(r),
                other => panic!("{}: {other:?}", t.name),
            }
        }
        assert!(
            receipts.windows(2).all(|w| w[0] == w[1]),
            "{}: every answer is the first one",
            t.name
        );
        let (wallet, _) = t.store.wallet(&di, now_ms()).await.expect("wallet");
        assert_eq!(wallet.balance, 490, "{}: one debit", t.name);
        assert_verified(&t).await;
    }
}

#[tokio::test]
async fn the_database_refuses_to_change_the_ledger_or_overdraw_a_wallet() {
    for t in backends().await {
        let ed = user("ed");
        applied(send(&t, &ed, &grant(10), "g", "g").await, "grant");
        let pool = crate::support::raw(&t).await;
        for sql in [
            "UPDATE credit_ledger SET amount = 1000",
            "DELETE FROM credit_ledger",
            "UPDATE credit_wallets SET balance = -1",
            "UPDATE credit_wallets SET held = 11",
        ] {
            let result = sqlx::query(sql).execute(&pool).await;
            assert!(result.is_err(), "{}: `{sql}` was allowed", t.name);
        }
        if t.name == "postgres" {
            let truncate = sqlx::query("TRUNCATE credit_ledger").execute(&pool).await;
            assert!(truncate.is_err(), "postgres: TRUNCATE was allowed");
        }
        let (wallet, _) = t.store.wallet(&ed, now_ms()).await.expect("wallet");
        assert_eq!(wallet.balance, 10, "{}", t.name);
        assert_verified(&t).await;

        // A wallet changed behind the ledger's back is reported.
        sqlx::query("UPDATE credit_wallets SET balance = 7")
            .execute(&pool)
            .await
            .expect("a raw wallet update");
        let report = t.store.verify_ledger().await.expect("verify");
        assert_eq!(report.mismatches.len(), 1, "{}: {report:?}", t.name);
        assert_eq!(report.mismatches[0].user_id, "ed", "{}", t.name);
        pool.close().await;
    }
}

#[tokio::test]
async fn the_ledger_pages_newest_first_with_a_cursor() {
    for t in backends().await {
        let fay = user("fay");
        for i in 1..=5 {
            applied(
                send(&t, &fay, &grant(i), &format!("g{i}"), &format!("g{i}")).await,
                "grant",
            );
        }
        let first = t.store.ledger_page(&fay, None, 2).await.expect("page 1");
        let second = t
            .store
            .ledger_page(&fay, first.next_cursor.as_deref(), 2)
            .await
            .expect("page 2");
        let third = t
            .store
            .ledger_page(&fay, second.next_cursor.as_deref(), 2)
            .await
            .expect("page 3");
        let amounts: Vec<i64> = [&first, &second, &third]
            .iter()
            .flat_map(|p| p.entries.iter().map(|e| e.amount))
            .collect();
        assert_eq!(amounts, [5, 4, 3, 2, 1], "{}", t.name);
        assert!(third.next_cursor.is_none(), "{}", t.name);
        assert!(
            t.store.ledger_page(&fay, Some("nope"), 2).await.is_err(),
            "{}: a forged cursor",
            t.name
        );
        let other = t
            .store
            .ledger_page(&user("gus"), None, 10)
            .await
            .expect("gus");
        assert!(other.entries.is_empty(), "{}", t.name);
    }
}
