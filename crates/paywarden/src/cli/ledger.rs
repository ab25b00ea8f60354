//! `paywarden ledger verify`: checks that every wallet's balance equals the
//! sum of its ledger entries (and its hold the sum of its live holds).
//! Prints the report as JSON; exits non-zero when anything does not add up.

use anyhow::bail;
use clap::Subcommand;
use paywarden_app::credits::Credits;
use serde_json::json;

use super::{open, output};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every wallet against its entries and holds.
    Verify,
}

pub async fn run(config: &Config, command: LedgerCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        LedgerCommand::Verify => {
            let report = Credits::new(store.clone()).verify().await?;
            store.close().await;
            output(
                &json!({
                    "consistent": report.is_consistent(),
                    "wallets": report.wallets,
                    "entries": report.entries,
                    "mismatches": report.mismatches,
                })
                .to_string(),
            );
            if !report.is_consistent() {
                bail!(
                    "{} wallet(s) do not add up to their ledger",
                    report.mismatches.len()
                );
            }
        }
    }
    Ok(())
}
