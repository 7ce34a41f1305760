//! `rcdiag-agent schedule --upload`, end to end: the real binary takes real snapshots
//! (`--only host`, so no engine is needed) and uploads them to the S3 API peer (moto over
//! HTTPS) and to the nginx folder of the upload peer (`scripts/test-env`). A bucket that
//! does not exist keeps every snapshot (past `--keep`) and counts the failures in a row;
//! a run against the good bucket then uploads them all, byte for byte, under the node's
//! own prefix, and only then does `--keep` delete the older ones. `--max-total` deletes
//! snapshots never uploaded, and says so. The folder, its ledger, `status.json` and
//! `rcdiag.prom` are read afterwards.

mod common;
mod s3peer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcdiag_testkit::{SupportKey, bundle_host, files_in, require_peer, sha256_hex, support_key};
use serde_json::Value;

/// A finished `rcdiag-agent schedule` run: its exit code and its JSON log lines.
struct Run {
    out: Output,
    lines: Vec<Value>,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    fn events(&self, event: &str) -> Vec<&Value> {
        self.lines.iter().filter(|v| v["event"] == event).collect()
    }

    fn expect_ok(&self) {
        assert_eq!(self.out.status.code(), Some(0), "{}", self.stderr());
    }
}

/// Runs `schedule ARGS` to its end (`--count`), stdin closed, stderr a pipe (JSON logs).
fn schedule(mut c: Command, args: &[&str]) -> Run {
    let out = c
        .arg("schedule")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run rcdiag-agent schedule");
    let text = String::from_utf8_lossy(&out.stderr);
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line not JSON ({e}): {l}")))
        .collect();
    Run { out, lines }
}

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"))
}

/// The arguments every run here shares: one-second ticks, host facts only, the folder,
/// its state, no config file, support's key.
fn base<'a>(dir: &'a str, state: &'a str, recipient: &'a str, count: &'a str) -> Vec<&'a str> {
    vec![
        "--every",
        "1s",
        "--count",
        count,
        "--dir",
        dir,
        "--state-dir",
        state,
        "--config",
        "/dev/null",
        "-r",
        recipient,
        "--only",
        "host",
        "--timeout",
        "20s",
    ]
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of an unlabelled sample `name` in `dir/rcdiag.prom`, if there is one.
fn prom(dir: &Path, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("rcdiag.prom")).expect("rcdiag.prom");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The bundles in `dir` (the scheduler's own files left out), with their bytes.
fn bundles(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_in(dir)
        .into_iter()
        .filter(|n| n.ends_with(".rcdiag"))
        .map(|n| {
            let b = std::fs::read(dir.join(&n)).expect("read bundle");
            (n, b)
        })
        .collect()
}

/// The ledger's `upload` record of each snapshot, by file name.
fn ledger_uploads(dir: &Path) -> BTreeMap<String, Value> {
    read_json(&dir.join(".rcdiag-snapshots.json"))["snapshots"]
        .as_array()
        .expect("ledger snapshots")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().expect("file").to_string(),
                e["upload"].clone(),
            )
        })
        .collect()
}

/// A temp folder with a `snapshots` folder (created), the path of a `state` folder,
/// and a support key.
fn folders() -> (tempfile::TempDir, PathBuf, PathBuf, SupportKey) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("snapshots");
    let state = tmp.path().join("state");
    std::fs::create_dir(&dir).expect("mkdir");
    let key = support_key(tmp.path());
    (tmp, dir, state, key)
}

