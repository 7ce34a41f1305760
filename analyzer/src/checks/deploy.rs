//! `deploy.method`: Rocket.Chat's statistics report how it was deployed;
//! `tar` (the default when DEPLOY_METHOD is unset) means a manual install (facts §2).

use serde_json::Value;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, rc_containers,
};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[Check {
    id: CheckId::DeployMethod,
    title: "Deploy method",
    area: "deploy",
    description: "Rocket.Chat's statistics deploy.method (else the containers' DEPLOY_METHOD) is not tar (a manual install).",
    run: method,
}];

const ID: CheckId = CheckId::DeployMethod;

/// Runs `deploy.method`.
pub(crate) fn method(input: &CheckInput) -> CheckResult {
    let policy = input.policy;
    let mut findings = Vec::new();
    let mut gaps = Vec::new();
    for node in input.nodes {
        let mut observed: Vec<(String, Evidence)> = Vec::new();
        let pointer = "/deploy/method";
        for (file, method) in [
            (
                "rocketchat/statistics.json",
                node.rc_statistics
                    .as_ref()
                    .and_then(|s| s.deploy.as_ref())
                    .and_then(|d| d.get("method"))
                    .and_then(Value::as_str),
            ),
            (
                "rocketchat/summary.json",
                node.rocketchat
                    .as_ref()
                    .and_then(|r| r.deploy.as_ref())
                    .and_then(|d| d.method.as_deref()),
            ),
        ] {
            if let Some(m) = method {
                observed.push((m.to_string(), Evidence::file(node, file).at(pointer).val(m)));
                break;
            }
        }
        if observed.is_empty()
            && let Some(cs) = rc_containers(input, node)
        {
            for c in cs {
                if let Some(m) = c.env_value("DEPLOY_METHOD") {
                    observed.push((
                        m.clone(),
                        Evidence::file(node, c.file)
                            .at(c.pointer("env"))
                            .val(format!("DEPLOY_METHOD={m}")),
                    ));
                } else if c.env_collected() {
                    // Unset in the container: Rocket.Chat reports `tar`.
                    observed.push((
                        "tar".into(),
                        Evidence::file(node, c.file)
                            .at(c.pointer("env"))
                            .val("DEPLOY_METHOD not set"),
                    ));
                }
            }
        }
        if observed.is_empty() {
            gaps.push(format!(
                "{} (and no Rocket.Chat container with DEPLOY_METHOD)",
                node.why_missing("rocketchat/statistics.json", "rocketchat")
            ));
        }
        for (m, ev) in observed {
            let m_trim = m.trim();
            let f = if policy
                .deploy
                .failing_methods
                .iter()
                .any(|f| f.eq_ignore_ascii_case(m_trim))
            {
                Finding::new(
                    Outcome::Fail,
                    format!(
                        "deploy method is {m_trim} on {}: a manual install, not the official Docker image",
                        node.hostname()
                    ),
                    vec![ev],
                )
            } else if policy
                .deploy
                .supported_methods
                .iter()
                .any(|s| s.eq_ignore_ascii_case(m_trim))
            {
                Finding::new(
                    Outcome::Pass,
                    format!("deploy method is {m_trim}"),
                    vec![ev],
                )
            } else {
                Finding::new(
                    Outcome::Warn,
                    format!(
                        "deploy method {m_trim:?} on {} is not one the official images set ({})",
                        node.hostname(),
                        policy.deploy.supported_methods.join(", ")
                    ),
                    vec![ev],
                )
            };
            findings.push(f);
        }
    }
    if findings.is_empty() {
        return conclude(
            input,
            ID,
            findings,
            &format!("deploy method unknown: {}", gaps.join("; ")),
        );
    }
    // Statistics are shared by the installation: a node without them adds nothing.
    conclude(input, ID, findings, "")
}
