//! `rcdiag-analyzer diff` on two real bundles of one node that differ in Rocket.Chat
//! version, containers, restart counts, settings, users, disk use and log signatures;
//! and the warning when the bundles come from different nodes.

#[path = "../src/report/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use fixtures::{Node, Protect, support_key};
use predicates::prelude::*;
use rcdiag_bundle::NodeKey;
use serde_json::{Value, json};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"));
    c.env_remove("RCDIAG_IDENTITY").env_remove("NO_COLOR");
    c
}

struct Pair {
    _dir: tempfile::TempDir,
    identity: PathBuf,
    /// An allowed signers file pinning the key both bundles are signed with.
    trust: PathBuf,
    old: PathBuf,
    new: PathBuf,
}

/// Two snapshots of node1: 8.4.0 then 8.5.0, a container added and one removed,
/// restarts 0 -> 7, a setting changed, more users, fuller disk, MongoDB errors in the log.
fn pair() -> Pair {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = support_key(dir.path());
    let nk = NodeKey::generate();
    let mut old = Node::healthy("node1", "8.4.0");
    old.edit("docker/containers.json", |v| {
        if let Some(a) = v.as_array_mut() {
            a.push(json!({"name": "legacy-proxy", "image": "nginx:1.25", "restart_count": 0, "state": {"status": "running"}}));
        }
    });
    let write =
        |n: &Node, name: &str| n.write(&dir.path().join(name), Protect::Age(&key.recipient), &nk);
    let old_path = write(&old, "old.rcdiag");

    let mut new = Node::healthy("node1", "8.5.0");
    new.edit_container("rocketchat-rocketchat-1", |c| c["restart_count"] = 7.into());
    new.edit("docker/containers.json", |v| {
        if let Some(a) = v.as_array_mut() {
            a.push(json!({"name": "rocketchat-mongodb-2", "image": "mongo:8.0", "restart_count": 0, "state": {"status": "running"}}));
        }
    });
    new.edit("rocketchat/settings.json", |v| {
        v["Prometheus_Port"] = 9100.into()
    });
    new.edit("rocketchat/summary.json", |v| {
        v["users"]["total"] = 150.into()
    });
    new.edit("host/host.json", |v| {
        v["disks"][0]["available_bytes"] = (40u64 << 30).into()
    });
    new.append_log(&[
        "2026-11-25T06:00:00.000000000Z stderr MongoServerSelectionError: Server selection timed out after 10000 ms",
        "2026-11-25T06:00:10.000000000Z stderr MongoServerSelectionError: Server selection timed out after 10000 ms",
    ]);
    let new_path = write(&new, "new.rcdiag");
    Pair {
        identity: key.identity.clone(),
        trust: fixtures::allowed_signers(dir.path(), "allowed_signers", &[&nk]),
        old: old_path,
        new: new_path,
        _dir: dir,
    }
}

impl Pair {
    /// `diff OLD NEW`.
    fn diff(&self) -> Command {
        diff_of(&self.old, &self.new)
    }
}

/// `diff A B`.
fn diff_of(a: &Path, b: &Path) -> Command {
    let mut c = bin();
    c.arg("diff").arg(a).arg(b);
    c
}

/// A healthy signed-plain bundle of `host` (8.5.0), `name` in `dir`, signed by `key`.
fn plain_bundle(dir: &Path, host: &str, name: &str, key: &NodeKey) -> PathBuf {
    Node::healthy(host, "8.5.0").write(&dir.join(name), Protect::Plain, key)
}

