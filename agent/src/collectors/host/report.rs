//! The types of `host/host.json`.

use serde::Serialize;

/// `host/host.json`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct HostReport {
    /// When this was collected (RFC 3339).
    pub collected_at: String,
    /// Host name (the container's when the agent runs in one).
    pub hostname: Option<String>,
    /// Operating system.
    pub os: OsInfo,
    /// Seconds since boot.
    pub uptime_seconds: Option<u64>,
    /// Boot time (RFC 3339).
    pub boot_time: Option<String>,
    /// 1, 5 and 15 minute load averages.
    pub load_average: Option<[f64; 3]>,
    /// Processors.
    pub cpu: CpuInfo,
    /// Memory.
    pub memory: MemoryInfo,
    /// Mounted file systems with storage behind them.
    pub disks: Vec<DiskInfo>,
    /// Network interfaces.
    pub network: Vec<NetInfo>,
    /// Clock and its synchronisation.
    pub clock: ClockInfo,
    /// 1 or 2; `None` when it cannot be told.
    pub cgroup_version: Option<u8>,
    /// `unified` (v2), `hybrid` (v1 with a v2 hierarchy beside it) or `legacy` (v1).
    pub cgroup_mode: Option<&'static str>,
    /// Whether the agent itself runs in a container.
    pub in_container: bool,
    /// What made the agent think so (`/.dockerenv`, `cgroup:docker`, ...).
    pub container_signs: Vec<String>,
    /// Whether the process table read is the host's.
    pub host_proc_visible: bool,
    /// The `/proc` that was read for processes.
    pub proc_root: String,
    /// Rocket.Chat and mongod processes.
    pub processes: Vec<ProcessInfo>,
    /// What could not be collected, or may mislead, and what to do about it.
    pub warnings: Vec<String>,
}

/// Operating system.
#[derive(Debug, Clone, Serialize, Default)]
pub struct OsInfo {
    /// `NAME` of os-release.
    pub name: Option<String>,
    /// `VERSION_ID`.
    pub version: Option<String>,
    /// `ID`.
    pub id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// CPU architecture.
    pub arch: String,
    /// Where os-release was read.
    pub source: Option<String>,
}

/// Processors.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CpuInfo {
    /// Model name.
    pub model: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Physical cores.
    pub physical_cores: Option<usize>,
    /// Logical processors.
    pub logical_cores: usize,
    /// Current frequency of the first processor.
    pub frequency_mhz: Option<u64>,
}

/// Memory.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MemoryInfo {
    /// Total RAM.
    pub total_bytes: u64,
    /// RAM available to new work.
    pub available_bytes: u64,
    /// RAM not used at all.
    pub free_bytes: u64,
    /// Total swap.
    pub swap_total_bytes: u64,
    /// Free swap.
    pub swap_free_bytes: u64,
    /// Memory limit of the agent's cgroup, when it has one.
    pub cgroup_limit_bytes: Option<u64>,
}

/// One mounted file system.
#[derive(Debug, Clone, Serialize)]
pub struct DiskInfo {
    /// Mount point.
    pub mount_point: String,
    /// Device (or remote source).
    pub device: String,
    /// File system type.
    pub fs_type: String,
    /// Size.
    pub total_bytes: u64,
    /// Space left for unprivileged users.
    pub available_bytes: u64,
    /// `ssd`, `hdd` or `unknown` (what the kernel says of the device).
    pub kind: &'static str,
    /// Served over the network (NFS, CIFS, ...).
    pub network: bool,
    /// Removable (USB).
    pub removable: bool,
    /// Mounted read-only.
    pub read_only: bool,
}

/// One network interface.
#[derive(Debug, Clone, Serialize)]
pub struct NetInfo {
    /// Interface name.
    pub name: String,
    /// MAC address.
    pub mac: String,
    /// `address/prefix` list.
    pub addresses: Vec<String>,
    /// MTU.
    pub mtu: u64,
    /// Operational state.
    pub state: String,
}

/// Clock.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ClockInfo {
    /// The agent's wall clock when read (RFC 3339, milliseconds).
    pub wall_clock: String,
    /// `chrony`, `timedatectl` or `none`.
    pub source: &'static str,
    /// Synchronised to a time source; `None` when unknown.
    pub synchronized: Option<bool>,
    /// chrony's "System time": seconds the system clock is off NTP time (positive = slow).
    pub offset_seconds: Option<f64>,
    /// chrony's last measured offset.
    pub last_offset_seconds: Option<f64>,
    /// chrony's stratum.
    pub stratum: Option<u32>,
    /// chrony's reference (name or address).
    pub reference: Option<String>,
    /// chrony's leap status.
    pub leap_status: Option<String>,
    /// timedatectl's `NTP` (a synchronisation service is enabled).
    pub ntp_service_enabled: Option<bool>,
    /// timedatectl's time zone.
    pub timezone: Option<String>,
    /// Why the tools gave nothing.
    pub error: Option<String>,
}

/// A Rocket.Chat or mongod process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    /// Process id (in the `/proc` read).
    pub pid: u32,
    /// `rocketchat` or `mongod`.
    pub kind: &'static str,
    /// Process name (`comm`).
    pub name: String,
    /// Command line, redacted option by option, then cut to a bounded length.
    pub cmdline: String,
    /// The raw arguments (NOT redacted: never written).
    #[serde(skip)]
    pub args: Vec<String>,
    /// Names of its environment variables (values are never read out); `None` when not readable.
    pub env_names: Option<Vec<String>>,
    /// Whether it runs in a container (its cgroup names docker/containerd/kubepods/libpod/lxc).
    pub in_container: bool,
    /// The container id found in its cgroup, if any.
    pub container_id: Option<String>,
    /// Why it was taken for this kind.
    pub matched_by: &'static str,
}
