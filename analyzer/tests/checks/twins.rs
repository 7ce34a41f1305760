//! A cluster bundle and the node bundle of one of its nodes read together: each pod's
//! container is in both (the pod in `kubernetes/pods.json`, the CRI container in
//! `cri/containers.json`). The checks judge it once, from the pod view, and cite the
//! CRI entry beside where it helps; a CRI container of no pod of the cluster is still
//! the node's own.

use super::kubernetes::{edit_named, kube};
use super::*;

/// The Rocket.Chat pod of the `helm-compliant` view on worker-2, and its MongoDB and
/// NATS pods there.
const RC_POD: &str = "rocketchat-rocketchat-74095cb1d5-b9q4m";

/// The node bundle of worker-2 with the CRI twins of the pods the cluster view puts
/// there (same namespace, pod and container names, as the kubelet labels them).
fn worker_2() -> NodeData {
    let rc = "registry.rocket.chat/rocketchat/rocket.chat:8.6.1";
    let mut rc_c = cri_container("rocketchat", RC_POD, "rocketchat", rc);
    rc_c.restart_count = Some(2);
    cri_node(
        "worker-2",
        vec![
            rc_c,
            cri_container(
                "rocketchat",
                "rocketchat-mongodb-1",
                "mongodb",
                "docker.io/bitnamilegacy/mongodb:6.0.13-debian-11-r21",
            ),
            cri_container(
                "rocketchat",
                "rocketchat-nats-0",
                "nats",
                "nats:2.12-alpine",
            ),
        ],
        Some(vec![
            cri_image(
                "rocketchat",
                rc,
                &[
                    "registry.rocket.chat/rocketchat/rocket.chat@sha256:c95dfbd9ba1be90391879955fae49dded7279a30b43e4ae69c1f5882e8984666",
                ],
            ),
            cri_image(
                "mongodb",
                "docker.io/bitnamilegacy/mongodb:6.0.13-debian-11-r21",
                &[],
            ),
            cri_image("nats", "nats:2.12-alpine", &[]),
        ]),
    )
}

/// worker-2's bundle without its CRI view (host facts only).
fn worker_2_host_only() -> NodeData {
    let mut n = worker_2();
    for f in ["cri/containers.json", "cri/images.json"] {
        n.set_json(f, Value::Null);
    }
    n
}

