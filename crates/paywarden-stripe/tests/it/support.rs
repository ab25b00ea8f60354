//! A sim on port 0 and a client pointed at it (directly or through a proxy).

use std::time::Duration;

use paywarden_sim::{state::Settings, Sim};
use paywarden_stripe::{StripeClient, StripeConfig};
use secrecy::SecretString;

pub const KEY: &str = "sk_test_paywarden_client_secret_42";

#[derive(Debug)]
pub struct TestSim {
    pub base: String,
    pub sim: Sim,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestSim {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let sim = Sim::with_settings(Settings {
            public_url: base.clone(),
            ..Settings::default()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(paywarden_sim::serve(listener, sim.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            base,
            sim,
            _stop: stop,
        })
    }

    /// Test settings: fast retries so retry tests stay short.
    pub fn config(&self, base: &str) -> anyhow::Result<StripeConfig> {
        let mut config = StripeConfig::new(base.parse()?, SecretString::from(KEY));
        config.initial_retry_delay = Duration::from_millis(20);
        config.max_retry_delay = Duration::from_millis(100);
        config.timeout = Duration::from_secs(5);
        config.max_retries = 3;
        Ok(config)
    }

    pub fn client(&self) -> anyhow::Result<StripeClient> {
        Ok(StripeClient::new(self.config(&self.base)?)?)
    }
}
