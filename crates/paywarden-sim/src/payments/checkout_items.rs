//! Checkout line items: `line_items[i][price]` or inline
//! `line_items[i][price_data]`, checked as Stripe checks them (active
//! prices, quantities, recurring prices only in subscription mode, one
//! currency and one billing interval per session).

use serde_json::{json, Value};

use crate::error::StripeError;
use crate::ids::{new_id, CHECKOUT_LINE_ITEM, PRICE, PRODUCT};
use crate::params::{or_null, Params};
use crate::state::Objects;

/// One validated line item, and the inline price/product it brings.
pub struct Item {
    pub line: Value,
    pub new_price: Option<Value>,
    pub new_product: Option<Value>,
}

fn item_param(i: usize, field: &str) -> String {
    format!("line_items[{i}][{field}]")
}

/// Renames an error about `field` inside a hash to its full name.
pub fn nested(prefix: String) -> impl Fn(StripeError) -> StripeError {
    move |e| {
        let param = e.param.clone().unwrap_or_default();
        let full = match param.find('[') {
            Some(at) => format!("{prefix}[{}]{}", &param[..at], &param[at..]),
            None => format!("{prefix}[{param}]"),
        };
        if e.code == Some("parameter_unknown") {
            StripeError::unknown_param(&full)
        } else if e.code == Some("parameter_missing") {
            StripeError::missing_param(&full)
        } else {
            e.with_param(full)
        }
    }
}

fn inline_price(
    objects: &Objects,
    i: usize,
    data: &Params,
    at: i64,
) -> Result<(Value, Option<Value>), StripeError> {
    let prefix = item_param(i, "price_data");
    let rename = nested(prefix.clone());
    data.only(&[
        "currency",
        "unit_amount",
        "unit_amount_decimal",
        "product",
        "product_data",
        "recurring",
        "tax_behavior",
    ])
    .map_err(&rename)?;
    let currency = data.required("currency").map_err(&rename)?;
    let unit_amount = match data.integer("unit_amount").map_err(&rename)? {
        Some(n) => n,
        None => match data.string("unit_amount_decimal").map_err(&rename)? {
            None => {
                return Err(StripeError::missing_param(&format!(
                    "{prefix}[unit_amount]"
                )))
            }
            // The sim keeps whole units; the fraction is dropped.
            Some(decimal) => decimal
                .split('.')
                .next()
                .and_then(|whole| whole.parse::<i64>().ok())
                .ok_or_else(|| {
                    StripeError::invalid(format!("Invalid decimal: {decimal}"))
                        .with_param(format!("{prefix}[unit_amount_decimal]"))
                })?,
        },
    };
    if unit_amount < 0 {
        return Err(StripeError::invalid(
            "Invalid non-negative integer: unit_amount must be at least 0",
        )
        .with_param(format!("{prefix}[unit_amount]")));
    }
    let (product_id, new_product) = match (
        data.string("product").map_err(&rename)?,
        data.hash("product_data").map_err(&rename)?,
    ) {
        (Some(p), None) if !p.is_empty() => {
            if objects.products.get(&p).is_none() {
                return Err(
                    StripeError::no_such("product", &p, &format!("{prefix}[product]"))
                        .with_status_400(),
                );
            }
            (p, None)
        }
        (None, Some(pd)) => {
            let rename = nested(format!("{prefix}[product_data]"));
            pd.only(&["name", "description", "metadata", "images", "tax_code"])
                .map_err(&rename)?;
            let name = pd.required("name").map_err(&rename)?;
            let id = new_id(PRODUCT);
            let mut product = json!({
                "id": id, "object": "product", "active": true, "created": at, "livemode": false,
                "name": name, "description": or_null(pd.string("description")?),
                "metadata": {}, "images": [], "type": "service", "default_price": null,
                "marketing_features": [], "package_dimensions": null, "shippable": null,
                "statement_descriptor": null, "tax_code": null, "unit_label": null,
                "updated": at, "url": null,
            });
            pd.apply_metadata(&mut product).map_err(&rename)?;
            (id, Some(product))
        }
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: product, product_data.",
            )
            .with_param(format!("{prefix}[product_data]")))
        }
        _ => return Err(StripeError::missing_param(&format!("{prefix}[product]"))),
    };
    let recurring = match data.hash("recurring").map_err(&rename)? {
        None => Value::Null,
        Some(r) => {
            let rename = nested(format!("{prefix}[recurring]"));
            r.only(&["interval", "interval_count"]).map_err(&rename)?;
            let interval = r.required("interval").map_err(&rename)?;
            if !["day", "week", "month", "year"].contains(&interval.as_str()) {
                return Err(StripeError::invalid(
                    "Invalid recurring[interval]: must be one of day, week, month, or year",
                )
                .with_param(format!("{prefix}[recurring][interval]")));
            }
            let count = r.integer("interval_count").map_err(&rename)?.unwrap_or(1);
            json!({ "interval": interval, "interval_count": count.max(1),
                    "usage_type": "licensed", "meter": null, "trial_period_days": null })
        }
    };
    let price = json!({
        "id": new_id(PRICE), "object": "price", "active": false, "created": at,
        "livemode": false, "currency": currency.to_ascii_lowercase(), "product": product_id,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "unit_amount": unit_amount, "unit_amount_decimal": unit_amount.to_string(),
        "billing_scheme": "per_unit", "recurring": recurring, "lookup_key": null,
        "nickname": null, "metadata": {}, "tax_behavior": "unspecified", "tiers_mode": null,
        "transform_quantity": null, "custom_unit_amount": null,
    });
    Ok((price, new_product))
}

