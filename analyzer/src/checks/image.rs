//! `image.official`: Rocket.Chat runs from an official image, not a custom build or a
//! manual install on the host (facts §1, §2). Docker containers are judged by their
//! image name, labels and repository digests; the containers of Rocket.Chat pods in a
//! cluster view by their image name and the digest the runtime pulled (`imageID`); the
//! CRI containers of a Kubernetes node's bundle the same way, by their image name and
//! the repository digests of their image (`cri/images.json`, else `image_ref`), as CRI
//! shows no image labels. A CRI container that is a pod's container of a cluster
//! bundle given too is judged once, from the pod view.

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude,
    cri_twin_evidence, in_cluster, process_pointer, processes_of, rc_containers, rc_pod_servers,
};
use crate::model::cri::CRI_CONTAINERS;
use crate::model::{Container, ImageRef, NodeData, PodCtr};
use crate::policy::Policy;

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[Check {
    id: CheckId::ImageOfficial,
    title: "Official Rocket.Chat image",
    area: "image",
    description: "Every Rocket.Chat container (Docker, or of a Rocket.Chat pod) runs an official image (policy repositories, with the maintainer or OCI source label where Docker shows one, DEPLOY_METHOD not tar) that was pulled from an official repository (a repo digest of one, or the pod's imageID); no Rocket.Chat process runs on the host outside a container.",
    run: official,
}];

const ID: CheckId = CheckId::ImageOfficial;
const CONTAINERS: &str = "docker/containers.json";
const CRI_IMAGES: &str = "cri/images.json";

