//! The `Stripe-Signature` check.
//!
//! Stripe signs `"{t}.{raw body}"` with HMAC-SHA256, keyed by the endpoint
//! secret exactly as configured (the whole `whsec_…` string). The header
//! carries `t=` once and one or more `v1=` (several during a secret rotation);
//! any `v1` matching any configured secret passes. This runs on the raw bytes,
//! before anything parses the body.

use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Longest header we look at; real ones are ~150 bytes per signature.
pub const MAX_HEADER_LEN: usize = 4096;
/// Most `v1` entries we try, bounding work per request.
const MAX_SIGNATURES: usize = 8;

/// A webhook signing secret. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct WebhookSecret(SecretString);

impl WebhookSecret {
    /// Wraps a secret; blank secrets are refused.
    pub fn new(secret: &str) -> Result<Self, SignatureError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(SignatureError::NoSecret);
        }
        Ok(Self(SecretString::from(secret.to_owned())))
    }

    /// Parses a comma-separated list (`whsec_old,whsec_new`) for rotation.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, SignatureError> {
        list.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Self::new)
            .collect()
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(self.0.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// The lowercase hex `v1` signature of `body` at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// Why a delivery's signature was refused. Messages never echo secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no webhook secret is configured")]
    NoSecret,
    #[error("missing Stripe-Signature header")]
    MissingHeader,
    #[error("unable to extract timestamp and signatures from the Stripe-Signature header")]
    Malformed,
    #[error("no signatures found with expected scheme v1")]
    NoV1,
    #[error("timestamp outside the tolerance zone")]
    OutsideTolerance,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    /// Each `v1` value, decoded from hex. Entries that are not 32 bytes of
    /// hex are dropped: they can never match.
    pub v1: Vec<[u8; 32]>,
}

impl SignatureHeader {
    /// Parses `t=…,v1=…[,v1=…][,v0=…]`. Unknown schemes are ignored, as the SDKs do.
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        if header.trim().is_empty() {
            return Err(SignatureError::MissingHeader);
        }
        if header.len() > MAX_HEADER_LEN {
            return Err(SignatureError::Malformed);
        }
        let mut timestamp = None;
        let mut v1 = Vec::new();
        let mut saw_v1 = false;
        for item in header.split(',') {
            let (key, value) = item.split_once('=').ok_or(SignatureError::Malformed)?;
            match key.trim() {
                "t" => {
                    let parsed = value
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?;
                    if timestamp.replace(parsed).is_some() {
                        return Err(SignatureError::Malformed);
                    }
                }
                "v1" => {
                    saw_v1 = true;
                    let mut digest = [0u8; 32];
                    if v1.len() < MAX_SIGNATURES
                        && hex::decode_to_slice(value.trim(), &mut digest).is_ok()
                    {
                        v1.push(digest);
                    }
                }
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if !saw_v1 {
            return Err(SignatureError::NoV1);
        }
        Ok(Self { timestamp, v1 })
    }
}

/// Checks a delivery: the header parses, its timestamp is within
/// `tolerance_secs` of `now` in either direction, and some `v1` equals the
/// HMAC of `body` under some secret (compared in constant time).
pub fn verify(
    secrets: &[WebhookSecret],
    header: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<SignatureHeader, SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let parsed = SignatureHeader::parse(header.ok_or(SignatureError::MissingHeader)?)?;
    if now.abs_diff(parsed.timestamp) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance);
    }
    let matched = secrets.iter().any(|secret| {
        let mut mac = secret.mac();
        mac.update(parsed.timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        // Check every candidate so timing does not depend on which matched.
        parsed.v1.iter().fold(0u8, |hit, candidate| {
            hit | candidate.ct_eq(expected.as_slice()).unwrap_u8()
        }) == 1
    });
    if matched {
        Ok(parsed)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Builds a header as Stripe would send it, one `v1` per secret.
pub fn header_for(secrets: &[WebhookSecret], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&secret.sign(timestamp, body));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::new(s).expect("non-blank")
    }

    #[test]
    fn stripe_dotnet_vector_verifies() {
        // From Stripe's own SDK tests: HMAC("webhook_secret", "1533204620." + body).
        let body = include_bytes!("../tests/data/sdk_vector_body.json");
        let header = "t=1533204620,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef";
        let result = verify(
            &[secret("webhook_secret")],
            Some(header),
            body,
            1533204620,
            300,
        );
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn any_secret_and_any_v1_may_match() {
        let old = secret("whsec_old");
        let new = secret("whsec_new");
        let body = br#"{"id":"evt_1"}"#;
        let header = format!("t=100,v1={},v1={}", "00".repeat(32), new.sign(100, body));
        assert!(verify(&[old.clone(), new.clone()], Some(&header), body, 100, 300).is_ok());
        assert_eq!(
            verify(&[old], Some(&header), body, 100, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn bad_headers_are_refused_with_their_reason() {
        let key = secret("whsec_k");
        let body = b"{}";
        let good = header_for(std::slice::from_ref(&key), 1000, body);
        let check =
            |h: Option<&str>, now: i64| verify(std::slice::from_ref(&key), h, body, now, 300);
        assert_eq!(check(Some(&good), 1000).map(|h| h.timestamp), Ok(1000));
        assert_eq!(check(None, 1000), Err(SignatureError::MissingHeader));
        assert_eq!(check(Some(""), 1000), Err(SignatureError::MissingHeader));
        assert_eq!(check(Some("garbage"), 1000), Err(SignatureError::Malformed));
        assert_eq!(check(Some("t=1000"), 1000), Err(SignatureError::NoV1));
        assert_eq!(
            check(Some("t=1000,v0=abcd"), 1000),
            Err(SignatureError::NoV1)
        );
        assert_eq!(
            check(Some(&good), 1301),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            check(Some(&good), 699),
            Err(SignatureError::OutsideTolerance)
        );
        assert!(check(Some(&good), 1300).is_ok());
        let huge = format!("{good},{}", "v0=00,".repeat(1000));
        assert_eq!(check(Some(&huge), 1000), Err(SignatureError::Malformed));
    }

    #[test]
    fn one_changed_byte_fails() {
        let key = secret("whsec_k");
        let body = br#"{"id":"evt_1","type":"x"}"#.to_vec();
        let header = header_for(std::slice::from_ref(&key), 5, &body);
        for index in 0..body.len() {
            let mut tampered = body.clone();
            tampered[index] ^= 0x01;
            assert_eq!(
                verify(std::slice::from_ref(&key), Some(&header), &tampered, 5, 300),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let key = secret("whsec_supersecret");
        assert!(!format!("{key:?}").contains("supersecret"));
    }
}
