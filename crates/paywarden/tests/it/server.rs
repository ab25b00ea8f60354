//! The built `paywarden` binary as a child process.
//!
//! Children run with a cleared environment (only what a test sets), in the
//! test's own directory (so no stray `paywarden.toml` is read), with stderr
//! in a file (so a chatty log can never fill a pipe and stall the server).
//! `kill_on_drop` means a panicking test still kills its server.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use paywarden_testkit::TEST_WEBHOOK_SECRET;
use tokio::process::{Child, Command};

/// How long a server may take to migrate and start answering `/readyz`.
const START_WITHIN: Duration = Duration::from_secs(60);

/// Attempts at starting a server, in case another process takes the free
/// port between our probe and the child's bind.
const START_ATTEMPTS: usize = 3;

/// The binary under test, with a clean environment and `DATABASE_URL`.
pub fn paywarden(dir: &Path, database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paywarden"));
    command
        .env_clear()
        .current_dir(dir)
        .env("DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(backtrace) = std::env::var_os("RUST_BACKTRACE") {
        command.env("RUST_BACKTRACE", backtrace);
    }
    command
}

/// Runs a one-shot subcommand to completion.
pub async fn run(dir: &Path, database_url: &str, args: &[&str]) -> std::process::Output {
    run_with_env(dir, database_url, args, &[]).await
}

/// [`run`] with extra environment variables.
pub async fn run_with_env(
    dir: &Path,
    database_url: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = paywarden(dir, database_url);
    command.args(args).envs(env.iter().copied());
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("paywarden {args:?} did not finish within 60 s"))
        .expect("run paywarden");
    output
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Polls `probe` every 20 ms until it yields a value or `within` passes;
/// then fails with what the last attempt returned.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {within:?}; last seen: {last}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

static STARTS: AtomicUsize = AtomicUsize::new(0);

/// A running `paywarden serve`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Where the child's stderr (its log) goes.
    pub log_path: PathBuf,
}

impl Server {
    /// Starts `serve` on `database_url` with the test webhook secret and
    /// waits until `/readyz` answers 200.
    pub async fn start(dir: &Path, database_url: &str) -> Self {
        Self::start_with_env(dir, database_url, &[]).await
    }

    /// [`Server::start`] with extra (or overriding) environment variables.
    pub async fn start_with_env(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        let client = crate::stripe_events::client();
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let n = STARTS.fetch_add(1, Ordering::Relaxed);
            let log_path = dir.join(format!("serve-{n}.log"));
            let log = std::fs::File::create(&log_path).expect("create server log");
            // Nothing for sale unless a test asks for a catalog: the embedded
            // stand-in would otherwise send the catalog's product and price
            // events, and tests that count events would count them too.
            let empty_catalog = dir.join("empty-catalog.toml");
            std::fs::write(&empty_catalog, "").expect("write an empty catalog");
            let mut command = paywarden(dir, database_url);
            command
                .arg("serve")
                .env("PAYWARDEN_CATALOG_FILE", &empty_catalog)
                .env("PAYWARDEN_ADDR", addr.to_string())
                .env("STRIPE_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET)
                .env("PAYWARDEN_LOG", "info")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log));
            let mut child = command.spawn().expect("spawn paywarden serve");
            let base = format!("http://{addr}");
            let deadline = Instant::now() + START_WITHIN;
            loop {
                if let Some(status) = child.try_wait().expect("poll child") {
                    last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if last_log.contains("binding") {
                        break; // The port was taken meanwhile: try another.
                    }
                    panic!("paywarden serve exited with {status} before it was ready:\n{last_log}");
                }
                let ready = client
                    .get(format!("{base}/readyz"))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                if matches!(&ready, Ok(r) if r.status().is_success()) {
                    return Self {
                        child,
                        base,
                        log_path,
                    };
                }
                if Instant::now() >= deadline {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!(
                        "paywarden serve not ready within {START_WITHIN:?}; last /readyz: {ready:?}\n{log}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!(
            "paywarden serve could not bind a free port in {START_ATTEMPTS} attempts:\n{last_log}"
        );
    }

    /// `kill -9`, then reaps the process.
    pub async fn kill(mut self) -> String {
        self.child.start_kill().expect("SIGKILL paywarden serve");
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("a killed server exits within 10 s")
            .expect("wait for paywarden serve");
        assert!(!status.success(), "a SIGKILLed server does not exit 0");
        self.log()
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}
