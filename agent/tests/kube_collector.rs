//! The kubernetes collector against kube-replay (`scripts/kube-replay.py`, profiles in
//! `scripts/README.md`, fixtures in `tests/fixtures/kubernetes/`), each run into a real
//! bundle that is read back. Counts are compared with what `kubectl get ... -o json`
//! says against the same kubeconfig; secrets of the fixtures (the Helm release and
//! chart Secrets, the inline `MONGO_URL`) are searched for in every byte of the bundle.
//!
//! Peer: `scripts/test-env start-kube; source /tmp/rcdp/kube.env` (or the full
//! `scripts/test-env start`). Without it these tests say SKIPPED, or fail under
//! `RCDIAG_REQUIRE_PEERS=1`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::kube::{kube_options, kubectl_items, packaging_yaml, replay_kubeconfig};
use common::{Run, kubernetes_collector, run_collectors};
use rcdiag_agent::collectors::Options;
use rcdiag_bundle::CollectorStatus;
use serde_json::Value;

const NAME: &str = "kubernetes";

/// One collect; with `RCDIAG_KEEP_BUNDLE=DIR` the bundle is copied there (to read it).
async fn collect(kc: &str) -> Run {
    let run = run_collectors(kube_options(kc), &[(NAME, kubernetes_collector)]).await;
    if let Some(dir) = std::env::var_os("RCDIAG_KEEP_BUNDLE") {
        let name = std::path::Path::new(kc).file_stem().unwrap().to_owned();
        let to = std::path::Path::new(&dir)
            .join(name)
            .with_extension("rcdiag.zip");
        std::fs::copy(&run.path, &to).unwrap();
    }
    run
}

fn names(items: &[Value], key: &str) -> Vec<String> {
    let mut n: Vec<String> = items
        .iter()
        .map(|i| {
            let ns = i["namespace"]
                .as_str()
                .or(i["metadata"]["namespace"].as_str())
                .unwrap_or("");
            let name = i[key]
                .as_str()
                .or(i["metadata"]["name"].as_str())
                .unwrap_or("");
            format!("{ns}/{name}")
        })
        .collect();
    n.sort();
    n
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array in {v}"))
}

fn find<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list:?}"))
}

/// The rules of `packaging/kubernetes/clusterrole.yaml` (read with python3-yaml).
fn cluster_role_rules() -> Vec<Value> {
    let docs = packaging_yaml("clusterrole.yaml");
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    role["rules"].as_array().unwrap().clone()
}

/// Every call of the run is one the packaged ClusterRole grants (`list`), and the role
/// grants nothing on Secrets or ConfigMaps, and no wildcard.
fn assert_granted_by_the_cluster_role(calls: &[Value]) {
    let rules = cluster_role_rules();
    for r in &rules {
        let text = r.to_string();
        assert!(
            !text.contains("secrets") && !text.contains("configmaps") && !text.contains("\"*\""),
            "{text}"
        );
    }
    for c in calls {
        let path = c["path"].as_str().unwrap();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (group, rest) = match parts.as_slice() {
            ["api", _v, rest @ ..] => ("", rest),
            ["apis", g, _v, rest @ ..] => (*g, rest),
            _ => {
                assert!(
                    rules.iter().any(|r| r["nonResourceURLs"]
                        .as_array()
                        .is_some_and(|u| u.iter().any(|u| u == path))),
                    "{path} is not granted"
                );
                continue;
            }
        };
        // A pod's log is `get` on `pods/log`; anything else a list.
        let (resource, verb) = match rest {
            ["namespaces", _ns, "pods", _pod, "log"] => ("pods/log", "get"),
            ["namespaces", _ns, res] => (*res, "list"),
            [res] => (*res, "list"),
            other => panic!("{path}: {other:?}"),
        };
        assert!(
            rules.iter().any(|r| {
                let has =
                    |k: &str, v: &str| r[k].as_array().is_some_and(|a| a.iter().any(|x| x == v));
                has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
            }),
            "{verb} {resource}.{group} ({path}) is not granted by packaging/kubernetes/clusterrole.yaml"
        );
    }
}

fn sign<'a>(cluster: &'a Value, name: &str) -> Option<&'a Value> {
    arr(cluster, "distribution")
        .iter()
        .find(|s| s["name"] == name)
}

