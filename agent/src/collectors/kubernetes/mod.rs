//! The kubernetes collector: what the Kubernetes API says about the cluster Rocket.Chat
//! runs in.
//!
//! It connects with [`crate::clients::kube`] (`Options::kubeconfig` and `kube_context`,
//! else `KUBECONFIG` / `~/.kube/config`, else the in-cluster service account) and is
//! skipped at once, with the reason, when none of them exists. It reads `/version`,
//! `/apis`, nodes and namespaces, chooses the namespaces (`Options::kube_namespaces`, or
//! those holding Rocket.Chat, MongoDB, Prometheus or Grafana pods: [`pods::role`]), and
//! in them pods, Deployments, StatefulSets, DaemonSets, the ReplicaSets owning the pods,
//! HPAs, PDBs, Services, Ingresses, PVCs and Warning events, plus OpenShift Routes and
//! ClusterVersion and Prometheus Operator monitors where those API groups exist, and the
//! logs of the Rocket.Chat and MongoDB containers ([`crate::collectors::logs::kube`]).
//! It never reads ConfigMaps, nor Secrets unless `--kube-helm-release` asks for a Helm
//! release ([`helm`]: only that release's Secrets, by Helm's labels).
//!
//! Every call is recorded in `kubernetes/calls.json` ([`calls`]); a 404 is an absent
//! resource, a 403 makes the collector `partial` with the client's message (which names
//! what to grant), never `failed`. Summaries, not raw objects, are written: one file per
//! concern (`cluster`, `nodes`, `workloads`, `pods`, `network`, `storage`, `events`,
//! `monitoring`), each the contract's type ([`rcdiag_contract::kubernetes`]), built from
//! the API's objects by the functions of this folder; fields in `docs/collector-outputs.md`.

pub mod calls;
pub mod cluster;
pub mod events;
pub mod helm;
pub mod monitoring;
pub mod network;
pub mod nodes;
pub mod pods;
pub mod storage;
pub mod workloads;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use rcdiag_contract::kubernetes::{
    Call, CallsFile, ChosenNamespace, ClusterFile, MongoHint, MonitoringFile, NetworkFile,
    NodesFile, Pod as PodSummary, PodsFile, ServerVersion, StorageFile, WorkloadsFile,
};
use serde::Serialize;

use self::calls::Calls;
use self::cluster::Evidence;
use self::pods::Role;
use super::{CollectorSink, Context, Outcome};
use crate::clients::kube::{Kube, KubeError, KubeOptions};

/// The skip reason when there is no cluster to try.
pub const NO_CLUSTER: &str = "no Kubernetes cluster: no kubeconfig given, no KUBECONFIG or ~/.kube/config, and not in a pod (KUBERNETES_SERVICE_HOST unset)";

/// This collector, for [`super::ALL`].
pub const DESCRIPTOR: super::Collector = super::Collector {
    name: "kubernetes",
    reads: "the Kubernetes API: /version, API groups, nodes, namespaces; in the Rocket.Chat, MongoDB and monitoring namespaces pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, HPAs, PDBs, Services, Ingresses, PVCs, Warning events; OpenShift Routes and ClusterVersion, Prometheus Operator ServiceMonitors/PodMonitors where served; the logs of the Rocket.Chat and MongoDB containers (and of the previous container after a restart), capped by --since, --log-lines and --log-bytes; with --kube-helm-release, that release's Helm Secrets (never other Secrets, never ConfigMaps)",
    permissions: "get/list on those resources and get on pods/log (the read-only ClusterRole in packaging/kubernetes/), through a kubeconfig or the pod's service account; with --kube-helm-release, list on secrets in the release's namespace (packaging/kubernetes/helm-release-role.yaml)",
    files: "kubernetes/cluster.json, nodes.json, workloads.json, pods.json, network.json, storage.json, events.json, monitoring.json, calls.json, helm.json (with --kube-helm-release); logs/k8s_<ns>_<pod>_<container>[.previous].log and their logs/index.json entries",
    collect: collect_boxed,
    isolated: false,
};

fn collect_boxed<'a>(
    ctx: &'a Context,
    out: &'a CollectorSink,
) -> futures_util::future::BoxFuture<'a, Outcome> {
    Box::pin(collect(ctx, out))
}

