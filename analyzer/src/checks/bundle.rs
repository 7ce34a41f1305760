//! `bundle.complete` and `bundle.signer-trusted`: the bundles themselves — did every
//! collector run, and is every signer a pinned node key.
//!
//! A cluster bundle (one with a Kubernetes cluster view) is collected with the other
//! collectors deselected on purpose (`--only kubernetes,...`: the DaemonSet's node
//! bundles hold the host facts): there a collector the operator deselected is noted in
//! the evidence, not counted as a gap. A node bundle of Kubernetes is its mirror: a
//! collector skipped there (deselected, or no peer on the node: no Docker socket, no
//! `MONGO_URL`) is not a gap when something else in the report has its facts
//! ([`covered_by`]): `docker` and `logs` by the node's `cri` collector or its cluster
//! bundle's `kubernetes` one, `mongodb` and `rocketchat` by its cluster bundle's own.
//! Everywhere else, and for a collector that failed or was cut short, it is a gap.

use rcdiag_bundle::{CollectorStatus, TrustStatus};

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, result,
};
use crate::model::{NodeData, cluster_of};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::BundleComplete,
        title: "Bundle complete",
        area: "bundle",
        description: "Every collector ran to completion (on a cluster bundle, every one not deselected on purpose; on a Kubernetes node bundle, every skipped one is covered by its CRI runtime or its cluster bundle); otherwise the checks it weakens are named.",
        run: complete,
    },
    Check {
        id: CheckId::BundleSignerTrusted,
        title: "Bundle signer trusted",
        area: "bundle",
        description: "Every bundle is signed by a node key listed in the allowed signers file (--trust).",
        run: signer_trusted,
    },
];

/// Collectors an rcdiag-agent bundle should have, and the checks each one feeds.
pub const COLLECTOR_CHECKS: &[(&str, &[CheckId])] = &[
    (
        "host",
        &[
            CheckId::ImageOfficial,
            CheckId::HardwareCpu,
            CheckId::HardwareMemory,
            CheckId::HardwareDisk,
            CheckId::HostDiskFree,
            CheckId::HostClockSkew,
            CheckId::MongodbBypassFlags,
        ],
    ),
    (
        "docker",
        &[
            CheckId::ImageOfficial,
            CheckId::DeployMethod,
            CheckId::ScaleOrchestrated,
            CheckId::HardwareDisk,
            CheckId::MonitoringPrometheus,
            CheckId::MonitoringGrafana,
            CheckId::VersionConsistent,
            CheckId::MongodbBypassFlags,
            CheckId::ContainersRestarting,
        ],
    ),
    (
        "logs",
        &[CheckId::LogsKnownErrors, CheckId::VersionConsistent],
    ),
    (
        "mongodb",
        &[
            CheckId::MongodbVersion,
            CheckId::MongodbReplicaSet,
            CheckId::MongodbStorageEngine,
            CheckId::HostClockSkew,
        ],
    ),
    (
        "rocketchat",
        &[
            CheckId::VersionSupported,
            CheckId::VersionConsistent,
            CheckId::DeployMethod,
            CheckId::ScaleOrchestrated,
            CheckId::HardwareCpu,
            CheckId::HardwareMemory,
            CheckId::HardwareDisk,
            CheckId::MonitoringPrometheus,
            CheckId::MongodbVersion,
        ],
    ),
];

/// The error the agent records for a collector left out by `--only`/`--skip`
/// (`agent/src/run.rs`); `snapshots list` reads it the same way.
const DESELECTED: &str = "deselected";

/// Whether the operator deselected collector `c` (`--only`/`--skip`), as opposed to
/// a skip for a missing peer or permission.
fn deselected(c: &rcdiag_bundle::CollectorRecord) -> bool {
    c.status == CollectorStatus::Skipped
        && c.error
            .as_deref()
            .is_some_and(|e| e.trim_start().starts_with(DESELECTED))
}

/// Whether `node`'s CRI runtime runs pods the kubelet made: a container or pod sandbox
/// of `cri/` carries the kubelet's `io.kubernetes.pod.namespace` label. A CRI runtime
/// alone proves nothing (Docker's own containerd may serve CRI too).
fn kubelet_pods(node: &NodeData) -> bool {
    const KEY: &str = "io.kubernetes.pod.namespace";
    let containers = node.cri_containers.iter().flat_map(|f| &f.containers);
    let pods = node.cri_pods.iter().flat_map(|f| &f.pods);
    containers
        .filter_map(|c| c.labels.as_ref())
        .chain(pods.filter_map(|p| p.labels.as_ref()))
        .any(|l| l.contains_key(KEY))
}

