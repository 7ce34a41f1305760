//! The host collector: what the node is made of and how it is set up, in
//! `host/host.json` (see `docs/collector-outputs.md`).
//!
//! Sources: `sysinfo` (CPU, memory, disks with NFS/CIFS mounts through the
//! `linux-netdevs` feature, network interfaces), `/etc/os-release`, `/proc/mounts`
//! and `/sys/fs/cgroup` (cgroup version), `/sys/block/<dev>/queue/rotational` (SSD vs
//! HDD when `sysinfo` cannot tell), `chronyc -c tracking` or `timedatectl show` (clock
//! synchronisation, each with a short time limit; absent tools give source `none`), and
//! the process table for Rocket.Chat and `mongod` processes: their command line
//! (redacted) and the *names* of their environment variables, never the values.
//!
//! Inside a container the agent sees the container's `/proc` unless the host's is
//! mounted and named by `RCDIAG_HOST_PROC` (e.g. `-v /proc:/host/proc:ro -e
//! RCDIAG_HOST_PROC=/host/proc`, or run with `--pid=host`); `warnings` says so.
//!
//! Nothing here sleeps (no CPU usage sampling): the collector takes well under a second.
//! The blocking reads run on a blocking thread so a hung network mount cannot stall the
//! runtime, only this collector (which the orchestrator then times out).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sysinfo::{
    CpuRefreshKind, DiskKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind,
    System,
};
use tokio::process::Command;

use super::{CollectorSink, Context, Outcome};

/// Environment variable naming the host's `/proc` when the agent runs in a container.
pub const HOST_PROC_ENV: &str = "RCDIAG_HOST_PROC";

/// Time limit of each clock tool.
const CLOCK_TOOL_TIMEOUT: Duration = Duration::from_secs(1);

/// File system types served over the network.
const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "fuse.glusterfs",
    "fuse.sshfs",
    "sshfs",
    "9p",
    "lustre",
    "gpfs",
    "beegfs",
    "afs",
    "fuse.s3fs",
    "fuse.rclone",
    "fuse.cephfs",
];

/// File system types that are not storage (left out of `disks`).
const PSEUDO_FS: &[&str] = &[
    "nsfs",
    "tracefs",
    "debugfs",
    "securityfs",
    "configfs",
    "fusectl",
    "binfmt_misc",
    "bpf",
    "efivarfs",
    "autofs",
    "ramfs",
    "selinuxfs",
];

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
/// This collector, for [`super::ALL`].
pub const DESCRIPTOR: super::Collector = super::Collector {
    name: "host",
    reads: "/proc, /sys, /etc/os-release, mounts, network interfaces, chrony/timedatectl, process table",
    permissions: "none (root sees every process's environment names)",
    files: "host/host.json",
    collect: collect_boxed,
    isolated: false,
};

fn collect_boxed<'a>(
    ctx: &'a Context,
    out: &'a CollectorSink,
) -> futures_util::future::BoxFuture<'a, Outcome> {
    Box::pin(collect(ctx, out))
}

/// Collects host data into the bundle.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let host_proc = std::env::var_os(HOST_PROC_ENV)
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty());
    let mut report = match tokio::task::spawn_blocking(move || gather(host_proc)).await {
        Ok(r) => r,
        Err(e) => return Outcome::failed(format!("the host collector stopped unexpectedly: {e}")),
    };
    report.clock = clock().await;
    if let Some(e) = &report.clock.error {
        report
            .warnings
            .push(format!("clock synchronisation unknown: {e}"));
    }
    for p in &mut report.processes {
        p.cmdline = ctx
            .redactor
            .redact_argv(&std::mem::take(&mut p.args))
            .join(" ");
    }
    let missing_core =
        report.memory.total_bytes == 0 || report.cpu.logical_cores == 0 || report.disks.is_empty();
    match out.put_json("host/host.json", &report).await {
        Err(e) => Outcome::failed(format!("writing host/host.json: {e}")),
        Ok(_) if missing_core => Outcome::partial(format!(
            "some host facts could not be read: {}",
            if report.warnings.is_empty() {
                "see host/host.json".to_string()
            } else {
                report.warnings.join("; ")
            }
        )),
        Ok(_) => Outcome::ok(),
    }
}

