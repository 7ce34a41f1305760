//! The Kubernetes view of a bundle: the `kubernetes/*.json` files of the cluster
//! collector, held as their contract types, and what the checks ask of them (the
//! Rocket.Chat pods and their containers, the workloads owning them, resource
//! quantities as numbers), and how the bundles given together map onto clusters: one
//! cluster bundle stands for each cluster, and a per-node bundle whose node name is a
//! Kubernetes node's name is attached to that node.

use rcdiag_contract::kubernetes as k;

use super::{ImageRef, NodeData};
use crate::policy::Policy;

/// The `kubernetes/*.json` files of one bundle (each `None` when absent or unusable).
#[derive(Debug, Clone, Default)]
pub struct Kube {
    /// `kubernetes/cluster.json`.
    pub cluster: Option<k::ClusterFile>,
    /// `kubernetes/nodes.json`.
    pub nodes: Option<k::NodesFile>,
    /// `kubernetes/pods.json`.
    pub pods: Option<k::PodsFile>,
    /// `kubernetes/workloads.json`.
    pub workloads: Option<k::WorkloadsFile>,
    /// `kubernetes/network.json`.
    pub network: Option<k::NetworkFile>,
    /// `kubernetes/storage.json`.
    pub storage: Option<k::StorageFile>,
    /// `kubernetes/events.json`.
    pub events: Option<k::EventsFile>,
    /// `kubernetes/monitoring.json`.
    pub monitoring: Option<k::MonitoringFile>,
    /// `kubernetes/calls.json`.
    pub calls: Option<k::CallsFile>,
}

/// The bundle paths of the Kubernetes files, in the order they are read.
pub const KUBE_FILES: &[&str] = &[
    "kubernetes/cluster.json",
    "kubernetes/nodes.json",
    "kubernetes/pods.json",
    "kubernetes/workloads.json",
    "kubernetes/network.json",
    "kubernetes/storage.json",
    "kubernetes/events.json",
    "kubernetes/monitoring.json",
    "kubernetes/calls.json",
];

/// Pod roles the collector gives Rocket.Chat's own pods (the server and its
/// microservices).
pub const RC_ROLES: &[&str] = &["rocketchat", "rocketchat-service"];

impl Kube {
    /// Whether the bundle holds a cluster view at all.
    pub fn present(&self) -> bool {
        self.cluster.is_some() || self.pods.is_some() || self.workloads.is_some()
    }

    /// Every pod read, with its index in `pods.json`.
    pub fn pods(&self) -> impl Iterator<Item = (usize, &k::Pod)> {
        self.pods.iter().flat_map(|p| p.pods.iter().enumerate())
    }

    /// The pods of role `role`.
    pub fn pods_of(&self, roles: &[&str]) -> Vec<(usize, &k::Pod)> {
        self.pods()
            .filter(|(_, p)| p.role.as_deref().is_some_and(|r| roles.contains(&r)))
            .collect()
    }

    /// The Deployments (`kind` = `deployments`) or StatefulSets (`statefulsets`) whose
    /// selector selects at least one of `pods`, with their index.
    pub fn workloads_of(
        &self,
        kind: &str,
        pods: &[(usize, &k::Pod)],
    ) -> Vec<(usize, &k::Workload)> {
        let Some(w) = &self.workloads else {
            return Vec::new();
        };
        let list = match kind {
            "deployments" => &w.deployments,
            "statefulsets" => &w.statefulsets,
            "daemonsets" => &w.daemonsets,
            _ => return Vec::new(),
        };
        list.iter()
            .enumerate()
            .filter(|(_, d)| {
                pods.iter()
                    .any(|(_, p)| p.namespace == d.namespace && selects(d.selector.as_ref(), p))
            })
            .collect()
    }
}

/// One (non-init) container of a pod, as the checks see it: where it is in
/// `kubernetes/pods.json`, its image parsed.
#[derive(Debug, Clone)]
pub struct PodCtr<'a> {
    /// Index of the pod in `pods.json`.
    pub pod_index: usize,
    /// Index of the container in the pod's `containers`.
    pub index: usize,
    /// The pod.
    pub pod: &'a k::Pod,
    /// The container.
    pub c: &'a k::PodContainer,
    /// The image of the spec, parsed.
    pub image_ref: ImageRef,
}

impl<'a> PodCtr<'a> {
    /// JSON pointer of a field of this container in `kubernetes/pods.json`.
    pub fn pointer(&self, field: &str) -> String {
        if field.is_empty() {
            format!("/pods/{}/containers/{}", self.pod_index, self.index)
        } else {
            format!("/pods/{}/containers/{}/{field}", self.pod_index, self.index)
        }
    }

    /// JSON pointer of a field of the pod.
    pub fn pod_pointer(&self, field: &str) -> String {
        format!("/pods/{}/{field}", self.pod_index)
    }

