//! Reading columns whose type the two backends spell differently.

use sqlx::any::AnyRow;
use sqlx::Row;

/// A flag: `BOOLEAN` on PostgreSQL, `INTEGER` 0/1 on SQLite.
pub(crate) fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(value) => Ok(value),
        Err(_) => row.try_get::<i64, _>(column).map(|v| v != 0),
    }
}
