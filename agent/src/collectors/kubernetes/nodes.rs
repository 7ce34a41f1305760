//! Node summaries (`kubernetes/nodes.json`): capacity, allocatable, conditions, kubelet
//! and container runtime versions, OS image, kernel, labels, and only the annotations
//! that say something about the distribution (the `node-args` ones with their secret
//! flags redacted: RKE2 and k3s put the join token there when given on the command line).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use serde::Serialize;

use crate::redact::Redactor;

/// Annotations kept on nodes; the others are dropped.
pub const NODE_ANNOTATIONS: &[&str] = &[
    "rke2.io/hostname",
    "rke2.io/node-args",
    "rke2.io/node-config-hash",
    "k3s.io/hostname",
    "k3s.io/node-args",
    "k3s.io/internal-ip",
    "machineconfiguration.openshift.io/state",
    "machineconfiguration.openshift.io/currentConfig",
    "cluster.x-k8s.io/cluster-name",
];

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    /// Node name.
    pub name: String,
    /// Roles from `node-role.kubernetes.io/*` labels.
    pub roles: Vec<String>,
    /// Whether the Ready condition is True.
    pub ready: bool,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// Capacity (cpu, memory, pods, ephemeral-storage...).
    pub capacity: BTreeMap<String, String>,
    /// Allocatable.
    pub allocatable: BTreeMap<String, String>,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// `nodeInfo.kubeletVersion`.
    pub kubelet_version: Option<String>,
    /// `nodeInfo.containerRuntimeVersion` (`containerd://1.7.27`).
    pub container_runtime: Option<String>,
    /// `nodeInfo.osImage`.
    pub os_image: Option<String>,
    /// `nodeInfo.kernelVersion`.
    pub kernel: Option<String>,
    /// `nodeInfo.architecture`.
    pub architecture: Option<String>,
    /// Taints, as `key=value:effect`.
    pub taints: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The annotations of [`NODE_ANNOTATIONS`].
    pub annotations: BTreeMap<String, String>,
}

/// A condition of a node or pod.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    /// `Ready`, `MemoryPressure`...
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// Reason, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Message, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Quantities as strings.
pub fn quantities(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default()
}

/// A node's summary.
pub fn summarize(node: &Node, red: &Redactor) -> NodeSummary {
    let meta = &node.metadata;
    let labels = meta.labels.clone().unwrap_or_default();
    let roles = labels
        .keys()
        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
        .map(str::to_string)
        .collect();
    let mut annotations = BTreeMap::new();
    for (k, v) in meta.annotations.iter().flatten() {
        if !NODE_ANNOTATIONS.contains(&k.as_str()) {
            continue;
        }
        let v = if k.ends_with("/node-args") {
            match serde_json::from_str::<Vec<String>>(v) {
                Ok(args) => {
                    red.register_argv_secrets(&args);
                    serde_json::to_string(&red.redact_argv(&args)).unwrap_or_default()
                }
                Err(_) => red.redact_text(v),
            }
        } else {
            v.clone()
        };
        annotations.insert(k.clone(), v);
    }
    let status = node.status.as_ref();
    let info = status.and_then(|s| s.node_info.as_ref());
    let conditions: Vec<Condition> = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| Condition {
            type_: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
        })
        .collect();
    let spec = node.spec.as_ref();
    NodeSummary {
        name: meta.name.clone().unwrap_or_default(),
        roles,
        ready: conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        capacity: quantities(status.and_then(|s| s.capacity.as_ref())),
        allocatable: quantities(status.and_then(|s| s.allocatable.as_ref())),
        conditions,
        kubelet_version: info.map(|i| i.kubelet_version.clone()),
        container_runtime: info.map(|i| i.container_runtime_version.clone()),
        os_image: info.map(|i| i.os_image.clone()),
        kernel: info.map(|i| i.kernel_version.clone()),
        architecture: info.map(|i| i.architecture.clone()),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .map(|t| match &t.value {
                Some(v) => format!("{}={v}:{}", t.key, t.effect),
                None => format!("{}:{}", t.key, t.effect),
            })
            .collect(),
        labels: red.redact_labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        annotations,
    }
}