#[tokio::test]
async fn helm_compliant_install_is_summarised() {
    let Some(kc) = replay_kubeconfig("HELM_COMPLIANT") else {
        return;
    };
    let mut run = collect(&kc).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let cluster = run.json("kubernetes/cluster.json");
    assert_eq!(cluster["rocketchat_pods"], 3, "{cluster}");
    assert_eq!(cluster["version"]["git_version"], "v1.33.5");
    assert_eq!(
        cluster["node_count"].as_u64().unwrap() as usize,
        kubectl_items(&kc, &["nodes"]).len()
    );
    let chosen: Vec<&str> = arr(&cluster, "namespaces")
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(chosen, ["monitoring", "rocketchat"], "{cluster}");
    assert_eq!(cluster["mongodb_hint"]["source"], "secret");
    assert_eq!(
        cluster["deploy_platforms"],
        serde_json::json!(["helm-chart"])
    );
    let releases = cluster["helm_releases"].to_string();
    assert!(
        releases.contains("rocketchat/rocketchat rocketchat-7.0.2")
            && releases.contains("rocketchat/rocketchat mongodb-13.18.5"),
        "{releases}"
    );
    assert!(
        cluster["mongodb_hint"]["message"]
            .as_str()
            .unwrap()
            .contains("--mongodb-uri")
    );

    // Pods: the same as kubectl's in the chosen namespaces.
    let pods = run.json("kubernetes/pods.json");
    let pods = arr(&pods, "pods");
    let mut expected = kubectl_items(&kc, &["pods", "-n", "rocketchat"]);
    expected.extend(kubectl_items(&kc, &["pods", "-n", "monitoring"]));
    assert_eq!(names(pods, "name"), names(&expected, "name"));
    let rc: Vec<&Value> = pods.iter().filter(|p| p["role"] == "rocketchat").collect();
    assert_eq!(rc.len(), 3);
    for p in &rc {
        let c = &p["containers"][0];
        assert!(c["digest"].as_str().unwrap().starts_with("sha256:"), "{c}");
        assert!(c["image_id"].as_str().unwrap().contains("@sha256:"));
        assert_eq!(c["limits"]["memory"], "4Gi", "{c}");
        assert_eq!(c["requests"]["cpu"], "1", "{c}");
        // valueFrom keeps the reference only.
        let mongo = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "MONGO_URL")
            .unwrap();
        assert!(mongo.get("value").is_none(), "{mongo}");
        assert_eq!(mongo["value_from"]["kind"], "secretKeyRef");
        assert_eq!(mongo["value_from"]["name"], "rocketchat-rocketchat");
        assert_eq!(mongo["value_from"]["key"], "mongo-uri");
    }
    let oom: Vec<&&Value> = rc
        .iter()
        .filter(|p| p["containers"][0]["last_terminated"]["reason"] == "OOMKilled")
        .collect();
    assert_eq!(oom.len(), 1, "one pod restarted after OOMKilled");
    assert_eq!(oom[0]["containers"][0]["restart_count"], 2);
    assert_eq!(oom[0]["restarts"], 2);

    // Workloads: Helm from the Deployment's labels.
    let w = run.json("kubernetes/workloads.json");
    let d = find(arr(&w, "deployments"), "rocketchat-rocketchat");
    assert_eq!(d["helm"]["chart_name"], "rocketchat", "{d}");
    assert_eq!(d["helm"]["chart_version"], "7.0.2");
    assert_eq!(d["helm"]["release"], "rocketchat");
    assert_eq!(d["replicas"], 3);
    assert_eq!(d["ready_replicas"], 3);
    let mut expected = kubectl_items(&kc, &["deployments", "-n", "rocketchat"]);
    expected.extend(kubectl_items(&kc, &["deployments", "-n", "monitoring"]));
    assert_eq!(
        names(arr(&w, "deployments"), "name"),
        names(&expected, "name")
    );
    let mongo = find(arr(&w, "statefulsets"), "rocketchat-mongodb");
    assert_eq!(mongo["replicas"], 3);
    let vct = &mongo["volume_claim_templates"][0];
    assert_eq!(vct["name"], "datadir");
    assert_eq!(vct["storage"], "20Gi");
    // The template names no class: the cluster's default (gp3) is on the PVCs.
    assert!(vct["storage_class"].is_null(), "{vct}");
    // ReplicaSets: only the owners of the pods read.
    let owners: std::collections::BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p["owner"].as_str())
        .filter_map(|o| o.strip_prefix("ReplicaSet/"))
        .map(str::to_string)
        .collect();
    let rs: std::collections::BTreeSet<String> = arr(&w, "replicasets")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rs, owners);
    assert_eq!(
        find(arr(&w, "hpas"), "rocketchat-rocketchat")["max_replicas"],
        6
    );
    assert_eq!(
        find(arr(&w, "pdbs"), "rocketchat-rocketchat")["min_available"],
        "1"
    );
    assert!(!arr(&w, "daemonsets").is_empty());

    // Storage: the MongoDB PVCs with their storage class.
    let s = run.json("kubernetes/storage.json");
    let pvcs = arr(&s, "pvcs");
    assert_eq!(
        names(pvcs, "name"),
        names(&kubectl_items(&kc, &["pvc", "-n", "rocketchat"]), "name")
    );
    for i in 0..3 {
        let p = find(pvcs, &format!("datadir-rocketchat-mongodb-{i}"));
        assert_eq!(p["storage_class"], "gp3", "{p}");
    }

    // Warning events: as kubectl lists them.
    let e = run.json("kubernetes/events.json");
    let events = arr(&e, "events");
    let mut expected = kubectl_items(
        &kc,
        &[
            "events",
            "-n",
            "rocketchat",
            "--field-selector",
            "type=Warning",
        ],
    );
    expected.extend(kubectl_items(
        &kc,
        &[
            "events",
            "-n",
            "monitoring",
            "--field-selector",
            "type=Warning",
        ],
    ));
    assert_eq!(events.len(), expected.len());
    assert!(!events.is_empty());
    let reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    for r in ["FailedScheduling", "BackOff", "Evicted"] {
        assert!(reasons.contains(&r), "{r} in {reasons:?}");
    }
    assert!(events.iter().all(|e| e["type"] == "Warning"));

    // Monitoring.
    let m = run.json("kubernetes/monitoring.json");
    assert_eq!(m["prometheus_operator"], true);
    assert_eq!(
        names(arr(&m, "servicemonitors"), "name"),
        names(
            &kubectl_items(&kc, &["servicemonitors.monitoring.coreos.com", "-A"]),
            "name"
        )
    );
    assert_eq!(arr(&m, "podmonitors").len(), 1);
    assert_eq!(
        arr(&m, "servicemonitors")[0]["endpoints"][0],
        "metrics /metrics every 30s"
    );

    // Network.
    let n = run.json("kubernetes/network.json");
    assert!(n["routes"].is_null(), "no route API on this cluster");
    let ing = find(arr(&n, "ingresses"), "rocketchat-rocketchat");
    assert_eq!(ing["class"], "nginx");
    assert!(
        names(arr(&n, "services"), "name")
            .contains(&"rocketchat/rocketchat-mongodb-headless".to_string())
    );

    // Calls: all recorded, none failed, never a Secret nor a ConfigMap.
    let calls = run.json("kubernetes/calls.json");
    let calls = arr(&calls, "calls");
    assert!(calls.len() > 10);
    for c in calls {
        assert_eq!(c["outcome"], "ok", "{c}");
        let path = c["path"].as_str().unwrap();
        assert!(
            !path.contains("secrets") && !path.contains("configmaps"),
            "{path}"
        );
        assert!(c["duration_ms"].is_u64());
    }
    assert_granted_by_the_cluster_role(calls);
    // The pod log calls (kube_logs.rs checks them): three Rocket.Chat and three MongoDB
    // containers, and the previous log of the one that restarted.
    let (logs, lists): (Vec<&Value>, Vec<&Value>) = calls
        .iter()
        .partition(|c| c["path"].as_str().unwrap().ends_with("/log"));
    assert_eq!(logs.len(), 7, "{logs:?}");
    // One call per kind: cluster-wide lists filtered to the chosen namespaces.
    let mut paths: Vec<&str> = lists.iter().map(|c| c["path"].as_str().unwrap()).collect();
    paths.sort();
    let n = paths.len();
    paths.dedup();
    assert_eq!(paths.len(), n, "a path read twice: {paths:?}");
    assert!(
        calls.iter().all(|c| c["pages"] == 1),
        "every list fits one page here"
    );
    assert_eq!(n, 17, "/version, /apis and 15 kinds: {paths:?}");
    let pods_call = calls
        .iter()
        .find(|c| c["path"] == "/api/v1/pods")
        .expect("one cluster-wide pod list");
    assert_eq!(
        pods_call["items"].as_u64().unwrap() as usize,
        kubectl_items(&kc, &["pods", "-A"]).len()
    );
    // Nothing of the fixture Secrets anywhere (Helm release values, chart Secret).
    run.assert_no_secret(&["rcdiag-test-secret", "managedFields"]);
}