#[test]
fn a_missing_bucket_holds_every_snapshot_then_the_good_bucket_gets_them_all() {
    let Some(s3) = s3peer::peer() else { return };
    let (_tmp, dir, state, key) = folders();
    let (d, st) = (dir.to_str().unwrap(), state.to_str().unwrap());

    // 1. A bucket that does not exist: three snapshots, --keep 1, all three kept.
    let mut c = agent();
    s3.env(&mut c, true);
    let mut args = base(d, st, &key.recipient, "3");
    args.extend([
        "--keep",
        "1",
        "--upload",
        "s3://rcdiag-no-such-bucket/fleet/",
        "--ca-file",
        &s3.ca,
    ]);
    let r = schedule(c, &args);
    r.expect_ok();
    assert_eq!(r.events("snapshot_written").len(), 3, "{}", r.stderr());
    assert!(r.events("upload_done").is_empty(), "{}", r.stderr());
    let failed = r.events("upload_failed");
    assert!(failed.len() >= 3, "{}", r.stderr());
    for f in &failed {
        assert_eq!(f["level"], "error", "{f}");
        let e = f["error"].as_str().expect("error");
        assert!(
            e.contains("NoSuchBucket") && e.contains("check the bucket name"),
            "{f}"
        );
        assert!(!e.contains(&s3.secret), "the secret key was logged: {f}");
    }
    assert!(
        r.events("snapshot_deleted").is_empty()
            && r.events("snapshot_deleted_not_uploaded").is_empty(),
        "retention deleted a snapshot not uploaded yet: {}",
        r.stderr()
    );
    let kept = bundles(&dir);
    assert_eq!(
        kept.len(),
        3,
        "all three kept past --keep 1: {:?}",
        kept.keys()
    );
    let ledger = ledger_uploads(&dir);
    for name in kept.keys() {
        let u = &ledger[name];
        assert_eq!(u["pending"], true, "{name}: {u}");
        assert!(u["failures"].as_u64().unwrap() >= 1, "{name}: {u}");
        assert!(
            u["last_error"].as_str().unwrap().contains("NoSuchBucket"),
            "{u}"
        );
    }
    let status = read_json(&dir.join("status.json"));
    let up = &status["upload"];
    assert_eq!(up["pending"], 3, "{up}");
    assert_eq!(up["uploaded"], 0, "{up}");
    assert!(up["consecutive_failures"].as_u64().unwrap() >= 3, "{up}");
    assert!(up["last_success"].is_null(), "{up}");
    assert_eq!(up["last"]["ok"], false, "{up}");
    let host = bundle_host();
    assert_eq!(
        up["target"],
        format!("s3://rcdiag-no-such-bucket/fleet/{host}/"),
        "one prefix per node: {up}"
    );
    assert!(prom(&dir, "rcdiag_upload_failures").unwrap() >= 3.0);
    assert_eq!(prom(&dir, "rcdiag_uploads_pending"), Some(3.0));

    // 2. The good bucket: the new snapshot and the three held ones go up, then --keep 1
    // deletes the older three.
    let fleet = format!("fleet-{}/", uuid::Uuid::now_v7().simple());
    let to = format!("s3://{}/{fleet}", s3.bucket);
    let mut c = agent();
    s3.env(&mut c, true);
    let mut args = base(d, st, &key.recipient, "1");
    args.extend(["--keep", "1", "--upload", &to, "--ca-file", &s3.ca]);
    let r = schedule(c, &args);
    r.expect_ok();
    assert!(r.events("upload_failed").is_empty(), "{}", r.stderr());
    let done = r.events("upload_done");
    assert_eq!(done.len(), 4, "{}", r.stderr());
    let new = bundles(&dir);
    assert_eq!(
        new.len(),
        1,
        "--keep 1 once all are uploaded: {:?}",
        new.keys()
    );
    let mut all = kept.clone();
    all.extend(new.clone());
    assert_eq!(all.len(), 4);
    let prefix = format!("{fleet}{host}/");
    let listed = s3.list(&fleet);
    assert_eq!(
        listed.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        all.keys()
            .map(|n| format!("{prefix}{n}"))
            .collect::<Vec<_>>(),
        "every snapshot under the node's prefix"
    );
    for (name, local) in &all {
        let objkey = format!("{prefix}{name}");
        assert!(
            s3.get(&objkey) == *local,
            "{objkey} differs from the local snapshot"
        );
        let ev = done
            .iter()
            .find(|e| e["file"] == name.as_str())
            .unwrap_or_else(|| panic!("no upload_done for {name}"));
        assert_eq!(ev["sha256"], sha256_hex(local), "{ev}");
        assert_eq!(ev["bytes"], local.len() as u64, "{ev}");
        assert_eq!(ev["to"], format!("s3://{}/{objkey}", s3.bucket), "{ev}");
    }
    // The held ones are retried newest first, after the tick's own snapshot.
    let order: Vec<&str> = done.iter().map(|e| e["file"].as_str().unwrap()).collect();
    let mut want: Vec<&str> = new.keys().map(String::as_str).collect();
    want.extend(kept.keys().rev().map(String::as_str));
    assert_eq!(order, want);
    let deleted = r.events("snapshot_deleted");
    assert_eq!(deleted.len(), 3, "{}", r.stderr());
    for e in &deleted {
        assert!(kept.contains_key(e["file"].as_str().unwrap()), "{e}");
        assert_eq!(e["reason"], "more than --keep 1", "{e}");
    }
    let ledger = ledger_uploads(&dir);
    let (name, u) = ledger.iter().next().expect("one ledger entry");
    assert_eq!(ledger.len(), 1);
    assert!(new.contains_key(name));
    assert_eq!(u["pending"], false, "{u}");
    assert_eq!(u["sha256"], sha256_hex(&new[name]), "{u}");
    let up = &read_json(&dir.join("status.json"))["upload"];
    assert_eq!(up["pending"], 0, "{up}");
    assert_eq!(up["uploaded"], 4, "{up}");
    assert_eq!(up["consecutive_failures"], 0, "{up}");
    assert_eq!(up["last_success"]["ok"], true, "{up}");
    assert_eq!(prom(&dir, "rcdiag_upload_failures"), Some(0.0));
    assert_eq!(prom(&dir, "rcdiag_uploads_pending"), Some(0.0));
    let at = prom(&dir, "rcdiag_last_upload_success_timestamp_seconds").expect("success time");
    let now = jiff::Timestamp::now().as_second() as f64;
    assert!((now - 120.0..=now + 1.0).contains(&at), "{at} vs {now}");
}

