//! PostgreSQL: the production backend, shared by any number of replicas.
//! One pool serves reads and writes; row locks (`FOR UPDATE`) and unique
//! keys decide races between replicas.

use super::{pool_options, Pools};
use crate::error::StoreError;
use crate::store::StoreOptions;

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(super) async fn connect(url: &str, options: &StoreOptions) -> Result<Pools, StoreError> {
    let pool = pool_options(options.max_connections, options.acquire_timeout, true)
        .connect(url)
        .await?;
    Ok(Pools {
        read: pool.clone(),
        write: pool,
    })
}