#[test]
fn diff_text_shows_what_changed() {
    let p = pair();
    let out = p
        .diff()
        .arg("-i")
        .arg(&p.identity)
        .arg("--trust")
        .arg(&p.trust)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "~ Rocket.Chat version: 8.4.0 -> 8.5.0",
        "~ rocketchat-rocketchat-1 image: rocketchat/rocket.chat:8.4.0 -> rocketchat/rocket.chat:8.5.0",
        "~ rocketchat-rocketchat-1 restart_count: 0 -> 7 (+7)",
        "+ rocketchat-mongodb-2: mongo:8.0",
        "- legacy-proxy: nginx:1.25",
        "~ Prometheus_Port: 9458 -> 9100",
        "~ users total: 120 -> 150 (+30)",
        "~ / used_percent: 40.0 -> 80.0 (+40)",
        "+ mongodb-unreachable hits: 2 (not seen in OLD)",
        "MongoServerSelectionError",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("warning:"), "same node: no warning\n{text}");
}

#[test]
fn diff_json_lists_changes_by_area() {
    let p = pair();
    let out = p
        .diff()
        .args(["--format", "json", "--identity"])
        .arg(&p.identity)
        .arg("--trust")
        .arg(&p.trust)
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["schema"], "rcdiag.diff/v1");
    assert_eq!(v["old"]["node"], "node1");
    assert_eq!(v["warnings"], json!([]));
    let changes = v["changes"].as_array().expect("changes");
    let find = |area: &str, item: &str, field: &str| {
        changes
            .iter()
            .find(|c| c["area"] == area && c["item"] == item && c["field"] == field)
            .cloned()
            .unwrap_or_else(|| panic!("no change {area}/{item}/{field} in {changes:#?}"))
    };
    let version = find("rocketchat", "Rocket.Chat", "version");
    assert_eq!(
        (version["old"].clone(), version["new"].clone()),
        (json!("8.4.0"), json!("8.5.0"))
    );
    let restarts = find("containers", "rocketchat-rocketchat-1", "restart_count");
    assert_eq!(
        (
            restarts["kind"].clone(),
            restarts["old"].clone(),
            restarts["new"].clone()
        ),
        (json!("changed"), json!(0), json!(7))
    );
    assert_eq!(
        find("containers", "rocketchat-mongodb-2", "")["kind"],
        "added"
    );
    assert_eq!(find("containers", "legacy-proxy", "")["kind"], "removed");
    assert_eq!(find("logs", "mongodb-unreachable", "hits")["new"], 2);
}

#[test]
fn diff_warns_when_the_bundles_are_from_different_nodes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nk = NodeKey::generate();
    let a = plain_bundle(dir.path(), "node1", "a.rcdiag.zip", &nk);
    let b = plain_bundle(dir.path(), "node2", "b.rcdiag.zip", &nk);
    diff_of(&a, &b)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "warning: the bundles come from different machines",
        ))
        .stdout(predicate::str::contains(
            "warning: the host names differ (node1 vs node2)",
        ));
    diff_of(&a, &b)
        .args(["--format", "json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: the host names differ"));
}

#[test]
fn diff_of_an_unreadable_bundle_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = plain_bundle(dir.path(), "node1", "a.rcdiag.zip", &NodeKey::generate());
    let bad = dir.path().join("bad.rcdiag");
    std::fs::write(&bad, b"").expect("write");
    diff_of(&a, &bad)
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "error: {}: ",
            bad.display()
        )));
}

#[test]
fn diff_warns_of_unpinned_signers_and_of_two_signing_keys() {
    let p = pair();
    let out = p.diff().arg("-i").arg(&p.identity).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for side in ["OLD", "NEW"] {
        assert!(
            text.contains(&format!("warning: {side} is signed by SHA256:"))
                && text.contains("not verified"),
            "{text}"
        );
    }
    // The same node's snapshot re-signed by a stranger's key.
    let dir = tempfile::tempdir().expect("tempdir");
    let (k1, k2) = (NodeKey::generate(), NodeKey::generate());
    let a = plain_bundle(dir.path(), "node1", "a.rcdiag.zip", &k1);
    let b = plain_bundle(dir.path(), "node1", "b.rcdiag.zip", &k2);
    diff_of(&a, &b)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "warning: OLD and NEW are signed by different keys ({} vs {})",
            k1.fingerprint(),
            k2.fingerprint()
        )));
}
