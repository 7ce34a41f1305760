//! `kubernetes/*.json`: what the `kubernetes` collector read from the API server
//! (docs/collector-outputs.md, "kubernetes"). Objects are summaries the agent made, not
//! the API's objects: quantities stay strings (`"7900m"`, `"32Gi"`). This file has the
//! cluster, its nodes and the calls made; one file per other bundle file beside it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

mod events;
mod helm;
mod network;
mod pods;
mod workloads;

pub use events::*;
pub use helm::*;
pub use network::*;
pub use pods::*;
pub use workloads::*;

/// `kubernetes/cluster.json`: the cluster, its distribution and the namespaces read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterFile {
    /// How the agent reached the cluster (kubeconfig and context, or in-cluster).
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// The API server's address.
    #[serde(default, deserialize_with = "opt")]
    pub server: Option<String>,
    /// The API server's version.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<ServerVersion>,
    /// API groups and versions served (`apps/v1`, ...).
    #[serde(default, deserialize_with = "vec")]
    pub api_groups: Vec<String>,
    /// Distributions recognised (openshift, rancher, rke2, k3s), each with its signs.
    #[serde(default, deserialize_with = "vec")]
    pub distribution: Vec<Distribution>,
    /// Nodes in the cluster.
    #[serde(default, deserialize_with = "opt")]
    pub node_count: Option<u64>,
    /// Namespaces in the cluster, when they could be listed.
    #[serde(default, deserialize_with = "opt")]
    pub namespace_count: Option<u64>,
    /// The namespaces read and why each was chosen.
    #[serde(default, deserialize_with = "vec")]
    pub namespaces: Vec<ChosenNamespace>,
    /// Pods read.
    #[serde(default, deserialize_with = "opt")]
    pub pod_count: Option<u64>,
    /// Rocket.Chat pods among them.
    #[serde(default, deserialize_with = "opt")]
    pub rocketchat_pods: Option<u64>,
    /// `DEPLOY_PLATFORM` values of the Rocket.Chat pods.
    #[serde(default, deserialize_with = "vec")]
    pub deploy_platforms: Vec<String>,
    /// `namespace/release chart` from the Helm labels of the workloads.
    #[serde(default, deserialize_with = "vec")]
    pub helm_releases: Vec<String>,
    /// Where the Rocket.Chat pods' `MONGO_URL` comes from.
    #[serde(default, deserialize_with = "opt")]
    pub mongodb_hint: Option<MongoHint>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for ClusterFile {
    const PATH: &'static str = "kubernetes/cluster.json";
    const SCHEMA: &'static str = "kubernetes-cluster.schema.json";
}

