//! The baseline (a healthy node passes everything) and what every check shares: evidence, unknown never pass, wrong types.

use super::*;

#[test]
fn healthy_node_passes_every_check() {
    let results = run(&[healthy("a.rcdiag", "node1")]);
    assert_eq!(results.len(), CHECKS.len());
    for (r, info) in results.iter().zip(CHECKS) {
        assert_eq!(r.id, info.id, "results come in CHECKS order");
        assert_eq!(r.outcome, Outcome::Pass, "{}: {}", r.id, r.message);
        assert!(
            r.remediation.starts_with("https://")
                || r.remediation.starts_with("analyzer/CHECKS.md#"),
            "{} has a remediation link (or a section of this repo's CHECKS.md): {}",
            r.id,
            r.remediation
        );
        assert!(!r.message.is_empty());
    }
}

#[test]
fn evidence_names_bundle_node_and_file() {
    let results = run(&[healthy("a.rcdiag", "node1")]);
    let r = get(&results, "image.official");
    let e = &r.evidence[0];
    assert_eq!(e.bundle, "a.rcdiag");
    assert_eq!(e.node, "node1");
    assert_eq!(e.file.as_deref(), Some("docker/containers.json"));
    assert_eq!(e.pointer.as_deref(), Some("/0/image"));
}

#[test]
fn no_bundles_give_unknown_never_pass() {
    let results = run(&[]);
    assert_eq!(results.len(), CHECKS.len());
    for r in &results {
        assert_eq!(r.outcome, Outcome::Unknown, "{}: {}", r.id, r.message);
    }
}

#[test]
fn empty_node_gives_unknown_never_pass() {
    let mut n = NodeData::new("empty.rcdiag", manifest("node1"));
    n.manifest.collectors.clear();
    for r in run(&[n]) {
        assert_ne!(r.outcome, Outcome::Pass, "{}: {}", r.id, r.message);
    }
}

#[test]
fn wrong_types_do_not_crash_or_pass() {
    let mut n = NodeData::new("bad.rcdiag", manifest("node1"));
    n.set_json("host/host.json", json!("not an object"));
    n.set_json("docker/containers.json", json!({"not": "an array"}));
    n.set_json("docker/info.json", json!([1, 2, 3]));
    n.set_json("docker/images.json", json!(42));
    n.set_json(
        "mongodb/summary.json",
        json!({"version": 8, "replica_set": "yes", "storage_engine": ["wiredTiger"]}),
    );
    n.mongodb
        .insert("buildInfo".into(), json!({"reply": {"version": {"x": 1}}}));
    n.set_json("rocketchat/summary.json", json!({"version": {"value": 851}, "users": {"concurrent": "many"}, "instances": {"live": -1}, "endpoints": "none"}),);
    n.set_json("rocketchat/settings.json", json!(null));
    n.set_json(
        "rocketchat/statistics.json",
        json!({"deploy": "docker", "version": ["8.5.1"]}),
    );
    let results = run(&[n]);
    for id in [
        "image.official",
        "deploy.method",
        "hardware.cpu",
        "version.supported",
        "mongodb.version",
        "mongodb.storage-engine",
        "host.disk-free",
        "containers.restarting",
    ] {
        assert_eq!(
            get(&results, id).outcome,
            Outcome::Unknown,
            "{id}: {}",
            get(&results, id).message
        );
    }
    // Containers with wrong inner types.
    let mut n = healthy("a.rcdiag", "node1");
    n.edit_json("docker/containers.json", |v| { v.as_array_mut().unwrap().push(json!({"name": 5, "image": null, "env": "X=1", "labels": [], "state": 7, "restart_count": "many"})); });
    n.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap().push(json!("just a string"));
    });
    let results = run(&[n]);
    assert_eq!(get(&results, "image.official").outcome, Outcome::Pass);
}

#[test]
fn a_top_level_of_the_wrong_shape_is_a_load_problem_its_checks_name() {
    let mut n = healthy("bad.rcdiag", "node1");
    n.set_json("host/host.json", json!(["not", "an object"]));
    n.set_json("docker/info.json", serde_json::Value::Null);
    assert!(n.host.is_none());
    let problem = &n.load_problems["host/host.json"];
    assert!(
        problem.contains("host/host.json holds a list where an object was expected"),
        "{problem}"
    );
    let r = expect(
        &[n],
        "hardware.cpu",
        Outcome::Unknown,
        "present but unusable",
    );
    assert!(
        r.message.contains("an object was expected"),
        "{}",
        r.message
    );
}
