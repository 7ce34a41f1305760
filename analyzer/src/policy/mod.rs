//! The support policy: every fact the checks rest on, as data.
//!
//! The built-in policy is `analyzer/policy/rocketchat.toml`, embedded at build time;
//! `--policy FILE` loads another one. Every fact carries a `source` (a key of
//! `[sources]`), the policy has its own `as_of` date, and [`Policy::validate`]
//! refuses a policy whose tables are unsorted, duplicated, or whose patterns do not
//! compile.

mod lookup;
mod types;
mod validate;
mod versions;

use std::path::Path;

pub use lookup::{MongoCompat, ReleaseLookup, SupportStatus};
pub use types::*;
pub use versions::{Version, parse_major_minor, parse_release_date};

/// Why a policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// Path given.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a policy (TOML syntax or a field of the wrong type). Shown on
    /// several lines: where, what, and the line of the policy with a caret under the
    /// column; every part from the file is escaped (no control character).
    #[error("{}", parse_message(*line, *column, message, excerpt.as_deref()))]
    Parse {
        /// Line of the problem (1-based), when the parser names a place.
        line: Option<usize>,
        /// Column of the problem (1-based, in characters).
        column: Option<usize>,
        /// What is wrong, on one line.
        message: String,
        /// The policy's line at the problem, escaped.
        excerpt: Option<String>,
    },
    /// The policy parses but is not consistent.
    #[error("policy is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl Policy {
    /// The built-in policy (`analyzer/policy/rocketchat.toml`).
    ///
    /// Its `[checks]` table stands for the list of known checks here: the test suite
    /// validates it against the checks' own list (`CheckId::NAMES`).
    pub fn builtin() -> Policy {
        let parsed = toml::from_str::<Policy>(BUILTIN)
            .map_err(|e| parse_error(BUILTIN, &e))
            .and_then(|p| {
                let known: Vec<&str> = p.checks.keys().map(String::as_str).collect();
                let problems = p.validate(&known);
                if problems.is_empty() {
                    Ok(p)
                } else {
                    Err(PolicyError::Invalid(problems))
                }
            });
        match parsed {
            Ok(p) => p,
            // The built-in policy is validated by the test suite; reaching this is a build defect.
            Err(e) => panic!("the built-in policy is broken: {e}"),
        }
    }

    /// Parses and validates a policy; `known_checks` are the ids its `[checks]`
    /// table must cover exactly (the checks' list, `CheckId::NAMES`).
    pub fn from_toml(text: &str, known_checks: &[&str]) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        let problems = policy.validate(known_checks);
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(PolicyError::Invalid(problems))
        }
    }

    /// Reads, parses and validates a policy file (see [`Policy::from_toml`]).
    pub fn load(path: &Path, known_checks: &[&str]) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, known_checks)
    }

    /// The policy as TOML (parses back to an equal policy).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialize the policy: {e}\n"))
    }
}

/// A TOML error as a [`PolicyError::Parse`]: the line and column of its span in
/// `text`, its message on one line, and the policy's line there.
fn parse_error(text: &str, e: &toml::de::Error) -> PolicyError {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let message = crate::report::sanitize_line(&message);
    let Some(span) = e.span() else {
        return PolicyError::Parse {
            line: None,
            column: None,
            message,
            excerpt: None,
        };
    };
    let at = span.start.min(text.len());
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let excerpt = rcdiag_bundle::cut_to(
        text[line_start..line_end].trim_end_matches('\r'),
        crate::report::MAX_EVIDENCE_FIELD,
    );
    PolicyError::Parse {
        line: Some(line),
        column: Some(column),
        message,
        excerpt: Some(crate::report::sanitize_line(&excerpt)),
    }
}

/// The text of [`PolicyError::Parse`]: `policy does not parse at line L, column C:
/// MESSAGE`, then the line and a caret under the column (real newlines).
fn parse_message(
    line: Option<usize>,
    column: Option<usize>,
    message: &str,
    excerpt: Option<&str>,
) -> String {
    let mut s = match (line, column) {
        (Some(l), Some(c)) => format!("policy does not parse at line {l}, column {c}: {message}"),
        _ => format!("policy does not parse: {message}"),
    };
    if let (Some(l), Some(c), Some(x)) = (line, column, excerpt) {
        let n = l.to_string();
        let pad = " ".repeat(n.len());
        // The caret stays under the column only while the line is shown uncut.
        let caret = if c <= x.chars().count() + 1 {
            format!("{}^", " ".repeat(c - 1))
        } else {
            String::new()
        };
        s.push_str(&format!("\n {n} | {x}\n {pad} | {caret}"));
    }
    s
}

/// Text of the built-in policy.
pub const BUILTIN: &str = include_str!("../../policy/rocketchat.toml");

/// `pattern` compiled once per process and shared (policies are small, checks run per
/// container); `None` when it does not compile (`validate()` reports those). Shared,
/// not cloned: a clone of a `Regex` starts with an empty search cache, which costs more
/// to build than a short match.
pub fn cached_regex(pattern: &str) -> Option<std::sync::Arc<regex::Regex>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<HashMap<String, Option<Arc<regex::Regex>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(re) = cache.get(pattern) {
        return re.clone();
    }
    let re = regex::Regex::new(pattern).ok().map(Arc::new);
    cache.insert(pattern.to_string(), re.clone());
    re
}
