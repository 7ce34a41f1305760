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
    /// The text is not a policy (TOML syntax or a field of the wrong type).
    #[error("policy does not parse: {0}")]
    Parse(String),
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
            .map_err(|e| PolicyError::Parse(e.to_string()))
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
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
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
