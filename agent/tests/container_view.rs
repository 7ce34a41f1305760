//! The agent in a container sees the node it runs for (issue 13, "the container view"):
//! the agent's image, built in the private Docker Engine, runs `collect --only host`
//! with this machine's `/` mounted read-only at `/host` and `--host-root /host`, without
//! the host network, the host UTS namespace or root. The bundle must name this machine's
//! root file system, machine id, host name and network interfaces, and say `host` for
//! both views; with the mount and no flag too (`/host` is the default when a root is
//! mounted there). The same image run without the mount must give the container's own view
//! (`container`, its own host name, only `lo`), so the test can fail.
//!
//! Needs the Docker peer (`scripts/test-env start`): it fails when the peer is missing
//! under `RCDIAG_REQUIRE_PEERS=1`, and skips loudly otherwise.

mod common;

use rcdiag_bundle::{Bundle, OpenOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};

use common::image::{EngineCleanup, build_agent_image, docker, require_engine_and_tools, text};

/// What one run of the image wrote: the manifest's node and `host/host.json`.
struct Seen {
    node_hostname: String,
    machine_id_hash: Option<String>,
    host: Value,
}

/// Runs `collect --only host` in `image` with the container host name `uts`, plus
/// `mounts` and `flags`; opens the bundle it wrote.
fn collect_in(host: &str, image: &str, uts: &str, mounts: &[&str], flags: &[&str]) -> Seen {
    let out = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::chown(out.path(), Some(65532), Some(65532)).expect("chown");
    let out_mount = format!("{}:/out", out.path().display());
    let mut args: Vec<&str> = vec![
        "run",
        "--rm",
        "--network",
        "none",
        "--hostname",
        uts,
        "--user",
        "65532:65532",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-v",
        &out_mount,
    ];
    for m in mounts {
        args.extend(["-v", m]);
    }
    args.push(image);
    args.extend([
        "collect",
        "--only",
        "host",
        "--no-encrypt",
        "--config",
        "/dev/null",
        "--state-dir",
        "/out/state",
        "--timeout",
        "30s",
        "-o",
        "/out",
    ]);
    args.extend(flags);
    let run = docker(host, &args);
    assert_eq!(
        run.status.code(),
        Some(0),
        "collect in the container:\n{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let last = text(&run.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let name = last
        .strip_prefix("/out/")
        .unwrap_or_else(|| panic!("bundle path: {last}"));
    let mut b = Bundle::open(&out.path().join(name), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let node = b.manifest().node.clone();
    let host_json = b.read_bytes("host/host.json", 16 << 20).expect("host.json");
    Seen {
        node_hostname: node.hostname,
        machine_id_hash: node.machine_id_hash,
        host: serde_json::from_slice(&host_json).expect("host.json is JSON"),
    }
}

/// This machine's root file system from its own mount table: (device, type).
fn this_root_fs() -> (String, String) {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let line = mi
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a / mount");
    let (_, right) = line.split_once(" - ").expect("mountinfo line");
    let mut r = right.split(' ');
    let fs_type = r.next().expect("type").to_string();
    (r.next().expect("device").to_string(), fs_type)
}

/// This machine's interfaces (the node's network namespace: its init's `net/dev`).
fn this_interfaces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_to_string("/proc/1/net/dev")
        .expect("/proc/1/net/dev")
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .filter(|n| !n.starts_with("veth"))
        .collect();
    names.sort();
    names
}

fn names(host: &Value) -> Vec<String> {
    host["network"]
        .as_array()
        .expect("network")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_string())
        .filter(|n| !n.starts_with("veth"))
        .collect()
}

fn disk_at<'a>(host: &'a Value, mount_point: &str) -> Option<&'a Value> {
    host["disks"]
        .as_array()
        .expect("disks")
        .iter()
        .find(|d| d["mount_point"] == mount_point)
}

