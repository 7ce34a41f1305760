//! `cri/*.json`: what the `cri` collector read from the node's container runtime over
//! the CRI gRPC API (containerd, CRI-O, k3s) (docs/collector-outputs.md, "cri").
//! Times are RFC 3339 (the runtime's nanoseconds since the epoch, converted); sizes are
//! bytes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `cri/runtime.json`: the runtime and its conditions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeFile {
    /// The socket read, `unix:///run/containerd/containerd.sock`.
    #[serde(default, deserialize_with = "opt")]
    pub endpoint: Option<String>,
    /// `containerd`, `cri-o`.
    #[serde(default, deserialize_with = "opt")]
    pub runtime_name: Option<String>,
    /// The runtime's version (`1.6.20~ds1`, `v1.7.27-k3s1`).
    #[serde(default, deserialize_with = "opt")]
    pub runtime_version: Option<String>,
    /// The CRI API version it speaks (`v1`).
    #[serde(default, deserialize_with = "opt")]
    pub runtime_api_version: Option<String>,
    /// `RuntimeReady`, `NetworkReady`.
    #[serde(default, deserialize_with = "vec")]
    pub conditions: Vec<Condition>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for RuntimeFile {
    const PATH: &'static str = "cri/runtime.json";
    const SCHEMA: &'static str = "cri-runtime.schema.json";
}

/// One runtime condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// `RuntimeReady` or `NetworkReady`.
    #[serde(default, rename = "type", deserialize_with = "opt")]
    pub kind: Option<String>,
    /// Whether it holds.
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<bool>,
    /// Why not, in one word.
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// Why not.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `cri/pods.json`: the pod sandboxes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodsFile {
    /// Every sandbox the runtime listed.
    #[serde(default, deserialize_with = "vec")]
    pub pods: Vec<PodSandbox>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for PodsFile {
    const PATH: &'static str = "cri/pods.json";
    const SCHEMA: &'static str = "cri-pods.schema.json";
}

/// One pod sandbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodSandbox {
    /// Sandbox id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Pod name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Pod namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Pod uid.
    #[serde(default, deserialize_with = "opt")]
    pub uid: Option<String>,
    /// How many sandboxes of this pod were made before this one.
    #[serde(default, deserialize_with = "opt")]
    pub attempt: Option<u64>,
    /// `SANDBOX_READY` or `SANDBOX_NOTREADY`.
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<String>,
    /// When it was made.
    #[serde(default, deserialize_with = "opt")]
    pub created_at: Option<String>,
    /// The runtime handler (`runc`, `kata`; empty: the default).
    #[serde(default, deserialize_with = "opt")]
    pub runtime_handler: Option<String>,
    /// The pod's labels (values under secret-looking keys redacted).
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The pod's annotations (same).
    #[serde(default, deserialize_with = "opt")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `cri/containers.json`: the containers, with their verbose status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainersFile {
    /// Every container the runtime listed.
    #[serde(default, deserialize_with = "vec")]
    pub containers: Vec<Container>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for ContainersFile {
    const PATH: &'static str = "cri/containers.json";
    const SCHEMA: &'static str = "cri-containers.schema.json";
}

