//! MongoDB checks (facts §5): version compatible with the Rocket.Chat version,
//! a healthy replica set, the WiredTiger engine, and no validation bypass switches.
//! Where MongoDB itself was not read, a cluster view still tells the replica set's
//! StatefulSet and readiness; the bypass switches are read from the env of the
//! Rocket.Chat pods too.

use serde_json::Value;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, cluster_users, conclude,
    in_cluster, node_rc_version, process_pointer, processes_of, rc_containers, rc_pod_servers,
    result,
};
use crate::model::{NodeData, as_f64};
use crate::policy::{MongoCompat, Version, parse_major_minor};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::MongodbVersion,
        title: "MongoDB version compatible",
        area: "mongodb",
        description: "The MongoDB version is supported by the Rocket.Chat version per the policy matrix (deprecated warns).",
        run: version,
    },
    Check {
        id: CheckId::MongodbReplicaSet,
        title: "MongoDB replica set healthy",
        area: "mongodb",
        description: "MongoDB is a replica set with a primary and every member healthy (standalone fails).",
        run: replica_set,
    },
    Check {
        id: CheckId::MongodbStorageEngine,
        title: "MongoDB storage engine",
        area: "mongodb",
        description: "MongoDB uses the WiredTiger storage engine.",
        run: storage_engine,
    },
    Check {
        id: CheckId::MongodbBypassFlags,
        title: "No validation bypass switches",
        area: "mongodb",
        description: "No BYPASS_* / SKIP_MONGODEPRECATION_* variable is set on Rocket.Chat containers or host processes.",
        run: bypass_flags,
    },
];

/// The MongoDB version a node saw, most direct source first.
fn mongo_version(node: &NodeData) -> Option<(String, Evidence)> {
    if let Some(s) = node
        .mongodb_summary
        .as_ref()
        .and_then(|s| s.version.as_deref())
    {
        return Some((
            s.to_string(),
            Evidence::file(node, "mongodb/summary.json")
                .at("/version")
                .val(s),
        ));
    }
    if let Some(s) = node
        .mongodb
        .get("buildInfo")
        .and_then(|b| b.pointer("/reply/version"))
        .and_then(Value::as_str)
    {
        return Some((
            s.to_string(),
            Evidence::file(node, "mongodb/buildInfo.json")
                .at("/reply/version")
                .val(s),
        ));
    }
    if let Some(s) = node
        .rc_statistics
        .as_ref()
        .and_then(|s| s.mongo_version.as_deref())
    {
        return Some((
            s.to_string(),
            Evidence::file(node, "rocketchat/statistics.json")
                .at("/mongoVersion")
                .val(s),
        ));
    }
    node.startup_mongo_versions.last().map(|(file, v)| {
        (
            v.clone(),
            Evidence::file(node, file).val(format!("MongoDB Version: {v}")),
        )
    })
}

fn missing_mongo(input: &CheckInput) -> String {
    let why: Vec<String> = input
        .nodes
        .iter()
        .map(|n| n.why_missing("mongodb/summary.json", "mongodb"))
        .collect();
    format!(
        "{}; rerun rcdiag-agent collect with --mongodb-uri and a user with clusterMonitor on admin",
        if why.is_empty() {
            "no bundle".into()
        } else {
            why.join("; ")
        }
    )
}

/// The Rocket.Chat version to judge each node's MongoDB against (in the order of
/// `input.nodes`): the node's own, else the first node's that has one. Each node's
/// version is looked up once.
fn rc_versions(input: &CheckInput) -> Vec<Option<(Version, Evidence)>> {
    let own: Vec<Option<(Version, Evidence)>> = input
        .nodes
        .iter()
        .map(|n| node_rc_version(n, input.policy))
        .collect();
    let any = own.iter().flatten().next().cloned();
    own.into_iter().map(|v| v.or_else(|| any.clone())).collect()
}

