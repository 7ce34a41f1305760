//! `--host-root DIR`: the node's root mounted at DIR, as in the DaemonSet and the Docker
//! image. The tests build such a root (marked built: `os-release`, `hostname` and
//! `machine-id` written here; `/proc` and `/sys` are links to this machine's real ones)
//! and check that the agent reads the node's facts there, records the node's paths, and
//! that a missing root is a clear error before anything is collected.

use std::path::Path;
use std::process::Command;

use rcdiag_bundle::{Bundle, OpenOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};

const AGENT: &str = env!("CARGO_BIN_EXE_rcdiag-agent");
const HOSTNAME: &str = "rcdiag-node-under-host-root";
const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef";

/// A node root: `/proc` and `/sys` linked to the real ones, the rest written (built).
fn built_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::os::unix::fs::symlink("/proc", r.join("proc")).unwrap();
    std::os::unix::fs::symlink("/sys", r.join("sys")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("usr/lib")).unwrap();
    std::fs::write(
        r.join("usr/lib/os-release"),
        "NAME=\"Node Root Linux\"\nVERSION_ID=\"99.1\"\nID=noderoot\nPRETTY_NAME=\"Node Root Linux 99.1\"\n",
    )
    .unwrap();
    // Absolute, as Debian and Fedora ship it: it names the node's /usr/lib, not the agent's.
    std::os::unix::fs::symlink("/usr/lib/os-release", r.join("etc/os-release")).unwrap();
    std::fs::write(r.join("etc/hostname"), format!("{HOSTNAME}\n")).unwrap();
    std::fs::write(r.join("etc/machine-id"), format!("{MACHINE_ID}\n")).unwrap();
    root
}

fn collect(args: &[&str], root: Option<&Path>, out: &Path) -> std::process::Output {
    let mut cmd = Command::new(AGENT);
    cmd.args(["collect", "--no-encrypt", "-q", "--config", "/dev/null"])
        .args(["--only", "host", "--timeout", "20s"])
        .args(args)
        .arg("--state-dir")
        .arg(out.join("state"))
        .arg("-o")
        .arg(out)
        .env_remove("RCDIAG_NODE_NAME")
        .env_remove("RCDIAG_HOST_PROC");
    if let Some(r) = root {
        cmd.arg("--host-root").arg(r);
    }
    cmd.output().unwrap()
}

#[test]
fn the_node_is_read_under_host_root() {
    let root = built_root();
    let out = tempfile::tempdir().unwrap();
    let run = collect(&[], Some(root.path()), out.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim().to_string();
    let mut b = Bundle::open(Path::new(&path), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{path}: {e} ({})", String::from_utf8_lossy(&run.stderr)));

    // The manifest names the node: its host name and its machine id (hashed).
    let node = &b.manifest().node;
    assert_eq!(node.hostname, HOSTNAME);
    let want = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(format!("rcdiag:{MACHINE_ID}")))
    );
    assert_eq!(node.machine_id_hash.as_deref(), Some(want.as_str()));

    let host: Value =
        serde_json::from_slice(&b.read_bytes("host/host.json", 16 << 20).unwrap()).unwrap();
    assert_eq!(host["hostname"], HOSTNAME, "{host}");
    assert_eq!(host["os"]["name"], "Node Root Linux");
    assert_eq!(host["os"]["version"], "99.1");
    // The node's path, not the one under the root.
    assert_eq!(host["os"]["source"], "/etc/os-release");
    assert_eq!(host["host_root"], root.path().display().to_string());
    assert_eq!(
        host["proc_root"],
        root.path().join("proc").display().to_string()
    );
    // The disks come from the node's mount table (here this machine's, through the link).
    assert_eq!(host["disks_view"], "host", "{}", host["warnings"]);
    let disks = host["disks"].as_array().unwrap();
    let slash = disks
        .iter()
        .find(|d| d["mount_point"] == "/")
        .unwrap_or_else(|| panic!("no / in {disks:?}"));
    assert!(slash["total_bytes"].as_u64().unwrap() > 0, "{slash}");
    assert!(
        disks.iter().all(|d| {
            let m = d["mount_point"].as_str().unwrap();
            !m.starts_with("/proc")
                && !m.starts_with("/sys")
                && !m.starts_with(&*root.path().to_string_lossy())
        }),
        "{disks:?}"
    );
    // The interfaces are the node's: those its init's /proc/1/net/dev lists.
    assert_eq!(host["network_view"], "host", "{}", host["warnings"]);
    let mut want: Vec<String> = std::fs::read_to_string("/proc/1/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .filter(|n| !n.starts_with("veth"))
        .collect();
    want.sort();
    let got: Vec<String> = host["network"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .filter(|n| !n.starts_with("veth"))
        .collect();
    assert_eq!(got, want, "{}", host["warnings"]);
    let lo = host["network"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo");
    assert!(
        lo["addresses"].to_string().contains("127.0.0.1/8"),
        "the node's IPv4 address from fib_trie: {lo}"
    );
    assert!(
        lo["mtu"].as_u64().is_some(),
        "sysfs lists the same interfaces: {lo}"
    );
}

#[test]
fn a_root_without_the_nodes_files_says_so() {
    // An empty directory: no proc, no os-release, no hostname.
    let root = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = collect(&[], Some(root.path()), out.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim().to_string();
    let mut b = Bundle::open(Path::new(&path), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{path}: {e} ({})", String::from_utf8_lossy(&run.stderr)));
    let host: Value =
        serde_json::from_slice(&b.read_bytes("host/host.json", 16 << 20).unwrap()).unwrap();
    let warnings = host["warnings"].to_string();
    assert!(
        warnings.contains("is not a readable proc file system"),
        "{warnings}"
    );
    assert!(
        warnings.contains("the disks below are the container's"),
        "{warnings}"
    );
    assert!(warnings.contains("/etc/hostname"), "{warnings}");
    assert_eq!(host["disks_view"], "container");
    assert!(
        warnings.contains("the network interfaces below are the container's"),
        "{warnings}"
    );
    assert_eq!(host["network_view"], "container");
}

#[test]
fn a_missing_host_root_is_a_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let run = collect(
        &["--host-root", "/nonexistent/rcdiag-host"],
        None,
        out.path(),
    );
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("--host-root /nonexistent/rcdiag-host"),
        "{err}"
    );
    assert!(err.contains("-v /:/host:ro"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Nothing was collected.
    assert!(
        !std::fs::read_dir(out.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with(".zip")),
    );
}

/// The same key in agent.toml.
#[test]
fn host_root_in_the_config_file() {
    let root = built_root();
    let out = tempfile::tempdir().unwrap();
    let conf = out.path().join("agent.toml");
    std::fs::write(
        &conf,
        format!("host_root = \"{}\"\n", root.path().display()),
    )
    .unwrap();
    let run = Command::new(AGENT)
        .args(["collect", "--no-encrypt", "-q", "--only", "host"])
        .arg("--config")
        .arg(&conf)
        .arg("--state-dir")
        .arg(out.path().join("state"))
        .arg("-o")
        .arg(out.path())
        .env_remove("RCDIAG_NODE_NAME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim().to_string();
    let b = Bundle::open(Path::new(&path), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{path}: {e} ({})", String::from_utf8_lossy(&run.stderr)));
    assert_eq!(b.manifest().node.hostname, HOSTNAME);
}