#[tokio::test]
async fn openshift_is_recognised_with_its_version_and_routes() {
    let Some(kc) = replay_kubeconfig("OPENSHIFT") else {
        return;
    };
    let mut run = collect(&kc).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let cluster = run.json("kubernetes/cluster.json");
    let os = sign(&cluster, "openshift").expect("openshift sign");
    assert_eq!(os["version"], "4.18.9", "{os}");
    let ev: Vec<&str> = arr(os, "evidence")
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        ev.iter().any(|e| e.contains("config.openshift.io")),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| e.contains("os_id=rhcos")), "{ev:?}");
    assert!(sign(&cluster, "rancher").is_none());
    assert_eq!(
        cluster["node_count"].as_u64().unwrap() as usize,
        kubectl_items(&kc, &["nodes"]).len()
    );
    let n = run.json("kubernetes/network.json");
    let routes = arr(&n, "routes");
    assert_eq!(
        names(routes, "name"),
        names(
            &kubectl_items(&kc, &["routes.route.openshift.io", "-A"]),
            "name"
        )
    );
    let r = find(routes, "rocketchat-rocketchat");
    let calls = run.json("kubernetes/calls.json");
    let calls = arr(&calls, "calls");
    assert!(
        calls
            .iter()
            .any(|c| c["path"] == "/apis/config.openshift.io/v1/clusterversions")
    );
    assert_granted_by_the_cluster_role(calls);
    assert_eq!(r["host"], "chat.apps.ocp.example.com");
    assert_eq!(r["tls_termination"], "edge");
    assert_eq!(r["admitted"], true);
    let nodes = run.json("kubernetes/nodes.json");
    assert!(arr(&nodes, "nodes").iter().all(|n| {
        n["container_runtime"]
            .as_str()
            .unwrap()
            .starts_with("cri-o://")
    }));
}

