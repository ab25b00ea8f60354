//! A fresh, empty database per test, handed to the binary as a URL. Unlike
//! `paywarden_testkit::TestStore` nothing is migrated up front: the binary
//! under test migrates on its own.

use paywarden_store::{DatabaseUrl, Store, StoreOptions};
use tempfile::TempDir;

/// A database that exists for one test, and a directory for its files
/// (the SQLite file, server logs, the child's working directory).
#[derive(Debug)]
pub struct TestDatabase {
    /// `sqlite` or `postgres`, for messages.
    pub name: &'static str,
    /// The URL the binary is given as `DATABASE_URL`.
    pub url: String,
    pub dir: TempDir,
}

impl TestDatabase {
    /// A SQLite file that does not exist yet.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("paywarden.db").display());
        Self {
            name: "sqlite",
            url,
            dir,
        }
    }

    /// A fresh schema in `TEST_DATABASE_URL`; `None` when that is unset
    /// outside CI (in CI an unset URL fails the test, as in the testkit).
    pub async fn postgres() -> Option<Self> {
        let base = postgres_base_url()?;
        let url = paywarden_testkit::postgres_schema_url(&base).await;
        Some(Self {
            name: "postgres",
            url,
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    /// A store on this database, for checking what the binary wrote.
    pub async fn open(&self) -> Store {
        let url = DatabaseUrl::new(self.url.clone());
        Store::connect(&StoreOptions::new(url))
            .await
            .unwrap_or_else(|e| panic!("{}: open the test database: {e:?}", self.name))
    }
}

/// `TEST_DATABASE_URL`, or `None` (skip) when it is unset outside CI.
pub fn postgres_base_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "TEST_DATABASE_URL must be set in CI: run scripts/test"
            );
            eprintln!("TEST_DATABASE_URL unset: skipping the PostgreSQL half of this test");
            None
        }
    }
}
