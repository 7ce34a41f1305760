//! `kubernetes.*`: every outcome of each check, from the cluster views the real agent
//! wrote against the kube-replay peer (`tests/fixtures/kubernetes/<profile>/`, see its
//! SOURCES.md), edited where a verdict needs another state.

use super::*;

/// A bundle of only the `kubernetes` collector, holding the view of `profile`.
pub(super) fn kube(profile: &str) -> NodeData {
    let mut m = manifest("cluster");
    for c in &mut m.collectors {
        c.status = CollectorStatus::Skipped;
        c.error = Some("deselected (--only/--skip)".into());
    }
    m.collectors.push(CollectorRecord {
        name: "kubernetes".into(),
        status: CollectorStatus::Ok,
        started_at: "2026-11-26T05:00:00Z".into(),
        duration_ms: 500,
        error: None,
        files: Vec::new(),
    });
    let mut n = NodeData::new("cluster.rcdiag", m);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubernetes")
        .join(profile);
    for f in rcdiag_analyzer::model::KUBE_FILES {
        let name = f.strip_prefix("kubernetes/").unwrap();
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        n.set_json(f, serde_json::from_str(&text).unwrap());
    }
    assert!(n.kube.present() && n.load_problems.is_empty(), "{profile}");
    n
}

/// Edits the object of `list` in `file` named `name`.
pub(super) fn edit_named(
    n: &mut NodeData,
    file: &str,
    list: &str,
    name: &str,
    edit: impl FnOnce(&mut Value),
) {
    n.edit_json(file, |v| {
        let item = v[list]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {file} {list}"));
        edit(item);
    });
}

const RC_DEPLOYMENT: &str = "rocketchat-rocketchat";
const MONGO_STS: &str = "rocketchat-mongodb";

#[test]
fn resources_all_outcomes() {
    let id = "kubernetes.resources";
    expect(
        &[kube("helm-compliant")],
        id,
        Outcome::Pass,
        "all 8 Rocket.Chat containers",
    );
    let r = expect(
        &[kube("noncompliant")],
        id,
        Outcome::Fail,
        "has no requests for cpu, memory",
    );
    assert!(
        r.message.contains("chat/rocketchat-0588df19a5-4kq7z"),
        "{}",
        r.message
    );
    assert_eq!(r.evidence[0].file.as_deref(), Some("kubernetes/pods.json"));
    let mut n = kube("helm-compliant");
    n.edit_json("kubernetes/pods.json", |v| {
        for p in v["pods"].as_array_mut().unwrap() {
            if p["role"] == "rocketchat" {
                p["containers"][0]["limits"] = json!({"memory": "4Gi"});
            }
        }
    });
    expect(&[n], id, Outcome::Warn, "has no limits for cpu");
    let mut n = kube("helm-compliant");
    n.set_json("kubernetes/pods.json", Value::Null);
    expect(&[n], id, Outcome::Unknown, "kubernetes/pods.json");
    let mut n = kube("helm-compliant");
    n.edit_json("kubernetes/pods.json", |v| {
        for p in v["pods"].as_array_mut().unwrap() {
            p["role"] = json!("other");
        }
    });
    expect(
        &[n],
        id,
        Outcome::Unknown,
        "no Rocket.Chat pod in the namespaces read",
    );
    // No cluster view: Docker containers say it is not Kubernetes; nothing says unknown.
    expect(
        &[healthy("a", "n1")],
        id,
        Outcome::Pass,
        "not a Kubernetes installation",
    );
    let mut n = healthy("a", "n1");
    no_docker(&mut n);
    expect(&[n], id, Outcome::Unknown, "--kubeconfig");
}

#[test]
fn pdb_all_outcomes() {
    let id = "kubernetes.pdb";
    let r = expect(
        &[kube("helm-compliant")],
        id,
        Outcome::Pass,
        "rocketchat/rocketchat-rocketchat (3 replicas) is covered by PodDisruptionBudget rocketchat/rocketchat-rocketchat",
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/pdbs/0/name"))
    );
    expect(
        &[kube("noncompliant")],
        id,
        Outcome::Pass,
        "1 replica: no PodDisruptionBudget needed",
    );
    let mut n = kube("helm-compliant");
    n.edit_json("kubernetes/workloads.json", |v| v["pdbs"] = json!([]));
    expect(
        &[n],
        id,
        Outcome::Warn,
        "no PodDisruptionBudget selects its pods",
    );
    // A PDB selecting other pods does not count.
    let mut n = kube("helm-compliant");
    n.edit_json("kubernetes/workloads.json", |v| {
        v["pdbs"][0]["selector"] = json!({"app.kubernetes.io/name": "nats"})
    });
    expect(&[n], id, Outcome::Warn, "no PodDisruptionBudget");
    let mut n = kube("helm-compliant");
    n.edit_json("kubernetes/workloads.json", |v| {
        v["deployments"] = json!([])
    });
    expect(
        &[n],
        id,
        Outcome::Unknown,
        "no Deployment selects the Rocket.Chat pods",
    );
}

