//! `containers.restarting`: no container in a restart loop or killed for lack of
//! memory (thresholds are rcdiag's own, policy `[thresholds]`): the Docker containers
//! of each node, and the containers of the pods of each cluster view (restart count,
//! a `CrashLoopBackOff` wait, a previous run that ended `OOMKilled`, not ready). A
//! node bundle's CRI container that is a pod's container of a cluster bundle given too
//! is judged once, from the pod view, with its CRI entry cited beside.

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude,
    cri_twin_evidence, in_cluster, node_containers,
};
use crate::model::{NodeData, PodCtr, cluster_bundles};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[Check {
    id: CheckId::ContainersRestarting,
    title: "No restart loops or OOM kills",
    area: "containers",
    description: "No container (Docker, or of a pod in the cluster view) is restarting, was OOM-killed, or has restarted more often than the policy allows.",
    run: restarting,
}];

/// Runs `containers.restarting`.
pub(crate) fn restarting(input: &CheckInput) -> CheckResult {
    let t = &input.policy.thresholds;
    let mut findings = Vec::new();
    let mut seen = 0usize;
    for node in cluster_bundles(input.nodes) {
        for c in node.kube.all_containers() {
            seen += 1;
            let from = findings.len();
            pod_container(node, &c, t, &mut findings);
            // The same container in a node bundle (CRI): its entry beside the pod's,
            // once, on its first problem.
            if let Some(f) = findings[from..]
                .iter_mut()
                .find(|f| f.outcome != Outcome::Pass)
                && let Some(ev) = cri_twin_evidence(input, node, &c, "restart_count", |raw| {
                    format!(
                        "the same container: restart_count {}",
                        raw.restart_count.unwrap_or(0)
                    )
                })
            {
                f.evidence.push(ev);
            }
        }
    }
    for node in input.nodes {
        // A CRI container that is a pod's container of a cluster bundle given too was
        // judged above, from the pod view.
        let Some(cs) = node_containers(input, node) else {
            if in_cluster(input, node) {
                continue;
            }
            findings.push(Finding::new(
                Outcome::Unknown,
                format!(
                    "{}; rerun rcdiag-agent collect with access to the Docker socket",
                    node.why_missing("docker/containers.json", "docker")
                ),
                Vec::new(),
            ));
            continue;
        };
        for c in cs {
            seen += 1;
            let ev =
                |field: &str, v: String| Evidence::file(node, c.file).at(c.pointer(field)).val(v);
            let who = format!("{} on {}", c.name, node.hostname());
            let state = c.state();
            let restarting = state.and_then(|s| s.restarting) == Some(true)
                || c.status().as_deref() == Some("restarting");
            let oom = state.and_then(|s| s.oom_killed) == Some(true);
            let count = c.raw.restart_count;
            let health = state
                .and_then(|s| s.health.as_deref())
                .map(str::to_ascii_lowercase);
            let mut bad = false;
            if restarting {
                bad = true;
                findings.push(Finding::new(
                    Outcome::Fail,
                    format!("{who} is restarting"),
                    vec![ev("state/status", "restarting".into())],
                ));
            }
            if oom {
                bad = true;
                findings.push(Finding::new(
                    Outcome::Fail,
                    format!("{who} was killed for lack of memory (OOM)"),
                    vec![ev("state/oom_killed", "true".into())],
                ));
            }
            if let Some(n) = count {
                if n >= t.restart_fail {
                    bad = true;
                    findings.push(Finding::new(
                        Outcome::Fail,
                        format!("{who} restarted {n} times (limit {})", t.restart_fail),
                        vec![ev("restart_count", n.to_string())],
                    ));
                } else if n >= t.restart_warn {
                    bad = true;
                    findings.push(Finding::new(
                        Outcome::Warn,
                        format!("{who} restarted {n} times (warn at {})", t.restart_warn),
                        vec![ev("restart_count", n.to_string())],
                    ));
                }
            }
            if health.as_deref() == Some("unhealthy") {
                bad = true;
                findings.push(Finding::new(
                    Outcome::Warn,
                    format!("{who} is unhealthy"),
                    vec![ev("state/health", "unhealthy".into())],
                ));
            }
            if !bad {
                findings.push(Finding::new(
                    Outcome::Pass,
                    "no container is restarting, OOM-killed or unhealthy".to_string(),
                    Vec::new(),
                ));
            }
        }
    }
    if seen == 0 && findings.iter().all(|f| f.outcome != Outcome::Unknown) {
        return conclude(
            input,
            CheckId::ContainersRestarting,
            Vec::new(),
            "no container found in the bundles (docker/containers.json and kubernetes/pods.json are empty)",
        );
    }
    let mut r = conclude(
        input,
        CheckId::ContainersRestarting,
        findings,
        "no bundle to check",
    );
    if r.outcome == Outcome::Pass {
        r.message = format!("none of {seen} containers is restarting, OOM-killed or unhealthy");
    }
    r
}

/// The findings on one container of a pod.
fn pod_container(
    node: &NodeData,
    c: &PodCtr<'_>,
    t: &crate::policy::Thresholds,
    findings: &mut Vec<Finding>,
) {
    const PODS: &str = "kubernetes/pods.json";
    let ev = |field: &str, v: String| Evidence::file(node, PODS).at(c.pointer(field)).val(v);
    let who = c.who();
    let mut bad = false;
    let reason = c.c.state_reason.as_deref().unwrap_or("");
    if reason == "CrashLoopBackOff" {
        bad = true;
        findings.push(Finding::new(
            Outcome::Fail,
            format!("{who} is in a restart loop (CrashLoopBackOff)"),
            vec![ev("state_reason", reason.into())],
        ));
    }
    if let Some(last) = &c.c.last_terminated
        && last.reason.as_deref() == Some("OOMKilled")
    {
        bad = true;
        let when = last
            .finished_at
            .as_deref()
            .map(|w| format!(" at {w}"))
            .unwrap_or_default();
        findings.push(Finding::new(
            Outcome::Fail,
            format!(
                "{who} was killed for lack of memory (OOMKilled{when}): raise its memory limit"
            ),
            vec![ev("last_terminated/reason", "OOMKilled".into())],
        ));
    }
    if let Some(n) = c.c.restart_count.and_then(|n| u64::try_from(n).ok()) {
        if n >= t.restart_fail {
            bad = true;
            findings.push(Finding::new(
                Outcome::Fail,
                format!("{who} restarted {n} times (limit {})", t.restart_fail),
                vec![ev("restart_count", n.to_string())],
            ));
        } else if n >= t.restart_warn {
            bad = true;
            findings.push(Finding::new(
                Outcome::Warn,
                format!("{who} restarted {n} times (warn at {})", t.restart_warn),
                vec![ev("restart_count", n.to_string())],
            ));
        }
    }
    if c.pod_running() && c.c.ready == Some(false) && !bad {
        bad = true;
        findings.push(Finding::new(
            Outcome::Warn,
            format!("{who} runs but is not ready"),
            vec![ev("ready", "false".into())],
        ));
    }
    if !bad {
        findings.push(Finding::new(
            Outcome::Pass,
            "no container is restarting, OOM-killed or unhealthy".to_string(),
            vec![ev(
                "restart_count",
                c.c.restart_count.unwrap_or(0).to_string(),
            )],
        ));
    }
}
