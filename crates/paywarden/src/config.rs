//! Configuration: built-in defaults, then `paywarden.toml` (or the file
//! named by `PAYWARDEN_CONFIG`), then `PAYWARDEN_*` environment variables,
//! then the usual aliases (`DATABASE_URL`, `STRIPE_WEBHOOK_SECRET`,
//! `STRIPE_SECRET_KEY`, `STRIPE_API_BASE`). Later
//! wins. Everything is parsed and checked here, at start-up, and the
//! offending key is named when something is wrong.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use paywarden_app::entitlements::{CacheSettings, RedisSettings};
use paywarden_app::limits::{LimitSettings, Rate, RedisLimitSettings};
use paywarden_app::outbound::{DestinationPolicy, OutboundSettings};
use paywarden_app::PublicBaseUrl;
use paywarden_core::catalog::Catalog;
use paywarden_core::signature::WebhookSecret;
use paywarden_store::{DatabaseUrl, StoreOptions};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::auth_config::{AuthSettings, RawAuth};
use crate::stripe::{StripeSecretKey, StripeSetup, StripeTarget, STRIPE_API_BASE};

/// Settings as read, before checking. Every key has a default; see
/// `.env.example` for the environment spelling of each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// `sqlite://paywarden.db` (embedded) or `postgres://user:pass@host/db`.
    database_url: String,
    /// Connections in the database pool.
    database_max_connections: u32,
    /// Seconds a request waits for a database connection before answering 503.
    database_acquire_timeout_secs: u64,
    /// Address the HTTP server binds.
    addr: SocketAddr,
    /// Comma-separated webhook signing secrets; several during a rotation.
    stripe_webhook_secret: Option<String>,
    /// Stripe secret API key. Unset (or blank): `serve` mounts the Stripe
    /// stand-in under `/sim` and uses it.
    stripe_secret_key: Option<String>,
    /// Base URL of the Stripe API, `/v1/…` appended; used with a key.
    stripe_api_base: String,
    /// Seconds a signature's timestamp may differ from now, either way.
    signature_tolerance_secs: u64,
    /// Daily cap a newly provisioned account starts with.
    default_daily_cap: i64,
    /// Seconds between polls of the retry worker when idle.
    retry_poll_secs: u64,
    /// A file the embedded stand-in keeps its objects in across restarts
    /// (unset: in memory only). Only without `stripe_secret_key`.
    sim_state_file: Option<PathBuf>,
    /// `json` (default) or `pretty`.
    log_format: String,
    /// A tracing filter, e.g. `info` or `paywarden=debug,info`.
    log: String,
    /// Shared HS256 secret (≥ 32 bytes) that signs end users' JWTs.
    jwt_secret: Option<String>,
    /// URL of the JWKS whose RS256/ES256 keys sign end users' JWTs.
    jwks_url: Option<String>,
    /// Required `aud` of end users' JWTs.
    jwt_audience: Option<String>,
    /// Required `iss` of end users' JWTs.
    jwt_issuer: Option<String>,
    /// Clock skew tolerated on `exp`/`nbf`, at most 60.
    jwt_leeway_secs: u64,
    /// The demo login page (unset: on in the embedded default only).
    demo_mode: Option<bool>,
    /// The URL users reach paywarden at; redirect URLs are built from it.
    /// Unset: `http://<addr>`.
    public_base_url: Option<String>,
    /// The catalog file. Unset: `catalog.toml` if present, else the demo
    /// catalog in the embedded default and an empty one otherwise.
    catalog_file: Option<PathBuf>,
    /// `redis://host:6379`: the shared entitlements cache tier and its
    /// change channel (unset: memory and the database only).
    redis_url: Option<String>,
    /// Prefix of paywarden's Redis keys and channels.
    redis_prefix: String,
    /// Milliseconds one Redis command may take before the database answers.
    redis_timeout_ms: u64,
    /// Seconds an entitlements row lives in this process's memory.
    cache_ttl_secs: u64,
    /// Users' entitlements kept in memory at most.
    cache_max_entries: u64,
    /// Outbound webhooks may go to loopback, private and link-local addresses.
    outbound_allow_private: bool,
    /// Outbound webhooks may go to plain `http://` URLs.
    outbound_allow_http: bool,
    /// Seconds one outbound webhook attempt may take.
    outbound_timeout_secs: u64,
    /// Comma-separated seconds to wait after each failed attempt; after the
    /// last, a delivery is dead.
    outbound_retry_schedule_secs: String,
    /// Milliseconds between polls of the outbound delivery worker when idle.
    outbound_poll_ms: u64,
    /// Rate limits on the payment endpoints (checkout, bookings, portal,
    /// debits); `false` turns them off.
    rate_limits: bool,
    /// Requests a minute per end user, and the burst allowed.
    rate_limit_user_per_minute: u32,
    rate_limit_user_burst: u32,
    /// Requests a minute per client address, and the burst allowed.
    rate_limit_ip_per_minute: u32,
    rate_limit_ip_burst: u32,
    /// Hours before a course starts until which a booking may be cancelled
    /// with a full refund.
    booking_cancel_until_hours: u64,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            database_url: "sqlite://paywarden.db".into(),
            database_max_connections: 16,
            database_acquire_timeout_secs: 3,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            stripe_webhook_secret: None,
            stripe_secret_key: None,
            stripe_api_base: STRIPE_API_BASE.into(),
            signature_tolerance_secs: 300,
            default_daily_cap: 1000,
            retry_poll_secs: 5,
            sim_state_file: None,
            log_format: "json".into(),
            log: "info".into(),
            jwt_secret: None,
            jwks_url: None,
            jwt_audience: None,
            jwt_issuer: None,
            jwt_leeway_secs: 30,
            demo_mode: None,
            public_base_url: None,
            catalog_file: None,
            redis_url: None,
            redis_prefix: "paywarden".into(),
            redis_timeout_ms: 50,
            cache_ttl_secs: 60,
            cache_max_entries: 2_000_000,
            outbound_allow_private: false,
            outbound_allow_http: false,
            outbound_timeout_secs: 10,
            outbound_retry_schedule_secs: "5,300,1800,7200,18000,36000,36000".into(),
            outbound_poll_ms: 1000,
            rate_limits: true,
            rate_limit_user_per_minute: 20,
            rate_limit_user_burst: 10,
            rate_limit_ip_per_minute: 60,
            rate_limit_ip_burst: 30,
            booking_cancel_until_hours: 24,
        }
    }
}