    /// `container NAME of pod NS/POD`.
    pub fn who(&self) -> String {
        format!(
            "container {} of pod {}",
            self.name(),
            ns_name(&self.pod.namespace, &self.pod.name)
        )
    }

    /// The container's name (`?` when absent).
    pub fn name(&self) -> &str {
        self.c.name.as_deref().unwrap_or("?")
    }

    /// The image of the spec (empty when absent).
    pub fn image(&self) -> &str {
        self.c.image.as_deref().unwrap_or("")
    }

    /// The inline value of environment variable `name` (`None` when unset or when it
    /// comes from a `valueFrom` reference).
    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.c
            .env
            .iter()
            .find(|e| e.name.as_deref() == Some(name))
            .and_then(|e| e.value.as_deref())
    }

    /// Whether environment variable `name` is set (inline or by reference).
    pub fn env_set(&self, name: &str) -> bool {
        self.c.env.iter().any(|e| {
            e.name.as_deref() == Some(name)
                && (e.value_from.is_some() || e.value.as_deref().is_some_and(|v| !v.is_empty()))
        })
    }

    /// The image the runtime pulled (`imageID`), parsed: `repo@sha256:...`, without
    /// the `docker-pullable://` or `docker://` scheme some runtimes add. `None` when
    /// not recorded or when it is only a local image id (no repository).
    pub fn pulled(&self) -> Option<ImageRef> {
        let id = self.c.image_id.as_deref()?.trim();
        let id = id
            .strip_prefix("docker-pullable://")
            .or_else(|| id.strip_prefix("docker://"))
            .unwrap_or(id);
        let r = ImageRef::parse(id);
        (r.digest.is_some() && !r.repository.is_empty() && !id.starts_with("sha256:")).then_some(r)
    }

    /// Whether the pod runs (phase `Running`).
    pub fn pod_running(&self) -> bool {
        self.pod.phase.as_deref() == Some("Running")
    }
}

impl Kube {
    /// The non-init containers of the pods of `roles`.
    pub fn containers_of(&self, roles: &[&str]) -> Vec<PodCtr<'_>> {
        let mut out = Vec::new();
        for (i, p) in self.pods() {
            if !p.role.as_deref().is_some_and(|r| roles.contains(&r)) {
                continue;
            }
            for (j, c) in p.containers.iter().enumerate() {
                if c.init == Some(true) {
                    continue;
                }
                out.push(PodCtr {
                    pod_index: i,
                    index: j,
                    pod: p,
                    c,
                    image_ref: ImageRef::parse(c.image.as_deref().unwrap_or("")),
                });
            }
        }
        out
    }

    /// The non-init containers of every pod read.
    pub fn all_containers(&self) -> Vec<PodCtr<'_>> {
        let roles: Vec<&str> = self
            .pods()
            .filter_map(|(_, p)| p.role.as_deref())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut all = self.containers_of(&roles);
        // Pods without a role too.
        for (i, p) in self.pods().filter(|(_, p)| p.role.is_none()) {
            for (j, c) in p.containers.iter().enumerate() {
                if c.init != Some(true) {
                    all.push(PodCtr {
                        pod_index: i,
                        index: j,
                        pod: p,
                        c,
                        image_ref: ImageRef::parse(c.image.as_deref().unwrap_or("")),
                    });
                }
            }
        }
        all.sort_by_key(|c| (c.pod_index, c.index));
        all
    }

    /// The Rocket.Chat server containers: in each pod of role `rocketchat`, the
    /// containers that look like the server (an official repository, an image named
    /// `rocket.chat`/`rocketchat`, `DEPLOY_METHOD`/`DEPLOY_PLATFORM` or `ROOT_URL` and
    /// `MONGO_URL` set, or named `rocketchat`), else the pod's only container. A
    /// sidecar (a proxy, a log shipper) is left out.
    pub fn rc_servers(&self, policy: &Policy) -> Vec<PodCtr<'_>> {
        let all = self.containers_of(&["rocketchat"]);
        let mut out = Vec::new();
        let mut pods: Vec<usize> = all.iter().map(|c| c.pod_index).collect();
        pods.dedup();
        for pi in pods {
            let in_pod: Vec<&PodCtr> = all.iter().filter(|c| c.pod_index == pi).collect();
            let server: Vec<&PodCtr> = in_pod
                .iter()
                .copied()
                .filter(|c| looks_like_server(c, policy))
                .collect();
            if !server.is_empty() {
                out.extend(server.into_iter().cloned());
            } else if in_pod.len() == 1 {
                out.push(in_pod[0].clone());
            }
        }
        out
    }

    /// The Kubernetes node named `name` in `nodes.json`, with its index.
    pub fn node_named(&self, name: &str) -> Option<(usize, &k::Node)> {
        self.nodes
            .iter()
            .flat_map(|f| f.nodes.iter().enumerate())
            .find(|(_, n)| n.name.as_deref() == Some(name))
    }

    /// The names of the Kubernetes nodes.
    pub fn node_names(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .flat_map(|f| f.nodes.iter().filter_map(|n| n.name.as_deref()))
            .collect()
    }
}

