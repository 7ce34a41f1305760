//! `mongodb.replica-set`: MongoDB is a replica set with a primary and every member
//! healthy, read from MongoDB itself (`mongodb/summary.json`); where MongoDB was not
//! read, from the cluster view (the StatefulSet of the MongoDB pods and their env).

use serde_json::Value;

use super::missing_mongo;
use crate::checks::{
    CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, cluster_users, conclude,
};
use crate::model::{NodeData, as_f64};

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
