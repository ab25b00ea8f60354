//! Payments: payment methods and test cards, payment intents, charges,
//! refunds, disputes, and Checkout (API and hosted page).
//!
//! OWNED BY THE PAYMENTS HELPER. The functions below are the contract the
//! billing module relies on; keep their signatures.

mod cards;
mod charges;
mod checkout;
mod checkout_complete;
mod checkout_expiry;
mod checkout_items;
mod checkout_page;
mod disputes;
mod intents;
mod payment_error;
mod payment_intents;
mod payment_methods;
mod refunds;

use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::events::Cause;
use crate::state::{Objects, Sim};

pub use payment_error::PayError;

/// `/v1` routes served by this module (mounted under `/v1`).
pub fn routes() -> Router<Sim> {
    use payment_intents as pi;
    use payment_methods as pm;
    Router::new()
        .route("/payment_methods", get(pm::list).post(pm::create))
        .route("/payment_methods/{id}", get(pm::retrieve).post(pm::update))
        .route("/payment_methods/{id}/attach", post(pm::attach_handler))
        .route("/payment_methods/{id}/detach", post(pm::detach_handler))
        .route(
            "/customers/{id}/payment_methods",
            get(pm::list_for_customer),
        )
        .route("/payment_intents", get(pi::list).post(pi::create))
        .route("/payment_intents/{id}", get(pi::retrieve).post(pi::update))
        .route("/payment_intents/{id}/confirm", post(pi::confirm))
        .route("/payment_intents/{id}/capture", post(pi::capture))
        .route("/payment_intents/{id}/cancel", post(pi::cancel))
        .route("/charges", get(charges::list))
        .route("/charges/{id}", get(charges::retrieve))
        .route("/refunds", get(refunds::list).post(refunds::create))
        .route(
            "/refunds/{id}",
            get(refunds::retrieve).post(refunds::update),
        )
        .route("/refunds/{id}/cancel", post(refunds::cancel))
        .route("/disputes", get(disputes::list))
        .route(
            "/disputes/{id}",
            get(disputes::retrieve).post(disputes::update),
        )
        .route("/disputes/{id}/close", post(disputes::close))
        .route(
            "/checkout/sessions",
            get(checkout::list).post(checkout::create),
        )
        .route("/checkout/sessions/{id}", get(checkout::retrieve))
        .route(
            "/checkout/sessions/{id}/expire",
            post(checkout_expiry::expire_handler),
        )
        .route(
            "/checkout/sessions/{id}/line_items",
            get(checkout::line_items_handler),
        )
}

/// Hosted pages (outside `/v1`, no API key): the Checkout page.
pub fn pages() -> Router<Sim> {
    Router::new().route(
        "/checkout/{id}",
        get(checkout_page::show).post(checkout_page::submit),
    )
}

/// A payment to collect off-session (renewals, invoice pay, subscription
/// create) or on-session (Checkout).
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub customer: Option<String>,
    pub payment_method: String,
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub metadata: Value,
    /// Reuse this payment intent (dunning retries reuse the invoice's PI).
    pub existing_intent: Option<String>,
}

/// A successful payment.
#[derive(Debug, Clone)]
pub struct Collected {
    pub payment_intent: String,
    pub charge: String,
}

/// A declined payment: the intent (back to `requires_payment_method`,
/// `last_payment_error` set) and the card error Stripe would answer with.
#[derive(Debug, Clone)]
pub struct Declined {
    pub payment_intent: String,
    pub charge: Option<String>,
    pub error: StripeError,
}

