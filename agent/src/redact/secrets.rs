//! The exact secret values the agent saw, and the rule that decides which of them are
//! distinctive enough to be searched for everywhere: a password such as `rocketchat`,
//! `admin` or `12345678` would match innocent text (`authSource=admin`, the image
//! name), so it is redacted only where it was seen as a secret.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Secrets shorter than this are never searched for.
pub const MIN_DISTINCTIVE_LEN: usize = 8;

/// Words too common in a Rocket.Chat deployment's files to be searched for, even when a
/// customer chose one of them as a password (compared case-insensitively).
const COMMON_WORDS: &[&str] = &[
    "rocketchat",
    "rocket.chat",
    "rocket_chat",
    "rocket-chat",
    "mongodb",
    "mongodb1",
    "mongodb2",
    "mongodb3",
    "mongo-db",
    "mongodb-0",
    "localhost",
    "password",
    "password1",
    "passw0rd",
    "changeme",
    "changeit",
    "administrator",
    "rocketadmin",
    "superuser",
    "database",
    "databases",
    "production",
    "development",
    "staging",
    "postgres",
    "postgresql",
    "container",
    "containers",
    "kubernetes",
    "openshift",
    "rancher",
    "compose",
    "docker-compose",
    "replicaset",
    "replicaSet",
    "authsource",
    "authmechanism",
    "readpreference",
    "secondary",
    "primary",
    "wiredtiger",
    "rocketchat_statistics",
    "rocketchat_settings",
    "qwertyuiop",
    "1qaz2wsx",
    "letmein1",
    "welcome1",
    "iloveyou",
    "sunshine",
    "football",
    "baseball",
    "princess",
    "starwars",
    "trustno1",
    "whatever",
    "computer",
    "internet",
    "undefined",
    "nullnull",
    "required",
    "optional",
    "disabled",
    "enabled",
    "username",
    "mongouser",
    "mongoadmin",
    "rcadmin",
    "rocketchatuser",
    "prometheus",
    "grafana",
    "traefik",
    "nginx-proxy",
];

/// True when `value` is distinctive enough to be searched for in all the text of a
/// bundle: at least `MIN_DISTINCTIVE_LEN` characters, not a number, date or common
/// word, and either two character classes or 12 characters or more.
pub fn is_distinctive(value: &str) -> bool {
    let v = value.trim();
    if v.len() < MIN_DISTINCTIVE_LEN || v.starts_with("***REDACTED") {
        return false;
    }
    if v.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | ':' | '/' | ' ' | 'T' | 'Z'))
    {
        return false; // numbers, versions, dates
    }
    if COMMON_WORDS.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        return false;
    }
    let classes = char_classes(v);
    // A single lower-case word ("mysecretword") of under 12 characters could be anything.
    classes >= 2 || v.chars().count() >= 12
}

/// The distinctive secrets seen so far, and a matcher over them built when first needed.
#[derive(Default)]
pub(super) struct Secrets {
    values: Vec<String>,
    matcher: Option<Arc<AhoCorasick>>,
}

impl Secrets {
    /// Adds a value (and the forms it takes escaped in JSON and in a URI).
    pub(super) fn add(&mut self, value: &str) {
        let mut forms = vec![value.to_string()];
        if let Ok(json) = serde_json::to_string(value) {
            let inner = &json[1..json.len() - 1];
            if inner != value {
                forms.push(inner.to_string());
            }
        }
        let encoded = percent_encode(value);
        if encoded != value {
            forms.push(encoded);
        }
        for f in forms {
            if !self.values.contains(&f) {
                self.values.push(f);
                self.matcher = None;
            }
        }
    }

    /// How many values are searched for.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// The matcher (leftmost-longest, so a secret that holds another is replaced whole).
    pub(super) fn matcher(&mut self) -> Option<Arc<AhoCorasick>> {
        if self.values.is_empty() {
            return None;
        }
        if self.matcher.is_none() {
            self.matcher = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&self.values)
                .ok()
                .map(Arc::new);
        }
        self.matcher.clone()
    }
}

/// Percent-decodes a URI component.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes the characters a URI's userinfo cannot hold as they are.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How many of the classes lower case, upper case, digit and other a value uses.
pub fn char_classes(v: &str) -> usize {
    [
        v.chars().any(|c| c.is_lowercase()),
        v.chars().any(|c| c.is_uppercase()),
        v.chars().any(|c| c.is_ascii_digit()),
        v.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count()
}
