//! `scale.orchestrated`: a scaled installation (more than one instance or more than
//! 2000 users) must run under Rancher, OpenShift, Kubernetes with Helm or
//! docker-compose (facts §1, §8). Docker containers show their orchestrator by labels,
//! env and names; Rocket.Chat pods of a cluster view by the labels of the Deployment
//! owning them (Helm puts its labels there, not on the pods), their own labels and
//! annotations, `DEPLOY_PLATFORM`, and the distribution the collector recognised.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, in_cluster,
    node_key, processes_of, rc_containers, rc_pod_servers, result,
};
use crate::model::{Container, NodeData, PodCtr, ns_name};
use crate::policy::{Orchestrator, OrchestratorStatus, Policy};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[Check {
    id: CheckId::ScaleOrchestrated,
    title: "Scaled installation is orchestrated",
    area: "scale",
    description: "An installation with more than one live instance (containers, or running Rocket.Chat pods) or more than 2000 active users runs under Rancher, OpenShift, Kubernetes with Helm or docker-compose.",
    run: orchestrated,
}];

const ID: CheckId = CheckId::ScaleOrchestrated;

/// The first orchestrator (policy order) whose fingerprint the container carries.
pub(crate) fn orchestrator_of<'p>(
    c: &Container<'_>,
    policy: &'p Policy,
) -> Option<&'p Orchestrator> {
    let labels = c.labels();
    let env = c.env();
    policy.orchestrators.iter().find(|o| {
        o.label_key_patterns
            .iter()
            .filter_map(|p| crate::policy::cached_regex(p))
            .any(|re| labels.keys().any(|k| re.is_match(k)))
            || o.labels.iter().any(|kv| {
                kv.split_once('=')
                    .is_some_and(|(k, v)| labels.get(k).is_some_and(|have| have == v))
            })
            || o.env.iter().any(|kv| {
                kv.split_once('=')
                    .is_some_and(|(k, v)| env.iter().any(|(ek, ev)| ek == k && ev == v))
            })
            || o.name_patterns
                .iter()
                .filter_map(|p| crate::policy::cached_regex(p))
                .any(|re| re.is_match(&c.name))
    })
}

/// The first orchestrator (policy order) a Rocket.Chat pod's container shows, with
/// the sign and its evidence: a label of the Deployment owning the pod (Helm labels
/// are there), a label or annotation of the pod, its environment, or the cluster's
/// distribution (`kubernetes` for any cluster view).
pub(crate) fn orchestrator_of_pod<'p>(
    node: &NodeData,
    c: &PodCtr<'_>,
    policy: &'p Policy,
) -> Option<(&'p Orchestrator, String, Evidence)> {
    const PODS: &str = "kubernetes/pods.json";
    let mut labels: Vec<(String, String, Evidence)> = Vec::new();
    for list in ["deployments", "statefulsets"] {
        for (i, d) in node.kube.workloads_of(list, &[(c.pod_index, c.pod)]) {
            for (k, v) in d.labels.iter().flatten() {
                labels.push((
                    k.clone(),
                    v.clone(),
                    Evidence::file(node, "kubernetes/workloads.json")
                        .at(format!("/{list}/{i}/labels"))
                        .val(format!("{}: {k}={v}", ns_name(&d.namespace, &d.name))),
                ));
            }
        }
    }
    for (field, map) in [
        ("labels", &c.pod.labels),
        ("annotations", &c.pod.annotations),
    ] {
        for (k, v) in map.iter().flatten() {
            labels.push((
                k.clone(),
                v.clone(),
                Evidence::file(node, PODS)
                    .at(c.pod_pointer(field))
                    .val(format!("{k}={v}")),
            ));
        }
    }
    let env: Vec<(&str, &str)> =
        c.c.env
            .iter()
            .filter_map(|e| Some((e.name.as_deref()?, e.value.as_deref()?)))
            .collect();
    let mut dists: Vec<(String, Evidence)> = node
        .kube
        .cluster
        .iter()
        .flat_map(|cl| cl.distribution.iter().enumerate())
        .filter_map(|(i, d)| {
            let name = d.name.clone()?;
            let signs = d.evidence.join(", ");
            Some((
                name.clone(),
                Evidence::file(node, "kubernetes/cluster.json")
                    .at(format!("/distribution/{i}"))
                    .val(format!("{name}: {signs}")),
            ))
        })
        .collect();
    dists.push((
        "kubernetes".into(),
        Evidence::file(node, "kubernetes/cluster.json")
            .at("/server")
            .val("a cluster view of the Kubernetes API"),
    ));
    policy.orchestrators.iter().find_map(|o| {
        if let Some((d, ev)) = dists.iter().find(|(d, _)| o.distributions.contains(d)) {
            return Some((o, format!("distribution {d}"), ev.clone()));
        }
        let by_key = o
            .label_key_patterns
            .iter()
            .filter_map(|p| crate::policy::cached_regex(p))
            .find_map(|re| labels.iter().find(|(k, _, _)| re.is_match(k)));
        let by_label = || {
            o.labels.iter().find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                labels.iter().find(|(lk, lv, _)| lk == k && lv == v)
            })
        };
        if let Some((k, v, ev)) = by_key.or_else(by_label) {
            return Some((o, format!("label {k}={v}"), ev.clone()));
        }
        o.env.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            env.iter().any(|(ek, ev)| *ek == k && *ev == v).then(|| {
                (
                    o,
                    format!("env {k}={v}"),
                    Evidence::file(node, PODS)
                        .at(c.pointer("env"))
                        .val(format!("{k}={v}")),
                )
            })
        })
    })
}

