//! The storage layer's errors, in storage vocabulary.

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is not answering: retry later (503).
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The database aborted this transaction to resolve a conflict with
    /// another one (a deadlock or a serialization failure): run it again.
    #[error("transaction aborted by a concurrent one: {0}")]
    Transient(#[source] sqlx::Error),
    /// A uniqueness or check constraint refused the write.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// A listing cursor that this store did not hand out.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A stored value does not read back as its type.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The URL names no backend we know.
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
    #[error("migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// Whether this error means "the database is down", not "this request is wrong".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Whether running the same transaction again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Self::Unavailable(err),
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                // PostgreSQL class 08 (connection), 57P01-03 (shutdown),
                // 53 (insufficient resources); SQLite BUSY (5) and LOCKED (6).
                if code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "5"
                    || code == "6"
                {
                    Self::Unavailable(err)
                } else if code == "40P01" || code == "40001" {
                    // deadlock_detected, serialization_failure
                    Self::Transient(err)
                } else if db.is_unique_violation()
                    || db.is_check_violation()
                    || db.is_foreign_key_violation()
                {
                    Self::Constraint(db.message().to_owned())
                } else {
                    Self::Database(err)
                }
            }
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => Self::Corrupt(err.to_string()),
            _ => Self::Database(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_unavailable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::from(sqlx::Error::Io(io)).is_unavailable());
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_unavailable());
    }
}
