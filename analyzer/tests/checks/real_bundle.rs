//! One real bundle written with `BundleWriter`, opened and loaded.

use super::*;

#[test]
fn real_bundle_loads_and_checks() {
    use rcdiag_bundle::{Bundle, OpenOptions};
    let dir = tempfile::tempdir().unwrap();
    let mut w = plain_writer(dir.path());
    let template = healthy("x", "node1");
    w.add_json("host/host.json", template.host.as_ref().unwrap())
        .unwrap();
    w.add_json(
        "docker/containers.json",
        template.docker_containers.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json("docker/info.json", template.docker_info.as_ref().unwrap())
        .unwrap();
    w.add_json("docker/images.json", &json!([])).unwrap();
    w.add_json("docker/version.json", &json!({"Version": "27.0.0"}))
        .unwrap();
    w.add_json(
        "mongodb/summary.json",
        template.mongodb_summary.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "mongodb/buildInfo.json",
        &json!({"ok": true, "reply": {"version": "8.0.4"}}),
    )
    .unwrap();
    w.add_json(
        "mongodb/serverStatus.json",
        &json!({"ok": true, "reply": {"storageEngine": {"name": "wiredTiger"}}}),
    )
    .unwrap();
    w.add_json(
        "rocketchat/summary.json",
        template.rocketchat.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "rocketchat/settings.json",
        template.rc_settings.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "rocketchat/statistics.json",
        template.rc_statistics.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "logs/index.json",
        &json!([{"container": "rocketchat-rocketchat-1", "id": "c1", "file": "logs/rocketchat-rocketchat-1.log", "lines": 3, "bytes": 200, "truncated": false, "truncated_by": null, "since": "2026-11-25T05:00:00Z", "error": null}]),
    )
    .unwrap();
    w.add_bytes(
        "logs/rocketchat-rocketchat-1.log",
        b"2026-11-26T04:00:00.000000000Z stdout |  Rocket.Chat Version: 8.5.1  |\n2026-11-26T04:00:01.000000000Z stderr Failed to communicate with Rocket.Chat Cloud\n2026-11-26T04:00:02.000000000Z stdout ok\n",
    )
    .unwrap();
    w.add_bytes("rocketchat/broken.json", b"{not json").unwrap();
    for c in collectors_ok() {
        w.record_collector(c);
    }
    let done = w.finish().unwrap();

    let mut bundle = Bundle::open(&done.path, &OpenOptions::default()).unwrap();
    let policy = Policy::builtin();
    let label = done.path.file_name().unwrap().to_string_lossy().to_string();
    let node = NodeData::load(&mut bundle, &label, &policy).unwrap();
    assert_eq!(node.label, label);
    assert_eq!(node.hostname(), "node1");
    assert!(
        node.host.is_some()
            && node.docker_containers.is_some()
            && node.docker_info.is_some()
            && node.docker_images.is_some()
    );
    assert!(
        node.mongodb_summary.is_some()
            && node.rocketchat.is_some()
            && node.rc_settings.is_some()
            && node.rc_statistics.is_some()
    );
    assert!(node.logs_index.is_some());
    assert_eq!(
        node.mongodb.keys().cloned().collect::<Vec<_>>(),
        vec!["buildInfo".to_string(), "serverStatus".to_string()]
    );
    assert_eq!(
        node.log_files,
        vec!["logs/rocketchat-rocketchat-1.log".to_string()]
    );
    assert_eq!(
        node.startup_versions,
        vec![(
            "logs/rocketchat-rocketchat-1.log".to_string(),
            "8.5.1".to_string()
        )]
    );
    assert_eq!(node.log_matches.len(), 1);
    assert_eq!(node.log_matches[0].signature, "cloud-unreachable");
    assert_eq!(node.log_matches[0].line_no, 2);
    assert_eq!(node.trust, TrustStatus::NotChecked);

    let nodes = [node];
    let results = run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: None,
        trust_given: false,
    });
    assert_eq!(get(&results, "image.official").outcome, Outcome::Pass);
    assert_eq!(get(&results, "version.supported").outcome, Outcome::Pass);
    assert_eq!(get(&results, "mongodb.version").outcome, Outcome::Pass);
    assert_eq!(get(&results, "logs.known-errors").outcome, Outcome::Warn);
    assert_eq!(
        get(&results, "bundle.signer-trusted").outcome,
        Outcome::Unknown
    );
    let r = get(&results, "logs.known-errors");
    assert_eq!(r.evidence[0].bundle, label);
    assert_eq!(
        r.evidence[0].file.as_deref(),
        Some("logs/rocketchat-rocketchat-1.log")
    );
}

#[test]
fn real_bundle_with_unparsable_file_records_problem() {
    use rcdiag_bundle::{Bundle, OpenOptions};
    let dir = tempfile::tempdir().unwrap();
    let mut w = plain_writer(dir.path());
    w.add_bytes("host/host.json", b"{\"cpu\": ").unwrap();
    let done = w.finish().unwrap();
    let mut bundle = Bundle::open(&done.path, &OpenOptions::default()).unwrap();
    let node = NodeData::load(&mut bundle, "b", &Policy::builtin()).unwrap();
    assert!(node.host.is_none());
    assert!(
        node.load_problems
            .get("host/host.json")
            .is_some_and(|p| p.contains("not valid JSON"))
    );
    let nodes = [node];
    let policy = Policy::builtin();
    let results = run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: None,
        trust_given: false,
    });
    let r = get(&results, "host.disk-free");
    assert_eq!(r.outcome, Outcome::Unknown);
    assert!(r.message.contains("present but unusable"), "{}", r.message);
    assert_eq!(get(&results, "bundle.complete").outcome, Outcome::Warn);
}

