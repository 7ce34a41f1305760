//! `logs.known-errors`: known error signatures of the policy (facts §9) in the
//! container logs and the pod logs (`logs/k8s_<ns>_<pod>_<container>.log`, read by the
//! `kubernetes` collector through the API), each with its lines as evidence (capped).

use std::collections::BTreeMap;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, in_cluster,
    result,
};
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
    let files: usize = input.nodes.iter().map(|n| n.log_files.len()).sum();
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
        let total: u64 = input
            .nodes
            .iter()
            .filter_map(|n| n.log_match_counts.get(&sig.id))
            .sum();
        if total == 0 {
            continue;
        }
        let mut evidence = Vec::new();
        let mut per_file: BTreeMap<&str, u64> = BTreeMap::new();
        for node in input.nodes {
            for m in node.log_matches.iter().filter(|m| m.signature == sig.id) {
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
