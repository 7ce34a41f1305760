//! A long value shown once: every bundle-derived field of a report longer than
//! [`MAX_EVIDENCE_FIELD`](super::MAX_EVIDENCE_FIELD) bytes is kept whole (up to
//! [`MAX_LONG_VALUE`] bytes) in one table of the report, under a short id (`V1`,
//! `V2`, ...), and cut wherever it appears, with its length and that id. At most
//! [`MAX_LONG_VALUES`] values are kept; a long value past them is only cut.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most long values a report keeps whole.
pub const MAX_LONG_VALUES: usize = 16;
/// Most bytes of one long value a report keeps; a longer one is cut (with its length).
pub const MAX_LONG_VALUE: usize = 128 * 1024;

/// One long value, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LongValue {
    /// Short id the places that cut it refer to (`V1`).
    pub id: String,
    /// Length of the value in bytes.
    pub length: usize,
    /// The value, whole when at most `MAX_LONG_VALUE` bytes (else cut, with its length).
    pub value: String,
}

/// The long values of a report being built: registered first (every field), then
/// looked up where each field is written.
#[derive(Debug, Default)]
pub(crate) struct LongValues {
    ids: HashMap<String, usize>,
    list: Vec<LongValue>,
}

impl LongValues {
    /// Keeps `s` whole if it is longer than `max` bytes and there is room.
    pub(crate) fn register(&mut self, s: &str, max: usize) {
        if s.len() <= max || self.list.len() >= MAX_LONG_VALUES || self.ids.contains_key(s) {
            return;
        }
        let index = self.list.len();
        self.list.push(LongValue {
            id: format!("V{}", index + 1),
            length: s.len(),
            value: rcdiag_bundle::cut_to(s, MAX_LONG_VALUE),
        });
        self.ids.insert(s.to_string(), index);
    }

    /// Registers the words of `text` (a message or note) longer than `max` bytes:
    /// runs between spaces, `,`, `;`, `(` and `)`, without a trailing `:` or `.`.
    pub(crate) fn register_words(&mut self, text: &str, max: usize) {
        if text.len() <= max {
            return;
        }
        for word in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')')) {
            self.register(word.trim_end_matches([':', '.']), max);
        }
    }

    /// `s` as a field of at most `max` bytes: whole when short enough, else cut with
    /// its length and, when it is kept, its id.
    pub(crate) fn field(&self, s: &str, max: usize) -> String {
        if s.len() <= max {
            return s.to_string();
        }
        match self.ids.get(s) {
            Some(&i) => cut_with_ref(s, max, &self.list[i].id),
            None => rcdiag_bundle::cut_to(s, max),
        }
    }

    /// `text` (a message or note) with every kept long value in it replaced by its
    /// cut form (of at most `max_field` bytes), then cut to `max` bytes.
    pub(crate) fn text(&self, text: &str, max_field: usize, max: usize) -> String {
        let mut kept: Vec<(&String, usize)> = self.ids.iter().map(|(v, &i)| (v, i)).collect();
        kept.sort_unstable_by_key(|&(_, i)| i);
        let mut out: Option<String> = None;
        for (value, i) in kept {
            let current = out.as_deref().unwrap_or(text);
            if current.contains(value.as_str()) {
                let short = cut_with_ref(value, max_field, &self.list[i].id);
                out = Some(current.replace(value.as_str(), &short));
            }
        }
        rcdiag_bundle::cut_to(out.as_deref().unwrap_or(text), max)
    }

    /// The kept values, in the order they were first seen.
    pub(crate) fn into_list(self) -> Vec<LongValue> {
        self.list
    }
}

/// `s` cut to at most `max` bytes, ending `... [cut, N bytes, whole as V1]`.
fn cut_with_ref(s: &str, max: usize, id: &str) -> String {
    let note = format!("... [cut, {} bytes, whole as {id}]", s.len());
    let mut end = max.saturating_sub(note.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_kept_once_and_cut_with_its_id_elsewhere() {
        let long = "é".repeat(400);
        let mut v = LongValues::default();
        v.register("short", 256);
        v.register(&long, 256);
        v.register(&long, 256);
        let field = v.field(&long, 256);
        assert!(field.len() <= 256, "{}", field.len());
        assert!(
            field.ends_with("... [cut, 800 bytes, whole as V1]"),
            "{field}"
        );
        assert_eq!(v.field("short", 256), "short");
        let msg = v.text(&format!("a {long} b {long}"), 256, 1024);
        let other = "z".repeat(300);
        v.register_words(&format!("container ({other}): restarting"), 256);
        assert!(v.field(&other, 256).ends_with("whole as V2]"));
        assert_eq!(msg.matches("whole as V1]").count(), 2, "{msg}");
        assert!(msg.len() <= 1024);
        let list = v.into_list();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].id.as_str(), list[0].length), ("V1", 800));
        assert_eq!(list[0].value, long);
    }

    #[test]
    fn the_table_is_capped_in_count_and_size() {
        let mut v = LongValues::default();
        for i in 0..MAX_LONG_VALUES + 5 {
            v.register(&format!("{i:04}{}", "x".repeat(MAX_LONG_VALUE)), 256);
        }
        let beyond = format!("{:04}{}", MAX_LONG_VALUES + 1, "x".repeat(MAX_LONG_VALUE));
        assert!(v.field(&beyond, 256).ends_with(" bytes]"), "only cut");
        let list = v.into_list();
        assert_eq!(list.len(), MAX_LONG_VALUES);
        assert!(list.iter().all(|l| l.value.len() <= MAX_LONG_VALUE));
        assert!(list[0].value.contains("[cut, "));
    }
}
