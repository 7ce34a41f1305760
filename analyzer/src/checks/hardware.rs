//! `hardware.cpu`, `hardware.memory`, `hardware.disk`: each node meets the hardware
//! tier for the installation's concurrent (else active) users, for the components it
//! runs (facts §3). Where a node runs both Rocket.Chat and MongoDB the policy says
//! whether their requirements add up (`colocated = "sum"`) or the larger counts.

use super::host::{data_mounts, runs_rocketchat};
use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, cluster_users, conclude,
    processes_of, rc_containers, result,
};
use crate::model::{ContainerKind, NodeData};
use crate::policy::{Colocation, Resources, Tier};

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
    let Some((users, basis, users_ev)) = cluster_users(input.nodes) else {
        let why: Vec<String> = input
            .nodes
            .iter()
            .map(|n| n.why_missing("rocketchat/summary.json", "rocketchat"))
            .collect();
        let msg = format!(
            "the user count that selects the hardware tier is unknown: {}; rerun rcdiag-agent collect with read access to the Rocket.Chat database",
            if why.is_empty() {
                "no bundle".to_string()
            } else {
                why.join("; ")
            }
        );
        return result(input, id, Outcome::Unknown, msg, Vec::new());
    };
    let Some(tier) = input.policy.tier_for(users) else {
        return result(
            input,
            id,
            Outcome::Unknown,
            "the policy has no hardware tiers".into(),
            Vec::new(),
        );
    };
    let mut findings = Vec::new();
    for node in input.nodes {
        let Some((need, role)) = requirement(node, input, tier) else {
            continue;
        };
        let head = format!(
            "{} ({role}; tier {} for {users} {basis})",
            node.hostname(),
            tier.name
        );
        findings.push(match part {
            Part::Cpu => check_cpu(node, input, tier, &need, &head),
            Part::Memory => check_memory(node, input, tier, &need, &head),
            Part::Disk => check_disk(node, input, &need, &head),
        });
    }
    if let Some(f) = findings.first_mut() {
        f.evidence.push(users_ev);
    }
    conclude(
        input,
        id,
        findings,
        "no node runs Rocket.Chat or MongoDB in these bundles",
    )
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
        (Some(true), Some(true)) => {
            let (r, m) = (tier.rocketchat, tier.mongodb);
            let need = match input.policy.hardware.colocated {
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
            };
            Some((need, "Rocket.Chat and MongoDB".into()))
        }
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
                            Evidence::file(node, "docker/containers.json")
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
                            Evidence::file(node, "docker/containers.json")
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
