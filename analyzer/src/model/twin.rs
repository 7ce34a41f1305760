//! One container seen twice. A node bundle of a Kubernetes node (its CRI containers,
//! `cri/containers.json`) read with a cluster bundle of the same cluster (its pods,
//! `kubernetes/pods.json`) shows each pod's container twice. The node bundle is of
//! that cluster when its node name is a Kubernetes node's ([`cluster_of`]); a CRI
//! container is a pod's container when the kubelet's labels
//! `io.kubernetes.pod.namespace`, `io.kubernetes.pod.name` and
//! `io.kubernetes.container.name` (else the names the CRI collector recorded) name it,
//! and the pod runs on that node (or its node is not recorded). The checks report such
//! a container once, from the pod view, citing the CRI entry beside it.

use rcdiag_contract::docker;

use super::kube::cluster_of;
use super::{Container, NodeData, PodCtr};

/// `(namespace, pod, container)` of a CRI container, from the kubelet's labels, else
/// from the `NAMESPACE/POD/CONTAINER` name the CRI view gives it.
pub fn cri_key(raw: &docker::Container) -> Option<(String, String, String)> {
    let labels = raw.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).filter(|v| !v.is_empty());
    if let (Some(ns), Some(pod), Some(name)) = (
        label("io.kubernetes.pod.namespace"),
        label("io.kubernetes.pod.name"),
        label("io.kubernetes.container.name"),
    ) {
        return Some((ns.clone(), pod.clone(), name.clone()));
    }
    let mut parts = raw.name.as_deref()?.splitn(3, '/');
    let (ns, pod, name) = (parts.next()?, parts.next()?, parts.next()?);
    (!ns.is_empty() && !pod.is_empty() && !name.is_empty())
        .then(|| (ns.to_string(), pod.to_string(), name.to_string()))
}

/// Whether pod container `p` is the one `key` names, on Kubernetes node `node`.
fn same(p: &PodCtr<'_>, key: &(String, String, String), node: &str) -> bool {
    p.pod.namespace.as_deref() == Some(key.0.as_str())
        && p.pod.name.as_deref() == Some(key.1.as_str())
        && p.c.name.as_deref() == Some(key.2.as_str())
        && p.pod.node.as_deref().is_none_or(|n| n == node)
}

/// The pod container, in a cluster bundle of `nodes`, that CRI container `c` of node
/// bundle `node` is; `None` for a Docker container, a container of no pod of a cluster
/// given, or a node bundle of no cluster given.
pub fn pod_twin<'a>(
    nodes: &'a [NodeData],
    node: &NodeData,
    c: &Container<'_>,
) -> Option<(&'a NodeData, PodCtr<'a>)> {
    if c.file != super::cri::CRI_CONTAINERS {
        return None;
    }
    let key = cri_key(c.raw)?;
    let (cluster, _, _) = cluster_of(nodes, node)?;
    let p = cluster
        .kube
        .all_containers()
        .into_iter()
        .find(|p| same(p, &key, node.hostname()))?;
    Some((cluster, p))
}

/// The CRI container, in a node bundle of `nodes` attached to `cluster`, that pod
/// container `p` of cluster bundle `cluster` is (the reverse of [`pod_twin`]), with
/// the node bundle; its index is its index in that bundle's `cri/containers.json`.
pub fn cri_twin<'a>(
    nodes: &'a [NodeData],
    cluster: &NodeData,
    p: &PodCtr<'_>,
) -> Option<(&'a NodeData, usize, &'a docker::Container)> {
    let on = p.pod.node.as_deref();
    nodes.iter().find_map(|n| {
        if n.cri_as_docker.is_empty() || on.is_some_and(|name| name != n.hostname()) {
            return None;
        }
        let (cl, _, _) = cluster_of(nodes, n)?;
        if !std::ptr::eq(cl, cluster) {
            return None;
        }
        n.cri_as_docker.iter().enumerate().find_map(|(i, raw)| {
            let key = cri_key(raw)?;
            same(p, &key, n.hostname()).then_some((n, i, raw))
        })
    })
}
