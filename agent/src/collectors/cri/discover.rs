//! One read of the node's CRI runtime per run: version, pod sandboxes, containers with
//! their verbose status (the runtime spec holds the env the kubelet resolved), images and
//! one stats sample. The `cri` collector writes it; [`Context::mongodb_uri`] finds the
//! Rocket.Chat containers' `MONGO_URL` in it, as it does in the Docker containers.
//!
//! [`Context::mongodb_uri`]: crate::collectors::Context::mongodb_uri

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::clients::cri::{self, CriError, Runtime, api};
use crate::clients::docker::DiscoveredContainer;

/// Most per-call wait: a healthy runtime answers in milliseconds.
pub const CALL_TIMEOUT_MAX: Duration = Duration::from_secs(10);

/// Most containers whose status is asked (a node runs at most a few hundred pods).
pub const MAX_CONTAINERS: usize = 5_000;

/// A container with its status and what its runtime spec says.
#[derive(Debug, Clone)]
pub struct Container {
    /// The list entry.
    pub entry: api::Container,
    /// Its status (`None`: the call failed, see [`Snapshot::errors`]).
    pub status: Option<api::ContainerStatus>,
    /// `process.env` of the runtime spec (NOT redacted: never write it as is).
    pub env: Vec<String>,
    /// `process.args` of the runtime spec (NOT redacted).
    pub args: Vec<String>,
    /// The process id the runtime reports, if any.
    pub pid: Option<i64>,
}

/// What the runtime said in this run.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `unix://PATH`.
    pub endpoint: String,
    /// Version reply.
    pub version: api::VersionResponse,
    /// Status conditions (`RuntimeReady`, `NetworkReady`), when answered.
    pub conditions: Vec<api::RuntimeCondition>,
    /// Pod sandboxes.
    pub pods: Vec<api::PodSandbox>,
    /// Containers.
    pub containers: Vec<Container>,
    /// Images.
    pub images: Vec<api::Image>,
    /// One stats sample per container.
    pub stats: Vec<api::ContainerStats>,
    /// Calls that failed (the rest was still read).
    pub errors: Vec<String>,
    /// Whether a call timed out.
    pub timed_out: bool,
}

/// The result of [`discover`]: what was read, or why nothing (the error decides the
/// collector's outcome: unreachable is skipped).
pub type Discovery = Result<Snapshot, CriErrorKind>;

/// Why nothing could be read.
#[derive(Debug, Clone)]
pub enum CriErrorKind {
    /// No runtime here.
    Unreachable(String),
    /// It did not answer in time.
    TimedOut(String),
    /// It answered with an error.
    Failed(String),
}

impl From<CriError> for CriErrorKind {
    fn from(e: CriError) -> Self {
        match e {
            CriError::Unreachable(m) => Self::Unreachable(m),
            e @ CriError::TimedOut { .. } => Self::TimedOut(e.to_string()),
            e => Self::Failed(e.to_string()),
        }
    }
}

/// The deadline of one call in a run whose collectors have `timeout`.
pub fn call_timeout(timeout: Duration) -> Duration {
    (timeout / 3).clamp(Duration::from_secs(1), CALL_TIMEOUT_MAX)
}