#[tokio::test]
async fn rancher_and_rke2_are_recognised() {
    let Some(kc) = replay_kubeconfig("RANCHER_RKE2") else {
        return;
    };
    let mut run = collect(&kc).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let cluster = run.json("kubernetes/cluster.json");
    let rancher = sign(&cluster, "rancher").expect("rancher sign");
    assert_eq!(
        rancher["evidence"][0],
        "namespace cattle-system with Deployment cattle-cluster-agent"
    );
    let rke2 = sign(&cluster, "rke2").expect("rke2 sign");
    let ev = rke2["evidence"].to_string();
    assert!(
        ev.contains("v1.31.9+rke2r1") && ev.contains("rke2.io/node-args"),
        "{ev}"
    );
    assert!(
        sign(&cluster, "k3s").is_none(),
        "containerd -k3s1 is not k3s: {cluster}"
    );
    assert!(sign(&cluster, "openshift").is_none());
    let nodes = run.json("kubernetes/nodes.json");
    let cp = find(arr(&nodes, "nodes"), "cp-1");
    assert!(cp["annotations"]["rke2.io/node-args"].is_string(), "{cp}");
    assert!(cp["roles"].to_string().contains("control-plane"));
}

#[tokio::test]
async fn noncompliant_install_keeps_its_findings_and_no_password() {
    let Some(kc) = replay_kubeconfig("NONCOMPLIANT") else {
        return;
    };
    let mut run = collect(&kc).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let cluster = run.json("kubernetes/cluster.json");
    assert_eq!(cluster["namespaces"][0]["name"], "chat", "{cluster}");
    let hint = &cluster["mongodb_hint"];
    assert_eq!(hint["source"], "inline", "{hint}");
    assert_eq!(cluster["helm_releases"], serde_json::json!([]));
    assert!(hint["message"].as_str().unwrap().contains("--mongodb-uri"));
    assert!(
        hint["uri_redacted"]
            .as_str()
            .unwrap()
            .contains("mongo.chat.svc.cluster.local"),
        "{hint}"
    );
    let w = run.json("kubernetes/workloads.json");
    let d = find(arr(&w, "deployments"), "rocketchat");
    assert_eq!(d["replicas"], 1);
    assert!(d["helm"].is_null(), "no Helm: {d}");
    assert!(arr(&w, "pdbs").is_empty() && arr(&w, "hpas").is_empty());
    let pods = run.json("kubernetes/pods.json");
    let pods = arr(&pods, "pods");
    assert_eq!(
        pods.len(),
        kubectl_items(&kc, &["pods", "-n", "chat"]).len()
    );
    let rc: Vec<&Value> = pods.iter().filter(|p| p["role"] == "rocketchat").collect();
    assert_eq!(rc.len(), 2, "the running pod and the one stuck pulling");
    for p in &rc {
        let c = &p["containers"][0];
        assert!(
            c["image"]
                .as_str()
                .unwrap()
                .starts_with("myregistry.local/rc-custom:")
        );
        assert_eq!(c["limits"], serde_json::json!({}), "{c}");
        assert_eq!(p["qos_class"], "BestEffort");
        let url = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "MONGO_URL")
            .unwrap();
        let v = url["value"].as_str().unwrap();
        assert!(
            v.contains("mongo.chat.svc.cluster.local") && !v.contains("inline"),
            "{v}"
        );
    }
    assert!(
        rc.iter()
            .any(|p| p["containers"][0]["state_reason"] == "ImagePullBackOff"),
        "{rc:?}"
    );
    assert!(rc.iter().any(
        |p| p["containers"][0]["last_terminated"]["reason"] == "OOMKilled" && p["restarts"] == 7
    ));
    let m = run.json("kubernetes/monitoring.json");
    assert_eq!(m["prometheus_operator"], false);
    let nodes = run.json("kubernetes/nodes.json");
    let node = &arr(&nodes, "nodes")[0];
    assert!(
        node["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "MemoryPressure" && c["status"] == "True"),
        "{node}"
    );
    run.assert_no_secret(&["rcdiag-test-secret-inline"]);
}

