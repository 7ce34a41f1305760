//! `host.disk-free` and `host.clock-skew`: room on the data mounts, and node clocks
//! that agree. Thresholds are rcdiag's own (policy `[thresholds]`). The disks are
//! judged only when they are the node's (`disks_view` = `host`, or not recorded by an
//! older agent); an agent in a container without the node's root gives the
//! container's own mounts, and the check says "container view only".
//!
//! Clock skew between nodes cannot be read from `host.clock.wall_clock` against the
//! manifest's `created_at`: both come from the same node's clock, so their difference
//! only measures collection delay. Instead each node's clock is compared with the
//! MongoDB server's clock (`replSetGetStatus.date` / `serverStatus.localTime`, read
//! inside the mongodb collector's time window on the node's clock): nodes that see the
//! same replica set can then be compared through that common reference. Reported NTP
//! offsets are used as well.

use std::collections::{HashMap, HashSet};

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, rc_containers_on,
};
use crate::model::{ContainerKind, NodeData, parse_time};
use crate::policy::Policy;

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::HostDiskFree,
        title: "Free space on data mounts",
        area: "host",
        description: "The data mounts have free space above the policy thresholds (warn under 20%, fail under 10%).",
        run: disk_free,
    },
    Check {
        id: CheckId::HostClockSkew,
        title: "Node clocks agree",
        area: "host",
        description: "Every node's clock is synchronized, its reported offset small, and the nodes' clocks agree (compared through the MongoDB server's clock).",
        run: clock_skew,
    },
];

/// One data mount of a node: where it is and why it counts.
#[derive(Debug, Clone)]
pub(crate) struct DataMount {
    pub index: usize,
    pub mount_point: String,
    pub total: u64,
    pub available: Option<u64>,
    pub reason: String,
}

/// The disks holding a node's data: Docker's root dir and the mount sources of the
/// Rocket.Chat and MongoDB containers, else `/`. `None` when `host/host.json` has no
/// usable `disks`.
pub(crate) fn data_mounts(node: &NodeData, policy: &Policy) -> Option<Vec<DataMount>> {
    let disks = &node.host.as_ref()?.disks;
    let mut paths: Vec<(String, String)> = Vec::new();
    if let Some(root) = node
        .docker_info
        .as_ref()
        .and_then(|i| i.docker_root_dir.as_deref())
    {
        paths.push((root.to_string(), "Docker root dir".into()));
    } else if node.docker_info.is_some() || node.docker_containers.is_some() {
        paths.push(("/var/lib/docker".into(), "Docker root dir (default)".into()));
    }
    if let Some(cs) = node.containers(policy) {
        for c in cs
            .iter()
            .filter(|c| matches!(c.kind, ContainerKind::RocketChat | ContainerKind::MongoDb))
        {
            for m in &c.raw.mounts {
                if let Some(src) = m.source.as_deref().filter(|s| s.starts_with('/')) {
                    paths.push((src.to_string(), format!("mount of {}", c.name)));
                }
            }
        }
    }
    if paths.is_empty() {
        paths.push((
            "/".into(),
            "root filesystem (no Docker data to locate the data)".into(),
        ));
    }
    // The disk of a path is the one with the longest mount point it is under (the last
    // such disk on a tie). Indexed once, so each path costs its own length, not a scan
    // of every disk (a bundle may list tens of thousands of both).
    type Best = Option<(usize, usize)>; // (mount point length, disk index)
    let better = |a: Best, b: Best| a.max(b);
    let mut root: Best = None;
    let mut exact: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut by_parent: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, d) in disks.iter().enumerate() {
        let Some(mp) = d.mount_point.as_deref() else {
            continue;
        };
        let key = (mp.len(), i);
        if mp == "/" {
            root = better(root, Some(key));
        }
        exact.insert(mp, key.max(exact.get(mp).copied().unwrap_or_default()));
        // `path` is under `mp` when it starts with `mp` (without trailing `/`) and `/`.
        let trimmed = mp.trim_end_matches('/');
        by_parent.insert(
            trimmed,
            key.max(by_parent.get(trimmed).copied().unwrap_or_default()),
        );
    }
    let mut out: Vec<DataMount> = Vec::new();
    let mut taken: HashSet<usize> = HashSet::new();
    for (path, reason) in paths {
        let mut best = better(root, exact.get(path.as_str()).copied());
        for (i, _) in path.match_indices('/') {
            best = better(best, by_parent.get(&path[..i]).copied());
        }
        let Some((_, index)) = best else { continue };
        let Some(d) = disks.get(index) else { continue };
        let mp = d.mount_point.as_deref().unwrap_or("/");
        if !taken.insert(index) {
            continue;
        }
        let Some(total) = d.total_bytes.filter(|t| *t > 0) else {
            continue;
        };
        out.push(DataMount {
            index,
            mount_point: mp.to_string(),
            total,
            available: d.available_bytes,
            reason,
        });
    }
    Some(out)
}