/// Runs `mongodb.version`.
pub(crate) fn version(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::MongodbVersion;
    let policy = input.policy;
    let mut findings = Vec::new();
    for (node, rc_version) in input.nodes.iter().zip(rc_versions(input)) {
        let too_old = node
            .mongodb_summary
            .as_ref()
            .and_then(|s| s.too_old.as_ref());
        let found = mongo_version(node).or_else(|| {
            too_old.and_then(|t| t.version.as_deref()).map(|s| {
                (
                    s.to_string(),
                    Evidence::file(node, "mongodb/summary.json")
                        .at("/too_old/version")
                        .val(s),
                )
            })
        });
        let Some((rc, rc_ev)) = rc_version else {
            if let Some((m, ev)) = found {
                findings.push(Finding::new(
                    Outcome::Unknown,
                    format!("MongoDB {m} found, but the Rocket.Chat version to judge it against is unknown ({})", node.why_missing("rocketchat/summary.json", "rocketchat")),
                    vec![ev],
                ));
            }
            continue;
        };
        let Some((raw, ev)) = found else {
            if let Some(t) = too_old {
                // The driver refused a server older than 4.4 and could not read its version.
                let msg = t
                    .message
                    .as_deref()
                    .unwrap_or("older than the driver supports");
                let ev = Evidence::file(node, "mongodb/summary.json")
                    .at("/too_old")
                    .val(msg);
                let lowest = policy.mongo_row(&rc).and_then(|row| {
                    row.supported
                        .iter()
                        .chain(row.supported_from.iter())
                        .filter_map(|s| parse_major_minor(s))
                        .min()
                });
                let f = match lowest {
                    Some(l) if l >= (4, 4) => Finding::new(
                        Outcome::Fail,
                        format!(
                            "MongoDB is older than 4.4 ({msg}); Rocket.Chat {rc} needs at least {}.{}",
                            l.0, l.1
                        ),
                        vec![ev, rc_ev],
                    ),
                    _ => Finding::new(
                        Outcome::Unknown,
                        format!(
                            "MongoDB is older than 4.4 ({msg}) and its exact version is unknown"
                        ),
                        vec![ev, rc_ev],
                    ),
                };
                findings.push(f);
            }
            continue;
        };
        let Some(m) = Version::parse(&raw) else {
            findings.push(Finding::new(
                Outcome::Unknown,
                format!("MongoDB version {raw:?} does not parse"),
                vec![ev],
            ));
            continue;
        };
        let (compat, row) = policy.mongo_compat(&rc, &m);
        let note = row
            .filter(|r| !r.note.is_empty())
            .map(|r| format!(" ({})", r.note))
            .unwrap_or_default();
        let supported = row
            .map(|r| {
                let mut s = r.supported.join(", ");
                if let Some(f) = &r.supported_from {
                    if !s.is_empty() {
                        s.push_str(", ");
                    }
                    s.push_str(&format!("{f} and later"));
                }
                s
            })
            .unwrap_or_default();
        let evs = vec![ev, rc_ev];
        findings.push(match compat {
            MongoCompat::Supported => Finding::new(Outcome::Pass, format!("MongoDB {m} is supported by Rocket.Chat {rc}"), evs),
            MongoCompat::Deprecated => Finding::new(Outcome::Warn, format!("MongoDB {m} is deprecated for Rocket.Chat {rc}{note}: plan the upgrade"), evs),
            MongoCompat::Disputed => Finding::new(Outcome::Warn, format!("MongoDB {m} with Rocket.Chat {rc}: the sources disagree{note}; supported per the release notes: {supported}"), evs),
            MongoCompat::Unsupported => Finding::new(Outcome::Fail, format!("MongoDB {m} is not supported by Rocket.Chat {rc} (supported: {supported}){note}"), evs),
            MongoCompat::NoRow => Finding::new(Outcome::Unknown, format!("the policy's MongoDB matrix has no row for Rocket.Chat {rc}"), evs),
        });
    }
    conclude(
        input,
        ID,
        findings,
        &format!("the MongoDB version is unknown: {}", missing_mongo(input)),
    )
}

