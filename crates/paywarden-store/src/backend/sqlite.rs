//! SQLite: the embedded default. One file in WAL mode, one writer
//! connection (SQLite admits one writer at a time; queuing in the pool is
//! fairer and cheaper than SQLite's busy-wait), several readers.
//!
//! `synchronous = NORMAL` in WAL mode keeps every committed transaction
//! across a process crash (`kill -9`); only a power loss or OS crash can
//! lose the last commits. `foreign_keys` is on for every connection.

use sqlx::Executor;

use super::{pool_options, Pools};
use crate::error::StoreError;
use crate::store::StoreOptions;

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const PRAGMAS: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

pub(super) async fn connect(url: &str, options: &StoreOptions) -> Result<Pools, StoreError> {
    let url = with_create_mode(url);
    let write = pool_options(1, options.acquire_timeout, false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL;").await?;
                conn.execute(PRAGMAS).await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    let read = pool_options(
        options.max_connections.max(2),
        options.acquire_timeout,
        false,
    )
    .after_connect(|conn, _| {
        Box::pin(async move {
            conn.execute(PRAGMAS).await?;
            Ok(())
        })
    })
    .connect(&url)
    .await?;
    Ok(Pools { read, write })
}

/// Creates the database file when missing unless the URL says otherwise.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::with_create_mode;

    #[test]
    fn files_are_created_unless_a_mode_is_given() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }
}