/// Where a cluster may be found, without reading it: `--kubeconfig`, the in-cluster
/// environment, a `KUBECONFIG` file, or `~/.kube/config`. `None`: skip.
pub fn cluster_hint(
    kubeconfig: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if let Some(p) = kubeconfig {
        return Some(format!("kubeconfig {}", p.display()));
    }
    if env("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty()) {
        return Some("in-cluster (KUBERNETES_SERVICE_HOST)".into());
    }
    if let Some(list) = env("KUBECONFIG")
        && std::env::split_paths(&list).any(|p| !p.as_os_str().is_empty() && p.is_file())
    {
        return Some(format!("KUBECONFIG {list}"));
    }
    let home = env("HOME").map(PathBuf::from)?;
    let default = home.join(".kube/config");
    default
        .is_file()
        .then(|| format!("kubeconfig {}", default.display()))
}

/// Collects Kubernetes data into the bundle. See the module documentation.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let o = &ctx.options;
    let started = tokio::time::Instant::now();
    if cluster_hint(o.kubeconfig.as_deref(), |k| std::env::var(k).ok()).is_none() {
        return Outcome::skipped(NO_CLUSTER);
    }
    let kube = match Kube::connect(KubeOptions {
        kubeconfig: o.kubeconfig.clone(),
        context: o.kube_context.clone(),
        // One call may take a third of the collector's time (at most 30 s); no call
        // starts after 60 % of it: the collector returns before the run's hard limit.
        timeout: (o.timeout / 3).clamp(Duration::from_secs(1), Duration::from_secs(30)),
        ..KubeOptions::default()
    })
    .await
    {
        Ok(k) => k,
        Err(e @ KubeError::NoCluster(_)) => return Outcome::skipped(e.to_string()),
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let mut calls = Calls::new(kube.clone(), o.timeout.mul_f32(0.6));
    let red = out.redactor();
    let mut write_errors = Vec::new();

    // Cluster-wide: version, groups, nodes, namespaces.
    let k = kube.clone();
    let version = calls
        .get("/version", async move { k.version().await })
        .await;
    if let Err(e) = &version {
        // Nothing answers, or the credentials are refused: nothing else will work.
        if !matches!(e, KubeError::Forbidden { .. } | KubeError::NotFound { .. }) {
            let msg = e.to_string();
            write_calls(out, &kube, &calls.calls, &mut write_errors).await;
            return Outcome::failed(msg);
        }
    }
    let k = kube.clone();
    let groups: Vec<(String, Vec<String>, String)> = calls
        .get("/apis", async move { k.api_groups().await })
        .await
        .map(|l| {
            l.groups
                .into_iter()
                .map(|g| {
                    let preferred = g
                        .preferred_version
                        .map(|v| v.version)
                        .or_else(|| g.versions.first().map(|v| v.version.clone()))
                        .unwrap_or_default();
                    (
                        g.name,
                        g.versions.into_iter().map(|v| v.version).collect(),
                        preferred,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let group_names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let serves = |group: &str, version: &str| {
        groups
            .iter()
            .any(|g| g.0 == group && g.1.iter().any(|v| v == version))
    };
    let node_objs: Vec<Node> = calls.list::<Node>(None, "").await.unwrap_or_default();
    let namespaces: Option<Vec<String>> = calls
        .list::<Namespace>(None, "")
        .await
        .map(|l| l.into_iter().filter_map(|n| n.metadata.name).collect());

    // The namespaces to read, and their pods: summarised page by page, so that only one
    // page of whole Pod objects is held (the summaries of every pod are written).
    let mut reasons: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut hint: Option<(bool, MongoHint)> = None;
    let mut owners: BTreeSet<String> = BTreeSet::new();
    let mut summarise = |p: Pod| {
        pods::keep_better_hint(&mut hint, &p, red);
        owners.extend(
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .filter(|o| o.kind == "ReplicaSet")
                .map(|o| o.name.clone()),
        );
        Some(pods::summarize(&p, red))
    };
    let mut pod_summaries: Vec<PodSummary> = Vec::new();
    if !o.kube_namespaces.is_empty() {
        for n in &o.kube_namespaces {
            reasons.entry(n.clone()).or_default().insert("given".into());
        }
        let chosen: Vec<String> = reasons.keys().cloned().collect();
        for ns in &chosen {
            calls
                .pages::<Pod, _>(Some(ns), "", &mut pod_summaries, &mut summarise)
                .await;
        }
    } else {
        // Every namespace's pods (cluster-wide if allowed), to find the ones that matter.
        match &namespaces {
            Some(every) if !every.is_empty() => {
                calls
                    .pages_in::<Pod, _>(every, "", &mut pod_summaries, &mut summarise)
                    .await
            }
            // Namespaces not listed (or a recording without them): every pod at once.
            _ => {
                calls
                    .pages::<Pod, _>(None, "", &mut pod_summaries, &mut summarise)
                    .await;
            }
        }
        for p in &pod_summaries {
            if let Some(why) = p.role.as_deref().filter(|r| *r != Role::Other.name()) {
                reasons
                    .entry(p.namespace.clone().unwrap_or_default())
                    .or_default()
                    .insert(why.to_string());
            }
        }
        pod_summaries.retain(|p| reasons.contains_key(p.namespace.as_deref().unwrap_or("")));
    }
    let chosen: Vec<String> = reasons.keys().cloned().collect();

    // Workloads.
    let deployments = calls.list_in::<Deployment>(&chosen, "").await;
    let statefulsets = calls.list_in::<StatefulSet>(&chosen, "").await;
    let daemonsets = calls.list_in::<DaemonSet>(&chosen, "").await;
    let replicasets: Vec<ReplicaSet> = calls
        .list_in::<ReplicaSet>(&chosen, "")
        .await
        .into_iter()
        .filter(|r| r.metadata.name.as_ref().is_some_and(|n| owners.contains(n)))
        .collect();
    let hpas = calls.list_in::<HorizontalPodAutoscaler>(&chosen, "").await;
    let pdbs = calls.list_in::<PodDisruptionBudget>(&chosen, "").await;
    let services = calls.list_in::<Service>(&chosen, "").await;
    let ingresses = calls.list_in::<Ingress>(&chosen, "").await;
    let pvcs = calls.list_in::<PersistentVolumeClaim>(&chosen, "").await;
    let event_objs = calls.list_in::<Event>(&chosen, events::WARNING_QUERY).await;

    // API groups that may be absent.
    let routes = if serves("route.openshift.io", "v1") {
        Some(
            calls
                .list_json("route.openshift.io", "v1", "routes", Some(&chosen))
                .await,
        )
    } else {
        None
    };
    let operator = serves("monitoring.coreos.com", "v1");
    let (servicemonitors, podmonitors) = if operator {
        (
            calls
                .list_json(
                    "monitoring.coreos.com",
                    "v1",
                    "servicemonitors",
                    Some(&chosen),
                )
                .await,
            calls
                .list_json("monitoring.coreos.com", "v1", "podmonitors", Some(&chosen))
                .await,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let cluster_version = if serves("config.openshift.io", "v1") {
        calls
            .list_json("config.openshift.io", "v1", "clusterversions", None)
            .await
            .into_iter()
            .next()
    } else {
        None
    };
    let cattle_agent = match &namespaces {
        Some(ns) if ns.iter().any(|n| n == "cattle-system") => calls
            .list::<Deployment>(
                Some("cattle-system"),
                "fieldSelector=metadata.name%3Dcattle-cluster-agent",
            )
            .await
            .map(|d| !d.is_empty()),
        _ => None,
    };

    // Summaries (the pods' env registered the secrets found in pod specs).
    let mongodb_hint = hint.map(|(_, h)| h);
    let git_version = version.as_ref().ok().map(|v| v.git_version.clone());
    let signs = cluster::signs(&Evidence {
        git_version: git_version.as_deref(),
        groups: &group_names,
        nodes: &node_objs,
        namespaces: namespaces.as_deref(),
        cattle_cluster_agent: cattle_agent,
        cluster_version: cluster_version.as_ref(),
    });
    let summary = ClusterFile {
        source: Some(kube.source.clone()),
        server: Some(kube.server.clone()),
        version: version.as_ref().ok().map(|v| ServerVersion {
            git_version: Some(v.git_version.clone()),
            major: Some(v.major.clone()),
            minor: Some(v.minor.clone()),
            platform: Some(v.platform.clone()),
            extra: Default::default(),
        }),
        api_groups: groups.iter().map(|g| format!("{}/{}", g.0, g.2)).collect(),
        distribution: signs,
        node_count: Some(node_objs.len() as u64),
        namespace_count: namespaces.as_ref().map(|n| n.len() as u64),
        namespaces: reasons
            .iter()
            .map(|(n, r)| ChosenNamespace {
                name: Some(n.clone()),
                reasons: r.iter().cloned().collect(),
                extra: Default::default(),
            })
            .collect(),
        pod_count: Some(pod_summaries.len() as u64),
        rocketchat_pods: Some(
            pod_summaries
                .iter()
                .filter(|p| Role::Rocketchat.of(p))
                .count() as u64,
        ),
        deploy_platforms: pod_summaries
            .iter()
            .filter(|p| Role::Rocketchat.of(p))
            .flat_map(|p| p.containers.iter().flat_map(|c| c.env.iter()))
            .filter(|e| e.name.as_deref() == Some("DEPLOY_PLATFORM"))
            .filter_map(|e| e.value.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        helm_releases: deployments
            .iter()
            .map(|d| &d.metadata)
            .chain(statefulsets.iter().map(|s| &s.metadata))
            .chain(daemonsets.iter().map(|d| &d.metadata))
            .filter_map(|m| {
                let h = workloads::helm_of(m)?;
                Some(format!(
                    "{}/{} {}",
                    m.namespace.as_deref().unwrap_or(""),
                    h.release.as_deref().unwrap_or("?"),
                    h.chart.as_deref().unwrap_or("?")
                ))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        mongodb_hint,
        extra: Default::default(),
    };
    // Helm releases asked for (opt-in: the only Secrets read), before the logs so that
    // the secrets of their values are searched for in the logs too.
    let mut helm_problems = Vec::new();
    if !o.kube_helm_releases.is_empty() {
        let metas: Vec<_> = deployments
            .iter()
            .map(|d| &d.metadata)
            .chain(statefulsets.iter().map(|s| &s.metadata))
            .chain(daemonsets.iter().map(|d| &d.metadata))
            .collect();
        let (file, problems) =
            helm::read_releases(&mut calls, &o.kube_helm_releases, &metas, &chosen, red).await;
        helm_problems = problems;
        put(out, "helm", file, &mut write_errors).await;
    }
    // Logs of the Rocket.Chat and MongoDB containers (and of their previous container
    // after a restart), into logs/index.json beside the Docker logs.
    let pod_logs = pod_logs_to_read(&pod_summaries);
    let mut log_failures = Vec::new();
    if !pod_logs.is_empty() {
        let limits = crate::collectors::logs::kube::PodLogLimits {
            lines: o.log_lines,
            bytes: o.log_bytes,
            since: o.since,
            deadline: started + o.timeout.mul_f32(0.85),
        };
        let read =
            crate::collectors::logs::kube::collect_pod_logs(&kube, &pod_logs, &limits, out).await;
        log_failures = read.failures;
        calls.calls.extend(read.calls);
        if let Err(e) = out.put_json("logs/index.json", &read.index).await {
            write_errors.push(format!("logs/index.json: {e}"));
        }
    }
    // Each file is put (turned into JSON) and dropped in turn, the pods first: the
    // largest, on a big cluster.
    put(
        out,
        "pods",
        PodsFile {
            pods: pod_summaries,
            extra: Default::default(),
        },
        &mut write_errors,
    )
    .await;
    put(out, "cluster", summary, &mut write_errors).await;
    let node_file = NodesFile {
        nodes: node_objs.iter().map(|n| nodes::summarize(n, red)).collect(),
        extra: Default::default(),
    };
    put(out, "nodes", node_file, &mut write_errors).await;
    let mut workload_file = WorkloadsFile {
        deployments: deployments.iter().map(workloads::deployment).collect(),
        statefulsets: statefulsets.iter().map(workloads::statefulset).collect(),
        daemonsets: daemonsets.iter().map(workloads::daemonset).collect(),
        replicasets: replicasets.iter().map(workloads::replicaset).collect(),
        hpas: hpas.iter().map(workloads::hpa).collect(),
        pdbs: pdbs.iter().map(workloads::pdb).collect(),
        extra: Default::default(),
    };
    // Label values under secret-looking keys, as for pods and containers.
    for w in workload_file
        .deployments
        .iter_mut()
        .chain(workload_file.statefulsets.iter_mut())
        .chain(workload_file.daemonsets.iter_mut())
        .chain(workload_file.replicasets.iter_mut())
    {
        w.labels = w
            .labels
            .as_ref()
            .map(|l| red.redact_labels(l.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }
    put(out, "workloads", workload_file, &mut write_errors).await;
    let network_file = NetworkFile {
        services: services.iter().map(network::service).collect(),
        ingresses: ingresses.iter().map(network::ingress).collect(),
        routes: routes.map(|r| r.iter().map(network::route).collect()),
        extra: Default::default(),
    };
    put(out, "network", network_file, &mut write_errors).await;
    let storage_file = StorageFile {
        pvcs: pvcs.iter().map(storage::pvc).collect(),
        extra: Default::default(),
    };
    put(out, "storage", storage_file, &mut write_errors).await;
    let events_file = events::summarize(&event_objs, o.since);
    put(out, "events", events_file, &mut write_errors).await;
    let monitoring_file = MonitoringFile {
        prometheus_operator: Some(operator),
        servicemonitors: servicemonitors.iter().map(monitoring::monitor).collect(),
        podmonitors: podmonitors.iter().map(monitoring::monitor).collect(),
        extra: Default::default(),
    };
    put(out, "monitoring", monitoring_file, &mut write_errors).await;
    write_calls(out, &kube, &calls.calls, &mut write_errors).await;

    let mut problems: Vec<String> = Vec::new();
    problems.extend(calls.forbidden.iter().cloned());
    problems.extend(calls.errors.iter().cloned());
    problems.extend(write_errors);
    problems.extend(log_failures);
    problems.extend(helm_problems);
    if problems.is_empty() {
        Outcome::ok()
    } else {
        let n = problems.len();
        let mut msg = problems.into_iter().take(3).collect::<Vec<_>>().join("; ");
        if n > 3 {
            msg.push_str(&format!(" (and {} more: see kubernetes/calls.json)", n - 3));
        }
        Outcome::partial(msg)
    }
}

/// The logs to read: every container (not init containers) of the Rocket.Chat and
/// MongoDB pods, and the previous container's log of those that restarted.
fn pod_logs_to_read(pods: &[PodSummary]) -> Vec<crate::collectors::logs::kube::PodLog> {
    let mut out = Vec::new();
    for p in pods
        .iter()
        .filter(|p| Role::Rocketchat.of(p) || Role::Mongodb.of(p))
    {
        for c in p.containers.iter().filter(|c| c.init != Some(true)) {
            for previous in [false, true] {
                if previous && c.restart_count.unwrap_or(0) == 0 {
                    continue;
                }
                out.push(crate::collectors::logs::kube::PodLog {
                    namespace: p.namespace.clone().unwrap_or_default(),
                    pod: p.name.clone().unwrap_or_default(),
                    container: c.name.clone().unwrap_or_default(),
                    previous,
                });
            }
        }
    }
    out
}

/// Puts `kubernetes/NAME.json`, then drops `value`.
async fn put(out: &CollectorSink, name: &str, value: impl Serialize, errors: &mut Vec<String>) {
    let path = format!("kubernetes/{name}.json");
    if let Err(e) = out.put_json(&path, &value).await {
        errors.push(format!("{path}: {e}"));
    }
}

async fn write_calls(out: &CollectorSink, kube: &Kube, calls: &[Call], errors: &mut Vec<String>) {
    // Built for the write only: the calls stay with the collector (a failure may write
    // them again, with the calls made since).
    let file = CallsFile {
        source: Some(kube.source.clone()),
        server: Some(kube.server.clone()),
        calls: calls.to_vec(),
        extra: Default::default(),
    };
    if let Err(e) = out.put_json("kubernetes/calls.json", &file).await {
        errors.push(format!("kubernetes/calls.json: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_only_where_a_cluster_may_be() {
        let none = |_: &str| None::<String>;
        assert_eq!(cluster_hint(None, none), None);
        assert!(cluster_hint(Some(Path::new("/x/kc")), none).is_some());
        let incluster = |k: &str| (k == "KUBERNETES_SERVICE_HOST").then(|| "10.0.0.1".to_string());
        assert!(cluster_hint(None, incluster).is_some());
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing").display().to_string();
        let kc_missing = move |k: &str| (k == "KUBECONFIG").then(|| missing.clone());
        assert_eq!(
            cluster_hint(None, kc_missing),
            None,
            "a KUBECONFIG that does not exist"
        );
        std::fs::create_dir_all(dir.path().join(".kube")).unwrap();
        std::fs::write(dir.path().join(".kube/config"), "apiVersion: v1\n").unwrap();
        let home = dir.path().display().to_string();
        let with_home = move |k: &str| (k == "HOME").then(|| home.clone());
        assert!(
            cluster_hint(None, with_home)
                .unwrap()
                .contains(".kube/config")
        );
    }
}
