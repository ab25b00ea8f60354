//! What differs between the two backends: connecting, beginning a write
//! transaction, and locking a row. Everything else is shared SQL.

mod postgres;
mod sqlite;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::error::StoreError;
use crate::store::StoreOptions;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The pools a store uses: writes go through `write`, reads through `read`.
/// They are the same pool on PostgreSQL; SQLite has a single writer.
pub(crate) struct Pools {
    pub read: AnyPool,
    pub write: AnyPool,
}

impl Backend {
    /// The backend a URL names, by scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::UnsupportedUrl(format!("scheme `{scheme}`")))
        }
    }

    /// The backend a connection talks to.
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Self::Sqlite
        } else {
            Self::Postgres
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    pub(crate) async fn connect(
        self,
        url: &str,
        options: &StoreOptions,
    ) -> Result<Pools, StoreError> {
        sqlx::any::install_default_drivers();
        match self {
            Self::Sqlite => sqlite::connect(url, options).await,
            Self::Postgres => postgres::connect(url, options).await,
        }
    }

    /// The statement that opens a write transaction.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            // Take the write lock up front: a deferred transaction that later
            // upgrades can fail with SQLITE_BUSY instead of waiting.
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// Suffix that locks the selected rows until commit. SQLite needs none:
    /// its write transaction already excludes other writers.
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    /// Suffix that makes a row-picking subquery skip rows another
    /// transaction has locked (PostgreSQL); SQLite has one writer.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    pub(crate) fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Self::Sqlite => &sqlite::MIGRATOR,
            Self::Postgres => &postgres::MIGRATOR,
        }
    }
}

/// Pool settings. `test_before_acquire` pings a connection before handing
/// it out, so a connection broken by a database restart is replaced rather
/// than failing a request; worth a round trip over a network, not for a
/// local file.
pub(crate) fn pool_options(
    max_connections: u32,
    acquire_timeout: Duration,
    test_before_acquire: bool,
) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(test_before_acquire)
}
