//! Signing outbound messages the Standard Webhooks way, and checking such
//! a signature (what a consumer does; our tests do it too).
//!
//! An endpoint's secret is `whsec_<base64 key>`. The signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`; the signature is
//! HMAC-SHA256 under the decoded key, base64-encoded, and the
//! `webhook-signature` header carries `v1,<signature>`, several of them
//! separated by spaces while a secret is being rotated. A receiver accepts
//! the message when any signature matches any of its secrets and the
//! timestamp is within five minutes of its clock.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How far a message's timestamp may be from the receiver's clock, either way.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

const PREFIX: &str = "whsec_";
/// Bytes of key in a generated secret (the Standard Webhooks libraries use 24).
const KEY_BYTES: usize = 24;
/// Most signatures looked at in one header, bounding a receiver's work.
const MAX_SIGNATURES: usize = 8;

/// An endpoint's signing secret. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct EndpointSecret(SecretString);

/// Why a string is not an endpoint secret. Never echoes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("an endpoint secret starts with `whsec_`")]
    Prefix,
    #[error("an endpoint secret's key is base64 of at least 16 bytes")]
    Key,
}

impl EndpointSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut key = [0u8; KEY_BYTES];
        rand::thread_rng().fill_bytes(&mut key);
        Self(SecretString::from(format!(
            "{PREFIX}{}",
            STANDARD.encode(key)
        )))
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let body = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(body).map_err(|_| SecretError::Key)?;
        if key.len() < 16 {
            return Err(SecretError::Key);
        }
        Ok(Self(SecretString::from(text.trim().to_owned())))
    }

    /// The secret as text, for the one place that stores it and the one
    /// response that shows it to the operator who created the endpoint.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    fn mac(&self) -> HmacSha256 {
        let body = self.expose().strip_prefix(PREFIX).unwrap_or_default();
        // Checked in `parse`/`generate`; an empty key would only fail to verify.
        let key = STANDARD.decode(body).unwrap_or_default();
        HmacSha256::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    fn digest(&self, message_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// The `v1,<base64>` signature of one message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> Signature {
        Signature(format!(
            "v1,{}",
            STANDARD.encode(self.digest(message_id, timestamp, body))
        ))
    }
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointSecret([redacted])")
    }
}

impl fmt::Display for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("whsec_[redacted]")
    }
}

/// A `webhook-signature` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(String);

impl Signature {
    /// The header value for several secrets (a rotation): one `v1,…` each,
    /// separated by spaces.
    pub fn for_all(
        secrets: &[EndpointSecret],
        message_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Self {
        let parts: Vec<String> = secrets
            .iter()
            .map(|s| s.sign(message_id, timestamp, body).0)
            .collect();
        Self(parts.join(" "))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a received message: `header` is `webhook-signature`,
    /// `timestamp` is `webhook-timestamp` as sent, `now` the receiver's
    /// clock in unix seconds. Constant-time comparison.
    pub fn verify(
        secrets: &[EndpointSecret],
        message_id: &str,
        timestamp: &str,
        header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), OutboundSignatureError> {
        if secrets.is_empty() {
            return Err(OutboundSignatureError::NoSecret);
        }
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| OutboundSignatureError::Timestamp)?;
        if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
            return Err(OutboundSignatureError::OutsideTolerance);
        }
        let candidates: Vec<Vec<u8>> = header
            .split(' ')
            .filter_map(|part| part.strip_prefix("v1,"))
            .take(MAX_SIGNATURES)
            .filter_map(|sig| STANDARD.decode(sig).ok())
            .collect();
        if candidates.is_empty() {
            return Err(OutboundSignatureError::NoV1);
        }
        for secret in secrets {
            let expected = secret.digest(message_id, timestamp, body);
            if candidates
                .iter()
                .any(|c| bool::from(c.as_slice().ct_eq(&expected)))
            {
                return Ok(());
            }
        }
        Err(OutboundSignatureError::Mismatch)
    }
}

/// Why a received message's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundSignatureError {
    #[error("no endpoint secret to verify with")]
    NoSecret,
    #[error("webhook-timestamp is not unix seconds")]
    Timestamp,
    #[error("webhook-timestamp is more than five minutes from now")]
    OutsideTolerance,
    #[error("webhook-signature has no v1 signature")]
    NoV1,
    #[error("no signature matches the message")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TS: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn secret(text: &str) -> EndpointSecret {
        EndpointSecret::parse(text).expect("valid secret")
    }

    #[test]
    fn the_standard_webhooks_test_vector_is_reproduced() {
        let signature = secret(VECTOR_SECRET).sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY);
        assert_eq!(
            signature.as_str(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        Signature::verify(
            &[secret(VECTOR_SECRET)],
            VECTOR_ID,
            "1614265330",
            signature.as_str(),
            VECTOR_BODY,
            VECTOR_TS + 10,
        )
        .expect("the vector verifies");
    }

    #[test]
    fn a_changed_body_id_or_secret_fails_and_old_timestamps_are_refused() {
        let key = secret(VECTOR_SECRET);
        let header = key.sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY);
        let verify = |secrets: &[EndpointSecret], id: &str, body: &[u8], now: i64| {
            Signature::verify(secrets, id, "1614265330", header.as_str(), body, now)
        };
        assert_eq!(
            verify(std::slice::from_ref(&key), VECTOR_ID, b"{}", VECTOR_TS),
            Err(OutboundSignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&key),
                "msg_other",
                VECTOR_BODY,
                VECTOR_TS
            ),
            Err(OutboundSignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &[EndpointSecret::generate()],
                VECTOR_ID,
                VECTOR_BODY,
                VECTOR_TS
            ),
            Err(OutboundSignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&key),
                VECTOR_ID,
                VECTOR_BODY,
                VECTOR_TS + 301
            ),
            Err(OutboundSignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(&[key], VECTOR_ID, VECTOR_BODY, VECTOR_TS - 300),
            Ok(())
        );
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let (old, new) = (EndpointSecret::generate(), EndpointSecret::generate());
        let header = Signature::for_all(&[old.clone(), new.clone()], "msg_1", 100, b"{}");
        assert_eq!(header.as_str().split(' ').count(), 2);
        for key in [old, new] {
            Signature::verify(&[key], "msg_1", "100", header.as_str(), b"{}", 100)
                .expect("each secret verifies");
        }
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert_eq!(
            EndpointSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").err(),
            Some(SecretError::Prefix)
        );
        assert_eq!(
            EndpointSecret::parse("whsec_!!").err(),
            Some(SecretError::Key)
        );
        let generated = EndpointSecret::generate();
        assert!(generated.expose().starts_with("whsec_"));
        assert!(EndpointSecret::parse(generated.expose()).is_ok());
        let key = secret(VECTOR_SECRET);
        for shown in [format!("{key:?}"), key.to_string()] {
            assert!(!shown.contains("MfKQ9r8"), "{shown}");
        }
    }
}