/// A finding for a node whose `host/host.json` lists the agent container's own mounts
/// (`disks_view` = `container`), not the node's: neither `host.disk-free` nor
/// `hardware.disk` can pass or fail on those. `None` for the host's view, and for a
/// bundle without `disks_view` (an older agent: judged as before).
pub(crate) fn container_view_only(node: &NodeData, head: &str) -> Option<Finding> {
    let view = node.host.as_ref()?.disks_view.as_deref()?;
    (view == "container").then(|| {
        Finding::new(
            Outcome::Unknown,
            format!(
                "{head}: container view only: the disks in host/host.json are the agent container's, not the node's; mount the node's root read-only on /host and pass --host-root /host (docker run -v /:/host:ro ..., or the DaemonSet of packaging/kubernetes)"
            ),
            vec![
                Evidence::file(node, "host/host.json")
                    .at("/disks_view")
                    .val(view),
            ],
        )
    })
}

/// Runs `host.disk-free`.
pub(crate) fn disk_free(input: &CheckInput) -> CheckResult {
    let t = &input.policy.thresholds;
    let mut findings = Vec::new();
    for node in input.nodes {
        if cluster_only(input, node) {
            continue;
        }
        if let Some(f) = container_view_only(node, node.hostname()) {
            findings.push(f);
            continue;
        }
        let mounts = match data_mounts(node, input.policy) {
            Some(m) if !m.is_empty() => m,
            _ => {
                findings.push(Finding::new(
                    Outcome::Unknown,
                    format!(
                        "{}; rerun rcdiag-agent collect with the host collector",
                        node.why_missing("host/host.json", "host")
                    ),
                    Vec::new(),
                ));
                continue;
            }
        };
        for m in mounts {
            let ev = Evidence::file(node, "host/host.json").at(format!("/disks/{}", m.index));
            let Some(avail) = m.available else {
                findings.push(Finding::new(
                    Outcome::Unknown,
                    format!(
                        "{} on {}: free space not reported",
                        m.mount_point,
                        node.hostname()
                    ),
                    vec![ev],
                ));
                continue;
            };
            let pct = avail as f64 * 100.0 / m.total as f64;
            let desc = format!(
                "{} on {} ({}) has {:.1}% free ({:.1} of {:.1} GB)",
                m.mount_point,
                node.hostname(),
                m.reason,
                pct,
                avail as f64 / 1e9,
                m.total as f64 / 1e9
            );
            let ev = ev.val(format!("{pct:.1}% free"));
            let outcome = if pct < t.disk_free_fail_percent {
                Outcome::Fail
            } else if pct < t.disk_free_warn_percent {
                Outcome::Warn
            } else {
                Outcome::Pass
            };
            let msg = match outcome {
                Outcome::Fail => format!("{desc}, under {}%", t.disk_free_fail_percent),
                Outcome::Warn => format!("{desc}, under {}%", t.disk_free_warn_percent),
                _ => desc,
            };
            findings.push(Finding::new(outcome, msg, vec![ev]));
        }
    }
    conclude(input, CheckId::HostDiskFree, findings, "no bundle to check")
}

/// A node's clock compared with the MongoDB server's clock.
struct MongoRef {
    /// Reference identity (replica set name or server).
    key: String,
    /// Estimated node-minus-MongoDB offset, seconds (positive: node ahead).
    estimate: f64,
    /// Half-width of the uncertainty, seconds.
    uncertainty: f64,
    evidence: Evidence,
}

