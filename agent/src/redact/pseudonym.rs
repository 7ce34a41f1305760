//! Consistent pseudonyms, opt-in (`--pseudonymize hostnames,ips,emails,usernames`):
//! each value is replaced by a stable token (`host-7f3a`, `ip-09c2`,
//! `email-51d0@pseudonym.invalid`, `user-a11e`), the same in every file and every
//! bundle of this node. Tokens are an HMAC of the value under a key that never leaves
//! the node (`pseudonyms.key` in the state dir), so support cannot reverse them by
//! trying every address; the map from token to value stays on the node too
//! (`pseudonyms.json`, mode 0600) for `rcdiag-agent pseudonyms lookup TOKEN`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File names in the state dir.
pub const KEY_FILE: &str = "pseudonyms.key";
/// The map from token to value.
pub const MAP_FILE: &str = "pseudonyms.json";

/// What can be pseudonymized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The node's name and the hosts of connection and site URIs.
    Hostnames,
    /// IPv4 addresses (loopback and unspecified kept).
    Ips,
    /// E-mail addresses (Rocket.Chat's own, on official images, kept).
    Emails,
    /// User names of connection URIs and `"username": "..."` fields.
    Usernames,
}

impl Kind {
    /// Parses `hostnames,ips,emails,usernames` (or `all`).
    pub fn parse_list(s: &str) -> Result<Vec<Kind>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "hostnames" | "hosts" => out.push(Kind::Hostnames),
                "ips" => out.push(Kind::Ips),
                "emails" => out.push(Kind::Emails),
                "usernames" | "users" => out.push(Kind::Usernames),
                "all" => out.extend([Kind::Hostnames, Kind::Ips, Kind::Emails, Kind::Usernames]),
                other => {
                    return Err(format!(
                        "unknown kind {other:?} for --pseudonymize: use hostnames, ips, emails, usernames or all"
                    ));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Hostnames => "host",
            Kind::Ips => "ip",
            Kind::Emails => "email",
            Kind::Usernames => "user",
        }
    }

    /// The rule id counted in the manifest.
    pub fn rule(self) -> &'static str {
        match self {
            Kind::Hostnames => "pseudonym-hostname",
            Kind::Ips => "pseudonym-ip",
            Kind::Emails => "pseudonym-email",
            Kind::Usernames => "pseudonym-username",
        }
    }
}

/// One entry of the map kept on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What the value is.
    pub kind: Kind,
    /// The original value.
    pub value: String,
}

/// Why the pseudonym state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PseudonymError {
    /// Reading or writing the key or map failed.
    #[error("pseudonyms in {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// What went wrong and what to do.
        reason: String,
    },
}

/// The matcher over the exact values, and the token and kind of each pattern.
struct ExactSet {
    matcher: AhoCorasick,
    targets: Vec<(String, Kind)>,
}

/// The values seen in structural places and their tokens, for one run.
pub struct Pseudonymizer {
    kinds: Vec<Kind>,
    key: [u8; 32],
    /// token -> entry (the existing map plus this run's).
    map: Mutex<BTreeMap<String, Entry>>,
    /// value -> (token, kind), for the values to replace by exact match (hosts, users).
    exact: Mutex<BTreeMap<String, (String, Kind)>>,
    /// A matcher over `exact`, built once after each change (every line uses it).
    matcher: Mutex<Option<std::sync::Arc<ExactSet>>>,
    ipv4: Regex,
    email: Regex,
    username_field: Regex,
    counts: Mutex<BTreeMap<&'static str, u64>>,
    state_dir: PathBuf,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("kinds", &self.kinds)
            .finish()
    }
}