/// Every key; `PAYWARDEN_<KEY>` sets it from the environment. Other
/// `PAYWARDEN_*` variables (the test harness's, say) are not ours.
const KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "database_acquire_timeout_secs",
    "addr",
    "stripe_webhook_secret",
    "stripe_secret_key",
    "stripe_api_base",
    "signature_tolerance_secs",
    "default_daily_cap",
    "retry_poll_secs",
    "sim_state_file",
    "log_format",
    "log",
    "jwt_secret",
    "jwks_url",
    "jwt_audience",
    "jwt_issuer",
    "jwt_leeway_secs",
    "demo_mode",
    "public_base_url",
    "catalog_file",
    "redis_url",
    "redis_prefix",
    "redis_timeout_ms",
    "cache_ttl_secs",
    "cache_max_entries",
    "outbound_allow_private",
    "outbound_allow_http",
    "outbound_timeout_secs",
    "outbound_retry_schedule_secs",
    "outbound_poll_ms",
    "rate_limits",
    "rate_limit_user_per_minute",
    "rate_limit_user_burst",
    "rate_limit_ip_per_minute",
    "rate_limit_ip_burst",
    "booking_cancel_until_hours",
];

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Checked configuration. Secrets stay wrapped.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: StoreOptions,
    pub addr: SocketAddr,
    pub webhook_secrets: Vec<WebhookSecret>,
    /// The real Stripe, or the embedded stand-in.
    pub stripe: StripeSetup,
    /// Where the embedded stand-in keeps its state, if anywhere.
    pub sim_state_file: Option<PathBuf>,
    pub signature_tolerance: Duration,
    pub default_daily_cap: i64,
    pub retry_poll: Duration,
    pub log_format: LogFormat,
    pub log: String,
    /// End-user authentication.
    pub auth: AuthSettings,
    /// Where users reach paywarden, without a trailing slash.
    pub public_base_url: PublicBaseUrl,
    /// What is for sale.
    pub catalog: Arc<Catalog>,
    /// Where the catalog came from, for logs.
    pub catalog_source: String,
    /// The entitlements cache: memory, and Redis when configured.
    pub cache: CacheSettings,
    /// Outbound webhooks to the host product.
    pub outbound: OutboundSettings,
    /// The payment endpoints' rate limits (`None`: off).
    pub limits: Option<LimitSettings>,
    /// Bookings may be cancelled (refunded) until this long before the start.
    pub booking_cancel_until: Duration,
}

