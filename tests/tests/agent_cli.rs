//! The agent's command line end to end: refusing to run without a recipient, dry runs,
//! a host-only bundle that the analyzer verifies, time limits, and SIGTERM cleanup.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rcdiag_e2e::{HungSocket, bin, files_in, support_key};

/// `AGENT collect ARGS -o DIR --state-dir DIR/state`, run to its end.
fn collect_into(agent: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(agent)
        .arg("collect")
        .args(args)
        .arg("-o")
        .arg(dir)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .unwrap()
}

#[test]
fn collect_refuses_without_a_recipient_and_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin("rcdiag-agent"))
        .args(["collect", "--only", "host", "--config", "/dev/null", "-o"])
        .arg(dir.path())
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no recipient")
            && err.contains("-r <support key>")
            && err.contains("--no-encrypt"),
        "{err}"
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "nothing written: {:?}",
        files_in(dir.path())
    );
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, recipient) = support_key(dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = Command::new(bin("rcdiag-agent"))
        .args([
            "collect",
            "--dry-run",
            "--config",
            "/dev/null",
            "-r",
            &recipient,
            "--mongodb-uri",
            "mongodb://u:DryRunPw1@db:27017/rc",
            "-o",
        ])
        .arg(&out_dir)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for c in ["host", "docker", "logs", "mongodb", "rocketchat"] {
        assert!(text.contains(c), "{c} missing from the plan:\n{text}");
    }
    assert!(text.contains("would be created"), "{text}");
    assert!(
        !text.contains("DryRunPw1"),
        "the password is not echoed:\n{text}"
    );
    assert!(files_in(&out_dir).is_empty());
    assert!(
        !dir.path().join("state").exists(),
        "not even the node key is created"
    );
}

