//! Operator subcommands. They print results on stdout (JSON where a tool
//! may read them) and errors on stderr.

pub mod catalog;
pub mod events;
pub mod keys;
pub mod ledger;
pub mod seed;
pub mod sim;

use anyhow::Context;
use paywarden_store::Store;

use crate::config::Config;

/// Connects and migrates, as every subcommand needs.
pub async fn open(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database)
        .await
        .with_context(|| format!("connecting to {}", config.database.url))?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open(config).await?;
    store.close().await;
    eprintln!("migrations applied to {}", config.database.url);
    Ok(())
}

/// Writes a line to stdout: the output of an operator command.
#[expect(clippy::print_stdout, reason = "operator commands print their results")]
pub fn output(line: &str) {
    println!("{line}");
}
