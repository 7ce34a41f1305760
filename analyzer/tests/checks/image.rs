//! `image.official`.

use super::*;

/// `image.official` by what the Rocket.Chat container shows: each row edits the
/// healthy node's container and names the outcome and a phrase of the message.
#[test]
fn image_official_by_container() {
    type Edit = fn(&mut Value);
    let rows: [(Edit, Outcome, &str); 6] = [
        (
            |_| {},
            Outcome::Pass,
            "official image registry.rocket.chat/rocketchat/rocket.chat",
        ),
        (
            // A Docker official image, without labels.
            |c| {
                c["image"] = json!("rocket.chat:8.5.1");
                c["image_labels"] = json!({});
                c["env"] = json!(["DEPLOY_METHOD=docker-official", "MONGO_URL=x", "ROOT_URL=y"]);
            },
            Outcome::Pass,
            "docker.io/library/rocket.chat",
        ),
        (
            |c| {
                c["image_labels"] =
                    json!({"org.opencontainers.image.source": "https://github.com/acme/fork"});
            },
            Outcome::Fail,
            "without the maintainer or OCI source label",
        ),
        (
            |c| {
                c["image_labels"] = json!({"org.opencontainers.image.source": "https://github.com/RocketChat/Rocket.Chat"});
            },
            Outcome::Pass,
            "official image",
        ),
        (
            |c| c["env"] = json!(["DEPLOY_METHOD=tar", "MONGO_URL=x"]),
            Outcome::Fail,
            "DEPLOY_METHOD=tar",
        ),
        (
            |c| {
                c.as_object_mut().unwrap().remove("image_labels");
            },
            Outcome::Unknown,
            "image labels were not collected",
        ),
    ];
    for (edit, outcome, needle) in rows {
        let mut n = healthy("a", "n1");
        n.edit_json("docker/containers.json", |v| {
            edit(&mut v[0]);
        });
        expect(&[n], "image.official", outcome, needle);
    }
}

#[test]
fn image_official_fail_custom_repository() {
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["image"] = json!("acme/rocketchat-custom:8.5.1");
    });
    let r = expect(&[n], "image.official", Outcome::Fail, "custom build");
    assert_eq!(
        r.evidence[0].value.as_deref(),
        Some("acme/rocketchat-custom:8.5.1")
    );
}

#[test]
fn image_official_fail_host_process() {
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| { v["processes"] = json!([{"pid": 4242, "kind": "rocketchat", "name": "node", "cmdline": "node main.js", "env_names": ["ROOT_URL", "MONGO_URL"], "in_container": false, "container_id": null}]); });
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
fn image_official_labels_from_images_json() {
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0].as_object_mut().unwrap().remove("image_labels");
    });
    n.set_json("docker/images.json", json!([{"id": "sha256:rc", "repo_tags": ["registry.rocket.chat/rocketchat/rocket.chat:8.5.1"], "labels": {"maintainer": "buildmaster@rocket.chat"}}]),);
    expect(&[n], "image.official", Outcome::Pass, "official image");
}

/// The registry digest decides whether an official name was pulled from an official
/// repository: in the container entry or, without one there, in `docker/images.json`.
#[test]
fn image_official_by_repo_digest() {
    // The healthy node's container carries the digest of the official repository.
    let r = expect(
        &[healthy("a", "n1")],
        "image.official",
        Outcome::Pass,
        "pulled from registry.rocket.chat/rocketchat/rocket.chat",
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/0/repo_digests")
                && e.value.as_deref() == Some(OFFICIAL_DIGEST)),
        "{:?}",
        r.evidence
    );
    // No digest: a local build or a re-tag under the official name and label.
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["repo_digests"] = json!([]);
    });
    expect(
        &[n.clone()],
        "image.official",
        Outcome::Warn,
        "cannot confirm it was pulled from an official registry",
    );
    // The digest in docker/images.json counts when the entry has none.
    n.set_json("docker/images.json", json!([{"id": "sha256:other", "repo_digests": []}, {"id": "sha256:rc", "repo_tags": ["registry.rocket.chat/rocketchat/rocket.chat:8.5.1"], "repo_digests": [OFFICIAL_DIGEST]}]));
    let r = expect(&[n.clone()], "image.official", Outcome::Pass, "pulled from");
    assert!(
        r.evidence
            .iter()
            .any(|e| e.file.as_deref() == Some("docker/images.json")
                && e.pointer.as_deref() == Some("/1/repo_digests")),
        "{:?}",
        r.evidence
    );
    // Pushed to (or pulled from) a registry of one's own: not an official repository.
    n.set_json("docker/images.json", json!([{"id": "sha256:rc", "repo_digests": ["myregistry.local/rocketchat/rocket.chat@sha256:4f4b6c3a0d0e6b9d8f0a1c2e3b4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60"]}]));
    expect(
        &[n],
        "image.official",
        Outcome::Warn,
        "not of an official repository (myregistry.local/rocketchat/rocket.chat@",
    );
    // A name that is not official fails even with an official digest (a re-tag).
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["image"] = json!("myregistry.local/rc-custom:8.5.1");
    });
    expect(&[n], "image.official", Outcome::Fail, "custom build");
    // An official name without the label fails, digest or not.
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["image_labels"] = json!({});
        v[0]["repo_digests"] = json!([]);
    });
    expect(
        &[n],
        "image.official",
        Outcome::Fail,
        "without the maintainer or OCI source label",
    );
}
