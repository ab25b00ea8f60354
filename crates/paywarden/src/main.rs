//! The paywarden binary: one process, several subcommands.
//!
//! `serve` runs the HTTP service and its background workers; `migrate`
//! applies database migrations; `keys` and `events` are operator tools that
//! talk to the same database; `catalog` shows the catalog and syncs it to
//! Stripe; `sim` serves the Stripe stand-in alone.

mod auth_config;
mod cli;
mod config;
mod logging;
mod serve;
mod sim;
mod stripe;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// mimalloc instead of the system allocator: a request allocates and frees
/// dozens of small buffers, and glibc's malloc and free were among the
/// largest user-space costs in the entitlement check's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// paywarden: billing and entitlements between your product and Stripe.
#[derive(Debug, Parser)]
#[command(name = "paywarden", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (migrates the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage operator API keys.
    #[command(subcommand)]
    Keys(cli::keys::KeysCommand),
    /// Inspect and retry stored Stripe events.
    #[command(subcommand)]
    Events(cli::events::EventsCommand),
    /// Check the credits ledger.
    #[command(subcommand)]
    Ledger(cli::ledger::LedgerCommand),
    /// Add sample data (the demo courses).
    #[command(subcommand)]
    Seed(cli::seed::SeedCommand),
    /// Show the catalog, or put it into Stripe.
    #[command(subcommand)]
    Catalog(cli::catalog::CatalogCommand),
    /// Serve the Stripe stand-in alone (no database needed).
    Sim(cli::sim::SimArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("paywarden: configuration error: {err:#}");
            return std::process::ExitCode::from(2);
        }
    };
    logging::init(
        &config,
        matches!(args.command, Command::Serve | Command::Sim(_)),
    );
    let result = match args.command {
        Command::Serve => serve::run(config).await,
        Command::Migrate => cli::migrate(&config).await,
        Command::Keys(command) => cli::keys::run(&config, command).await,
        Command::Events(command) => cli::events::run(&config, command).await,
        Command::Catalog(command) => cli::catalog::run(&config, command).await,
        Command::Ledger(command) => cli::ledger::run(&config, command).await,
        Command::Seed(command) => cli::seed::run(&config, command).await,
        Command::Sim(args) => cli::sim::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("paywarden: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
