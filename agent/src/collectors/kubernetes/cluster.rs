//! The cluster summary (`kubernetes/cluster.json`): where the agent connected, the
//! server version, the API groups, the distribution signs (OpenShift, Rancher, RKE2,
//! k3s, each with the evidence that shows it), counts, the namespaces chosen and why,
//! and where Rocket.Chat's `MONGO_URL` comes from.

use k8s_openapi::api::core::v1::Node;
use serde::Serialize;
use serde_json::Value;

use super::pods::MongoHint;

/// Everything of `cluster.json`.
#[derive(Debug, Default, Serialize)]
pub struct Cluster {
    /// How the agent connected (`kubeconfig FILE (context C)`, `in-cluster service account`).
    pub source: String,
    /// The API server URL.
    pub server: String,
    /// `/version`.
    pub version: Option<ServerVersion>,
    /// API groups served, `group/preferredVersion`.
    pub api_groups: Vec<String>,
    /// Distribution signs.
    pub distribution: Vec<Sign>,
    /// Nodes.
    pub node_count: usize,
    /// Namespaces of the cluster (when they could be listed).
    pub namespace_count: Option<usize>,
    /// Namespaces read, and why each was chosen.
    pub namespaces: Vec<ChosenNamespace>,
    /// Pods read in those namespaces.
    pub pod_count: usize,
    /// Rocket.Chat server pods among them.
    pub rocketchat_pods: usize,
    /// `DEPLOY_PLATFORM` values of the Rocket.Chat pods (`helm-chart` for the chart).
    pub deploy_platforms: Vec<String>,
    /// Helm releases, from the workloads' labels (`namespace/release chart-version`).
    pub helm_releases: Vec<String>,
    /// Where Rocket.Chat's `MONGO_URL` comes from.
    pub mongodb_hint: Option<MongoHint>,
}

/// `/version`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerVersion {
    /// `v1.33.5`, `v1.31.9+rke2r1`.
    pub git_version: String,
    /// Major.
    pub major: String,
    /// Minor.
    pub minor: String,
    /// Platform.
    pub platform: String,
}

/// A distribution recognised, with its evidence.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sign {
    /// `openshift`, `rancher`, `rke2`, `k3s`.
    pub name: &'static str,
    /// The version when known (OpenShift's ClusterVersion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What shows it.
    pub evidence: Vec<String>,
}

/// A namespace read.
#[derive(Debug, Clone, Serialize)]
pub struct ChosenNamespace {
    /// Name.
    pub name: String,
    /// `given`, or what was found there (`rocketchat`, `mongodb`, `prometheus`...).
    pub reasons: Vec<String>,
}

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

fn push(signs: &mut Vec<Sign>, name: &'static str, evidence: String) {
    match signs.iter_mut().find(|s| s.name == name) {
        Some(s) => {
            if !s.evidence.contains(&evidence) {
                s.evidence.push(evidence)
            }
        }
        None => signs.push(Sign {
            name,
            version: None,
            evidence: vec![evidence],
        }),
    }
}

/// The distribution signs of the evidence.
pub fn signs(ev: &Evidence) -> Vec<Sign> {
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
        if let Some(s) = out.iter_mut().find(|s| s.name == "openshift") {
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
