//! `hardware.cpu`, `hardware.memory`, `hardware.disk`: each node meets the hardware
//! tier for the installation's concurrent (else active) users, for the components it
//! runs (facts §3). Where a node runs both Rocket.Chat and MongoDB the policy says
//! whether their requirements add up (`colocated = "sum"`) or the larger counts.
//!
//! On Kubernetes, what a node runs comes from the pods on it (`kubernetes/pods.json`):
//! a per-node bundle whose node name is a Kubernetes node's is judged on its own host
//! facts for the pods of that node; a Kubernetes node without such a bundle is judged
//! on its capacity (`kubernetes/nodes.json`: `cpu`, `memory`, `ephemeral-storage`, and
//! the volume claims of its MongoDB pods). The CPU and memory limits of Rocket.Chat and
//! MongoDB containers cap what they may use, as Docker limits do. Without a user count
//! a cluster is held to the smallest tier: a node below it fails, one above it is
//! `unknown` (its tier is not known).

use rcdiag_contract::kubernetes as k;

use super::host::{data_mounts, runs_rocketchat};
use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, cluster_users, conclude,
    processes_of, rc_containers, result,
};
use crate::model::{
    ContainerKind, NodeData, PodCtr, cluster_bundles, cluster_of, cpu_cores, node_bundle,
    quantity_bytes,
};
use crate::policy::{Colocation, Policy, Resources, Tier};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::HardwareCpu,
        title: "CPU meets the tier",
        area: "hardware",
        description: "Each node has the vCPUs of the hardware tier for the concurrent (else active) users, for the components it runs.",
        run: cpu,
    },
    Check {
        id: CheckId::HardwareMemory,
        title: "Memory meets the tier",
        area: "hardware",
        description: "Each node has the memory of the hardware tier for the concurrent (else active) users, for the components it runs.",
        run: memory,
    },
    Check {
        id: CheckId::HardwareDisk,
        title: "Disk meets the tier",
        area: "hardware",
        description: "The data mount(s) of each node are as large as the tier requires (40 GB for Rocket.Chat, plus MongoDB's where it runs).",
        run: disk,
    },
];

const GIB: f64 = (1u64 << 30) as f64;

/// Runs `hardware.cpu`.
fn cpu(input: &CheckInput) -> CheckResult {
    one(input, Part::Cpu)
}

/// Runs `hardware.memory`.
fn memory(input: &CheckInput) -> CheckResult {
    one(input, Part::Memory)
}

/// Runs `hardware.disk`.
fn disk(input: &CheckInput) -> CheckResult {
    one(input, Part::Disk)
}

/// Which of the three hardware checks.
#[derive(Clone, Copy)]
enum Part {
    Cpu,
    Memory,
    Disk,
}

