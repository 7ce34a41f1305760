//! The node seen from a container (`--host-root DIR`, node_exporter's convention): the
//! node's `/` mounted at DIR (read-only). Checks the option, resolves node paths under
//! DIR (absolute symlinks stay inside it), reads the node's host name and its mounted
//! file systems from its own mount table (`DIR/proc/1/mountinfo`, sizes by `statvfs`
//! under DIR). Paths written to the bundle are the node's, without DIR.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::system::rotational_under;
use super::{Disk, NETWORK_FS, PSEUDO_FS, is_container_layer};

/// Most bytes of a mount table read (a node with thousands of pods has a long one).
const MOUNTINFO_MAX: u64 = 16 << 20;

/// File system types that hold no data of the node's (sysinfo leaves them out too).
const NOT_STORAGE: &[&str] = &[
    "rootfs",
    "sysfs",
    "proc",
    "devtmpfs",
    "cgroup",
    "cgroup2",
    "pstore",
    "squashfs",
    "rpc_pipefs",
    "iso9660",
    "devpts",
    "hugetlbfs",
    "mqueue",
    "tmpfs",
    "overlay",
    "shm",
];

/// `--host-root DIR` checked: an existing directory (made absolute). The error says
/// what to mount.
pub fn check_host_root(dir: &Path) -> Result<PathBuf, String> {
    let shown = dir.display();
    let fix = "mount the node's root file system there read-only (docker run -v /:/host:ro, or a hostPath \
               volume of / in the DaemonSet) or leave --host-root out to read this machine's own /";
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("--host-root {shown}: not a directory: {fix}")),
        Err(e) => return Err(format!("--host-root {shown}: {e}: {fix}")),
    }
    std::path::absolute(dir).map_err(|e| format!("--host-root {shown}: {e}: {fix}"))
}

/// Where the node's root is looked for when `--host-root` is not given.
pub const DEFAULT_HOST_ROOT: &str = "/host";

/// The default of `--host-root`: [`DEFAULT_HOST_ROOT`] when a root file system is
/// mounted there (a mount point of this mount namespace with an `etc` folder, as with
/// `docker run -v /:/host:ro` or the DaemonSet's hostPath volume), else `None` (this
/// machine's own `/`).
pub fn default_host_root() -> Option<PathBuf> {
    use std::io::Read;
    let mut mountinfo = String::new();
    fs::File::open("/proc/self/mountinfo")
        .ok()?
        .take(MOUNTINFO_MAX)
        .read_to_string(&mut mountinfo)
        .ok()?;
    let dir = Path::new(DEFAULT_HOST_ROOT);
    holds_a_root(dir, &mountinfo).then(|| dir.to_path_buf())
}

/// Whether `dir` is a mount point in `mountinfo` (its fifth field) with an `etc`
/// folder under it.
fn holds_a_root(dir: &Path, mountinfo: &str) -> bool {
    let Some(want) = dir.to_str() else {
        return false;
    };
    mountinfo.lines().any(|l| l.split(' ').nth(4) == Some(want)) && dir.join("etc").is_dir()
}

/// Whether `root` is another root than this machine's `/`.
pub fn is_rooted(root: &Path) -> bool {
    root != Path::new("/")
}

/// The node path `path` (absolute) resolved under `root`: each symlink on the way is
/// followed inside `root` (an absolute target is the node's, not the container's).
pub fn resolve_under(root: &Path, path: &str) -> PathBuf {
    let mut todo: Vec<String> = vec![path.to_string()];
    let mut out = root.to_path_buf();
    let mut hops = 0;
    while let Some(next) = todo.pop() {
        let p = Path::new(&next);
        if p.is_absolute() {
            out = root.to_path_buf();
        }
        let parts: Vec<_> = p.components().collect();
        for (i, c) in parts.iter().enumerate() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    if out != root {
                        out.pop();
                    }
                }
                Component::Normal(n) => {
                    let candidate = out.join(n);
                    match fs::read_link(&candidate) {
                        Ok(target) if hops < 16 => {
                            hops += 1;
                            let rest: PathBuf = parts[i + 1..].iter().collect();
                            let joined = target.join(rest);
                            todo.push(joined.to_string_lossy().into_owned());
                            break;
                        }
                        _ => out = candidate,
                    }
                }
            }
        }
    }
    out
}

/// The node's host name from its `/etc/hostname` under `root`, when `root` is not `/`.
pub fn hostname_under(root: &Path) -> Option<String> {
    if !is_rooted(root) {
        return None;
    }
    let text = fs::read_to_string(resolve_under(root, "/etc/hostname")).ok()?;
    let name = text.lines().next()?.trim();
    (!name.is_empty() && name.len() <= 253 && !name.chars().any(char::is_control))
        .then(|| name.to_string())
}

/// A mount table line's escaped field (`\040` is a space).
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// One storage mount of a `mountinfo` text: mount point, device, type, read-only.
fn storage_mounts(mountinfo: &str) -> Vec<(String, String, String, bool)> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 2 {
            continue;
        }
        let mount_point = unescape(l[4]);
        let read_only = l[5].split(',').any(|o| o == "ro");
        let (fs_type, device) = (r[0].to_string(), unescape(r[1]));
        if NOT_STORAGE.contains(&fs_type.as_str())
            || PSEUDO_FS.contains(&fs_type.as_str())
            || is_container_layer(&fs_type, &mount_point)
            || ["/sys", "/proc", "/dev"]
                .iter()
                .any(|p| mount_point == *p || mount_point.starts_with(&format!("{p}/")))
            || (mount_point.starts_with("/run/") && !mount_point.starts_with("/run/media"))
            || mount_point.starts_with("/var/lib/kubelet/pods/")
            || mount_point.contains("/containerd/io.containerd.")
            || device.starts_with("sunrpc")
        {
            continue;
        }
        out.push((mount_point, device, fs_type, read_only));
    }
    out
}

