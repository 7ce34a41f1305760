//! The Kubernetes side of the hardware checks: the Rocket.Chat and MongoDB pods on a
//! Kubernetes node, the CPU and memory limits of their containers, and a node without
//! a bundle of its own judged on its capacity (`kubernetes/nodes.json`) and the volume
//! claims of its MongoDB pods (`kubernetes/storage.json`).

use rcdiag_contract::kubernetes as k;

use super::{GIB, Part, colocated, round1};
use crate::checks::{CheckInput, Evidence, Finding, Outcome};
use crate::model::{NodeData, PodCtr, cpu_cores, node_bundle, quantity_bytes};
use crate::policy::{Policy, Resources, Tier};

/// The Rocket.Chat and MongoDB containers of the pods on one Kubernetes node.
pub(super) struct PodsOn<'a> {
    cluster: &'a NodeData,
    rc: Vec<PodCtr<'a>>,
    mongo: Vec<PodCtr<'a>>,
}

impl<'a> PodsOn<'a> {
    pub(super) fn new(cluster: &'a NodeData, node: &str, policy: &Policy) -> PodsOn<'a> {
        let on = |c: &PodCtr| c.pod.node.as_deref() == Some(node);
        PodsOn {
            cluster,
            rc: cluster
                .kube
                .rc_servers(policy)
                .into_iter()
                .filter(on)
                .collect(),
            mongo: cluster
                .kube
                .containers_of(&["mongodb"])
                .into_iter()
                .filter(on)
                .collect(),
        }
    }

    /// What the node must have for the pods on it; `None` when it runs neither.
    pub(super) fn requirement(
        &self,
        input: &CheckInput,
        tier: &Tier,
    ) -> Option<(Resources, String)> {
        let (r, m) = (tier.rocketchat, tier.mongodb);
        match (!self.rc.is_empty(), !self.mongo.is_empty()) {
            (true, true) => Some((
                colocated(input, &r, &m),
                "Rocket.Chat and MongoDB pods".into(),
            )),
            (true, false) => Some((r, "Rocket.Chat pods".into())),
            (false, true) => Some((m, "MongoDB pods".into())),
            (false, false) => None,
        }
    }

    /// A failing finding when a container's CPU or memory limit is below what its
    /// component needs in `tier` (disk has no limit here).
    pub(super) fn limit_finding(
        &self,
        input: &CheckInput,
        tier: &Tier,
        part: Part,
        head: &str,
    ) -> Option<Finding> {
        let tol = 1.0 - input.policy.hardware.memory_tolerance_percent / 100.0;
        let groups = [
            (&self.rc, &tier.rocketchat, "Rocket.Chat"),
            (&self.mongo, &tier.mongodb, "MongoDB"),
        ];
        for (cs, need, what) in groups {
            for c in cs.iter() {
                let limits = c.c.limits.clone().unwrap_or_default();
                let (key, have, want, unit) = match part {
                    Part::Cpu => {
                        let Some(v) = limits.get("cpu").and_then(|q| cpu_cores(q)) else {
                            continue;
                        };
                        (v, v + 1e-9 < need.vcpu, need.vcpu, "vCPU")
                    }
                    Part::Memory => {
                        let Some(v) = limits.get("memory").and_then(|q| quantity_bytes(q)) else {
                            continue;
                        };
                        let g = v / GIB;
                        (g, g < need.memory_gib * tol, need.memory_gib, "GiB memory")
                    }
                    Part::Disk => return None,
                };
                if have {
                    let field = if matches!(part, Part::Cpu) {
                        "cpu"
                    } else {
                        "memory"
                    };
                    return Some(Finding::new(
                        Outcome::Fail,
                        format!(
                            "{head}: {} is limited to {} {unit}, {what} needs {want}",
                            c.who(),
                            round1(key)
                        ),
                        vec![
                            Evidence::file(self.cluster, "kubernetes/pods.json")
                                .at(c.pointer("limits"))
                                .val(format!(
                                    "{field}: {}",
                                    limits.get(field).cloned().unwrap_or_default()
                                )),
                        ],
                    ));
                }
            }
        }
        None
    }
}

/// The Kubernetes nodes of a cluster bundle that run Rocket.Chat or MongoDB pods and
/// have no per-node bundle among the bundles given, judged on their capacity.
pub(super) fn kube_nodes(
    cluster: &NodeData,
    input: &CheckInput,
    tier: &Tier,
    part: Part,
    basis: &str,
    findings: &mut Vec<Finding>,
) {
    const NODES: &str = "kubernetes/nodes.json";
    let Some(nodes) = &cluster.kube.nodes else {
        if !cluster.kube.rc_servers(input.policy).is_empty() {
            findings.push(Finding::new(
                Outcome::Unknown,
                cluster.why_missing(NODES, "kubernetes"),
                Vec::new(),
            ));
        }
        return;
    };
    for (i, kn) in nodes.nodes.iter().enumerate() {
        let name = kn.name.as_deref().unwrap_or("");
        if node_bundle(input.nodes, name).is_some() {
            continue;
        }
        let pods = PodsOn::new(cluster, name, input.policy);
        let Some((need, role)) = pods.requirement(input, tier) else {
            continue;
        };
        let head = format!("Kubernetes node {name} ({role}; {basis})");
        let cap = kn.capacity.clone().unwrap_or_default();
        let ev = |key: &str| {
            Evidence::file(cluster, NODES)
                .at(format!("/nodes/{i}/capacity/{key}"))
                .val(cap.get(key).cloned().unwrap_or_default())
        };
        let missing = || {
            Finding::new(
                Outcome::Unknown,
                format!("{head}: its capacity was not recorded in {NODES}"),
                vec![Evidence::file(cluster, NODES).at(format!("/nodes/{i}/capacity"))],
            )
        };
        let f = match part {
            Part::Cpu => match cap.get("cpu").and_then(|q| cpu_cores(q)) {
                None => missing(),
                Some(have) if have + 1e-9 < need.vcpu => Finding::new(
                    Outcome::Fail,
                    format!("{head} has {} vCPU, needs {}", round1(have), need.vcpu),
                    vec![ev("cpu")],
                ),
                Some(have) => Finding::new(
                    Outcome::Pass,
                    format!("{head} has {} vCPU (needs {})", round1(have), need.vcpu),
                    vec![ev("cpu")],
                ),
            },
            Part::Memory => {
                let tol = 1.0 - input.policy.hardware.memory_tolerance_percent / 100.0;
                match cap.get("memory").and_then(|q| quantity_bytes(q)) {
                    None => missing(),
                    Some(b) if b / GIB < need.memory_gib * tol => Finding::new(
                        Outcome::Fail,
                        format!(
                            "{head} has {:.1} GiB memory, needs {} GiB",
                            b / GIB,
                            need.memory_gib
                        ),
                        vec![ev("memory")],
                    ),
                    Some(b) => Finding::new(
                        Outcome::Pass,
                        format!(
                            "{head} has {:.1} GiB memory (needs {} GiB)",
                            b / GIB,
                            need.memory_gib
                        ),
                        vec![ev("memory")],
                    ),
                }
            }
            Part::Disk => kube_disk(cluster, input, tier, &pods, &cap, i, &head),
        };
        let f = match (f.outcome, pods.limit_finding(input, tier, part, &head)) {
            (Outcome::Pass, Some(limit)) => limit,
            _ => f,
        };
        findings.push(f);
    }
}

/// Disk of a Kubernetes node: `ephemeral-storage` for Rocket.Chat pods (their image
/// and local files), and the volume claims of its MongoDB pods for MongoDB's data.
fn kube_disk(
    cluster: &NodeData,
    input: &CheckInput,
    tier: &Tier,
    pods: &PodsOn<'_>,
    cap: &std::collections::BTreeMap<String, String>,
    i: usize,
    head: &str,
) -> Finding {
    let tol = 1.0 - input.policy.hardware.disk_tolerance_percent / 100.0;
    let mut out: Vec<Finding> = Vec::new();
    if !pods.rc.is_empty() {
        let need = tier.rocketchat.disk_gb;
        let ev = Evidence::file(cluster, "kubernetes/nodes.json")
            .at(format!("/nodes/{i}/capacity/ephemeral-storage"))
            .val(cap.get("ephemeral-storage").cloned().unwrap_or_default());
        out.push(
            match cap.get("ephemeral-storage").and_then(|q| quantity_bytes(q)) {
                None => Finding::new(
                    Outcome::Unknown,
                    format!("{head}: its ephemeral-storage capacity was not recorded"),
                    vec![ev],
                ),
                Some(b) if b / 1e9 < need * tol => Finding::new(
                    Outcome::Fail,
                    format!(
                        "{head} has {:.1} GB of ephemeral storage, Rocket.Chat needs {need} GB",
                        b / 1e9
                    ),
                    vec![ev],
                ),
                Some(b) => Finding::new(
                    Outcome::Pass,
                    format!(
                        "{head} has {:.1} GB of ephemeral storage (Rocket.Chat needs {need} GB)",
                        b / 1e9
                    ),
                    vec![ev],
                ),
            },
        );
    }
    let pvcs: &[k::Pvc] = cluster
        .kube
        .storage
        .as_ref()
        .map(|s| s.pvcs.as_slice())
        .unwrap_or_default();
    for c in &pods.mongo {
        let need = tier.mongodb.disk_gb;
        let pod = c.pod.name.as_deref().unwrap_or("");
        let claim = pvcs.iter().enumerate().find(|(_, p)| {
            p.namespace == c.pod.namespace
                && p.name
                    .as_deref()
                    .is_some_and(|n| n.ends_with(&format!("-{pod}")))
        });
        let Some((j, pvc)) = claim else {
            out.push(Finding::new(
                Outcome::Unknown,
                format!("{head}: no volume claim of MongoDB pod {pod} was found in kubernetes/storage.json"),
                Vec::new(),
            ));
            continue;
        };
        let size = pvc
            .capacity
            .as_deref()
            .or(pvc.requested.as_deref())
            .unwrap_or("");
        let ev = Evidence::file(cluster, "kubernetes/storage.json")
            .at(format!("/pvcs/{j}/capacity"))
            .val(format!("{}: {size}", pvc.name.as_deref().unwrap_or("?")));
        out.push(match quantity_bytes(size) {
            None => Finding::new(
                Outcome::Unknown,
                format!(
                    "{head}: the size of MongoDB's volume claim {} is not recorded",
                    pvc.name.as_deref().unwrap_or("?")
                ),
                vec![ev],
            ),
            Some(b) if b / 1e9 < need * tol => Finding::new(
                Outcome::Fail,
                format!(
                    "{head}: MongoDB's volume {} has {:.1} GB, needs {need} GB",
                    pvc.name.as_deref().unwrap_or("?"),
                    b / 1e9
                ),
                vec![ev],
            ),
            Some(b) => Finding::new(
                Outcome::Pass,
                format!(
                    "{head}: MongoDB's volume {} has {:.1} GB (needs {need} GB)",
                    pvc.name.as_deref().unwrap_or("?"),
                    b / 1e9
                ),
                vec![ev],
            ),
        });
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.outcome.severity()));
    let mut first = out.remove(0);
    if first.outcome == Outcome::Pass {
        let msgs: Vec<String> = std::iter::once(first.message.clone())
            .chain(out.iter().map(|f| f.message.clone()))
            .collect();
        first.message = msgs.join("; ");
        for f in out {
            first.evidence.extend(f.evidence);
        }
    }
    first
}
