//! A tiny HTTP proxy between a Stripe client and the stand-in that
//! misbehaves on chosen requests: it forwards the request and then cuts the
//! connection before the answer reaches the client, or answers an error
//! itself, or never answers. One request per connection (`connection:
//! close` both ways). Used to show that retries never create a second
//! object.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

#[derive(Debug, Clone)]
pub enum Action {
    /// Pass the request to the sim and its answer back.
    Forward,
    /// The sim gets (and acts on) the request; the client gets a cut connection.
    DropAfterForward,
    /// Answer `status` without asking the sim, with an optional
    /// `Stripe-Should-Retry` header.
    Reply(u16, Option<&'static str>),
    /// Never answer (until the client gives up).
    Stall,
}

#[derive(Debug)]
pub struct Proxy {
    pub base: String,
    pub requests: Arc<AtomicUsize>,
    /// The `Idempotency-Key` of each request, in arrival order.
    pub keys: Arc<Mutex<Vec<Option<String>>>>,
}

impl Proxy {
    /// Requests number 0, 1, … get `script[n]`; later ones are forwarded.
    pub async fn start(upstream: &str, script: Vec<Action>) -> anyhow::Result<Self> {
        Self::start_with(upstream, move |number, _| {
            script.get(number).cloned().unwrap_or(Action::Forward)
        })
        .await
    }

    /// Each request gets `decide(number, request line)`, e.g.
    /// `(3, "POST /v1/customers HTTP/1.1")`.
    pub async fn start_with(
        upstream: &str,
        decide: impl Fn(usize, &str) -> Action + Send + Sync + 'static,
    ) -> anyhow::Result<Self> {
        let decide = Arc::new(decide);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let keys: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let seen = keys.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let number = counter.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                let seen = seen.clone();
                let decide = decide.clone();
                tokio::spawn(async move {
                    let _ = handle(socket, &upstream, number, &*decide, &seen).await;
                });
            }
        });
        Ok(Self {
            base,
            requests,
            keys,
        })
    }

    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn keys(&self) -> Vec<Option<String>> {
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: &str,
    number: usize,
    decide: &(dyn Fn(usize, &str) -> Action + Send + Sync),
    seen: &Mutex<Vec<Option<String>>>,
) -> anyhow::Result<()> {
    let request = read_request(&mut client).await?;
    let request_line = String::from_utf8_lossy(&request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let action = decide(number, &request_line);
    let key = String::from_utf8_lossy(&request).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("idempotency-key")
            .then(|| value.trim().to_owned())
    });
    seen.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(key);
    match action {
        Action::Forward | Action::DropAfterForward => {
            let mut sim = TcpStream::connect(upstream).await?;
            sim.write_all(&with_close(&request)).await?;
            let mut answer = Vec::new();
            sim.read_to_end(&mut answer).await?;
            if matches!(action, Action::Forward) {
                client.write_all(&with_close(&answer)).await?;
            }
        }
        Action::Reply(status, hint) => {
            let body = r#"{"error":{"type":"api_error","message":"proxy says no"}}"#;
            let hint = hint
                .map(|value| format!("stripe-should-retry: {value}\r\n"))
                .unwrap_or_default();
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{hint}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(answer.as_bytes()).await?;
        }
        Action::Stall => {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
    }
    Ok(())
}

/// Reads one request: headers, then `content-length` bytes of body.
async fn read_request(client: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = client.read(&mut chunk).await?;
        anyhow::ensure!(read > 0, "client closed mid-request");
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse())
                .transpose()?
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let read = client.read(&mut chunk).await?;
                anyhow::ensure!(read > 0, "client closed mid-body");
                buffer.extend_from_slice(&chunk[..read]);
            }
            return Ok(buffer);
        }
    }
}

/// Adds `connection: close` after the first line of a request or response.
fn with_close(message: &[u8]) -> Vec<u8> {
    let Some(line_end) = find(message, b"\r\n") else {
        return message.to_vec();
    };
    let mut out = message[..line_end + 2].to_vec();
    out.extend_from_slice(b"connection: close\r\n");
    out.extend_from_slice(&message[line_end + 2..]);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
