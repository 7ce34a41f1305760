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
    #[serde(default)]
    pub collectors: Vec<CollectorRecord>,
    /// One record per file in the bundle, except `manifest.json` and its signature.
    #[serde(default)]
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
    #[serde(default)]
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
    #[serde(default)]
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
    #[serde(default)]
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
