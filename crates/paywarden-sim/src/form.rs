//! Stripe's form encoding, decoded into a JSON tree.
//!
//! The SDKs send every parameter as `application/x-www-form-urlencoded`
//! with bracket paths (`metadata[k]=v`, `line_items[0][price]=p`,
//! `expand[]=a`); GET and DELETE put the same encoding in the query string,
//! sometimes with the brackets percent-encoded. Values stay strings here: an
//! empty string means "unset", and each endpoint coerces types itself so that
//! its error can name the parameter. Input is untrusted, so every shape the
//! tree cannot hold is a [`FormError`], never a panic, and sizes are bounded.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Largest body or query string decoded, in bytes.
pub const MAX_INPUT: usize = 256 * 1024;
/// Longest key, in bytes.
pub const MAX_KEY: usize = 512;
/// Most bracket segments after the name.
pub const MAX_DEPTH: usize = 8;
/// Largest array index accepted (`k[999]`).
pub const MAX_INDEX: usize = 999;
/// Most `key=value` pairs.
pub const MAX_PAIRS: usize = 2_000;

/// Why a form could not be decoded; each names the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("The request is larger than {MAX_INPUT} bytes.")]
    TooLarge,
    #[error("The request has more than {MAX_PAIRS} parameters.")]
    TooManyParams,
    #[error("Invalid parameter name: {0}")]
    Malformed(String),
    #[error("Parameter name is longer than {MAX_KEY} characters: {0}")]
    KeyTooLong(String),
    #[error("Parameter {0} is nested deeper than {MAX_DEPTH} levels.")]
    TooDeep(String),
    #[error("Parameter {0} has an array index above {MAX_INDEX}.")]
    IndexTooLarge(String),
    #[error("Parameter {0} is given both as a value and as a hash or array.")]
    Conflict(String),
}

impl FormError {
    /// The parameter this error is about, if any.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::TooLarge | Self::TooManyParams => None,
            Self::Malformed(p)
            | Self::KeyTooLong(p)
            | Self::TooDeep(p)
            | Self::IndexTooLarge(p)
            | Self::Conflict(p) => Some(p),
        }
    }
}

/// The tree while it is being built: maps keyed by segment. Maps whose keys
/// are all indices become arrays at the end.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
}

/// Decodes `input` (a body or a query string) into a map of strings, nested
/// maps and arrays.
pub fn decode(input: &str) -> Result<Map<String, Value>, FormError> {
    let mut root = BTreeMap::new();
    decode_into(&mut root, input)?;
    Ok(finish_map(root))
}

/// Decodes a query string and a body together, the body winning on a clash.
pub fn decode_both(query: &str, body: &str) -> Result<Map<String, Value>, FormError> {
    if query.len().saturating_add(body.len()) > MAX_INPUT {
        return Err(FormError::TooLarge);
    }
    let mut root = BTreeMap::new();
    decode_into(&mut root, query)?;
    decode_into(&mut root, body)?;
    Ok(finish_map(root))
}

fn decode_into(root: &mut BTreeMap<String, Node>, input: &str) -> Result<(), FormError> {
    if input.len() > MAX_INPUT {
        return Err(FormError::TooLarge);
    }
    for (n, (key, value)) in url::form_urlencoded::parse(input.as_bytes()).enumerate() {
        if n >= MAX_PAIRS {
            return Err(FormError::TooManyParams);
        }
        if key.is_empty() && value.is_empty() {
            continue;
        }
        insert(root, &key, value.into_owned())?;
    }
    Ok(())
}

/// Splits `a[b][0][]` into `a` and `["b", "0", ""]`.
fn tokenize(key: &str) -> Result<(&str, Vec<&str>), FormError> {
    let malformed = || FormError::Malformed(key.to_owned());
    if key.len() > MAX_KEY {
        return Err(FormError::KeyTooLong(key.chars().take(64).collect()));
    }
    let (name, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if name.is_empty() || name.contains(']') {
        return Err(malformed());
    }
    let mut segments = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(malformed)?;
        let close = inner.find(']').ok_or_else(malformed)?;
        let segment = &inner[..close];
        if segment.contains('[') {
            return Err(malformed());
        }
        segments.push(segment);
        if segments.len() > MAX_DEPTH {
            return Err(FormError::TooDeep(key.to_owned()));
        }
        rest = &inner[close + 1..];
    }
    Ok((name, segments))
}

fn is_index(segment: &str) -> bool {
    !segment.is_empty() && segment.len() <= 6 && segment.bytes().all(|b| b.is_ascii_digit())
}

fn insert(root: &mut BTreeMap<String, Node>, key: &str, value: String) -> Result<(), FormError> {
    let (name, segments) = tokenize(key)?;
    let conflict = || FormError::Conflict(name.to_owned());
    let mut map = root;
    let mut current = name.to_owned();
    for segment in segments {
        let child = map
            .entry(current)
            .or_insert_with(|| Node::Branch(BTreeMap::new()));
        let Node::Branch(next) = child else {
            return Err(conflict());
        };
        map = next;
        current = if segment.is_empty() {
            // `k[]` appends: the next free index.
            map.len().to_string()
        } else {
            segment.to_owned()
        };
        if is_index(&current) && current.parse::<usize>().map_or(true, |i| i > MAX_INDEX) {
            return Err(FormError::IndexTooLarge(name.to_owned()));
        }
    }
    match map.get(&current) {
        Some(Node::Branch(_)) => Err(conflict()),
        _ => {
            map.insert(current, Node::Leaf(value));
            Ok(())
        }
    }
}

