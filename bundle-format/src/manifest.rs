//! The manifest: the signed table of contents of a bundle (`manifest.json`).
//! Its JSON Schema is generated from these types (`schema/manifest.schema.json`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Format name written in every manifest.
pub const FORMAT_NAME: &str = "rcdiag-bundle";
/// Major version of the format this crate writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// The signed description of a bundle. Unknown fields are ignored when reading.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(
    title = "rcdiag bundle manifest",
    description = "manifest.json of an rcdiag bundle, format version 1"
)]
pub struct Manifest {
    /// Always `rcdiag-bundle`.
    pub format: String,
    /// Major format version; readers refuse versions newer than theirs.
    pub format_version: u64,
    /// UUIDv7 of this bundle.
    pub bundle_id: String,
    /// When the bundle was created, UTC RFC 3339 (`2026-11-26T05:14:59Z`).
    pub created_at: String,
    /// The program that wrote the bundle.
    pub agent: AgentInfo,
    /// The node the bundle describes.
    pub node: NodeInfo,
    /// One record per collector that was run, skipped or failed.
    #[serde(default, deserialize_with = "de_collectors")]
    pub collectors: Vec<CollectorRecord>,
    /// One record per file in the bundle, except `manifest.json` and its signature.
    #[serde(default, deserialize_with = "de_files")]
    pub files: Vec<FileRecord>,
    /// What redaction replaced, by rule: counts only, never values.
    #[serde(default)]
    pub redaction: RedactionSummary,
    /// The key that signed `manifest.json`.
    pub signer: Signer,
}

/// The program that wrote the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AgentInfo {
    /// Program name, e.g. `rcdiag-agent`.
    pub name: String,
    /// Program version.
    pub version: String,
}

/// The node a bundle describes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct NodeInfo {
    /// Host name of the node.
    pub hostname: String,
    /// `sha256:` of the machine id (`/etc/machine-id`), hex; stable per node without revealing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id_hash: Option<String>,
    /// Free-form labels such as `case` (the support case id).
    #[serde(default, deserialize_with = "de_labels")]
    pub labels: BTreeMap<String, String>,
}

/// Outcome of one collector.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum CollectorStatus {
    /// Collected everything it was asked for.
    Ok,
    /// Collected some of it; see `error`.
    Partial,
    /// Collected nothing usable; see `error`.
    Failed,
    /// Stopped by its time limit; files written until then are kept.
    Timeout,
    /// Not run: not applicable here or deselected; see `error` for the reason.
    Skipped,
}

impl CollectorStatus {
    /// The lowercase name used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for CollectorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one collector did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct CollectorRecord {
    /// Collector name (`host`, `docker`, `logs`, `mongodb`, `rocketchat`).
    pub name: String,
    /// Outcome.
    pub status: CollectorStatus,
    /// When it started, UTC RFC 3339.
    pub started_at: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// Error or skip reason, already redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Paths of the files it wrote.
    #[serde(default, deserialize_with = "de_collector_files")]
    pub files: Vec<String>,
}

/// One file of the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct FileRecord {
    /// Relative path inside the zip, `/`-separated.
    pub path: String,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// SHA-256 of the uncompressed content, lowercase hex.
    pub sha256: String,
    /// True when the content was cut by a cap or a time limit.
    #[serde(default)]
    pub truncated: bool,
}

/// Redaction counts per rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct RedactionSummary {
    /// True when redaction was applied (always, for rcdiag-agent).
    #[serde(default)]
    pub enabled: bool,
    /// Replacements per rule name.
    #[serde(default, deserialize_with = "de_rules")]
    pub rules: BTreeMap<String, u64>,
    /// Re-redactions of the bundle after it was collected (`rcdiag-agent redact`),
    /// oldest first; absent when there was none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub re_redactions: Vec<ReRedaction>,
}

/// One re-redaction of an existing bundle by `rcdiag-agent redact`: the bundle was
/// read, redacted again with more rules, and signed anew by the node key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ReRedaction {
    /// When, UTC RFC 3339.
    pub at: String,
    /// The `bundle_id` of the bundle it was made from.
    pub from_bundle_id: String,
    /// Fingerprint of the key that signed that bundle.
    pub from_signer: String,
    /// Replacements per rule: `custom-N` for each `--pattern`, `literal-N` for each
    /// `--literal`, and the built-in rule ids that matched again.
    #[serde(default)]
    pub rules: BTreeMap<String, u64>,
}

