//! `--state FILE`: the sim's objects kept in a JSON file across restarts.
//!
//! The sim lives in memory; a demo or a long manual test wants its
//! customers, prices and subscriptions back after a restart. The file holds
//! every [`Objects`] collection (in creation order, so lists come back in
//! the same order) and the sim's clock offset. It is written atomically
//! (`FILE.tmp`, fsync, rename), so a crash mid-write leaves the previous
//! state, and read once at start-up, where a file that cannot be read is an
//! error: state is never silently thrown away.
//!
//! Not kept: idempotency keys (a replay after a restart creates anew, as
//! Stripe would after their 24 hours) and deliveries still queued (events
//! stay retrievable through `/v1/events`, but are not sent again).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::state::{Objects, Settings, Sim};

/// The format tag written at the top of every state file.
const FORMAT: u32 = 1;

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("reading the sim state file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the sim state file {path} is not a valid state file (move it away to start empty)")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the sim state file {path} has format {found}; this build reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
    #[error("writing the sim state file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding the sim state")]
    Encode(#[source] serde_json::Error),
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: u32,
    objects: &'a Objects,
}

/// Read first, so a file from another format is named as such rather than
/// as corrupt.
#[derive(Deserialize)]
struct Header {
    format: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(rename = "format")]
    _format: u32,
    objects: Objects,
}

/// Reads the objects saved in `path`; `Ok(None)` when there is no file yet.
pub fn load(path: &Path) -> Result<Option<Objects>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let corrupt = |source| PersistError::Corrupt {
        path: path.to_owned(),
        source,
    };
    let header: Header = serde_json::from_slice(&bytes).map_err(corrupt)?;
    if header.format != FORMAT {
        return Err(PersistError::Format {
            path: path.to_owned(),
            found: header.format,
        });
    }
    let file: FileIn = serde_json::from_slice(&bytes).map_err(corrupt)?;
    Ok(Some(file.objects))
}

/// A sim with the objects saved in `path`, or an empty one when the file
/// does not exist yet.
pub fn open(path: &Path, settings: Settings) -> Result<Sim, PersistError> {
    let objects = load(path)?.unwrap_or_default();
    Ok(Sim::from_objects(objects, settings))
}

/// The sim's objects as the bytes of a state file. Holds the lock only
/// while encoding.
pub fn snapshot(sim: &Sim) -> Result<Vec<u8>, PersistError> {
    let objects = sim.objects();
    serde_json::to_vec(&FileOut {
        format: FORMAT,
        objects: &objects,
    })
    .map_err(PersistError::Encode)
}

/// Writes `bytes` to `path` atomically: `path.tmp`, fsync, rename, then
/// fsync of the directory so the rename itself survives a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    use std::io::Write;
    let error = |source| PersistError::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(error)?;
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(error)?;
    }
    Ok(())
}

/// Saves the sim's objects to `path` now.
pub fn save(sim: &Sim, path: &Path) -> Result<(), PersistError> {
    write_atomically(path, &snapshot(sim)?)
}

/// A cheap summary that moves whenever the sim records an event, creates
/// or deletes an object, or moves its clock: what the saver checks each
/// period before encoding anything.
fn generation(sim: &Sim) -> (usize, i64, usize) {
    let objects = sim.objects();
    let sizes = [
        &objects.customers,
        &objects.products,
        &objects.prices,
        &objects.payment_methods,
        &objects.payment_intents,
        &objects.charges,
        &objects.refunds,
        &objects.disputes,
        &objects.checkout_sessions,
        &objects.subscriptions,
        &objects.subscription_items,
        &objects.invoices,
        &objects.invoice_items,
        &objects.invoice_payments,
        &objects.portal_sessions,
        &objects.webhook_endpoints,
        &objects.test_clocks,
        &objects.features,
        &objects.product_features,
    ]
    .iter()
    .map(|c| c.len())
    .sum();
    (objects.events.len(), objects.time_offset, sizes)
}

/// How many quiet periods pass between full comparisons, which catch the
/// rare change that records no event (a field the sim keeps privately).
const FULL_CHECK_EVERY: u32 = 10;

/// Saves the sim to `path` every `every` while something changed, until
/// `stop` completes; then saves once more if anything changed since. A
/// failed periodic save is logged and tried again next period; a failed
/// final save is returned.
pub async fn keep_saved(
    sim: Sim,
    path: PathBuf,
    every: Duration,
    stop: impl Future<Output = ()>,
) -> Result<(), PersistError> {
    let mut saved_generation = generation(&sim);
    let mut saved_bytes = snapshot(&sim)?;
    let mut quiet = 0_u32;
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    let mut stopping = false;
    while !stopping {
        tokio::select! {
            _ = interval.tick() => {}
            () = &mut stop => stopping = true,
        }
        let current = generation(&sim);
        quiet += 1;
        if current == saved_generation && quiet < FULL_CHECK_EVERY && !stopping {
            continue;
        }
        quiet = 0;
        let bytes = snapshot(&sim)?;
        if bytes == saved_bytes {
            saved_generation = current;
            continue;
        }
        let target = path.clone();
        let written = {
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || write_atomically(&target, &bytes)).await
        };
        match written {
            Ok(Ok(())) => {
                saved_generation = current;
                saved_bytes = bytes;
            }
            Ok(Err(err)) if stopping => return Err(err),
            Ok(Err(err)) => {
                tracing::warn!(error = %error_chain(&err), "saving the sim state failed; trying again");
            }
            Err(join) => {
                return Err(PersistError::Write {
                    path,
                    source: std::io::Error::other(join),
                })
            }
        }
    }
    Ok(())
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