/// Whether collector `name` of `node` ran to completion.
fn ran(node: &NodeData, name: &str) -> bool {
    node.collector(name)
        .is_some_and(|c| c.status == CollectorStatus::Ok)
}

/// What has the facts of collector `name`, skipped on the Kubernetes node bundle `node`:
/// `(the bundle, its collector, why)`; `None` when nothing does (a gap). Only a skip is
/// covered: a collector that failed or was cut short saw something go wrong.
fn covered_by<'a>(
    nodes: &'a [NodeData],
    node: &'a NodeData,
    name: &'static str,
) -> Option<(&'a NodeData, &'static str, &'static str)> {
    if node.kube.present() || node.collector(name)?.status != CollectorStatus::Skipped {
        return None;
    }
    let cluster = cluster_of(nodes, node).map(|(c, _, _)| c);
    // The node's CRI runtime stands for Docker only on a Kubernetes node: one of a
    // cluster bundle given too, or one whose runtime runs the kubelet's pods.
    let cri = ran(node, "cri") && (cluster.is_some() || kubelet_pods(node));
    match name {
        "docker" if cri => Some((
            node,
            "cri",
            "the node's containers come from its CRI runtime",
        )),
        "logs" if cri => Some((node, "cri", "the pod logs come from the node's log files")),
        "docker" => cluster.filter(|c| ran(c, "kubernetes")).map(|c| {
            (
                c,
                "kubernetes",
                "the node's pods and their containers are in its cluster bundle",
            )
        }),
        "logs" => cluster.filter(|c| ran(c, "kubernetes")).map(|c| {
            (
                c,
                "kubernetes",
                "the pod logs come through the Kubernetes API, in its cluster bundle",
            )
        }),
        "mongodb" | "rocketchat" => cluster.filter(|c| ran(c, name)).map(|c| {
            (
                c,
                name,
                "collected once for the cluster, in its cluster bundle",
            )
        }),
        _ => None,
    }
}

/// The manifest pointer to collector `name` of `node`.
fn collector_pointer(node: &NodeData, name: &str, field: &str) -> String {
    match node.manifest.collectors.iter().position(|x| x.name == name) {
        Some(idx) => format!("/collectors/{idx}/{field}"),
        None => "/collectors".to_string(),
    }
}