/// The API server's version (`/version`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerVersion {
    /// `v1.33.5`, `v1.31.9+rke2r1`.
    #[serde(default, deserialize_with = "opt")]
    pub git_version: Option<String>,
    /// Major version.
    #[serde(default, deserialize_with = "opt")]
    pub major: Option<String>,
    /// Minor version.
    #[serde(default, deserialize_with = "opt")]
    pub minor: Option<String>,
    /// `linux/amd64`.
    #[serde(default, deserialize_with = "opt")]
    pub platform: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A distribution recognised, with its signs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Distribution {
    /// `openshift`, `rancher`, `rke2` or `k3s`.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Its version when known.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<String>,
    /// What showed it (at most 8).
    #[serde(default, deserialize_with = "vec")]
    pub evidence: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A namespace read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChosenNamespace {
    /// Its name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Why (`rocketchat`, `mongodb`, `prometheus`, ...).
    #[serde(default, deserialize_with = "vec")]
    pub reasons: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where the Rocket.Chat pods' `MONGO_URL` comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MongoHint {
    /// `inline`, `secret` or `configmap`.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// `namespace/name` of the pod read.
    #[serde(default, deserialize_with = "opt")]
    pub pod: Option<String>,
    /// The Secret or ConfigMap and key named.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub reference: Option<String>,
    /// The inline URI without credentials.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub uri_redacted: Option<String>,
    /// What to do.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/nodes.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodesFile {
    /// Every node of the cluster.
    #[serde(default, deserialize_with = "vec")]
    pub nodes: Vec<Node>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for NodesFile {
    const PATH: &'static str = "kubernetes/nodes.json";
    const SCHEMA: &'static str = "kubernetes-nodes.schema.json";
}

/// A node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// Node name (the per-node bundles' node name when they match).
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// From `node-role.kubernetes.io/*` labels.
    #[serde(default, deserialize_with = "vec")]
    pub roles: Vec<String>,
    /// Its Ready condition is True.
    #[serde(default, deserialize_with = "opt")]
    pub ready: Option<bool>,
    /// Cordoned.
    #[serde(default, deserialize_with = "opt")]
    pub unschedulable: Option<bool>,
    /// Capacity (`cpu`, `memory`, ...), as quantities.
    #[serde(default, deserialize_with = "opt")]
    pub capacity: Option<BTreeMap<String, String>>,
    /// Allocatable resources, as quantities.
    #[serde(default, deserialize_with = "opt")]
    pub allocatable: Option<BTreeMap<String, String>>,
    /// Node conditions.
    #[serde(default, deserialize_with = "vec")]
    pub conditions: Vec<Condition>,
    /// Kubelet version.
    #[serde(default, deserialize_with = "opt")]
    pub kubelet_version: Option<String>,
    /// `containerd://1.7.27`.
    #[serde(default, deserialize_with = "opt")]
    pub container_runtime: Option<String>,
    /// OS image.
    #[serde(default, deserialize_with = "opt")]
    pub os_image: Option<String>,
    /// Kernel version.
    #[serde(default, deserialize_with = "opt")]
    pub kernel: Option<String>,
    /// CPU architecture.
    #[serde(default, deserialize_with = "opt")]
    pub architecture: Option<String>,
    /// `key=value:Effect`.
    #[serde(default, deserialize_with = "vec")]
    pub taints: Vec<String>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The annotations kept (docs/collector-outputs.md).
    #[serde(default, deserialize_with = "opt")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A condition of a node or pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// Condition type.
    #[serde(default, deserialize_with = "opt", rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False`, `Unknown`.
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<String>,
    /// Reason.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
    /// Message.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/calls.json`: every API call and its outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallsFile {
    /// How the cluster was reached.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// The API server.
    #[serde(default, deserialize_with = "opt")]
    pub server: Option<String>,
    /// The calls.
    #[serde(default, deserialize_with = "vec")]
    pub calls: Vec<Call>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for CallsFile {
    const PATH: &'static str = "kubernetes/calls.json";
    const SCHEMA: &'static str = "kubernetes-calls.schema.json";
}

/// An API call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Call {
    /// API path.
    #[serde(default, deserialize_with = "opt")]
    pub path: Option<String>,
    /// Query (`fieldSelector=...`).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub query: Option<String>,
    /// `ok`, `absent`, `forbidden`, `error` or `skipped`.
    #[serde(default, deserialize_with = "opt")]
    pub outcome: Option<String>,
    /// What went wrong and what to grant.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    /// Items read.
    #[serde(default, deserialize_with = "opt")]
    pub items: Option<u64>,
    /// Pages read.
    #[serde(default, deserialize_with = "opt")]
    pub pages: Option<u64>,
    /// An expired continue token made the list be read again.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub restarted: Option<bool>,
    /// The object cap cut it.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub truncated: Option<String>,
    /// A refused cluster-wide list was replaced by per-namespace lists.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub fell_back: Option<bool>,
    /// Bytes read from the server (pod logs).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub bytes: Option<u64>,
    /// Duration.
    #[serde(default, deserialize_with = "opt")]
    pub duration_ms: Option<u64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
