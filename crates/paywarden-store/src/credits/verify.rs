//! `ledger verify`: every wallet's balance is the sum of its entries, its
//! hold the sum of its live holds, and each entry's `balance_after` the
//! running sum up to it.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::error::StoreError;

/// What the check found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LedgerReport {
    pub wallets: u64,
    pub entries: u64,
    pub mismatches: Vec<LedgerMismatch>,
}

impl LedgerReport {
    pub fn is_consistent(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// One wallet that does not add up.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerMismatch {
    pub user_id: String,
    pub problem: String,
}

#[derive(Default)]
struct Sums {
    balance: Option<i64>,
    held: i64,
    entries: i64,
    live_holds: i64,
}

pub(super) async fn verify(conn: &mut AnyConnection) -> Result<LedgerReport, StoreError> {
    let mut users: BTreeMap<String, Sums> = BTreeMap::new();
    let mut report = LedgerReport::default();
    for row in sqlx::query("SELECT user_id, balance, held FROM credit_wallets")
        .fetch_all(&mut *conn)
        .await?
    {
        let sums = users.entry(row.try_get("user_id")?).or_default();
        sums.balance = Some(row.try_get("balance")?);
        sums.held = row.try_get("held")?;
        report.wallets += 1;
    }
    let entries = sqlx::query(
        "SELECT user_id, amount, balance_after, id FROM credit_ledger ORDER BY user_id, seq",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut chain_broken: BTreeMap<String, String> = BTreeMap::new();
    for row in &entries {
        let user: String = row.try_get("user_id")?;
        let amount: i64 = row.try_get("amount")?;
        let after: i64 = row.try_get("balance_after")?;
        let sums = users.entry(user.clone()).or_default();
        sums.entries += amount;
        if sums.entries != after && !chain_broken.contains_key(&user) {
            let id: String = row.try_get("id")?;
            chain_broken.insert(
                user,
                format!(
                    "entry {id} says the balance after it is {after}, its running sum is {}",
                    sums.entries
                ),
            );
        }
        report.entries += 1;
    }
    for row in sqlx::query(
        "SELECT user_id, CAST(SUM(amount) AS BIGINT) AS held FROM credit_holds \
         WHERE status = 'active' GROUP BY user_id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        users.entry(row.try_get("user_id")?).or_default().live_holds = row.try_get("held")?;
    }
    for (user, sums) in users {
        let mut problems = Vec::new();
        match sums.balance {
            None => problems.push(format!(
                "ledger entries sum to {} but there is no wallet",
                sums.entries
            )),
            Some(balance) if balance != sums.entries => problems.push(format!(
                "balance {balance} but its entries sum to {}",
                sums.entries
            )),
            Some(balance) if balance < 0 => problems.push(format!("balance {balance} < 0")),
            Some(_) => {}
        }
        if sums.held != sums.live_holds {
            problems.push(format!(
                "held {} but its active holds sum to {}",
                sums.held, sums.live_holds
            ));
        }
        if let Some(chain) = chain_broken.remove(&user) {
            problems.push(chain);
        }
        for problem in problems {
            report.mismatches.push(LedgerMismatch {
                user_id: user.clone(),
                problem,
            });
        }
    }
    Ok(report)
}
