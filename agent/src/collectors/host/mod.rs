//! The host collector: what the node is made of and how it is set up, in
//! `host/host.json` (see `docs/collector-outputs.md`).
//!
//! Sources: `sysinfo` (CPU, memory, disks with NFS/CIFS mounts through the
//! `linux-netdevs` feature, the agent's network interfaces), `/etc/os-release`, `/proc/mounts`
//! and `/sys/fs/cgroup` (cgroup version), `/sys/block/<dev>/queue/rotational` (SSD vs
//! HDD when `sysinfo` cannot tell), `chronyc -c tracking` or `timedatectl show` (clock
//! synchronisation, each with a short time limit; absent tools give source `none`), and
//! the process table for Rocket.Chat and `mongod` processes: their command line
//! (redacted) and the *names* of their environment variables, never the values.
//!
//! Inside a container the agent sees the container's `/proc` unless the host's is
//! mounted and named by `RCDIAG_HOST_PROC` (e.g. `-v /proc:/host/proc:ro -e
//! RCDIAG_HOST_PROC=/host/proc`, or run with `--pid=host`); `warnings` says so. With
//! `--host-root DIR` (the node's `/` mounted at DIR) the node's own facts are read under
//! DIR (`root`): `/proc` (unless `RCDIAG_HOST_PROC` names another), os-release, host
//! name, the mounted file systems from the node's mount table, `/sys`, and the node's
//! network interfaces (`network`, from its init's network files, so a container without
//! the host network sees them); `host_root`, `disks_view` and `network_view` say which
//! view was used.
//!
//! Nothing here sleeps (no CPU usage sampling): the collector takes well under a second.
//! The blocking reads run on a blocking thread so a hung network mount cannot stall the
//! runtime, only this collector (which the orchestrator then times out).
//!
//! The file's type is the contract's [`HostFile`] (`contract/src/host.rs`), the one the
//! analyzer reads. `system` holds the container and cgroup detection and the OS and disk
//! details, `processes` the process table, `clock` the clock synchronisation.

mod clock;
mod network;
mod processes;
mod root;
mod system;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use sysinfo::{
    CpuRefreshKind, DiskKind, DiskRefreshKind, Disks, MemoryRefreshKind, RefreshKind, System,
};

pub use self::processes::harvest_argv_secrets;
pub use self::root::{
    DEFAULT_HOST_ROOT, check_host_root, default_host_root, hostname_under, is_rooted,
    read_mountinfo, resolve_under,
};
pub use rcdiag_contract::host::{Clock, Cpu, Disk, HostFile, Memory, NetInterface, Os, Process};

use self::clock::clock;
use self::processes::scan_processes;
use self::system::*;
use super::{CollectorSink, Context, Outcome};

/// Environment variable naming the host's `/proc` when the agent runs in a container.
pub const HOST_PROC_ENV: &str = "RCDIAG_HOST_PROC";

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

descriptor! {
    name: "host",
    reads: "/proc, /sys, /etc/os-release, mounts, network interfaces, chrony/timedatectl, process table",
    permissions: "none (root sees every process's environment names)",
    files: "host/host.json",
    isolated: false,
}

/// Collects host data into the bundle.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let host_proc = std::env::var_os(HOST_PROC_ENV)
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty());
    let root = ctx.options.host_root.clone();
    // /proc reads can hang on a process stuck in the kernel: not in the blocking pool.
    let (mut report, argv) =
        match crate::threads::on_own_thread("host", move || gather(host_proc, root)).await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::failed(format!("the host collector stopped unexpectedly: {e}"));
            }
        };
    let clock = clock().await;
    if let Some(e) = &clock.error {
        report
            .warnings
            .push(format!("clock synchronisation unknown: {e}"));
    }
    report.clock = Some(clock);
    // The raw arguments never reach the file: only their redacted form.
    for (p, args) in report.processes.iter_mut().zip(argv) {
        p.cmdline = Some(ctx.redactor.redact_argv(&args).join(" "));
    }
    let known = |n: Option<u64>| n.is_some_and(|n| n > 0);
    let missing_core = !known(report.memory.as_ref().and_then(|m| m.total_bytes))
        || !known(report.cpu.as_ref().and_then(|c| c.logical_cores))
        || report.disks.is_empty();
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

