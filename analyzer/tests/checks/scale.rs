//! `scale.orchestrated`.

use super::*;

#[test]
fn scale_pass_not_scaled() {
    expect(
        &[healthy("a", "n1")],
        "scale.orchestrated",
        Outcome::Pass,
        "not a scaled installation",
    );
}

#[test]
fn scale_pass_scaled_with_compose() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["instances"]["live"] = json!(3);
    });
    expect(&[n], "scale.orchestrated", Outcome::Pass, "is orchestrated");
}

#[test]
fn scale_fail_scaled_plain_docker() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["instances"]["live"] = json!(2);
    });
    n.edit_json("docker/containers.json", |v| {
        v[0]["labels"] = json!({});
    });
    expect(&[n], "scale.orchestrated", Outcome::Fail, "plain container");
}

#[test]
fn scale_fail_scaled_by_users_swarm() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["users"]["active_humans"] = json!(2500);
    });
    n.edit_json("docker/containers.json", |v| { v[0]["labels"] = json!({"com.docker.swarm.service.name": "rc_rocketchat", "com.docker.stack.namespace": "rc"}); });
    expect(&[n], "scale.orchestrated", Outcome::Fail, "Docker Swarm");
}

#[test]
fn scale_warn_kubernetes_without_helm() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["instances"]["live"] = json!(3);
    });
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["deploy"]["platform"] = json!("selfinstall");
    });
    n.edit_json("docker/containers.json", |v| {
        v[0]["labels"] =
            json!({"io.kubernetes.pod.name": "rc-0", "io.kubernetes.pod.namespace": "chat"});
    });
    expect(&[n], "scale.orchestrated", Outcome::Warn, "Helm");
}

#[test]
fn scale_pass_helm_by_env() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["instances"]["live"] = json!(3);
    });
    n.edit_json("docker/containers.json", |v| {
        v[0]["labels"] = json!({"io.kubernetes.pod.name": "rc-0"});
    });
    n.edit_json("docker/containers.json", |v| {
        v[0]["env"] = json!(["DEPLOY_METHOD=docker", "DEPLOY_PLATFORM=helm-chart"]);
    });
    expect(
        &[n],
        "scale.orchestrated",
        Outcome::Pass,
        "Kubernetes with Helm",
    );
}

#[test]
fn scale_counts_containers_across_bundles() {
    let mut a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    for n in [&mut a, &mut b] {
        n.set_json("rocketchat/summary.json", serde_json::Value::Null);
        n.edit_json("rocketchat/statistics.json", |doc| {
            doc.as_object_mut().unwrap().remove("activeUsers");
        });
    }
    let r = expect(
        &[a.clone(), b.clone()],
        "scale.orchestrated",
        Outcome::Pass,
        "2 instance(s)",
    );
    assert!(r.message.contains("is orchestrated"), "{}", r.message);
    // The same node twice is counted once.
    let mut dup = a.clone();
    dup.label = "a-again".into();
    let _ = b;
    let r = run(&[a, dup]);
    let r = get(&r, "scale.orchestrated");
    assert!(!r.message.contains("2 instance(s)"), "{}", r.message);
}

#[test]
fn scale_unknown() {
    let mut n = healthy("a", "n1");
    n.set_json("rocketchat/summary.json", serde_json::Value::Null);
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    no_docker(&mut n);
    expect(
        &[n],
        "scale.orchestrated",
        Outcome::Unknown,
        "cannot tell whether the installation is scaled",
    );
}
