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

/// `image.official` on a Kubernetes node's bundle (CRI containers, no Docker): decided
/// as a pod's container is, by the image name and the repository digests of its image
/// in `cri/images.json`; what is unknown names the CRI route, not the Docker socket.
#[test]
fn image_official_on_a_cri_node() {
    const RC: &str = "docker.io/rocketchat/rocket.chat:8.5.0";
    let rc = || cri_container("chat", "rc-0", "rocketchat", RC);
    // Pulled from the official repository: its digest is in cri/images.json.
    let n = cri_node(
        "k1",
        vec![rc()],
        Some(vec![cri_image("rocketchat", RC, &[CRI_OFFICIAL_DIGEST])]),
    );
    let r = expect(
        &[n],
        "image.official",
        Outcome::Pass,
        "official image docker.io/rocketchat/rocket.chat (pulled from docker.io/rocketchat/rocket.chat)",
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.file.as_deref() == Some("cri/images.json")
                && e.pointer.as_deref() == Some("/images/0/repo_digests")
                && e.value.as_deref() == Some(CRI_OFFICIAL_DIGEST)),
        "{:?}",
        r.evidence
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.file.as_deref() == Some("cri/containers.json")
                && e.pointer.as_deref() == Some("/containers/0/image")),
        "{:?}",
        r.evidence
    );
    // A custom build: not an official repository.
    let custom = "myregistry.local/rc-custom:6.9.0";
    let mut c = rc();
    c.image = Some(custom.into());
    c.env = Some(vec![
        "DEPLOY_METHOD=docker".into(),
        "ROOT_URL=x".into(),
        "MONGO_URL=y".into(),
    ]);
    let n = cri_node(
        "k1",
        vec![c],
        Some(vec![cri_image("rocketchat", custom, &[])]),
    );
    expect(
        &[n],
        "image.official",
        Outcome::Fail,
        "runs myregistry.local/rc-custom:6.9.0 (myregistry.local/rc-custom), not an official Rocket.Chat image",
    );
    // A re-tagged local build: the official name, but no repository digest at all (the
    // image was built or imported on the node). Warns, as for a pod or a Docker image.
    let n = cri_node(
        "k1",
        vec![rc()],
        Some(vec![cri_image("rocketchat", RC, &[])]),
    );
    let r = expect(
        &[n],
        "image.official",
        Outcome::Warn,
        "has no repository digest in cri/images.json (a local image, built or imported on the node)",
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/images/0/repo_digests")),
        "{:?}",
        r.evidence
    );
    // Pulled through a mirror: a digest, of another repository.
    let n = cri_node(
        "k1",
        vec![rc()],
        Some(vec![cri_image(
            "rocketchat",
            RC,
            &[
                "mirror.example.com/rocketchat/rocket.chat@sha256:a357e5cdfde61791a79a3d97ad2d12c5bccfefe902ad2478f87ea4b4a2a58797",
            ],
        )]),
    );
    expect(
        &[n],
        "image.official",
        Outcome::Warn,
        "the runtime pulled it from mirror.example.com/rocketchat/rocket.chat",
    );
    // cri/images.json not collected and image_ref a bare id: unknown, saying what to do
    // on a Kubernetes node.
    let mut n = cri_node("k1", vec![rc()], None);
    n.manifest.collectors.last_mut().unwrap().status = CollectorStatus::Partial;
    n.manifest.collectors.last_mut().unwrap().error = Some("ListImages: deadline exceeded".into());
    let r = expect(
        &[n],
        "image.official",
        Outcome::Unknown,
        "rerun rcdiag-agent collect on the node with the cri collector and the runtime's CRI socket mounted",
    );
    assert!(
        r.message.contains("no usable cri/images.json in k1.rcdiag"),
        "{}",
        r.message
    );
    assert!(!r.message.contains("Docker socket"), "{}", r.message);
    // A runtime that gives a digest as image_ref needs no image list.
    let mut c = rc();
    c.image_ref = Some(CRI_OFFICIAL_DIGEST.into());
    let n = cri_node("k1", vec![c], None);
    let r = expect(&[n], "image.official", Outcome::Pass, "official image");
    assert!(
        r.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/containers/0/image_ref")),
        "{:?}",
        r.evidence
    );
    // No container listed: the gap names the CRI route too.
    let mut n = cri_node("k1", vec![], None);
    n.set_json("cri/containers.json", Value::Null);
    n.manifest.collectors.last_mut().unwrap().status = CollectorStatus::Failed;
    n.manifest.collectors.last_mut().unwrap().error = Some(
        "cannot reach the CRI socket /run/containerd/containerd.sock: permission denied".into(),
    );
    let r = expect(&[n], "image.official", Outcome::Unknown, "CRI socket");
    assert!(r.message.contains("--cri-endpoint"), "{}", r.message);
}
