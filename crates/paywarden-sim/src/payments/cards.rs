//! Stripe's test cards: what each number (or magic `pm_card_…` / `tok_…`
//! id) does when attached or charged, and the card details it shows.
//!
//! Behaviour is derived from the number alone, so a payment method only
//! needs to remember its number (privately, under `_sim`).

use serde_json::{json, Value};

use crate::error::{ErrorType, StripeError};

/// Why a card is refused: Stripe's `code`, `decline_code`, message and
/// the `param` it names (for expiry and CVC errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    pub code: &'static str,
    pub decline_code: Option<&'static str>,
    pub message: &'static str,
    pub param: Option<&'static str>,
}

impl Decline {
    const fn declined(decline_code: &'static str, message: &'static str) -> Self {
        Self {
            code: "card_declined",
            decline_code: Some(decline_code),
            message,
            param: None,
        }
    }

    /// The 402 `card_error` Stripe answers with.
    pub fn error(&self) -> StripeError {
        let mut error = StripeError::invalid(self.message).with_code(self.code);
        error.status = axum::http::StatusCode::PAYMENT_REQUIRED;
        error.kind = ErrorType::CardError;
        error.decline_code = self.decline_code;
        error.param = self.param.map(str::to_owned);
        error
    }

    /// The failure recorded on a failed charge's `outcome`.
    pub fn outcome(&self) -> Value {
        json!({
            "network_status": "declined_by_network",
            "reason": self.decline_code.unwrap_or(self.code),
            "risk_level": "normal",
            "risk_score": 40,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        })
    }
}

const GENERIC: Decline = Decline::declined("generic_decline", "Your card was declined.");
const INSUFFICIENT: Decline =
    Decline::declined("insufficient_funds", "Your card has insufficient funds.");
const LOST: Decline = Decline::declined("lost_card", "Your card was declined.");
const STOLEN: Decline = Decline::declined("stolen_card", "Your card was declined.");
const EXPIRED: Decline = Decline {
    code: "expired_card",
    decline_code: Some("expired_card"),
    message: "Your card has expired.",
    param: Some("exp_month"),
};
const CVC: Decline = Decline {
    code: "incorrect_cvc",
    decline_code: Some("incorrect_cvc"),
    message: "Your card's security code is incorrect.",
    param: Some("cvc"),
};
const PROCESSING: Decline = Decline {
    code: "processing_error",
    decline_code: Some("processing_error"),
    message: "An error occurred while processing your card. Try again in a little bit.",
    param: None,
};
const INCORRECT_NUMBER: Decline = Decline {
    code: "incorrect_number",
    decline_code: None,
    message: "Your card number is incorrect.",
    param: Some("number"),
};
/// Off-session charge of a card that needs 3D Secure.
pub const AUTHENTICATION_REQUIRED: Decline = Decline::declined(
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
);

/// What a test card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Attaches and charges fine.
    Succeeds,
    /// Refused when attached to a customer and when charged.
    Declines(Decline),
    /// Attaches fine; every charge is declined (…0341).
    ChargesDecline,
    /// Charges succeed, then a fraudulent dispute opens (…0259).
    Disputed,
    /// Charges succeed; refunds stay `pending` (…7726).
    RefundPending,
    /// Needs 3D Secure on-session; off-session charges are refused.
    NeedsAuthentication,
}

impl Behaviour {
    /// The error attaching the card to a customer meets.
    pub fn attach_decline(self) -> Option<Decline> {
        match self {
            Self::Declines(d) => Some(d),
            _ => None,
        }
    }

    /// The error an off-session charge meets.
    pub fn charge_decline(self) -> Option<Decline> {
        match self {
            Self::Declines(d) => Some(d),
            Self::ChargesDecline => Some(GENERIC),
            Self::NeedsAuthentication => Some(AUTHENTICATION_REQUIRED),
            _ => None,
        }
    }
}

/// What `number` (digits only) does.
pub fn behaviour(number: &str) -> Behaviour {
    match number {
        "4000000000000002" => Behaviour::Declines(GENERIC),
        "4000000000009995" => Behaviour::Declines(INSUFFICIENT),
        "4000000000009987" => Behaviour::Declines(LOST),
        "4000000000009979" => Behaviour::Declines(STOLEN),
        "4000000000000069" => Behaviour::Declines(EXPIRED),
        "4000000000000127" => Behaviour::Declines(CVC),
        "4000000000000119" => Behaviour::Declines(PROCESSING),
        "4000000000000341" => Behaviour::ChargesDecline,
        "4000000000000259" => Behaviour::Disputed,
        "4000000000007726" => Behaviour::RefundPending,
        "4000002500003155" | "4000002760003184" | "4000008260003178" | "4000000000003220"
        | "4000000000003063" | "4000008400001629" => Behaviour::NeedsAuthentication,
        _ => Behaviour::Succeeds,
    }
}

