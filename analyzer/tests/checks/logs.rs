//! `logs.known-errors`.

use super::*;

fn scan(n: &mut NodeData, text: &str) {
    let policy = Policy::builtin();
    n.log_files.clear();
    n.scan_log("logs/rocketchat-rocketchat-1.log", text.as_bytes(), &policy)
        .expect("scan");
}

#[test]
fn logs_pass() {
    let mut n = healthy("a", "n1");
    scan(
        &mut n,
        "2026-11-26T04:00:00.000000000Z stdout {\"level\":30,\"msg\":\"all good\"}\n",
    );
    expect(
        &[n],
        "logs.known-errors",
        Outcome::Pass,
        "no known error signature in 1 log file",
    );
}

#[test]
fn logs_fail_with_capped_evidence() {
    let mut n = healthy("a", "n1");
    let mut text = String::new();
    for i in 0..30 {
        text.push_str(&format!("2026-11-26T04:00:{i:02}.000Z stderr MongoServerSelectionError: Server selection timed out after 10000 ms\n"));
    }
    text.push_str("2026-11-26T04:01:00.000Z stdout Failed to communicate with Rocket.Chat Cloud\n");
    scan(&mut n, &text);
    assert_eq!(n.log_match_counts.get("mongodb-unreachable"), Some(&30));
    assert_eq!(
        n.log_matches
            .iter()
            .filter(|m| m.signature == "mongodb-unreachable")
            .count(),
        20,
        "kept matches are capped"
    );
    let r = expect(&[n], "logs.known-errors", Outcome::Fail, "30 line(s)");
    let hits: Vec<_> = r
        .evidence
        .iter()
        .filter(|e| e.value.as_deref() == Some("mongodb-unreachable"))
        .collect();
    assert_eq!(hits.len(), 5, "evidence per signature is capped");
    assert!(
        hits[0].line.as_deref().unwrap().starts_with("1: "),
        "{:?}",
        hits[0].line
    );
    assert!(
        r.message.contains("Rocket.Chat Cloud is unreachable"),
        "{}",
        r.message
    );
}

#[test]
fn logs_warn() {
    let mut n = healthy("a", "n1");
    scan(
        &mut n,
        "x\n2026-11-26T04:00:00Z stdout Deprecated /health endpoint was called\n",
    );
    let r = expect(
        &[n],
        "logs.known-errors",
        Outcome::Warn,
        "deprecated /health",
    );
    assert_eq!(
        r.evidence[0].line.as_deref().map(|l| l.starts_with("2: ")),
        Some(true)
    );
}

#[test]
fn logs_unknown() {
    let mut n = healthy("a", "n1");
    n.log_files.clear();
    skip_collector(&mut n, "logs", "cannot reach the Docker socket");
    expect(
        &[n],
        "logs.known-errors",
        Outcome::Unknown,
        "logs collector was skipped",
    );
}

#[test]
fn log_scan_reads_startup_boxes() {
    let mut n = NodeData::new("a", manifest("n1"));
    let policy = Policy::builtin();
    let text = concat!(
        "2026-11-26T04:00:00Z stdout +----------------------------------------------+\n",
        "2026-11-26T04:00:00Z stdout |                SERVER RUNNING                |\n",
        "2026-11-26T04:00:00Z stdout |  Rocket.Chat Version: 7.10.3                 |\n",
        "2026-11-26T04:00:00Z stdout |  MongoDB Version: 6.0.13                     |\n",
        "2026-11-26T04:00:00Z stdout |  MongoDB Engine: wiredTiger                  |\n",
        "2026-11-26T04:00:00Z stdout |  ReplicaSet OpLog: Enabled                   |\n",
        "2026-11-26T05:00:00Z stdout {\"level\":51,\"msg\":\"+---+\\n| SERVER RUNNING |\\n| Rocket.Chat Version: 8.5.1 |\\n| MongoDB Version: 8.0.4 |\\n+---+\"}\n",
        "no newline at end: Rocket.Chat Version: 8.5.1"
    );
    n.scan_log("logs/rc.log", text.as_bytes(), &policy).unwrap();
    assert_eq!(
        n.startup_versions,
        vec![
            ("logs/rc.log".to_string(), "7.10.3".to_string()),
            ("logs/rc.log".to_string(), "8.5.1".to_string())
        ]
    );
    assert_eq!(
        n.startup_mongo_versions.last().map(|x| x.1.as_str()),
        Some("8.0.4")
    );
    assert_eq!(n.startup_mongo_engines[0].1, "wiredTiger");
    assert_eq!(n.startup_oplog[0].1, "Enabled");
    assert_eq!(n.log_files, vec!["logs/rc.log".to_string()]);
}

#[test]
fn log_scan_survives_huge_lines_and_binary() {
    let mut n = NodeData::new("a", manifest("n1"));
    let policy = Policy::builtin();
    let mut data = vec![b'x'; 3 << 20];
    data.extend_from_slice(
        b" OPLOG / REPLICASET IS REQUIRED\n\xff\xfe\x00 OPLOG / REPLICASET IS REQUIRED\n",
    );
    n.scan_log("logs/x.log", &data[..], &policy).unwrap();
    // The first hit sits beyond the 64 KiB examined per line; the second is found.
    let m: Vec<_> = n
        .log_matches
        .iter()
        .filter(|m| m.signature == "oplog-required")
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].line_no, 2);
    assert!(m[0].line.chars().count() <= policy.logs.max_line_chars);
}