/// Everything but the clock (blocking reads).
fn gather(host_proc: Option<PathBuf>) -> HostReport {
    let mut r = HostReport {
        collected_at: jiff::Timestamp::now().to_string(),
        ..Default::default()
    };

    // Where we run, and which /proc shows the host.
    let signs = container_signs();
    r.in_container = !signs.is_empty();
    r.container_signs = signs;
    let proc_root = match &host_proc {
        Some(p) if p.join("1").join("cmdline").exists() => {
            r.host_proc_visible = true;
            p.clone()
        }
        Some(p) => {
            r.warnings.push(format!(
                "{HOST_PROC_ENV}={} is not a readable proc file system (no 1/cmdline): mount the host's /proc there \
                 (-v /proc:{}:ro); the agent's own /proc was read instead",
                p.display(),
                p.display()
            ));
            r.host_proc_visible = !r.in_container;
            PathBuf::from("/proc")
        }
        None => {
            r.host_proc_visible = !r.in_container || pid1_is_host_init(Path::new("/proc"));
            if !r.host_proc_visible {
                r.warnings.push(format!(
                    "the agent runs in a container and the host's processes are not visible: mount the host's /proc \
                     (-v /proc:/host/proc:ro) and set {HOST_PROC_ENV}=/host/proc, or run the container with --pid=host; \
                     processes, host name and os-release below are the container's"
                ));
            }
            PathBuf::from("/proc")
        }
    };
    r.proc_root = proc_root.display().to_string();

    // OS.
    r.os.arch = System::cpu_arch();
    r.os.kernel = System::kernel_version().ok();
    let os_release_paths = [
        proc_root.join("1/root/etc/os-release"),
        PathBuf::from("/etc/os-release"),
        PathBuf::from("/usr/lib/os-release"),
    ];
    let candidates: &[PathBuf] = if host_proc.is_some() && r.host_proc_visible {
        &os_release_paths
    } else {
        &os_release_paths[1..]
    };
    for path in candidates {
        if let Ok(text) = fs::read_to_string(path) {
            let (name, version, id, pretty) = parse_os_release(&text);
            r.os = OsInfo {
                name,
                version,
                id,
                pretty_name: pretty,
                source: Some(path.display().to_string()),
                ..r.os
            };
            break;
        }
    }
    if r.os.name.is_none() {
        r.os.name = System::name().ok();
        r.os.version = System::os_version().ok();
        r.warnings
            .push("no /etc/os-release: the OS name comes from uname".into());
    }
    r.hostname = System::host_name().ok();
    r.uptime_seconds = System::uptime().ok();
    r.boot_time = System::boot_time()
        .ok()
        .and_then(|b| i64::try_from(b).ok())
        .and_then(|b| jiff::Timestamp::from_second(b).ok())
        .map(|t| t.to_string());
    r.load_average = System::load_average()
        .ok()
        .map(|l| [l.one, l.five, l.fifteen]);

    // CPU and memory.
    let refresh = RefreshKind::nothing()
        .with_cpu(CpuRefreshKind::nothing().with_frequency())
        .with_memory(MemoryRefreshKind::everything());
    match System::new_with_specifics(refresh) {
        Ok(sys) => {
            let cpus = sys.cpus();
            r.cpu.logical_cores = cpus.len();
            r.cpu.model = cpus
                .first()
                .map(|c| c.brand().trim().to_string())
                .filter(|s| !s.is_empty());
            r.cpu.vendor = cpus
                .first()
                .map(|c| c.vendor_id().trim().to_string())
                .filter(|s| !s.is_empty());
            r.cpu.frequency_mhz = cpus.first().map(|c| c.frequency()).filter(|f| *f > 0);
            r.memory = MemoryInfo {
                total_bytes: sys.total_memory(),
                available_bytes: sys.available_memory(),
                free_bytes: sys.free_memory(),
                swap_total_bytes: sys.total_swap(),
                swap_free_bytes: sys.free_swap(),
                cgroup_limit_bytes: sys
                    .cgroup_limits()
                    .map(|l| l.total_memory)
                    .filter(|t| *t > 0 && *t < sys.total_memory()),
            };
        }
        Err(e) => r
            .warnings
            .push(format!("CPU and memory could not be read: {e}")),
    }
    if r.cpu.logical_cores == 0 {
        r.cpu.logical_cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
    }
    r.cpu.physical_cores = System::physical_core_count().ok().filter(|n| *n > 0);

    // Disks.
    match Disks::new_with_refreshed_list_specifics(
        DiskRefreshKind::nothing().with_kind().with_storage(),
    ) {
        Ok(disks) => {
            let mut seen = BTreeSet::new();
            for d in disks.iter() {
                let fs_type = d.file_system().to_string_lossy().into_owned();
                let mount_point = d.mount_point().display().to_string();
                if PSEUDO_FS.contains(&fs_type.as_str())
                    || is_container_layer(&fs_type, &mount_point)
                {
                    continue;
                }
                if !seen.insert(mount_point.clone()) {
                    continue;
                }
                let device = d.name().to_string_lossy().into_owned();
                let network = NETWORK_FS.contains(&fs_type.as_str());
                let kind = match d.kind() {
                    DiskKind::SSD => "ssd",
                    DiskKind::HDD => "hdd",
                    DiskKind::Unknown(_) if !network => rotational(&device).unwrap_or("unknown"),
                    DiskKind::Unknown(_) => "unknown",
                };
                r.disks.push(DiskInfo {
                    mount_point,
                    device,
                    fs_type,
                    total_bytes: d.total_space(),
                    available_bytes: d.available_space(),
                    kind,
                    network,
                    removable: d.is_removable(),
                    read_only: d.is_read_only(),
                });
            }
        }
        Err(e) => r
            .warnings
            .push(format!("mounted file systems could not be read: {e}")),
    }
    r.disks.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));

    // Network interfaces (container-side veth ends without an address are noise).
    match Networks::new_with_refreshed_list() {
        Ok(nets) => {
            for (name, data) in nets.iter() {
                let name = name.to_string_lossy().into_owned();
                let mut addresses: Vec<String> = data
                    .ip_networks()
                    .iter()
                    .map(|n| format!("{}/{}", n.addr, n.prefix))
                    .collect();
                addresses.sort();
                if name.starts_with("veth") && addresses.is_empty() {
                    continue;
                }
                r.network.push(NetInfo {
                    name,
                    mac: data.mac_address().to_string(),
                    addresses,
                    mtu: data.mtu(),
                    state: format!("{:?}", data.operational_state()).to_lowercase(),
                });
            }
        }
        Err(e) => r
            .warnings
            .push(format!("network interfaces could not be read: {e}")),
    }
    r.network.sort_by(|a, b| a.name.cmp(&b.name));

    // cgroups.
    let (version, mode) = cgroup_version(
        Path::new("/sys/fs/cgroup"),
        &fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
    );
    r.cgroup_version = version;
    r.cgroup_mode = mode;

    // Processes.
    let (processes, unreadable_env) = scan_processes(&proc_root);
    r.processes = processes;
    if unreadable_env > 0 {
        r.warnings.push(format!(
            "the environment of {unreadable_env} Rocket.Chat/mongod candidate process(es) could not be read: run the agent \
             as root to list their environment variable names"
        ));
    }
    r
}