/// Everything but the clock (blocking reads), and the raw arguments of each process
/// found (in the order of `processes`), to be redacted into its `cmdline`.
fn gather(host_proc: Option<PathBuf>, root: PathBuf) -> (HostFile, Vec<Vec<String>>) {
    let mut r = HostFile {
        collected_at: Some(jiff::Timestamp::now().to_string()),
        ..Default::default()
    };
    let rooted = is_rooted(&root);
    if rooted {
        r.host_root = Some(root.display().to_string());
    }
    // Under --host-root, the node's /proc is DIR/proc unless RCDIAG_HOST_PROC names one.
    let proc_named = if host_proc.is_some() {
        HOST_PROC_ENV.to_string()
    } else {
        "--host-root's proc".to_string()
    };
    let host_proc = host_proc.or_else(|| rooted.then(|| root.join("proc")));

    // Where we run, and which /proc shows the host.
    let signs = container_signs();
    let in_container = !signs.is_empty();
    r.in_container = Some(in_container);
    r.container_signs = signs;
    let host_proc_visible;
    let proc_root = match &host_proc {
        Some(p) if p.join("1").join("cmdline").exists() => {
            host_proc_visible = true;
            p.clone()
        }
        Some(p) => {
            r.warnings.push(format!(
                "{proc_named} {} is not a readable proc file system (no 1/cmdline): mount the host's /proc there \
                 (-v /proc:{}:ro); the agent's own /proc was read instead",
                p.display(),
                p.display()
            ));
            host_proc_visible = !in_container;
            PathBuf::from("/proc")
        }
        None => {
            host_proc_visible = !in_container || pid1_is_host_init(Path::new("/proc"));
            if !host_proc_visible {
                r.warnings.push(format!(
                    "the agent runs in a container and the host's processes are not visible: mount the host's /proc \
                     (-v /proc:/host/proc:ro) and set {HOST_PROC_ENV}=/host/proc, or run the container with --pid=host; \
                     processes, host name and os-release below are the container's"
                ));
            }
            PathBuf::from("/proc")
        }
    };
    r.host_proc_visible = Some(host_proc_visible);
    r.proc_root = Some(proc_root.display().to_string());

    // OS.
    let mut os = Os {
        arch: Some(System::cpu_arch()),
        kernel: System::kernel_version().ok(),
        ..Default::default()
    };
    // (path read, path recorded): under --host-root the node's files, named as the node names them.
    let os_release_paths: Vec<(PathBuf, String)> = if rooted {
        ["/etc/os-release", "/usr/lib/os-release"]
            .iter()
            .map(|p| (resolve_under(&root, p), p.to_string()))
            .collect()
    } else {
        let mut v = Vec::new();
        if host_proc.is_some() && host_proc_visible {
            let p = proc_root.join("1/root/etc/os-release");
            v.push((p.clone(), p.display().to_string()));
        }
        for p in ["/etc/os-release", "/usr/lib/os-release"] {
            v.push((PathBuf::from(p), p.to_string()));
        }
        v
    };
    for (path, shown) in &os_release_paths {
        if let Ok(text) = fs::read_to_string(path) {
            let (name, version, id, pretty) = parse_os_release(&text);
            os = Os {
                name,
                version,
                id,
                pretty_name: pretty,
                source: Some(shown.clone()),
                ..os
            };
            break;
        }
    }
    if os.name.is_none() {
        os.name = System::name().ok();
        os.version = System::os_version().ok();
        r.warnings
            .push("no /etc/os-release: the OS name comes from uname".into());
    }
    r.os = Some(os);
    r.hostname = if rooted {
        let h = hostname_under(&root);
        if h.is_none() {
            r.warnings.push(
                "the node's /etc/hostname under --host-root could not be read: the host name is the container's"
                    .into(),
            );
        }
        h.or_else(|| System::host_name().ok())
    } else {
        System::host_name().ok()
    };
    r.uptime_seconds = System::uptime().ok();
    r.boot_time = System::boot_time()
        .ok()
        .and_then(|b| i64::try_from(b).ok())
        .and_then(|b| jiff::Timestamp::from_second(b).ok())
        .map(|t| t.to_string());
    r.load_average = System::load_average()
        .ok()
        .map(|l| vec![l.one, l.five, l.fifteen]);

    // CPU and memory.
    let refresh = RefreshKind::nothing()
        .with_cpu(CpuRefreshKind::nothing().with_frequency())
        .with_memory(MemoryRefreshKind::everything());
    let mut cpu = Cpu::default();
    match System::new_with_specifics(refresh) {
        Ok(sys) => {
            let cpus = sys.cpus();
            cpu.logical_cores = Some(cpus.len() as u64).filter(|n| *n > 0);
            cpu.model = cpus
                .first()
                .map(|c| c.brand().trim().to_string())
                .filter(|s| !s.is_empty());
            cpu.vendor = cpus
                .first()
                .map(|c| c.vendor_id().trim().to_string())
                .filter(|s| !s.is_empty());
            cpu.frequency_mhz = cpus.first().map(|c| c.frequency()).filter(|f| *f > 0);
            r.memory = Some(Memory {
                total_bytes: Some(sys.total_memory()),
                available_bytes: Some(sys.available_memory()),
                free_bytes: Some(sys.free_memory()),
                swap_total_bytes: Some(sys.total_swap()),
                swap_free_bytes: Some(sys.free_swap()),
                cgroup_limit_bytes: sys
                    .cgroup_limits()
                    .map(|l| l.total_memory)
                    .filter(|t| *t > 0 && *t < sys.total_memory()),
                ..Default::default()
            });
        }
        Err(e) => r
            .warnings
            .push(format!("CPU and memory could not be read: {e}")),
    }
    if cpu.logical_cores.is_none() {
        cpu.logical_cores = std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64);
    }
    cpu.physical_cores = System::physical_core_count()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n as u64);
    r.cpu = Some(cpu);

    // Disks: under --host-root from the node's mount table, else (or when that is not
    // readable) the agent's own mount namespace.
    let node_mounts = if rooted && proc_root == Path::new("/proc") {
        r.warnings.push(
            "the node's /proc is not readable under --host-root, so neither is its mount table: the disks below are the container's"
                .into(),
        );
        None
    } else if rooted {
        match root::read_mountinfo(&proc_root) {
            Ok(text) => Some(text),
            Err(e) => {
                r.warnings.push(format!(
                    "the node's mount table could not be read ({e}): the disks below are the container's"
                ));
                None
            }
        }
    } else {
        None
    };
    let host_disks = node_mounts.is_some() || !in_container;
    r.disks_view = Some(if host_disks { "host" } else { "container" }.to_string());
    if let Some(text) = &node_mounts {
        r.disks = root::disks_under(&root, text);
    } else {
        gather_disks(&mut r);
    }
    r.disks.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));

    // Network interfaces: under --host-root the node's (from its init's network files),
    // else (or when those are not readable) the agent's own network namespace.
    let node_net = if rooted && proc_root != Path::new("/proc") {
        match network::node_interfaces(&proc_root, &root, &mut r.warnings) {
            Ok(n) => Some(n),
            Err(e) => {
                r.warnings.push(format!(
                    "the node's network interfaces could not be read ({e}): the interfaces below are the container's"
                ));
                None
            }
        }
    } else {
        if rooted {
            r.warnings.push(
                "the node's /proc is not readable under --host-root: the network interfaces below are the container's"
                    .into(),
            );
        }
        None
    };
    r.network_view = Some(
        if node_net.is_some() || !in_container {
            "host"
        } else {
            "container"
        }
        .to_string(),
    );
    r.network = match node_net {
        Some(n) => n,
        None => network::own_interfaces(&mut r.warnings),
    };

    // cgroups.
    let (version, mode) = if rooted {
        cgroup_version(
            &root.join("sys/fs/cgroup"),
            &fs::read_to_string(proc_root.join("1/mounts")).unwrap_or_default(),
        )
    } else {
        cgroup_version(
            Path::new("/sys/fs/cgroup"),
            &fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
        )
    };
    r.cgroup_version = version;
    r.cgroup_mode = mode.map(str::to_string);

    // Processes.
    let (processes, unreadable_env) = scan_processes(&proc_root);
    let (processes, argv) = processes.into_iter().unzip();
    r.processes = processes;
    if unreadable_env > 0 {
        r.warnings.push(format!(
            "the environment of {unreadable_env} Rocket.Chat/mongod candidate process(es) could not be read: run the agent \
             as root to list their environment variable names"
        ));
    }
    (r, argv)
}

/// The mounted file systems of the agent's own mount namespace (`sysinfo`).
fn gather_disks(r: &mut HostFile) {
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
                r.disks.push(Disk {
                    mount_point: Some(mount_point),
                    device: Some(device),
                    fs_type: Some(fs_type),
                    total_bytes: Some(d.total_space()),
                    available_bytes: Some(d.available_space()),
                    kind: Some(kind.to_string()),
                    network: Some(network),
                    removable: Some(d.is_removable()),
                    read_only: Some(d.is_read_only()),
                    ..Default::default()
                });
            }
        }
        Err(e) => r
            .warnings
            .push(format!("mounted file systems could not be read: {e}")),
    }
}
