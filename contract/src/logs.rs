//! `logs/index.json`: one record per container log written: the `logs` collector's
//! (Docker), the `kubernetes` collector's (pod logs through the API, `source:
//! "kubernetes"`) and the `cri` collector's (the node's pod log files, `source:
//! "cri-file"`) (docs/collector-outputs.md, "logs").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `logs/index.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct IndexFile(#[serde(deserialize_with = "vec")] pub Vec<LogEntry>);

impl BundleFile for IndexFile {
    const PATH: &'static str = "logs/index.json";
    const SCHEMA: &'static str = "logs-index.schema.json";
    const IS_LIST: bool = true;
}

/// One container log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogEntry {
    /// Container name.
    #[serde(default, deserialize_with = "opt")]
    pub container: Option<String>,
    /// Container id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Bundle path of the log (`logs/<container>.log`); absent on error.
    #[serde(default, deserialize_with = "opt")]
    pub file: Option<String>,
    /// `file` (the json-file driver's own files), `engine` (the Engine API),
    /// `kubernetes` (the Kubernetes API) or `cri-file` (the node's pod log files).
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Lines written.
    #[serde(default, deserialize_with = "opt")]
    pub lines: Option<u64>,
    /// Bytes written.
    #[serde(default, deserialize_with = "opt")]
    pub bytes: Option<u64>,
    /// Whether older lines were left out.
    #[serde(default, deserialize_with = "opt")]
    pub truncated: Option<bool>,
    /// `lines`, `bytes`, `timeout`, `count` (past `--cri-logs-max`), or absent.
    #[serde(default, deserialize_with = "opt")]
    pub truncated_by: Option<String>,
    /// Start of the window (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub since: Option<String>,
    /// Why the log could not be read.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// The container's logging driver.
    #[serde(default, deserialize_with = "opt")]
    pub log_driver: Option<String>,
    /// The pod (Kubernetes and node pod logs only).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub pod: Option<String>,
    /// The pod's namespace (Kubernetes and node pod logs only).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub namespace: Option<String>,
    /// The log of the previous (restarted) container (Kubernetes and node pod logs only).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub previous: Option<bool>,
    /// The restart it belongs to: CRI `metadata.attempt`, the kubelet's `<N>.log` (node pod
    /// logs only).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub attempt: Option<u64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
