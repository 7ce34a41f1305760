//! Node summaries (`kubernetes/nodes.json`): capacity, allocatable, conditions, kubelet
//! and container runtime versions, OS image, kernel, labels, and only the annotations
//! that say something about the distribution (the `node-args` ones with their secret
//! flags redacted: RKE2 and k3s put the join token there when given on the command line).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node as K8sNode;
use rcdiag_contract::kubernetes::{Condition, Node};

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

/// Quantities as strings.
pub fn quantities(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default()
}

/// A node's summary.
pub fn summarize(node: &K8sNode, red: &Redactor) -> Node {
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
        .map(condition)
        .collect();
    let spec = node.spec.as_ref();
    Node {
        name: Some(meta.name.clone().unwrap_or_default()),
        roles,
        ready: Some(
            conditions.iter().any(|c| {
                c.type_.as_deref() == Some("Ready") && c.status.as_deref() == Some("True")
            }),
        ),
        unschedulable: Some(spec.and_then(|s| s.unschedulable).unwrap_or(false)),
        capacity: Some(quantities(status.and_then(|s| s.capacity.as_ref()))),
        allocatable: Some(quantities(status.and_then(|s| s.allocatable.as_ref()))),
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
        labels: Some(red.redact_labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))),
        annotations: Some(annotations),
        extra: Default::default(),
    }
}

/// A node or pod condition, as the contract writes it (type and status always there).
pub fn condition(c: &k8s_openapi::api::core::v1::NodeCondition) -> Condition {
    Condition {
        type_: Some(c.type_.clone()),
        status: Some(c.status.clone()),
        reason: c.reason.clone(),
        message: c.message.clone(),
        extra: Default::default(),
    }
}
