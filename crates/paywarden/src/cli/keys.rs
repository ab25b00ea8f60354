//! `paywarden keys create|list|revoke`.

use clap::Subcommand;
use paywarden_app::keys;
use paywarden_store::ApiKeyRole;
use serde_json::json;

use super::{open, output};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key. The key is printed once and cannot be shown again.
    Create {
        /// `admin` (everything) or `server` (the product backend).
        #[arg(long, value_parser = parse_role)]
        role: ApiKeyRole,
        /// A name to recognise the key by.
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by its id (`key_…`).
    Revoke { id: String },
}

fn parse_role(text: &str) -> Result<ApiKeyRole, String> {
    text.parse()
}

pub async fn run(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        KeysCommand::Create { role, name } => {
            let created = keys::create(&store, &name, role).await?;
            eprintln!("Store this key now: it is shown only once.");
            output(&json!({ "id": created.key.id, "role": role.as_str(), "name": created.key.name, "key": created.reveal() }).to_string());
        }
        KeysCommand::List => {
            for key in keys::list(&store).await? {
                output(
                    &json!({
                        "id": key.id, "role": key.role.as_str(), "name": key.name, "hint": key.key_hint,
                        "created_at": key.created_at, "revoked_at": key.revoked_at,
                    })
                    .to_string(),
                );
            }
        }
        KeysCommand::Revoke { id } => {
            keys::revoke(&store, &id).await?;
            eprintln!("revoked {id}");
        }
    }
    store.close().await;
    Ok(())
}
