//! The shared tier: entitlement rows in Redis, and a pub/sub channel that
//! carries every committed change to every replica.
//!
//! Redis is never needed for a correct answer. Every command has a short
//! timeout; a failure opens a breaker for a moment so later checks go to
//! the database without waiting; writes that fail are kept and retried in
//! the background. Rows are written only if they are newer than what Redis
//! holds, so a slow refill can never replace a fresher row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use paywarden_core::catalog::FeatureValue;
use paywarden_core::UserId;
use paywarden_store::{now_ms, EntitlementsRow};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::memory::MemoryTier;
use super::stats::CacheStats;

/// Rows waiting for Redis, at most; beyond that the oldest wait is dropped
/// (other replicas then rely on their freshness bound and TTL).
const PENDING_CAP: usize = 100_000;
/// How long the breaker stays open after a failed command.
const BREAKER: Duration = Duration::from_millis(500);
/// How often a live subscription is checked with a PING.
const SUBSCRIPTION_PING: Duration = Duration::from_secs(1);

/// Sets the key only if its stored version is older. KEYS[1] the key;
/// ARGV: version, value, ttl in ms.
const SET_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(%d+)|'))
  if version and version > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// How to reach the shared tier.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis://…`; may hold a password, so it never prints.
    pub url: SecretString,
    /// Prefix of every key and channel, so deployments can share a Redis.
    pub prefix: String,
    /// Longest wait for one command before the database answers instead.
    pub timeout: Duration,
    /// How long a row lives in Redis.
    pub ttl: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Why Redis did not answer.
#[derive(Debug, thiserror::Error)]
pub enum RedisTierError {
    #[error("redis url is invalid: {0}")]
    Url(#[source] redis::RedisError),
    #[error("redis is not connected")]
    NotConnected,
    #[error("redis breaker is open after a recent failure")]
    BreakerOpen,
    #[error("redis did not answer in time")]
    Timeout,
    #[error("redis command failed: {0}")]
    Command(#[source] redis::RedisError),
    #[error("redis holds an unreadable row: {0}")]
    Corrupt(String),
}

/// A row as Redis and the channel carry it.
#[derive(Debug, Serialize, Deserialize)]
struct WireRow {
    user_id: String,
    version: i64,
    features: std::collections::BTreeMap<String, FeatureValue>,
    expires_at: Option<i64>,
    computed_at: i64,
}

impl From<&EntitlementsRow> for WireRow {
    fn from(row: &EntitlementsRow) -> Self {
        Self {
            user_id: row.user_id.as_str().to_owned(),
            version: row.version,
            features: row.features.clone(),
            expires_at: row.expires_at,
            computed_at: row.computed_at,
        }
    }
}

impl WireRow {
    fn into_row(self) -> Result<EntitlementsRow, RedisTierError> {
        let user_id: UserId = self
            .user_id
            .parse()
            .map_err(|_| RedisTierError::Corrupt("user id".into()))?;
        Ok(EntitlementsRow {
            user_id,
            version: self.version,
            features: self.features,
            expires_at: self.expires_at,
            computed_at: self.computed_at,
        })
    }
}

fn encode(row: &EntitlementsRow) -> Result<String, RedisTierError> {
    let json = serde_json::to_string(&WireRow::from(row))
        .map_err(|e| RedisTierError::Corrupt(e.to_string()))?;
    Ok(format!("{}|{json}", row.version))
}

fn decode(value: &str) -> Result<EntitlementsRow, RedisTierError> {
    let (_, json) = value
        .split_once('|')
        .ok_or_else(|| RedisTierError::Corrupt("no version".into()))?;
    let wire: WireRow =
        serde_json::from_str(json).map_err(|e| RedisTierError::Corrupt(e.to_string()))?;
    wire.into_row()
}

/// A row for Redis: `announce` also tells the other replicas (a committed
/// change); without it the row only refills the shared tier.
#[derive(Debug)]
struct Outgoing {
    row: EntitlementsRow,
    announce: bool,
}

/// The shared tier of one replica.
pub(crate) struct RedisTier {
    client: redis::Client,
    conn: OnceLock<ConnectionManager>,
    settings: RedisSettings,
    /// Unix ms until which commands are not tried.
    breaker_until: AtomicI64,
    /// Whether this replica currently hears the other replicas' changes
    /// and can tell them its own.
    subscribed: AtomicBool,
    outgoing: mpsc::Sender<Outgoing>,
    /// Wakes the writer from its backoff when Redis is back.
    back: Notify,
}

impl std::fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTier")
            .field("settings", &self.settings)
            .field("connected", &self.conn.get().is_some())
            .field("subscribed", &self.subscribed())
            .finish_non_exhaustive()
    }
}

