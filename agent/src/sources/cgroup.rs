//! Container CPU and memory usage read from the host's cgroup files: the fast path of
//! the docker collector's `stats.json`.
//!
//! The Engine publishes stats on a one-second tick and a sample with a CPU share needs
//! two ticks, so `GET /containers/{id}/stats` costs one to two seconds. Beside a local
//! engine, as root, the same numbers are in the container's cgroup: this module finds
//! it from `/proc/<pid>/cgroup` and the cgroup mounts (v1 or v2), reads CPU time twice
//! [`INTERVAL`] apart, memory, its limit and pids, and turns them into the Engine's
//! stats shape so the one CPU/memory computation (`docker::stats_record`) serves both.
//! A container whose cgroup cannot be found or read (another pid namespace, no
//! permission, a cgroup path that does not name the container) is sampled through the
//! Engine API instead. In a container with the host's root mounted (`--host-root`), the
//! node's `/proc` and its init's mount table there find it, and [`Location::under_root`]
//! reads it under that root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::models::ContainerStatsResponse;
use serde_json::json;

/// Time between the two CPU readings.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Where one container's cgroup files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The unified hierarchy: one directory.
    V2(PathBuf),
    /// Legacy hierarchies: one directory per controller.
    V1 {
        /// The `cpuacct` directory.
        cpuacct: PathBuf,
        /// The `memory` directory.
        memory: PathBuf,
        /// The `pids` directory, when mounted.
        pids: Option<PathBuf>,
    },
}

/// The node's path `p` seen under `root` (`--host-root`).
pub fn rebased(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

impl Location {
    /// The same directories seen under `root` (`--host-root`): found from the node's
    /// mount table, they are paths of the node.
    pub fn under_root(self, root: &Path) -> Location {
        let at = |p: PathBuf| rebased(root, &p);
        match self {
            Location::V2(d) => Location::V2(at(d)),
            Location::V1 {
                cpuacct,
                memory,
                pids,
            } => Location::V1 {
                cpuacct: at(cpuacct),
                memory: at(memory),
                pids: pids.map(at),
            },
        }
    }
}

/// One mounted cgroup hierarchy (from `/proc/self/mountinfo`).
#[derive(Debug, Clone)]
struct Mount {
    /// The cgroup path the mount shows at its mount point (`/` on the host).
    root: String,
    point: PathBuf,
    /// `None` for cgroup2, else the controllers of the hierarchy.
    controllers: Option<Vec<String>>,
}

/// Parses `/proc/self/mountinfo` for cgroup mounts.
fn mounts(mountinfo: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((head, tail)) = line.split_once(" - ") else {
            continue;
        };
        let head: Vec<&str> = head.split(' ').collect();
        let tail: Vec<&str> = tail.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (head.get(3), head.get(4), tail.first())
        else {
            continue;
        };
        let controllers = match *fstype {
            "cgroup2" => None,
            "cgroup" => Some(
                tail.get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .map(str::to_string)
                    .collect(),
            ),
            _ => continue,
        };
        out.push(Mount {
            root: unescape(root),
            point: PathBuf::from(unescape(point)),
            controllers,
        });
    }
    out
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of `cgroup_path` under `mount`, if the mount shows it.
fn under(mount: &Mount, cgroup_path: &str) -> Option<PathBuf> {
    let rel = if mount.root == "/" {
        cgroup_path
    } else {
        cgroup_path.strip_prefix(mount.root.as_str())?
    };
    let rel = rel.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some(mount.point.join(rel))
}

/// The cgroup2 mount point in `mountinfo` (a node's, read under `--host-root`), if any.
pub fn v2_mount_point(mountinfo: &str) -> Option<PathBuf> {
    mounts(mountinfo)
        .into_iter()
        .find(|m| m.controllers.is_none())
        .map(|m| m.point)
}

/// Deepest level [`find_by_id`] looks at below the cgroup2 root.
const FIND_DEPTH: usize = 4;
/// Most directories [`find_by_id`] reads: a bound on a node with a huge cgroup tree.
const FIND_DIRS: usize = 50_000;

/// The first run of 64 hex digits in `name` (a container id), if any.
fn hex_id(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    let mut start = 0;
    for (i, c) in b.iter().enumerate() {
        if !c.is_ascii_hexdigit() {
            start = i + 1;
        } else if i + 1 - start == 64 {
            return Some(&name[start..=i]);
        }
    }
    None
}

/// The cgroup2 directories below `base` named for one of the containers `ids` (64 hex
/// digits): `system.slice/docker-<id>.scope` (systemd driver), `docker/<id>` (cgroupfs),
/// `<parent>/<id>`. For an agent in a container with its own cgroup namespace (Docker's
/// default on cgroup v2), where the node's `/proc/<pid>/cgroup` names the container's
/// cgroup relative to the agent's own (`0::/../docker-<id>.scope`) and so names no
/// directory. Looks [`FIND_DEPTH`] levels down, at most [`FIND_DIRS`] directories, and
/// not inside a container's directory.
pub fn find_by_id(base: &Path, ids: &[&str]) -> HashMap<String, PathBuf> {
    let want: std::collections::HashSet<&str> = ids.iter().copied().collect();
    let mut found = HashMap::new();
    let mut level = vec![base.to_path_buf()];
    let mut read = 0usize;
    for _ in 0..FIND_DEPTH {
        let mut next = Vec::new();
        for dir in &level {
            read += 1;
            if read > FIND_DIRS || found.len() == want.len() {
                return found;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let name = e.file_name();
                let name = name.to_string_lossy();
                match hex_id(&name).filter(|id| want.contains(id)) {
                    Some(id) => {
                        found.insert(id.to_string(), e.path());
                    }
                    None => next.push(e.path()),
                }
            }
        }
        level = next;
    }
    found
}

/// Finds the cgroup of container `id` from its `/proc/<pid>/cgroup` text and the
/// cgroup mounts. `None` unless every directory names the container.
pub fn locate(id: &str, proc_cgroup: &str, mountinfo: &str) -> Option<Location> {
    if id.len() < 12 {
        return None;
    }
    let mounts = mounts(mountinfo);
    let mut v1: HashMap<String, String> = HashMap::new();
    let mut v2: Option<String> = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            v2 = Some(path.to_string());
        } else {
            for c in ctrls.split(',') {
                v1.insert(c.to_string(), path.to_string());
            }
        }
    }
    let names_container = |p: &Path| p.to_string_lossy().contains(id);
    let v1_dir = |controller: &str| -> Option<PathBuf> {
        let path = v1.get(controller)?;
        let mount = mounts.iter().find(|m| {
            m.controllers
                .as_ref()
                .is_some_and(|c| c.iter().any(|x| x == controller))
        })?;
        under(mount, path).filter(|d| names_container(d))
    };
    if let (Some(cpuacct), Some(memory)) = (v1_dir("cpuacct"), v1_dir("memory")) {
        return Some(Location::V1 {
            cpuacct,
            memory,
            pids: v1_dir("pids"),
        });
    }
    let path = v2?;
    let mount = mounts.iter().find(|m| m.controllers.is_none())?;
    under(mount, &path)
        .filter(|d| names_container(d))
        .map(Location::V2)
}