/// A writer of a plain bundle of `node1` into `dir`, signed by a new key.
fn plain_writer(dir: &std::path::Path) -> rcdiag_bundle::BundleWriter {
    use rcdiag_bundle::{BundleWriter, Encryption, NodeKey, WriterOptions};
    BundleWriter::create(WriterOptions {
        out: dir.to_path_buf(),
        encryption: Encryption::None,
        signer: NodeKey::generate(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: "0.1.0".into(),
        },
        node: NodeInfo {
            hostname: "node1".into(),
            ..Default::default()
        },
        compression_level: None,
    })
    .unwrap()
}

/// A plain bundle holding logs `logs` (path, content), and its path.
fn bundle_with_logs(dir: &std::path::Path, logs: &[(&str, &[u8])]) -> std::path::PathBuf {
    let mut w = plain_writer(dir);
    for (path, data) in logs {
        w.add_bytes(path, data).unwrap();
    }
    w.finish().unwrap().path
}

/// A log of `lines` lines with varied text (so it does not compress to nothing), a
/// signature on every 997th line and a startup box line now and then.
fn varied_log(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..lines {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let text = match i % 997 {
            0 => "MongoServerSelectionError: connection refused".to_string(),
            500 => format!("|  Rocket.Chat Version: 8.{}.0  |", i % 7),
            _ => format!(
                "{{\"level\":30,\"msg\":\"call {x:016x} took {}ms\"}}",
                x % 1000
            ),
        };
        out.extend_from_slice(format!("2026-11-26T05:00:00.{i:09}Z stdout {text}\n").as_bytes());
    }
    out
}

#[test]
fn real_bundle_logs_over_many_read_blocks_scan_like_scan_log() {
    use rcdiag_bundle::{Bundle, OpenOptions};
    let dir = tempfile::tempdir().unwrap();
    let a = varied_log(60_000);
    let b = varied_log(7_000);
    assert!(a.len() > 3 << 20, "several read blocks: {}", a.len());
    let path = bundle_with_logs(dir.path(), &[("logs/a.log", &a), ("logs/b.log", &b)]);
    // As `check` opens it: each file's hash is checked as the model reads it.
    let opts = OpenOptions {
        skip_content_check: true,
        ..Default::default()
    };
    let mut bundle = Bundle::open(&path, &opts).unwrap();
    let policy = Policy::builtin();
    let loaded = NodeData::load(&mut bundle, "b", &policy).unwrap();
    bundle.verify_contents().unwrap();
    let mut expected = NodeData::new("b", loaded.manifest.clone());
    expected.scan_log("logs/a.log", &a[..], &policy).unwrap();
    expected.scan_log("logs/b.log", &b[..], &policy).unwrap();
    assert_eq!(loaded.log_files, expected.log_files);
    assert_eq!(loaded.log_matches, expected.log_matches);
    assert_eq!(loaded.log_match_counts, expected.log_match_counts);
    assert_eq!(loaded.startup_versions, expected.startup_versions);
    // 61 hits in a.log (lines 1, 998, ...), 8 in b.log; 20 kept for the node.
    assert_eq!(
        loaded.log_match_counts.get("mongodb-unreachable"),
        Some(&(61 + 8))
    );
    let kept: Vec<u64> = loaded.log_matches.iter().map(|m| m.line_no).collect();
    assert_eq!(kept, (0..20).map(|k| 1 + 997 * k).collect::<Vec<u64>>());
    assert_eq!(
        loaded.startup_versions.len(),
        14,
        "8.0.0 to 8.6.0 in each log"
    );
}

#[test]
fn a_log_damaged_inside_the_bundle_fails_the_load() {
    use rcdiag_bundle::{Bundle, OpenOptions};
    let dir = tempfile::tempdir().unwrap();
    let a = varied_log(40_000);
    let path = bundle_with_logs(dir.path(), &[("logs/a.log", &a), ("logs/b.log", b"ok\n")]);
    // Flip a byte in the middle of logs/a.log's compressed data (after its local header).
    let mut bytes = std::fs::read(&path).unwrap();
    let name = b"logs/a.log";
    let at = bytes
        .windows(name.len())
        .enumerate()
        .find(|(i, w)| *w == name && *i >= 30 && bytes[i - 30..i - 26] == *b"PK\x03\x04")
        .map(|(i, _)| i)
        .expect("local header of logs/a.log");
    let extra = u16::from_le_bytes([bytes[at - 2], bytes[at - 1]]) as usize;
    let data = at + name.len() + extra;
    bytes[data + 20_000] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let opts = OpenOptions {
        skip_content_check: true,
        ..Default::default()
    };
    let mut bundle = Bundle::open(&path, &opts).expect("the manifest and signature are intact");
    let err = NodeData::load(&mut bundle, "b", &Policy::builtin())
        .expect_err("a damaged log must fail the load");
    assert!(!err.to_string().is_empty());
}
