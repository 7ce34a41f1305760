//! `docker/*.json`: what the `docker` collector read from the Docker Engine API
//! (docs/collector-outputs.md, "docker"). `version.json` and `info.json` are the
//! engine's own replies (its PascalCase names); the others are the agent's records.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `docker/version.json`: the Engine `/version` reply plus the negotiated API version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VersionFile {
    /// Engine version.
    #[serde(default, rename = "Version", deserialize_with = "opt")]
    pub version: Option<String>,
    /// Newest API version the engine speaks.
    #[serde(default, rename = "ApiVersion", deserialize_with = "opt")]
    pub api_version: Option<String>,
    /// Oldest API version the engine speaks.
    #[serde(default, rename = "MinAPIVersion", deserialize_with = "opt")]
    pub min_api_version: Option<String>,
    /// Engine OS.
    #[serde(default, rename = "Os", deserialize_with = "opt")]
    pub os: Option<String>,
    /// Engine architecture.
    #[serde(default, rename = "Arch", deserialize_with = "opt")]
    pub arch: Option<String>,
    /// Kernel release.
    #[serde(default, rename = "KernelVersion", deserialize_with = "opt")]
    pub kernel_version: Option<String>,
    /// API version the agent used.
    #[serde(default, deserialize_with = "opt")]
    pub negotiated_api_version: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for VersionFile {
    const PATH: &'static str = "docker/version.json";
    const SCHEMA: &'static str = "docker-version.schema.json";
}

/// `docker/info.json`: selected fields of the Engine `/info` reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InfoFile {
    /// Engine host name.
    #[serde(default, rename = "Name", deserialize_with = "opt")]
    pub name: Option<String>,
    /// Engine version.
    #[serde(default, rename = "ServerVersion", deserialize_with = "opt")]
    pub server_version: Option<String>,
    /// Host OS as the engine sees it.
    #[serde(default, rename = "OperatingSystem", deserialize_with = "opt")]
    pub operating_system: Option<String>,
    /// Kernel release.
    #[serde(default, rename = "KernelVersion", deserialize_with = "opt")]
    pub kernel_version: Option<String>,
    /// CPUs.
    #[serde(default, rename = "NCPU", deserialize_with = "opt")]
    pub ncpu: Option<u64>,
    /// Memory in bytes.
    #[serde(default, rename = "MemTotal", deserialize_with = "opt")]
    pub mem_total: Option<u64>,
    /// Storage driver.
    #[serde(default, rename = "Driver", deserialize_with = "opt")]
    pub driver: Option<String>,
    /// Default logging driver.
    #[serde(default, rename = "LoggingDriver", deserialize_with = "opt")]
    pub logging_driver: Option<String>,
    /// cgroup driver.
    #[serde(default, rename = "CgroupDriver", deserialize_with = "opt")]
    pub cgroup_driver: Option<String>,
    /// cgroup version (`1` or `2`).
    #[serde(default, rename = "CgroupVersion", deserialize_with = "opt")]
    pub cgroup_version: Option<String>,
    /// Containers.
    #[serde(default, rename = "Containers", deserialize_with = "opt")]
    pub containers: Option<u64>,
    /// Running containers.
    #[serde(default, rename = "ContainersRunning", deserialize_with = "opt")]
    pub containers_running: Option<u64>,
    /// Images.
    #[serde(default, rename = "Images", deserialize_with = "opt")]
    pub images: Option<u64>,
    /// Data root.
    #[serde(default, rename = "DockerRootDir", deserialize_with = "opt")]
    pub docker_root_dir: Option<String>,
    /// Swarm state (`LocalNodeState`).
    #[serde(default, rename = "Swarm", deserialize_with = "opt")]
    pub swarm: Option<serde_json::Value>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for InfoFile {
    const PATH: &'static str = "docker/info.json";
    const SCHEMA: &'static str = "docker-info.schema.json";
}

/// `docker/containers.json`: one record per container, running or not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ContainersFile(#[serde(deserialize_with = "vec")] pub Vec<Container>);

impl BundleFile for ContainersFile {
    const PATH: &'static str = "docker/containers.json";
    const SCHEMA: &'static str = "docker-containers.schema.json";
    const IS_LIST: bool = true;
}

