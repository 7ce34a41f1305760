//! `image.official`.

use super::*;

#[test]
fn image_official_pass() {
    expect(
        &[healthy("a", "n1")],
        "image.official",
        Outcome::Pass,
        "official image registry.rocket.chat/rocketchat/rocket.chat",
    );
}

#[test]
fn image_official_pass_docker_official_image_without_labels() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image"] = json!("rocket.chat:8.5.1");
    rc_mut(&mut n)["image_labels"] = json!({});
    rc_mut(&mut n)["env"] = json!(["DEPLOY_METHOD=docker-official", "MONGO_URL=x", "ROOT_URL=y"]);
    expect(
        &[n],
        "image.official",
        Outcome::Pass,
        "docker.io/library/rocket.chat",
    );
}

#[test]
fn image_official_fail_custom_repository() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image"] = json!("acme/rocketchat-custom:8.5.1");
    let r = expect(&[n], "image.official", Outcome::Fail, "custom build");
    assert_eq!(
        r.evidence[0].value.as_deref(),
        Some("acme/rocketchat-custom:8.5.1")
    );
}

#[test]
fn image_official_fail_official_name_without_labels() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image_labels"] =
        json!({"org.opencontainers.image.source": "https://github.com/acme/fork"});
    expect(
        &[n],
        "image.official",
        Outcome::Fail,
        "without the maintainer or OCI source label",
    );
}

#[test]
fn image_official_pass_with_oci_source_label_only() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image_labels"] =
        json!({"org.opencontainers.image.source": "https://github.com/RocketChat/Rocket.Chat"});
    expect(&[n], "image.official", Outcome::Pass, "official image");
}

#[test]
fn image_official_fail_deploy_method_tar() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["env"] = json!(["DEPLOY_METHOD=tar", "MONGO_URL=x"]);
    expect(&[n], "image.official", Outcome::Fail, "DEPLOY_METHOD=tar");
}

#[test]
fn image_official_fail_host_process() {
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["processes"] = json!([{"pid": 4242, "kind": "rocketchat", "name": "node", "cmdline": "node main.js", "env_names": ["ROOT_URL", "MONGO_URL"], "in_container": false, "container_id": null}]);
    let r = expect(
        &[n],
        "image.official",
        Outcome::Fail,
        "outside any container",
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/processes/0/in_container"))
    );
}

#[test]
fn image_official_unknown_without_docker() {
    let mut n = healthy("a.rcdiag", "n1");
    no_docker(&mut n);
    let r = expect(
        &[n],
        "image.official",
        Outcome::Unknown,
        "docker collector was skipped",
    );
    assert!(
        r.message.contains("permission denied") && r.message.contains("Docker socket"),
        "{}",
        r.message
    );
}

#[test]
fn image_official_unknown_when_labels_not_collected() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)
        .as_object_mut()
        .unwrap()
        .remove("image_labels");
    expect(
        &[n],
        "image.official",
        Outcome::Unknown,
        "image labels were not collected",
    );
}

#[test]
fn image_official_labels_from_images_json() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)
        .as_object_mut()
        .unwrap()
        .remove("image_labels");
    n.docker_images = Some(
        json!([{"id": "sha256:rc", "repo_tags": ["registry.rocket.chat/rocketchat/rocket.chat:8.5.1"], "labels": {"maintainer": "buildmaster@rocket.chat"}}]),
    );
    expect(&[n], "image.official", Outcome::Pass, "official image");
}
