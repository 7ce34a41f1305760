//! `logs.known-errors`: known error signatures of the policy (facts §9) in the
//! container logs and the pod logs (`logs/k8s_<ns>_<pod>_<container>.log`, read by the
//! `kubernetes` collector through the API), each with its lines as evidence (capped).
//! A pod's log read twice, through the API into the cluster bundle and from the node's
//! files into a node bundle of that cluster (`logs/cri_<ns>_<pod>_<container>.log`),
//! is counted once, from the node's files ([`twin_logs`]).

use std::collections::{BTreeMap, HashSet};

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, in_cluster,
    result,
};
use crate::model::{NodeData, cluster_of};
use crate::policy::Severity;

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[Check {
    id: CheckId::LogsKnownErrors,
    title: "Known error signatures in logs",
    area: "logs",
    description: "No line of the container or pod logs matches a known error signature of the policy.",
    run: known_errors,
}];

const ID: CheckId = CheckId::LogsKnownErrors;

/// Runs `logs.known-errors`.
pub(crate) fn known_errors(input: &CheckInput) -> CheckResult {
    let policy = input.policy;
    let twins = twin_logs(input);
    let twin = |n: &NodeData, file: &str| {
        twins.contains(&(std::ptr::from_ref(n) as usize, file.to_string()))
    };
    let files: usize = input
        .nodes
        .iter()
        .map(|n| n.log_files.iter().filter(|f| !twin(n, f)).count())
        .sum();
    let mut gaps = Vec::new();
    for node in input.nodes {
        let ok = node
            .collector("logs")
            .is_some_and(|c| c.status == rcdiag_bundle::CollectorStatus::Ok);
        if node.log_files.is_empty() && node.kube.pods.is_some() {
            gaps.push(format!(
                "{} holds no pod log: the kubernetes collector reads the logs of the Rocket.Chat and MongoDB pods (see logs/index.json there); rerun rcdiag-agent collect --kubeconfig FILE with get on pods/log",
                node.label
            ));
        } else if node.log_files.is_empty() && !ok && !in_cluster(input, node) {
            gaps.push(format!(
                "{}; rerun rcdiag-agent collect with access to the Docker socket",
                node.why_missing("logs/index.json", "logs")
            ));
        }
    }
    if files == 0 {
        let msg = if gaps.is_empty() {
            "the bundles hold no container log to scan".to_string()
        } else {
            gaps.join("; ")
        };
        return result(input, ID, Outcome::Unknown, msg, Vec::new());
    }
    let mut findings = Vec::new();
    for sig in &policy.logs.signatures {
        // The hits in a twin copy are known one by one (up to the policy's cap of kept
        // matches per signature): they are taken off the count.
        let total: u64 = input
            .nodes
            .iter()
            .map(|n| {
                let all = n.log_match_counts.get(&sig.id).copied().unwrap_or(0);
                let copies = n
                    .log_matches
                    .iter()
                    .filter(|m| m.signature == sig.id && twin(n, &m.file))
                    .count() as u64;
                all.saturating_sub(copies)
            })
            .sum();
        if total == 0 {
            continue;
        }
        let mut evidence = Vec::new();
        let mut per_file: BTreeMap<&str, u64> = BTreeMap::new();
        for node in input.nodes {
            for m in node
                .log_matches
                .iter()
                .filter(|m| m.signature == sig.id && !twin(node, &m.file))
            {
                *per_file.entry(m.file.as_str()).or_insert(0) += 1;
                if evidence.len() < policy.logs.max_evidence_per_signature {
                    evidence.push(
                        Evidence::file(node, &m.file)
                            .line(m.line_no, &m.line)
                            .val(&sig.id),
                    );
                }
            }
        }
        let outcome = match sig.severity {
            Severity::Fail => Outcome::Fail,
            Severity::Warn => Outcome::Warn,
        };
        findings.push(Finding::new(
            outcome,
            format!(
                "{} ({}: {total} line(s) in {} file(s)); {}",
                sig.title,
                sig.id,
                per_file.len(),
                sig.advice
            ),
            evidence,
        ));
    }
    if findings.is_empty() {
        findings.push(Finding::new(
            Outcome::Pass,
            format!(
                "no known error signature in {files} log file(s) ({} signatures checked)",
                policy.logs.signatures.len()
            ),
            Vec::new(),
        ));
    }
    for g in gaps {
        findings.push(Finding::new(Outcome::Unknown, g, Vec::new()));
    }
    conclude(input, ID, findings, "")
}

/// The pod logs of a cluster bundle that a node bundle of the same cluster holds too:
/// an entry of the cluster bundle's `logs/index.json` read through the API (`source`
/// `kubernetes`, `id` `namespace/pod/container`) when a node bundle attached to that
/// cluster ([`cluster_of`]) has an entry read from the node's files (`cri-file`,
/// `container` `namespace/pod/container`) of the same container and run (`previous`),
/// with a file. The node's copy is kept (it follows rotations and the `--since`
/// window); the API copy is left out. As `(address of the cluster bundle, file)`.
fn twin_logs(input: &CheckInput) -> HashSet<(usize, String)> {
    let previous = |e: &rcdiag_contract::logs::LogEntry| e.previous.unwrap_or(false);
    let mut out = HashSet::new();
    for node in input.nodes {
        let Some((cluster, _, _)) = cluster_of(input.nodes, node) else {
            continue;
        };
        let (Some(own), Some(theirs)) = (&node.logs_index, &cluster.logs_index) else {
            continue;
        };
        let on_node: HashSet<(&str, bool)> = own
            .0
            .iter()
            .filter(|e| e.source.as_deref() == Some("cri-file") && e.file.is_some())
            .filter_map(|e| Some((e.container.as_deref()?, previous(e))))
            .collect();
        if on_node.is_empty() {
            continue;
        }
        for e in &theirs.0 {
            if e.source.as_deref() == Some("kubernetes")
                && let (Some(id), Some(file)) = (e.id.as_deref(), e.file.as_deref())
                && on_node.contains(&(id, previous(e)))
            {
                out.insert((std::ptr::from_ref(cluster) as usize, file.to_string()));
            }
        }
    }
    out
}