impl RedisTier {
    /// Starts the connection, the subscriber and the writer in the
    /// background; answers at once, even while Redis is down.
    pub(crate) fn start(
        settings: RedisSettings,
        memory: MemoryTier,
        stats: Arc<CacheStats>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, RedisTierError> {
        let client =
            redis::Client::open(settings.url.expose_secret()).map_err(RedisTierError::Url)?;
        let (outgoing, queue) = mpsc::channel(PENDING_CAP);
        let tier = Arc::new(Self {
            client,
            conn: OnceLock::new(),
            settings,
            breaker_until: AtomicI64::new(0),
            subscribed: AtomicBool::new(false),
            outgoing,
            back: Notify::new(),
        });
        tokio::spawn(connect(tier.clone(), shutdown.clone()));
        tokio::spawn(subscribe(
            tier.clone(),
            memory,
            stats.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(write(tier.clone(), queue, stats, shutdown));
        Ok(tier)
    }

    fn key(&self, user: &UserId) -> String {
        format!("{}:entitlements:{}", self.settings.prefix, user.as_str())
    }

    fn channel(&self) -> String {
        format!("{}:entitlements:changed", self.settings.prefix)
    }

    /// Whether this replica hears every other replica's changes now.
    pub(crate) fn subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    fn connection(&self) -> Result<ConnectionManager, RedisTierError> {
        if self.breaker_open() {
            return Err(RedisTierError::BreakerOpen);
        }
        self.conn.get().cloned().ok_or(RedisTierError::NotConnected)
    }

    fn breaker_open(&self) -> bool {
        now_ms() < self.breaker_until.load(Ordering::Relaxed)
    }

    /// Whether the command connection answers, after up to `attempts`
    /// tries: the first command after an outage may only start the
    /// reconnection. Closes the breaker when it does.
    async fn commands_answer(&self, attempts: u32) -> bool {
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.breaker_until.store(0, Ordering::Relaxed);
            let Ok(mut conn) = self.connection() else {
                continue;
            };
            let pong: Result<String, _> = self.run(redis::cmd("PING").query_async(&mut conn)).await;
            if pong.is_ok() {
                self.breaker_until.store(0, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    fn trip(&self) {
        let until = now_ms() + i64::try_from(BREAKER.as_millis()).unwrap_or(500);
        self.breaker_until.store(until, Ordering::Relaxed);
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RedisTierError> {
        match tokio::time::timeout(self.settings.timeout, cmd).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                self.trip();
                Err(RedisTierError::Command(err))
            }
            Err(_) => {
                self.trip();
                Err(RedisTierError::Timeout)
            }
        }
    }

    /// The row Redis holds for `user`, if any.
    pub(crate) async fn get(
        &self,
        user: &UserId,
    ) -> Result<Option<EntitlementsRow>, RedisTierError> {
        let mut conn = self.connection()?;
        let key = self.key(user);
        let value: Option<String> = self
            .run(redis::cmd("GET").arg(&key).query_async(&mut conn))
            .await?;
        value.as_deref().map(decode).transpose()
    }

    /// Queues a committed change for Redis and the other replicas.
    pub(crate) fn announce(&self, row: &EntitlementsRow) {
        self.queue(row, true);
    }

    /// Queues a row read from the database, to refill Redis.
    pub(crate) fn refill(&self, row: &EntitlementsRow) {
        self.queue(row, false);
    }

    fn queue(&self, row: &EntitlementsRow, announce: bool) {
        let outgoing = Outgoing {
            row: row.clone(),
            announce,
        };
        if self.outgoing.try_send(outgoing).is_err() && announce {
            warn!(user.id = %row.user_id, "redis write queue full; change not announced");
        }
    }

    async fn send(&self, out: &Outgoing) -> Result<(), RedisTierError> {
        let mut conn = self.connection()?;
        let value = encode(&out.row)?;
        let ttl = u64::try_from(self.settings.ttl.as_millis()).unwrap_or(u64::MAX);
        let script = redis::Script::new(SET_IF_NEWER);
        let mut invocation = script.key(self.key(&out.row.user_id));
        invocation.arg(out.row.version).arg(&value).arg(ttl);
        let _: i64 = self.run(invocation.invoke_async(&mut conn)).await?;
        if out.announce {
            let json = serde_json::to_string(&WireRow::from(&out.row))
                .map_err(|e| RedisTierError::Corrupt(e.to_string()))?;
            let _: i64 = self
                .run(
                    redis::cmd("PUBLISH")
                        .arg(self.channel())
                        .arg(json)
                        .query_async(&mut conn),
                )
                .await?;
        }
        Ok(())
    }
}

/// Establishes the shared connection, retrying until Redis answers.
async fn connect(tier: Arc<RedisTier>, shutdown: CancellationToken) {
    let mut delay = Duration::from_millis(100);
    loop {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(tier.settings.timeout)
            .set_number_of_retries(1);
        let attempt = ConnectionManager::new_with_config(tier.client.clone(), config);
        tokio::select! {
            () = shutdown.cancelled() => return,
            result = attempt => match result {
                Ok(conn) => {
                    // Only this task sets it.
                    let _ = tier.conn.set(conn);
                    info!("entitlements cache connected to redis");
                    return;
                }
                Err(err) => warn!(error = %err, "redis not reachable yet; entitlements use memory and the database"),
            },
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Hears other replicas' changes. While not subscribed, the memory tier
/// serves only very fresh entries; once subscribed again it is cleared,
/// since changes may have been missed meanwhile.
///
/// "Subscribed" also waits for the command connection: hearing the others
/// while this replica's own changes cannot reach them would leave their
/// memories stale. Coming back wakes the writer so that changes waiting
/// through the outage go out at once rather than after its backoff.
async fn subscribe(
    tier: Arc<RedisTier>,
    memory: MemoryTier,
    stats: Arc<CacheStats>,
    shutdown: CancellationToken,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        let opened = tokio::time::timeout(Duration::from_secs(1), async {
            let mut pubsub = tier.client.get_async_pubsub().await?;
            pubsub.subscribe(tier.channel()).await?;
            Ok::<_, redis::RedisError>(pubsub)
        });
        let pubsub = tokio::select! {
            () = shutdown.cancelled() => return,
            opened = opened => opened,
        };
        let pubsub = match pubsub {
            Ok(Ok(pubsub)) if tier.commands_answer(10).await => Ok(pubsub),
            Ok(Ok(_)) => Err("redis subscription opened but commands fail".to_owned()),
            Ok(Err(err)) => Err(format!("redis subscription failed: {err}")),
            Err(_) => Err("redis subscription timed out".to_owned()),
        };
        match pubsub {
            Ok(pubsub) => {
                memory.clear();
                tier.subscribed.store(true, Ordering::Release);
                tier.back.notify_one();
                info!("entitlements cache subscribed to changes");
                delay = Duration::from_millis(100);
                let (mut sink, mut stream) = pubsub.split();
                let mut ping = tokio::time::interval(SUBSCRIPTION_PING);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        message = stream.next() => {
                            let Some(message) = message else { break };
                            match decode_message(message.get_payload_bytes()) {
                                Ok(row) => {
                                    memory.put(&row);
                                    stats.remote_update();
                                }
                                Err(err) => warn!(error = %err, "unreadable entitlements change on the channel"),
                            }
                        }
                        _ = ping.tick() => {
                            let alive = tokio::time::timeout(Duration::from_secs(1), sink.ping::<redis::Value>()).await;
                            if !matches!(alive, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                tier.subscribed.store(false, Ordering::Release);
                warn!("entitlements change subscription lost; serving from the database until it is back");
            }
            Err(why) => tracing::debug!("{why}"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

fn decode_message(payload: &[u8]) -> Result<EntitlementsRow, RedisTierError> {
    let wire: WireRow =
        serde_json::from_slice(payload).map_err(|e| RedisTierError::Corrupt(e.to_string()))?;
    wire.into_row()
}

/// Writes queued rows to Redis, newest per user, retrying failures with
/// backoff until they land.
async fn write(
    tier: Arc<RedisTier>,
    mut queue: mpsc::Receiver<Outgoing>,
    stats: Arc<CacheStats>,
    shutdown: CancellationToken,
) {
    let mut pending: HashMap<UserId, Outgoing> = HashMap::new();
    let mut delay = Duration::from_millis(50);
    loop {
        if pending.is_empty() {
            tokio::select! {
                () = shutdown.cancelled() => return,
                next = queue.recv() => match next {
                    Some(out) => merge(&mut pending, out),
                    None => return,
                },
            }
        }
        while let Ok(out) = queue.try_recv() {
            merge(&mut pending, out);
        }
        let users: Vec<UserId> = pending.keys().cloned().collect();
        let mut failed = false;
        for user in users {
            let Some(out) = pending.get(&user) else {
                continue;
            };
            match tier.send(out).await {
                Ok(()) => {
                    pending.remove(&user);
                }
                Err(err) => {
                    if out.announce {
                        stats.redis_publish_failure();
                    }
                    tracing::debug!(error = %err, "redis write failed; will retry");
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            let backoff = tokio::time::sleep(delay);
            tokio::pin!(backoff);
            delay = (delay * 2).min(Duration::from_secs(2));
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = &mut backoff => break,
                    () = tier.back.notified() => {
                        delay = Duration::from_millis(50);
                        break;
                    }
                    next = queue.recv() => match next {
                        Some(out) => {
                            // A new change is worth a try at once, unless
                            // Redis failed only a moment ago.
                            let now = out.announce && !tier.breaker_open();
                            merge(&mut pending, out);
                            if now {
                                break;
                            }
                        }
                        None => return,
                    },
                }
            }
        } else {
            delay = Duration::from_millis(50);
        }
    }
}

/// Keeps the newest row per user; an announcement stays one.
fn merge(pending: &mut HashMap<UserId, Outgoing>, out: Outgoing) {
    match pending.get_mut(&out.row.user_id) {
        Some(current) if current.row.version > out.row.version => {
            current.announce |= out.announce;
        }
        Some(current) => {
            let announce = current.announce || out.announce;
            *current = Outgoing {
                row: out.row,
                announce,
            };
        }
        None => {
            if pending.len() >= PENDING_CAP {
                return;
            }
            pending.insert(out.row.user_id.clone(), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn rows_round_trip_through_the_wire_form() {
        let row = EntitlementsRow {
            user_id: "ada".parse().expect("user"),
            version: 7,
            features: BTreeMap::from([
                ("api".to_owned(), FeatureValue::Flag(true)),
                ("projects".to_owned(), FeatureValue::Limit(50)),
            ]),
            expires_at: Some(1_900_000_000),
            computed_at: 5,
        };
        let value = encode(&row).expect("encode");
        assert!(value.starts_with("7|"));
        assert_eq!(decode(&value).expect("decode"), row);
        assert!(decode("garbage").is_err());
    }

    #[test]
    fn the_newest_row_per_user_waits_and_stays_an_announcement() {
        let row = |version| EntitlementsRow {
            user_id: "ada".parse().expect("user"),
            version,
            features: BTreeMap::new(),
            expires_at: None,
            computed_at: 0,
        };
        let mut pending = HashMap::new();
        merge(
            &mut pending,
            Outgoing {
                row: row(2),
                announce: true,
            },
        );
        merge(
            &mut pending,
            Outgoing {
                row: row(1),
                announce: false,
            },
        );
        merge(
            &mut pending,
            Outgoing {
                row: row(3),
                announce: false,
            },
        );
        let ada: UserId = "ada".parse().expect("user");
        assert_eq!(pending[&ada].row.version, 3);
        assert!(pending[&ada].announce);
    }
}