fn state_err(path: &Path, reason: impl std::fmt::Display) -> PseudonymError {
    PseudonymError::State {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Loads the node's pseudonym key, creating it (32 random bytes, mode 0600, written
/// atomically) on first use.
fn load_or_create_key(state_dir: &Path) -> Result<[u8; 32], PseudonymError> {
    let path = state_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut k = [0u8; 32];
            k.copy_from_slice(&bytes);
            return Ok(k);
        }
        Ok(_) => {
            return Err(state_err(
                &path,
                "the key is not 32 bytes: it was damaged; move it away to start a new pseudonym map (old tokens can then no longer be looked up)",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(state_err(&path, e)),
    }
    let key: [u8; 32] = rand::random();
    write_private(&path, &key)?;
    // Another run may have created it first: the file on disk wins.
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut k = [0u8; 32];
            k.copy_from_slice(&bytes);
            Ok(k)
        }
        _ => Ok(key),
    }
}

/// Writes `data` to `path` through a 0600 temp file in the same folder, renamed into place.
fn write_private(path: &Path, data: &[u8]) -> Result<(), PseudonymError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| state_err(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".rcdiag-pseudonyms-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|e| state_err(dir, e))?;
    tmp.write_all(data).map_err(|e| state_err(path, e))?;
    tmp.as_file().sync_all().map_err(|e| state_err(path, e))?;
    tmp.persist(path).map_err(|e| state_err(path, e.error))?;
    Ok(())
}

/// The map kept in the state dir (empty when there is none yet).
pub fn load_map(state_dir: &Path) -> Result<BTreeMap<String, Entry>, PseudonymError> {
    let path = state_dir.join(MAP_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            state_err(
                &path,
                format!("not a pseudonym map ({e}); move it away to start a new one"),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(state_err(&path, e)),
    }
}

impl Pseudonymizer {
    /// A pseudonymizer for `kinds`, with the key and map of `state_dir`.
    pub fn new(kinds: Vec<Kind>, state_dir: &Path) -> Result<Self, PseudonymError> {
        let key = load_or_create_key(state_dir)?;
        let map = load_map(state_dir)?;
        Ok(Self {
            kinds,
            key,
            map: Mutex::new(map),
            exact: Mutex::new(BTreeMap::new()),
            matcher: Mutex::new(None),
            ipv4: Regex::new(r"\b(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}\b")
                .expect("ipv4 pattern"),
            email: Regex::new(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
                .expect("email pattern"),
            username_field: Regex::new(r#"(?i)(?P<pre>\\{0,3}"(?:username|user_name|login)\\{0,3}"\s*:\s*\\{0,3}")(?P<v>[^"\\]{1,128})"#)
                .expect("username pattern"),
            counts: Mutex::new(BTreeMap::new()),
            state_dir: state_dir.to_path_buf(),
        })
    }

    /// True when `kind` is pseudonymized.
    pub fn wants(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    /// The stable token of `value`.
    pub fn token(&self, kind: Kind, value: &str) -> String {
        let hex = hex::encode(hmac_sha256(
            &self.key,
            format!("{kind:?}\0{value}").as_bytes(),
        ));
        let mut map = self.map.lock().expect("map lock");
        for len in [4, 6, 8, 12, 16, 64] {
            let mut t = format!("{}-{}", kind.prefix(), &hex[..len]);
            if kind == Kind::Emails {
                t.push_str("@pseudonym.invalid");
            }
            match map.get(&t) {
                Some(e) if e.kind == kind && e.value == value => return t,
                Some(_) => continue, // a collision with another value: a longer token
                None => {
                    map.insert(
                        t.clone(),
                        Entry {
                            kind,
                            value: value.to_string(),
                        },
                    );
                    return t;
                }
            }
        }
        format!("{}-{hex}", kind.prefix())
    }

    /// Remembers a value seen in a structural place (a host name, a URI's user), to be
    /// replaced wherever it appears as a whole word.
    pub fn register(&self, kind: Kind, value: &str) {
        let value = value.trim().trim_end_matches('.');
        if !self.wants(kind) || value.len() < 2 || is_kept_host(value) {
            return;
        }
        let token = self.token(kind, value);
        // Lock order: matcher, then exact (as `exact_matcher` takes them).
        let mut matcher = self.matcher.lock().expect("matcher lock");
        let mut exact = self.exact.lock().expect("exact lock");
        if exact.insert(value.to_string(), (token, kind)).is_none() {
            *matcher = None;
        }
    }

    /// Remembers the hosts and user of a connection or site URI.
    pub fn register_uri(&self, uri: &str) {
        let Some((_, rest)) = uri.split_once("://") else {
            return;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if let Some(user) = userinfo.and_then(|u| u.split(':').next()) {
            self.register(Kind::Usernames, user);
        }
        for h in hosts.split(',') {
            let host = h.rsplit_once(':').map(|(h, _)| h).unwrap_or(h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.parse::<std::net::IpAddr>().is_err() {
                self.register(Kind::Hostnames, host);
            }
        }
    }

    fn count(&self, kind: Kind, n: u64) {
        if n > 0 {
            *self
                .counts
                .lock()
                .expect("counts lock")
                .entry(kind.rule())
                .or_default() += n;
        }
    }

    /// Replacements per rule id so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .expect("counts lock")
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }

    fn exact_matcher(&self) -> Option<std::sync::Arc<ExactSet>> {
        let mut m = self.matcher.lock().expect("matcher lock");
        if m.is_none() {
            let exact = self.exact.lock().expect("exact lock");
            if exact.is_empty() {
                return None;
            }
            *m = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(true)
                .build(exact.keys())
                .ok()
                .map(|matcher| {
                    std::sync::Arc::new(ExactSet {
                        matcher,
                        targets: exact.values().cloned().collect(),
                    })
                });
        }
        m.clone()
    }

    /// Replaces every pseudonymized value in `text`; `None` when nothing changed.
    pub fn apply(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        if let Some(set) = self.exact_matcher() {
            let src = text;
            let mut s = String::with_capacity(src.len());
            let mut last = 0;
            let mut n = 0;
            let bytes = src.as_bytes();
            let word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            for mat in set.matcher.find_iter(src) {
                // Whole names only: `db1` in `db1:27017`, not in `db10`, `mydb1` or `x.db1`;
                // a dot followed by a letter continues a name (`db1.corp`).
                let before = mat.start().checked_sub(1).map(|i| bytes[i]);
                let after = bytes.get(mat.end()).copied();
                let after2 = bytes.get(mat.end() + 1).copied();
                if before.is_some_and(|b| word(b) || b == b'.')
                    || after.is_some_and(word)
                    || (after == Some(b'.') && after2.is_some_and(|b| b.is_ascii_alphanumeric()))
                {
                    continue;
                }
                let (token, kind) = &set.targets[mat.pattern().as_usize()];
                s.push_str(&src[last..mat.start()]);
                s.push_str(token);
                last = mat.end();
                n += 1;
                self.count(*kind, 1);
            }
            if n > 0 {
                s.push_str(&src[last..]);
                out = Some(s);
            }
        }
        if self.wants(Kind::Usernames) {
            let src = out.as_deref().unwrap_or(text);
            if self.username_field.is_match(src) {
                let r = self
                    .username_field
                    .replace_all(src, |c: &regex::Captures<'_>| {
                        let v = &c["v"];
                        if v.starts_with("user-") || v.starts_with("***") {
                            return c[0].to_string();
                        }
                        self.count(Kind::Usernames, 1);
                        format!("{}{}", &c["pre"], self.token(Kind::Usernames, v))
                    })
                    .into_owned();
                out = Some(r);
            }
        }
        if self.wants(Kind::Emails) {
            let src = out.as_deref().unwrap_or(text);
            if self.email.is_match(src) {
                let r = self
                    .email
                    .replace_all(src, |c: &regex::Captures<'_>| {
                        let v = &c[0];
                        if v.ends_with("@rocket.chat") || v.ends_with("@pseudonym.invalid") {
                            return v.to_string();
                        }
                        self.count(Kind::Emails, 1);
                        self.token(Kind::Emails, v)
                    })
                    .into_owned();
                out = Some(r);
            }
        }
        if self.wants(Kind::Ips) {
            let src = out.as_deref().unwrap_or(text);
            if self.ipv4.is_match(src) {
                let r = self
                    .ipv4
                    .replace_all(src, |c: &regex::Captures<'_>| {
                        let v = &c[0];
                        if v.starts_with("127.") || v == "0.0.0.0" || v == "255.255.255.255" {
                            return v.to_string();
                        }
                        self.count(Kind::Ips, 1);
                        self.token(Kind::Ips, v)
                    })
                    .into_owned();
                out = Some(r);
            }
        }
        out
    }

    /// Writes the map back to the state dir (mode 0600). The map never enters a bundle.
    pub fn save(&self) -> Result<(), PseudonymError> {
        let map = self.map.lock().expect("map lock");
        let bytes = serde_json::to_vec_pretty(&*map).unwrap_or_default();
        write_private(&self.state_dir.join(MAP_FILE), &bytes)
    }
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Host names kept as they are: they identify nobody.
fn is_kept_host(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    l == "localhost"
        || l.ends_with(".local") && l.len() < 7
        || l.ends_with("rocket.chat")
        || l == "mongo"
        || l == "mongodb"
        || l == "rocketchat"
}

/// Looks a token up in the map of `state_dir`.
pub fn lookup(state_dir: &Path, token: &str) -> Result<Option<Entry>, PseudonymError> {
    Ok(load_map(state_dir)?.get(token.trim()).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_and_kept_on_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pseudonymizer::new(
            vec![Kind::Hostnames, Kind::Ips, Kind::Emails, Kind::Usernames],
            dir.path(),
        )
        .unwrap();
        p.register(Kind::Hostnames, "chat-node-7.corp.example");
        p.register_uri("mongodb://rcuser:***@mongo-0.db.corp.example:27017/rocketchat");
        let line = r#"node chat-node-7.corp.example at 10.1.2.3 mail ops@corp.example user rcuser on mongo-0.db.corp.example:27017 {"username":"alice"} maintainer buildmaster@rocket.chat 127.0.0.1 mongodb"#;
        let out = p.apply(line).unwrap();
        for gone in [
            "chat-node-7",
            "10.1.2.3",
            "ops@corp.example",
            "rcuser",
            "mongo-0.db",
            "alice",
        ] {
            assert!(!out.contains(gone), "{gone}: {out}");
        }
        for kept in ["buildmaster@rocket.chat", "127.0.0.1", "mongodb", ":27017"] {
            assert!(out.contains(kept), "{kept}: {out}");
        }
        let host_token = p.token(Kind::Hostnames, "chat-node-7.corp.example");
        assert!(out.contains(&host_token), "{out}");
        p.save().unwrap();
        // A later run of the same node gives the same tokens; lookup answers.
        let q = Pseudonymizer::new(vec![Kind::Hostnames], dir.path()).unwrap();
        assert_eq!(
            q.token(Kind::Hostnames, "chat-node-7.corp.example"),
            host_token
        );
        let e = lookup(dir.path(), &host_token).unwrap().unwrap();
        assert_eq!(e.value, "chat-node-7.corp.example");
        use std::os::unix::fs::PermissionsExt;
        for f in [KEY_FILE, MAP_FILE] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    #[test]
    fn words_that_hold_a_host_name_are_left() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pseudonymizer::new(vec![Kind::Hostnames], dir.path()).unwrap();
        p.register(Kind::Hostnames, "db1");
        let out = p.apply("db1:27017 and db10 and mydb1 and db1.").unwrap();
        assert!(out.starts_with("host-"), "{out}");
        assert!(out.contains("db10") && out.contains("mydb1"), "{out}");
        assert!(Kind::parse_list("ips,bogus").is_err());
        assert_eq!(Kind::parse_list("all").unwrap().len(), 4);
    }
}