fn platform_of(node: &NodeData) -> Option<(&str, Evidence)> {
    for (file, platform) in [
        (
            "rocketchat/statistics.json",
            node.rc_statistics
                .as_ref()
                .and_then(|s| s.deploy.as_ref())
                .and_then(|d| d.get("platform"))
                .and_then(Value::as_str),
        ),
        (
            "rocketchat/summary.json",
            node.rocketchat
                .as_ref()
                .and_then(|r| r.deploy.as_ref())
                .and_then(|d| d.platform.as_deref()),
        ),
    ] {
        if let Some(p) = platform {
            return Some((p, Evidence::file(node, file).at("/deploy/platform").val(p)));
        }
    }
    None
}

/// Live instance count: the largest `instances.live` over the nodes (one database),
/// else running Rocket.Chat containers and host processes, counted once per node.
fn instances(input: &CheckInput) -> Option<(u64, String, Vec<Evidence>)> {
    let mut best: Option<(u64, Evidence)> = None;
    for n in input.nodes {
        if let Some(v) = n
            .rocketchat
            .as_ref()
            .and_then(|r| r.instances.as_ref())
            .and_then(|i| i.live)
            && best.as_ref().is_none_or(|b| v > b.0)
        {
            best = Some((
                v,
                Evidence::file(n, "rocketchat/summary.json")
                    .at("/instances/live")
                    .val(v),
            ));
        }
    }
    if let Some((v, ev)) = best {
        return Some((
            v,
            "live instances in the instances collection".into(),
            vec![ev],
        ));
    }
    let mut per_node: BTreeMap<String, (u64, Vec<Evidence>)> = BTreeMap::new();
    let mut any = false;
    for n in input.nodes {
        let mut count = 0u64;
        let mut evs = Vec::new();
        if let Some(cs) = rc_containers(input, n) {
            any = true;
            for c in cs.iter().filter(|c| c.running() == Some(true)) {
                count += 1;
                evs.push(
                    Evidence::file(n, c.file)
                        .at(c.pointer("state/status"))
                        .val(&c.name),
                );
            }
        }
        for (idx, p) in processes_of(n, "rocketchat") {
            if p.in_container == Some(false) {
                any = true;
                count += 1;
                evs.push(
                    Evidence::file(n, "host/host.json")
                        .at(super::process_pointer(idx, ""))
                        .val("Rocket.Chat process on the host"),
                );
            }
        }
        let e = per_node.entry(node_key(n)).or_insert((0, Vec::new()));
        if count >= e.0 {
            *e = (count, evs);
        }
    }
    let mut pods = 0u64;
    let mut pod_evs = Vec::new();
    for (n, c) in rc_pod_servers(input) {
        any = true;
        if c.pod_running() {
            pods += 1;
            pod_evs.push(
                Evidence::file(n, "kubernetes/pods.json")
                    .at(c.pod_pointer("phase"))
                    .val(format!(
                        "{}: Running",
                        ns_name(&c.pod.namespace, &c.pod.name)
                    )),
            );
        }
    }
    if !any {
        return None;
    }
    let containers: u64 = per_node.values().map(|(c, _)| c).sum();
    let mut evs: Vec<Evidence> = per_node.into_values().flat_map(|(_, e)| e).collect();
    evs.extend(pod_evs);
    let basis = match (containers, pods) {
        (_, 0) => "running Rocket.Chat containers across the bundles",
        (0, _) => "running Rocket.Chat pods in the cluster view",
        _ => "running Rocket.Chat containers and pods across the bundles",
    };
    Some((containers + pods, basis.into(), evs))
}

