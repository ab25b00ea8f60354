//! Log output: JSON lines by default (one object per event, with the span
//! fields), human-readable with `PAYWARDEN_LOG_FORMAT=pretty`. Operator
//! commands log warnings only, to keep their output clean.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

pub fn init(config: &Config, serving: bool) {
    let default = if serving { config.log.as_str() } else { "warn" };
    let filter = EnvFilter::try_new(default).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (in tests) is harmless, so its error is not interesting.
    let _ = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