fn mongo_reference(node: &NodeData, max_window: f64) -> Option<MongoRef> {
    let (file, pointer, date) = [
        ("replSetGetStatus", "/reply/date"),
        ("serverStatus", "/reply/localTime"),
    ]
    .iter()
    .find_map(|(cmd, ptr)| {
        node.mongodb
            .get(*cmd)
            .and_then(|v| v.pointer(ptr))
            .and_then(parse_time)
            .map(|t| (*cmd, *ptr, t))
    })?;
    let rec = node.collector("mongodb")?;
    let start: jiff::Timestamp = rec.started_at.parse().ok()?;
    let window = rec.duration_ms as f64 / 1000.0;
    if window > max_window {
        return None;
    }
    // started_at may have whole-second precision: widen by one second then (the
    // agent writes milliseconds, and MongoDB's date has milliseconds).
    let precision = if rec.started_at.contains('.') {
        0.002
    } else {
        1.0
    };
    let start_s = start.as_millisecond() as f64 / 1000.0;
    let mid = start_s + window / 2.0;
    let mongo_s = date.as_millisecond() as f64 / 1000.0;
    let key = node
        .mongodb_summary
        .as_ref()
        .and_then(|s| {
            s.replica_set
                .as_ref()
                .and_then(|r| r.set_name.as_deref())
                .or(s.server.as_deref())
        })
        .unwrap_or("mongodb")
        .to_string();
    Some(MongoRef {
        key,
        estimate: mid - mongo_s,
        uncertainty: window / 2.0 + precision,
        evidence: Evidence::file(node, &format!("mongodb/{file}.json"))
            .at(pointer)
            .val(date),
    })
}

/// Runs `host.clock-skew`.
pub(crate) fn clock_skew(input: &CheckInput) -> CheckResult {
    let t = &input.policy.thresholds;
    let grade = |secs: f64| {
        if secs > t.clock_skew_fail_seconds {
            Outcome::Fail
        } else if secs > t.clock_skew_warn_seconds {
            Outcome::Warn
        } else {
            Outcome::Pass
        }
    };
    let mut findings = Vec::new();
    let mut offsets: Vec<(f64, &NodeData)> = Vec::new();
    let mut refs: Vec<(MongoRef, &NodeData)> = Vec::new();
    for node in input.nodes {
        if cluster_only(input, node) {
            continue;
        }
        let clock = node.host.as_ref().and_then(|h| h.clock.as_ref());
        let mref = mongo_reference(node, t.clock_max_window_seconds);
        let Some(clock) = clock else {
            if mref.is_none() {
                findings.push(Finding::new(
                    Outcome::Unknown,
                    format!(
                        "{}; rerun rcdiag-agent collect with the host collector",
                        node.why_missing("host/host.json", "host")
                    ),
                    Vec::new(),
                ));
            }
            if let Some(r) = mref {
                refs.push((r, node));
            }
            continue;
        };
        let has_ref = mref.is_some();
        if let Some(r) = mref {
            refs.push((r, node));
        }
        let ev = |p: &str| Evidence::file(node, "host/host.json").at(format!("/clock/{p}"));
        let source = clock.source.as_deref().unwrap_or("unknown");
        match clock.synchronized {
            Some(true) => {}
            Some(false) => findings.push(Finding::new(
                Outcome::Warn,
                format!(
                    "the clock of {} is not synchronized (time source: {source})",
                    node.hostname()
                ),
                vec![ev("synchronized").val(false)],
            )),
            // Measured against MongoDB's clock below: that decides, not the daemon.
            None if has_ref => {}
            None => findings.push(Finding::new(
                Outcome::Unknown,
                format!(
                    "{}: whether the clock is synchronized was not reported (source {source}), and no MongoDB clock was read to compare it with",
                    node.hostname()
                ),
                vec![ev("synchronized")],
            )),
        }
        if let Some(off) = clock.offset_seconds.filter(|f| f.is_finite()) {
            offsets.push((off, node));
            let o = grade(off.abs());
            let msg = format!("{} reports a clock offset of {off:+.3} s", node.hostname());
            findings.push(Finding::new(o, msg, vec![ev("offset_seconds").val(off)]));
        } else if clock.synchronized == Some(true) {
            findings.push(Finding::new(
                Outcome::Pass,
                format!("{} is synchronized ({source})", node.hostname()),
                vec![ev("synchronized").val(true)],
            ));
        }
    }
    // Cross-node: spread of reported offsets.
    if offsets.len() > 1 {
        let (min, max) = offsets
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), (o, _)| {
                (lo.min(*o), hi.max(*o))
            });
        let spread = max - min;
        let o = grade(spread);
        if o != Outcome::Pass {
            findings.push(Finding::new(
                o,
                format!("reported clock offsets of the nodes differ by {spread:.3} s"),
                Vec::new(),
            ));
        }
    }
    // Cross-node: through the MongoDB server's clock.
    let (shared, compared) = shared_clock_findings(&refs, &grade);
    // Passes through the shared clock lead the one-line message.
    findings.splice(0..0, shared);
    if input.nodes.len() > 1 && !compared && offsets.len() < 2 {
        findings.push(Finding::new(
            Outcome::Unknown,
            "the node clocks could not be compared: no two bundles report an NTP offset or read the same MongoDB's clock".to_string(),
            Vec::new(),
        ));
    }
    let single = input.nodes.len() == 1;
    let mut r = conclude(
        input,
        CheckId::HostClockSkew,
        findings,
        "no bundle to check",
    );
    if r.outcome == Outcome::Pass {
        r.message = if single {
            format!("{} (one bundle: no cross-node comparison)", r.message)
        } else {
            format!(
                "node clocks agree within {} s: {}",
                t.clock_skew_warn_seconds, r.message
            )
        };
    }
    r
}

