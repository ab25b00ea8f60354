//! Stripe list objects and cursor pagination.
//!
//! Lists are newest first. `starting_after` pages towards older objects,
//! `ending_before` towards newer ones (still returned newest first), and
//! `has_more` must be exact or the SDKs' auto-paging never ends.

use serde_json::{json, Value};

use crate::error::StripeError;
use crate::params::Params;
use crate::state::Collection;

/// Parameters every list endpoint accepts.
pub const LIST_PARAMS: &[&str] = &[
    "limit",
    "starting_after",
    "ending_before",
    "expand",
    "created",
];

/// The `created` filter: `created=<unix>` or `created[gt|gte|lt|lte]=<unix>`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Created {
    gt: Option<i64>,
    gte: Option<i64>,
    lt: Option<i64>,
    lte: Option<i64>,
}

impl Created {
    pub fn from_params(params: &Params) -> Result<Self, StripeError> {
        if let Some(Value::String(_)) = params.0.get("created") {
            let at = params.integer("created")?;
            return Ok(Self {
                gte: at,
                lte: at,
                ..Self::default()
            });
        }
        let Some(range) = params.hash("created")? else {
            return Ok(Self::default());
        };
        let bound = |op: &str| {
            range
                .integer(op)
                .map_err(|e| e.with_param(format!("created[{op}]")))
        };
        if let Some(unknown) = range
            .0
            .keys()
            .find(|k| !["gt", "gte", "lt", "lte"].contains(&k.as_str()))
        {
            return Err(StripeError::unknown_param(&format!("created[{unknown}]")));
        }
        Ok(Self {
            gt: bound("gt")?,
            gte: bound("gte")?,
            lt: bound("lt")?,
            lte: bound("lte")?,
        })
    }

    /// Whether `object` was created inside the range.
    pub fn admits(&self, object: &Value) -> bool {
        let Some(at) = object["created"].as_i64() else {
            return false;
        };
        self.gt.is_none_or(|b| at > b)
            && self.gte.is_none_or(|b| at >= b)
            && self.lt.is_none_or(|b| at < b)
            && self.lte.is_none_or(|b| at <= b)
    }
}

/// Builds one page of `items` (already filtered, newest first).
pub fn page(items: &[Value], params: &Params, url: &str) -> Result<Value, StripeError> {
    let limit = match params.integer("limit")? {
        None => 10,
        Some(n @ 1..=100) => n.unsigned_abs() as usize,
        Some(n) => {
            return Err(StripeError::invalid(format!(
                "Invalid limit: must be between 1 and 100 (got {n})"
            ))
            .with_param("limit"))
        }
    };
    let after = params.string("starting_after")?.filter(|s| !s.is_empty());
    let before = params.string("ending_before")?.filter(|s| !s.is_empty());
    let position = |param: &str, id: &str| {
        items.iter().position(|o| o["id"] == id).ok_or_else(|| {
            StripeError::invalid(format!("No such object for {param}: '{id}'"))
                .with_code("resource_missing")
                .with_param(param)
        })
    };
    let (data, has_more) = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(StripeError::invalid(
                "You may only specify one of these parameters: ending_before, starting_after.",
            )
            .with_param("ending_before"))
        }
        (Some(id), None) => {
            let start = position("starting_after", &id)? + 1;
            let end = (start + limit).min(items.len());
            (&items[start..end], end < items.len())
        }
        (None, Some(id)) => {
            let end = position("ending_before", &id)?;
            let start = end.saturating_sub(limit);
            (&items[start..end], start > 0)
        }
        (None, None) => {
            let end = limit.min(items.len());
            (&items[..end], end < items.len())
        }
    };
    Ok(json!({ "object": "list", "url": url, "has_more": has_more, "data": data }))
}

/// The objects of `collection`, newest first, that the `created` filter
/// admits and `keep` (the endpoint's own filters) accepts.
pub fn matching(
    collection: &Collection,
    created: &Created,
    keep: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    collection
        .newest_first()
        .filter(|object| created.admits(object) && keep(object))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn items(n: usize) -> Vec<Value> {
        (0..n)
            .rev()
            .map(|i| json!({ "id": format!("o{i}") }))
            .collect()
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        let mut map = Map::new();
        for (k, v) in pairs {
            map.insert((*k).into(), json!(v));
        }
        Params(map)
    }

    fn ids(page: &Value) -> Vec<String> {
        page["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn default_limit_and_has_more() {
        let page = page(&items(12), &params(&[]), "/v1/x").expect("page");
        assert_eq!(ids(&page).len(), 10);
        assert_eq!(page["has_more"], true);
        assert_eq!(ids(&page)[0], "o11");
    }

    #[test]
    fn cursors() {
        let all = items(5);
        let after = page(
            &all,
            &params(&[("limit", "2"), ("starting_after", "o3")]),
            "/",
        )
        .expect("page");
        assert_eq!(ids(&after), ["o2", "o1"]);
        assert_eq!(after["has_more"], true);
        let before = page(
            &all,
            &params(&[("limit", "2"), ("ending_before", "o1")]),
            "/",
        )
        .expect("page");
        assert_eq!(ids(&before), ["o3", "o2"]);
        assert_eq!(before["has_more"], true);
    }

    #[test]
    fn bad_limits_and_cursors() {
        for limit in ["0", "101", "abc"] {
            let err = page(&items(1), &params(&[("limit", limit)]), "/").expect_err("bad limit");
            assert_eq!(err.param.as_deref(), Some("limit"));
        }
        let err = page(&items(1), &params(&[("starting_after", "nope")]), "/").expect_err("cursor");
        assert_eq!(err.param.as_deref(), Some("starting_after"));
    }
}