#[test]
fn replicas_ready_all_outcomes() {
    let id = "kubernetes.replicas-ready";
    expect(
        &[kube("helm-compliant")],
        id,
        Outcome::Pass,
        "5 Rocket.Chat Deployment(s) have every replica ready: rocketchat/rocketchat-rocketchat 3/3",
    );
    let mut n = kube("helm-compliant");
    edit_named(
        &mut n,
        "kubernetes/workloads.json",
        "deployments",
        RC_DEPLOYMENT,
        |d| d["ready_replicas"] = json!(1),
    );
    let r = expect(&[n], id, Outcome::Warn, "only 1 of 3 replicas ready");
    assert!(r.evidence.iter().any(|e| e.value.as_deref() == Some("1")));
    let mut n = kube("helm-compliant");
    edit_named(
        &mut n,
        "kubernetes/workloads.json",
        "deployments",
        RC_DEPLOYMENT,
        |d| d["ready_replicas"] = Value::Null,
    );
    expect(&[n], id, Outcome::Fail, "none of its 3 replicas is ready");
    let mut n = kube("noncompliant");
    n.set_json("kubernetes/pods.json", Value::Null);
    expect(&[n], id, Outcome::Unknown, "no usable kubernetes/pods.json");
}

#[test]
fn mongodb_all_outcomes() {
    let id = "kubernetes.mongodb";
    expect(
        &[kube("helm-compliant")],
        id,
        Outcome::Pass,
        "rocketchat/rocketchat-mongodb runs a 3-member MongoDB replica set",
    );
    expect(
        &[kube("noncompliant")],
        id,
        Outcome::Fail,
        "MongoDB runs in Deployment chat/mongo",
    );
    let mut n = kube("helm-compliant");
    edit_named(
        &mut n,
        "kubernetes/workloads.json",
        "statefulsets",
        MONGO_STS,
        |s| s["replicas"] = json!(1),
    );
    expect(&[n], id, Outcome::Warn, "runs 1 MongoDB member(s)");
    let mut n = kube("helm-compliant");
    edit_named(
        &mut n,
        "kubernetes/workloads.json",
        "statefulsets",
        MONGO_STS,
        |s| s["volume_claim_templates"] = json!([]),
    );
    expect(&[n], id, Outcome::Fail, "has no volume claim template");
    let mut n = kube("helm-compliant");
    edit_named(
        &mut n,
        "kubernetes/storage.json",
        "pvcs",
        "datadir-rocketchat-mongodb-2",
        |p| p["phase"] = json!("Pending"),
    );
    expect(
        &[n],
        id,
        Outcome::Fail,
        "not bound: datadir-rocketchat-mongodb-2 (Pending)",
    );
    let mut n = kube("helm-compliant");
    n.edit_json("kubernetes/pods.json", |v| {
        v["pods"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p["role"] != "mongodb")
    });
    expect(
        &[n],
        id,
        Outcome::Unknown,
        "no MongoDB pod in the namespaces read",
    );
}

#[test]
fn warning_events_all_outcomes() {
    let id = "kubernetes.warning-events";
    let r = expect(
        &[kube("helm-compliant")],
        id,
        Outcome::Warn,
        "pod could not be scheduled: FailedScheduling on Pod rocketchat/rocketchat-rocketchat-74095cb1d5-h5v9c",
    );
    assert!(r.message.contains("pod evicted: Evicted"), "{}", r.message);
    assert_eq!(
        r.evidence[0].file.as_deref(),
        Some("kubernetes/events.json")
    );
    expect(
        &[kube("noncompliant")],
        id,
        Outcome::Warn,
        "image pull error: Failed on Pod chat/rocketchat-5f6d7c8b9a-zz9kq",
    );
    let mut n = kube("helm-compliant");
    n.edit_json("kubernetes/events.json", |v| v["events"] = json!([]));
    expect(&[n], id, Outcome::Pass, "no Warning event of concern");
    // An event the policy does not list is not a finding.
    let mut n = kube("noncompliant");
    n.edit_json("kubernetes/events.json", |v| {
        for e in v["events"].as_array_mut().unwrap() {
            e["reason"] = json!("SomethingElse");
        }
    });
    expect(&[n], id, Outcome::Pass, "(2 Warning events read)");
    let mut n = kube("helm-compliant");
    n.set_json("kubernetes/events.json", Value::Null);
    expect(
        &[n],
        id,
        Outcome::Unknown,
        "no usable kubernetes/events.json",
    );
}

#[test]
fn bundles_of_one_cluster_are_read_once() {
    // Two bundles with the same cluster view (the CronJob's and a second collect):
    // its facts are given once, from the first.
    let a = kube("noncompliant");
    let mut b = kube("noncompliant");
    b.label = "second.rcdiag".into();
    let r = expect(&[a, b], "kubernetes.mongodb", Outcome::Fail, "chat/mongo");
    assert_eq!(r.evidence.len(), 1, "{:?}", r.evidence);
    assert_eq!(r.evidence[0].bundle, "cluster.rcdiag");
    // Two different clusters are both read.
    let r = expect(
        &[kube("noncompliant"), kube("helm-compliant")],
        "kubernetes.mongodb",
        Outcome::Fail,
        "chat/mongo",
    );
    assert!(r.evidence.iter().any(|e| {
        e.pointer
            .as_deref()
            .is_some_and(|p| p.starts_with("/statefulsets/"))
    }));
}