/// Reads the runtime at `endpoint` (an option) or the first default socket under `root`.
pub async fn discover(endpoint: Option<&str>, root: &Path, timeout: Duration) -> Discovery {
    let path = cri::find_endpoint(endpoint, root).map_err(CriErrorKind::Unreachable)?;
    let rt = cri::connect(&path, call_timeout(timeout), cri::DEFAULT_MESSAGE_MAX).await?;
    let mut runtime = rt.runtime.clone();
    let version = match rt
        .call(
            "Version",
            runtime.version(api::VersionRequest {
                version: "v1".into(),
            }),
        )
        .await
    {
        Ok(v) => v,
        // A containerd without its CRI plugin (Docker's own, on a Docker host).
        Err(CriError::Call { message, .. }) if message.starts_with("Unimplemented") => {
            return Err(CriErrorKind::Unreachable(format!(
                "{} answers but does not serve the CRI API ({message}): a containerd with its CRI plugin disabled, as Docker's is; pass --cri-endpoint for the node's runtime",
                rt.endpoint
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let mut snap = Snapshot {
        // The node's path, without --host-root.
        endpoint: match path.strip_prefix(root) {
            Ok(rel) if root != Path::new("/") => format!("unix:///{}", rel.display()),
            _ => rt.endpoint.clone(),
        },
        version,
        conditions: Vec::new(),
        pods: Vec::new(),
        containers: Vec::new(),
        images: Vec::new(),
        stats: Vec::new(),
        errors: Vec::new(),
        timed_out: false,
    };
    let note = |snap: &mut Snapshot, e: CriError| {
        snap.timed_out |= matches!(e, CriError::TimedOut { .. });
        snap.errors.push(e.to_string());
    };
    match rt
        .call(
            "Status",
            runtime.status(api::StatusRequest { verbose: false }),
        )
        .await
    {
        Ok(s) => snap.conditions = s.status.map(|s| s.conditions).unwrap_or_default(),
        Err(e) => note(&mut snap, e),
    }
    match rt
        .call(
            "ListPodSandbox",
            runtime.list_pod_sandbox(api::ListPodSandboxRequest { filter: None }),
        )
        .await
    {
        Ok(r) => snap.pods = r.items,
        Err(e) => note(&mut snap, e),
    }
    match rt
        .call(
            "ListContainers",
            runtime.list_containers(api::ListContainersRequest { filter: None }),
        )
        .await
    {
        Ok(r) => {
            let mut list = r.containers;
            if list.len() > MAX_CONTAINERS {
                snap.errors.push(format!(
                    "{} containers listed; the status of the first {MAX_CONTAINERS} was read",
                    list.len()
                ));
                list.truncate(MAX_CONTAINERS);
            }
            for entry in list {
                let c = status_of(&rt, entry, &mut snap).await;
                snap.containers.push(c);
                if snap.timed_out {
                    break;
                }
            }
        }
        Err(e) => note(&mut snap, e),
    }
    if !snap.timed_out {
        let mut images = rt.images.clone();
        match rt
            .call(
                "ListImages",
                images.list_images(api::ListImagesRequest { filter: None }),
            )
            .await
        {
            Ok(r) => snap.images = r.images,
            Err(e) => note(&mut snap, e),
        }
        match rt
            .call(
                "ListContainerStats",
                runtime.list_container_stats(api::ListContainerStatsRequest { filter: None }),
            )
            .await
        {
            Ok(r) => snap.stats = r.stats,
            Err(e) => note(&mut snap, e),
        }
    }
    Ok(snap)
}

async fn status_of(rt: &Runtime, entry: api::Container, snap: &mut Snapshot) -> Container {
    let mut runtime = rt.runtime.clone();
    let reply = rt
        .call(
            "ContainerStatus",
            runtime.container_status(api::ContainerStatusRequest {
                container_id: entry.id.clone(),
                verbose: true,
            }),
        )
        .await;
    let mut c = Container {
        entry,
        status: None,
        env: Vec::new(),
        args: Vec::new(),
        pid: None,
    };
    match reply {
        Ok(r) => {
            if let Some(info) = r.info.get("info")
                && let Ok(v) = serde_json::from_str::<Value>(info)
            {
                let process = v.pointer("/runtimeSpec/process");
                c.env = strings(process.and_then(|p| p.get("env")));
                c.args = strings(process.and_then(|p| p.get("args")));
                c.pid = v.get("pid").and_then(Value::as_i64);
            }
            c.status = r.status;
        }
        Err(e) => {
            snap.timed_out |= matches!(e, CriError::TimedOut { .. });
            snap.errors.push(format!("container {}: {e}", c.entry.id));
        }
    }
    c
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Container {
    /// The image as the pod spec named it (the status has it; the list entry may hold
    /// only the image id).
    pub fn image_name(&self) -> String {
        self.status
            .as_ref()
            .and_then(|s| s.image.as_ref())
            .map(|i| i.image.clone())
            .filter(|i| !i.is_empty())
            .or_else(|| self.entry.image.as_ref().map(|i| i.image.clone()))
            .unwrap_or_default()
    }

    /// The `io.kubernetes.*` label `key` (`pod.name`, `pod.namespace`, `container.name`).
    pub fn k8s_label(&self, key: &str) -> Option<&str> {
        self.entry
            .labels
            .get(&format!("io.kubernetes.{key}"))
            .map(String::as_str)
    }

    /// This container as the Docker discovery sees a container (name
    /// `NAMESPACE/POD/CONTAINER`), for the MongoDB URI search.
    pub fn as_discovered(&self) -> DiscoveredContainer {
        let name = match (
            self.k8s_label("pod.namespace"),
            self.k8s_label("pod.name"),
            self.k8s_label("container.name"),
        ) {
            (Some(ns), Some(pod), Some(ctr)) => format!("{ns}/{pod}/{ctr}"),
            _ => self
                .entry
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_else(|| self.entry.id.clone()),
        };
        let mut labels: Vec<(String, String)> = self
            .entry
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.extend(
            self.entry
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        DiscoveredContainer {
            id: self.entry.id.clone(),
            name,
            image: self.image_name(),
            running: self.entry.state == api::ContainerState::ContainerRunning as i32,
            env: self.env.clone(),
            ips: Vec::new(),
            log_driver: None,
            log_path: self
                .status
                .as_ref()
                .map(|s| s.log_path.clone())
                .filter(|p| !p.is_empty()),
            cmd: self.args.clone(),
            labels,
        }
    }
}
