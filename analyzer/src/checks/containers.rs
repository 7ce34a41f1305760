//! `containers.restarting`: no container in a restart loop or killed for lack of
//! memory (thresholds are rcdiag's own, policy `[thresholds]`).

use super::{Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[Check {
    id: CheckId::ContainersRestarting,
    title: "No restart loops or OOM kills",
    area: "containers",
    description: "No container is restarting, was OOM-killed, or has restarted more often than the policy allows.",
    run: restarting,
}];

/// Runs `containers.restarting`.
pub(crate) fn restarting(input: &CheckInput) -> CheckResult {
    let t = &input.policy.thresholds;
    let mut findings = Vec::new();
    let mut seen = 0usize;
    for node in input.nodes {
        let Some(cs) = node.containers(input.policy) else {
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
            let ev = |field: &str, v: String| {
                Evidence::file(node, "docker/containers.json")
                    .at(c.pointer(field))
                    .val(v)
            };
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
            "no container found in the bundles (docker/containers.json is empty)",
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