/// Runs `image.official`.
pub(crate) fn official(input: &CheckInput) -> CheckResult {
    let policy = input.policy;
    let mut findings = Vec::new();
    let mut rc_seen = 0usize;
    let mut gaps = Vec::new();
    for node in input.nodes {
        // Rocket.Chat running on the host, outside any container: a manual install.
        for (idx, p) in processes_of(node, "rocketchat") {
            rc_seen += 1;
            let pid = p.pid.map_or_else(|| "?".into(), |pid| pid.to_string());
            match p.in_container {
                Some(false) => findings.push(Finding::new(
                    Outcome::Fail,
                    format!("Rocket.Chat process {pid} on {} runs outside any container (a manual install)", node.hostname()),
                    vec![Evidence::file(node, "host/host.json").at(process_pointer(idx, "in_container")).val(
                        p.cmdline.as_deref().unwrap_or("in_container: false"),
                    )],
                )),
                Some(true) => {}
                None => gaps.push(format!("process {pid} on {} has no in_container flag", node.hostname())),
            }
        }
        let Some(containers) = rc_containers(input, node) else {
            if in_cluster(input, node) {
                continue;
            }
            let tried_cri = node.cri_runtime.is_some()
                || node
                    .collector("cri")
                    .is_some_and(|c| c.status != rcdiag_bundle::CollectorStatus::Skipped);
            gaps.push(if tried_cri {
                // The CRI collector ran (not skipped for want of a socket): a Kubernetes node.
                format!(
                    "{}; {}; rerun rcdiag-agent collect with access to the runtime's CRI socket on a Kubernetes node (the DaemonSet of packaging/kubernetes, or --cri-endpoint), or to the Docker socket on a Docker host",
                    node.why_missing(CRI_CONTAINERS, "cri"),
                    node.why_missing(CONTAINERS, "docker")
                )
            } else {
                format!(
                    "{}; rerun rcdiag-agent collect with access to the Docker socket",
                    node.why_missing(CONTAINERS, "docker")
                )
            });
            continue;
        };
        for c in containers {
            rc_seen += 1;
            let ev = || {
                Evidence::file(node, c.file)
                    .at(c.pointer("image"))
                    .val(&c.image)
            };
            if c.image_ref.repository.is_empty() {
                findings.push(Finding::new(
                    Outcome::Unknown,
                    format!(
                        "container {} on {}: its image is known only by id ({}); {} has no tag for it",
                        c.name,
                        node.hostname(),
                        c.image,
                        if c.file == CRI_CONTAINERS { CRI_IMAGES } else { "docker/images.json" }
                    ),
                    vec![ev()],
                ));
                continue;
            }
            let Some(official) = policy
                .images
                .official
                .iter()
                .find(|o| o.repository == c.image_ref.repository)
            else {
                findings.push(Finding::new(
                    Outcome::Fail,
                    format!(
                        "container {} on {} runs {} ({}), not an official Rocket.Chat image: a custom build",
                        c.name,
                        node.hostname(),
                        c.image,
                        c.image_ref.repository
                    ),
                    vec![ev()],
                ));
                continue;
            };
            if let Some(m) = c.env_value("DEPLOY_METHOD")
                && policy
                    .deploy
                    .failing_methods
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(m.trim()))
            {
                findings.push(Finding::new(
                    Outcome::Fail,
                    format!("container {} on {} sets DEPLOY_METHOD={m}: a manual (tar) build, not the official image", c.name, node.hostname()),
                    vec![Evidence::file(node, c.file).at(c.pointer("env")).val(format!("DEPLOY_METHOD={m}"))],
                ));
                continue;
            }
            if c.file == CRI_CONTAINERS {
                // CRI shows no image labels: decided as a pod's container is.
                findings.push(cri_image(node, &c, policy, ev()));
                continue;
            }
            if official.required_labels_any.is_empty() {
                findings.push(pulled_from_official(node, &c, policy, vec![ev()]));
                continue;
            }
            match c.image_labels(node) {
                None => findings.push(Finding::new(
                    Outcome::Unknown,
                    format!(
                        "container {} on {} runs {} but its image labels were not collected, so a re-tagged custom build cannot be ruled out; rerun rcdiag-agent collect with access to the Docker socket",
                        c.name,
                        node.hostname(),
                        c.image
                    ),
                    vec![ev()],
                )),
                Some(labels) => {
                    let hit = official.required_labels_any.iter().find(|want| match want.split_once('=') {
                        Some((k, v)) => labels.get(k).is_some_and(|have| have.trim_end_matches('/').eq_ignore_ascii_case(v.trim_end_matches('/'))),
                        None => labels.contains_key(want.as_str()),
                    });
                    match hit {
                        Some(label) => findings.push(pulled_from_official(
                            node,
                            &c,
                            policy,
                            vec![ev(), Evidence::file(node, c.file).at(c.pointer("image_labels")).val(label)],
                        )),
                        None => findings.push(Finding::new(
                            Outcome::Fail,
                            format!(
                                "container {} on {} runs {} under an official name but without the maintainer or OCI source label: a custom build",
                                c.name,
                                node.hostname(),
                                c.image
                            ),
                            vec![ev(), Evidence::file(node, c.file).at(c.pointer("image_labels")).val(format!("{labels:?}"))],
                        )),
                    }
                }
            }
        }
    }
    for (node, c) in rc_pod_servers(input) {
        rc_seen += 1;
        let mut f = pod_image(node, &c, policy);
        // The same container in a node bundle (CRI, left out above): what it runs there.
        if f.outcome != Outcome::Pass
            && let Some(ev) = cri_twin_evidence(input, node, &c, "image_id", |raw| {
                format!(
                    "the same container: {}",
                    raw.repo_digests
                        .first()
                        .or(raw.image_id.as_ref())
                        .map_or("no image_ref", String::as_str)
                )
            })
        {
            f.evidence.push(ev);
        }
        findings.push(f);
    }
    if rc_seen == 0 {
        let msg = if gaps.is_empty() {
            "no Rocket.Chat container or process found on any node; collect a bundle on the node(s) running Rocket.Chat".to_string()
        } else {
            format!("no Rocket.Chat container found: {}", gaps.join("; "))
        };
        return conclude(input, ID, Vec::new(), &msg);
    }
    for g in gaps {
        findings.push(Finding::new(Outcome::Unknown, g, Vec::new()));
    }
    conclude(input, ID, findings, "")
}

