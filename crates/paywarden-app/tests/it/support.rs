//! A Stripe stand-in on port 0 and a Stripe client pointed at it.

use std::time::Duration;

use paywarden_sim::state::Settings;
use paywarden_sim::Sim;
use paywarden_stripe::{StripeClient, StripeConfig};
use secrecy::SecretString;

/// Any `sk_test_` key: the stand-in accepts every well-formed key.
pub const KEY: &str = "sk_test_paywarden_app_tests";

/// A stand-in serving on a loopback port until dropped.
#[derive(Debug)]
pub struct TestSim {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    _sim: Sim,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestSim {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let sim = Sim::with_settings(Settings {
            public_url: base.clone(),
            ..Settings::default()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(paywarden_sim::serve(listener, sim.clone(), async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            _sim: sim,
            _stop: stop,
        }
    }

    /// A client with short retries, pointed at `base`.
    fn client_for(&self, base: &str) -> StripeClient {
        let mut config =
            StripeConfig::new(base.parse().expect("a base URL"), SecretString::from(KEY));
        config.initial_retry_delay = Duration::from_millis(20);
        config.max_retry_delay = Duration::from_millis(100);
        config.timeout = Duration::from_secs(5);
        config.max_retries = 3;
        StripeClient::new(config).expect("a Stripe client")
    }

    pub fn client(&self) -> StripeClient {
        self.client_for(&self.base)
    }
}
