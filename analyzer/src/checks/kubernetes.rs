//! `kubernetes.*`: the rules a Kubernetes installation of Rocket.Chat is held to, read
//! from the cluster view of the `kubernetes` collector (`kubernetes/*.json`): resource
//! requests and limits, a PodDisruptionBudget once scaled, ready replicas, MongoDB as a
//! replica set on persistent volumes, and recent Warning events. The rules are data
//! (policy `[kubernetes]`, with sources); evidence names the objects (`namespace/name`).
//!
//! A bundle set without any cluster view is judged by what it shows instead: Rocket.Chat
//! in Docker containers (or on the host) means the checks do not apply (a result
//! marked not applicable, see `CheckResult::not_applicable`), nothing at all is `unknown`.
//! Several bundles of one cluster (the same API server and nodes) are read once, from
//! the first of them.

use rcdiag_contract::kubernetes as k;

use super::{Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude};
use crate::model::{NodeData, RC_ROLES, ns_name, selects};

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::KubernetesResources,
        title: "Rocket.Chat pods have resource requests and limits",
        area: "kubernetes",
        description: "Every container of the Rocket.Chat pods (server and microservices) requests and is limited in the resources of the policy (CPU, memory).",
        run: resources,
    },
    Check {
        id: CheckId::KubernetesPdb,
        title: "A PodDisruptionBudget covers scaled Rocket.Chat",
        area: "kubernetes",
        description: "A Rocket.Chat Deployment with more than one replica is covered by a PodDisruptionBudget in its namespace.",
        run: pdb,
    },
    Check {
        id: CheckId::KubernetesReplicasReady,
        title: "Rocket.Chat Deployments have all their replicas ready",
        area: "kubernetes",
        description: "The ready replicas of each Rocket.Chat Deployment equal its desired count.",
        run: replicas_ready,
    },
    Check {
        id: CheckId::KubernetesMongodb,
        title: "MongoDB runs as a replica set on persistent volumes",
        area: "kubernetes",
        description: "MongoDB in the cluster runs in a StatefulSet of at least the policy's members, each on a persistent volume claim (not a Deployment, not emptyDir).",
        run: mongodb,
    },
    Check {
        id: CheckId::KubernetesWarningEvents,
        title: "No recent Warning events of concern",
        area: "kubernetes",
        description: "Lists the Warning events of the collection window the policy names: image pull errors, FailedScheduling, evictions, back-offs, OOM kills, volume failures.",
        run: warning_events,
    },
];

const PODS: &str = "kubernetes/pods.json";
const WORKLOADS: &str = "kubernetes/workloads.json";

/// The bundles holding a cluster view, one per cluster.
fn clusters<'a>(input: &'a CheckInput) -> Vec<&'a NodeData> {
    crate::model::cluster_bundles(input.nodes)
}

/// The result when no bundle has a cluster view: Rocket.Chat in Docker containers
/// (or on the host) is not a Kubernetes installation, so the check does not apply
/// (marked so, see [`CheckResult::not_applicable`]); nothing at all is unknown.
fn no_cluster(input: &CheckInput, id: CheckId) -> CheckResult {
    let mut seen = Vec::new();
    for node in input.nodes {
        if let Some(cs) = super::rc_containers(input, node)
            && let Some(c) = cs.first()
        {
            seen.push(
                Evidence::file(node, c.file)
                    .at(c.pointer("name"))
                    .val(&c.name),
            );
        } else if let Some((i, _)) = super::processes_of(node, "rocketchat").first() {
            seen.push(
                Evidence::file(node, "host/host.json")
                    .at(super::process_pointer(*i, ""))
                    .val("Rocket.Chat process on the host"),
            );
        }
    }
    if !seen.is_empty() {
        return super::not_applicable(
            input,
            id,
            "does not apply: not a Kubernetes installation (Rocket.Chat runs in Docker containers or on the host, and no bundle has a cluster view)".into(),
            seen,
        );
    }
    let why = input
        .nodes
        .iter()
        .map(|n| n.why_missing("kubernetes/cluster.json", "kubernetes"))
        .next()
        .unwrap_or_else(|| "no bundle to check".into());
    super::result(
        input,
        id,
        Outcome::Unknown,
        format!(
            "{why}; on a Kubernetes cluster run rcdiag-agent collect --kubeconfig FILE (or in a pod with the read-only ClusterRole)"
        ),
        Vec::new(),
    )
}

