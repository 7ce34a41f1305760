//! Redaction: structural rules for environment variables and URIs, then patterns over
//! all text, then a fail-closed scan for the exact secret values the agent saw.
//! Replacements read `***REDACTED:<rule>***`; only counts per rule are kept.

use std::collections::BTreeMap;
use std::sync::Mutex;

use regex::Regex;
use serde_json::Value;

/// Secrets shorter than this are not scanned for (they would blank innocent text).
pub const MIN_SECRET_LEN: usize = 4;

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

/// Env names redacted whatever their value.
const SECRET_ENV_EXACT: &[&str] = &[
    "MONGO_URL",
    "MONGO_OPLOG_URL",
    "MONGO_OPTIONS",
    "MAIL_URL",
    "TRANSPORTER",
    "REG_TOKEN",
    "ROCKETCHAT_LICENSE",
    "ADMIN_PASS",
];
/// Env names holding a URI: only credentials and unsafe query values are redacted.
const URI_ENV: &[&str] = &["MONGO_URL", "MONGO_OPLOG_URL", "MAIL_URL", "TRANSPORTER"];
/// Name fragments that mark a secret env variable.
const SECRET_ENV_PARTS: &[&str] = &[
    "PASS",
    "SECRET",
    "TOKEN",
    "KEY",
    "LICENSE",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
    "CERT",
];

/// The exact secret values seen, and a matcher that finds any of them in one scan.
#[derive(Default)]
struct Secrets {
    values: Vec<String>,
    matcher: Option<aho_corasick::AhoCorasick>,
}

/// One pattern rule.
struct Rule {
    name: String,
    re: Regex,
    /// Capture group kept before the replacement (0 = replace the whole match).
    keep_prefix: usize,
}

/// The redactor shared by all collectors of one run.
pub struct Redactor {
    rules: Vec<Rule>,
    /// All rules at once: one scan tells which rules can match a line (most match none).
    any_rule: regex::RegexSet,
    secrets: Mutex<Secrets>,
    counts: Mutex<BTreeMap<String, u64>>,
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

/// True when an environment variable of this name holds a secret.
pub fn is_secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    // Switches such as BYPASS_OPLOG_VALIDATION or SKIP_MONGODEPRECATION_CHECK are not
    // secrets (they contain PASS only by accident) and support needs to see them.
    if upper.starts_with("BYPASS_") || upper.starts_with("SKIP_") {
        return false;
    }
    if SECRET_ENV_EXACT.contains(&upper.as_str()) {
        return true;
    }
    if let Some(setting) = upper.strip_prefix("OVERWRITE_SETTING_") {
        return SECRET_ENV_PARTS.iter().any(|p| setting.contains(p))
            || setting.contains("SMTP_USERNAME");
    }
    SECRET_ENV_PARTS.iter().any(|p| upper.contains(p))
}

