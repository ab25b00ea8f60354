//! A sim on port 0 and a client that sends Stripe-style requests.

use paywarden_sim::Sim;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

pub const KEY: &str = "sk_test_paywarden";

#[derive(Debug)]
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(paywarden_sim::serve(listener, Sim::new(), async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        })
    }

    /// A request with the test key; `body` is sent as a form body on POST.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY)
    }

    pub async fn post(&self, path: &str, body: &str) -> anyhow::Result<Response> {
        Ok(self
            .request(Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await?)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Response> {
        Ok(self.request(Method::GET, path).send().await?)
    }

    /// POSTs and expects a 200 JSON body.
    pub async fn ok_post(&self, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self.post(path, body).await?;
        anyhow::ensure!(
            response.status() == 200,
            "POST {path} {body}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }

    pub async fn ok_get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.get(path).await?;
        anyhow::ensure!(
            response.status() == 200,
            "GET {path}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }
}

/// Status and JSON body of an error response.
pub async fn error_of(response: Response) -> anyhow::Result<(u16, Value)> {
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    Ok((status, body["error"].clone()))
}