fn line_item(objects: &Objects, i: usize, raw: &Value, at: i64) -> Result<Item, StripeError> {
    let Value::Object(map) = raw else {
        return Err(
            StripeError::invalid(format!("Invalid hash: line_items[{i}]"))
                .with_param(format!("line_items[{i}]")),
        );
    };
    let item = Params(map.clone());
    let rename = nested(format!("line_items[{i}]"));
    item.only(&[
        "price",
        "price_data",
        "quantity",
        "adjustable_quantity",
        "tax_rates",
    ])
    .map_err(&rename)?;
    let quantity = item
        .integer("quantity")
        .map_err(&rename)?
        .ok_or_else(|| StripeError::missing_param(&item_param(i, "quantity")))?;
    if quantity < 1 {
        return Err(
            StripeError::invalid("Invalid positive integer: quantity must be at least 1")
                .with_param(item_param(i, "quantity")),
        );
    }
    let (price, new_product) = match (
        item.string("price").map_err(&rename)?,
        item.hash("price_data").map_err(&rename)?,
    ) {
        (Some(id), None) if !id.is_empty() => {
            let param = item_param(i, "price");
            let price = objects
                .prices
                .get(&id)
                .cloned()
                .ok_or_else(|| StripeError::no_such("price", &id, &param).with_status_400())?;
            if price["active"] != true {
                return Err(StripeError::invalid(format!(
                    "The price specified ({id}) is inactive. This field only accepts active prices."
                ))
                .with_param(param));
            }
            (price, None)
        }
        (None, Some(data)) => {
            let (price, product) = inline_price(objects, i, &data, at)?;
            (price, product)
        }
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: price, price_data.",
            )
            .with_param(item_param(i, "price_data")))
        }
        _ => return Err(StripeError::missing_param(&item_param(i, "price"))),
    };
    let product_name = new_product
        .as_ref()
        .map(|p| p["name"].clone())
        .or_else(|| {
            price["product"]
                .as_str()
                .and_then(|p| objects.products.get(p))
                .map(|p| p["name"].clone())
        })
        .unwrap_or(Value::Null);
    let amount = price["unit_amount"]
        .as_i64()
        .unwrap_or(0)
        .saturating_mul(quantity);
    let line = json!({
        "id": new_id(CHECKOUT_LINE_ITEM), "object": "item",
        "amount_discount": 0, "amount_subtotal": amount, "amount_tax": 0, "amount_total": amount,
        "currency": price["currency"], "description": product_name, "metadata": {},
        "price": price, "quantity": quantity,
    });
    let new_price = if new_product.is_some() || price["active"] == false {
        Some(line["price"].clone())
    } else {
        None
    };
    Ok(Item {
        line,
        new_price,
        new_product,
    })
}

pub fn line_items(objects: &Objects, params: &Params, at: i64) -> Result<Vec<Item>, StripeError> {
    let raw = match params.0.get("line_items") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(StripeError::invalid("Invalid array: line_items").with_param("line_items"))
        }
    };
    raw.iter()
        .enumerate()
        .map(|(i, item)| line_item(objects, i, item, at))
        .collect()
}

/// Checks line items against the mode, as Stripe does.
pub fn check_mode(mode: &str, items: &[Item]) -> Result<(), StripeError> {
    if items.is_empty() {
        return Err(StripeError::missing_param("line_items"));
    }
    let recurring = items.iter().any(|i| i.line["price"]["type"] == "recurring");
    if mode == "payment" && recurring {
        return Err(StripeError::invalid(
            "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
        )
        .with_param("line_items"));
    }
    if mode == "subscription" && !recurring {
        return Err(StripeError::invalid(
            "You must provide at least one recurring price in `subscription` mode when using prices.",
        )
        .with_param("line_items"));
    }
    let mut intervals = items
        .iter()
        .map(|i| &i.line["price"]["recurring"])
        .filter(|r| !r.is_null())
        .map(|r| (&r["interval"], &r["interval_count"]));
    if let Some(first) = intervals.next() {
        if intervals.any(|other| other != first) {
            return Err(StripeError::invalid(
                "All recurring prices in a Checkout Session must have the same billing interval.",
            )
            .with_param("line_items"));
        }
    }
    let currency = &items[0].line["currency"];
    if items.iter().any(|i| &i.line["currency"] != currency) {
        return Err(
            StripeError::invalid("All line items must use the same currency.")
                .with_param("line_items"),
        );
    }
    Ok(())
}
/// The line items kept on a session.
pub fn items_of(session: &Value) -> Vec<Value> {
    session["_sim"]["line_items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