/// The key that signed `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Signer {
    /// Signature algorithm: `sshsig-ed25519` (SSHSIG, namespace `rcdiag-bundle`, SHA-512).
    pub algorithm: String,
    /// OpenSSH public key line (`ssh-ed25519 AAAA...`).
    pub public_key: String,
    /// `SHA256:...` fingerprint as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// Just enough of a manifest to check its format and version before a full parse.
#[derive(Debug, Deserialize)]
pub(crate) struct ManifestProbe {
    pub format: Option<String>,
    pub format_version: Option<serde_json::Value>,
}

/// `value` with every object's keys in sorted order, whatever serde_json's
/// `preserve_order` feature (which other crates may switch on) would otherwise give:
/// published schemas must not depend on which crates are built together.
pub fn sorted_json(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, sorted_json(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted_json).collect())
        }
        other => other,
    }
}

/// The JSON Schema of [`Manifest`], pretty-printed with sorted keys and a trailing newline.
pub fn manifest_schema_json() -> String {
    let schema = schemars::schema_for!(Manifest);
    let value = sorted_json(serde_json::to_value(&schema).expect("schema serializes"));
    let mut s = serde_json::to_string_pretty(&value).expect("schema serializes");
    s.push('\n');
    s
}

/// Length and count limits of manifest fields (SPEC.md section 3.1). A reader refuses a
/// manifest past any of them, so no single string of a bundle can make a report, a
/// listing or an error message larger than these bounds. Lengths are in bytes of UTF-8.
pub mod limits {
    /// `format`, `bundle_id`, `created_at`, `collectors[].started_at`, `signer.algorithm`.
    pub const SHORT: usize = 64;
    /// `agent.name`, `agent.version`, `node.machine_id_hash`, `signer.fingerprint`,
    /// `files[].sha256`, redaction rule names.
    pub const NAME: usize = 128;
    /// `node.hostname` (a DNS name is at most 253 bytes).
    pub const HOSTNAME: usize = 255;
    /// Most `node.labels`.
    pub const LABELS: usize = 32;
    /// A label's key.
    pub const LABEL_KEY: usize = 64;
    /// A label's value (e.g. the support case id).
    pub const LABEL_VALUE: usize = 256;
    /// Most `collectors` records.
    pub const COLLECTORS: usize = 64;
    /// `collectors[].name`.
    pub const COLLECTOR_NAME: usize = 64;
    /// `collectors[].error` (writers cut longer errors).
    pub const COLLECTOR_ERROR: usize = 16_384;
    /// Most names in one `collectors[].files`, and in all of them together
    /// (the reader's entry limit, 20,000 by default, when that is lower).
    pub const FILES: usize = 20_000;
    /// `files[].path` and `collectors[].files[]` (the entry name limit).
    pub const PATH: usize = 512;
    /// Most redaction rules.
    pub const RULES: usize = 256;
    /// `signer.public_key` (an OpenSSH public key line).
    pub const PUBLIC_KEY: usize = 8192;
}

/// Deserializes a sequence, refusing it once it has more than `max` elements (so a
/// hostile manifest cannot make millions of allocations before it is refused).
pub(crate) fn bounded_seq<'de, D, T>(
    d: D,
    max: usize,
    what: &'static str,
) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T> {
        max: usize,
        what: &'static str,
        _t: std::marker::PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "an array of at most {} {}", self.max, self.what)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                if out.len() == self.max {
                    return Err(serde::de::Error::custom(format!(
                        "{LIMIT_MARK}more than {} {}, the limit",
                        self.max, self.what
                    )));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V {
        max,
        what,
        _t: std::marker::PhantomData,
    })
}