/// Signs that this process runs in a container.
fn container_signs() -> Vec<String> {
    let mut signs = Vec::new();
    if Path::new("/.dockerenv").exists() {
        signs.push("/.dockerenv".to_string());
    }
    if Path::new("/run/.containerenv").exists() {
        signs.push("/run/.containerenv".to_string());
    }
    if let Ok(cg) = fs::read_to_string("/proc/self/cgroup")
        && let Some(rt) = container_runtime_in_cgroup(&cg)
    {
        signs.push(format!("cgroup:{rt}"));
    }
    if let Ok(env) = fs::read("/proc/1/environ") {
        for var in env.split(|b| *b == 0) {
            if let Some(v) = var.strip_prefix(b"container=") {
                signs.push(format!("container={}", String::from_utf8_lossy(v)));
            }
        }
    }
    signs
}

/// Whether pid 1 of `proc_root` is a host init (systemd, init), i.e. the host's process table.
fn pid1_is_host_init(proc_root: &Path) -> bool {
    let comm = read_proc_text(&proc_root.join("1/comm"), 256);
    matches!(
        comm.trim(),
        "systemd" | "init" | "openrc-init" | "runit" | "s6-svscan"
    )
}

/// The container runtime named by a `/proc/<pid>/cgroup` text.
fn container_runtime_in_cgroup(cgroup: &str) -> Option<&'static str> {
    const MARKERS: &[(&str, &str)] = &[
        ("kubepods", "kubernetes"),
        ("docker", "docker"),
        ("containerd", "containerd"),
        ("cri-containerd", "containerd"),
        ("libpod", "podman"),
        ("crio", "cri-o"),
        ("lxc", "lxc"),
    ];
    cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        MARKERS
            .iter()
            .find(|(m, _)| path.contains(m))
            .map(|(_, rt)| *rt)
    })
}