#[test]
fn the_image_with_the_host_root_mounted_reports_the_hosts_disks_machine_id_hostname_and_network() {
    let Some(host) = require_engine_and_tools() else {
        return;
    };
    let tag = format!("rcdiag-view-{}", std::process::id());
    let base = format!("rcdiag-test-glibc:{tag}");
    let image = format!("rcdiag-agent:{tag}");
    let _cleanup = EngineCleanup {
        host: host.clone(),
        containers: vec![],
        volumes: vec![],
        images: vec![image.clone(), base.clone()],
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    build_agent_image(&host, &base, &image, tmp.path());

    // What this machine is: the oracle.
    let hostname = std::fs::read_to_string("/etc/hostname")
        .expect("/etc/hostname")
        .trim()
        .to_string();
    let machine_id = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let (root_dev, root_type) = this_root_fs();
    let st = rustix::fs::statvfs("/").expect("statvfs /");
    let root_total = st.f_blocks * st.f_frsize;
    let ifaces = this_interfaces();
    let uts = format!("rcdiag-ctr-{}", std::process::id());
    assert_ne!(uts, hostname);

    // 1. The host root mounted: the host's view.
    let seen = collect_in(
        &host,
        &image,
        &uts,
        &["/:/host:ro"],
        &["--host-root", "/host"],
    );
    let h = &seen.host;
    let w = h["warnings"].to_string();
    eprintln!(
        "host view: / = {}, network = {}, warnings = {w}",
        disk_at(h, "/").cloned().unwrap_or_default(),
        h["network"]
    );
    assert_eq!(h["in_container"], true, "{h:#}");
    assert_eq!(h["host_root"], "/host");
    assert_eq!(h["disks_view"], "host", "{w}");
    let slash = disk_at(h, "/").unwrap_or_else(|| panic!("no / among {}", h["disks"]));
    assert_eq!(slash["device"], root_dev.as_str(), "{slash}");
    assert_eq!(slash["fs_type"], root_type.as_str(), "{slash}");
    assert_eq!(slash["total_bytes"].as_u64(), Some(root_total), "{slash}");
    assert!(
        h["disks"].as_array().expect("disks").iter().all(|d| {
            let m = d["mount_point"].as_str().unwrap_or_default();
            !m.starts_with("/host") && !m.starts_with("/proc") && !m.starts_with("/out")
        }),
        "only the node's mount points: {}",
        h["disks"]
    );
    assert_eq!(h["hostname"], hostname.as_str(), "{w}");
    assert_eq!(seen.node_hostname, hostname, "the manifest names the node");
    match &machine_id {
        Some(id) => assert_eq!(
            seen.machine_id_hash,
            machine_id_hash(Some(id)),
            "the node's /etc/machine-id"
        ),
        None => assert_eq!(seen.machine_id_hash, None, "this machine has no machine id"),
    }
    assert_eq!(h["network_view"], "host", "{w}");
    assert_eq!(
        names(h),
        ifaces,
        "the node's interfaces, without its network: {w}"
    );
    assert!(
        ifaces.iter().any(|n| n != "lo"),
        "this machine has an interface besides lo: {ifaces:?}"
    );
    let lo = h["network"]
        .as_array()
        .expect("network")
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo");
    assert!(lo["addresses"].to_string().contains("127.0.0.1/8"), "{lo}");
    assert!(
        lo["mtu"].as_u64().is_some(),
        "the node's sysfs gives the MTU: {lo} {w}"
    );
    assert_eq!(h["proc_root"], "/host/proc");
    assert_eq!(h["host_proc_visible"], true);

    // 1b. The same mount without the flag: /host holds a root, so it is the default.
    let seen = collect_in(&host, &image, &uts, &["/:/host:ro"], &[]);
    let h = &seen.host;
    assert_eq!(
        h["host_root"], "/host",
        "the default when / is mounted at /host"
    );
    assert_eq!(h["disks_view"], "host", "{}", h["warnings"]);
    assert_eq!(h["hostname"], hostname.as_str());
    assert_eq!(
        disk_at(h, "/").map(|d| d["device"].clone()),
        Some(Value::from(root_dev.as_str()))
    );

    // 2. The same image without the mount: the container's view, said so.
    let seen = collect_in(&host, &image, &uts, &[], &[]);
    let h = &seen.host;
    eprintln!(
        "container view: disks = {}, network = {}",
        h["disks"], h["network"]
    );
    assert_eq!(h["in_container"], true);
    assert_eq!(h["disks_view"], "container", "{h:#}");
    assert_eq!(h["network_view"], "container", "{h:#}");
    assert_eq!(h["hostname"], uts.as_str(), "the container's own host name");
    assert_eq!(seen.node_hostname, uts);
    assert_eq!(names(h), ["lo"], "--network none: only lo");
    assert!(
        disk_at(h, "/").is_none_or(|d| d["device"] != root_dev.as_str()),
        "the container's / is not the node's: {}",
        h["disks"]
    );
    assert_ne!(h["hostname"], hostname.as_str());
    if machine_id.is_some() {
        assert_ne!(
            seen.machine_id_hash,
            machine_id_hash(machine_id.as_deref()),
            "the container has no machine id of the node's"
        );
    }
    assert!(
        h["warnings"].to_string().contains("RCDIAG_HOST_PROC"),
        "the image's RCDIAG_HOST_PROC names a missing /host/proc: {}",
        h["warnings"]
    );
}

/// The manifest's hash of machine id `id`.
fn machine_id_hash(id: Option<&str>) -> Option<String> {
    id.map(|id| {
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(format!("rcdiag:{id}")))
        )
    })
}
