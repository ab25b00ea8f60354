//! The benchmark's events: realistic `customer.subscription.updated`
//! envelopes, shared by both modes so the reference writes exactly what the
//! webhook mode sends.

use serde_json::json;

/// How many distinct subscriptions (and customers) a run touches.
pub const OBJECTS: u64 = 1000;
/// One billing month, in seconds.
const PERIOD: i64 = 2_592_000;

/// One generated event, already serialised.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    pub subscription_id: String,
    pub customer_id: String,
    pub created: i64,
    /// The whole envelope, byte for byte what goes on the wire.
    pub body: String,
    /// Just `data.object`, what a projection row would keep.
    pub object: String,
}

/// Accepts only run ids made of `[A-Za-z0-9_]`, so every derived id is too.
pub fn check_run_id(run_id: &str) -> Result<(), String> {
    if run_id.is_empty() || run_id.len() > 64 {
        return Err("run id must be 1 to 64 characters".into());
    }
    if !run_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(format!("run id {run_id:?} may only contain [A-Za-z0-9_]"));
    }
    Ok(())
}

/// Builds event number `i` of run `run_id`, created at `ts` (unix seconds).
pub fn build(run_id: &str, i: u64, ts: i64) -> Event {
    let n = i % OBJECTS;
    let id = format!("evt_{run_id}_{i}");
    let subscription_id = format!("sub_{run_id}_{n}");
    let customer_id = format!("cus_{run_id}_{n}");
    let object = json!({
        "id": subscription_id,
        "object": "subscription",
        "customer": customer_id,
        "status": "active",
        "cancel_at_period_end": false,
        "created": ts,
        "items": {
            "object": "list",
            "data": [{
                "id": format!("si_{run_id}_{n}"),
                "object": "subscription_item",
                "quantity": 1,
                "current_period_start": ts,
                "current_period_end": ts + PERIOD,
                "price": {
                    "id": "price_bench",
                    "object": "price",
                    "currency": "usd",
                    "unit_amount": 2000,
                    "recurring": {"interval": "month", "interval_count": 1}
                }
            }]
        },
        "metadata": {"user_id": format!("u_{n}")}
    });
    let envelope = json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": ts,
        "livemode": false,
        "type": "customer.subscription.updated",
        "data": {"object": object}
    });
    Event {
        id,
        subscription_id,
        customer_id,
        created: ts,
        body: envelope.to_string(),
        object: object.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_run_and_wrap_objects() {
        let e = build("r1", 1234, 1_700_000_000);
        assert_eq!(e.id, "evt_r1_1234");
        assert_eq!(e.subscription_id, "sub_r1_234");
        assert_eq!(e.customer_id, "cus_r1_234");
        let v: serde_json::Value = serde_json::from_str(&e.body).expect("json");
        assert_eq!(v["type"], "customer.subscription.updated");
        assert_eq!(v["data"]["object"]["items"]["data"][0]["id"], "si_r1_234");
        assert_eq!(
            v["data"]["object"]["items"]["data"][0]["current_period_end"],
            1_700_000_000_i64 + PERIOD
        );
        assert_eq!(v["data"]["object"]["metadata"]["user_id"], "u_234");
        let o: serde_json::Value = serde_json::from_str(&e.object).expect("json");
        assert_eq!(o, v["data"]["object"]);
    }

    #[test]
    fn run_ids_are_restricted() {
        assert!(check_run_id("abc_123").is_ok());
        assert!(check_run_id("").is_err());
        assert!(check_run_id("a-b").is_err());
        assert!(check_run_id("a b").is_err());
    }
}