#[test]
fn max_total_deletes_snapshots_never_uploaded_and_says_so() {
    let Some(s3) = s3peer::peer() else { return };
    let (_tmp, dir, state, key) = folders();
    let (d, st) = (dir.to_str().unwrap(), state.to_str().unwrap());
    let target = "s3://rcdiag-no-such-bucket/fleet/";

    let mut c = agent();
    s3.env(&mut c, true);
    let mut args = base(d, st, &key.recipient, "2");
    args.extend(["--keep", "1", "--upload", target, "--ca-file", &s3.ca]);
    let r = schedule(c, &args);
    r.expect_ok();
    let held = bundles(&dir);
    assert_eq!(held.len(), 2, "{}", r.stderr());
    // Room for one snapshot and a half: the newest stays, the two older go although
    // they were never uploaded.
    let biggest = held.values().map(Vec::len).max().unwrap();
    let smallest = held.values().map(Vec::len).min().unwrap();
    assert!(
        smallest * 4 > biggest * 3,
        "snapshot sizes {smallest}..{biggest}"
    );
    let max_total = (biggest + biggest / 2).to_string();
    let mut c = agent();
    s3.env(&mut c, true);
    let mut args = base(d, st, &key.recipient, "1");
    args.extend([
        "--keep",
        "1",
        "--max-total",
        &max_total,
        "--upload",
        target,
        "--ca-file",
        &s3.ca,
    ]);
    let r = schedule(c, &args);
    r.expect_ok();
    let gone = r.events("snapshot_deleted_not_uploaded");
    assert_eq!(gone.len(), 2, "{}", r.stderr());
    for e in &gone {
        assert_eq!(e["level"], "warn", "{e}");
        assert!(held.contains_key(e["file"].as_str().unwrap()), "{e}");
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.contains("over --max-total") && reason.contains("never uploaded"),
            "{e}"
        );
    }
    assert!(r.events("snapshot_deleted").is_empty(), "{}", r.stderr());
    let left = bundles(&dir);
    assert_eq!(left.len(), 1);
    assert!(
        !held.contains_key(left.keys().next().unwrap()),
        "the newest stays"
    );
    let up = &read_json(&dir.join("status.json"))["upload"];
    assert_eq!(up["pending"], 1, "{up}");
    assert!(
        up["consecutive_failures"].as_u64().unwrap() >= 3,
        "carried over: {up}"
    );
}