/// Runs `mongodb.replica-set`.
pub(crate) fn replica_set(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::MongodbReplicaSet;
    let policy = input.policy;
    let mut findings = Vec::new();
    let need_replicas = cluster_users(input.nodes)
        .and_then(|(u, _, _)| policy.tier_for(u))
        .map(|t| (t.mongodb_replicas, t.name.clone()));
    for node in input.nodes {
        let file = "mongodb/summary.json";
        let rs = node
            .mongodb_summary
            .as_ref()
            .and_then(|s| s.replica_set.as_ref());
        let state = rs.and_then(|r| r.state.as_deref()).unwrap_or("unknown");
        match state {
            "standalone" => {
                findings.push(Finding::new(
                    Outcome::Fail,
                    "MongoDB is a standalone server, not a replica set (required since Rocket.Chat 1.0 for the oplog / change streams)".to_string(),
                    vec![Evidence::file(node, file).at("/replica_set/state").val(state)],
                ));
                continue;
            }
            "replica-set" => {
                let Some(rs) = rs else { continue };
                let set = rs.set_name.as_deref().unwrap_or("?");
                let primary = rs.primary.as_deref().filter(|p| !p.is_empty());
                let members = &rs.members;
                let mut problems = Vec::new();
                let mut evs = vec![
                    Evidence::file(node, file)
                        .at("/replica_set/set_name")
                        .val(set),
                ];
                if primary.is_none()
                    && !members
                        .iter()
                        .any(|m| m.state.as_deref() == Some("PRIMARY"))
                {
                    problems.push((Outcome::Fail, format!("replica set {set} has no primary")));
                    evs.push(
                        Evidence::file(node, file)
                            .at("/replica_set/primary")
                            .val("none"),
                    );
                }
                let mut lagging = Vec::new();
                for (i, m) in members.iter().enumerate() {
                    let name = m.name.as_deref().unwrap_or("?");
                    let st = m.state.as_deref().unwrap_or("?");
                    let health = m.health;
                    let healthy =
                        health == Some(1.0) && matches!(st, "PRIMARY" | "SECONDARY" | "ARBITER");
                    if !healthy {
                        problems.push((
                            Outcome::Fail,
                            format!(
                                "member {name} of {set} is {st} (health {})",
                                health.map_or("?".into(), |h| h.to_string())
                            ),
                        ));
                        evs.push(
                            Evidence::file(node, file)
                                .at(format!("/replica_set/members/{i}"))
                                .val(format!("{name} {st} health {health:?}")),
                        );
                    } else if let Some(lag) = m
                        .lag_seconds
                        .filter(|l| *l > policy.mongodb.max_lag_seconds)
                    {
                        lagging.push(name.to_string());
                        problems.push((
                            Outcome::Warn,
                            format!("member {name} of {set} lags {lag:.0} s behind the primary"),
                        ));
                        evs.push(
                            Evidence::file(node, file)
                                .at(format!("/replica_set/members/{i}/lag_seconds"))
                                .val(lag),
                        );
                    }
                }
                if members.is_empty() {
                    problems.push((
                        Outcome::Unknown,
                        format!("replica set {set}: member list not collected"),
                    ));
                }
                if let Some((want, tier)) = &need_replicas
                    && !members.is_empty()
                    && (members.len() as u32) < *want
                {
                    problems.push((Outcome::Warn, format!("replica set {set} has {} member(s); the {tier} tier recommends {want} for high availability", members.len())));
                }
                if problems.is_empty() {
                    findings.push(Finding::new(
                        Outcome::Pass,
                        format!(
                            "replica set {set} has a primary and {} healthy member(s)",
                            members.len()
                        ),
                        evs,
                    ));
                } else {
                    for (o, msg) in problems {
                        findings.push(Finding::new(o, msg, evs.clone()));
                    }
                }
                continue;
            }
            _ => {}
        }
        // No summary verdict: the raw command reply, statistics and startup box.
        if let Some(r) = node.mongodb.get("replSetGetStatus") {
            let code = r.pointer("/error/code").and_then(as_f64);
            let name = r.pointer("/error/code_name").and_then(Value::as_str);
            if code == Some(76.0) || name == Some("NoReplicationEnabled") {
                findings.push(Finding::new(
                    Outcome::Fail,
                    "MongoDB is not running as a replica set (replSetGetStatus: NoReplicationEnabled)".to_string(),
                    vec![Evidence::file(node, "mongodb/replSetGetStatus.json").at("/error").val(name.unwrap_or("code 76"))],
                ));
                continue;
            }
        }
        if let Some(b) = node.rc_statistics.as_ref().and_then(|s| s.oplog_enabled) {
            let ev = Evidence::file(node, "rocketchat/statistics.json")
                .at("/oplogEnabled")
                .val(b);
            findings.push(if b {
                Finding::new(Outcome::Unknown, format!("MongoDB is a replica set (statistics.oplogEnabled) but member health was not collected ({})", node.why_missing("mongodb/summary.json", "mongodb")), vec![ev])
            } else {
                Finding::new(Outcome::Fail, "Rocket.Chat reports the oplog disabled: MongoDB is not a replica set".to_string(), vec![ev])
            });
            continue;
        }
        if let Some((f, v)) = node.startup_oplog.last() {
            let ev = Evidence::file(node, f).val(format!("ReplicaSet OpLog: {v}"));
            findings.push(if v == "Disabled" {
                Finding::new(
                    Outcome::Fail,
                    "the startup box says ReplicaSet OpLog: Disabled: MongoDB is not a replica set"
                        .to_string(),
                    vec![ev],
                )
            } else {
                Finding::new(
                    Outcome::Unknown,
                    "the startup box shows the oplog enabled, but member health was not collected"
                        .to_string(),
                    vec![ev],
                )
            });
        }
    }
    if findings.is_empty() {
        let min = need_replicas
            .as_ref()
            .map(|(n, t)| (i64::from(*n), format!("the {t} tier recommends")))
            .unwrap_or((
                policy.kubernetes.mongodb_min_members,
                "a replica set needs".into(),
            ));
        for node in crate::model::cluster_bundles(input.nodes) {
            kube_replica_set(node, policy, &min, &mut findings);
        }
    }
    conclude(
        input,
        ID,
        findings,
        &format!("the replica set state is unknown: {}", missing_mongo(input)),
    )
}