/// Rocket.Chat pods of a bundle, or the finding saying why there are none.
fn rc_pods(node: &NodeData) -> Result<Vec<(usize, &k::Pod)>, Finding> {
    if node.kube.pods.is_none() {
        return Err(Finding::new(
            Outcome::Unknown,
            node.why_missing(PODS, "kubernetes"),
            Vec::new(),
        ));
    }
    let pods = node.kube.pods_of(RC_ROLES);
    if pods.is_empty() {
        return Err(Finding::new(
            Outcome::Unknown,
            format!(
                "no Rocket.Chat pod in the namespaces read ({}): pass rcdiag-agent collect --namespace NS of the Rocket.Chat release",
                namespaces(node)
            ),
            vec![Evidence::file(node, "kubernetes/cluster.json").at("/namespaces")],
        ));
    }
    Ok(pods)
}

fn namespaces(node: &NodeData) -> String {
    let ns: Vec<String> = node
        .kube
        .cluster
        .iter()
        .flat_map(|c| c.namespaces.iter().filter_map(|n| n.name.clone()))
        .collect();
    if ns.is_empty() {
        "none".into()
    } else {
        super::list(&ns, 6)
    }
}

/// The Rocket.Chat server Deployments (those selecting a pod of role `rocketchat`).
fn rc_deployments<'a>(
    node: &'a NodeData,
    pods: &[(usize, &'a k::Pod)],
) -> Vec<(usize, &'a k::Workload)> {
    let server: Vec<(usize, &k::Pod)> = pods
        .iter()
        .filter(|(_, p)| p.role.as_deref() == Some("rocketchat"))
        .copied()
        .collect();
    node.kube.workloads_of("deployments", &server)
}

/// Runs `kubernetes.resources`.
pub(crate) fn resources(input: &CheckInput) -> CheckResult {
    let id = CheckId::KubernetesResources;
    let nodes = clusters(input);
    if nodes.is_empty() {
        return no_cluster(input, id);
    }
    let need = &input.policy.kubernetes.required_resources;
    let mut findings = Vec::new();
    let mut seen = 0usize;
    for node in nodes {
        let pods = match rc_pods(node) {
            Ok(p) => p,
            Err(f) => {
                findings.push(f);
                continue;
            }
        };
        for (i, pod) in pods {
            let who = ns_name(&pod.namespace, &pod.name);
            for (j, c) in pod.containers.iter().enumerate() {
                if c.init == Some(true) {
                    continue;
                }
                seen += 1;
                let cname = c.name.as_deref().unwrap_or("?");
                for (what, map, outcome) in [
                    ("requests", &c.requests, Outcome::Fail),
                    ("limits", &c.limits, Outcome::Warn),
                ] {
                    let missing: Vec<String> = need
                        .iter()
                        .filter(|r| map.as_ref().is_none_or(|m| !m.contains_key(*r)))
                        .cloned()
                        .collect();
                    if !missing.is_empty() {
                        findings.push(Finding::new(
                            outcome,
                            format!(
                                "container {cname} of pod {who} has no {what} for {}",
                                missing.join(", ")
                            ),
                            vec![
                                Evidence::file(node, PODS)
                                    .at(format!("/pods/{i}/containers/{j}/{what}"))
                                    .val(format!("{:?}", map.clone().unwrap_or_default())),
                            ],
                        ));
                    }
                }
            }
        }
    }
    if seen > 0 && findings.iter().all(|f| f.outcome == Outcome::Unknown) {
        findings.push(Finding::new(
            Outcome::Pass,
            format!(
                "all {seen} Rocket.Chat containers request and are limited in {}",
                need.join(" and ")
            ),
            Vec::new(),
        ));
    }
    conclude(input, id, findings, "no Rocket.Chat container found")
}

/// Runs `kubernetes.pdb`.
pub(crate) fn pdb(input: &CheckInput) -> CheckResult {
    let id = CheckId::KubernetesPdb;
    let nodes = clusters(input);
    if nodes.is_empty() {
        return no_cluster(input, id);
    }
    let from = input.policy.kubernetes.pdb_from_replicas;
    let mut findings = Vec::new();
    for node in nodes {
        let pods = match rc_pods(node) {
            Ok(p) => p,
            Err(f) => {
                findings.push(f);
                continue;
            }
        };
        let deps = rc_deployments(node, &pods);
        if deps.is_empty() {
            findings.push(Finding::new(
                Outcome::Unknown,
                format!(
                    "no Deployment selects the Rocket.Chat pods in {}",
                    node.label
                ),
                vec![Evidence::file(node, WORKLOADS).at("/deployments")],
            ));
            continue;
        }
        let pdbs = node
            .kube
            .workloads
            .as_ref()
            .map(|w| w.pdbs.as_slice())
            .unwrap_or_default();
        for (i, d) in deps {
            let who = ns_name(&d.namespace, &d.name);
            let replicas = d.replicas.unwrap_or(1);
            let ev = Evidence::file(node, WORKLOADS)
                .at(format!("/deployments/{i}/replicas"))
                .val(replicas);
            if replicas < from {
                findings.push(Finding::new(
                    Outcome::Pass,
                    format!(
                        "Deployment {who} has {replicas} replica: no PodDisruptionBudget needed"
                    ),
                    vec![ev],
                ));
                continue;
            }
            let dpods: Vec<&k::Pod> = pods
                .iter()
                .map(|(_, p)| *p)
                .filter(|p| p.namespace == d.namespace && selects(d.selector.as_ref(), p))
                .collect();
            let cover = pdbs.iter().enumerate().find(|(_, b)| {
                b.namespace == d.namespace && dpods.iter().any(|p| selects(b.selector.as_ref(), p))
            });
            match cover {
                Some((j, b)) => findings.push(Finding::new(
                    Outcome::Pass,
                    format!(
                        "Deployment {who} ({replicas} replicas) is covered by PodDisruptionBudget {}",
                        ns_name(&b.namespace, &b.name)
                    ),
                    vec![
                        ev,
                        Evidence::file(node, WORKLOADS)
                            .at(format!("/pdbs/{j}/name"))
                            .val(b.name.clone().unwrap_or_default()),
                    ],
                )),
                None => findings.push(Finding::new(
                    Outcome::Warn,
                    format!(
                        "Deployment {who} has {replicas} replicas and no PodDisruptionBudget selects its pods: a node drain may stop them all (the chart's podDisruptionBudget)"
                    ),
                    vec![ev, Evidence::file(node, WORKLOADS).at("/pdbs").val(pdbs.len())],
                )),
            }
        }
    }
    conclude(input, id, findings, "no Rocket.Chat Deployment found")
}

/// Runs `kubernetes.replicas-ready`.
pub(crate) fn replicas_ready(input: &CheckInput) -> CheckResult {
    let id = CheckId::KubernetesReplicasReady;
    let nodes = clusters(input);
    if nodes.is_empty() {
        return no_cluster(input, id);
    }
    let mut findings = Vec::new();
    for node in nodes {
        let pods = match rc_pods(node) {
            Ok(p) => p,
            Err(f) => {
                findings.push(f);
                continue;
            }
        };
        let deps = node.kube.workloads_of("deployments", &pods);
        let (mut ok, mut ok_ev) = (Vec::new(), Vec::new());
        if deps.is_empty() {
            findings.push(Finding::new(
                Outcome::Unknown,
                format!(
                    "no Deployment selects the Rocket.Chat pods in {}",
                    node.label
                ),
                vec![Evidence::file(node, WORKLOADS).at("/deployments")],
            ));
        }
        for (i, d) in deps {
            let who = ns_name(&d.namespace, &d.name);
            let want = d.replicas.unwrap_or(1);
            let ev = |f: &str, v: i64| {
                Evidence::file(node, WORKLOADS)
                    .at(format!("/deployments/{i}/{f}"))
                    .val(v)
            };
            if d.replicas.is_none() && d.ready_replicas.is_none() {
                findings.push(Finding::new(
                    Outcome::Unknown,
                    format!("Deployment {who}: its replica counts were not recorded"),
                    vec![Evidence::file(node, WORKLOADS).at(format!("/deployments/{i}"))],
                ));
                continue;
            }
            // The API leaves readyReplicas out when none is ready.
            let ready = d.ready_replicas.unwrap_or(0);
            let evs = vec![ev("replicas", want), ev("ready_replicas", ready)];
            let (outcome, msg) = if ready >= want {
                ok.push(format!("{who} {ready}/{want}"));
                ok_ev.extend(evs);
                continue;
            } else if ready == 0 && want > 0 {
                (
                    Outcome::Fail,
                    format!("Deployment {who}: none of its {want} replicas is ready"),
                )
            } else {
                (
                    Outcome::Warn,
                    format!("Deployment {who}: only {ready} of {want} replicas ready"),
                )
            };
            findings.push(Finding::new(outcome, msg, evs));
        }
        if !ok.is_empty() {
            // The server's Deployment first, then its microservices.
            ok.sort_by_key(|s| !s.contains("-rocketchat "));
            findings.push(Finding::new(
                Outcome::Pass,
                format!(
                    "{} Rocket.Chat Deployment(s) have every replica ready: {}",
                    ok.len(),
                    super::list(&ok, 6)
                ),
                ok_ev,
            ));
        }
    }
    conclude(input, id, findings, "no Rocket.Chat Deployment found")
}

/// Runs `kubernetes.mongodb`.
pub(crate) fn mongodb(input: &CheckInput) -> CheckResult {
    let id = CheckId::KubernetesMongodb;
    let nodes = clusters(input);
    if nodes.is_empty() {
        return no_cluster(input, id);
    }
    let min = input.policy.kubernetes.mongodb_min_members;
    let mut findings = Vec::new();
    for node in nodes {
        if node.kube.pods.is_none() {
            findings.push(Finding::new(
                Outcome::Unknown,
                node.why_missing(PODS, "kubernetes"),
                Vec::new(),
            ));
            continue;
        }
        let pods = node.kube.pods_of(&["mongodb"]);
        if pods.is_empty() {
            findings.push(Finding::new(
                Outcome::Unknown,
                format!(
                    "no MongoDB pod in the namespaces read ({}): MongoDB may run outside the cluster (see mongodb.replica-set), else pass --namespace of MongoDB",
                    namespaces(node)
                ),
                Vec::new(),
            ));
            continue;
        }
        for (i, d) in node.kube.workloads_of("deployments", &pods) {
            findings.push(Finding::new(
                Outcome::Fail,
                format!(
                    "MongoDB runs in Deployment {} ({} replica): a standalone server, not a replica set in a StatefulSet",
                    ns_name(&d.namespace, &d.name),
                    d.replicas.unwrap_or(1)
                ),
                vec![Evidence::file(node, WORKLOADS).at(format!("/deployments/{i}/name")).val(d.name.clone().unwrap_or_default())],
            ));
        }
        let pvcs = node
            .kube
            .storage
            .as_ref()
            .map(|s| s.pvcs.as_slice())
            .unwrap_or_default();
        for (i, s) in node.kube.workloads_of("statefulsets", &pods) {
            let who = ns_name(&s.namespace, &s.name);
            let n = s.replicas.unwrap_or(1);
            let ev = Evidence::file(node, WORKLOADS)
                .at(format!("/statefulsets/{i}/replicas"))
                .val(n);
            if n < min {
                findings.push(Finding::new(
                    Outcome::Warn,
                    format!("StatefulSet {who} runs {n} MongoDB member(s): a replica set needs {min} to survive the loss of one"),
                    vec![ev],
                ));
            } else {
                findings.push(Finding::new(
                    Outcome::Pass,
                    format!("StatefulSet {who} runs a {n}-member MongoDB replica set on persistent volumes"),
                    vec![ev],
                ));
            }
            if s.volume_claim_templates.is_empty() {
                findings.push(Finding::new(
                    Outcome::Fail,
                    format!("StatefulSet {who} has no volume claim template: MongoDB's data is lost with its pods"),
                    vec![Evidence::file(node, WORKLOADS).at(format!("/statefulsets/{i}/volume_claim_templates"))],
                ));
            } else {
                let ns = s.namespace.as_deref();
                let claims: Vec<String> = s
                    .volume_claim_templates
                    .iter()
                    .filter_map(|t| t.name.clone())
                    .collect();
                let unbound: Vec<String> = pvcs
                    .iter()
                    .filter(|p| p.namespace.as_deref() == ns)
                    .filter(|p| {
                        let name = p.name.as_deref().unwrap_or("");
                        claims.iter().any(|c| {
                            name.starts_with(&format!("{c}-{}-", s.name.as_deref().unwrap_or("")))
                        })
                    })
                    .filter(|p| p.phase.as_deref() != Some("Bound"))
                    .map(|p| {
                        format!(
                            "{} ({})",
                            p.name.as_deref().unwrap_or("?"),
                            p.phase.as_deref().unwrap_or("no phase")
                        )
                    })
                    .collect();
                if !unbound.is_empty() {
                    findings.push(Finding::new(
                        Outcome::Fail,
                        format!(
                            "MongoDB volume claims of {who} not bound: {}",
                            super::list(&unbound, 4)
                        ),
                        vec![Evidence::file(node, "kubernetes/storage.json").at("/pvcs")],
                    ));
                }
            }
        }
        if findings.is_empty() {
            findings.push(Finding::new(
                Outcome::Unknown,
                "no Deployment or StatefulSet selects the MongoDB pods".to_string(),
                vec![Evidence::file(node, WORKLOADS)],
            ));
        }
    }
    conclude(input, id, findings, "no MongoDB found in the cluster")
}

/// Runs `kubernetes.warning-events`.
pub(crate) fn warning_events(input: &CheckInput) -> CheckResult {
    let id = CheckId::KubernetesWarningEvents;
    let nodes = clusters(input);
    if nodes.is_empty() {
        return no_cluster(input, id);
    }
    let rules = &input.policy.kubernetes.warning_events;
    let mut findings = Vec::new();
    for node in nodes {
        let Some(ev) = &node.kube.events else {
            findings.push(Finding::new(
                Outcome::Unknown,
                node.why_missing("kubernetes/events.json", "kubernetes"),
                Vec::new(),
            ));
            continue;
        };
        let window = ev
            .since_seconds
            .map(|s| format!("the last {}", human(s)))
            .unwrap_or_else(|| "the window read".into());
        let mut hits = 0usize;
        for (i, e) in ev.events.iter().enumerate() {
            let reason = e.reason.as_deref().unwrap_or("");
            let msg = e.message.as_deref().unwrap_or("");
            let Some(rule) = rules.iter().find(|r| {
                r.reason == reason
                    && r.message_contains
                        .as_deref()
                        .is_none_or(|m| msg.to_ascii_lowercase().contains(&m.to_ascii_lowercase()))
            }) else {
                continue;
            };
            hits += 1;
            let outcome = if rule.outcome == "fail" {
                Outcome::Fail
            } else {
                Outcome::Warn
            };
            let count = e.count.map(|c| format!(" ×{c}")).unwrap_or_default();
            findings.push(Finding::new(
                outcome,
                format!("{}: {reason} on {}{count}", rule.what, object(e)),
                vec![
                    Evidence::file(node, "kubernetes/events.json")
                        .at(format!("/events/{i}/message"))
                        .val(crate::text::cut(msg, 200)),
                ],
            ));
        }
        if hits == 0 {
            findings.push(Finding::new(
                Outcome::Pass,
                format!(
                    "no Warning event of concern in {window} ({} Warning events read)",
                    ev.events.len()
                ),
                vec![
                    Evidence::file(node, "kubernetes/events.json")
                        .at("/events")
                        .val(ev.events.len()),
                ],
            ));
        }
    }
    conclude(input, id, findings, "no event list found")
}

fn human(secs: u64) -> String {
    if secs.is_multiple_of(86400) {
        format!("{} d", secs / 86400)
    } else if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else {
        format!("{secs} s")
    }
}

/// `Pod ns/name` of an event's object (`"Pod/x"` in namespace `ns`).
fn object(e: &k::Event) -> String {
    let obj = e.object.as_deref().unwrap_or("?");
    let ns = e.namespace.as_deref().unwrap_or("?");
    match obj.split_once('/') {
        Some((kind, name)) => format!("{kind} {ns}/{name}"),
        None => format!("{ns}/{obj}"),
    }
}