#[test]
fn host_only_bundle_is_verified_by_the_analyzer() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = support_key(dir.path());
    let out = collect_into(
        &bin("rcdiag-agent"),
        dir.path(),
        &[
            "--only",
            "host",
            "--config",
            "/dev/null",
            "--case",
            "CASE-42",
            "-r",
            &recipient,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = stdout.lines().last().unwrap().trim().to_string();
    assert!(path.ends_with("-CASE-42.rcdiag"), "{path}");
    assert!(Path::new(&path).exists());
    // Only the bundle, the key and the state dir are there: no temp file.
    assert!(files_in(dir.path()).iter().all(|f| !f.ends_with(".tmp")));
    // The analyzer verifies it, pinning the node key shown by `key show`.
    let show = Command::new(bin("rcdiag-agent"))
        .args(["key", "show", "--state-dir"])
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert!(show.status.success());
    let shown = String::from_utf8_lossy(&show.stdout);
    let pubkey = shown.lines().next().unwrap();
    let fingerprint = shown.lines().nth(1).unwrap();
    assert!(
        pubkey.starts_with("ssh-ed25519 ") && fingerprint.starts_with("SHA256:"),
        "{shown}"
    );
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("node {pubkey}\n")).unwrap();
    let v = Command::new(bin("rcdiag-analyzer"))
        .arg("verify")
        .arg(&path)
        .arg("-i")
        .arg(&key)
        .arg("--trust")
        .arg(&allowed)
        .output()
        .unwrap();
    let vout = String::from_utf8_lossy(&v.stdout);
    assert!(
        v.status.success(),
        "{vout}\n{}",
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(
        vout.contains(fingerprint) && vout.contains("host/host.json"),
        "{vout}"
    );
    // The manifest says host ran and the others were deselected.
    let b = rcdiag_bundle::Bundle::open(
        Path::new(&path),
        &rcdiag_bundle::OpenOptions {
            identities: &rcdiag_bundle::Identity::load_file(&key).unwrap(),
            ..Default::default()
        },
    )
    .unwrap();
    let m = b.manifest();
    assert_eq!(
        m.node.labels.get("case").map(String::as_str),
        Some("CASE-42")
    );
    let status = |n: &str| m.collectors.iter().find(|c| c.name == n).map(|c| c.status);
    assert_eq!(status("host"), Some(rcdiag_bundle::CollectorStatus::Ok));
    assert_eq!(
        status("docker"),
        Some(rcdiag_bundle::CollectorStatus::Skipped)
    );
    assert!(m.redaction.enabled);
}

#[test]
fn a_hung_docker_engine_times_out_and_the_bundle_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let hung = HungSocket::new();
    let agent = bin("rcdiag-agent");
    let t = Instant::now();
    let out = collect_into(
        &agent,
        dir.path(),
        &[
            "--only",
            "host,docker,logs",
            "--no-encrypt",
            "--config",
            "/dev/null",
            "--timeout",
            "2s",
            "--docker-host",
            &hung.uri(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    let path = stdout.lines().last().unwrap().trim().to_string();
    let b = rcdiag_bundle::Bundle::open(Path::new(&path), &Default::default()).unwrap();
    let m = b.manifest();
    let docker = m.collectors.iter().find(|c| c.name == "docker").unwrap();
    assert_eq!(
        docker.status,
        rcdiag_bundle::CollectorStatus::Timeout,
        "{docker:?}"
    );
    assert!(
        docker
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("--timeout")
    );
    let host = m.collectors.iter().find(|c| c.name == "host").unwrap();
    assert_eq!(
        host.status,
        rcdiag_bundle::CollectorStatus::Ok,
        "the other collectors finish"
    );
}

#[test]
fn sigterm_during_collection_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let hung = HungSocket::new();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let child = Command::new(bin("rcdiag-agent"))
        .args([
            "collect",
            "--only",
            "host,docker",
            "--no-encrypt",
            "--config",
            "/dev/null",
            "--timeout",
            "60s",
            "--docker-host",
            &hung.uri(),
            "-o",
        ])
        .arg(&out_dir)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temp file exists, so the signal lands mid-run.
    let t = Instant::now();
    while files_in(&out_dir).is_empty() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !files_in(&out_dir).is_empty(),
        "the run never started writing"
    );
    std::thread::sleep(Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted by SIGTERM"));
    assert!(
        files_in(&out_dir).is_empty(),
        "left behind: {:?}",
        files_in(&out_dir)
    );
}

/// One `collect --only host --no-encrypt` into `out`; the bundle's manifest labels and
/// `agent/run.json`.
fn collect_plain(state: &Path, out: &Path) -> (rcdiag_bundle::Manifest, serde_json::Value) {
    let before = files_in(out);
    let run = Command::new(bin("rcdiag-agent"))
        .args([
            "collect",
            "--config",
            "/dev/null",
            "--no-encrypt",
            "--only",
            "host",
            "-q",
        ])
        .arg("--state-dir")
        .arg(state)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let new: Vec<String> = files_in(out)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let mut b = rcdiag_bundle::Bundle::open(&out.join(&new[0]), &Default::default()).unwrap();
    let run_json: serde_json::Value = b.read_json("agent/run.json").unwrap();
    (b.manifest().clone(), run_json)
}

#[test]
fn key_new_is_recorded_in_the_next_bundle_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let key = |cmd: &str| {
        let o = Command::new(bin("rcdiag-agent"))
            .args(["key", cmd, "--state-dir"])
            .arg(&state)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // stdout: the public key, then its fingerprint.
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines().nth(1).unwrap().to_string()
    };
    let old = key("show");
    // No key change yet: the first bundle says none.
    let (m, run) = collect_plain(&state, &out);
    assert!(
        !m.node.labels.contains_key("node_key_change"),
        "{:?}",
        m.node.labels
    );
    assert_eq!(run["node_key"]["changed"], false);
    let new = key("new");
    assert_ne!(old, new);
    let record = state.join("node_key_change.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&record).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The next bundle says the key changed, and from which key.
    let (m, run) = collect_plain(&state, &out);
    let label = m
        .node
        .labels
        .get("node_key_change")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        label,
        format!("new key, replacing {old}"),
        "{:?}",
        m.node.labels
    );
    assert_eq!(run["node_key"]["changed"], true);
    assert_eq!(run["node_key"]["fingerprint"], new.as_str());
    assert_eq!(run["node_key"]["previous_fingerprint"], old.as_str());
    assert!(
        run["node_key"]["reason"]
            .as_str()
            .unwrap()
            .contains("key new)"),
        "{run}"
    );
    assert!(
        !record.exists(),
        "the record is removed once a bundle has it"
    );
    // And only that one.
    let (m, run) = collect_plain(&state, &out);
    assert!(
        !m.node.labels.contains_key("node_key_change"),
        "{:?}",
        m.node.labels
    );
    assert_eq!(run["node_key"]["changed"], false);
}