/// Deserializes a string map, refusing it once it has more than `max` keys.
pub(crate) fn bounded_map<'de, D, T>(
    d: D,
    max: usize,
    what: &'static str,
) -> std::result::Result<BTreeMap<String, T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T> {
        max: usize,
        what: &'static str,
        _t: std::marker::PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
        type Value = BTreeMap<String, T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "an object of at most {} {}", self.max, self.what)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, T>()? {
                out.insert(k, v);
                if out.len() > self.max {
                    return Err(serde::de::Error::custom(format!(
                        "{LIMIT_MARK}more than {} {}, the limit",
                        self.max, self.what
                    )));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(V {
        max,
        what,
        _t: std::marker::PhantomData,
    })
}

/// Starts the message of a deserialization error that is a limit, not bad JSON.
pub(crate) const LIMIT_MARK: &str = "limit: ";

fn de_labels<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    bounded_map(d, limits::LABELS, "node.labels")
}
fn de_collectors<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<CollectorRecord>, D::Error> {
    bounded_seq(d, limits::COLLECTORS, "collectors")
}
fn de_collector_files<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    bounded_seq(d, limits::FILES, "names in collectors[].files")
}
fn de_files<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<FileRecord>, D::Error> {
    bounded_seq(d, limits::FILES, "files")
}
fn de_rules<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, u64>, D::Error> {
    bounded_map(d, limits::RULES, "redaction rules")
}

/// Checks every length and count limit of [`limits`] (and `max_entries` for the file
/// lists); the error names the field, its length and the limit.
pub fn check_manifest_limits(m: &Manifest, max_entries: usize) -> std::result::Result<(), String> {
    fn len(field: &str, value: &str, max: usize) -> std::result::Result<(), String> {
        if value.len() > max {
            return Err(format!(
                "manifest field {field} is {} bytes, more than the limit of {max}",
                value.len()
            ));
        }
        Ok(())
    }
    use limits::*;
    len("format", &m.format, SHORT)?;
    len("bundle_id", &m.bundle_id, SHORT)?;
    len("created_at", &m.created_at, SHORT)?;
    len("agent.name", &m.agent.name, NAME)?;
    len("agent.version", &m.agent.version, NAME)?;
    len("node.hostname", &m.node.hostname, HOSTNAME)?;
    if let Some(h) = &m.node.machine_id_hash {
        len("node.machine_id_hash", h, NAME)?;
    }
    if m.node.labels.len() > LABELS {
        return Err(format!(
            "manifest has {} node.labels, more than the limit of {LABELS}",
            m.node.labels.len()
        ));
    }
    for (k, v) in &m.node.labels {
        len("node.labels key", k, LABEL_KEY)?;
        len("node.labels value", v, LABEL_VALUE)?;
    }
    if m.collectors.len() > COLLECTORS {
        return Err(format!(
            "manifest has {} collectors, more than the limit of {COLLECTORS}",
            m.collectors.len()
        ));
    }
    let max_files = FILES.min(max_entries);
    let mut named = 0usize;
    for c in &m.collectors {
        len("collectors[].name", &c.name, COLLECTOR_NAME)?;
        len("collectors[].started_at", &c.started_at, SHORT)?;
        if let Some(e) = &c.error {
            len("collectors[].error", e, COLLECTOR_ERROR)?;
        }
        for f in &c.files {
            len("collectors[].files[]", f, PATH)?;
        }
        named += c.files.len();
    }
    if named > max_files {
        return Err(format!(
            "manifest's collectors name {named} files together, more than the limit of {max_files}"
        ));
    }
    if m.files.len() > max_files {
        return Err(format!(
            "manifest lists {} files, more than the limit of {max_files}",
            m.files.len()
        ));
    }
    for f in &m.files {
        len("files[].path", &f.path, PATH)?;
        len("files[].sha256", &f.sha256, NAME)?;
    }
    if m.redaction.rules.len() > RULES {
        return Err(format!(
            "manifest has {} redaction rules, more than the limit of {RULES}",
            m.redaction.rules.len()
        ));
    }
    for k in m.redaction.rules.keys() {
        len("redaction.rules key", k, NAME)?;
    }
    len("signer.algorithm", &m.signer.algorithm, SHORT)?;
    len("signer.public_key", &m.signer.public_key, PUBLIC_KEY)?;
    len("signer.fingerprint", &m.signer.fingerprint, NAME)?;
    Ok(())
}

/// `s` cut to at most `max` bytes at a character boundary, with a note of its full
/// length when cut (used by writers for generated text such as collector errors).
pub fn cut_to(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let note = format!("... [cut, {} bytes]", s.len());
    let mut end = max.saturating_sub(note.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &s[..end])
}