/// One reading of a container's cgroup.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// CPU time used, ns.
    pub cpu_ns: u64,
    /// Host CPU time (the Engine's `system_cpu_usage`), ns.
    pub system_ns: u64,
    /// Online CPUs.
    pub online_cpus: u32,
    /// Memory charged to the cgroup, bytes.
    pub memory_usage: Option<u64>,
    /// The memory limit, capped at the host's memory (as the Engine reports it).
    pub memory_limit: Option<u64>,
    /// `memory.stat`.
    pub memory_stat: HashMap<String, u64>,
    /// Processes.
    pub pids: Option<u64>,
}

fn read_u64(path: &Path) -> std::io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.trim().parse().map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

fn key_values(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Host CPU time and online CPUs from `/proc/stat`, as the Engine computes them
/// (user + nice + system + idle + iowait + irq + softirq, in ns at 100 ticks/s).
pub fn system_cpu(proc_stat: &str) -> Option<(u64, u32)> {
    let mut total = None;
    let mut cpus = 0u32;
    for line in proc_stat.lines() {
        if let Some(rest) = line.strip_prefix("cpu ") {
            let ticks: u64 = rest
                .split_whitespace()
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum();
            total = Some(ticks.saturating_mul(10_000_000));
        } else if line.starts_with("cpu") {
            cpus += 1;
        }
    }
    Some((total?, cpus.max(1)))
}

/// Reads a container's cgroup now. `host_memory` caps an unlimited memory limit.
pub fn read(loc: &Location, proc_stat: &str, host_memory: Option<u64>) -> std::io::Result<Reading> {
    let (system_ns, online_cpus) = system_cpu(proc_stat).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "/proc/stat has no cpu line",
        )
    })?;
    let mut r = Reading {
        system_ns,
        online_cpus,
        ..Reading::default()
    };
    let cap = |limit: u64| Some(host_memory.map_or(limit, |h| limit.min(h)));
    match loc {
        Location::V1 {
            cpuacct,
            memory,
            pids,
        } => {
            r.cpu_ns = read_u64(&cpuacct.join("cpuacct.usage"))?;
            r.memory_usage = Some(read_u64(&memory.join("memory.usage_in_bytes"))?);
            r.memory_limit = read_u64(&memory.join("memory.limit_in_bytes"))
                .ok()
                .and_then(cap);
            r.memory_stat = key_values(&std::fs::read_to_string(memory.join("memory.stat"))?);
            r.pids = pids
                .as_ref()
                .and_then(|p| read_u64(&p.join("pids.current")).ok());
        }
        Location::V2(dir) => {
            let cpu = key_values(&std::fs::read_to_string(dir.join("cpu.stat"))?);
            let usec = cpu.get("usage_usec").copied().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "cpu.stat has no usage_usec",
                )
            })?;
            r.cpu_ns = usec.saturating_mul(1000);
            r.memory_usage = Some(read_u64(&dir.join("memory.current"))?);
            r.memory_limit = match std::fs::read_to_string(dir.join("memory.max")) {
                Ok(t) if t.trim() == "max" => host_memory,
                Ok(t) => t.trim().parse().ok().and_then(cap),
                Err(_) => host_memory,
            };
            r.memory_stat = key_values(&std::fs::read_to_string(dir.join("memory.stat"))?);
            r.pids = read_u64(&dir.join("pids.current")).ok();
        }
    }
    Ok(r)
}