impl Config {
    /// Loads from the process environment and the config file.
    pub fn load() -> anyhow::Result<Self> {
        let file = std::env::var_os("PAYWARDEN_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("paywarden.toml"));
        if std::env::var_os("PAYWARDEN_CONFIG").is_some() && !file.exists() {
            bail!(
                "PAYWARDEN_CONFIG names {}, which does not exist",
                file.display()
            );
        }
        let figment = Figment::from(Serialized::defaults(RawConfig::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("PAYWARDEN_").filter(|key| KEYS.iter().any(|k| key == *k)))
            .merge(Env::raw().only(&[
                "DATABASE_URL",
                "STRIPE_WEBHOOK_SECRET",
                "STRIPE_SECRET_KEY",
                "STRIPE_API_BASE",
                "REDIS_URL",
            ]));
        let raw: RawConfig = figment.extract().context("reading configuration")?;
        Self::check(raw)
    }

    fn check(raw: RawConfig) -> anyhow::Result<Self> {
        let cache = check_cache(&raw)?;
        let outbound = check_outbound(&raw)?;
        let limits = check_limits(&raw, &cache)?;
        let url = DatabaseUrl::new(raw.database_url);
        url.backend().context("database_url (DATABASE_URL)")?;
        if raw.database_max_connections == 0 {
            bail!("database_max_connections must be at least 1");
        }
        let webhook_secrets = match raw.stripe_webhook_secret.as_deref() {
            Some(list) => WebhookSecret::parse_list(list)
                .context("stripe_webhook_secret (STRIPE_WEBHOOK_SECRET)")?,
            None => Vec::new(),
        };
        let api_base = crate::stripe::api_base(&raw.stripe_api_base)
            .context("stripe_api_base (STRIPE_API_BASE)")?;
        let stripe = match raw.stripe_secret_key.as_deref().map(str::trim) {
            None | Some("") => StripeSetup::Embedded,
            Some(key) => StripeSetup::Remote(StripeTarget {
                api_base,
                secret_key: StripeSecretKey::new(key)
                    .context("stripe_secret_key (STRIPE_SECRET_KEY)")?,
            }),
        };
        // Blank, as `.env.example` leaves it: unset.
        let sim_state_file = raw
            .sim_state_file
            .filter(|path| !path.as_os_str().to_string_lossy().trim().is_empty());
        if matches!(stripe, StripeSetup::Remote(_)) && sim_state_file.is_some() {
            bail!(
                "sim_state_file is for the embedded Stripe stand-in, which does not run \
                 when stripe_secret_key (STRIPE_SECRET_KEY) is set"
            );
        }
        if raw.signature_tolerance_secs == 0 || raw.signature_tolerance_secs > 3600 {
            bail!("signature_tolerance_secs must be between 1 and 3600");
        }
        if raw.default_daily_cap < 0 {
            bail!("default_daily_cap must not be negative");
        }
        let log_format = match raw.log_format.as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => bail!("log_format must be `json` or `pretty`, not `{other}`"),
        };
        let auth = AuthSettings::check(RawAuth {
            jwt_secret: raw.jwt_secret.as_deref(),
            jwks_url: raw.jwks_url.as_deref(),
            audience: raw.jwt_audience.as_deref(),
            issuer: raw.jwt_issuer.as_deref(),
            leeway_secs: raw.jwt_leeway_secs,
            demo_mode: raw.demo_mode,
            embedded: matches!(stripe, StripeSetup::Embedded),
        })?;
        let public_base_url = match raw.public_base_url.as_deref().map(str::trim) {
            None | Some("") => PublicBaseUrl::parse(&format!("http://{}", raw.addr)),
            Some(url) => PublicBaseUrl::parse(url),
        }
        .context("public_base_url (PAYWARDEN_PUBLIC_BASE_URL)")?;
        let (catalog, catalog_source) = load_catalog(
            raw.catalog_file.as_deref(),
            matches!(stripe, StripeSetup::Embedded),
        )?;
        let mut database = StoreOptions::new(url);
        database.max_connections = raw.database_max_connections;
        database.acquire_timeout = Duration::from_secs(raw.database_acquire_timeout_secs.max(1));
        Ok(Self {
            database,
            addr: raw.addr,
            webhook_secrets,
            stripe,
            sim_state_file,
            signature_tolerance: Duration::from_secs(raw.signature_tolerance_secs),
            default_daily_cap: raw.default_daily_cap,
            retry_poll: Duration::from_secs(raw.retry_poll_secs.max(1)),
            log_format,
            log: raw.log,
            auth,
            public_base_url,
            catalog: Arc::new(catalog),
            catalog_source,
            cache,
            outbound,
            limits,
            booking_cancel_until: Duration::from_secs(
                raw.booking_cancel_until_hours.saturating_mul(3600),
            ),
        })
    }
}

/// The cache settings, with Redis when `redis_url` is set.
fn check_limits(raw: &RawConfig, cache: &CacheSettings) -> anyhow::Result<Option<LimitSettings>> {
    if !raw.rate_limits {
        return Ok(None);
    }
    let rate = |name: &str, per_minute: u32, burst: u32| -> anyhow::Result<Rate> {
        let (Some(per_minute), Some(burst)) = (NonZeroU32::new(per_minute), NonZeroU32::new(burst))
        else {
            bail!("rate_limit_{name}_per_minute and rate_limit_{name}_burst must be at least 1 (rate_limits = false turns limits off)");
        };
        Ok(Rate { per_minute, burst })
    };
    Ok(Some(LimitSettings {
        per_user: rate(
            "user",
            raw.rate_limit_user_per_minute,
            raw.rate_limit_user_burst,
        )?,
        per_ip: rate("ip", raw.rate_limit_ip_per_minute, raw.rate_limit_ip_burst)?,
        // The same Redis as the cache: every replica spends one budget.
        redis: cache.redis.as_ref().map(|redis| RedisLimitSettings {
            url: redis.url.clone(),
            prefix: redis.prefix.clone(),
            timeout: redis.timeout,
        }),
    }))
}

fn check_cache(raw: &RawConfig) -> anyhow::Result<CacheSettings> {
    if raw.cache_ttl_secs == 0 {
        bail!("cache_ttl_secs must be at least 1");
    }
    if raw.redis_timeout_ms == 0 || raw.redis_timeout_ms > 10_000 {
        bail!("redis_timeout_ms must be between 1 and 10000");
    }
    let prefix = raw.redis_prefix.trim();
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        bail!("redis_prefix must be a non-empty word");
    }
    let redis = match raw.redis_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => {
            let parsed = url::Url::parse(url).context("redis_url (REDIS_URL) is not a URL")?;
            if !matches!(parsed.scheme(), "redis" | "rediss") {
                bail!("redis_url (REDIS_URL) must start with redis:// or rediss://");
            }
            Some(RedisSettings {
                url: SecretString::from(url.to_owned()),
                prefix: prefix.to_owned(),
                timeout: Duration::from_millis(raw.redis_timeout_ms),
                ttl: Duration::from_secs(3600),
            })
        }
    };
    Ok(CacheSettings {
        max_entries: raw.cache_max_entries.max(1),
        ttl: Duration::from_secs(raw.cache_ttl_secs),
        redis,
        ..CacheSettings::default()
    })
}