/// `mongodb.replica-set` from a cluster view when MongoDB itself was not read: the
/// StatefulSet of the MongoDB pods, its replica count and ready replicas, and the
/// replica set name their env gives (policy `kubernetes.mongodb_replica_set_env`).
fn kube_replica_set(
    node: &NodeData,
    policy: &crate::policy::Policy,
    (min, why): &(i64, String),
    findings: &mut Vec<Finding>,
) {
    const W: &str = "kubernetes/workloads.json";
    let pods = node.kube.pods_of(&["mongodb"]);
    if pods.is_empty() {
        return;
    }
    let hint =
        "member states were not read: collect MongoDB too (rcdiag-agent collect --mongodb-uri)";
    for (i, s) in node.kube.workloads_of("statefulsets", &pods) {
        let who = crate::model::ns_name(&s.namespace, &s.name);
        let n = s.replicas.unwrap_or(1);
        let ready = s.ready_replicas.unwrap_or(0);
        let ev = vec![
            Evidence::file(node, W)
                .at(format!("/statefulsets/{i}/replicas"))
                .val(n),
            Evidence::file(node, W)
                .at(format!("/statefulsets/{i}/ready_replicas"))
                .val(ready),
        ];
        let set = node
            .kube
            .containers_of(&["mongodb"])
            .into_iter()
            .filter(|c| {
                c.pod.namespace == s.namespace && crate::model::selects(s.selector.as_ref(), c.pod)
            })
            .find_map(|c| {
                policy
                    .kubernetes
                    .mongodb_replica_set_env
                    .iter()
                    .find_map(|e| {
                        c.env_value(e)
                            .map(|v| (e.clone(), v.to_string(), c.pointer("env")))
                    })
            });
        if n < *min {
            findings.push(Finding::new(
                Outcome::Warn,
                format!("StatefulSet {who} runs {n} MongoDB member(s); {why} {min} for high availability ({hint})"),
                ev,
            ));
            continue;
        }
        let Some((env, name, pointer)) = set else {
            findings.push(Finding::new(
                Outcome::Unknown,
                format!("StatefulSet {who} runs {n} MongoDB pods, but nothing in the cluster view says they form a replica set ({hint})"),
                ev,
            ));
            continue;
        };
        let mut ev = ev;
        ev.push(
            Evidence::file(node, "kubernetes/pods.json")
                .at(pointer)
                .val(format!("{env}={name}")),
        );
        if ready < n {
            findings.push(Finding::new(
                Outcome::Fail,
                format!(
                    "replica set {name} (StatefulSet {who}): only {ready} of {n} members ready"
                ),
                ev,
            ));
        } else {
            findings.push(Finding::new(
                Outcome::Pass,
                format!("replica set {name} runs as StatefulSet {who} with {n} members, all ready ({hint})"),
                ev,
            ));
        }
    }
    for (i, d) in node.kube.workloads_of("deployments", &pods) {
        let n = d.replicas.unwrap_or(1);
        if n < *min {
            findings.push(Finding::new(
                Outcome::Warn,
                format!(
                    "MongoDB runs in Deployment {} with {n} replica: not a {min}-member replica set ({why} {min}; {hint})",
                    crate::model::ns_name(&d.namespace, &d.name)
                ),
                vec![Evidence::file(node, W).at(format!("/deployments/{i}/replicas")).val(n)],
            ));
        }
    }
}

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
        match rc_containers(node, input.policy) {
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
