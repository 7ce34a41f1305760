//! `image.official` on Kubernetes: a pod's container (`kubernetes/pods.json`: its
//! image and the digest the runtime pulled, `imageID`) and a node bundle's CRI
//! container (`cri/containers.json`: its image and the repository digests of its image
//! in `cri/images.json`). Neither shows image labels: a digest of an official
//! repository stands for them.

use super::CRI_IMAGES;
use crate::checks::{Evidence, Finding, Outcome};
use crate::model::{Container, ImageRef, NodeData, PodCtr};
use crate::policy::Policy;

/// The verdict on a Rocket.Chat container of a pod: an official repository, not
/// `DEPLOY_METHOD=tar`, and pulled from an official repository (the `imageID` the
/// runtime recorded is `repo@sha256:...`). The API shows no image labels: the pulled
/// digest of an official repository stands for them (a re-tagged local build has none).
pub(super) fn pod_image(node: &NodeData, c: &PodCtr<'_>, policy: &Policy) -> Finding {
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

/// The verdict on a CRI container of a node bundle whose image has an official name,
/// as [`pod_image`] decides a pod's container: CRI shows no image labels, so a
/// repository digest of an official repository stands for them. The digests are the
/// image's in `cri/images.json` (the runtime records one per repository it pulled the
/// image from), else `image_ref` when the runtime gives a digest there.
pub(super) fn cri_image(
    node: &NodeData,
    c: &Container<'_>,
    policy: &Policy,
    ev: Evidence,
) -> Finding {
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
