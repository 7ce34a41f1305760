//! Reading a bundle's JSON files under byte and memory budgets (a file or a bundle
//! past them is recorded, not held).

use rcdiag_bundle::Bundle;
use rcdiag_contract::BundleFile;
use serde_json::Value;

use super::NodeData;

/// Most bytes of one JSON file read into memory (a larger file is left out, with
/// the reason, and checked by `verify_contents` like any other).
pub const MAX_JSON_BYTES: u64 = 16 << 20;
/// Most memory the values parsed from one JSON file may take (estimated: a JSON
/// value costs several times its text; `[{"a":0},...]` about 50 times).
pub const MAX_FILE_VALUE_BYTES: usize = 24 << 20;
/// Most memory the values of all JSON files of one bundle may take together.
pub const MAX_NODE_VALUE_BYTES: usize = 40 << 20;
/// The `mongodb/<command>.json` files some check or `diff` reads; others are not kept.
pub const MONGODB_COMMANDS_READ: &[&str] = &["buildInfo", "serverStatus", "replSetGetStatus"];

/// Reads `path` into its contract type `T` (see [`read_json`] for the byte and memory
/// caps): the parsed `Value` is converted with [`rcdiag_contract::from_value`] and
/// dropped. A top level of the wrong shape, or a typed form past the budget, is
/// recorded in `load_problems` and gives `None`.
pub(super) fn read_typed<T: BundleFile>(
    bundle: &mut Bundle,
    node: &mut NodeData,
    path: &str,
    budget: &mut usize,
) -> Result<Option<T>, rcdiag_bundle::Error> {
    let before = *budget;
    let Some(v) = read_json(bundle, node, path, budget)? else {
        return Ok(None);
    };
    // The typed form moves the strings and unknown fields of the `Value` but gives
    // every object of a list a struct of its own, larger than its `Value` (a
    // `docker::Container` is over a kilobyte where `{}` costs a few dozen bytes):
    // charge that too, so a file of many tiny objects stays within the budget.
    let structs = objects_in_lists(&v).saturating_mul(MAX_STRUCT_BYTES);
    let allowed = before.min(MAX_FILE_VALUE_BYTES);
    let spent = before - *budget;
    if spent.saturating_add(structs) > allowed {
        node.load_problems.insert(
            path.to_string(),
            format!(
                "its records take more than {} MiB of memory: too large to analyze",
                allowed >> 20
            ),
        );
        *budget = before;
        return Ok(None);
    }
    *budget = budget.saturating_sub(structs);
    Ok(node.typed(path, v))
}

/// The largest struct of the contract a list element becomes (`docker::Container`).
const MAX_STRUCT_BYTES: usize = {
    let c = std::mem::size_of::<rcdiag_contract::docker::Container>();
    let h = std::mem::size_of::<rcdiag_contract::host::Process>();
    let p = std::mem::size_of::<rcdiag_contract::kubernetes::Pod>();
    let w = std::mem::size_of::<rcdiag_contract::kubernetes::Workload>();
    let a = if c > h { c } else { h };
    let b = if p > w { p } else { w };
    if a > b { a } else { b }
};

/// Objects that are elements of a list, at any depth (iteratively: no recursion on
/// hostile nesting).
fn objects_in_lists(v: &Value) -> usize {
    let mut n = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => {
                n += a.iter().filter(|x| x.is_object()).count();
                stack.extend(a.iter());
            }
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    n
}