fn looks_like_server(c: &PodCtr<'_>, policy: &Policy) -> bool {
    let repo = c.image_ref.repository.as_str();
    if policy.images.official.iter().any(|o| o.repository == repo) {
        return true;
    }
    let last = repo.rsplit('/').next().unwrap_or("");
    last == "rocket.chat"
        || last == "rocketchat"
        || c.name() == "rocketchat"
        || c.env_set("DEPLOY_METHOD")
        || (c.env_set("ROOT_URL") && c.env_set("MONGO_URL"))
}

/// The bundles holding a cluster view, one per cluster (the same API server and node
/// names): the first bundle of a cluster stands for it.
pub fn cluster_bundles(nodes: &[NodeData]) -> Vec<&NodeData> {
    let mut seen = std::collections::BTreeSet::new();
    nodes
        .iter()
        .filter(|n| n.kube.present())
        .filter(|n| {
            let server = n.kube.cluster.as_ref().and_then(|c| c.server.clone());
            let names: Vec<String> = n
                .kube
                .node_names()
                .into_iter()
                .map(str::to_string)
                .collect();
            seen.insert((server, names))
        })
        .collect()
}

/// The cluster bundle (of `nodes`) with a Kubernetes node named as `node`'s host,
/// and that node's index in its `nodes.json`: `node` is a per-node bundle of that
/// cluster. `None` when `node` holds a cluster view itself or matches no node.
pub fn cluster_of<'a>(
    nodes: &'a [NodeData],
    node: &NodeData,
) -> Option<(&'a NodeData, usize, &'a k::Node)> {
    if node.kube.present() {
        return None;
    }
    let name = node.hostname();
    cluster_bundles(nodes)
        .into_iter()
        .find_map(|c| c.kube.node_named(name).map(|(i, n)| (c, i, n)))
}

/// The per-node bundle (of `nodes`) of the Kubernetes node `name`: a bundle without a
/// cluster view whose node name is `name` and that holds host facts.
pub fn node_bundle<'a>(nodes: &'a [NodeData], name: &str) -> Option<&'a NodeData> {
    nodes
        .iter()
        .find(|n| !n.kube.present() && n.hostname() == name && n.host.is_some())
}

/// Whether `node`'s Rocket.Chat pods and containers are seen in a cluster view of
/// `nodes`: it holds one, or it is a per-node bundle of a cluster given too. A check
/// does not report such a bundle's missing Docker data as a gap.
pub fn in_cluster(nodes: &[NodeData], node: &NodeData) -> bool {
    node.kube.pods.is_some() || cluster_of(nodes, node).is_some()
}

/// Whether a `matchLabels` selector selects pod `p` (an empty or absent selector
/// selects nothing here: the collector keeps only `matchLabels`).
pub fn selects(selector: Option<&std::collections::BTreeMap<String, String>>, p: &k::Pod) -> bool {
    let Some(sel) = selector.filter(|s| !s.is_empty()) else {
        return false;
    };
    let Some(labels) = &p.labels else {
        return false;
    };
    sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `namespace/name` of an object, `?` for what is missing.
pub fn ns_name(ns: &Option<String>, name: &Option<String>) -> String {
    format!(
        "{}/{}",
        ns.as_deref().unwrap_or("?"),
        name.as_deref().unwrap_or("?")
    )
}

/// A CPU quantity in cores (`"2"`, `"1500m"`, `"0.5"`).
pub fn cpu_cores(q: &str) -> Option<f64> {
    let q = q.trim();
    let v = match q.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok()? / 1000.0,
        None => q.parse::<f64>().ok()?,
    };
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// A memory quantity in bytes (`"4Gi"`, `"33554432Ki"`, `"512M"`, `"1e9"`).
pub fn quantity_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    const UNITS: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    let (num, mult) = UNITS
        .iter()
        .find_map(|(u, m)| q.strip_suffix(u).map(|n| (n, *m)))
        .unwrap_or((q, 1.0));
    let v = num.parse::<f64>().ok()? * mult;
    (v.is_finite() && v >= 0.0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse() {
        assert_eq!(cpu_cores("7900m"), Some(7.9));
        assert_eq!(cpu_cores("2"), Some(2.0));
        assert_eq!(cpu_cores("x"), None);
        assert_eq!(quantity_bytes("4Gi"), Some(4.0 * 1073741824.0));
        assert_eq!(quantity_bytes("33554432Ki"), Some(32.0 * 1073741824.0));
        assert_eq!(quantity_bytes("512M"), Some(512e6));
        assert_eq!(quantity_bytes("-1"), None);
    }
}
