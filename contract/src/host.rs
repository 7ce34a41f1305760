//! `host/host.json`: what the `host` collector saw of the node (docs/collector-outputs.md, "host").

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `host/host.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostFile {
    /// When this was collected (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub collected_at: Option<String>,
    /// Host name (the container's when the agent runs in one).
    #[serde(default, deserialize_with = "opt")]
    pub hostname: Option<String>,
    /// Operating system.
    #[serde(default, deserialize_with = "opt")]
    pub os: Option<Os>,
    /// Seconds since boot.
    #[serde(default, deserialize_with = "opt")]
    pub uptime_seconds: Option<u64>,
    /// Boot time (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub boot_time: Option<String>,
    /// 1, 5 and 15 minute load averages.
    #[serde(default, deserialize_with = "opt")]
    pub load_average: Option<Vec<f64>>,
    /// Processors.
    #[serde(default, deserialize_with = "opt")]
    pub cpu: Option<Cpu>,
    /// Memory.
    #[serde(default, deserialize_with = "opt")]
    pub memory: Option<Memory>,
    /// Mounted file systems with storage behind them.
    #[serde(default, deserialize_with = "vec")]
    pub disks: Vec<Disk>,
    /// Network interfaces.
    #[serde(default, deserialize_with = "vec")]
    pub network: Vec<NetInterface>,
    /// Clock and its synchronisation.
    #[serde(default, deserialize_with = "opt")]
    pub clock: Option<Clock>,
    /// 1 or 2; absent when it cannot be told.
    #[serde(default, deserialize_with = "opt")]
    pub cgroup_version: Option<u8>,
    /// `unified`, `hybrid` or `legacy`.
    #[serde(default, deserialize_with = "opt")]
    pub cgroup_mode: Option<String>,
    /// Whether the agent itself runs in a container.
    #[serde(default, deserialize_with = "opt")]
    pub in_container: Option<bool>,
    /// What made the agent think so (`/.dockerenv`, `cgroup:docker`, ...).
    #[serde(default, deserialize_with = "vec")]
    pub container_signs: Vec<String>,
    /// Whether the process table read is the host's.
    #[serde(default, deserialize_with = "opt")]
    pub host_proc_visible: Option<bool>,
    /// The `/proc` that was read for processes.
    #[serde(default, deserialize_with = "opt")]
    pub proc_root: Option<String>,
    /// Where the node's root file system was read (`--host-root`, the agent in a
    /// container); `None`: the agent's own `/`.
    #[serde(default, deserialize_with = "opt")]
    pub host_root: Option<String>,
    /// Whose mounted file systems `disks` lists: `host` (the node's, from its mount table
    /// under `host_root`, or the agent runs on the host) or `container` (the agent's own
    /// mount namespace in a container: the node's data disks may be missing).
    #[serde(default, deserialize_with = "opt")]
    pub disks_view: Option<String>,
    /// Whose interfaces `network` lists: `host` (the node's: read from its init's network
    /// files under `host_root`, or the agent runs on the host) or `container` (the agent's
    /// own network namespace in a container); absent in bundles of older agents.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_view: Option<String>,
    /// Rocket.Chat and mongod processes.
    #[serde(default, deserialize_with = "vec")]
    pub processes: Vec<Process>,
    /// What could not be collected, or may mislead, and what to do about it.
    #[serde(default, deserialize_with = "vec")]
    pub warnings: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for HostFile {
    const PATH: &'static str = "host/host.json";
    const SCHEMA: &'static str = "host.schema.json";
}

/// Operating system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Os {
    /// `NAME` of os-release.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `VERSION_ID`.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// `ID`.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// `PRETTY_NAME`.
    #[serde(default, deserialize_with = "opt")]
    pub pretty_name: Option<String>,
    /// Kernel release.
    #[serde(default, deserialize_with = "opt")]
    pub kernel: Option<String>,
    /// CPU architecture.
    #[serde(default, deserialize_with = "opt")]
    pub arch: Option<String>,
    /// Where os-release was read.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Processors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cpu {
    /// Model name.
    #[serde(default, deserialize_with = "opt")]
    pub model: Option<String>,
    /// Vendor.
    #[serde(default, deserialize_with = "opt")]
    pub vendor: Option<String>,
    /// Physical cores.
    #[serde(default, deserialize_with = "opt")]
    pub physical_cores: Option<u64>,
    /// Logical processors.
    #[serde(default, deserialize_with = "opt")]
    pub logical_cores: Option<u64>,
    /// Current frequency of the first processor.
    #[serde(default, deserialize_with = "opt")]
    pub frequency_mhz: Option<u64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Memory, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Memory {
    /// Total RAM.
    #[serde(default, deserialize_with = "opt")]
    pub total_bytes: Option<u64>,
    /// RAM available to new work.
    #[serde(default, deserialize_with = "opt")]
    pub available_bytes: Option<u64>,
    /// RAM not used at all.
    #[serde(default, deserialize_with = "opt")]
    pub free_bytes: Option<u64>,
    /// Total swap.
    #[serde(default, deserialize_with = "opt")]
    pub swap_total_bytes: Option<u64>,
    /// Free swap.
    #[serde(default, deserialize_with = "opt")]
    pub swap_free_bytes: Option<u64>,
    /// Memory limit of the agent's cgroup, when it has one.
    #[serde(default, deserialize_with = "opt")]
    pub cgroup_limit_bytes: Option<u64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One mounted file system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Disk {
    /// Mount point.
    #[serde(default, deserialize_with = "opt")]
    pub mount_point: Option<String>,
    /// Device (or remote source).
    #[serde(default, deserialize_with = "opt")]
    pub device: Option<String>,
    /// File system type.
    #[serde(default, deserialize_with = "opt")]
    pub fs_type: Option<String>,
    /// Size.
    #[serde(default, deserialize_with = "opt")]
    pub total_bytes: Option<u64>,
    /// Space left for unprivileged users.
    #[serde(default, deserialize_with = "opt")]
    pub available_bytes: Option<u64>,
    /// `ssd`, `hdd` or `unknown`.
    #[serde(default, deserialize_with = "opt")]
    pub kind: Option<String>,
    /// Served over the network (NFS, CIFS, ...).
    #[serde(default, deserialize_with = "opt")]
    pub network: Option<bool>,
    /// Removable (USB).
    #[serde(default, deserialize_with = "opt")]
    pub removable: Option<bool>,
    /// Mounted read-only.
    #[serde(default, deserialize_with = "opt")]
    pub read_only: Option<bool>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetInterface {
    /// Interface name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// MAC address.
    #[serde(default, deserialize_with = "opt")]
    pub mac: Option<String>,
    /// `address/prefix` list.
    #[serde(default, deserialize_with = "vec")]
    pub addresses: Vec<String>,
    /// MTU.
    #[serde(default, deserialize_with = "opt")]
    pub mtu: Option<u64>,
    /// Operational state.
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Clock and its synchronisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Clock {
    /// The agent's wall clock when read (RFC 3339, milliseconds).
    #[serde(default, deserialize_with = "opt")]
    pub wall_clock: Option<String>,
    /// `chrony`, `timedatectl` or `none`.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Synchronised to a time source; absent when unknown.
    #[serde(default, deserialize_with = "opt")]
    pub synchronized: Option<bool>,
    /// chrony's "System time": seconds the clock is off NTP time (positive = slow).
    #[serde(default, deserialize_with = "opt")]
    pub offset_seconds: Option<f64>,
    /// chrony's last measured offset.
    #[serde(default, deserialize_with = "opt")]
    pub last_offset_seconds: Option<f64>,
    /// chrony's stratum.
    #[serde(default, deserialize_with = "opt")]
    pub stratum: Option<u32>,
    /// chrony's reference (name or address).
    #[serde(default, deserialize_with = "opt")]
    pub reference: Option<String>,
    /// chrony's leap status.
    #[serde(default, deserialize_with = "opt")]
    pub leap_status: Option<String>,
    /// timedatectl's `NTP` (a synchronisation service is enabled).
    #[serde(default, deserialize_with = "opt")]
    pub ntp_service_enabled: Option<bool>,
    /// timedatectl's time zone.
    #[serde(default, deserialize_with = "opt")]
    pub timezone: Option<String>,
    /// Why the tools gave nothing.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Rocket.Chat or mongod process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Process {
    /// Process id (in the `/proc` read).
    #[serde(default, deserialize_with = "opt")]
    pub pid: Option<u32>,
    /// `rocketchat` or `mongod`.
    #[serde(default, deserialize_with = "opt")]
    pub kind: Option<String>,
    /// Process name (`comm`).
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Command line, redacted option by option, cut to a bounded length.
    #[serde(default, deserialize_with = "opt")]
    pub cmdline: Option<String>,
    /// Names of its environment variables; absent when not readable.
    #[serde(default, deserialize_with = "opt")]
    pub env_names: Option<Vec<String>>,
    /// Whether it runs in a container.
    #[serde(default, deserialize_with = "opt")]
    pub in_container: Option<bool>,
    /// The container id found in its cgroup, if any.
    #[serde(default, deserialize_with = "opt")]
    pub container_id: Option<String>,
    /// Why it was taken for this kind.
    #[serde(default, deserialize_with = "opt")]
    pub matched_by: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
