//! Test support shared by paywarden's crates.
//!
//! Every test owns its data: [`TestStore::sqlite`] makes a fresh SQLite
//! file in a temporary directory; [`TestStore::postgres`] makes a fresh
//! schema in the database named by `TEST_DATABASE_URL` (the test script
//! creates that database anew for each run). [`backends`] yields one store
//! per backend so a case runs against both.
#![forbid(unsafe_code)]

pub mod chaos_proxy;
pub mod stripe_proxy;

use std::fmt;

use paywarden_core::signature::{header_for, WebhookSecret};
use paywarden_store::{DatabaseUrl, Store, StoreOptions};
use tempfile::TempDir;

/// A migrated store that exists for one test.
pub struct TestStore {
    pub store: Store,
    /// The URL the store was opened with (reopen it to simulate a restart).
    pub url: DatabaseUrl,
    /// Which backend, for messages.
    pub name: &'static str,
    _dir: Option<TempDir>,
}

impl fmt::Debug for TestStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TestStore({})", self.name)
    }
}

impl TestStore {
    /// A fresh SQLite database file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("test.db").display()));
        let store = open(&url).await;
        Self {
            store,
            url,
            name: "sqlite",
            _dir: Some(dir),
        }
    }

    /// A fresh schema in `TEST_DATABASE_URL`, or `None` when it is unset
    /// outside CI. In CI (`CI` set) an unset URL is an error: both backends
    /// must run.
    pub async fn postgres() -> Option<Self> {
        let base = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "TEST_DATABASE_URL must be set in CI: run scripts/test"
                );
                eprintln!("TEST_DATABASE_URL unset: skipping the PostgreSQL half of this test");
                return None;
            }
        };
        let url = DatabaseUrl::new(postgres_schema_url(&base).await);
        let store = open(&url).await;
        Some(Self {
            store,
            url,
            name: "postgres",
            _dir: None,
        })
    }
}

/// Creates a fresh schema and returns a URL whose connections use it.
pub async fn postgres_schema_url(base: &str) -> String {
    use sqlx::Connection;
    let schema = format!("t_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let _ = conn.close().await;
    let mut url = url::Url::parse(base).expect("TEST_DATABASE_URL is a URL");
    url.query_pairs_mut()
        .append_pair("options", &format!("-c search_path={schema}"));
    url.to_string()
}

async fn open(url: &DatabaseUrl) -> Store {
    let store = Store::connect(&StoreOptions::new(url.clone()))
        .await
        .expect("connect test store");
    store.migrate().await.expect("migrate test store");
    store
}

/// One fresh store per available backend: SQLite always, PostgreSQL when
/// `TEST_DATABASE_URL` is set.
pub async fn backends() -> Vec<TestStore> {
    let mut stores = vec![TestStore::sqlite().await];
    stores.extend(TestStore::postgres().await);
    stores
}

/// The webhook secret tests sign with.
pub const TEST_WEBHOOK_SECRET: &str = "whsec_test_paywarden";

/// A `Stripe-Signature` header for `body`, signed now with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let secret = WebhookSecret::new(secret).expect("non-blank secret");
    header_for(&[secret], now_secs(), body)
}

/// Unix seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The shared Stripe fixtures folder (`../shared/stripe/fixtures/events`).
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/stripe/fixtures/events")
}

/// Every fixture file, sorted by path, with its bytes.
pub fn fixtures() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(fixtures_dir()).expect("shared fixtures beside the repo") {
        let dir = dir.expect("dir entry").path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = file.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read(&path).expect("fixture readable");
                files.push((path, body));
            }
        }
    }
    files.sort();
    files
}