/// The verdict on a Rocket.Chat container of a pod: an official repository, not
/// `DEPLOY_METHOD=tar`, and pulled from an official repository (the `imageID` the
/// runtime recorded is `repo@sha256:...`). The API shows no image labels: the pulled
/// digest of an official repository stands for them (a re-tagged local build has none).
fn pod_image(node: &NodeData, c: &PodCtr<'_>, policy: &Policy) -> Finding {
    const PODS: &str = "kubernetes/pods.json";
    let who = c.who();
    let image = c.image();
    let ev = || Evidence::file(node, PODS).at(c.pointer("image")).val(image);
    if c.image_ref.repository.is_empty() {
        return Finding::new(
            Outcome::Unknown,
            format!("{who}: its image was not recorded"),
            vec![ev()],
        );
    }
    if !policy
        .images
        .official
        .iter()
        .any(|o| o.repository == c.image_ref.repository)
    {
        return Finding::new(
            Outcome::Fail,
            format!(
                "{who} runs {image} ({}), not an official Rocket.Chat image: a custom build",
                c.image_ref.repository
            ),
            vec![ev()],
        );
    }
    if let Some(m) = c.env_value("DEPLOY_METHOD")
        && policy
            .deploy
            .failing_methods
            .iter()
            .any(|f| f.eq_ignore_ascii_case(m.trim()))
    {
        return Finding::new(
            Outcome::Fail,
            format!("{who} sets DEPLOY_METHOD={m}: a manual (tar) build, not the official image"),
            vec![
                Evidence::file(node, PODS)
                    .at(c.pointer("env"))
                    .val(format!("DEPLOY_METHOD={m}")),
            ],
        );
    }
    let id_ev = |v: &str| Evidence::file(node, PODS).at(c.pointer("image_id")).val(v);
    match c.pulled() {
        Some(r)
            if policy
                .images
                .official
                .iter()
                .any(|o| o.repository == r.repository) =>
        {
            Finding::new(
                Outcome::Pass,
                format!(
                    "Rocket.Chat runs the official image {} (pulled from {})",
                    c.image_ref.repository, r.repository
                ),
                vec![ev(), id_ev(c.c.image_id.as_deref().unwrap_or(""))],
            )
        }
        Some(r) => Finding::new(
            Outcome::Warn,
            format!(
                "{who} runs {image} under an official name, but the runtime pulled it from {} (imageID), not an official repository: a mirror or a re-tag; pull it from an official repository",
                r.repository
            ),
            vec![ev(), id_ev(c.c.image_id.as_deref().unwrap_or(""))],
        ),
        None if c.c.image_id.as_deref().is_some_and(|s| !s.is_empty()) => Finding::new(
            Outcome::Warn,
            format!(
                "{who} runs {image} under an official name, but its imageID names no repository (a local image): cannot confirm it was pulled from an official registry"
            ),
            vec![ev(), id_ev(c.c.image_id.as_deref().unwrap_or(""))],
        ),
        None => Finding::new(
            Outcome::Unknown,
            format!(
                "{who} runs {image}: the runtime has not recorded the image it pulled (imageID; the container has not started), so its origin is unknown"
            ),
            vec![ev()],
        ),
    }
}

/// The verdict on a container whose image has an official name (and its label where
/// the policy wants one): it passes when one of the image's repository digests
/// (`RepoDigests`, set by Docker when it pulls an image) is in an official
/// repository; without one the image was built or re-tagged here, so it warns.
fn pulled_from_official(
    node: &NodeData,
    c: &Container<'_>,
    policy: &Policy,
    mut evidence: Vec<Evidence>,
) -> Finding {
    let (digests, file, pointer) = if c.raw.repo_digests.is_empty() {
        let found = node.image_index_by_id(c.raw.image_id.as_deref().unwrap_or(""));
        match found {
            Some((i, img)) => (
                img.repo_digests.as_slice(),
                "docker/images.json",
                format!("/{i}/repo_digests"),
            ),
            None => (
                c.raw.repo_digests.as_slice(),
                c.file,
                c.pointer("repo_digests"),
            ),
        }
    } else {
        (
            c.raw.repo_digests.as_slice(),
            c.file,
            c.pointer("repo_digests"),
        )
    };
    let official = digests.iter().find(|d| {
        let r = ImageRef::parse(d);
        r.digest.is_some()
            && policy
                .images
                .official
                .iter()
                .any(|o| o.repository == r.repository)
    });
    match official {
        Some(d) => {
            evidence.push(Evidence::file(node, file).at(pointer).val(d));
            Finding::new(
                Outcome::Pass,
                format!(
                    "Rocket.Chat runs the official image {} (pulled from {})",
                    c.image_ref.repository,
                    ImageRef::parse(d).repository
                ),
                evidence,
            )
        }
        None => {
            let seen = if digests.is_empty() {
                "it has no repository digest".to_string()
            } else {
                // A few show where it came from; the list is the bundle's, any length.
                let shown: Vec<&str> = digests.iter().take(3).map(String::as_str).collect();
                let more = digests.len() - shown.len();
                format!(
                    "its repository digests are not of an official repository ({}{})",
                    shown.join(", "),
                    if more > 0 {
                        format!(", and {more} more")
                    } else {
                        String::new()
                    }
                )
            };
            evidence.push(Evidence::file(node, file).at(pointer).val(seen.clone()));
            Finding::new(
                Outcome::Warn,
                format!(
                    "container {} on {} runs {} with the official name and label, but {seen}: cannot confirm it was pulled from an official registry (a local build or a re-tag); pull it from an official repository (docker pull {})",
                    c.name,
                    node.hostname(),
                    c.image,
                    c.image
                ),
                evidence,
            )
        }
    }
}