fn finish_map(map: BTreeMap<String, Node>) -> Map<String, Value> {
    map.into_iter().map(|(k, v)| (k, finish(v))).collect()
}

fn finish(node: Node) -> Value {
    match node {
        Node::Leaf(s) => Value::String(s),
        Node::Branch(map) if !map.is_empty() && map.keys().all(|k| is_index(k)) => {
            let mut items: Vec<(usize, Value)> = map
                .into_iter()
                .map(|(k, v)| (k.parse().unwrap_or(usize::MAX), finish(v)))
                .collect();
            items.sort_by_key(|(i, _)| *i);
            Value::Array(items.into_iter().map(|(_, v)| v).collect())
        }
        Node::Branch(map) => Value::Object(finish_map(map)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ok(input: &str) -> Value {
        Value::Object(decode(input).expect("decodes"))
    }

    #[test]
    fn scalars_percent_decoding_and_plus() {
        assert_eq!(
            ok("email=a%40b.c&name=Ada+Lovelace"),
            json!({"email": "a@b.c", "name": "Ada Lovelace"})
        );
    }

    #[test]
    fn metadata_hash() {
        assert_eq!(
            ok("metadata[k]=v&metadata[user_id]=42"),
            json!({"metadata": {"k": "v", "user_id": "42"}})
        );
    }

    #[test]
    fn arrays_of_objects() {
        assert_eq!(
            ok("line_items[0][price]=p&line_items[0][quantity]=2&line_items[1][price]=q"),
            json!({"line_items": [{"price": "p", "quantity": "2"}, {"price": "q"}]})
        );
        assert_eq!(ok("items[0][id]=si_1"), json!({"items": [{"id": "si_1"}]}));
    }

    #[test]
    fn empty_index_appends_and_encoded_brackets() {
        assert_eq!(ok("expand[]=a&expand[]=b"), json!({"expand": ["a", "b"]}));
        assert_eq!(
            ok("expand%5B0%5D=a&expand%5B1%5D=b"),
            json!({"expand": ["a", "b"]})
        );
    }

    #[test]
    fn indices_sort_numerically() {
        assert_eq!(ok("k[10]=c&k[2]=b&k[0]=a"), json!({"k": ["a", "b", "c"]}));
    }

    #[test]
    fn empty_value_means_unset() {
        assert_eq!(ok("pause_collection="), json!({"pause_collection": ""}));
        assert_eq!(ok(""), json!({}));
    }

    #[test]
    fn query_and_body_merge() {
        let map = decode_both("expand[]=a", "name=x").expect("decodes");
        assert_eq!(Value::Object(map), json!({"expand": ["a"], "name": "x"}));
    }

    #[test]
    fn conflicting_shapes_name_the_param() {
        assert_eq!(decode("a=1&a[b]=2"), Err(FormError::Conflict("a".into())));
        assert_eq!(decode("a[b]=2&a=1"), Err(FormError::Conflict("a".into())));
    }

    #[test]
    fn bounds_name_the_param() {
        assert_eq!(
            decode("k[1000]=x"),
            Err(FormError::IndexTooLarge("k".into()))
        );
        let deep = format!("d{}=x", "[a]".repeat(MAX_DEPTH + 1));
        assert!(matches!(decode(&deep), Err(FormError::TooDeep(_))));
        let long = format!("{}=x", "k".repeat(MAX_KEY + 1));
        assert!(matches!(decode(&long), Err(FormError::KeyTooLong(_))));
        let big = "a".repeat(MAX_INPUT + 1);
        assert_eq!(decode(&big), Err(FormError::TooLarge));
    }

    #[test]
    fn malformed_keys() {
        for bad in ["a[b=1", "[a]=1", "a]b=1", "a[b]c=1", "a[[b]]=1"] {
            assert!(matches!(decode(bad), Err(FormError::Malformed(_))), "{bad}");
        }
    }

    fn encode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        /// Whatever metadata an SDK encodes comes back as the same map.
        #[test]
        fn metadata_round_trips(
            metadata in proptest::collection::btree_map("[^\\[\\]]{1,12}", "\\PC{0,12}", 0..6)
        ) {
            let body: Vec<String> = metadata
                .iter()
                .map(|(k, v)| format!("metadata[{}]={}", encode(k), encode(v)))
                .collect();
            let decoded = decode(&body.join("&")).expect("decodes");
            let expected: Map<String, Value> = metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            if expected.is_empty() || expected.keys().all(|k| is_index(k)) {
                // All-numeric keys read as an array; empty metadata sends nothing.
                return Ok(());
            }
            prop_assert_eq!(&decoded["metadata"], &Value::Object(expected));
        }

        #[test]
        fn never_panics(input in "\\PC{0,200}") {
            let _ = decode(&input);
        }

        #[test]
        fn never_panics_on_form_like_input(input in "([a-z\\[\\]0-9%=&+]){0,120}") {
            let _ = decode(&input);
        }
    }
}