/// Active users for the 2000 threshold.
fn users(nodes: &[NodeData]) -> Option<(u64, Evidence)> {
    let mut best: Option<(u64, Evidence)> = None;
    for n in nodes {
        for (file, pointer, users) in [
            (
                "rocketchat/summary.json",
                "/users/active_humans",
                n.rocketchat
                    .as_ref()
                    .and_then(|r| r.users.as_ref())
                    .and_then(|u| u.active_humans),
            ),
            (
                "rocketchat/statistics.json",
                "/activeUsers",
                n.rc_statistics.as_ref().and_then(|s| s.active_users),
            ),
        ] {
            if let Some(v) = users {
                if best.as_ref().is_none_or(|b| v > b.0) {
                    best = Some((v, Evidence::file(n, file).at(pointer).val(v)));
                }
                break;
            }
        }
    }
    best
}

/// Runs `scale.orchestrated`.
pub(crate) fn orchestrated(input: &CheckInput) -> CheckResult {
    let policy = input.policy;
    let inst = instances(input);
    let usr = users(input.nodes);
    let max_i = policy.scale.max_instances_unscaled;
    let max_u = policy.scale.max_users_unscaled;
    let scaled_by_inst = inst.as_ref().map(|(n, _, _)| *n > max_i);
    let scaled_by_users = usr.as_ref().map(|(n, _)| *n > max_u);
    let scaled = match (scaled_by_inst, scaled_by_users) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    };
    let mut scale_ev: Vec<Evidence> = Vec::new();
    let mut scale_desc = Vec::new();
    if let Some((n, basis, evs)) = &inst {
        scale_desc.push(format!("{n} instance(s) ({basis})"));
        scale_ev.extend(evs.iter().cloned());
    }
    if let Some((n, ev)) = &usr {
        scale_desc.push(format!("{n} active users"));
        scale_ev.push(ev.clone());
    }
    let scale_desc = if scale_desc.is_empty() {
        "scale unknown".to_string()
    } else {
        scale_desc.join(", ")
    };

    // Orchestration of every Rocket.Chat container.
    let mut managed: Vec<Finding> = Vec::new();
    let mut docker_missing = Vec::new();
    let mut pod_seen = std::collections::BTreeSet::new();
    for (n, c) in rc_pod_servers(input) {
        let owner = n
            .kube
            .workloads_of("deployments", &[(c.pod_index, c.pod)])
            .first()
            .map(|(_, d)| format!("Deployment {}", ns_name(&d.namespace, &d.name)))
            .unwrap_or_else(|| format!("pod {}", ns_name(&c.pod.namespace, &c.pod.name)));
        if !pod_seen.insert((n.label.clone(), owner.clone())) {
            continue;
        }
        managed.push(match orchestrator_of_pod(n, &c, policy) {
            Some((o, sign, ev)) => Finding::new(
                status_outcome(o.status),
                format!("{owner} is managed by {} ({sign})", o.name),
                vec![ev],
            ),
            None => Finding::new(
                Outcome::Fail,
                format!("{owner} shows no supported orchestrator"),
                vec![Evidence::file(n, "kubernetes/pods.json").at(c.pointer(""))],
            ),
        });
    }
    for n in input.nodes {
        let Some(cs) = rc_containers(input, n) else {
            if !in_cluster(input, n) {
                docker_missing.push(n.why_missing("docker/containers.json", "docker"));
            }
            continue;
        };
        for c in cs {
            let ev = Evidence::file(n, c.file)
                .at(c.pointer("labels"))
                .val(&c.name);
            managed.push(match orchestrator_of(&c, policy) {
                Some(o) => Finding::new(
                    status_outcome(o.status),
                    format!("{} is managed by {}", c.name, o.name),
                    vec![ev.val(format!("{}: {}", c.name, o.id))],
                ),
                None => Finding::new(
                    Outcome::Fail,
                    format!(
                        "{} on {} is a plain container with no orchestrator labels",
                        c.name,
                        n.hostname()
                    ),
                    vec![ev],
                ),
            });
        }
        for (idx, p) in processes_of(n, "rocketchat") {
            if p.in_container == Some(false) {
                managed.push(Finding::new(
                    Outcome::Fail,
                    format!(
                        "a Rocket.Chat process runs on {} outside any orchestrator",
                        n.hostname()
                    ),
                    vec![Evidence::file(n, "host/host.json").at(super::process_pointer(idx, ""))],
                ));
            }
        }
    }
    if managed.is_empty() {
        // No container seen (e.g. Kubernetes with containerd): the reported platform.
        for n in input.nodes {
            if let Some((p, ev)) = platform_of(n) {
                let o = policy
                    .orchestrators
                    .iter()
                    .find(|o| o.platforms.iter().any(|x| x == p));
                managed.push(match o {
                    Some(o) => Finding::new(
                        status_outcome(o.status),
                        format!("deploy.platform {p}: managed by {}", o.name),
                        vec![ev],
                    ),
                    None => Finding::new(
                        Outcome::Fail,
                        format!("deploy.platform is {p}: not a supported orchestrator"),
                        vec![ev],
                    ),
                });
                break;
            }
        }
    }
    let orch_outcome = managed
        .iter()
        .map(|f| f.outcome)
        .max_by_key(|o| o.severity());

    match scaled {
        Some(false) => {
            let how = match orch_outcome {
                Some(Outcome::Pass) => format!(" ({})", managed[0].message),
                _ => String::new(),
            };
            result(
                input,
                ID,
                Outcome::Pass,
                format!(
                    "not a scaled installation ({scale_desc}; thresholds: more than {max_i} instance or {max_u} users): orchestration is not required{how}"
                ),
                scale_ev,
            )
        }
        Some(true) => {
            if managed.is_empty() {
                let why = if docker_missing.is_empty() {
                    "no Rocket.Chat container found".to_string()
                } else {
                    docker_missing.join("; ")
                };
                return result(
                    input,
                    ID,
                    Outcome::Unknown,
                    format!(
                        "scaled installation ({scale_desc}) but its orchestration is unknown: {why}; rerun rcdiag-agent collect with access to the Docker socket"
                    ),
                    scale_ev,
                );
            }
            let mut findings: Vec<Finding> = managed
                .into_iter()
                .map(|mut f| {
                    f.message = match f.outcome {
                        Outcome::Pass => format!("scaled installation ({scale_desc}) is orchestrated: {}", f.message),
                        Outcome::Warn => format!("scaled installation ({scale_desc}): {} (Kubernetes is supported with Helm; no Helm label, DEPLOY_PLATFORM=helm-chart or statistics platform found)", f.message),
                        _ => format!("scaled installation ({scale_desc}) must be orchestrated by Rancher, OpenShift, Kubernetes+Helm or docker-compose: {}", f.message),
                    };
                    f
                })
                .collect();
            for m in docker_missing {
                findings.push(Finding::new(Outcome::Unknown, m, Vec::new()));
            }
            if let Some(first) = findings.first_mut() {
                first.evidence.extend(scale_ev);
            }
            conclude(input, ID, findings, "")
        }
        None => {
            let missing = match (&inst, &usr) {
                (None, None) => "neither the instance count nor the user count was collected",
                (None, _) => "the instance count was not collected",
                _ => "the active user count was not collected",
            };
            if orch_outcome == Some(Outcome::Pass) && docker_missing.is_empty() {
                let mut ev = scale_ev;
                ev.extend(managed.iter().flat_map(|f| f.evidence.clone()));
                return result(
                    input,
                    ID,
                    Outcome::Pass,
                    format!(
                        "{} (scale unknown: {missing}; a supported orchestrator is used either way)",
                        managed[0].message
                    ),
                    ev,
                );
            }
            let gap: Vec<String> = input
                .nodes
                .iter()
                .map(|n| n.why_missing("rocketchat/summary.json", "rocketchat"))
                .collect();
            result(
                input,
                ID,
                Outcome::Unknown,
                format!(
                    "cannot tell whether the installation is scaled: {missing} ({})",
                    gap.join("; ")
                ),
                scale_ev,
            )
        }
    }
}

fn status_outcome(s: OrchestratorStatus) -> Outcome {
    match s {
        OrchestratorStatus::Supported => Outcome::Pass,
        OrchestratorStatus::Unconfirmed => Outcome::Warn,
        OrchestratorStatus::Unsupported => Outcome::Fail,
    }
}