/// One container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Container {
    /// Container id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Its name in the pod spec.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// How many times this container was made before (the kubelet's attempt).
    #[serde(default, deserialize_with = "opt")]
    pub attempt: Option<u64>,
    /// Its sandbox's id.
    #[serde(default, deserialize_with = "opt")]
    pub pod_sandbox_id: Option<String>,
    /// `io.kubernetes.pod.name`.
    #[serde(default, deserialize_with = "opt")]
    pub pod_name: Option<String>,
    /// `io.kubernetes.pod.namespace`.
    #[serde(default, deserialize_with = "opt")]
    pub pod_namespace: Option<String>,
    /// `io.kubernetes.pod.uid`.
    #[serde(default, deserialize_with = "opt")]
    pub pod_uid: Option<String>,
    /// The image as the pod spec names it.
    #[serde(default, deserialize_with = "opt")]
    pub image: Option<String>,
    /// The image's digest reference (`docker.io/library/x@sha256:...`) or id (`sha256:...`).
    #[serde(default, deserialize_with = "opt")]
    pub image_ref: Option<String>,
    /// `CONTAINER_CREATED`, `CONTAINER_RUNNING`, `CONTAINER_EXITED`, `CONTAINER_UNKNOWN`.
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<String>,
    /// The kubelet's `io.kubernetes.container.restartCount` annotation.
    #[serde(default, deserialize_with = "opt")]
    pub restart_count: Option<u64>,
    /// When it was made.
    #[serde(default, deserialize_with = "opt")]
    pub created_at: Option<String>,
    /// When it started.
    #[serde(default, deserialize_with = "opt")]
    pub started_at: Option<String>,
    /// When it ended.
    #[serde(default, deserialize_with = "opt")]
    pub finished_at: Option<String>,
    /// Exit code (0 while it runs).
    #[serde(default, deserialize_with = "opt")]
    pub exit_code: Option<i64>,
    /// Why it ended (`OOMKilled`, `Error`, `Completed`).
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// The runtime's message.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// Its log file on the node (`/var/log/pods/<ns>_<pod>_<uid>/<container>/<N>.log`).
    #[serde(default, deserialize_with = "opt")]
    pub log_path: Option<String>,
    /// Its process id on the node.
    #[serde(default, deserialize_with = "opt")]
    pub pid: Option<i64>,
    /// Its Linux resources.
    #[serde(default, deserialize_with = "opt")]
    pub resources: Option<Resources>,
    /// Its labels (`io.kubernetes.*`, `io.cri-containerd.*`), secret-looking values redacted.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Its annotations (same).
    #[serde(default, deserialize_with = "opt")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// `KEY=value` of its runtime spec, redacted as Docker env is; absent when the
    /// runtime gave no verbose status.
    #[serde(default, deserialize_with = "opt")]
    pub env: Option<Vec<String>>,
    /// Its command and arguments, secret options redacted.
    #[serde(default, deserialize_with = "vec")]
    pub args: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A container's Linux resources as the runtime applied them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    /// CFS period, µs.
    #[serde(default, deserialize_with = "opt")]
    pub cpu_period: Option<i64>,
    /// CFS quota, µs (`0` or `-1`: no limit).
    #[serde(default, deserialize_with = "opt")]
    pub cpu_quota: Option<i64>,
    /// CPU shares (weight).
    #[serde(default, deserialize_with = "opt")]
    pub cpu_shares: Option<i64>,
    /// Memory limit, bytes (`0`: none).
    #[serde(default, deserialize_with = "opt")]
    pub memory_limit_in_bytes: Option<i64>,
    /// OOM score adjustment.
    #[serde(default, deserialize_with = "opt")]
    pub oom_score_adj: Option<i64>,
    /// CPUs it may run on.
    #[serde(default, deserialize_with = "opt")]
    pub cpuset_cpus: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `cri/images.json`: the runtime's images.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImagesFile {
    /// Every image listed.
    #[serde(default, deserialize_with = "vec")]
    pub images: Vec<Image>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for ImagesFile {
    const PATH: &'static str = "cri/images.json";
    const SCHEMA: &'static str = "cri-images.schema.json";
}

/// One image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Image {
    /// Image id (`sha256:...`).
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Its tags (`docker.io/rocketchat/rocket.chat:8.5.0`).
    #[serde(default, deserialize_with = "vec")]
    pub repo_tags: Vec<String>,
    /// Its digest references (`docker.io/rocketchat/rocket.chat@sha256:...`).
    #[serde(default, deserialize_with = "vec")]
    pub repo_digests: Vec<String>,
    /// Size in bytes.
    #[serde(default, deserialize_with = "opt")]
    pub size: Option<u64>,
    /// Pinned (never garbage-collected; the sandbox image is).
    #[serde(default, deserialize_with = "opt")]
    pub pinned: Option<bool>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `cri/stats.json`: one stats sample per container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatsFile {
    /// One per container.
    #[serde(default, deserialize_with = "vec")]
    pub stats: Vec<Stats>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for StatsFile {
    const PATH: &'static str = "cri/stats.json";
    const SCHEMA: &'static str = "cri-stats.schema.json";
}

/// One container's sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    /// Container id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Container name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// When it was taken.
    #[serde(default, deserialize_with = "opt")]
    pub timestamp: Option<String>,
    /// CPU time used since it started, ns.
    #[serde(default, deserialize_with = "opt")]
    pub cpu_usage_core_nanoseconds: Option<u64>,
    /// Working set, bytes.
    #[serde(default, deserialize_with = "opt")]
    pub memory_working_set_bytes: Option<u64>,
    /// Resident set, bytes.
    #[serde(default, deserialize_with = "opt")]
    pub memory_rss_bytes: Option<u64>,
    /// Bytes of its writable layer.
    #[serde(default, deserialize_with = "opt")]
    pub writable_layer_used_bytes: Option<u64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
