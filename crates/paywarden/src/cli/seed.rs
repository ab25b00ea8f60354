//! `paywarden seed demo`: the sample courses the embedded default starts
//! with, into any database; `--courses FILE` seeds a courses file of the
//! same shape instead (see `paywarden_app::seed`). Seeding twice adds
//! nothing.

use anyhow::Context;
use clap::Subcommand;
use paywarden_app::seed::{seed_courses, DEMO_COURSES};
use serde_json::json;

use super::{open, output};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// Add the demo courses (or the courses of a file).
    Demo {
        /// A TOML file of `[courses.<key>]` tables to seed instead.
        #[arg(long, value_name = "FILE")]
        courses: Option<std::path::PathBuf>,
    },
}

pub async fn run(config: &Config, command: SeedCommand) -> anyhow::Result<()> {
    let SeedCommand::Demo { courses } = command;
    let text = match &courses {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => DEMO_COURSES.to_owned(),
    };
    let store = open(config).await?;
    let added = seed_courses(&store, &text).await;
    store.close().await;
    let added = added?;
    output(&json!({ "courses_added": added }).to_string());
    Ok(())
}