/// The outbound webhook settings.
fn check_outbound(raw: &RawConfig) -> anyhow::Result<OutboundSettings> {
    if raw.outbound_timeout_secs == 0 || raw.outbound_timeout_secs > 60 {
        bail!("outbound_timeout_secs must be between 1 and 60");
    }
    let schedule = raw
        .outbound_retry_schedule_secs
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| part.parse::<u64>().map(Duration::from_secs))
        .collect::<Result<Vec<_>, _>>()
        .context("outbound_retry_schedule_secs must be comma-separated whole seconds")?;
    if schedule.len() > 50 {
        bail!("outbound_retry_schedule_secs allows at most 50 retries");
    }
    Ok(OutboundSettings {
        destinations: DestinationPolicy {
            allow_private: raw.outbound_allow_private,
            allow_http: raw.outbound_allow_http,
        },
        timeout: Duration::from_secs(raw.outbound_timeout_secs),
        schedule,
        poll: Duration::from_millis(raw.outbound_poll_ms.max(10)),
        ..OutboundSettings::default()
    })
}

/// The demo catalog shipped with paywarden (`catalog.toml` at the root).
pub const DEMO_CATALOG: &str = include_str!("../../../catalog.toml");

/// Reads the catalog: the named file (which must exist), else
/// `catalog.toml` in the working directory, else the demo catalog in the
/// embedded default or an empty one.
fn load_catalog(file: Option<&Path>, embedded: bool) -> anyhow::Result<(Catalog, String)> {
    let file = file.filter(|path| !path.as_os_str().to_string_lossy().trim().is_empty());
    let (text, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| {
                format!(
                    "catalog_file (PAYWARDEN_CATALOG_FILE): reading {}",
                    path.display()
                )
            })?,
            path.display().to_string(),
        ),
        None => match std::fs::read_to_string("catalog.toml") {
            Ok(text) => (text, "catalog.toml".to_owned()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if embedded {
                    (DEMO_CATALOG.to_owned(), "the demo catalog".to_owned())
                } else {
                    (String::new(), "no catalog (nothing for sale)".to_owned())
                }
            }
            Err(err) => return Err(err).context("reading catalog.toml"),
        },
    };
    let catalog = Catalog::parse(&text).with_context(|| format!("in {source}"))?;
    Ok((catalog, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let config = Config::check(RawConfig::default()).expect("defaults are valid");
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database.url.expose(), "sqlite://paywarden.db");
        assert_eq!(config.signature_tolerance, Duration::from_secs(300));
        assert!(config.webhook_secrets.is_empty());
    }

    #[test]
    fn secrets_are_a_comma_list_and_never_print() {
        let raw = RawConfig {
            stripe_webhook_secret: Some("whsec_a, whsec_b".into()),
            ..RawConfig::default()
        };
        let config = Config::check(raw).expect("valid");
        assert_eq!(config.webhook_secrets.len(), 2);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("whsec_a") && !shown.contains("whsec_b"),
            "{shown}"
        );
    }

    #[test]
    fn no_stripe_key_means_the_embedded_stand_in() {
        for key in [None, Some(""), Some("  ")] {
            let raw = RawConfig {
                stripe_secret_key: key.map(str::to_owned),
                ..RawConfig::default()
            };
            let config = Config::check(raw).expect("valid");
            assert!(
                matches!(config.stripe, StripeSetup::Embedded),
                "{key:?}: {:?}",
                config.stripe
            );
        }
    }

    #[test]
    fn a_stripe_key_targets_the_configured_base_and_never_prints() {
        let raw = RawConfig {
            stripe_secret_key: Some("sk_test_planted42".into()),
            ..RawConfig::default()
        };
        let config = Config::check(raw).expect("valid");
        let StripeSetup::Remote(target) = &config.stripe else {
            panic!("a key selects the remote Stripe: {:?}", config.stripe);
        };
        assert_eq!(target.api_base, "https://api.stripe.com");
        assert_eq!(target.v1(), "https://api.stripe.com/v1");
        assert_eq!(target.secret_key.expose(), "sk_test_planted42");
        let shown = format!("{config:?}");
        assert!(!shown.contains("planted42"), "{shown}");

        let raw = RawConfig {
            stripe_secret_key: Some("sk_test_x1".into()),
            stripe_api_base: "http://127.0.0.1:12111/".into(),
            ..RawConfig::default()
        };
        let config = Config::check(raw).expect("valid");
        let StripeSetup::Remote(target) = &config.stripe else {
            panic!("remote: {:?}", config.stripe);
        };
        assert_eq!(target.api_base, "http://127.0.0.1:12111");
    }

    #[test]
    fn a_sim_state_file_goes_with_the_embedded_stand_in_only() {
        let raw = RawConfig {
            sim_state_file: Some("sim.json".into()),
            ..RawConfig::default()
        };
        let config = Config::check(raw.clone()).expect("valid");
        assert_eq!(config.sim_state_file, Some(PathBuf::from("sim.json")));
        let blank = RawConfig {
            sim_state_file: Some("".into()),
            stripe_secret_key: Some("sk_test_x1".into()),
            ..RawConfig::default()
        };
        let config = Config::check(blank).expect("blank is unset");
        assert_eq!(config.sim_state_file, None);
        let raw = RawConfig {
            stripe_secret_key: Some("sk_test_x1".into()),
            ..raw
        };
        let err = format!("{:#}", Config::check(raw).expect_err("refused"));
        assert!(err.contains("sim_state_file"), "{err}");
    }

    #[test]
    fn bad_stripe_settings_name_their_key() {
        let raw = RawConfig {
            stripe_secret_key: Some("pk_test_publishable".into()),
            ..RawConfig::default()
        };
        let err = format!("{:#}", Config::check(raw).expect_err("refused"));
        assert!(err.contains("STRIPE_SECRET_KEY"), "{err}");
        assert!(
            !err.contains("publishable"),
            "the value is not echoed: {err}"
        );
        let raw = RawConfig {
            stripe_api_base: "api.stripe.com".into(),
            ..RawConfig::default()
        };
        let err = format!("{:#}", Config::check(raw).expect_err("refused"));
        assert!(err.contains("STRIPE_API_BASE"), "{err}");
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn file_then_prefixed_env_then_aliases() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "paywarden.toml",
                "addr = \"127.0.0.1:9999\"\nsignature_tolerance_secs = 120\ndefault_daily_cap = 7\n\
                 database_url = \"sqlite://from-file.db\"\n",
            )?;
            jail.set_env("PAYWARDEN_SIGNATURE_TOLERANCE_SECS", "60");
            jail.set_env("PAYWARDEN_DATABASE_URL", "sqlite://from-prefixed-env.db");
            jail.set_env("DATABASE_URL", "postgres://app:pw@db/paywarden");
            jail.set_env("STRIPE_WEBHOOK_SECRET", "whsec_one,whsec_two");
            jail.set_env("PAYWARDEN_SDK_PYTHON", "/not/ours");
            jail.set_env("PAYWARDEN_STRIPE_API_BASE", "http://from-prefixed-env");
            jail.set_env("STRIPE_API_BASE", "http://127.0.0.1:12111");
            jail.set_env("STRIPE_SECRET_KEY", "sk_test_from_env");
            let config = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(config.addr.to_string(), "127.0.0.1:9999", "from the file");
            assert_eq!(config.default_daily_cap, 7, "from the file");
            assert_eq!(
                config.signature_tolerance,
                Duration::from_secs(60),
                "env beats the file"
            );
            assert_eq!(
                config.database.url.expose(),
                "postgres://app:pw@db/paywarden",
                "the alias wins"
            );
            assert_eq!(config.webhook_secrets.len(), 2);
            let StripeSetup::Remote(target) = &config.stripe else {
                return Err("STRIPE_SECRET_KEY selects the remote Stripe".into());
            };
            assert_eq!(target.api_base, "http://127.0.0.1:12111", "the alias wins");
            assert_eq!(target.secret_key.expose(), "sk_test_from_env");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn unknown_file_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("paywarden.toml", "adr = \"127.0.0.1:1\"\n")?;
            let err = format!("{:#}", Config::load().expect_err("typo refused"));
            assert!(err.contains("adr"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn outbound_destinations_are_public_https_unless_allowed() {
        let config = Config::check(RawConfig::default()).expect("defaults are valid");
        assert_eq!(config.outbound.destinations, DestinationPolicy::default());
        assert_eq!(config.outbound.schedule.len(), 7);
        assert_eq!(config.outbound.timeout, Duration::from_secs(10));
        let raw = RawConfig {
            outbound_allow_private: true,
            outbound_retry_schedule_secs: "1, 2".into(),
            ..RawConfig::default()
        };
        let config = Config::check(raw).expect("valid");
        assert!(config.outbound.destinations.allow_private);
        assert_eq!(
            config.outbound.schedule,
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        let raw = RawConfig {
            outbound_retry_schedule_secs: "5,soon".into(),
            ..RawConfig::default()
        };
        let err = format!("{:#}", Config::check(raw).expect_err("refused"));
        assert!(err.contains("outbound_retry_schedule_secs"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let raw = RawConfig {
            database_url: "mysql://x".into(),
            ..RawConfig::default()
        };
        let err = format!("{:#}", Config::check(raw).expect_err("refused"));
        assert!(err.contains("DATABASE_URL"), "{err}");
    }
}