/// One container (`docker inspect`, redacted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Container {
    /// Container id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Name, without the leading `/`.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Image as configured (`repo:tag`).
    #[serde(default, deserialize_with = "opt")]
    pub image: Option<String>,
    /// Image id (`sha256:...`).
    #[serde(default, deserialize_with = "opt")]
    pub image_id: Option<String>,
    /// The image's repository digests.
    #[serde(default, deserialize_with = "vec")]
    pub repo_digests: Vec<String>,
    /// The image's tags.
    #[serde(default, deserialize_with = "vec")]
    pub image_repo_tags: Vec<String>,
    /// When the image was built.
    #[serde(default, deserialize_with = "opt")]
    pub image_created: Option<String>,
    /// When the container was created.
    #[serde(default, deserialize_with = "opt")]
    pub created: Option<String>,
    /// Container labels (secret-looking values redacted).
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Image labels.
    #[serde(default, deserialize_with = "opt")]
    pub image_labels: Option<BTreeMap<String, String>>,
    /// `NAME=value`, redacted; absent when not collected (an empty list is a
    /// container with no environment, which the analyzer tells apart).
    #[serde(default, deserialize_with = "opt")]
    pub env: Option<Vec<String>>,
    /// Command, redacted option by option.
    #[serde(default, deserialize_with = "vec")]
    pub cmd: Vec<String>,
    /// Entrypoint, redacted option by option.
    #[serde(default, deserialize_with = "vec")]
    pub entrypoint: Vec<String>,
    /// Working directory.
    #[serde(default, deserialize_with = "opt")]
    pub working_dir: Option<String>,
    /// User.
    #[serde(default, deserialize_with = "opt")]
    pub user: Option<String>,
    /// Has a TTY.
    #[serde(default, deserialize_with = "opt")]
    pub tty: Option<bool>,
    /// State.
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<ContainerState>,
    /// Restarts by the engine.
    #[serde(default, deserialize_with = "opt")]
    pub restart_count: Option<u64>,
    /// Restart policy.
    #[serde(default, deserialize_with = "opt")]
    pub restart_policy: Option<RestartPolicy>,
    /// Memory limit (0 = none).
    #[serde(default, deserialize_with = "opt")]
    pub memory_limit_bytes: Option<u64>,
    /// Memory reservation.
    #[serde(default, deserialize_with = "opt")]
    pub memory_reservation_bytes: Option<u64>,
    /// CPU limit in billionths of a CPU (0 = none).
    #[serde(default, deserialize_with = "opt")]
    pub nano_cpus: Option<u64>,
    /// CFS quota.
    #[serde(default, deserialize_with = "opt")]
    pub cpu_quota: Option<i64>,
    /// CFS period.
    #[serde(default, deserialize_with = "opt")]
    pub cpu_period: Option<i64>,
    /// CPU set.
    #[serde(default, deserialize_with = "opt")]
    pub cpuset_cpus: Option<String>,
    /// PID limit.
    #[serde(default, deserialize_with = "opt")]
    pub pids_limit: Option<i64>,
    /// Network mode.
    #[serde(default, deserialize_with = "opt")]
    pub network_mode: Option<String>,
    /// Privileged.
    #[serde(default, deserialize_with = "opt")]
    pub privileged: Option<bool>,
    /// Logging driver.
    #[serde(default, deserialize_with = "opt")]
    pub log_driver: Option<String>,
    /// Logging driver options.
    #[serde(default, deserialize_with = "opt")]
    pub log_options: Option<BTreeMap<String, String>>,
    /// Mounts.
    #[serde(default, deserialize_with = "vec")]
    pub mounts: Vec<Mount>,
    /// Networks.
    #[serde(default, deserialize_with = "vec")]
    pub networks: Vec<Network>,
    /// Published ports.
    #[serde(default, deserialize_with = "vec")]
    pub ports: Vec<Port>,
    /// Why it could not be inspected (then only `id`, `name`, `image` are set).
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// State of a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerState {
    /// `running`, `exited`, `restarting`, ...
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<String>,
    /// Running.
    #[serde(default, deserialize_with = "opt")]
    pub running: Option<bool>,
    /// Paused.
    #[serde(default, deserialize_with = "opt")]
    pub paused: Option<bool>,
    /// Restarting.
    #[serde(default, deserialize_with = "opt")]
    pub restarting: Option<bool>,
    /// Killed for lack of memory.
    #[serde(default, deserialize_with = "opt")]
    pub oom_killed: Option<bool>,
    /// Dead.
    #[serde(default, deserialize_with = "opt")]
    pub dead: Option<bool>,
    /// Main process id.
    #[serde(default, deserialize_with = "opt")]
    pub pid: Option<i64>,
    /// Last exit code.
    #[serde(default, deserialize_with = "opt")]
    pub exit_code: Option<i64>,
    /// Last error.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Last start.
    #[serde(default, deserialize_with = "opt")]
    pub started_at: Option<String>,
    /// Last end.
    #[serde(default, deserialize_with = "opt")]
    pub finished_at: Option<String>,
    /// `healthy`, `unhealthy`, `starting`, or absent.
    #[serde(default, deserialize_with = "opt")]
    pub health: Option<String>,
    /// Failed health checks in a row.
    #[serde(default, deserialize_with = "opt")]
    pub health_failing_streak: Option<i64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Restart policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// For `on-failure`.
    #[serde(default, deserialize_with = "opt")]
    pub maximum_retry_count: Option<i64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One mount.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Mount {
    /// `bind`, `volume`, `tmpfs`, ...
    #[serde(default, rename = "type", deserialize_with = "opt")]
    pub typ: Option<String>,
    /// Volume name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Host path.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Path in the container.
    #[serde(default, deserialize_with = "opt")]
    pub destination: Option<String>,
    /// Read-only.
    #[serde(default, deserialize_with = "opt")]
    pub read_only: Option<bool>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One network the container is on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Network {
    /// Network name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Address on it.
    #[serde(default, deserialize_with = "opt")]
    pub ip: Option<String>,
    /// DNS aliases.
    #[serde(default, deserialize_with = "vec")]
    pub aliases: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One exposed port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Port {
    /// Port in the container.
    #[serde(default, deserialize_with = "opt")]
    pub container_port: Option<u16>,
    /// `tcp` or `udp`.
    #[serde(default, deserialize_with = "opt")]
    pub protocol: Option<String>,
    /// Host address it is published on.
    #[serde(default, deserialize_with = "opt")]
    pub host_ip: Option<String>,
    /// Host port it is published on.
    #[serde(default, deserialize_with = "opt")]
    pub host_port: Option<u16>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `docker/images.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ImagesFile(#[serde(deserialize_with = "vec")] pub Vec<Image>);

impl BundleFile for ImagesFile {
    const PATH: &'static str = "docker/images.json";
    const SCHEMA: &'static str = "docker-images.schema.json";
    const IS_LIST: bool = true;
}

/// One image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Image {
    /// Image id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "vec")]
    pub repo_tags: Vec<String>,
    /// Repository digests.
    #[serde(default, deserialize_with = "vec")]
    pub repo_digests: Vec<String>,
    /// When it was built.
    #[serde(default, deserialize_with = "opt")]
    pub created: Option<String>,
    /// Size.
    #[serde(default, deserialize_with = "opt")]
    pub size_bytes: Option<i64>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Containers using it (-1 = not counted).
    #[serde(default, deserialize_with = "opt")]
    pub containers: Option<i64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `docker/stats.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct StatsFile(#[serde(deserialize_with = "vec")] pub Vec<Stats>);

impl BundleFile for StatsFile {
    const PATH: &'static str = "docker/stats.json";
    const SCHEMA: &'static str = "docker-stats.schema.json";
    const IS_LIST: bool = true;
}

/// One stats sample of a running container, computed as `docker stats` does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    /// Container id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Container name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// When sampled.
    #[serde(default, deserialize_with = "opt")]
    pub read: Option<String>,
    /// CPU share of the interval times online CPUs.
    #[serde(default, deserialize_with = "opt")]
    pub cpu_percent: Option<f64>,
    /// CPUs the container may use.
    #[serde(default, deserialize_with = "opt")]
    pub online_cpus: Option<u64>,
    /// Memory less inactive page cache.
    #[serde(default, deserialize_with = "opt")]
    pub memory_usage_bytes: Option<u64>,
    /// Memory as the cgroup counts it.
    #[serde(default, deserialize_with = "opt")]
    pub memory_raw_usage_bytes: Option<u64>,
    /// Limit (the host's memory when unlimited).
    #[serde(default, deserialize_with = "opt")]
    pub memory_limit_bytes: Option<u64>,
    /// Usage share of the limit.
    #[serde(default, deserialize_with = "opt")]
    pub memory_percent: Option<f64>,
    /// Processes.
    #[serde(default, deserialize_with = "opt")]
    pub pids: Option<u64>,
    /// Why a figure is missing.
    #[serde(default, deserialize_with = "opt")]
    pub note: Option<String>,
    /// `cgroup` or `engine`.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Why no sample was taken.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
