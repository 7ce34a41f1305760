//! What the node is: container signs, the cgroup version and mode, `/etc/os-release`,
//! container layers among the mounts, and whether a disk is rotational.

use std::fs;
use std::path::{Path, PathBuf};

use super::processes::read_proc_text;

/// Signs that this process runs in a container.
pub(super) fn container_signs() -> Vec<String> {
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
pub(super) fn pid1_is_host_init(proc_root: &Path) -> bool {
    let comm = read_proc_text(&proc_root.join("1/comm"), 256);
    matches!(
        comm.trim(),
        "systemd" | "init" | "openrc-init" | "runit" | "s6-svscan"
    )
}

/// The container runtime named by a `/proc/<pid>/cgroup` text.
pub(super) fn container_runtime_in_cgroup(cgroup: &str) -> Option<&'static str> {
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
pub(super) fn container_id_in_cgroup(cgroup: &str) -> Option<String> {
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
pub(super) fn parse_os_release(
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
pub(super) fn is_container_layer(fs_type: &str, mount_point: &str) -> bool {
    (fs_type == "overlay" || fs_type == "aufs" || fs_type == "shm" || fs_type == "nsfs")
        && (mount_point.contains("/docker/")
            || mount_point.contains("/containerd/")
            || mount_point.contains("/containers/")
            || mount_point.contains("/overlay2/")
            || mount_point.contains("/kubelet/"))
}

/// `ssd` or `hdd` from `/sys/class/block/<dev>/queue/rotational` (a partition uses its
/// parent disk; a device-mapper volume its first underlying device).
pub(super) fn rotational(device: &str) -> Option<&'static str> {
    rotational_under(Path::new("/"), device)
}

/// [`rotational`] of the node whose root is `root` (its `/dev` and `/sys` under it).
pub(super) fn rotational_under(root: &Path, device: &str) -> Option<&'static str> {
    let dev = super::root::resolve_under(root, device);
    let name = match fs::canonicalize(&dev) {
        Ok(real) => real.file_name()?.to_string_lossy().into_owned(),
        Err(_) => Path::new(device)
            .file_name()?
            .to_string_lossy()
            .into_owned(),
    };
    rotational_of(&root.join("sys/class/block"), &name, 0)
}

pub(super) fn rotational_of(block: &Path, name: &str, depth: u8) -> Option<&'static str> {
    if depth > 4 {
        return None;
    }
    let class = block.join(name);
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
            rotational_of(block, &slave.file_name().to_string_lossy(), depth + 1)
        }
    }
}

/// cgroup version and mode from `/sys/fs/cgroup` and the mount table.
pub(super) fn cgroup_version(root: &Path, mounts: &str) -> (Option<u8>, Option<&'static str>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
