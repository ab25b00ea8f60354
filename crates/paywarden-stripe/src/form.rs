//! Stripe's form encoding: nested params in bracket notation
//! (`metadata[plan]=pro`, `line_items[0][price]=price_1`), from any
//! `Serialize` request struct. `None` fields are left out; an empty string is
//! sent as is, which is how Stripe unsets a field (`pause_collection=`).

use serde::Serialize;
use serde_json::Value;

/// The `key=value` pairs of `params` (not yet percent-encoded): a struct's
/// fields sorted by name, array items in their order.
pub fn encode<T: Serialize>(params: &T) -> Result<Vec<(String, String)>, serde_json::Error> {
    let mut pairs = Vec::new();
    flatten(None, serde_json::to_value(params)?, &mut pairs);
    Ok(pairs)
}

fn flatten(key: Option<String>, value: Value, pairs: &mut Vec<(String, String)>) {
    let nested = |name: &str| match &key {
        Some(prefix) => format!("{prefix}[{name}]"),
        None => name.to_owned(),
    };
    match value {
        Value::Null => {}
        Value::Object(fields) => {
            for (name, field) in fields {
                flatten(Some(nested(&name)), field, pairs);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.into_iter().enumerate() {
                flatten(Some(nested(&index.to_string())), item, pairs);
            }
        }
        Value::Bool(flag) => push(key, flag.to_string(), pairs),
        Value::Number(number) => push(key, number.to_string(), pairs),
        Value::String(text) => push(key, text, pairs),
    }
}

fn push(key: Option<String>, value: String, pairs: &mut Vec<(String, String)>) {
    if let Some(key) = key {
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Item {
        price: &'static str,
        quantity: Option<u64>,
    }

    #[derive(Serialize)]
    struct Params {
        mode: &'static str,
        line_items: Vec<Item>,
        metadata: BTreeMap<&'static str, &'static str>,
        trial: Option<u32>,
        flag: bool,
        unset: &'static str,
    }

    #[test]
    fn nested_params_use_brackets_and_skip_none() -> Result<(), serde_json::Error> {
        let params = Params {
            mode: "subscription",
            line_items: vec![
                Item {
                    price: "price_1",
                    quantity: Some(2),
                },
                Item {
                    price: "price_2",
                    quantity: None,
                },
            ],
            metadata: BTreeMap::from([("user_id", "u1")]),
            trial: None,
            flag: true,
            unset: "",
        };
        let pairs = encode(&params)?;
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            text,
            [
                "flag=true",
                "line_items[0][price]=price_1",
                "line_items[0][quantity]=2",
                "line_items[1][price]=price_2",
                "metadata[user_id]=u1",
                "mode=subscription",
                "unset=",
            ]
        );
        Ok(())
    }
}