/// The 64-hex container id in a cgroup text, if any.
fn container_id_in_cgroup(cgroup: &str) -> Option<String> {
    for line in cgroup.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for part in path.split(['/', '-', '.', ':']) {
            if part.len() == 64 && part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Some(part.to_string());
            }
        }
    }
    None
}

/// `(NAME, VERSION_ID, ID, PRETTY_NAME)` of an os-release text.
fn parse_os_release(
    text: &str,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key)
                .then(|| v.trim().trim_matches(['"', '\'']).to_string())
                .filter(|v| !v.is_empty())
        })
    };
    (
        get("NAME"),
        get("VERSION_ID"),
        get("ID"),
        get("PRETTY_NAME"),
    )
}

/// Overlay and other layers of container engines (they repeat the root disk).
fn is_container_layer(fs_type: &str, mount_point: &str) -> bool {
    (fs_type == "overlay" || fs_type == "aufs" || fs_type == "shm" || fs_type == "nsfs")
        && (mount_point.contains("/docker/")
            || mount_point.contains("/containerd/")
            || mount_point.contains("/containers/")
            || mount_point.contains("/overlay2/")
            || mount_point.contains("/kubelet/"))
}

/// `ssd` or `hdd` from `/sys/class/block/<dev>/queue/rotational` (a partition uses its
/// parent disk; a device-mapper volume its first underlying device).
fn rotational(device: &str) -> Option<&'static str> {
    let dev = Path::new(device);
    let resolved = fs::canonicalize(dev).unwrap_or_else(|_| dev.to_path_buf());
    let name = resolved.file_name()?.to_string_lossy().into_owned();
    rotational_of(&name, 0)
}

fn rotational_of(name: &str, depth: u8) -> Option<&'static str> {
    if depth > 4 {
        return None;
    }
    let class = Path::new("/sys/class/block").join(name);
    let read = |p: PathBuf| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    let value = read(class.join("queue/rotational")).or_else(|| {
        // A partition: its sysfs directory sits inside the parent disk's.
        let real = fs::canonicalize(&class).ok()?;
        read(real.parent()?.join("queue/rotational"))
    });
    match value.as_deref() {
        Some("1") if !name.starts_with("dm-") => Some("hdd"),
        Some("0") if !name.starts_with("dm-") => Some("ssd"),
        _ => {
            let slave = fs::read_dir(class.join("slaves"))
                .ok()?
                .filter_map(Result::ok)
                .next()?;
            rotational_of(&slave.file_name().to_string_lossy(), depth + 1)
        }
    }
}