/// The card number behind a magic id (`pm_card_visa`, `tok_chargeDeclined`…).
pub fn magic_number(id: &str) -> Option<&'static str> {
    let name = id
        .strip_prefix("pm_card_")
        .or_else(|| id.strip_prefix("tok_"))?;
    Some(match name {
        "visa" => "4242424242424242",
        "visa_debit" => "4000056655665556",
        "mastercard" => "5555555555554444",
        "amex" => "378282246310005",
        "discover" => "6011111111111117",
        "chargeDeclined" => "4000000000000002",
        "chargeDeclinedInsufficientFunds" => "4000000000009995",
        "chargeDeclinedLostCard" => "4000000000009987",
        "chargeDeclinedStolenCard" => "4000000000009979",
        "chargeDeclinedExpiredCard" => "4000000000000069",
        "chargeDeclinedIncorrectCvc" => "4000000000000127",
        "chargeDeclinedProcessingError" => "4000000000000119",
        "chargeCustomerFail" => "4000000000000341",
        "createDispute" => "4000000000000259",
        "refundPending" => "4000000000007726",
        "authenticationRequired" => "4000002760003184",
        "authenticationRequiredOnSetup" => "4000002500003155",
        _ => return None,
    })
}

/// Digits of a typed card number (spaces and dashes allowed), checked as
/// Stripe checks them: 12–19 digits passing Luhn, else `incorrect_number`.
pub fn normalize_number(raw: &str) -> Result<String, Decline> {
    let digits: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let valid = (12..=19).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && luhn(&digits);
    if valid {
        Ok(digits)
    } else {
        Err(INCORRECT_NUMBER)
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The card brand Stripe reports for `number`.
pub fn brand(number: &str) -> &'static str {
    let two: u32 = number.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let four: u32 = number.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    match () {
        _ if number.starts_with('4') => "visa",
        _ if (51..=55).contains(&two) || (2221..=2720).contains(&four) => "mastercard",
        _ if two == 34 || two == 37 => "amex",
        _ if number.starts_with("6011") || number.starts_with("65") => "discover",
        _ if number.starts_with("35") => "jcb",
        _ if two == 36 || two == 30 => "diners",
        _ => "unknown",
    }
}

/// A stable fingerprint per number, as Stripe gives one per card.
fn fingerprint(number: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in number.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..16)
        .map(|_| {
            let index = usize::try_from(hash % 62).unwrap_or(0);
            hash = (hash / 62) ^ hash.rotate_left(17);
            char::from(ALPHABET[index])
        })
        .collect()
}

/// The `card` hash of a payment method.
pub fn card_details(number: &str, exp_month: i64, exp_year: i64) -> Value {
    let brand = brand(number);
    let last4 = number.get(number.len().saturating_sub(4)..).unwrap_or("");
    json!({
        "brand": brand,
        "display_brand": brand,
        "last4": last4,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "funding": if number == "4000056655665556" { "debit" } else { "credit" },
        "country": "US",
        "fingerprint": fingerprint(number),
        "checks": { "address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass" },
        "generated_from": null,
        "networks": { "available": [brand], "preferred": null },
        "three_d_secure_usage": { "supported": true },
        "wallet": null,
    })
}

/// The test number a stored payment method was made from.
pub fn number_of(payment_method: &Value) -> &str {
    payment_method["_sim"]["number"].as_str().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_magic_ids() {
        assert_eq!(behaviour("4242424242424242"), Behaviour::Succeeds);
        assert_eq!(
            behaviour("4000000000009995").charge_decline(),
            Some(INSUFFICIENT)
        );
        assert_eq!(behaviour("4000000000000341").attach_decline(), None);
        assert!(behaviour("4000000000000341").charge_decline().is_some());
        assert_eq!(magic_number("pm_card_visa"), Some("4242424242424242"));
        assert_eq!(magic_number("tok_chargeDeclined"), Some("4000000000000002"));
        assert_eq!(magic_number("pm_123"), None);
    }

    #[test]
    fn numbers_are_checked() {
        assert_eq!(
            normalize_number("4242 4242 4242 4242").as_deref(),
            Ok("4242424242424242")
        );
        assert_eq!(normalize_number("4242424242424241"), Err(INCORRECT_NUMBER));
        assert!(normalize_number("abc").is_err());
        assert_eq!(brand("5555555555554444"), "mastercard");
        assert_eq!(brand("378282246310005"), "amex");
        assert_eq!(fingerprint("4242"), fingerprint("4242"));
        assert_ne!(fingerprint("4242"), fingerprint("4243"));
    }

    #[test]
    fn card_errors_are_402() {
        let error = EXPIRED.error();
        assert_eq!(error.status, axum::http::StatusCode::PAYMENT_REQUIRED);
        assert_eq!(error.kind, ErrorType::CardError);
        assert_eq!(error.code, Some("expired_card"));
        assert_eq!(error.param.as_deref(), Some("exp_month"));
    }
}