/// The `helm-compliant` view with 300 concurrent users, its one OOM kill left out
/// (so that a container counted twice shows in the passing message).
fn cluster() -> NodeData {
    let mut c = kube("helm-compliant");
    edit_named(&mut c, "kubernetes/pods.json", "pods", RC_POD, |p| {
        p["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("last_terminated");
    });
    c.set_json(
        "rocketchat/summary.json",
        json!({"users": {"concurrent": 300, "active_humans": 300}}),
    );
    c
}

/// The checks that read containers say the same with the CRI twins as without them:
/// no container is counted twice.
#[test]
fn a_pod_seen_in_a_node_bundle_too_is_judged_once() {
    let with = run_as_of(&[cluster(), worker_2()], "2026-11-26");
    let without = run_as_of(&[cluster(), worker_2_host_only()], "2026-11-26");
    for id in [
        "image.official",
        "containers.restarting",
        "scale.orchestrated",
        "version.consistent",
        "version.supported",
        "mongodb.bypass-flags",
        "deploy.method",
        "hardware.cpu",
        "hardware.memory",
        "monitoring.prometheus",
        "monitoring.grafana",
    ] {
        let (a, b) = (get(&with, id), get(&without, id));
        assert_eq!(
            (a.outcome, &a.message),
            (b.outcome, &b.message),
            "{id}: with the CRI twins vs without"
        );
    }
    let r = get(&with, "containers.restarting");
    let pods = cluster().kube.all_containers().len();
    assert!(
        r.message.contains(&format!("none of {pods} containers")),
        "{pods} pod containers, each once: {}",
        r.message
    );
    // A CRI container of no pod of the cluster is the node's own, and counted.
    let mut n = worker_2();
    n.edit_json("cri/containers.json", |v| {
        let mut extra = v["containers"][2].clone();
        extra["id"] = json!("static-1");
        extra["pod_name"] = json!("etcd-worker-2");
        extra["pod_namespace"] = json!("kube-system");
        extra["labels"]["io.kubernetes.pod.name"] = json!("etcd-worker-2");
        extra["labels"]["io.kubernetes.pod.namespace"] = json!("kube-system");
        v["containers"].as_array_mut().unwrap().push(extra);
    });
    let r = get(
        &run_as_of(&[cluster(), n], "2026-11-26"),
        "containers.restarting",
    )
    .clone();
    assert!(
        r.message
            .contains(&format!("none of {} containers", pods + 1)),
        "{}",
        r.message
    );
}

/// Without the fix the restart loop of one pod was two findings (the pod, then its
/// CRI container); now it is one, citing both bundles.
#[test]
fn a_restart_loop_seen_twice_is_one_finding_with_evidence_from_both() {
    let mut c = cluster();
    edit_named(&mut c, "kubernetes/pods.json", "pods", RC_POD, |p| {
        p["containers"][0]["restart_count"] = json!(60);
    });
    let mut n = worker_2();
    n.edit_json("cri/containers.json", |v| {
        v["containers"][0]["restart_count"] = json!(60);
    });
    let results = run_as_of(&[c, n], "2026-11-26");
    let r = get(&results, "containers.restarting");
    assert_eq!(r.outcome, Outcome::Fail, "{}", r.message);
    assert_eq!(
        r.message.matches("restarted 60 times").count(),
        1,
        "{}",
        r.message
    );
    assert!(
        !r.message
            .contains("rocketchat/rocketchat-rocketchat-74095cb1d5-b9q4m/rocketchat on worker-2"),
        "the CRI container is not a finding of its own: {}",
        r.message
    );
    let pod_ev = r
        .evidence
        .iter()
        .filter(|e| {
            e.bundle == "cluster.rcdiag"
                && e.pointer.as_deref() == Some("/pods/15/containers/0/restart_count")
        })
        .count();
    let cri_ev: Vec<_> = r
        .evidence
        .iter()
        .filter(|e| e.bundle == "worker-2.rcdiag")
        .collect();
    assert_eq!(pod_ev, 1, "{:?}", r.evidence);
    assert_eq!(cri_ev.len(), 1, "{:?}", r.evidence);
    assert_eq!(cri_ev[0].file.as_deref(), Some("cri/containers.json"));
    assert_eq!(
        cri_ev[0].pointer.as_deref(),
        Some("/containers/0/restart_count")
    );
    assert_eq!(
        cri_ev[0].value.as_deref(),
        Some("the same container: restart_count 60")
    );
}

/// A node bundle of another cluster's node (no Kubernetes node of that name), or of
/// pods the cluster bundle does not show, keeps its CRI containers.
#[test]
fn cri_containers_of_other_nodes_stay_their_own() {
    let mut other = worker_2();
    other.manifest.node.hostname = "elsewhere".into();
    other.label = "elsewhere.rcdiag".into();
    let results = run_as_of(&[cluster(), other], "2026-11-26");
    let r = get(&results, "containers.restarting");
    let pods = cluster().kube.all_containers().len();
    assert!(
        r.message
            .contains(&format!("none of {} containers", pods + 3)),
        "{}",
        r.message
    );
    let r = get(&results, "image.official");
    assert!(
        r.evidence
            .iter()
            .any(|e| e.bundle == "elsewhere.rcdiag"
                && e.file.as_deref() == Some("cri/containers.json")),
        "{:?}",
        r.evidence
    );
}

/// A pod's log read through the API into the cluster bundle and from the node's files
/// into worker-2's bundle: its error lines are counted once (the node's copy); the log
/// of a pod on a node without a bundle still counts.
#[test]
fn a_pod_log_read_twice_is_counted_once() {
    let policy = Policy::builtin();
    let line = "2026-11-26T04:00:00.000Z stderr MongoServerSelectionError: Server selection timed out after 10000 ms\n";
    let three = line.repeat(3);
    let api = format!("logs/k8s_rocketchat_{RC_POD}_rocketchat.log");
    let other = "logs/k8s_rocketchat_rocketchat-rocketchat-74095cb1d5-t3n8w_rocketchat.log";
    let file = format!("logs/cri_rocketchat_{RC_POD}_rocketchat.log");
    let mut c = cluster();
    c.scan_log(&api, three.as_bytes(), &policy).unwrap();
    c.scan_log(other, line.as_bytes(), &policy).unwrap();
    c.set_json(
        "logs/index.json",
        json!([
            {"container": "rocketchat", "id": format!("rocketchat/{RC_POD}/rocketchat"), "file": api,
             "source": "kubernetes", "pod": RC_POD, "namespace": "rocketchat", "previous": false},
            {"container": "rocketchat", "id": "rocketchat/rocketchat-rocketchat-74095cb1d5-t3n8w/rocketchat",
             "file": other, "source": "kubernetes", "previous": false}
        ]),
    );
    let mut n = worker_2();
    n.scan_log(&file, three.as_bytes(), &policy).unwrap();
    n.set_json(
        "logs/index.json",
        json!([{"container": format!("rocketchat/{RC_POD}/rocketchat"), "id": "c-rc", "file": file,
                "source": "cri-file", "pod": RC_POD, "namespace": "rocketchat", "attempt": 0, "previous": false}]),
    );
    let r = expect(
        &[c.clone(), n.clone()],
        "logs.known-errors",
        Outcome::Fail,
        "4 line(s) in 2 file(s)",
    );
    assert!(
        r.evidence
            .iter()
            .all(|e| e.file.as_deref() != Some(api.as_str())),
        "the API copy is left out: {:?}",
        r.evidence
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.file.as_deref() == Some(file.as_str())),
        "{:?}",
        r.evidence
    );
    // The node's copy of a previous run is another log: both count.
    n.edit_json("logs/index.json", |v| v[0]["previous"] = json!(true));
    expect(
        &[c, n],
        "logs.known-errors",
        Outcome::Fail,
        "7 line(s) in 3 file(s)",
    );
}
