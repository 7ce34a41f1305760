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
//!
//! Files: this one picks the tier and walks the nodes; `node` judges a node's own host
//! facts, `kube` a Kubernetes node's capacity and the limits of its pods.

mod kube;
mod node;

use super::host::runs_rocketchat;
use super::{
    Check, CheckId, CheckInput, CheckResult, Outcome, cluster_users, conclude, processes_of, result,
};
use crate::model::{ContainerKind, NodeData, cluster_bundles, cluster_of};
use crate::policy::{Colocation, Policy, Resources, Tier};
use kube::{PodsOn, kube_nodes};
use node::{check_cpu, check_disk, check_memory};

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

pub(super) const GIB: f64 = (1u64 << 30) as f64;

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
pub(super) enum Part {
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

pub(super) fn round1(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

pub(super) fn colocated(input: &CheckInput, r: &Resources, m: &Resources) -> Resources {
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