/// Reads `path` under the byte cap and parses it under the memory budget.
pub(super) fn read_json(
    bundle: &mut Bundle,
    node: &mut NodeData,
    path: &str,
    budget: &mut usize,
) -> Result<Option<Value>, rcdiag_bundle::Error> {
    if bundle.entry(path).is_none() {
        return Ok(None);
    }
    let bytes = match bundle.read_bytes(path, MAX_JSON_BYTES) {
        Ok(b) => b,
        Err(rcdiag_bundle::Error::LimitExceeded(m)) => {
            node.load_problems.insert(
                path.to_string(),
                format!("{m}: too large to analyze (see it with rcdiag-analyzer cat)"),
            );
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let allowed = (*budget).min(MAX_FILE_VALUE_BYTES);
    match parse_bounded(&bytes, allowed) {
        Ok((v, cost)) => {
            *budget = budget.saturating_sub(cost);
            Ok(Some(v))
        }
        Err(e) => {
            node.load_problems
                .insert(path.to_string(), crate::report::sanitize_line(&e));
            Ok(None)
        }
    }
}

/// Parses JSON into a `Value`, refusing it once the values would take more than
/// `budget` bytes of memory (estimated as they are built, so a hostile file never
/// gets there). Returns the value and its estimated cost.
pub fn parse_bounded(bytes: &[u8], budget: usize) -> Result<(Value, usize), String> {
    let b = bounded::Budget::new(budget);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde::de::DeserializeSeed::deserialize(bounded::Seed(&b), &mut de)
        .and_then(|v| de.end().map(|()| v));
    match v {
        Ok(v) => Ok((v, budget - b.left.get())),
        Err(_) if b.exceeded.get() => Err(format!(
            "its values take more than {} MiB of memory: too large to analyze",
            budget >> 20
        )),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// A `serde_json::Value` builder that charges every value to a memory budget.
mod bounded {
    use std::cell::Cell;

    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    /// What is left of the budget; `exceeded` once it ran out.
    pub struct Budget {
        pub left: Cell<usize>,
        pub exceeded: Cell<bool>,
    }

    impl Budget {
        pub fn new(bytes: usize) -> Self {
            Self {
                left: Cell::new(bytes),
                exceeded: Cell::new(false),
            }
        }

        fn charge<E: serde::de::Error>(&self, bytes: usize) -> Result<(), E> {
            match self.left.get().checked_sub(bytes) {
                Some(left) => {
                    self.left.set(left);
                    Ok(())
                }
                None => {
                    self.exceeded.set(true);
                    Err(E::custom("memory budget exceeded"))
                }
            }
        }
    }

    /// A value slot (the `Value` itself) and a map entry's overhead, in bytes.
    const VALUE: usize = std::mem::size_of::<Value>();
    const ENTRY: usize = 64;

    pub struct Seed<'a>(pub &'a Budget);

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = Value;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(V(self.0))
        }
    }

    struct V<'a>(&'a Budget);

    impl<'de> Visitor<'de> for V<'_> {
        type Value = Value;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
            self.0.charge::<E>(VALUE)?;
            Ok(Value::Bool(v))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
            self.0.charge::<E>(VALUE)?;
            Ok(Value::Number(v.into()))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
            self.0.charge::<E>(VALUE)?;
            Ok(Value::Number(v.into()))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
            self.0.charge::<E>(VALUE)?;
            Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
            self.0.charge::<E>(VALUE + v.len())?;
            Ok(Value::String(v.to_string()))
        }

        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
            self.0.charge::<E>(VALUE + v.len())?;
            Ok(Value::String(v))
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
            self.0.charge::<E>(VALUE)?;
            Ok(Value::Null)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
            self.visit_unit()
        }

        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            self.0.charge::<A::Error>(VALUE)?;
            let mut out = Vec::new();
            // Each element is charged twice its slot: a growing Vec holds up to twice
            // its length.
            while let Some(v) = {
                self.0.charge::<A::Error>(VALUE)?;
                seq.next_element_seed(Seed(self.0))?
            } {
                out.push(v);
            }
            Ok(Value::Array(out))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            self.0.charge::<A::Error>(VALUE)?;
            let mut out = Map::new();
            while let Some(k) = map.next_key::<String>()? {
                self.0.charge::<A::Error>(ENTRY + k.len())?;
                let v = map.next_value_seed(Seed(self.0))?;
                out.insert(k, v);
            }
            Ok(Value::Object(out))
        }
    }
}
