//! One keep-alive HTTP/1.1 connection per worker, on hyper's client
//! connection directly.
//!
//! The check benchmark runs the loader on the same two cores as the server
//! it measures; a general-purpose client (pool checkout, URL parsing, a
//! timer per request) spent about as much CPU per request as the server
//! did, which showed up as latency for both the target and its reference.
//! This client does only what a benchmark needs: send a GET on an open
//! connection, read the body, and open a new connection after a failure.

use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

/// Where to connect: `host:port` taken from an `http://` base URL.
pub fn authority(base: &str) -> anyhow::Result<String> {
    let rest = base
        .strip_prefix("http://")
        .context("the base URL must start with http://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    anyhow::ensure!(!authority.is_empty(), "the base URL has no host");
    Ok(authority.to_owned())
}

/// A worker's connection, opened on first use and again after an error.
pub struct Connection {
    authority: String,
    bearer: String,
    timeout: Duration,
    open: Option<SendRequest<Empty<Bytes>>>,
}

impl Connection {
    pub fn new(authority: String, key: &str, timeout: Duration) -> Self {
        Self {
            authority,
            bearer: format!("Bearer {key}"),
            timeout,
            open: None,
        }
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("connecting to {}", self.authority))?;
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// GET `path`: the status and the whole body, or why they did not
    /// arrive within the timeout (the connection is then dropped).
    pub async fn get(&mut self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let answer = tokio::time::timeout(self.timeout, self.exchange(path)).await;
        match answer {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.open = None;
                Err(e)
            }
            Err(_) => {
                self.open = None;
                anyhow::bail!("no answer within {:?}", self.timeout)
            }
        }
    }

    async fn exchange(&mut self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let sender = match self.open.as_mut() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.open.insert(self.connect().await?),
        };
        sender.ready().await.context("connection closed")?;
        let request = Request::get(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::AUTHORIZATION, &self.bearer)
            .body(Empty::new())
            .context("building the request")?;
        let response = sender.send_request(request).await.context("sending")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the body")?
            .to_bytes();
        Ok((status, body))
    }
}
