//! The store handle and its transactions.

use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use sqlx::{Any, AnyPool, Transaction};

use crate::backend::{Backend, Pools};
use crate::entitlements::EntitlementsRow;
use crate::error::StoreError;
use crate::listener::CommitListener;

/// A database URL. It may hold a password, so `Debug` and `Display` mask it.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The full URL, for the one call that connects.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        match url::Url::parse(url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                // Setting a password only fails for URLs that cannot have one.
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(_) => url.to_owned(),
            Err(_) => "<unparseable database url>".to_owned(),
        }
    }

    pub fn backend(&self) -> Result<Backend, StoreError> {
        Backend::from_url(self.expose())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: DatabaseUrl,
    /// Connections in the pool (readers, on SQLite).
    pub max_connections: u32,
    /// How long a request waits for a connection before the store reports
    /// itself unavailable.
    pub acquire_timeout: Duration,
}

impl StoreOptions {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// A connected store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) listener: Option<Arc<dyn CommitListener>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to the database the URL names. Does not migrate.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let backend = options.url.backend()?;
        let Pools { read, write } = backend.connect(options.url.expose(), options).await?;
        Ok(Self {
            read,
            write,
            backend,
            listener: None,
        })
    }

    /// This store, telling `listener` what every committed transaction
    /// changed (clones made after this call share it).
    pub fn with_listener(mut self, listener: Arc<dyn CommitListener>) -> Self {
        self.listener = Some(listener);
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies this backend's pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.backend
            .migrator()
            .run(&self.write)
            .await
            .map_err(StoreError::Migration)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Opens a write transaction.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        let tx = self.write.begin_with(self.backend.begin_write()).await?;
        Ok(StoreTx {
            tx,
            backend: self.backend,
            changed_entitlements: Vec::new(),
            listener: self.listener.clone(),
        })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// A write transaction. Dropped without `commit`, it rolls back.
pub struct StoreTx {
    pub(crate) tx: Transaction<'static, Any>,
    pub(crate) backend: Backend,
    /// Entitlements rewritten in this transaction, announced after commit.
    pub(crate) changed_entitlements: Vec<EntitlementsRow>,
    listener: Option<Arc<dyn CommitListener>>,
}

impl fmt::Debug for StoreTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreTx")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl StoreTx {
    /// Commits, then tells the store's listener what changed (only what
    /// is now durable is ever announced).
    pub async fn commit(mut self) -> Result<(), StoreError> {
        // Every rewritten entitlements row is announced to the host product
        // too, by a message written in this transaction.
        crate::outbound::enqueue_entitlements(&mut self.tx, &self.changed_entitlements).await?;
        self.tx.commit().await?;
        if let Some(listener) = &self.listener {
            if !self.changed_entitlements.is_empty() {
                listener.entitlements_changed(&self.changed_entitlements);
            }
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_print_their_password() {
        let url = DatabaseUrl::new("postgres://app:hunter2@db:5432/pw");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!url.to_string().contains("hunter2"));
        assert!(url.redacted().contains("***"));
    }
}