/// The verdict on a CRI container of a node bundle whose image has an official name,
/// as [`pod_image`] decides a pod's container: CRI shows no image labels, so a
/// repository digest of an official repository stands for them. The digests are the
/// image's in `cri/images.json` (the runtime records one per repository it pulled the
/// image from), else `image_ref` when the runtime gives a digest there.
fn cri_image(node: &NodeData, c: &Container<'_>, policy: &Policy, ev: Evidence) -> Finding {
    let who = format!("container {} on {}", c.name, node.hostname());
    let image_ref = c
        .raw
        .image_id
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or("");
    let listed = node.cri_images.as_ref().and_then(|imgs| {
        imgs.images.iter().enumerate().find(|(_, i)| {
            !image_ref.is_empty()
                && (i.id.as_deref() == Some(image_ref)
                    || i.repo_digests.iter().any(|d| d == image_ref))
        })
    });
    let (digests, at) = match listed {
        Some((i, img)) => (
            img.repo_digests.as_slice(),
            Evidence::file(node, CRI_IMAGES).at(format!("/images/{i}/repo_digests")),
        ),
        None => (
            c.raw.repo_digests.as_slice(),
            Evidence::file(node, c.file).at(c.pointer("image_id")),
        ),
    };
    let is_official = |r: &ImageRef| {
        policy
            .images
            .official
            .iter()
            .any(|o| o.repository == r.repository)
    };
    let parsed: Vec<ImageRef> = digests
        .iter()
        .map(|d| ImageRef::parse(d))
        .filter(|r| r.digest.is_some() && !r.repository.is_empty())
        .collect();
    if let Some((d, r)) = digests
        .iter()
        .zip(digests.iter().map(|d| ImageRef::parse(d)))
        .find(|(_, r)| r.digest.is_some() && is_official(r))
    {
        return Finding::new(
            Outcome::Pass,
            format!(
                "Rocket.Chat runs the official image {} (pulled from {})",
                c.image_ref.repository, r.repository
            ),
            vec![ev, at.val(d)],
        );
    }
    if let Some(r) = parsed.first() {
        return Finding::new(
            Outcome::Warn,
            format!(
                "{who} runs {} under an official name, but the runtime pulled it from {} (its repository digests), not an official repository: a mirror or a re-tag; pull it from an official repository",
                c.image, r.repository
            ),
            vec![ev, at.val(digests.first().map_or("", String::as_str))],
        );
    }
    if listed.is_some() {
        return Finding::new(
            Outcome::Warn,
            format!(
                "{who} runs {} under an official name, but its image has no repository digest in {CRI_IMAGES} (a local image, built or imported on the node): cannot confirm it was pulled from an official registry; let the kubelet pull it from an official repository",
                c.image
            ),
            vec![ev, at.val("repo_digests: []")],
        );
    }
    let why = if image_ref.is_empty() {
        "the runtime has not recorded the image it runs (image_ref)".to_string()
    } else if node.cri_images.is_none() {
        format!(
            "{}, so its repository digests are unknown",
            node.why_missing(CRI_IMAGES, "cri")
        )
    } else {
        format!("its image {image_ref} is not in {CRI_IMAGES}")
    };
    Finding::new(
        Outcome::Unknown,
        format!(
            "{who} runs {}: {why}, so a re-tagged custom build cannot be ruled out; rerun rcdiag-agent collect on the node with the cri collector and the runtime's CRI socket mounted (the DaemonSet of packaging/kubernetes, or --cri-endpoint)",
            c.image
        ),
        vec![ev],
    )
}
