//! The two names the catalog gives things: a product's key (also its
//! entitlement key) and a price's Stripe `lookup_key`.

use std::fmt;

macro_rules! catalog_key {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $extra:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(into = "String")]
        pub struct $name(String);

        impl $name {
            /// Lowercase ASCII letters, digits, `_`, `-` (and the extras),
            /// starting with a letter or digit.
            pub fn parse(value: &str) -> Result<Self, String> {
                let ok = !value.is_empty()
                    && value.len() <= $max
                    && value.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    && value.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || $extra.as_bytes().contains(&b)
                    });
                if ok {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(format!(
                        "`{}` is not a valid {}: use 1 to {} lowercase letters, digits, `_` or `-`",
                        value.chars().take(64).collect::<String>(),
                        $what,
                        $max
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl From<$name> for String {
            fn from(key: $name) -> String {
                key.0
            }
        }
    };
}

catalog_key!(
    /// A product's key, e.g. `pro`: its entitlement key and part of its
    /// Stripe product id.
    PlanKey,
    "product key",
    40,
    ""
);

catalog_key!(
    /// A price's Stripe `lookup_key`, e.g. `pro_monthly`.
    LookupKey,
    "lookup key",
    200,
    "."
);
