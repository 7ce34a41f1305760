//! Lenient field readers: a bundle's field of the wrong type reads as absent instead
//! of failing the whole file, and a bad element of a list is left out.
//!
//! Use on every field of a contract struct:
//! `#[serde(default, deserialize_with = "lenient::opt")]` for an `Option<T>`,
//! `#[serde(default, deserialize_with = "lenient::vec")]` for a `Vec<T>`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An `Option<T>` that is `None` when the value is null or not a `T`.
pub fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    Ok(T::deserialize(v).ok())
}

/// A `Vec<T>` of the elements that are a `T`; empty when the value is not a list.
pub fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|x| T::deserialize(x).ok())
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, Default)]
    #[serde(default)]
    struct T {
        #[serde(deserialize_with = "opt")]
        n: Option<u64>,
        #[serde(deserialize_with = "vec")]
        xs: Vec<u8>,
    }

    #[test]
    fn wrong_types_read_as_absent() {
        let t: T = serde_json::from_str(r#"{"n": "seven", "xs": [1, "two", 3, 300]}"#).unwrap();
        assert_eq!(t.n, None);
        assert_eq!(t.xs, vec![1, 3]);
        let t: T = serde_json::from_str(r#"{"n": 7, "xs": {"a": 1}}"#).unwrap();
        assert_eq!(t.n, Some(7));
        assert!(t.xs.is_empty());
        let t: T = serde_json::from_str("{}").unwrap();
        assert_eq!(t.n, None);
    }
}