/// Findings from the MongoDB clock the nodes read: each node against it, and each
/// pair of nodes that read the same one against each other (the difference of their
/// offsets, less both uncertainties). Returns them and whether any pair was compared.
fn shared_clock_findings(
    refs: &[(MongoRef, &NodeData)],
    grade: &dyn Fn(f64) -> Outcome,
) -> (Vec<Finding>, bool) {
    let mut findings = Vec::new();
    let mut compared = false;
    for (i, (a, na)) in refs.iter().enumerate() {
        for (b, nb) in &refs[i + 1..] {
            if a.key != b.key {
                continue;
            }
            compared = true;
            let diff = (a.estimate - b.estimate).abs();
            let at_least = (diff - a.uncertainty - b.uncertainty).max(0.0);
            let o = grade(at_least);
            let msg = if o == Outcome::Pass {
                format!(
                    "clocks of {} and {} agree within {:.1} s (each measured against MongoDB {}'s clock)",
                    na.hostname(),
                    nb.hostname(),
                    diff + a.uncertainty + b.uncertainty,
                    a.key
                )
            } else {
                format!(
                    "clocks of {} and {} differ by at least {at_least:.1} s (measured against MongoDB {}'s clock)",
                    na.hostname(),
                    nb.hostname(),
                    a.key
                )
            };
            findings.push(Finding::new(
                o,
                msg,
                vec![a.evidence.clone(), b.evidence.clone()],
            ));
        }
    }
    // Each node against the server: Rocket.Chat and MongoDB stamp the same records.
    for (r, node) in refs {
        let at_least = (r.estimate.abs() - r.uncertainty).max(0.0);
        let o = grade(at_least);
        let msg = if o == Outcome::Pass {
            format!(
                "{}'s clock agrees with MongoDB {}'s clock within {:.1} s",
                node.hostname(),
                r.key,
                r.estimate.abs() + r.uncertainty
            )
        } else {
            format!(
                "the clock of {} is {} MongoDB {}'s clock by at least {at_least:.1} s",
                node.hostname(),
                if r.estimate > 0.0 {
                    "ahead of"
                } else {
                    "behind"
                },
                r.key
            )
        };
        findings.push(Finding::new(o, msg, vec![r.evidence.clone()]));
    }
    (findings, compared)
}

/// Running Rocket.Chat containers of a node (used by hardware).
pub(crate) fn runs_rocketchat(node: &NodeData, policy: &Policy) -> Option<bool> {
    let procs = !super::processes_of(node, "rocketchat").is_empty();
    match rc_containers_on(node, policy) {
        Some(cs) => Some(procs || !cs.is_empty()),
        None if procs => Some(true),
        None => None,
    }
}

/// Whether `node` is a cluster bundle without host facts while node bundles of its
/// cluster are given too: the host facts are theirs, so its own absence is no gap.
fn cluster_only(input: &CheckInput, node: &NodeData) -> bool {
    node.kube.present()
        && node.host.is_none()
        && input.nodes.iter().any(|n| {
            crate::model::cluster_of(input.nodes, n).is_some_and(|(c, _, _)| std::ptr::eq(c, node))
        })
}
