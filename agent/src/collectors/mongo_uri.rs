//! Where the run finds the MongoDB URI when none is given: the `MONGO_URL` of a
//! Rocket.Chat container seen by the Docker Engine, else by the node's CRI runtime (the
//! runtime spec holds the env the kubelet resolved, Secret references included), else an
//! inline `MONGO_URL` in the spec of a Rocket.Chat pod read from the Kubernetes API. When
//! the pods take it from a Secret or ConfigMap (which the agent never reads) the reason
//! for skipping says so and names `--mongodb-uri`. [`crate::collectors::Context`] runs
//! the search once per run.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use super::DiscoveredContainer;
use super::cri::discover::Container as CriContainer;
use super::kubernetes::{cluster_hint, pods};
use crate::clients::kube::{Kube, KubeError, KubeOptions};
use crate::redact::Redactor;

/// A URI found, and where (`container:<name>`, `cri:<ns>/<pod>/<container>`,
/// `kubernetes:<ns>/<pod>`).
#[derive(Debug, Clone)]
pub struct Found {
    /// The URI, with its credentials (never write it as is).
    pub uri: String,
    /// Where it came from, recorded as the `uri_source`.
    pub source: String,
    /// The Docker container it came from.
    pub container: Option<DiscoveredContainer>,
}

/// What the Kubernetes API said about the Rocket.Chat pods' `MONGO_URL`.
#[derive(Debug, Clone, Default)]
pub enum FromKube {
    /// No cluster, no Rocket.Chat pod setting it, or the API could not be read.
    #[default]
    Nothing,
    /// Inline in the pod spec.
    Inline(Box<Found>),
    /// From a Secret or ConfigMap: what to do, for the skip reason.
    Referenced(String),
}

/// The first Rocket.Chat container setting `MONGO_URL`, running ones first.
pub fn from_containers<'a>(
    containers: impl IntoIterator<Item = &'a DiscoveredContainer>,
    source: impl Fn(&DiscoveredContainer) -> String,
) -> Option<Found> {
    let mut rc: Vec<&DiscoveredContainer> = containers
        .into_iter()
        .filter(|c| c.is_rocketchat())
        .collect();
    rc.sort_by_key(|c| !c.running);
    rc.into_iter().find_map(|c| {
        c.env_value("MONGO_URL")
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| Found {
                uri: u.to_string(),
                source: source(c),
                container: Some(c.clone()),
            })
    })
}

/// The `MONGO_URL` of the CRI runtime's Rocket.Chat containers (named
/// `NAMESPACE/POD/CONTAINER` from their `io.kubernetes.*` labels).
pub fn from_cri(containers: &[CriContainer]) -> Option<Found> {
    let seen: Vec<DiscoveredContainer> =
        containers.iter().map(CriContainer::as_discovered).collect();
    from_containers(&seen, |c| format!("cri:{}", c.name)).map(|f| Found {
        container: None,
        ..f
    })
}

/// Reads the Rocket.Chat pods of the cluster (the `--namespace`s, else every namespace),
/// within `limit`, and says where their `MONGO_URL` comes from. An inline value is
/// registered as a secret with `red` before it is returned.
pub async fn from_kube(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
    namespaces: &[String],
    limit: Duration,
    red: &Redactor,
) -> FromKube {
    if cluster_hint(kubeconfig, |k| std::env::var(k).ok()).is_none() {
        return FromKube::Nothing;
    }
    let search = async {
        let kube = Kube::connect(KubeOptions {
            kubeconfig: kubeconfig.map(std::path::Path::to_path_buf),
            context: context.map(str::to_string),
            timeout: limit,
            ..KubeOptions::default()
        })
        .await?;
        let mut best: Option<(bool, Pod)> = None;
        let mut keep = |page: Vec<Pod>, restarted: bool| {
            if restarted {
                best = None;
            }
            for p in page {
                consider(&mut best, p);
            }
        };
        if namespaces.is_empty() {
            kube.list_pages::<Pod>(None, "", &mut keep).await?;
        } else {
            for ns in namespaces {
                kube.list_pages::<Pod>(Some(ns), "", &mut keep).await?;
            }
        }
        Ok::<_, KubeError>(best.map(|(_, p)| p))
    };
    let pod = match tokio::time::timeout(limit, search).await {
        Ok(Ok(Some(p))) => p,
        _ => return FromKube::Nothing,
    };
    let Some(hint) = pods::mongodb_hint(std::slice::from_ref(&pod), red) else {
        return FromKube::Nothing;
    };
    if hint.source.as_deref() != Some("inline") {
        return FromKube::Referenced(hint.message.unwrap_or_default());
    }
    let value = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "MONGO_URL")
        .and_then(|e| e.value.as_deref())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match value {
        Some(v) => {
            red.register_uri_secrets(v);
            red.register_secret(v);
            FromKube::Inline(Box::new(Found {
                uri: v.to_string(),
                source: format!("kubernetes:{}", hint.pod.unwrap_or_default()),
                container: None,
            }))
        }
        None => FromKube::Nothing,
    }
}

/// Keeps in `best` (`(running, pod)`) the Rocket.Chat pod whose `MONGO_URL` to use:
/// the first running one that sets it, else the first that sets it.
fn consider(best: &mut Option<(bool, Pod)>, pod: Pod) {
    if best.as_ref().is_some_and(|(running, _)| *running)
        || pods::role(&pod) != pods::Role::Rocketchat
    {
        return;
    }
    let sets = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.env.iter().flatten())
        .any(|e| e.name == "MONGO_URL");
    if !sets {
        return;
    }
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if best.is_none() || running {
        *best = Some((running, pod));
    }
}