/// Charges `request`: creates (or reuses) the payment intent and a charge,
/// emitting `payment_intent.created`, then `charge.succeeded` +
/// `payment_intent.succeeded`, or `charge.failed` +
/// `payment_intent.payment_failed`, as the card behaves.
///
/// The charge is off-session (no 3D Secure prompt: cards that need it are
/// declined with `authentication_required`). A magic id (`pm_card_visa`)
/// is turned into a stored payment method first. If the payment method is
/// unknown or unusable, the intent (when one exists) is left as it was and
/// the error is the invalid-request error.
pub fn collect(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    request: PaymentRequest,
) -> Result<Collected, Box<Declined>> {
    let declined = |payment_intent: &str, error: StripeError| {
        Box::new(Declined {
            payment_intent: payment_intent.to_owned(),
            charge: None,
            error,
        })
    };
    let existing = request.existing_intent.clone().unwrap_or_default();
    let pm = payment_methods::resolve(objects, &request.payment_method, "payment_method")
        .map_err(|e| declined(&existing, e))?;
    let id = match &request.existing_intent {
        Some(id) => {
            let customer = request.customer.clone();
            objects
                .payment_intents
                .update("payment_intent", id, |pi| {
                    if pi["customer"].is_null() {
                        pi["customer"] = json!(customer);
                    }
                    // A retry charges what is due now.
                    if intents::CONFIRMABLE.iter().any(|s| pi["status"] == *s) {
                        pi["amount"] = json!(request.amount);
                    }
                    Ok(())
                })
                .map_err(|e| declined(id, e))?;
            id.clone()
        }
        None => {
            let intent = intents::build(
                at,
                intents::NewIntent {
                    amount: request.amount,
                    currency: request.currency.clone(),
                    customer: request.customer.clone(),
                    description: request.description.clone(),
                    metadata: request.metadata.clone(),
                    ..intents::NewIntent::default()
                },
            );
            intents::insert(objects, cause, at, &intent);
            intent["id"].as_str().unwrap_or_default().to_owned()
        }
    };
    match intents::confirm(objects, cause, at, &id, &pm, true) {
        Ok(intent) => Ok(Collected {
            payment_intent: id,
            charge: intent["latest_charge"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }),
        Err(failure) => Err(Box::new(Declined {
            payment_intent: id,
            charge: failure.0.charge,
            error: failure.0.error,
        })),
    }
}

/// The card error a charge to `payment_method` would meet, without
/// charging; `None` when it would succeed.
/// The charge is judged off-session, as `collect` makes it; an unknown
/// payment method is its `resource_missing` error.
pub fn would_decline(objects: &Objects, payment_method: &str) -> Option<StripeError> {
    match payment_methods::number_for(objects, payment_method) {
        Some(number) => cards::behaviour(&number)
            .charge_decline()
            .map(|d| d.error()),
        None => Some(
            StripeError::no_such("PaymentMethod", payment_method, "payment_method")
                .with_status_400(),
        ),
    }
}

/// Creates a card payment method from a raw test card number and attaches
/// it to `customer` (emitting `payment_method.attached`). Cards declined on
/// attach return their card error and create nothing.
/// A magic id (`pm_card_visa`) is accepted in place of a number.
pub fn card_for_customer(
    objects: &mut Objects,
    cause: &Cause,
    at: i64,
    number: &str,
    customer: &str,
) -> Result<String, StripeError> {
    let number = match cards::magic_number(number) {
        Some(n) => n.to_owned(),
        None => cards::normalize_number(number).map_err(|d| d.error())?,
    };
    if let Some(decline) = cards::behaviour(&number).attach_decline() {
        return Err(decline.error());
    }
    if objects.customers.get(customer).is_none() {
        return Err(StripeError::no_such("customer", customer, "customer").with_status_400());
    }
    let pm = payment_methods::build(&number, 12, 1970 + at / 31_556_952 + 5, at);
    let id = pm["id"].as_str().unwrap_or_default().to_owned();
    objects.payment_methods.insert(id.clone(), pm);
    payment_methods::attach(objects, cause, &id, customer)?;
    Ok(id)
}

/// Expires open Checkout sessions on `clock` whose `expires_at` ≤ `until`.
pub fn expire_due(objects: &mut Objects, clock: Option<&str>, until: i64) {
    checkout_expiry::expire_due(objects, clock, until);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_customer() -> Objects {
        let mut objects = Objects::default();
        objects.customers.insert(
            "cus_1".into(),
            json!({ "id": "cus_1", "object": "customer", "test_clock": null,
                    "invoice_settings": { "default_payment_method": null } }),
        );
        objects
    }

    fn request(pm: &str, existing: Option<&str>) -> PaymentRequest {
        PaymentRequest {
            customer: Some("cus_1".into()),
            payment_method: pm.into(),
            amount: 1200,
            currency: "usd".into(),
            description: Some("Subscription creation".into()),
            metadata: Value::Null,
            existing_intent: existing.map(str::to_owned),
        }
    }

    fn types(objects: &Objects) -> Vec<String> {
        let mut types: Vec<String> = objects
            .events
            .newest_first()
            .filter_map(|e| e["type"].as_str().map(str::to_owned))
            .collect();
        types.reverse();
        types
    }

    #[test]
    fn collect_charges_a_saved_card() {
        let mut objects = with_customer();
        let cause = Cause::automatic();
        let pm = card_for_customer(&mut objects, &cause, 100, "4242424242424242", "cus_1")
            .expect("attached");
        assert!(would_decline(&objects, &pm).is_none());
        let paid = collect(&mut objects, &cause, 100, request(&pm, None)).expect("paid");
        let intent = objects
            .payment_intents
            .get(&paid.payment_intent)
            .expect("pi");
        assert_eq!(intent["status"], "succeeded");
        assert_eq!(intent["customer"], "cus_1");
        assert_eq!(intent["latest_charge"], paid.charge.as_str());
        assert_eq!(
            types(&objects),
            [
                "payment_method.attached",
                "payment_intent.created",
                "charge.succeeded",
                "payment_intent.succeeded"
            ]
        );
    }

    #[test]
    fn collect_declines_and_retries_on_the_same_intent() {
        let mut objects = with_customer();
        let cause = Cause::automatic();
        let pm = card_for_customer(
            &mut objects,
            &cause,
            100,
            "pm_card_chargeCustomerFail",
            "cus_1",
        )
        .expect("0341 attaches");
        let error = would_decline(&objects, &pm).expect("declines");
        assert_eq!(error.code, Some("card_declined"));
        let declined =
            collect(&mut objects, &cause, 100, request(&pm, None)).expect_err("declined");
        assert_eq!(
            declined.error.status,
            axum::http::StatusCode::PAYMENT_REQUIRED
        );
        assert_eq!(declined.error.decline_code, Some("generic_decline"));
        assert!(declined
            .charge
            .as_deref()
            .is_some_and(|c| c.starts_with("ch_")));
        let pi = declined.payment_intent.clone();
        assert_eq!(
            objects.payment_intents.get(&pi).expect("pi")["status"],
            "requires_payment_method"
        );
        let paid = collect(
            &mut objects,
            &cause,
            200,
            request("pm_card_visa", Some(&pi)),
        )
        .expect("a good card pays the same intent");
        assert_eq!(paid.payment_intent, pi);
        assert_eq!(
            objects.payment_intents.get(&pi).expect("pi")["status"],
            "succeeded"
        );
    }

    #[test]
    fn refused_cards_are_not_attached() {
        let mut objects = with_customer();
        let cause = Cause::automatic();
        let error = card_for_customer(&mut objects, &cause, 100, "4000000000000002", "cus_1")
            .expect_err("declined");
        assert_eq!(error.decline_code, Some("generic_decline"));
        assert!(objects.payment_methods.is_empty());
        assert!(objects.events.is_empty());
        assert!(would_decline(&objects, "pm_unknown").is_some());
    }
}
