//! Idempotency keys derived from our own operation, so that a retried request
//! of ours — by this client or by our caller after a crash — reuses the key and
//! Stripe creates the object once.

use sha2::{Digest, Sha256};

/// The `Idempotency-Key` of one POST. Deterministic: the same operation and
/// parts always give the same key, different ones a different key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key for `operation` (e.g. `"checkout"`) on `parts` (e.g. the user id
    /// and our request id). Parts are length-prefixed before hashing so that
    /// `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn derive(operation: &str, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in std::iter::once(operation).chain(parts.iter().copied()) {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self(format!("pw_{}", hex::encode(hasher.finalize())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_operation_same_key_and_parts_do_not_run_together() {
        let first = IdempotencyKey::derive("checkout", &["user_1", "req_1"]);
        assert_eq!(
            first,
            IdempotencyKey::derive("checkout", &["user_1", "req_1"])
        );
        assert_ne!(
            first,
            IdempotencyKey::derive("checkout", &["user_1", "req_2"])
        );
        assert_ne!(
            first,
            IdempotencyKey::derive("portal", &["user_1", "req_1"])
        );
        assert_ne!(
            IdempotencyKey::derive("x", &["ab", "c"]),
            IdempotencyKey::derive("x", &["a", "bc"])
        );
        assert!(first.as_str().len() <= 255);
    }
}
