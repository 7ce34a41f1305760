//! Redaction, in three layers (see `docs/redaction.md`):
//!
//! 1. **Where a value stands** (`fields`): environment values under secret-looking
//!    names, connection URIs, command-line options, labels. The values redacted there
//!    are remembered as exact secrets.
//! 2. **What a value looks like** (`rules`): the pattern table, applied to every string
//!    and log line.
//! 3. **The exact-value pass** (`secrets`): every remembered secret that is distinctive
//!    enough is replaced wherever it appears, in every file, after all collectors are
//!    done (JSON files are held until then; log lines are written after every source of
//!    secrets was read). Nothing is ever blanked whole and a bundle is never refused.
//!
//! Replacements read `***REDACTED:<rule>***`; only counts per rule are kept.

mod fields;
pub mod pseudonym;
pub mod rules;
mod secrets;

use std::collections::BTreeMap;
use std::sync::Mutex;

use regex::Regex;
use serde_json::Value;

pub use fields::{is_secret_env_name, is_secret_flag_name, is_secret_label_key};
pub use secrets::{is_distinctive, percent_decode};

use secrets::Secrets;

/// Query parameters of a connection URI that are kept (not secrets, useful to support).
const SAFE_QUERY_PARAMS: &[&str] = &[
    "replicaSet",
    "authSource",
    "authMechanism",
    "ssl",
    "tls",
    "readPreference",
    "w",
    "retryWrites",
    "retryReads",
    "directConnection",
    "maxPoolSize",
    "connectTimeoutMS",
    "serverSelectionTimeoutMS",
    "appName",
    "compressors",
    "readConcernLevel",
];

/// Env names holding a URI: only credentials and unsafe query values are redacted.
const URI_ENV: &[&str] = &["MONGO_URL", "MONGO_OPLOG_URL", "MAIL_URL", "TRANSPORTER"];

/// One compiled pattern rule.
struct Rule {
    id: String,
    re: Regex,
    /// Replacement template with the marker in place (`${pre}***REDACTED:id***${post}`).
    template: String,
    check: Option<fn(&str) -> bool>,
}

