//! `POST /v1/billing_portal/sessions`: a session whose `url` opens the
//! sim's hosted portal page (`portal_page`). Creating one emits nothing, as
//! in Stripe; Stripe has no retrieve or list for sessions either.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::StripeError;
use crate::ids::{new_id, PORTAL_SESSION};
use crate::params::{or_null, Params};
use crate::state::Sim;

/// The configuration every session uses unless one is named.
const DEFAULT_CONFIGURATION: &str = "bpc_sim_default";

pub async fn create(State(sim): State<Sim>, params: Params) -> Result<Json<Value>, StripeError> {
    params.only(&[
        "customer",
        "return_url",
        "configuration",
        "flow_data",
        "locale",
        "on_behalf_of",
        "expand",
    ])?;
    let customer = params.required("customer")?;
    let return_url = or_null(params.string("return_url")?);
    let configuration = params
        .string("configuration")?
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| DEFAULT_CONFIGURATION.to_owned());
    if !configuration.starts_with("bpc_") {
        return Err(StripeError::no_such(
            "billing portal configuration",
            &configuration,
            "configuration",
        )
        .with_status_400());
    }
    if let Some(flow) = params.hash("flow_data")? {
        let kind = flow
            .required("type")
            .map_err(|_| StripeError::missing_param("flow_data[type]"))?;
        let known = [
            "payment_method_update",
            "subscription_cancel",
            "subscription_update",
            "subscription_update_confirm",
        ];
        if !known.contains(&kind.as_str()) {
            return Err(StripeError::invalid(format!(
                "Invalid flow_data[type]: must be one of {}",
                known.join(", ")
            ))
            .with_param("flow_data[type]"));
        }
    }
    let mut objects = sim.objects();
    if objects.customers.get(&customer).is_none() {
        return Err(StripeError::no_such("customer", &customer, "customer").with_status_400());
    }
    let id = new_id(PORTAL_SESSION);
    let session = json!({
        "id": id, "object": "billing_portal.session", "configuration": configuration,
        "created": objects.now_for_customer(Some(&customer)), "customer": customer,
        "flow": null, "livemode": false, "locale": null, "on_behalf_of": null,
        "return_url": return_url,
        "url": format!("{}/portal/{id}", sim.settings().public_url)
    });
    objects.portal_sessions.insert(id, session.clone());
    Ok(Json(session))
}
