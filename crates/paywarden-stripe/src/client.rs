//! The HTTP core: one request with the pinned version, the key and (on POST)
//! the idempotency key, retried as Stripe's SDKs retry.

use std::time::Instant;

use reqwest::{header::HeaderMap, Method, StatusCode};
use secrecy::ExposeSecret;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{
    error::{ApiError, ErrorKind},
    form, retry, IdempotencyKey, List, Listed, StripeConfig, StripeError,
};

/// A Stripe API client; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    config: std::sync::Arc<StripeConfig>,
}

/// Why one attempt failed, and whether another may succeed.
struct Failure {
    error: StripeError,
    retryable: bool,
}

impl StripeClient {
    pub fn new(config: StripeConfig) -> Result<Self, StripeError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(StripeError::Network)?;
        Ok(Self {
            http,
            config: std::sync::Arc::new(config),
        })
    }

    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    /// A GET of any path (`/v1/…`). The typed calls are preferred; this is
    /// for a caller that needs Stripe's whole object (`T = serde_json::Value`),
    /// say to project it exactly as its webhook would be.
    pub async fn get<T: DeserializeOwned, Q: Serialize>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, StripeError> {
        let pairs = form::encode(query).map_err(StripeError::Decode)?;
        self.send(Method::GET, path, &pairs, None).await
    }

    /// A POST of any path with its idempotency key; see [`Self::get`].
    pub async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
        key: &IdempotencyKey,
    ) -> Result<T, StripeError> {
        let pairs = form::encode(body).map_err(StripeError::Decode)?;
        self.send(Method::POST, path, &pairs, Some(key)).await
    }

    /// A DELETE of any path; see [`Self::get`].
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, StripeError> {
        self.send(Method::DELETE, path, &[], None).await
    }

    /// Every object of a list endpoint: pages through `has_more` with
    /// `starting_after`, `params` being the first page's query.
    pub(crate) async fn list_all<T: DeserializeOwned + Listed, Q: Serialize>(
        &self,
        path: &str,
        params: &Q,
    ) -> Result<Vec<T>, StripeError> {
        let first = form::encode(params).map_err(StripeError::Decode)?;
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut pairs: Vec<(String, String)> = first
                .iter()
                .filter(|(name, _)| name != "starting_after")
                .cloned()
                .collect();
            if let Some(after) = &cursor {
                pairs.push(("starting_after".to_owned(), after.clone()));
            }
            let page: List<T> = self.send(Method::GET, path, &pairs, None).await?;
            let has_more = page.has_more;
            cursor = page.data.last().map(|last| last.id().to_owned());
            all.extend(page.data);
            if !has_more || cursor.is_none() {
                return Ok(all);
            }
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        pairs: &[(String, String)],
        key: Option<&IdempotencyKey>,
    ) -> Result<T, StripeError> {
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let failure = match self.attempt(&method, path, pairs, key).await {
                Ok(body) => return serde_json::from_slice(&body).map_err(StripeError::Decode),
                Err(failure) => failure,
            };
            retries += 1;
            let delay = retry::backoff(
                retries,
                self.config.initial_retry_delay,
                self.config.max_retry_delay,
            );
            let out_of_time = started.elapsed() + delay > self.config.max_total_time;
            if !failure.retryable || retries > self.config.max_retries || out_of_time {
                return Err(failure.error);
            }
            tracing::warn!(
                stripe.path = path,
                retry = retries,
                delay_ms = delay.as_millis() as u64,
                error = %failure.error,
                "retrying stripe request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        pairs: &[(String, String)],
        key: Option<&IdempotencyKey>,
    ) -> Result<Vec<u8>, Failure> {
        // `path` goes after the base's own path, so a stand-in mounted under a
        // prefix (`http://host/stripe`) works as `https://api.stripe.com` does.
        let mut url = self.config.api_base.clone();
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        if *method != Method::POST && !encoded.is_empty() {
            url.set_query(Some(&encoded));
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.config.secret_key.expose_secret())
            .header("Stripe-Version", &self.config.api_version);
        if *method == Method::POST {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encoded);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key.as_str());
        }
        let response = request.send().await.map_err(transport_failure)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport_failure)?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(Failure {
            retryable: retry::should_retry_status(status.as_u16(), should_retry_hint(&headers)),
            error: self.api_error(status, &headers, &body),
        })
    }

    fn api_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> StripeError {
        #[derive(Deserialize, Default)]
        struct Envelope {
            #[serde(default)]
            error: Body,
        }
        #[derive(Deserialize, Default)]
        struct Body {
            #[serde(rename = "type", default)]
            kind: String,
            code: Option<String>,
            decline_code: Option<String>,
            param: Option<String>,
            #[serde(default)]
            message: String,
        }
        let request_id = headers
            .get("request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        // A body that is not Stripe's envelope (a proxy's HTML page) still
        // yields an error carrying the status; the message then says only that.
        let parsed: Envelope = serde_json::from_slice(body).unwrap_or_default();
        let detail = parsed.error;
        let secret = self.config.secret_key.expose_secret();
        let message = if secret.is_empty() {
            detail.message
        } else {
            detail.message.replace(secret, "[REDACTED]")
        };
        let message = if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        };
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return StripeError::Authentication {
                status: status.as_u16(),
                message,
                request_id,
            };
        }
        StripeError::Api(Box::new(ApiError {
            status: status.as_u16(),
            kind: ErrorKind::parse(&detail.kind),
            code: detail.code,
            decline_code: detail.decline_code,
            param: detail.param,
            message,
            request_id,
        }))
    }
}

fn should_retry_hint(headers: &HeaderMap) -> Option<bool> {
    match headers.get("stripe-should-retry")?.to_str().ok()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn transport_failure(error: reqwest::Error) -> Failure {
    let error = if error.is_timeout() {
        StripeError::Timeout
    } else {
        StripeError::Network(error.without_url())
    };
    Failure {
        error,
        retryable: true,
    }
}
