//! `agent/run.json`: how the agent ran (its version, redacted argv, options, node
//! key, and each collector's outcome).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `agent/run.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunFile {
    /// The agent.
    #[serde(default, deserialize_with = "opt")]
    pub agent: Option<AgentId>,
    /// Its command line, redacted.
    #[serde(default, deserialize_with = "vec")]
    pub argv: Vec<String>,
    /// The options that shaped the run.
    #[serde(default, deserialize_with = "opt")]
    pub options: Option<Options>,
    /// The node key that signed the bundle.
    #[serde(default, deserialize_with = "opt")]
    pub node_key: Option<NodeKey>,
    /// Each collector's outcome.
    #[serde(default, deserialize_with = "vec")]
    pub collectors: Vec<CollectorRun>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for RunFile {
    const PATH: &'static str = "agent/run.json";
    const SCHEMA: &'static str = "agent-run.schema.json";
}

/// The agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentId {
    /// `rcdiag-agent`.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Its version.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The options of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Options {
    /// Docker endpoint (redacted).
    #[serde(default, deserialize_with = "opt")]
    pub docker_host: Option<String>,
    /// MongoDB URI (redacted).
    #[serde(default, deserialize_with = "opt")]
    pub mongodb_uri: Option<String>,
    /// Log window.
    #[serde(default, deserialize_with = "opt")]
    pub since_seconds: Option<u64>,
    /// Lines per log at most.
    #[serde(default, deserialize_with = "opt")]
    pub log_lines: Option<u64>,
    /// Bytes per log at most.
    #[serde(default, deserialize_with = "opt")]
    pub log_bytes: Option<u64>,
    /// Per-collector timeout.
    #[serde(default, deserialize_with = "opt")]
    pub timeout_seconds: Option<f64>,
    /// Collectors selected.
    #[serde(default, deserialize_with = "vec")]
    pub collectors: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The node key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeKey {
    /// `SHA256:...` of the signing key.
    #[serde(default, deserialize_with = "opt")]
    pub fingerprint: Option<String>,
    /// Whether the key was replaced since the last run.
    #[serde(default, deserialize_with = "opt")]
    pub changed: Option<bool>,
    /// The key it replaced.
    #[serde(default, deserialize_with = "opt")]
    pub previous_fingerprint: Option<String>,
    /// Why it was replaced.
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One collector's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CollectorRun {
    /// Collector name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `ok`, `partial`, `failed`, `skipped`, `timed_out`.
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<String>,
    /// Time taken.
    #[serde(default, deserialize_with = "opt")]
    pub duration_ms: Option<u64>,
    /// Bytes written.
    #[serde(default, deserialize_with = "opt")]
    pub bytes: Option<u64>,
    /// What went wrong.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