/// The redactor shared by all collectors of one run.
pub struct Redactor {
    rules: Vec<Rule>,
    /// All rules at once: one scan tells which rules can match a line (most match none).
    any_rule: regex::RegexSet,
    secrets: Mutex<Secrets>,
    counts: Mutex<BTreeMap<String, u64>>,
    /// Consistent pseudonyms, when asked for (`--pseudonymize`).
    pseudo: std::sync::OnceLock<pseudonym::Pseudonymizer>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// The replacement text of a rule.
pub fn marker(rule: &str) -> String {
    format!("***REDACTED:{rule}***")
}

impl Redactor {
    /// The built-in rules plus `extra` user patterns (named `custom-1`, `custom-2`, ...).
    pub fn new(extra: &[String]) -> Result<Self, regex::Error> {
        let named: Vec<(String, String)> = extra
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("custom-{}", i + 1), p.clone()))
            .collect();
        Self::with_rules(&named)
    }

    /// The built-in rules plus `extra` rules given as `(id, regex)`: the whole match
    /// is replaced by the rule's marker.
    pub fn with_rules(extra: &[(String, String)]) -> Result<Self, regex::Error> {
        let mut rules = Vec::new();
        for spec in rules::BUILTIN {
            let m = marker(spec.id);
            let template = match spec.template {
                Some(t) => t.replace("$m", &m),
                None => format!("${{pre}}{m}${{post}}"),
            };
            rules.push(Rule {
                id: spec.id.to_string(),
                re: Regex::new(spec.pattern)?,
                template,
                check: spec.check,
            });
        }
        for (id, pat) in extra {
            rules.push(Rule {
                template: marker(id),
                id: id.clone(),
                re: Regex::new(pat)?,
                check: None,
            });
        }
        // A larger lazy-DFA cache than the default: with every rule in one set the
        // default one thrashes and the scan falls back to a slower engine.
        let any_rule = regex::RegexSetBuilder::new(rules.iter().map(|r| r.re.as_str()))
            .dfa_size_limit(32 << 20)
            .size_limit(64 << 20)
            .build()?;
        Ok(Self {
            rules,
            any_rule,
            secrets: Mutex::new(Secrets::default()),
            counts: Mutex::new(BTreeMap::new()),
            pseudo: std::sync::OnceLock::new(),
        })
    }

    /// Remembers an exact secret value for the exact-value pass. Values too short or too
    /// common to be told apart from innocent text are redacted only where they stand
    /// (by the caller), never searched for.
    pub fn register_secret(&self, value: &str) {
        self.register_secret_beside(value, &[]);
    }

    /// As [`register_secret`](Self::register_secret), where `beside` are the
    /// non-secret names seen next to the value (a URI's user, hosts and database): a
    /// password equal to one of them is not searched for either.
    pub fn register_secret_beside(&self, value: &str, beside: &[&str]) {
        let value = value.trim();
        if !is_distinctive(value) || beside.iter().any(|b| b.eq_ignore_ascii_case(value)) {
            return;
        }
        self.secrets.lock().expect("secrets lock").add(value);
    }

    /// How many distinctive secrets the exact-value pass searches for.
    pub fn secret_count(&self) -> usize {
        self.secrets.lock().expect("secrets lock").len()
    }

    /// Turns consistent pseudonyms on for the rest of the run (once).
    pub fn set_pseudonymizer(&self, p: pseudonym::Pseudonymizer) {
        let _ = self.pseudo.set(p);
    }

    /// The pseudonymizer of the run, if pseudonyms were asked for.
    pub fn pseudonymizer(&self) -> Option<&pseudonym::Pseudonymizer> {
        self.pseudo.get()
    }

    /// Remembers the password of a connection URI (several hosts allowed), and its
    /// hosts and user for pseudonyms when they are asked for.
    pub fn register_uri_secrets(&self, uri: &str) {
        if let Some(p) = self.pseudo.get() {
            p.register_uri(uri);
        }
        let Some((_, rest)) = uri.split_once("://") else {
            return;
        };
        let (before_q, _) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_q.split_once('/').unwrap_or((before_q, ""));
        let Some((userinfo, hosts)) = authority.rsplit_once('@') else {
            return;
        };
        let Some((user, pass)) = userinfo.split_once(':') else {
            return;
        };
        let user_dec = percent_decode(user).unwrap_or_else(|| user.to_string());
        let mut beside: Vec<&str> = vec![user, &user_dec, path];
        beside.extend(hosts.split(',').map(|h| h.split(':').next().unwrap_or(h)));
        beside.extend(SAFE_QUERY_PARAMS);
        self.register_secret_beside(pass, &beside);
        if let Some(decoded) = percent_decode(pass) {
            self.register_secret_beside(&decoded, &beside);
        }
    }

    fn count(&self, rule: &str, n: u64) {
        if n > 0 {
            *self
                .counts
                .lock()
                .expect("counts lock")
                .entry(rule.to_string())
                .or_default() += n;
        }
    }

    /// Counts per rule so far (pseudonyms included).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut c = self.counts.lock().expect("counts lock").clone();
        if let Some(p) = self.pseudo.get() {
            c.extend(p.counts());
        }
        c
    }

    /// Adds `n` replacements to the count of `rule` (callers that redact structurally).
    pub fn add_count(&self, rule: &str, n: u64) {
        self.count(rule, n);
    }

    /// Applies every pattern rule to `text`.
    pub fn redact_text(&self, text: &str) -> String {
        let candidates = self.any_rule.matches(text);
        let mut out = text.to_string();
        if !candidates.matched_any() {
            return out;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if !candidates.matched(i) || !rule.re.is_match(&out) {
                continue;
            }
            let mut n = 0u64;
            let replaced = rule.re.replace_all(&out, |c: &regex::Captures<'_>| {
                let whole = c.get(0).map(|m| m.as_str()).unwrap_or_default();
                let secret = c.name("s").map(|m| m.as_str()).unwrap_or(whole);
                let already = whole.contains("***REDACTED:") && !whole.starts_with("-----BEGIN");
                if already || rule.check.is_some_and(|check| !check(secret)) {
                    return whole.to_string();
                }
                n += 1;
                let mut dst = String::new();
                c.expand(&rule.template, &mut dst);
                // A URI keeps its `@` so the host part still reads as one.
                if rule.id == "uri-userinfo" {
                    dst.push('@');
                }
                dst
            });
            out = replaced.into_owned();
            self.count(&rule.id, n);
        }
        out
    }

    /// Redacts one `NAME=value` environment entry (structural rule, then patterns).
    pub fn redact_env_entry(&self, entry: &str) -> String {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        format!("{name}={}", self.redact_env_value(name, value))
    }

    /// Redacts the value of environment variable `name`, remembering the secret.
    pub fn redact_env_value(&self, name: &str, value: &str) -> String {
        let upper = name.to_ascii_uppercase();
        if value.is_empty() {
            return String::new();
        }
        if URI_ENV.contains(&upper.as_str()) && value.contains("://") {
            self.register_uri_secrets(value);
            // The whole URI is a secret to search for only when it holds one: a URI
            // without credentials (`nats://nats:4222`) is what support needs to see.
            if self.uri_has_secret(value) {
                self.register_secret(value);
            }
            return self.redact_uri(value);
        }
        if is_secret_env_name(name) {
            self.register_secret(value);
            self.count("env-secret", 1);
            return marker("env-secret");
        }
        if value.contains("://") {
            self.register_uri_secrets(value);
        }
        self.redact_text(value)
    }

    /// The exact-value pass, then pseudonyms: what every string gets last.
    fn last_pass(&self, text: &str) -> Option<String> {
        let exact = self.replace_exact(text);
        let Some(p) = self.pseudo.get() else {
            return exact;
        };
        match p.apply(exact.as_deref().unwrap_or(text)) {
            Some(r) => Some(r),
            None => exact,
        }
    }

    /// Remembers the secrets of an environment (for the exact-value pass) without
    /// redacting or counting.
    pub fn register_env_secrets(&self, env: &[String]) {
        for entry in env {
            let Some((name, value)) = entry.split_once('=') else {
                continue;
            };
            if value.contains("://") {
                self.register_uri_secrets(value);
                if URI_ENV.contains(&name.to_ascii_uppercase().as_str()) {
                    if self.uri_has_secret(value) {
                        self.register_secret(value);
                    }
                    continue;
                }
            }
            if is_secret_env_name(name) {
                self.register_secret(value);
            }
        }
    }

    /// Redacts a connection URI (or several, comma-separated hosts): userinfo and the
    /// values of query parameters that are not known to be harmless.
    pub fn redact_uri(&self, uri: &str) -> String {
        if !uri.contains("://") {
            return self.redact_text(uri);
        }
        self.rewrite_uri(uri, true)
    }

    /// Whether a connection URI holds something [`redact_uri`](Self::redact_uri) takes
    /// out (a userinfo, a query value not known to be harmless).
    fn uri_has_secret(&self, uri: &str) -> bool {
        self.rewrite_uri(uri, false) != uri
    }

    /// `uri` with its userinfo and unsafe query values replaced; counted when `count`.
    fn rewrite_uri(&self, uri: &str, count: bool) -> String {
        let Some((scheme, rest)) = uri.split_once("://") else {
            return uri.to_string();
        };
        let note = |rule: &str| {
            if count {
                self.count(rule, 1);
            }
        };
        let (before_q, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_q.find('/') {
            Some(i) => (&before_q[..i], &before_q[i..]),
            None => (before_q, ""),
        };
        // The user name stays (support asks which user connects); the password goes. A
        // userinfo without a password may itself be a token (`https://TOKEN@host`): it goes.
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => {
                note("uri-userinfo");
                match userinfo.split_once(':') {
                    Some((user, _)) if !user.is_empty() => {
                        format!("{user}:{}@{hosts}", marker("uri-userinfo"))
                    }
                    _ => format!("{}@{hosts}", marker("uri-userinfo")),
                }
            }
            None => authority.to_string(),
        };
        let mut out = format!("{scheme}://{authority}{path}");
        if let Some(q) = query {
            let params: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) if SAFE_QUERY_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k)) => {
                        format!("{k}={v}")
                    }
                    Some((k, _)) => {
                        note("uri-query");
                        format!("{k}={}", marker("uri-query"))
                    }
                    None => kv.to_string(),
                })
                .collect();
            out.push('?');
            out.push_str(&params.join("&"));
        }
        out
    }

    /// Redacts a command line argument by argument: the value of an option whose name
    /// looks secret (`--name value`, `--name=value`, `-p value`) is replaced and
    /// remembered; every argument then goes through the patterns.
    pub fn redact_argv(&self, args: &[String]) -> Vec<String> {
        fields::redact_argv(self, args, true)
    }

    /// Remembers the secrets of a command line (as [`redact_argv`](Self::redact_argv)
    /// finds them) without counting: for a command line written later, or not at all.
    pub fn register_argv_secrets(&self, args: &[String]) {
        let _ = fields::redact_argv(self, args, false);
    }

    /// Redacts the values of labels or annotations whose keys look secret (the value is
    /// remembered); the other values go through the patterns.
    pub fn redact_labels<'a>(
        &self,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> BTreeMap<String, String> {
        labels
            .into_iter()
            .map(|(k, v)| {
                let v = if is_secret_label_key(k) && !v.is_empty() {
                    self.register_secret(v);
                    self.count("label-secret", 1);
                    marker("label-secret")
                } else {
                    self.redact_text(v)
                };
                (k.to_string(), v)
            })
            .collect()
    }

    /// Remembers the values of labels whose keys look secret, without redacting or counting.
    pub fn register_label_secrets(&self, labels: &[(String, String)]) {
        for (k, v) in labels {
            if is_secret_label_key(k) {
                self.register_secret(v);
            }
        }
    }

    /// Applies the pattern rules to every string in a JSON value (keys are kept).
    pub fn redact_json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                let r = self.redact_text(s);
                if r != *s {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }

    /// Replaces every remembered secret in `text`; `None` when there is none.
    pub fn replace_exact(&self, text: &str) -> Option<String> {
        let matcher = self.secrets.lock().expect("secrets lock").matcher()?;
        let mut n = 0u64;
        let mut out = String::new();
        let mut last = 0;
        for m in matcher.find_iter(text) {
            out.push_str(&text[last..m.start()]);
            out.push_str(&marker("exact-secret"));
            last = m.end();
            n += 1;
        }
        if n == 0 {
            return None;
        }
        out.push_str(&text[last..]);
        self.count("exact-secret", n);
        Some(out)
    }

    /// The exact-value pass (and pseudonyms) over every string and key of a JSON value.
    pub fn replace_exact_json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(r) = self.last_pass(s) {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.replace_exact_json(v)),
            Value::Object(map) => {
                let keys_change = map.keys().any(|k| self.last_pass(k).is_some());
                if keys_change {
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        let k = self.last_pass(&k).unwrap_or(k);
                        map.insert(k, v);
                    }
                }
                map.values_mut().for_each(|v| self.replace_exact_json(v));
            }
            _ => {}
        }
    }

    /// True when `data` holds a remembered secret.
    pub fn has_exact(&self, data: &str) -> bool {
        self.secrets
            .lock()
            .expect("secrets lock")
            .matcher()
            .is_some_and(|m| m.is_match(data))
    }

    /// Redacts one log line: the patterns, then the exact-value pass (the secret is
    /// replaced, the rest of the line kept).
    pub fn redact_line(&self, line: &str) -> String {
        let out = self.redact_text(line);
        self.last_pass(&out).unwrap_or(out)
    }
}

#[cfg(test)]
mod tests;