#[tokio::test]
async fn a_refusal_makes_it_partial_and_the_rest_is_collected() {
    let Some(kc) = replay_kubeconfig("RBAC") else {
        return;
    };
    let mut run = collect(&kc).await;
    let msg = run.assert_status(NAME, CollectorStatus::Partial);
    assert!(
        msg.contains("cannot list pods in namespace monitoring")
            && msg.contains("kubectl auth can-i list pods -n monitoring"),
        "{msg}"
    );
    let calls = run.json("kubernetes/calls.json");
    let calls = arr(&calls, "calls");
    let refused: Vec<&Value> = calls
        .iter()
        .filter(|c| c["outcome"] == "forbidden")
        .collect();
    assert!(
        refused
            .iter()
            .any(|c| c["path"] == "/api/v1/pods" && c["fell_back"] == true),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|c| c["path"] == "/api/v1/namespaces/monitoring/pods"),
        "{refused:?}"
    );
    let cluster = run.json("kubernetes/cluster.json");
    assert_eq!(cluster["rocketchat_pods"], 3);
    let pods = run.json("kubernetes/pods.json");
    assert_eq!(
        arr(&pods, "pods").len(),
        kubectl_items(&kc, &["pods", "-n", "rocketchat"]).len()
    );
    let w = run.json("kubernetes/workloads.json");
    assert!(find(arr(&w, "deployments"), "rocketchat-rocketchat")["helm"].is_object());
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test]
async fn two_thousand_pods_are_collected() {
    let Some(kc) = replay_kubeconfig("SCALE") else {
        return;
    };
    let before = vm_hwm_kib();
    let t0 = Instant::now();
    let mut run = collect(&kc).await;
    let took = t0.elapsed();
    let after_collect = vm_hwm_kib();
    run.assert_status(NAME, CollectorStatus::Ok);
    let pods = run.json("kubernetes/pods.json");
    let n = arr(&pods, "pods").len();
    assert!(n >= 2000, "{n}");
    let mut expected = kubectl_items(&kc, &["pods", "-n", "rocketchat"]);
    expected.extend(kubectl_items(&kc, &["pods", "-n", "monitoring"]));
    assert_eq!(n, expected.len());
    let calls = run.json("kubernetes/calls.json");
    let pod_call = arr(&calls, "calls")
        .iter()
        .find(|c| c["path"] == "/api/v1/pods")
        .unwrap()
        .clone();
    assert!(pod_call["pages"].as_u64().unwrap() >= 5, "{pod_call}");
    eprintln!(
        "scale: {n} pods in {took:?}, {} pages of pods; test process VmHWM before {before:?} KiB, after the collect {after_collect:?} KiB, after reading the bundle back {:?} KiB",
        pod_call["pages"],
        vm_hwm_kib()
    );
}

