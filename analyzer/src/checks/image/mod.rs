//! `image.official`: Rocket.Chat runs from an official image, not a custom build or a
//! manual install on the host (facts §1, §2). Docker containers are judged by their
//! image name, labels and repository digests; the containers of Rocket.Chat pods in a
//! cluster view by their image name and the digest the runtime pulled (`imageID`); the
//! CRI containers of a Kubernetes node's bundle the same way, by their image name and
//! the repository digests of their image (`cri/images.json`, else `image_ref`), as CRI
//! shows no image labels. A CRI container that is a pod's container of a cluster
//! bundle given too is judged once, from the pod view.
//!
//! Files: this one walks the containers and pods and judges Docker containers;
//! `kube` judges a pod's container and a Kubernetes node's CRI container.

mod kube;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude,
    cri_twin_evidence, in_cluster, process_pointer, processes_of, rc_containers, rc_pod_servers,
};
use crate::model::cri::CRI_CONTAINERS;
use crate::model::{Container, ImageRef, NodeData};
use crate::policy::Policy;
use kube::{cri_image, pod_image};

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
pub(super) const CRI_IMAGES: &str = "cri/images.json";

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