/// cgroup version and mode from `/sys/fs/cgroup` and the mount table.
fn cgroup_version(root: &Path, mounts: &str) -> (Option<u8>, Option<&'static str>) {
    if root.join("cgroup.controllers").exists() {
        return (Some(2), Some("unified"));
    }
    let mut v1 = false;
    let mut v2 = false;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (_, mount_point, fs_type) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        if !mount_point.starts_with("/sys/fs/cgroup") {
            continue;
        }
        match fs_type {
            "cgroup" => v1 = true,
            "cgroup2" => v2 = true,
            _ => {}
        }
    }
    match (v1, v2) {
        (true, true) => (Some(1), Some("hybrid")),
        (true, false) => (Some(1), Some("legacy")),
        (false, true) => (Some(2), Some("unified")),
        (false, false) => (None, None),
    }
}

/// The proc file system to read: `RCDIAG_HOST_PROC` when set, else `/proc`.
fn proc_root() -> PathBuf {
    std::env::var_os(HOST_PROC_ENV)
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("/proc"))
}

/// The most processes and command-line bytes per process read for secrets.
const HARVEST_MAX_PROCESSES: usize = 32_768;
const HARVEST_MAX_CMDLINE: u64 = 256 << 10;

/// Remembers the secrets on every process's command line (`--password X`, URIs with a
/// password) before any collector writes, so that the exact-value pass finds them in
/// every file, logs included. Blocking; bounded in processes and bytes; regular files only.
pub fn harvest_argv_secrets(redactor: &crate::redact::Redactor) {
    for (_, dir) in other_processes(&proc_root()) {
        if let Some(args) = read_cmdline(&dir) {
            redactor.register_argv_secrets(&args);
        }
    }
}

/// `(pid, folder)` of every process under `proc_root` but this one, at most
/// `HARVEST_MAX_PROCESSES`.
fn other_processes(proc_root: &Path) -> impl Iterator<Item = (u32, PathBuf)> {
    let own = std::process::id();
    fs::read_dir(proc_root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(move |e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            (pid != own).then(|| (pid, e.path()))
        })
        .take(HARVEST_MAX_PROCESSES)
}

/// At most `cap` bytes of a file under a proc root: opened non-blocking and read only
/// when the open file is a regular file, so a FIFO or device planted under a
/// `/proc`-like root (`RCDIAG_HOST_PROC`) neither blocks a thread nor leaks an fd.
fn read_proc_file(path: &Path, cap: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut raw = Vec::new();
    f.take(cap).read_to_end(&mut raw).ok()?;
    Some(raw)
}

