//! The distribution signs of `kubernetes/cluster.json` (OpenShift, Rancher, RKE2, k3s,
//! each with the evidence that shows it). The file itself is the contract's
//! [`rcdiag_contract::kubernetes::ClusterFile`], filled in by the collector.

use k8s_openapi::api::core::v1::Node;
use rcdiag_contract::kubernetes::Distribution;
use serde_json::Value;

/// What the collector saw that tells distributions apart.
pub struct Evidence<'a> {
    /// `/version` gitVersion.
    pub git_version: Option<&'a str>,
    /// API group names.
    pub groups: &'a [String],
    /// Nodes.
    pub nodes: &'a [Node],
    /// Namespace names, if listed.
    pub namespaces: Option<&'a [String]>,
    /// Whether Deployment `cattle-system/cattle-cluster-agent` exists (`None`: not looked up).
    pub cattle_cluster_agent: Option<bool>,
    /// The OpenShift ClusterVersion object, if read.
    pub cluster_version: Option<&'a Value>,
}

fn push(signs: &mut Vec<Distribution>, name: &'static str, evidence: String) {
    match signs.iter_mut().find(|s| s.name.as_deref() == Some(name)) {
        Some(s) => {
            if !s.evidence.contains(&evidence) {
                s.evidence.push(evidence)
            }
        }
        None => signs.push(Distribution {
            name: Some(name.to_string()),
            version: None,
            evidence: vec![evidence],
            extra: Default::default(),
        }),
    }
}

/// The distribution signs of the evidence.
pub fn signs(ev: &Evidence) -> Vec<Distribution> {
    let mut out = Vec::new();
    for g in ev.groups {
        if g.ends_with(".openshift.io")
            && (g.starts_with("config.") || g.starts_with("apps.") || g.starts_with("route."))
        {
            push(&mut out, "openshift", format!("API group {g}"));
        }
        if g == "management.cattle.io" {
            push(
                &mut out,
                "rancher",
                "API group management.cattle.io (the Rancher manager's cluster)".into(),
            );
        }
    }
    if let Some(cv) = ev.cluster_version {
        let v = cv["status"]["desired"]["version"]
            .as_str()
            .map(str::to_string);
        push(
            &mut out,
            "openshift",
            format!(
                "ClusterVersion {} desired {}",
                cv["metadata"]["name"].as_str().unwrap_or("version"),
                v.as_deref().unwrap_or("?")
            ),
        );
        if let Some(s) = out
            .iter_mut()
            .find(|s| s.name.as_deref() == Some("openshift"))
        {
            s.version = v;
        }
    }
    if let Some(ns) = ev.namespaces {
        if ns.iter().any(|n| n == "cattle-system") {
            match ev.cattle_cluster_agent {
                Some(true) => push(
                    &mut out,
                    "rancher",
                    "namespace cattle-system with Deployment cattle-cluster-agent".into(),
                ),
                _ => push(&mut out, "rancher", "namespace cattle-system".into()),
            }
        }
        if ns
            .iter()
            .any(|n| n == "openshift-config" || n == "openshift-apiserver")
        {
            push(
                &mut out,
                "openshift",
                "namespace openshift-config/openshift-apiserver".into(),
            );
        }
    }
    if let Some(v) = ev.git_version {
        if v.contains("+rke2") {
            push(&mut out, "rke2", format!("server version {v}"));
        }
        if v.contains("+k3s") {
            push(&mut out, "k3s", format!("server version {v}"));
        }
    }
    for n in ev.nodes {
        let name = n.metadata.name.as_deref().unwrap_or("");
        let labels = n.metadata.labels.as_ref();
        let annotations = n.metadata.annotations.as_ref();
        let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        let has_ann = |k: &str| annotations.is_some_and(|a| a.contains_key(k));
        if let Some(os) = label("node.openshift.io/os_id") {
            push(
                &mut out,
                "openshift",
                format!("node label node.openshift.io/os_id={os} (node {name})"),
            );
        }
        for k in ["rke2.io/node-args", "rke2.io/hostname"] {
            if has_ann(k) {
                push(
                    &mut out,
                    "rke2",
                    format!("node annotation {k} (node {name})"),
                );
            }
        }
        if label("node.kubernetes.io/instance-type") == Some("k3s") {
            push(
                &mut out,
                "k3s",
                format!("node label node.kubernetes.io/instance-type=k3s (node {name})"),
            );
        }
        if label("node.kubernetes.io/instance-type") == Some("rke2") {
            push(
                &mut out,
                "rke2",
                format!("node label node.kubernetes.io/instance-type=rke2 (node {name})"),
            );
        }
        if has_ann("k3s.io/node-args") {
            push(
                &mut out,
                "k3s",
                format!("node annotation k3s.io/node-args (node {name})"),
            );
        }
        let kubelet = n
            .status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.as_str())
            .unwrap_or("");
        if kubelet.contains("+rke2") {
            push(&mut out, "rke2", format!("kubelet {kubelet} (node {name})"));
        }
        if kubelet.contains("+k3s") {
            push(&mut out, "k3s", format!("kubelet {kubelet} (node {name})"));
        }
    }
    // One line per kind of evidence is enough on a large cluster.
    for s in &mut out {
        s.evidence.truncate(8);
    }
    out
}