/// Runs `bundle.complete`.
pub(crate) fn complete(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::BundleComplete;
    let mut findings = Vec::new();
    for node in input.nodes {
        let mut ok = true;
        let cluster = node.kube.present();
        // Deselected on purpose on a cluster bundle: (name, manifest index).
        let mut on_purpose: Vec<(&str, usize)> = Vec::new();
        // Skipped on a node bundle, with what has their facts instead.
        let mut covered = Vec::new();
        // Each gap is recorded as a root cause (`NodeData::collector_gap`): the report
        // says it once, with the checks it leaves undecided.
        for (name, _) in COLLECTOR_CHECKS {
            let idx = node
                .manifest
                .collectors
                .iter()
                .position(|x| x.name == *name);
            if let (true, Some(c), Some(idx)) = (cluster, node.collector(name), idx)
                && deselected(c)
            {
                on_purpose.push((name, idx));
                continue;
            }
            if let Some(by) = covered_by(input.nodes, node, name) {
                covered.push((*name, by));
                continue;
            }
            let Some(gap) = node.collector_gap(name) else {
                continue;
            };
            ok = false;
            let pointer = collector_pointer(node, name, "status");
            let value = node
                .collector(name)
                .map_or_else(|| format!("{name}: absent"), |c| c.status.to_string());
            findings.push(Finding::new(
                Outcome::Warn,
                format!("{}: {gap}", node.label),
                vec![Evidence::file(node, "manifest.json").at(pointer).val(value)],
            ));
        }
        for (path, problem) in &node.load_problems {
            ok = false;
            let collector = path.split('/').next().unwrap_or_default();
            let text = node
                .unusable_file(path, collector)
                .unwrap_or_else(|| format!("{path} is unusable: {problem}"));
            findings.push(Finding::new(
                Outcome::Warn,
                format!("{}: {text}", node.label),
                vec![Evidence::file(node, path).val(problem)],
            ));
        }
        if !covered.is_empty() {
            let mut evidence = Vec::new();
            let reasons: Vec<String> = covered
                .iter()
                .map(|(name, (by, with, why))| {
                    evidence.push(
                        Evidence::file(node, "manifest.json")
                            .at(collector_pointer(node, name, "status"))
                            .val(format!("{name}: skipped")),
                    );
                    evidence.push(
                        Evidence::file(by, "manifest.json")
                            .at(collector_pointer(by, with, "status"))
                            .val(format!("{with}: ok")),
                    );
                    if std::ptr::eq(*by, node) {
                        format!("{name} ({why}: the {with} collector)")
                    } else {
                        format!("{name} ({why}, {})", by.label)
                    }
                })
                .collect();
            findings.push(Finding::new(
                Outcome::Pass,
                format!(
                    "{}: a Kubernetes node bundle; skipped here, and not a gap: {}",
                    node.label,
                    reasons.join("; ")
                ),
                evidence,
            ));
        }
        if ok && on_purpose.is_empty() && covered.is_empty() {
            findings.push(Finding::new(
                Outcome::Pass,
                "every collector ran to completion".to_string(),
                vec![
                    Evidence::file(node, "manifest.json")
                        .at("/collectors")
                        .val(format!("{} collectors ok", node.manifest.collectors.len())),
                ],
            ));
        }
        if !on_purpose.is_empty() {
            // Noted in the evidence even when another collector of it is a gap.
            let names: Vec<&str> = on_purpose.iter().map(|(n, _)| *n).collect();
            findings.push(Finding::new(
                Outcome::Pass,
                format!(
                    "{}: {}a cluster bundle, so {} deselected on purpose (--only/--skip) {} not a gap (host facts come from the node bundles; the checks these collectors feed say what they miss)",
                    node.label,
                    if ok {
                        "every selected collector ran to completion; "
                    } else {
                        ""
                    },
                    names.join(", "),
                    if names.len() == 1 { "is" } else { "are" }
                ),
                on_purpose
                    .iter()
                    .map(|(name, idx)| {
                        Evidence::file(node, "manifest.json")
                            .at(format!("/collectors/{idx}/error"))
                            .val(format!("{name}: deselected on a cluster bundle, not a gap"))
                    })
                    .collect(),
            ));
        }
    }
    conclude(input, ID, findings, "no bundle was given")
}

/// Runs `bundle.signer-trusted`.
pub(crate) fn signer_trusted(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::BundleSignerTrusted;
    if input.nodes.is_empty() {
        return result(
            input,
            ID,
            Outcome::Unknown,
            "no bundle was given".into(),
            Vec::new(),
        );
    }
    let ev = |n: &crate::model::NodeData| {
        Evidence::file(n, "manifest.json")
            .at("/signer/fingerprint")
            .val(&n.manifest.signer.fingerprint)
    };
    if !input.trust_given {
        return result(
            input,
            ID,
            Outcome::Unknown,
            "not checked: signatures are valid, but no allowed signers file was given; pass --trust allowed_signers to pin node keys".into(),
            input.nodes.iter().map(ev).collect(),
        );
    }
    let findings = input
        .nodes
        .iter()
        .map(|n| match &n.trust {
            TrustStatus::Trusted { principals } => Finding::new(
                Outcome::Pass,
                "every bundle is signed by a trusted node key".to_string(),
                vec![ev(n).val(format!(
                    "{} ({})",
                    n.manifest.signer.fingerprint,
                    principals.join(",")
                ))],
            ),
            TrustStatus::Untrusted => Finding::new(
                Outcome::Fail,
                format!(
                    "{} is signed by {}, a key NOT in the allowed signers file",
                    n.label, n.manifest.signer.fingerprint
                ),
                vec![ev(n)],
            ),
            TrustStatus::NotChecked => Finding::new(
                Outcome::Unknown,
                format!(
                    "{}: the signer was not checked against the allowed signers file",
                    n.label
                ),
                vec![ev(n)],
            ),
        })
        .collect();
    conclude(input, ID, findings, "no bundle was given")
}