/// [`read_proc_file`] as text (lossy), empty when unreadable.
fn read_proc_text(path: &Path, cap: u64) -> String {
    read_proc_file(path, cap)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The arguments of the process whose `/proc` folder is `dir`: `None` for a kernel
/// thread, a zombie or a `cmdline` that is not a regular file; at most
/// `HARVEST_MAX_CMDLINE` bytes are read.
fn read_cmdline(dir: &Path) -> Option<Vec<String>> {
    let raw = read_proc_file(&dir.join("cmdline"), HARVEST_MAX_CMDLINE)?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then_some(args)
}

/// Rocket.Chat and mongod processes, and how many candidates' environments were unreadable.
fn scan_processes(proc_root: &Path) -> (Vec<ProcessInfo>, usize) {
    let mut found = Vec::new();
    let mut unreadable = 0;
    for (pid, dir) in other_processes(proc_root) {
        let Some(args) = read_cmdline(&dir) else {
            continue; // kernel thread, zombie, or not a proc file
        };
        let comm = read_proc_text(&dir.join("comm"), 256).trim().to_string();
        let argv0 = args
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .unwrap_or_default();
        let cmdline = args.join(" ");

        let env_names = || -> Option<Vec<String>> {
            let env = read_proc_file(&dir.join("environ"), HARVEST_MAX_CMDLINE)?;
            let mut names: Vec<String> = env
                .split(|b| *b == 0)
                .filter_map(|e| {
                    let name = e.split(|b| *b == b'=').next()?;
                    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
                })
                .collect();
            names.sort();
            names.dedup();
            Some(names)
        };

        let is_mongod = comm == "mongod" || argv0 == "mongod";
        let is_node = comm == "node" || argv0 == "node" || argv0.starts_with("node");
        let runs_main_js = args
            .iter()
            .skip(1)
            .any(|a| a == "main.js" || a.ends_with("/main.js"));
        let names_rocket_chat = cmdline.to_ascii_lowercase().contains("rocket.chat");

        let (kind, matched_by, env) = if is_mongod {
            ("mongod", "process name mongod", env_names())
        } else if is_node && runs_main_js {
            let env = env_names();
            let rc_env = env
                .as_ref()
                .map(|names| names.iter().any(|n| n == "ROOT_URL" || n == "MONGO_URL"));
            match rc_env {
                Some(true) => (
                    "rocketchat",
                    "node main.js with ROOT_URL/MONGO_URL in its environment",
                    env,
                ),
                // Cannot see its environment: still the usual Rocket.Chat command line.
                None => ("rocketchat", "node main.js (environment not readable)", env),
                Some(false) if names_rocket_chat => {
                    ("rocketchat", "command line names rocket.chat", env)
                }
                Some(false) => continue,
            }
        } else if names_rocket_chat {
            ("rocketchat", "command line names rocket.chat", env_names())
        } else {
            continue;
        };
        if env.is_none() {
            unreadable += 1;
        }
        let cgroup = read_proc_text(&dir.join("cgroup"), 64 << 10);
        found.push(ProcessInfo {
            pid,
            kind,
            name: if comm.is_empty() { argv0 } else { comm },
            cmdline,
            args,
            env_names: env,
            in_container: container_runtime_in_cgroup(&cgroup).is_some(),
            container_id: container_id_in_cgroup(&cgroup),
            matched_by,
        });
    }
    found.sort_by_key(|p| p.pid);
    (found, unreadable)
}

/// Clock synchronisation from chrony, else timedatectl, else unknown.
async fn clock() -> ClockInfo {
    let mut info = ClockInfo {
        wall_clock: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        source: "none",
        ..Default::default()
    };
    let mut errors = Vec::new();
    match run_tool("chronyc", &["-c", "tracking"]).await {
        Ok(out) => {
            if parse_chrony_tracking(&out, &mut info) {
                info.source = "chrony";
                return info;
            }
            errors.push(format!(
                "chronyc -c tracking: unexpected output {:?}",
                out.lines().next().unwrap_or("")
            ));
        }
        Err(e) => errors.push(e),
    }
    match run_tool("timedatectl", &["show"]).await {
        Ok(out) => {
            if parse_timedatectl(&out, &mut info) {
                info.source = "timedatectl";
                return info;
            }
            errors.push("timedatectl show: no NTPSynchronized line".into());
        }
        Err(e) => errors.push(e),
    }
    info.error = Some(errors.join("; "));
    info
}

/// Runs a tool with a short time limit; its stdout, or why not. The tool is looked up
/// in the fixed system folders (never the caller's `PATH`) and run with a clean
/// environment (see [`crate::tools`]).
async fn run_tool(program: &str, args: &[&str]) -> Result<String, String> {
    let path = crate::tools::find(program)?;
    let mut cmd = Command::new(&path);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .env_clear()
        .envs(crate::tools::CLEAN_ENV.iter().copied());
    let run = cmd.output();
    match tokio::time::timeout(CLOCK_TOOL_TIMEOUT, run).await {
        Err(_) => Err(format!(
            "{program} did not answer within {} s",
            CLOCK_TOOL_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{program} is not installed"))
        }
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        Ok(Ok(out)) if !out.status.success() => {
            let err = String::from_utf8_lossy(&out.stderr);
            let msg = err.lines().next().unwrap_or("").trim().to_string();
            Err(format!(
                "{program} {}: {}",
                args.join(" "),
                if msg.is_empty() {
                    out.status.to_string()
                } else {
                    msg
                }
            ))
        }
        Ok(Ok(out)) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
    }
}

/// Parses `chronyc -c tracking` (CSV: ref id, name, stratum, ref time, system time,
/// last offset, RMS offset, frequency, residual, skew, root delay, root dispersion,
/// update interval, leap status).
fn parse_chrony_tracking(out: &str, info: &mut ClockInfo) -> bool {
    let Some(line) = out.lines().find(|l| l.contains(',')) else {
        return false;
    };
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    if f.len() < 14 {
        return false;
    }
    info.reference = Some(f[1].to_string()).filter(|s| !s.is_empty());
    info.stratum = f[2].parse().ok();
    info.offset_seconds = f[4].parse().ok();
    info.last_offset_seconds = f[5].parse().ok();
    info.leap_status = Some(f[13].to_string());
    let unsynced = f[13].eq_ignore_ascii_case("Not synchronised")
        || info.stratum.is_none_or(|s| s == 0 || s >= 16);
    info.synchronized = Some(!unsynced);
    true
}

/// Parses `timedatectl show` (`KEY=value` lines).
fn parse_timedatectl(out: &str, info: &mut ClockInfo) -> bool {
    let get = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(str::trim))
    };
    let yes = |v: &str| v.eq_ignore_ascii_case("yes");
    info.ntp_service_enabled = get("NTP").map(yes);
    info.timezone = get("Timezone")
        .map(str::to_string)
        .filter(|s| !s.is_empty());
    match get("NTPSynchronized") {
        Some(v) => {
            info.synchronized = Some(yes(v));
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrony_csv_is_parsed() {
        let mut info = ClockInfo::default();
        let out = "A9FEA9FE,169.254.169.254,3,1764133200.123456789,0.000012345,-0.000002000,0.000010000,-12.345,0.001,0.050,0.000500000,0.000250000,64.2,Normal\n";
        assert!(parse_chrony_tracking(out, &mut info));
        assert_eq!(info.synchronized, Some(true));
        assert_eq!(info.stratum, Some(3));
        assert_eq!(info.offset_seconds, Some(0.000012345));
        let mut info = ClockInfo::default();
        let out = "00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised\n";
        assert!(parse_chrony_tracking(out, &mut info));
        assert_eq!(info.synchronized, Some(false));
    }

    #[test]
    fn timedatectl_show_is_parsed() {
        let mut info = ClockInfo::default();
        assert!(parse_timedatectl(
            "Timezone=Etc/UTC\nNTP=yes\nNTPSynchronized=no\n",
            &mut info
        ));
        assert_eq!(info.synchronized, Some(false));
        assert_eq!(info.ntp_service_enabled, Some(true));
        assert_eq!(info.timezone.as_deref(), Some("Etc/UTC"));
    }

    #[test]
    fn cgroup_texts() {
        let id = "a".repeat(64);
        let v2 = format!("0::/system.slice/docker-{id}.scope\n");
        assert_eq!(container_runtime_in_cgroup(&v2), Some("docker"));
        assert_eq!(container_id_in_cgroup(&v2), Some(id.clone()));
        let k8s = format!("12:memory:/kubepods/burstable/pod123/{id}\n");
        assert_eq!(container_runtime_in_cgroup(&k8s), Some("kubernetes"));
        assert_eq!(container_runtime_in_cgroup("0::/init.scope\n"), None);
        assert_eq!(container_id_in_cgroup("0::/user.slice\n"), None);
    }

    #[test]
    fn cgroup_modes() {
        let none = Path::new("/nonexistent-cgroup-root");
        let hybrid = "cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        assert_eq!(cgroup_version(none, hybrid), (Some(1), Some("hybrid")));
        assert_eq!(
            cgroup_version(none, "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"),
            (Some(2), Some("unified"))
        );
        assert_eq!(cgroup_version(none, ""), (None, None));
    }

    #[test]
    fn os_release() {
        let (name, version, id, pretty) = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
        );
        assert_eq!(name.as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(version.as_deref(), Some("12"));
        assert_eq!(id.as_deref(), Some("debian"));
        assert_eq!(pretty.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    }
}