/// The node's mounted file systems from its mount table (`mountinfo`, the text of
/// `/proc/1/mountinfo` under `root`): sizes from `statvfs` of each mount point under
/// `root` (a mount not visible there has none), kinds from `root/sys`.
pub fn disks_under(root: &Path, mountinfo: &str) -> Vec<Disk> {
    let mut seen = BTreeSet::new();
    let mut disks = Vec::new();
    for (mount_point, device, fs_type, read_only) in storage_mounts(mountinfo) {
        if !seen.insert(mount_point.clone()) {
            continue;
        }
        let network = NETWORK_FS.contains(&fs_type.as_str());
        let stat = rustix::fs::statvfs(root.join(mount_point.trim_start_matches('/'))).ok();
        let kind = if network {
            "unknown"
        } else {
            rotational_under(root, &device).unwrap_or("unknown")
        };
        disks.push(Disk {
            total_bytes: stat.as_ref().map(|s| s.f_blocks * s.f_frsize),
            available_bytes: stat.as_ref().map(|s| s.f_bavail * s.f_frsize),
            mount_point: Some(mount_point),
            device: Some(device),
            fs_type: Some(fs_type),
            kind: Some(kind.to_string()),
            network: Some(network),
            removable: None,
            read_only: Some(read_only),
            ..Default::default()
        });
    }
    disks
}

/// The mount table of the node's init under `proc_root`, at most `MOUNTINFO_MAX` bytes.
pub fn read_mountinfo(proc_root: &Path) -> Result<String, String> {
    use std::io::Read;
    let path = proc_root.join("1/mountinfo");
    let mut text = String::new();
    fs::File::open(&path)
        .and_then(|f| f.take(MOUNTINFO_MAX).read_to_string(&mut text))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_storage_only() {
        let text = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
23 22 0:5 / /proc rw - proc proc rw\n\
24 22 8:17 / /var/lib/mongo\\040data ro,relatime - xfs /dev/sdb1 rw\n\
25 22 0:44 / /run/user/0 rw - tmpfs tmpfs rw\n\
26 22 0:50 / /mnt/nfs rw - nfs4 srv:/export rw\n\
27 22 0:60 / /var/lib/containerd/io.containerd.runtime.v2.task/k8s.io/x/rootfs rw - overlay overlay rw\n\
bad line\n";
        let m = storage_mounts(text);
        let points: Vec<&str> = m.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(points, ["/", "/var/lib/mongo data", "/mnt/nfs"]);
        assert!(m[1].3, "ro is read");
        assert!(!m[0].3);
        assert_eq!(m[2].2, "nfs4");
    }

    #[test]
    fn symlinks_stay_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("usr/lib")).unwrap();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("usr/lib/os-release"), "NAME=node\n").unwrap();
        // Absolute, as Debian and Fedora ship it: the node's /usr/lib, not ours.
        std::os::unix::fs::symlink("/usr/lib/os-release", r.join("etc/os-release")).unwrap();
        let p = resolve_under(r, "/etc/os-release");
        assert_eq!(p, r.join("usr/lib/os-release"));
        std::os::unix::fs::symlink("../usr/lib/os-release", r.join("etc/rel")).unwrap();
        assert_eq!(resolve_under(r, "/etc/rel"), r.join("usr/lib/os-release"));
        // A loop ends.
        std::os::unix::fs::symlink("/etc/loop", r.join("etc/loop")).unwrap();
        let _ = resolve_under(r, "/etc/loop");
        // `..` never climbs above the root.
        assert!(resolve_under(r, "/../../etc").starts_with(r));
    }

    #[test]
    fn a_root_mounted_at_the_default_place_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("host");
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        let d = dir.to_str().unwrap();
        let mounted = format!(
            "22 1 0:21 / / rw - overlay overlay rw\n3113 22 252:0 / {d} ro,relatime master:1 - ext4 /dev/vda1 ro\n"
        );
        assert!(holds_a_root(&dir, &mounted));
        // Not a mount point (a folder of the image): this machine's own /.
        assert!(!holds_a_root(
            &dir,
            "22 1 0:21 / / rw - overlay overlay rw\n"
        ));
        // A mount point without etc/ (a data volume at /host): not a root.
        std::fs::remove_dir(dir.join("etc")).unwrap();
        assert!(!holds_a_root(&dir, &mounted));
        // A mount below it is not it.
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        assert!(!holds_a_root(
            &dir,
            &format!("3114 22 252:0 / {d}/proc ro - proc proc ro\n")
        ));
    }

    #[test]
    fn a_missing_root_says_what_to_mount() {
        let e = check_host_root(Path::new("/nonexistent-rcdiag-host")).unwrap_err();
        assert!(e.contains("--host-root /nonexistent-rcdiag-host"), "{e}");
        assert!(e.contains("-v /:/host:ro"), "{e}");
        let file = tempfile::NamedTempFile::new().unwrap();
        let e = check_host_root(file.path()).unwrap_err();
        assert!(e.contains("not a directory"), "{e}");
        assert_eq!(check_host_root(Path::new("/")).unwrap(), Path::new("/"));
    }
}
