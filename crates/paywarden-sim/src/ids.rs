//! Object ids in Stripe's form: a type prefix and 24 random alphanumerics.
//!
//! Clients must treat ids as opaque, but people reading logs rely on the
//! prefix to tell a customer from a price, so the sim keeps Stripe's.

use rand::distributions::Alphanumeric;
use rand::Rng;

pub const CUSTOMER: &str = "cus_";
pub const PRODUCT: &str = "prod_";
pub const PRICE: &str = "price_";
pub const REQUEST: &str = "req_";

/// A fresh id with `prefix`.
pub fn new_id(prefix: &str) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_length() {
        let id = new_id(CUSTOMER);
        assert!(id.starts_with("cus_"));
        assert_eq!(id.len(), 4 + 24);
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_id(CUSTOMER), id);
    }
}