/// The Engine's stats shape from two readings (`before` gives the previous CPU sample).
pub fn to_stats(before: &Reading, now: &Reading) -> ContainerStatsResponse {
    let cpu = |r: &Reading| json!({"cpu_usage": {"total_usage": r.cpu_ns}, "system_cpu_usage": r.system_ns, "online_cpus": r.online_cpus});
    serde_json::from_value(json!({
        "read": jiff::Timestamp::now().to_string(),
        "cpu_stats": cpu(now),
        "precpu_stats": cpu(before),
        "memory_stats": {"usage": now.memory_usage, "limit": now.memory_limit, "stats": now.memory_stat},
        "pids_stats": {"current": now.pids},
    }))
    .unwrap_or_default()
}

/// Total host memory from `/proc/meminfo`.
pub fn host_memory(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_containers_cgroup_in_another_cgroup_namespace_is_found_by_its_id() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let base = tempfile::tempdir().unwrap();
        let sys = base.path().join(format!("system.slice/docker-{a}.scope"));
        let fs = base.path().join(format!("docker/{b}"));
        let deep = base.path().join("k/l/m/n/o").join(&c);
        for d in [&sys, &fs, &deep, &sys.join("init.scope")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::create_dir_all(base.path().join(format!("other-{}", "d".repeat(64)))).unwrap();
        let found = find_by_id(base.path(), &[&a, &b, &c]);
        assert_eq!(found.get(&a), Some(&sys));
        assert_eq!(found.get(&b), Some(&fs));
        // Deeper than FIND_DEPTH: not looked for.
        assert_eq!(found.get(&c), None);
        assert_eq!(found.len(), 2);
        // What such a container's /proc/<pid>/cgroup gives names no directory here.
        let mi = "30 25 0:26 /../.. /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n";
        assert_eq!(v2_mount_point(mi), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(locate(&a, &format!("0::/../docker-{a}.scope\n"), mi), None);
        assert_eq!(hex_id(&format!("docker-{a}.scope")), Some(a.as_str()));
        assert_eq!(hex_id("docker-abc.scope"), None);
    }

    #[test]
    fn a_location_found_in_the_nodes_mount_table_is_read_under_the_host_root() {
        let root = Path::new("/host");
        assert_eq!(
            Location::V2("/sys/fs/cgroup/system.slice/docker-abc.scope".into()).under_root(root),
            Location::V2("/host/sys/fs/cgroup/system.slice/docker-abc.scope".into())
        );
        let v1 = Location::V1 {
            cpuacct: "/sys/fs/cgroup/cpuacct/docker/abc".into(),
            memory: "/sys/fs/cgroup/memory/docker/abc".into(),
            pids: None,
        };
        assert_eq!(
            v1.under_root(root),
            Location::V1 {
                cpuacct: "/host/sys/fs/cgroup/cpuacct/docker/abc".into(),
                memory: "/host/sys/fs/cgroup/memory/docker/abc".into(),
                pids: None,
            }
        );
    }

    const ID: &str = "1fd64e2c8decfaaf845e387eda3be41b2a51b80ff60f2e3761344f2c1057f074";

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
";

    #[test]
    fn v1_hierarchies_are_found_per_controller() {
        let proc_cgroup = format!(
            "4:memory:/docker/{ID}\n3:pids:/docker/{ID}\n2:cpu,cpuacct:/docker/{ID}\n0::/docker/{ID}\n"
        );
        assert_eq!(
            locate(ID, &proc_cgroup, MOUNTINFO),
            Some(Location::V1 {
                cpuacct: PathBuf::from(format!("/sys/fs/cgroup/cpu,cpuacct/docker/{ID}")),
                memory: PathBuf::from(format!("/sys/fs/cgroup/memory/docker/{ID}")),
                pids: Some(PathBuf::from(format!("/sys/fs/cgroup/pids/docker/{ID}"))),
            })
        );
        // Another container's cgroup (another pid namespace) is not taken.
        assert_eq!(locate(&ID.replace('1', "9"), &proc_cgroup, MOUNTINFO), None);
    }

    #[test]
    fn v2_unified_directory_with_systemd_driver() {
        let mountinfo = "25 1 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let proc_cgroup = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(
            locate(ID, &proc_cgroup, mountinfo),
            Some(Location::V2(PathBuf::from(format!(
                "/sys/fs/cgroup/system.slice/docker-{ID}.scope"
            ))))
        );
        // A mount that shows only a sub-tree (inside a container) is resolved relative to it.
        let inner = "25 1 0:23 /system.slice /host/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            locate(ID, &proc_cgroup, inner),
            Some(Location::V2(PathBuf::from(format!(
                "/host/cgroup/docker-{ID}.scope"
            ))))
        );
        assert_eq!(locate(ID, "0::/../etc\n", mountinfo), None);
    }

    #[test]
    fn v2_files_become_engine_stats() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("cpu.stat"), "usage_usec 2000\nuser_usec 1500\n").unwrap();
        std::fs::write(d.join("memory.current"), "1000\n").unwrap();
        std::fs::write(d.join("memory.max"), "max\n").unwrap();
        std::fs::write(d.join("memory.stat"), "anon 600\ninactive_file 200\n").unwrap();
        std::fs::write(d.join("pids.current"), "3\n").unwrap();
        let loc = Location::V2(d.to_path_buf());
        let stat = "cpu  100 0 100 0 0 0 0 0 0 0\ncpu0 50 0 50 0 0 0 0\ncpu1 50 0 50 0 0 0 0\n";
        let before = read(&loc, stat, Some(4000)).expect("read");
        assert_eq!(
            (before.cpu_ns, before.system_ns, before.online_cpus),
            (2_000_000, 2_000_000_000, 2)
        );
        assert_eq!(
            (before.memory_usage, before.memory_limit, before.pids),
            (Some(1000), Some(4000), Some(3))
        );
        std::fs::write(d.join("cpu.stat"), "usage_usec 202000\n").unwrap();
        let stat2 = "cpu  150 0 150 0 0 0 0 0 0 0\ncpu0 75 0 75 0 0 0 0\ncpu1 75 0 75 0 0 0 0\n";
        let now = read(&loc, stat2, Some(4000)).expect("read");
        let s = to_stats(&before, &now);
        // 200 ms of CPU over 1 s of host CPU time on 2 CPUs: 40 % (docker's formula).
        let rec = crate::collectors::docker::stats_record("id", "n", &s);
        assert_eq!(rec.cpu_percent, Some(40.0));
        assert_eq!(rec.memory_usage_bytes, Some(800));
        assert_eq!(rec.memory_limit_bytes, Some(4000));
        assert_eq!(rec.pids, Some(3));
    }

    #[test]
    fn proc_files_parse() {
        assert_eq!(
            host_memory("MemTotal:       24683656 kB\nMemFree: 1 kB\n"),
            Some(25_276_063_744)
        );
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(system_cpu("intr 1\n"), None);
    }
}
