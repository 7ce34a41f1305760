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

/// `kube(profile)` with `file` edited.
fn kube_edited(profile: &str, file: &str, edit: impl FnOnce(&mut Value)) -> NodeData {
    let mut n = kube(profile);
    n.edit_json(file, edit);
    n
}

/// `kube(profile)` with `file` unusable (null).
fn kube_without(profile: &str, file: &str) -> NodeData {
    let mut n = kube(profile);
    n.set_json(file, Value::Null);
    n
}

/// `kube(profile)` with the object of `list` in `file` named `name` edited.
fn kube_named(
    profile: &str,
    file: &str,
    list: &str,
    name: &str,
    edit: impl FnOnce(&mut Value),
) -> NodeData {
    let mut n = kube(profile);
    edit_named(&mut n, file, list, name, edit);
    n
}

/// Each case's node gives check `id` the outcome, its message holding the text.
fn expect_each(id: &str, cases: Vec<(NodeData, Outcome, &str)>) {
    for (n, outcome, needle) in cases {
        expect(&[n], id, outcome, needle);
    }
}

const RC_DEPLOYMENT: &str = "rocketchat-rocketchat";
const MONGO_STS: &str = "rocketchat-mongodb";

#[test]
fn resources_all_outcomes() {
    let id = "kubernetes.resources";
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
    let mut no_docker_node = healthy("a", "n1");
    no_docker(&mut no_docker_node);
    expect_each(
        id,
        vec![
            (
                kube("helm-compliant"),
                Outcome::Pass,
                "all 8 Rocket.Chat containers",
            ),
            (
                kube_edited("helm-compliant", "kubernetes/pods.json", |v| {
                    for p in v["pods"].as_array_mut().unwrap() {
                        if p["role"] == "rocketchat" {
                            p["containers"][0]["limits"] = json!({"memory": "4Gi"});
                        }
                    }
                }),
                Outcome::Warn,
                "has no limits for cpu",
            ),
            (
                kube_without("helm-compliant", "kubernetes/pods.json"),
                Outcome::Unknown,
                "kubernetes/pods.json",
            ),
            (
                kube_edited("helm-compliant", "kubernetes/pods.json", |v| {
                    for p in v["pods"].as_array_mut().unwrap() {
                        p["role"] = json!("other");
                    }
                }),
                Outcome::Unknown,
                "no Rocket.Chat pod in the namespaces read",
            ),
            // No cluster view: Docker containers say it is not Kubernetes; nothing says
            // unknown.
            (
                healthy("a", "n1"),
                Outcome::Pass,
                "not a Kubernetes installation",
            ),
            (no_docker_node, Outcome::Unknown, "--kubeconfig"),
        ],
    );
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
    let workloads = "kubernetes/workloads.json";
    expect_each(
        id,
        vec![
            (
                kube("noncompliant"),
                Outcome::Pass,
                "1 replica: no PodDisruptionBudget needed",
            ),
            (
                kube_edited("helm-compliant", workloads, |v| v["pdbs"] = json!([])),
                Outcome::Warn,
                "no PodDisruptionBudget selects its pods",
            ),
            // A PDB selecting other pods does not count.
            (
                kube_edited("helm-compliant", workloads, |v| {
                    v["pdbs"][0]["selector"] = json!({"app.kubernetes.io/name": "nats"})
                }),
                Outcome::Warn,
                "no PodDisruptionBudget",
            ),
            (
                kube_edited("helm-compliant", workloads, |v| {
                    v["deployments"] = json!([])
                }),
                Outcome::Unknown,
                "no Deployment selects the Rocket.Chat pods",
            ),
        ],
    );
}

#[test]
fn replicas_ready_all_outcomes() {
    let id = "kubernetes.replicas-ready";
    let workloads = "kubernetes/workloads.json";
    let r = expect(
        &[kube_named(
            "helm-compliant",
            workloads,
            "deployments",
            RC_DEPLOYMENT,
            |d| d["ready_replicas"] = json!(1),
        )],
        id,
        Outcome::Warn,
        "only 1 of 3 replicas ready",
    );
    assert!(r.evidence.iter().any(|e| e.value.as_deref() == Some("1")));
    expect_each(
        id,
        vec![
            (
                kube("helm-compliant"),
                Outcome::Pass,
                "5 Rocket.Chat Deployment(s) have every replica ready: rocketchat/rocketchat-rocketchat 3/3",
            ),
            (
                kube_named(
                    "helm-compliant",
                    workloads,
                    "deployments",
                    RC_DEPLOYMENT,
                    |d| d["ready_replicas"] = Value::Null,
                ),
                Outcome::Fail,
                "none of its 3 replicas is ready",
            ),
            (
                kube_without("noncompliant", "kubernetes/pods.json"),
                Outcome::Unknown,
                "no usable kubernetes/pods.json",
            ),
        ],
    );
}

#[test]
fn mongodb_all_outcomes() {
    let workloads = "kubernetes/workloads.json";
    expect_each(
        "kubernetes.mongodb",
        vec![
            (
                kube("helm-compliant"),
                Outcome::Pass,
                "rocketchat/rocketchat-mongodb runs a 3-member MongoDB replica set",
            ),
            (
                kube("noncompliant"),
                Outcome::Fail,
                "MongoDB runs in Deployment chat/mongo",
            ),
            (
                kube_named(
                    "helm-compliant",
                    workloads,
                    "statefulsets",
                    MONGO_STS,
                    |s| s["replicas"] = json!(1),
                ),
                Outcome::Warn,
                "runs 1 MongoDB member(s)",
            ),
            (
                kube_named(
                    "helm-compliant",
                    workloads,
                    "statefulsets",
                    MONGO_STS,
                    |s| s["volume_claim_templates"] = json!([]),
                ),
                Outcome::Fail,
                "has no volume claim template",
            ),
            (
                kube_named(
                    "helm-compliant",
                    "kubernetes/storage.json",
                    "pvcs",
                    "datadir-rocketchat-mongodb-2",
                    |p| p["phase"] = json!("Pending"),
                ),
                Outcome::Fail,
                "not bound: datadir-rocketchat-mongodb-2 (Pending)",
            ),
            (
                kube_edited("helm-compliant", "kubernetes/pods.json", |v| {
                    v["pods"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|p| p["role"] != "mongodb")
                }),
                Outcome::Unknown,
                "no MongoDB pod in the namespaces read",
            ),
        ],
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
    let events = "kubernetes/events.json";
    expect_each(
        id,
        vec![
            (
                kube("noncompliant"),
                Outcome::Warn,
                "image pull error: Failed on Pod chat/rocketchat-5f6d7c8b9a-zz9kq",
            ),
            (
                kube_edited("helm-compliant", events, |v| v["events"] = json!([])),
                Outcome::Pass,
                "no Warning event of concern",
            ),
            // An event the policy does not list is not a finding.
            (
                kube_edited("noncompliant", events, |v| {
                    for e in v["events"].as_array_mut().unwrap() {
                        e["reason"] = json!("SomethingElse");
                    }
                }),
                Outcome::Pass,
                "(2 Warning events read)",
            ),
            (
                kube_without("helm-compliant", events),
                Outcome::Unknown,
                "no usable kubernetes/events.json",
            ),
        ],
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
