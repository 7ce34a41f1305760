//! The hardware checks on a node's own facts: vCPUs and memory from `host/host.json`
//! (else `docker/info.json`), the CPU and memory limits of its Rocket.Chat containers,
//! and the size of its data mount(s) (not judged on the agent container's own mounts:
//! "container view only").

use super::GIB;
use crate::checks::host::{container_view_only, data_mounts};
use crate::checks::{CheckInput, Evidence, Finding, Outcome, rc_containers};
use crate::model::NodeData;
use crate::policy::{Resources, Tier};

pub(super) fn check_cpu(
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
    if let Some(cs) = rc_containers(input, node) {
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

pub(super) fn check_memory(
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
    if let Some(cs) = rc_containers(input, node) {
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

pub(super) fn check_disk(
    node: &NodeData,
    input: &CheckInput,
    need: &Resources,
    head: &str,
) -> Finding {
    if let Some(f) = container_view_only(node, head) {
        return f;
    }
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
