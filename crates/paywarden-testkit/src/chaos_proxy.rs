//! A TCP proxy between the app and a service (PostgreSQL, Redis) that can
//! cut the link, so an outage can be staged without stopping the machine's
//! real service (other tests use it at the same time). After crates.io's
//! `src/tests/util/chaosproxy.rs`.
//!
//! Healthy, it forwards every connection to the upstream address. Broken,
//! it drops every live connection and closes each new one as soon as it is
//! accepted, so the app sees both a dead pooled connection and a failing
//! connect. Restored, it forwards again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct ChaosProxy {
    /// Where the app connects.
    pub addr: SocketAddr,
    broken: watch::Sender<bool>,
    /// Connections being forwarded right now.
    live: Arc<AtomicUsize>,
    accept_loop: JoinHandle<()>,
}

impl ChaosProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (broken, _) = watch::channel(false);
        let live = Arc::new(AtomicUsize::new(0));
        let accept_loop = tokio::spawn(accept(listener, upstream, broken.clone(), live.clone()));
        Self {
            addr,
            broken,
            live,
            accept_loop,
        }
    }

    /// Drops every live connection and refuses new ones. Returns once every
    /// forwarded connection is closed, so the next query surely fails.
    pub async fn break_networking(&self) {
        self.broken.send_replace(true);
        let within = Duration::from_secs(5);
        let deadline = Instant::now() + within;
        while self.live.load(Ordering::SeqCst) > 0 {
            assert!(
                Instant::now() < deadline,
                "proxied connections still open {within:?} after the break"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Forwards new connections again.
    pub fn restore_networking(&self) {
        self.broken.send_replace(false);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        // Ends the accept loop and, through the channel closing, every
        // forwarding task.
        self.accept_loop.abort();
        self.broken.send_replace(true);
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    broken: watch::Sender<bool>,
    live: Arc<AtomicUsize>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors, say: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if *broken.borrow() {
            drop(client);
            continue;
        }
        live.fetch_add(1, Ordering::SeqCst);
        let guard = Live(live.clone());
        tokio::spawn(forward(client, upstream, broken.subscribe(), guard));
    }
}

/// Counts a forwarded connection until it is dropped.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut broken: watch::Receiver<bool>,
    _live: Live,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        // Also ends when the proxy is dropped (the sender goes away).
        _ = broken.wait_for(|broken| *broken) => {}
    }
    // Close both sides before `_live` counts the connection as gone.
    drop(server);
    drop(client);
}
