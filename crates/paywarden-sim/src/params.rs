//! Typed access to decoded form parameters, with Stripe's error messages.
//!
//! Endpoints list the parameters they accept; anything else is
//! "Received unknown parameter". Coercion happens here so every wrong type
//! names its parameter ("Invalid integer: abc").

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::StripeError;
use crate::form;

/// The request's parameters: query string and form body together.
#[derive(Debug, Default)]
pub struct Params(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = StripeError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = request.uri().query().unwrap_or("").to_owned();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| StripeError::from(form::FormError::TooLarge))?;
        let map = form::decode_both(&query, &String::from_utf8_lossy(&body))?;
        Ok(Self(map))
    }
}

impl Params {
    /// Rejects any parameter not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), StripeError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unknown) => Err(StripeError::unknown_param(unknown)),
            None => Ok(()),
        }
    }

    /// A string parameter; `Some("")` means "unset".
    pub fn string(&self, name: &str) -> Result<Option<String>, StripeError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(StripeError::invalid(format!(
                "Invalid string: {name} must be a string, not a hash or array"
            ))
            .with_param(name)),
        }
    }

    /// A required, non-empty string.
    pub fn required(&self, name: &str) -> Result<String, StripeError> {
        match self.string(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(StripeError::missing_param(name)),
        }
    }

    /// An integer parameter.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, StripeError> {
        match self.string(name)? {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| StripeError::invalid_integer(name, &s)),
        }
    }

    /// A boolean parameter (`true` / `false`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, StripeError> {
        match self.string(name)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(StripeError::invalid(format!("Invalid boolean: {other}"))
                .with_code("parameter_invalid_boolean")
                .with_param(name)),
        }
    }

    /// A nested hash, e.g. `recurring[interval]`.
    pub fn hash(&self, name: &str) -> Result<Option<Params>, StripeError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params(map.clone()))),
            Some(_) => Err(StripeError::invalid(format!("Invalid hash: {name}")).with_param(name)),
        }
    }

    /// A list of strings, e.g. `lookup_keys[]`.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, StripeError> {
        let invalid = || StripeError::invalid(format!("Invalid array: {name}")).with_param(name);
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid()),
        }
    }

    /// Applies `metadata` to `target`: `metadata[k]=v` sets, `metadata[k]=`
    /// removes `k`, `metadata=` clears all.
    pub fn apply_metadata(&self, target: &mut Value) -> Result<(), StripeError> {
        let invalid = || StripeError::invalid("Invalid hash: metadata").with_param("metadata");
        let entries = match self.0.get("metadata") {
            None => return Ok(()),
            Some(Value::String(s)) if s.is_empty() => {
                target["metadata"] = Value::Object(Map::new());
                return Ok(());
            }
            Some(Value::Object(map)) => map,
            Some(_) => return Err(invalid()),
        };
        if !target["metadata"].is_object() {
            target["metadata"] = Value::Object(Map::new());
        }
        let Some(metadata) = target["metadata"].as_object_mut() else {
            return Err(StripeError::internal());
        };
        for (key, value) in entries {
            match value {
                Value::String(s) if s.is_empty() => {
                    metadata.remove(key);
                }
                Value::String(s) => {
                    metadata.insert(key.clone(), Value::String(s.clone()));
                }
                _ => return Err(invalid()),
            }
        }
        Ok(())
    }
}

/// `""` is "unset": JSON null.
pub fn or_null(value: Option<String>) -> Value {
    match value {
        Some(s) if !s.is_empty() => Value::String(s),
        _ => Value::Null,
    }
}