/// Runs one of the three hardware checks.
fn one(input: &CheckInput, part: Part) -> CheckResult {
    let id = match part {
        Part::Cpu => CheckId::HardwareCpu,
        Part::Memory => CheckId::HardwareMemory,
        Part::Disk => CheckId::HardwareDisk,
    };
    let clusters = cluster_bundles(input.nodes);
    let (tier, basis, users_ev, floor) = match cluster_users(input.nodes) {
        Some((users, basis, ev)) => {
            let Some(tier) = input.policy.tier_for(users) else {
                return result(
                    input,
                    id,
                    Outcome::Unknown,
                    "the policy has no hardware tiers".into(),
                    Vec::new(),
                );
            };
            (
                tier,
                format!("tier {} for {users} {basis}", tier.name),
                Some(ev),
                None,
            )
        }
        None => {
            let why: Vec<String> = input
                .nodes
                .iter()
                .filter(|n| !n.kube.present())
                .map(|n| n.why_missing("rocketchat/summary.json", "rocketchat"))
                .collect();
            let msg = if why.is_empty() && !clusters.is_empty() {
                format!(
                    "the user count that selects the hardware tier is unknown: {}",
                    clusters
                        .iter()
                        .map(|c| users_fix(c, input.policy))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            } else {
                format!(
                    "the user count that selects the hardware tier is unknown: {}; rerun rcdiag-agent collect with read access to the Rocket.Chat database",
                    if why.is_empty() {
                        "no bundle".to_string()
                    } else {
                        why.join("; ")
                    }
                )
            };
            let smallest = input.policy.hardware.tiers.first();
            match smallest {
                Some(t) if !clusters.is_empty() => (
                    t,
                    format!("smallest tier {}, the user count being unknown", t.name),
                    None,
                    Some(msg),
                ),
                _ => return result(input, id, Outcome::Unknown, msg, Vec::new()),
            }
        }
    };
    let mut findings = Vec::new();
    for node in input.nodes {
        if node.kube.present() {
            // A cluster bundle: its Kubernetes nodes without a bundle of their own.
            if clusters.iter().any(|c| std::ptr::eq(*c, node)) {
                kube_nodes(node, input, tier, part, &basis, &mut findings);
            }
            if node.host.is_none() {
                continue;
            }
        }
        let attached = cluster_of(input.nodes, node);
        let req = match attached {
            Some((cl, _, kn)) => {
                let pods = PodsOn::new(cl, kn.name.as_deref().unwrap_or(""), input.policy);
                pods.requirement(input, tier)
            }
            None => requirement(node, input, tier),
        };
        let Some((need, role)) = req else {
            continue;
        };
        let head = format!("{} ({role}; {basis})", node.hostname());
        let mut f = match part {
            Part::Cpu => check_cpu(node, input, tier, &need, &head),
            Part::Memory => check_memory(node, input, tier, &need, &head),
            Part::Disk => check_disk(node, input, &need, &head),
        };
        if let Some((cl, _, kn)) = attached
            && f.outcome == Outcome::Pass
            && let Some(limit) = PodsOn::new(cl, kn.name.as_deref().unwrap_or(""), input.policy)
                .limit_finding(input, tier, part, &head)
        {
            f = limit;
        }
        findings.push(f);
    }
    if let Some(why) = floor {
        // Held to the smallest tier only: a pass says nothing of the real tier.
        for f in &mut findings {
            if f.outcome == Outcome::Pass {
                f.outcome = Outcome::Unknown;
                f.message = format!("{} (meets the smallest tier; {why})", f.message);
            }
        }
    }
    if let (Some(f), Some(ev)) = (findings.first_mut(), users_ev) {
        f.evidence.push(ev);
    }
    conclude(
        input,
        id,
        findings,
        "no node runs Rocket.Chat or MongoDB in these bundles",
    )
}

/// What a cluster bundle without a user count lacks, and exactly what to add: the
/// mongodb and rocketchat collectors, as the CronJob of `packaging/kubernetes` runs
/// them, with the MongoDB URI the Rocket.Chat pods use (named by its Secret and key
/// when `MONGO_URL` comes from one: the agent never reads Secrets).
fn users_fix(cluster: &NodeData, policy: &Policy) -> String {
    let why = cluster.why_missing("rocketchat/summary.json", "rocketchat");
    let run = "add the mongodb and rocketchat collectors to the cluster bundle: rcdiag-agent collect --only kubernetes,mongodb,rocketchat";
    let cronjob = "the CronJob of packaging/kubernetes runs them, mongodb_uri in its agent.toml";
    let servers = cluster.kube.rc_servers(policy);
    let mongo_url = servers.iter().find_map(|c| {
        let e =
            c.c.env
                .iter()
                .find(|e| e.name.as_deref() == Some("MONGO_URL"))?;
        Some((c, e))
    });
    match mongo_url {
        Some((c, e)) if e.value.as_deref().is_some_and(|v| !v.is_empty()) => format!(
            "{why}; {run} ({cronjob}; without --mongodb-uri the agent takes the MONGO_URL inline in the spec of pod {}), with read access to the Rocket.Chat database",
            crate::model::ns_name(&c.pod.namespace, &c.pod.name)
        ),
        Some((c, e))
            if e.value_from
                .as_ref()
                .is_some_and(|v| v.kind.as_deref() == Some("secretKeyRef")) =>
        {
            let v = e.value_from.as_ref().expect("checked above");
            format!(
                "{why}; {run} --mongodb-uri URI ({cronjob}), URI being the value of key {} of Secret {}/{}, which MONGO_URL of the Rocket.Chat pods comes from (the agent never reads Secrets), for a user that can read the Rocket.Chat database",
                v.key.as_deref().unwrap_or("?"),
                c.pod.namespace.as_deref().unwrap_or("default"),
                v.name.as_deref().unwrap_or("?")
            )
        }
        _ => format!(
            "{why}; {run} --mongodb-uri URI ({cronjob}), URI being the MongoDB URI of Rocket.Chat, for a user that can read the Rocket.Chat database"
        ),
    }
}

/// The Rocket.Chat and MongoDB containers of the pods on one Kubernetes node.
struct PodsOn<'a> {
    cluster: &'a NodeData,
    rc: Vec<PodCtr<'a>>,
    mongo: Vec<PodCtr<'a>>,
}

