//! `paywarden events list|show|retry`: the admin events API, from a shell.

use clap::Subcommand;
use paywarden_app::retry::RetryOutcome;
use paywarden_app::{events, ProjectionSettings};
use paywarden_http::event_json;
use serde_json::json;

use super::{open, output};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List events, newest first, one JSON object per line.
    List {
        /// Only events of this type (e.g. `invoice.paid`).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// `processed`, `ignored` or `failed`.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// The `next_cursor` printed by a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one event with its payload.
    Show { id: String },
    /// Re-apply a failed event now.
    Retry { id: String },
}

pub async fn run(config: &Config, command: EventsCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        EventsCommand::List {
            event_type,
            status,
            limit,
            cursor,
        } => {
            let page =
                events::list(&store, event_type, status.as_deref(), Some(limit), cursor).await?;
            for event in &page.events {
                output(&event_json(event, false).to_string());
            }
            if let Some(cursor) = page.next_cursor {
                eprintln!("more: --cursor {cursor}");
            }
        }
        EventsCommand::Show { id } => {
            let id = events::parse_id(&id)?;
            let event = events::show(&store, &id).await?;
            output(&serde_json::to_string_pretty(&event_json(&event, true))?);
        }
        EventsCommand::Retry { id } => {
            let id = events::parse_id(&id)?;
            let (outcome, event) = events::retry(
                &store,
                &id,
                &ProjectionSettings::new(config.default_daily_cap)
                    .with_catalog(config.catalog.clone()),
            )
            .await?;
            let result = match &outcome {
                RetryOutcome::Processed => "processed",
                RetryOutcome::StillFailing(_) => "failed",
                RetryOutcome::NotFailed => "not_failed",
            };
            output(&json!({ "result": result, "event": event_json(&event, false) }).to_string());
        }
    }
    store.close().await;
    Ok(())
}