#[test]
fn an_https_folder_link_gets_each_snapshot_under_its_own_name() {
    let Some(url) = require_peer("RCDIAG_TEST_UPLOAD_URL") else {
        return;
    };
    let Some(ca) = require_peer("RCDIAG_TEST_UPLOAD_CA") else {
        return;
    };
    let Some(root) = require_peer("RCDIAG_TEST_UPLOAD_ROOT") else {
        return;
    };
    let (_tmp, dir, state, key) = folders();
    let (d, st) = (dir.to_str().unwrap(), state.to_str().unwrap());
    let case = format!("sched-{}", uuid::Uuid::now_v7().simple());
    // A folder link with a token in its query string (nginx ignores it): the token is
    // never logged or recorded.
    let link = format!("{url}/upload/{case}/?token=rcdiag-secret-token");
    let mut c = agent();
    common::for_upload_peers(&mut c);
    let mut args = base(d, st, &key.recipient, "2");
    args.extend(["--keep", "1", "--upload", &link, "--ca-file", &ca]);
    let r = schedule(c, &args);
    r.expect_ok();
    let written: Vec<String> = r
        .events("snapshot_written")
        .iter()
        .map(|w| {
            Path::new(w["bundle"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(written.len(), 2, "{}", r.stderr());
    let done = r.events("upload_done");
    assert_eq!(done.len(), 2, "{}", r.stderr());
    let server = Path::new(&root).join("upload").join(&case);
    assert_eq!(files_in(&server), {
        let mut w = written.clone();
        w.sort();
        w
    });
    // The newest is still here, byte-identical to what nginx stored.
    let left = bundles(&dir);
    assert_eq!(left.len(), 1, "{:?}", left.keys());
    let (name, local) = left.iter().next().unwrap();
    assert_eq!(name, &written[1]);
    assert!(std::fs::read(server.join(name)).unwrap() == *local);
    for e in &done {
        assert_eq!(
            e["to"],
            format!("{url}/upload/{case}/{}", e["file"].as_str().unwrap()),
            "{e}"
        );
    }
    for f in ["status.json", ".rcdiag-snapshots.json", "rcdiag.prom"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(!text.contains("rcdiag-secret-token"), "{f} holds the token");
    }
    assert!(
        !r.stderr().contains("rcdiag-secret-token"),
        "{}",
        r.stderr()
    );
    let up = &read_json(&dir.join("status.json"))["upload"];
    assert_eq!(up["target"], format!("{url}/upload/{case}/"), "{up}");
    assert_eq!(up["pending"], 0, "{up}");
    assert_eq!(up["uploaded"], 2, "{up}");
}

#[test]
fn the_nodes_prefix_is_the_bundles_node_name() {
    // A DaemonSet or CronJob pod has a host name of its own (the pod's); the bundles and
    // so the node's prefix take RCDIAG_NODE_NAME (the downward API's node name, or the
    // CronJob's fixed one) instead.
    let tmp = tempfile::tempdir().expect("tmp");
    let key = support_key(tmp.path());
    let dir = tmp.path().join("snaps");
    let out = agent()
        .env("RCDIAG_NODE_NAME", "worker-7")
        .args(["schedule", "--once", "--dry-run", "--only", "host"])
        .args(["--config", "/dev/null", "-r", &key.recipient])
        .args(["--upload", "s3://rcdiag-test-bucket/fleet/"])
        .arg("--dir")
        .arg(&dir)
        .output()
        .expect("run rcdiag-agent");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("each snapshot to s3://rcdiag-test-bucket/fleet/worker-7/,"),
        "{text}"
    );
}

#[test]
fn with_host_names_pseudonymized_the_prefix_is_the_nodes_token() {
    // The bundles carry the node's pseudonym: so does the prefix they go to, or the
    // bucket's listing would show the name the bundles hide.
    let Some(s3) = s3peer::peer() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, state) = (tmp.path().join("snaps"), tmp.path().join("state"));
    let key = support_key(tmp.path());
    let (d, st) = (dir.to_str().unwrap(), state.to_str().unwrap());
    let mut c = agent();
    s3.env(&mut c, true);
    c.env("RCDIAG_NODE_NAME", "worker-7");
    let mut args = base(d, st, &key.recipient, "1");
    args.extend([
        "--pseudonymize",
        "hostnames",
        "--upload",
        "s3://rcdiag-no-such-bucket/fleet/",
        "--ca-file",
        &s3.ca,
    ]);
    let r = schedule(c, &args);
    r.expect_ok();
    let names: Vec<String> = bundles(&dir).into_keys().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let host = rcdiag_agent::snapshots::parse_bundle_name(&names[0])
        .map(|n| n.host)
        .expect("a bundle name");
    assert!(host.starts_with("host-") && host != "worker-7", "{host}");
    let target = read_json(&dir.join("status.json"))["upload"]["target"].clone();
    assert_eq!(
        target,
        format!("s3://rcdiag-no-such-bucket/fleet/{host}/"),
        "the prefix is the bundles' host part"
    );
    assert!(!r.stderr().contains("fleet/worker-7"), "{}", r.stderr());
}
