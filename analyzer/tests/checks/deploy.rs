//! `deploy.method`.

use super::*;

#[test]
fn deploy_method_pass() {
    expect(
        &[healthy("a", "n1")],
        "deploy.method",
        Outcome::Pass,
        "deploy method is docker",
    );
}

#[test]
fn deploy_method_fail_tar() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/statistics.json", |doc| {
        doc["deploy"]["method"] = json!("tar");
    });
    let r = expect(&[n], "deploy.method", Outcome::Fail, "manual install");
    assert_eq!(r.evidence[0].pointer.as_deref(), Some("/deploy/method"));
}

#[test]
fn deploy_method_warn_unrecognized() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/statistics.json", |doc| {
        doc["deploy"]["method"] = json!("snap");
    });
    expect(&[n], "deploy.method", Outcome::Warn, "\"snap\"");
}

#[test]
fn deploy_method_falls_back_to_container_env() {
    let mut n = healthy("a", "n1");
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    n.set_json("rocketchat/summary.json", serde_json::Value::Null);
    let r = expect(&[n.clone()], "deploy.method", Outcome::Pass, "docker");
    assert_eq!(
        r.evidence[0].file.as_deref(),
        Some("docker/containers.json")
    );
    n.edit_json("docker/containers.json", |v| {
        v[0]["env"] = json!(["MONGO_URL=x", "ROOT_URL=y"]);
    });
    expect(&[n], "deploy.method", Outcome::Fail, "tar");
}

#[test]
fn deploy_method_unknown() {
    let mut n = healthy("a", "n1");
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    n.set_json("rocketchat/summary.json", serde_json::Value::Null);
    no_docker(&mut n);
    skip_collector(&mut n, "rocketchat", "no MongoDB URI");
    expect(
        &[n],
        "deploy.method",
        Outcome::Unknown,
        "rocketchat collector was skipped",
    );
}
