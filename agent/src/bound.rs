//! Every field the agent writes is bounded: a string longer than [`MAX_FIELD_BYTES`]
//! (an argv, an env value, a label, an os-release field, a host name) is cut with a
//! marker that gives its original length, so that no process, label or file of another
//! user can make a bundle file huge or look like a compression bomb.

use serde_json::Value;

/// The longest string the agent writes into a JSON file, in bytes.
pub const MAX_FIELD_BYTES: usize = 4096;

/// `s` cut to at most [`MAX_FIELD_BYTES`] (at a character boundary) with the marker
/// `…[cut by rcdiag: N bytes in all]`; `None` when it fits.
pub fn bound_str(s: &str) -> Option<String> {
    if s.len() <= MAX_FIELD_BYTES {
        return None;
    }
    let mut end = MAX_FIELD_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!(
        "{}…[cut by rcdiag: {} bytes in all]",
        &s[..end],
        s.len()
    ))
}

/// Cuts every string (and object key) of `value` that is too long.
pub fn bound_json(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(cut) = bound_str(s) {
                *s = cut;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(bound_json),
        Value::Object(map) => {
            if map.keys().any(|k| k.len() > MAX_FIELD_BYTES) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(bound_str(&k).unwrap_or(k), v);
                }
            }
            map.values_mut().for_each(bound_json);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_strings_are_cut_with_their_length() {
        let long = "é".repeat(3000); // 6000 bytes, two per character
        let mut v = serde_json::json!({"argv": long, "short": "ok", "list": ["x".repeat(5000)]});
        bound_json(&mut v);
        let argv = v["argv"].as_str().unwrap();
        assert!(argv.len() < MAX_FIELD_BYTES + 64, "{}", argv.len());
        assert!(
            argv.ends_with("…[cut by rcdiag: 6000 bytes in all]"),
            "{argv}"
        );
        assert_eq!(v["short"], "ok");
        assert!(
            v["list"][0]
                .as_str()
                .unwrap()
                .ends_with("5000 bytes in all]")
        );
        assert_eq!(bound_str("small"), None);
    }
}