impl Redactor {
    /// The built-in rules plus `extra` user patterns (named `custom-1`, `custom-2`, ...).
    pub fn new(extra: &[String]) -> Result<Self, regex::Error> {
        let builtin: &[(&str, &str, usize)] = &[
            (
                "pem-private-key",
                r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
                0,
            ),
            (
                "uri-userinfo",
                r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@'\x22]+:[^@\s/'\x22]+@",
                1,
            ),
            (
                "jwt",
                r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}",
                0,
            ),
            (
                "bearer-token",
                r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}",
                1,
            ),
            (
                "auth-token",
                r#"(?i)((?:x-auth-token|x-auth|authToken|auth_token|resume|resumeToken|loginToken|hashedToken|access_token|refresh_token)["']?\s*[:=]\s*["']?)[A-Za-z0-9._~+/=-]{8,}"#,
                1,
            ),
            ("aws-access-key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0),
            (
                "aws-secret-key",
                r#"(?i)(aws_secret_access_key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{20,}"#,
                1,
            ),
            (
                "password-pair",
                r#"(?i)(\b[A-Za-z_.-]*(?:password|passwd|pwd|secret|api_?key|apikey|client_secret)["']?\s*[:=]\s*["']?)[^\s"'&,;}]+"#,
                1,
            ),
        ];
        let mut rules = Vec::new();
        for (name, re, keep) in builtin {
            rules.push(Rule {
                name: name.to_string(),
                re: Regex::new(re)?,
                keep_prefix: *keep,
            });
        }
        for (i, pat) in extra.iter().enumerate() {
            rules.push(Rule {
                name: format!("custom-{}", i + 1),
                re: Regex::new(pat)?,
                keep_prefix: 0,
            });
        }
        let any_rule = regex::RegexSet::new(rules.iter().map(|r| r.re.as_str()))?;
        Ok(Self {
            rules,
            any_rule,
            secrets: Mutex::new(Secrets::default()),
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    /// Remembers an exact secret value for the fail-closed scan.
    pub fn register_secret(&self, value: &str) {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN || value.starts_with("***REDACTED") || is_commonplace(value)
        {
            return;
        }
        let mut s = self.secrets.lock().expect("secrets lock");
        if !s.values.iter().any(|x| x == value) {
            s.values.push(value.to_string());
            s.matcher = aho_corasick::AhoCorasick::new(&s.values).ok();
        }
    }

    /// Remembers the password (and user:password) of a connection URI.
    pub fn register_uri_secrets(&self, uri: &str) {
        if let Some((_, rest)) = uri.split_once("://") {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            if let Some((userinfo, _)) = authority.rsplit_once('@')
                && let Some((_, pass)) = userinfo.split_once(':')
            {
                self.register_secret(pass);
                if let Ok(decoded) = percent_decode(pass) {
                    self.register_secret(&decoded);
                }
            }
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

    /// Counts per rule so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().expect("counts lock").clone()
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
            let m = marker(&rule.name);
            let replaced = rule.re.replace_all(&out, |c: &regex::Captures<'_>| {
                let whole = c.get(0).map(|m| m.as_str()).unwrap_or_default();
                if whole.contains("***REDACTED:") && !whole.starts_with("-----BEGIN") {
                    return whole.to_string();
                }
                n += 1;
                let prefix = if rule.keep_prefix > 0 {
                    c.get(rule.keep_prefix).map(|m| m.as_str()).unwrap_or("")
                } else {
                    ""
                };
                // A URI keeps its `@` so the host part still reads as one.
                let suffix = if whole.ends_with('@') { "@" } else { "" };
                format!("{prefix}{m}{suffix}")
            });
            out = replaced.into_owned();
            self.count(&rule.name, n);
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
            self.register_secret(value);
            return self.redact_uri(value);
        }
        if is_secret_env_name(name) {
            self.register_secret(value);
            self.count("env-secret", 1);
            return marker("env-secret");
        }
        self.redact_text(value)
    }

    /// Redacts a connection URI (or several, comma-separated hosts): userinfo and the
    /// values of query parameters that are not known to be harmless.
    pub fn redact_uri(&self, uri: &str) -> String {
        let Some((scheme, rest)) = uri.split_once("://") else {
            return self.redact_text(uri);
        };
        let (before_q, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_q.find('/') {
            Some(i) => (&before_q[..i], &before_q[i..]),
            None => (before_q, ""),
        };
        let authority = match authority.rsplit_once('@') {
            Some((_, hosts)) => {
                self.count("uri-userinfo", 1);
                format!("{}@{hosts}", marker("uri-userinfo"))
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
                        self.count("uri-query", 1);
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

    /// The first remembered secret found in `data`, as a rule-style description (never the value).
    pub fn find_secret(&self, data: &[u8]) -> Option<String> {
        let secrets = self.secrets.lock().expect("secrets lock");
        let found = secrets.matcher.as_ref()?.find(data)?;
        Some(format!(
            "exact value of secret #{} seen by the agent",
            found.pattern().as_usize() + 1
        ))
    }

    /// Redacts one log line and, if a remembered secret is still in it, withholds the line.
    pub fn redact_line(&self, line: &str) -> String {
        let out = self.redact_text(line);
        if self.find_secret(out.as_bytes()).is_some() {
            self.count("exact-secret", 1);
            return marker("exact-secret");
        }
        out
    }

    /// Serializes a JSON value after redaction; if a remembered secret survives, the
    /// whole document is withheld and the reason recorded instead.
    pub fn finalize_json(&self, mut value: Value) -> Vec<u8> {
        self.redact_json(&mut value);
        let mut bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
        if let Some(why) = self.find_secret(&bytes) {
            self.count("exact-secret", 1);
            bytes = serde_json::to_vec_pretty(&serde_json::json!({
                "withheld": true,
                "reason": format!("this file was blanked before signing: it contained the {why}"),
            }))
            .unwrap_or_default();
        }
        bytes.push(b'\n');
        bytes
    }
}

/// Values too common to be told apart from ordinary text (`true`, `false`, numbers):
/// scanning for them would blank innocent files. They are still redacted where they stand.
fn is_commonplace(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "true", "false", "null", "none", "yes", "no", "on", "off", "enabled", "disabled", "default",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(value))
        || value
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3).ok_or(())?).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(&[]).unwrap()
    }

    #[test]
    fn env_names_that_look_secret_are_redacted_and_remembered() {
        let red = r();
        assert_eq!(
            red.redact_env_entry("ADMIN_PASS=hunter22"),
            "ADMIN_PASS=***REDACTED:env-secret***"
        );
        assert_eq!(
            red.redact_env_entry("OVERWRITE_SETTING_SMTP_Password=abcd1234"),
            "OVERWRITE_SETTING_SMTP_Password=***REDACTED:env-secret***"
        );
        assert_eq!(
            red.redact_env_entry("ROOT_URL=http://chat.example.com"),
            "ROOT_URL=http://chat.example.com"
        );
        assert_eq!(
            red.redact_env_entry("DEPLOY_METHOD=docker"),
            "DEPLOY_METHOD=docker"
        );
        assert!(red.find_secret(b"xx hunter22 yy").is_some());
        assert_eq!(red.counts()["env-secret"], 2);
    }

    #[test]
    fn switches_and_commonplace_values_are_not_secrets() {
        let red = r();
        assert_eq!(
            red.redact_env_entry("BYPASS_OPLOG_VALIDATION=true"),
            "BYPASS_OPLOG_VALIDATION=true"
        );
        assert_eq!(
            red.redact_env_entry("SKIP_MONGODEPRECATION_CHECK=yes"),
            "SKIP_MONGODEPRECATION_CHECK=yes"
        );
        // A secret-named variable holding `true` is redacted but not scanned for afterwards.
        assert_eq!(
            red.redact_env_entry("LDAP_AUTH_ENABLED=true"),
            "LDAP_AUTH_ENABLED=***REDACTED:env-secret***"
        );
        assert!(red.find_secret(b"\"enabled\": true").is_none());
        assert_eq!(
            red.redact_env_value("MONGO_URL", "mongodb://u:pw123456@db/x"),
            "mongodb://***REDACTED:uri-userinfo***@db/x"
        );
        assert_eq!(red.counts().get("uri-userinfo"), Some(&1));
    }

    #[test]
    fn mongo_url_keeps_topology_but_not_credentials() {
        let red = r();
        let out = red.redact_env_value("MONGO_URL", "mongodb://rc:S3cr%40t!@mongo1:27017,mongo2:27017/rocketchat?replicaSet=rs0&tlsCertificateKeyFilePassword=pw9999");
        assert_eq!(
            out,
            "mongodb://***REDACTED:uri-userinfo***@mongo1:27017,mongo2:27017/rocketchat?replicaSet=rs0&tlsCertificateKeyFilePassword=***REDACTED:uri-query***"
        );
        assert!(
            red.find_secret(b"pw S3cr@t! here").is_some(),
            "decoded password is remembered"
        );
        assert!(
            red.find_secret(b"S3cr%40t!").is_some(),
            "encoded password is remembered"
        );
    }

    #[test]
    fn patterns_cover_the_usual_leaks() {
        let red = r();
        let cases = [
            (
                "connect mongodb://admin:pa55word@db:27017/x",
                "uri-userinfo",
                "pa55word",
            ),
            (
                "Authorization: Bearer abcdefghijklmnop",
                "bearer-token",
                "abcdefghijklmnop",
            ),
            (
                "X-Auth-Token: Zx9_Rk2LmQw8TtYy",
                "auth-token",
                "Zx9_Rk2LmQw8TtYy",
            ),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt",
                "dozjgNryP4J3jVmNHl0w5N",
            ),
            (
                "key AKIAIOSFODNN7EXAMPLE used",
                "aws-access-key",
                "AKIAIOSFODNN7EXAMPLE",
            ),
            ("smtp password=Tr0ub4dor&3", "password-pair", "Tr0ub4dor"),
            (
                r#"{"password": "s3cr3tvalue"}"#,
                "password-pair",
                "s3cr3tvalue",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
                "pem-private-key",
                "MIIEabc",
            ),
        ];
        for (input, rule, secret) in cases {
            let out = red.redact_text(input);
            assert!(!out.contains(secret), "{rule}: {out}");
            assert!(out.contains(&marker(rule)), "{rule}: {out}");
        }
    }

    #[test]
    fn plain_text_is_left_alone() {
        let red = r();
        let line = r#"{"level":30,"time":"2026-11-26T05:00:00.000Z","msg":"Server running on port 3000","hostname":"rc1"}"#;
        assert_eq!(red.redact_text(line), line);
        assert!(red.counts().is_empty());
    }

    #[test]
    fn remembered_secrets_withhold_lines_and_json() {
        let red = r();
        red.register_secret("opaque-value-9z");
        assert_eq!(
            red.redact_line("debug: opaque-value-9z in clear"),
            marker("exact-secret")
        );
        let bytes = red.finalize_json(serde_json::json!({"note": "x opaque-value-9z"}));
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("opaque-value-9z"));
        assert!(text.contains("withheld"));
    }

    #[test]
    fn custom_patterns_are_applied() {
        let red = Redactor::new(&["ACME-[0-9]{6}".to_string()]).unwrap();
        assert_eq!(
            red.redact_text("id ACME-123456"),
            format!("id {}", marker("custom-1"))
        );
    }
}