impl<'a> PodsOn<'a> {
    fn new(cluster: &'a NodeData, node: &str, policy: &Policy) -> PodsOn<'a> {
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
    fn requirement(&self, input: &CheckInput, tier: &Tier) -> Option<(Resources, String)> {
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
    fn limit_finding(
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

fn round1(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

fn colocated(input: &CheckInput, r: &Resources, m: &Resources) -> Resources {
    match input.policy.hardware.colocated {
        Colocation::Sum => Resources {
            vcpu: r.vcpu + m.vcpu,
            memory_gib: r.memory_gib + m.memory_gib,
            disk_gb: r.disk_gb + m.disk_gb,
        },
        Colocation::Max => Resources {
            vcpu: r.vcpu.max(m.vcpu),
            memory_gib: r.memory_gib.max(m.memory_gib),
            disk_gb: r.disk_gb.max(m.disk_gb),
        },
    }
}

/// The Kubernetes nodes of a cluster bundle that run Rocket.Chat or MongoDB pods and
/// have no per-node bundle among the bundles given, judged on their capacity.
fn kube_nodes(
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

/// What a node must have, and a description of what it runs; `None` for a node that
/// runs neither component (with docker data to prove it).
fn requirement(node: &NodeData, input: &CheckInput, tier: &Tier) -> Option<(Resources, String)> {
    let rc = runs_rocketchat(node, input.policy);
    let mongo_container = node
        .containers(input.policy)
        .map(|cs| cs.iter().any(|c| c.kind == ContainerKind::MongoDb));
    let mongo_proc = !processes_of(node, "mongod").is_empty();
    let mongo = match mongo_container {
        Some(b) => Some(b || mongo_proc),
        None if mongo_proc => Some(true),
        None => None,
    };
    match (rc, mongo) {
        (Some(true), Some(true)) => Some((
            colocated(input, &tier.rocketchat, &tier.mongodb),
            "Rocket.Chat and MongoDB".into(),
        )),
        (Some(false), Some(true)) => Some((tier.mongodb, "MongoDB".into())),
        (Some(false), Some(false) | None) => None,
        (Some(true), _) => Some((tier.rocketchat, "Rocket.Chat".into())),
        (None, Some(true)) => Some((tier.mongodb, "MongoDB".into())),
        // Unknown role: judge against Rocket.Chat's requirement.
        (None, _) => Some((
            tier.rocketchat,
            "role unknown, judged as Rocket.Chat".into(),
        )),
    }
}

fn check_cpu(
    node: &NodeData,
    input: &CheckInput,
    tier: &Tier,
    need: &Resources,
    head: &str,
) -> Finding {
    let (have, ev) = if let Some(v) = node
        .host
        .as_ref()
        .and_then(|h| h.cpu.as_ref())
        .and_then(|c| c.logical_cores)
    {
        (
            v as f64,
            Evidence::file(node, "host/host.json")
                .at("/cpu/logical_cores")
                .val(v),
        )
    } else if let Some(v) = node.docker_info.as_ref().and_then(|i| i.ncpu) {
        (
            v as f64,
            Evidence::file(node, "docker/info.json").at("/NCPU").val(v),
        )
    } else {
        return Finding::new(
            Outcome::Unknown,
            format!(
                "{}; rerun rcdiag-agent collect with the host collector",
                node.why_missing("host/host.json", "host")
            ),
            Vec::new(),
        );
    };
    if have + 1e-9 < need.vcpu {
        return Finding::new(
            Outcome::Fail,
            format!("{head} has {have} vCPU, needs {}", need.vcpu),
            vec![ev],
        );
    }
    // A CPU limit on a Rocket.Chat container caps what it may use.
    if let Some(cs) = rc_containers(node, input.policy) {
        for c in cs {
            if let Some(n) = c.raw.nano_cpus.map(|n| n as f64).filter(|n| *n > 0.0) {
                let limit = n / 1e9;
                if limit + 1e-9 < tier.rocketchat.vcpu {
                    return Finding::new(
                        Outcome::Fail,
                        format!(
                            "{head}: container {} is limited to {limit} vCPU, Rocket.Chat needs {}",
                            c.name, tier.rocketchat.vcpu
                        ),
                        vec![
                            ev,
                            Evidence::file(node, c.file)
                                .at(c.pointer("nano_cpus"))
                                .val(n),
                        ],
                    );
                }
            }
        }
    }
    Finding::new(
        Outcome::Pass,
        format!("{head} has {have} vCPU (needs {})", need.vcpu),
        vec![ev],
    )
}

fn check_memory(
    node: &NodeData,
    input: &CheckInput,
    tier: &Tier,
    need: &Resources,
    head: &str,
) -> Finding {
    let tol = 1.0 - input.policy.hardware.memory_tolerance_percent / 100.0;
    let (bytes, ev) = if let Some(v) = node
        .host
        .as_ref()
        .and_then(|h| h.memory.as_ref())
        .and_then(|m| m.total_bytes)
        .filter(|v| *v > 0)
    {
        (
            v,
            Evidence::file(node, "host/host.json")
                .at("/memory/total_bytes")
                .val(v),
        )
    } else if let Some(v) = node
        .docker_info
        .as_ref()
        .and_then(|i| i.mem_total)
        .filter(|v| *v > 0)
    {
        (
            v,
            Evidence::file(node, "docker/info.json")
                .at("/MemTotal")
                .val(v),
        )
    } else {
        return Finding::new(
            Outcome::Unknown,
            format!(
                "{}; rerun rcdiag-agent collect with the host collector",
                node.why_missing("host/host.json", "host")
            ),
            Vec::new(),
        );
    };
    let have = bytes as f64 / GIB;
    if have < need.memory_gib * tol {
        return Finding::new(
            Outcome::Fail,
            format!(
                "{head} has {have:.1} GiB memory, needs {} GiB",
                need.memory_gib
            ),
            vec![ev],
        );
    }
    if let Some(cs) = rc_containers(node, input.policy) {
        for c in cs {
            if let Some(limit) = c.raw.memory_limit_bytes.filter(|l| *l > 0) {
                let l = limit as f64 / GIB;
                if l < tier.rocketchat.memory_gib * tol {
                    return Finding::new(
                        Outcome::Fail,
                        format!(
                            "{head}: container {} is limited to {l:.1} GiB memory, Rocket.Chat needs {} GiB",
                            c.name, tier.rocketchat.memory_gib
                        ),
                        vec![
                            ev,
                            Evidence::file(node, c.file)
                                .at(c.pointer("memory_limit_bytes"))
                                .val(limit),
                        ],
                    );
                }
            }
        }
    }
    Finding::new(
        Outcome::Pass,
        format!(
            "{head} has {have:.1} GiB memory (needs {} GiB)",
            need.memory_gib
        ),
        vec![ev],
    )
}

fn check_disk(node: &NodeData, input: &CheckInput, need: &Resources, head: &str) -> Finding {
    let tol = 1.0 - input.policy.hardware.disk_tolerance_percent / 100.0;
    let mounts = match data_mounts(node, input.policy) {
        Some(m) if !m.is_empty() => m,
        _ => {
            return Finding::new(
                Outcome::Unknown,
                format!(
                    "{}; rerun rcdiag-agent collect with the host collector",
                    node.why_missing("host/host.json", "host")
                ),
                Vec::new(),
            );
        }
    };
    let total: u64 = mounts.iter().map(|m| m.total).sum();
    let gb = total as f64 / 1e9;
    let evs: Vec<Evidence> = mounts
        .iter()
        .map(|m| {
            Evidence::file(node, "host/host.json")
                .at(format!("/disks/{}/total_bytes", m.index))
                .val(format!(
                    "{} ({}): {} bytes",
                    m.mount_point, m.reason, m.total
                ))
        })
        .collect();
    let where_ = mounts
        .iter()
        .map(|m| m.mount_point.clone())
        .collect::<Vec<_>>()
        .join(", ");
    if gb < need.disk_gb * tol {
        Finding::new(
            Outcome::Fail,
            format!(
                "{head} has {gb:.1} GB on its data mount(s) {where_}, needs {} GB",
                need.disk_gb
            ),
            evs,
        )
    } else {
        Finding::new(
            Outcome::Pass,
            format!(
                "{head} has {gb:.1} GB on its data mount(s) {where_} (needs {} GB)",
                need.disk_gb
            ),
            evs,
        )
    }
}