/// Run by [`no_cluster_is_skipped_quickly`] in a child process whose environment has no
/// cluster (no KUBECONFIG, an empty HOME, not in a pod).
#[tokio::test]
async fn no_cluster_child() {
    if std::env::var("RCDIAG_KUBE_NO_CLUSTER_CHILD").as_deref() != Ok("1") {
        return;
    }
    let t0 = Instant::now();
    let run = run_collectors(
        Options {
            docker_host: Some("unix:///nonexistent/rcdiag-test-no-docker.sock".into()),
            ..Options::default()
        },
        &[(NAME, kubernetes_collector)],
    )
    .await;
    let took = t0.elapsed();
    let msg = run.assert_status(NAME, CollectorStatus::Skipped);
    assert!(msg.contains("no Kubernetes cluster"), "{msg}");
    assert!(run.files(NAME).is_empty());
    assert!(took < Duration::from_secs(1), "{took:?}");
    println!("NO_CLUSTER_CHILD_OK {took:?}");
}

#[test]
fn no_cluster_is_skipped_quickly() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "no_cluster_child", "--nocapture"])
        .env("RCDIAG_KUBE_NO_CLUSTER_CHILD", "1")
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("NO_CLUSTER_CHILD_OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn refused_credentials_fail_with_the_reason_and_the_calls() {
    let Some(kc) = replay_kubeconfig("HELM_COMPLIANT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&kc).unwrap();
    let bad: String = text
        .lines()
        .map(|l| match l.split_once("token:") {
            Some((indent, _)) => format!("{indent}token: rcdiag-not-a-token"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(bad, text);
    let path = dir.path().join("bad.kubeconfig");
    std::fs::write(&path, bad).unwrap();
    let mut run = collect(path.to_str().unwrap()).await;
    let msg = run.assert_status(NAME, CollectorStatus::Failed);
    assert!(msg.contains("401") && msg.contains("/version"), "{msg}");
    let calls = run.json("kubernetes/calls.json");
    assert_eq!(arr(&calls, "calls").len(), 1, "nothing else is tried");
    assert_eq!(calls["calls"][0]["outcome"], "error");
    run.assert_no_secret(&["rcdiag-not-a-token"]);
}

#[tokio::test]
async fn given_namespaces_are_read_alone() {
    let Some(kc) = replay_kubeconfig("HELM_COMPLIANT") else {
        return;
    };
    let opts = Options {
        kube_namespaces: vec!["monitoring".into()],
        ..kube_options(&kc)
    };
    let mut run = run_collectors(opts, &[(NAME, kubernetes_collector)]).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let cluster = run.json("kubernetes/cluster.json");
    assert_eq!(cluster["namespaces"][0]["reasons"][0], "given");
    assert_eq!(cluster["rocketchat_pods"], 0);
    let pods = run.json("kubernetes/pods.json");
    assert_eq!(
        names(arr(&pods, "pods"), "name"),
        names(&kubectl_items(&kc, &["pods", "-n", "monitoring"]), "name")
    );
    let calls = run.json("kubernetes/calls.json");
    for c in arr(&calls, "calls") {
        let p = c["path"].as_str().unwrap();
        assert!(
            !p.contains("/namespaces/rocketchat/"),
            "{p}: only the given namespace"
        );
    }
}

#[tokio::test]
async fn a_silent_api_server_fails_within_the_time_limit() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s); // accepted, never answered
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kc = common::insecure_kubeconfig(dir.path(), port);
    let limit = Duration::from_secs(3);
    let t0 = Instant::now();
    let run = run_collectors(
        Options {
            timeout: limit,
            ..kube_options(kc.to_str().unwrap())
        },
        &[(NAME, kubernetes_collector)],
    )
    .await;
    let took = t0.elapsed();
    holder.abort();
    let msg = run.assert_status(NAME, CollectorStatus::Failed);
    // The client's connect deadline (TLS handshake included) or its call deadline.
    assert!(
        msg.contains("did not answer /version")
            || msg.contains("cannot reach the API server for /version"),
        "{msg}"
    );
    assert!(took < limit, "{took:?}");
}

/// The collector's paged reads keep what a list read again whole gives, once: against a
/// server whose every continue token has expired, with two objects a page.
#[tokio::test]
async fn an_expired_continue_token_is_read_again_whole_without_duplicates() {
    use k8s_openapi::api::core::v1::Pod;
    use rcdiag_agent::clients::kube::{Kube, KubeOptions};
    use rcdiag_agent::collectors::kubernetes::calls::Calls;
    let Some(kc) = replay_kubeconfig("EXPIRED") else {
        return;
    };
    let kube = Kube::connect(KubeOptions {
        kubeconfig: Some(kc.clone().into()),
        page_limit: 2,
        ..KubeOptions::default()
    })
    .await
    .unwrap();
    let mut calls = Calls::new(kube, Duration::from_secs(30));
    let mut acc: Vec<String> = Vec::new();
    let ok = calls
        .pages::<Pod, _>(None, "", &mut acc, &mut |p: Pod| {
            Some(format!(
                "{}/{}",
                p.metadata.namespace.unwrap_or_default(),
                p.metadata.name.unwrap_or_default()
            ))
        })
        .await;
    assert!(ok);
    acc.sort();
    assert_eq!(acc, names(&kubectl_items(&kc, &["pods", "-A"]), "name"));
    let call = &calls.calls[0];
    assert_eq!(call.restarted, Some(true), "{call:?}");
    assert_eq!(call.items, Some(acc.len() as u64));
    assert_eq!(call.outcome.as_deref(), Some("ok"));
}

#[tokio::test]
async fn k3s_is_recognised_and_kind_has_no_sign() {
    let (Some(k3s), Some(kind)) = (replay_kubeconfig("K3S"), replay_kubeconfig("KIND")) else {
        return;
    };
    let mut run = collect(&k3s).await;
    let status = run.outcome(NAME).status;
    assert!(
        matches!(status, CollectorStatus::Ok),
        "{:?}",
        run.outcome(NAME)
    );
    let cluster = run.json("kubernetes/cluster.json");
    let k = sign(&cluster, "k3s").expect("k3s sign");
    let ev = k["evidence"].to_string();
    assert!(
        ev.contains("+k3s1") && ev.contains("instance-type=k3s"),
        "{ev}"
    );
    assert!(sign(&cluster, "rke2").is_none() && sign(&cluster, "rancher").is_none());
    assert_eq!(cluster["rocketchat_pods"], 0);
    assert_eq!(
        cluster["node_count"].as_u64().unwrap() as usize,
        kubectl_items(&k3s, &["nodes"]).len()
    );

    let mut run = collect(&kind).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let calls = run.json("kubernetes/calls.json");
    let pods_call = arr(&calls, "calls")
        .iter()
        .find(|c| c["path"] == "/api/v1/pods")
        .expect("pods are listed even when the namespace list is empty")
        .clone();
    assert_eq!(
        pods_call["items"].as_u64().unwrap() as usize,
        kubectl_items(&kind, &["pods", "-A"]).len()
    );
    let cluster = run.json("kubernetes/cluster.json");
    assert_eq!(cluster["distribution"], serde_json::json!([]), "{cluster}");
    assert!(
        cluster["version"]["git_version"]
            .as_str()
            .unwrap()
            .starts_with("v1.36"),
        "{cluster}"
    );
}
