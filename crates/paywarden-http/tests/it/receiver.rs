//! A stand-in for the host product's webhook endpoint: an axum server on
//! `127.0.0.1:0` that records every request and answers with the statuses
//! it was given, in order (200 once they run out).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Debug, Default)]
struct Log {
    answers: VecDeque<u16>,
    received: Vec<Received>,
}

/// The receiving endpoint.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    log: Arc<Mutex<Log>>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(log): State<Arc<Mutex<Log>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut log = log.lock().expect("receiver log");
    log.received.push(Received { headers, body });
    let code = log.answers.pop_front().unwrap_or(200);
    StatusCode::from_u16(code).expect("a test status")
}

impl Receiver {
    /// Answers 200 to everything.
    pub async fn start() -> Self {
        Self::answering(&[]).await
    }

    /// Answers `answers` in order, then 200.
    pub async fn answering(answers: &[u16]) -> Self {
        let log = Arc::new(Mutex::new(Log {
            answers: answers.iter().copied().collect(),
            received: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = Router::new()
            .route("/hook", post(record))
            .with_state(log.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, log, task }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().expect("receiver log").received.clone()
    }
}
