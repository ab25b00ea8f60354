//! `paywarden catalog show|sync`: the catalog as paywarden read it, and
//! putting it into Stripe.

use anyhow::bail;
use clap::Subcommand;
use paywarden_app::billing::plans_of;
use paywarden_app::billing::sync::sync_catalog;
use serde_json::json;

use super::output;
use crate::config::Config;
use crate::stripe::StripeSetup;

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Print the catalog's plans and prices as JSON (what `GET /api/plans` serves).
    Show,
    /// Create or update the catalog's products and prices in Stripe, by lookup key.
    Sync {
        /// Say what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(config: &Config, command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Show => {
            eprintln!("catalog from {}", config.catalog_source);
            output(&serde_json::to_string_pretty(
                &json!({ "data": plans_of(&config.catalog) }),
            )?);
            Ok(())
        }
        CatalogCommand::Sync { dry_run } => {
            let StripeSetup::Remote(target) = &config.stripe else {
                bail!(
                    "no STRIPE_SECRET_KEY: `serve` puts the catalog into its embedded stand-in by \
                     itself at start-up. To sync a Stripe account set STRIPE_SECRET_KEY; to sync a \
                     standalone stand-in (`paywarden sim`) set STRIPE_SECRET_KEY=sk_test_… and \
                     STRIPE_API_BASE to its address"
                );
            };
            eprintln!(
                "syncing {} to Stripe at {}{}",
                config.catalog_source,
                target.v1(),
                if dry_run {
                    " (dry run: nothing is changed)"
                } else {
                    ""
                }
            );
            let report = sync_catalog(&target.client()?, &config.catalog, dry_run)
                .await
                .map_err(|e| anyhow::anyhow!("syncing the catalog: {e}"))?;
            for line in &report.lines {
                output(line);
            }
            output(&format!(
                "{} products created, {} updated; {} prices created, {} updated, {} replaced; {} unchanged",
                report.products_created,
                report.products_updated,
                report.prices_created,
                report.prices_updated,
                report.prices_replaced,
                report.unchanged
            ));
            Ok(())
        }
    }
}
