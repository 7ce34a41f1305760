//! The Kubernetes view of a bundle: the `kubernetes/*.json` files of the cluster
//! collector, held as their contract types, and what the checks ask of them (the
//! Rocket.Chat pods, the workloads owning them, resource quantities as numbers).

use rcdiag_contract::kubernetes as k;

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
