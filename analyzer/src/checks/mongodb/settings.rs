//! `mongodb.storage-engine` (WiredTiger) and `mongodb.bypass-flags` (no validation
//! bypass switches in the env of Rocket.Chat, from its containers, its processes or
//! its pods).

use serde_json::Value;

use super::missing_mongo;
use crate::checks::{
    CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, in_cluster,
    process_pointer, processes_of, rc_containers, rc_pod_servers, result,
};
use crate::model::NodeData;

/// Runs `mongodb.storage-engine`.
pub(crate) fn storage_engine(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::MongodbStorageEngine;
    let want = &input.policy.mongodb.storage_engine;
    let mut findings = Vec::new();
    for node in input.nodes {
        let found = node
            .mongodb_summary
            .as_ref()
            .and_then(|s| s.storage_engine.as_deref())
            .map(|s| {
                (
                    s.to_string(),
                    Evidence::file(node, "mongodb/summary.json").at("/storage_engine"),
                )
            })
            .or_else(|| {
                node.mongodb
                    .get("serverStatus")
                    .and_then(|s| s.pointer("/reply/storageEngine/name"))
                    .and_then(Value::as_str)
                    .map(|s| {
                        (
                            s.to_string(),
                            Evidence::file(node, "mongodb/serverStatus.json")
                                .at("/reply/storageEngine/name"),
                        )
                    })
            })
            .or_else(|| {
                node.rc_statistics
                    .as_ref()
                    .and_then(|s| s.mongo_storage_engine.as_deref())
                    .map(|s| {
                        (
                            s.to_string(),
                            Evidence::file(node, "rocketchat/statistics.json")
                                .at("/mongoStorageEngine"),
                        )
                    })
            })
            .or_else(|| {
                node.startup_mongo_engines
                    .last()
                    .map(|(f, e)| (e.clone(), Evidence::file(node, f)))
            });
        let Some((engine, ev)) = found else { continue };
        let ev = ev.val(&engine);
        findings.push(if engine.eq_ignore_ascii_case(want) {
            Finding::new(Outcome::Pass, format!("MongoDB uses {engine}"), vec![ev])
        } else {
            Finding::new(
                Outcome::Fail,
                format!("MongoDB uses the {engine} storage engine; Rocket.Chat requires {want}"),
                vec![ev],
            )
        });
    }
    conclude(
        input,
        ID,
        findings,
        &format!("the storage engine is unknown: {}", missing_mongo(input)),
    )
}

/// A node whose Docker containers were not collected: the environment names of its
/// Rocket.Chat processes in the host collector's process list (containerized ones
/// included, as the agent sees every PID as root) stand in for the containers'; only
/// when there are none is the missing Docker data a gap.
fn host_env_instead(
    node: &NodeData,
    docker_gap: String,
    host_env_read: bool,
    gaps: &mut Vec<String>,
    from_host: &mut Vec<String>,
) {
    if host_env_read {
        from_host.push(node.hostname().to_string());
    } else if processes_of(node, "rocketchat").is_empty() {
        gaps.push(docker_gap);
    } else {
        gaps.push(format!(
            "{docker_gap}, and the environment of its Rocket.Chat processes was not readable (run rcdiag-agent as root)"
        ));
    }
}

/// Runs `mongodb.bypass-flags`.
pub(crate) fn bypass_flags(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::MongodbBypassFlags;
    let names = &input.policy.mongodb.bypass_env;
    let mut findings = Vec::new();
    let mut looked = 0usize;
    let mut gaps = Vec::new();
    let mut from_host = Vec::new();
    for node in input.nodes {
        let mut docker_gap = None;
        match rc_containers(input, node) {
            Some(cs) => {
                for c in cs {
                    looked += 1;
                    let env = c.env();
                    if !c.env_collected() {
                        findings.push(Finding::new(
                            Outcome::Unknown,
                            format!(
                                "{} on {}: environment not collected",
                                c.name,
                                node.hostname()
                            ),
                            Vec::new(),
                        ));
                        continue;
                    }
                    for (k, v) in env {
                        // Rocket.Chat tests these for truthiness: an empty value is unset.
                        if names.contains(&k) && !v.is_empty() {
                            findings.push(Finding::new(
                                Outcome::Fail,
                                format!("{} on {} sets {k}: it hides an unsupported setup from Rocket.Chat's checks", c.name, node.hostname()),
                                vec![Evidence::file(node, c.file).at(c.pointer("env")).val(&k)],
                            ));
                        }
                    }
                }
            }
            None if in_cluster(input, node) => {}
            None => docker_gap = Some(node.why_missing("docker/containers.json", "docker")),
        }
        let before = looked;
        for (idx, p) in processes_of(node, "rocketchat") {
            let Some(env_names) = &p.env_names else {
                continue;
            };
            looked += 1;
            for n in env_names {
                if names.iter().any(|x| x == n) {
                    findings.push(Finding::new(
                        Outcome::Fail,
                        format!(
                            "a Rocket.Chat process on {} has {n} in its environment",
                            node.hostname()
                        ),
                        vec![
                            Evidence::file(node, "host/host.json")
                                .at(process_pointer(idx, "env_names"))
                                .val(n),
                        ],
                    ));
                }
            }
        }
        if let Some(g) = docker_gap {
            host_env_instead(node, g, looked > before, &mut gaps, &mut from_host);
        }
    }
    let mut pod_evs = Vec::new();
    for (node, c) in rc_pod_servers(input) {
        looked += 1;
        pod_evs.push(
            Evidence::file(node, "kubernetes/pods.json")
                .at(c.pointer("env"))
                .val(format!("{}: {} variables", c.who(), c.c.env.len())),
        );
        for e in &c.c.env {
            let Some(k) = e.name.as_deref() else { continue };
            // Rocket.Chat tests these for truthiness: an empty value is unset.
            let set = e.value_from.is_some() || e.value.as_deref().is_some_and(|v| !v.is_empty());
            if names.iter().any(|n| n == k) && set {
                findings.push(Finding::new(
                    Outcome::Fail,
                    format!(
                        "{} sets {k}: it hides an unsupported setup from Rocket.Chat's checks",
                        c.who()
                    ),
                    vec![
                        Evidence::file(node, "kubernetes/pods.json")
                            .at(c.pointer("env"))
                            .val(k),
                    ],
                ));
            }
        }
    }
    if looked == 0 {
        let why = if gaps.is_empty() {
            "no Rocket.Chat container or host process found".to_string()
        } else {
            gaps.join("; ")
        };
        return result(
            input,
            ID,
            Outcome::Unknown,
            format!(
                "no Rocket.Chat environment to inspect: {why}; rerun rcdiag-agent collect with access to the Docker socket (and as root for host processes)"
            ),
            Vec::new(),
        );
    }
    if !findings.iter().any(|f| f.outcome == Outcome::Fail) {
        findings.push(Finding::new(
            Outcome::Pass,
            format!(
                "none of {} is set on {looked} Rocket.Chat container(s)/process(es){}",
                names.join(", "),
                if from_host.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (read from the host's process list on {}: Docker was not collected there)",
                        from_host.join(", ")
                    )
                }
            ),
            pod_evs,
        ));
    }
    for g in gaps {
        findings.push(Finding::new(Outcome::Unknown, g, Vec::new()));
    }
    conclude(input, ID, findings, "")
}
