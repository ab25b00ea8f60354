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
pub const EVENT: &str = "evt_";
pub const WEBHOOK_ENDPOINT: &str = "we_";
pub const WEBHOOK_SECRET: &str = "whsec_";
pub const PAYMENT_METHOD: &str = "pm_";
pub const PAYMENT_INTENT: &str = "pi_";
pub const CHARGE: &str = "ch_";
pub const REFUND: &str = "re_";
pub const DISPUTE: &str = "dp_";
pub const BALANCE_TRANSACTION: &str = "txn_";
pub const CHECKOUT_SESSION: &str = "cs_test_";
pub const CHECKOUT_LINE_ITEM: &str = "li_";
pub const SUBSCRIPTION: &str = "sub_";
pub const SUBSCRIPTION_ITEM: &str = "si_";
pub const INVOICE: &str = "in_";
pub const INVOICE_LINE: &str = "il_";
pub const INVOICE_ITEM: &str = "ii_";
pub const INVOICE_PAYMENT: &str = "inpay_";
pub const PORTAL_SESSION: &str = "bps_";
pub const TEST_CLOCK: &str = "clock_";
pub const FEATURE: &str = "feat_";
pub const PRODUCT_FEATURE: &str = "prodft_";
pub const ACTIVE_ENTITLEMENT: &str = "ent_";
pub const SETUP_INTENT: &str = "seti_";

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
