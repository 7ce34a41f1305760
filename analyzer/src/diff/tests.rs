//! Unit tests of the diff: what changes are found between two nodes.

use super::*;
use serde_json::json;

fn node(host: &str, machine: Option<&str>, created: &str) -> NodeData {
    let manifest = rcdiag_bundle::Manifest {
        format: "rcdiag-bundle".into(),
        format_version: 1,
        bundle_id: format!("id-{created}"),
        created_at: created.into(),
        agent: rcdiag_bundle::AgentInfo {
            name: "t".into(),
            version: "1".into(),
        },
        node: rcdiag_bundle::NodeInfo {
            hostname: host.into(),
            machine_id_hash: machine.map(str::to_string),
            labels: Default::default(),
        },
        collectors: vec![],
        files: vec![],
        redaction: Default::default(),
        signer: rcdiag_bundle::Signer {
            algorithm: String::new(),
            public_key: String::new(),
            fingerprint: String::new(),
        },
    };
    let mut n = NodeData::new("b", manifest);
    // Pinned signers, as with --trust: no signer warning.
    n.trust = rcdiag_bundle::TrustStatus::Trusted {
        principals: vec!["node".into()],
    };
    n
}

#[test]
fn finds_version_container_and_restart_changes() {
    let mut a = node("n1", Some("sha256:aa"), "2026-11-01T00:00:00Z");
    let mut b = node("n1", Some("sha256:aa"), "2026-11-20T00:00:00Z");
    a.set_json(
        "rocketchat/summary.json",
        json!({"version": {"value": "8.4.0"}, "users": {"total": 10}}),
    );
    b.set_json(
        "rocketchat/summary.json",
        json!({"version": {"value": "8.5.0"}, "users": {"total": 12}}),
    );
    a.set_json("docker/containers.json", json!([
        {"name": "rc", "image": "rocketchat/rocket.chat:8.4.0", "restart_count": 0, "state": {"status": "running"}},
        {"name": "/gone", "image": "x:1"}
    ]));
    b.set_json("docker/containers.json", json!([
        {"name": "rc", "image": "rocketchat/rocket.chat:8.5.0", "restart_count": 4, "state": {"status": "running"}},
        {"name": "mongo-2", "image": "mongo:8.0"}
    ]));
    b.log_match_counts.insert("mongo-timeout".into(), 3);
    let d = diff_nodes("a", &a, "b", &b);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let find = |area: &str, item: &str, field: &str| {
        d.changes
            .iter()
            .find(|c| c.area == area && c.item == item && c.field == field)
            .cloned()
    };
    assert_eq!(
        find("rocketchat", "Rocket.Chat", "version").map(|c| c.new),
        Some(Some(json!("8.5.0")))
    );
    assert_eq!(
        find("containers", "rc", "restart_count").map(|c| c.kind),
        Some(ChangeKind::Changed)
    );
    assert_eq!(
        find("containers", "mongo-2", "").map(|c| c.kind),
        Some(ChangeKind::Added)
    );
    assert_eq!(
        find("containers", "gone", "").map(|c| c.kind),
        Some(ChangeKind::Removed)
    );
    assert_eq!(
        find("users", "users", "total").map(|c| c.new),
        Some(Some(json!(12)))
    );
    assert_eq!(
        find("logs", "mongo-timeout", "hits").map(|c| c.kind),
        Some(ChangeKind::Added)
    );
    let text = d.render_text();
    assert!(text.contains("~ rc restart_count: 0 -> 4 (+4)"), "{text}");
}

#[test]
fn warns_on_other_node_and_swapped_order() {
    let a = node("n1", Some("sha256:aa"), "2026-11-20T00:00:00Z");
    let b = node("n2", Some("sha256:bb"), "2026-11-01T00:00:00Z");
    let d = diff_nodes("a", &a, "b", &b);
    assert_eq!(d.warnings.len(), 3, "{:?}", d.warnings);
}

#[test]
fn byte_counts_are_shown_as_sizes() {
    let mut a = node("n1", Some("sha256:aa"), "2026-11-01T00:00:00Z");
    let mut b = node("n1", Some("sha256:aa"), "2026-11-20T00:00:00Z");
    a.set_json(
        "rocketchat/settings.json",
        json!({"FileUpload_MaxFileSize": 104857600, "Message_MaxAllowedSize": 5000}),
    );
    b.set_json(
        "rocketchat/settings.json",
        json!({"FileUpload_MaxFileSize": "52428800", "Message_MaxAllowedSize": 8000}),
    );
    let d = diff_nodes("a", &a, "b", &b);
    let text = d.render_text();
    assert!(
        text.contains("~ FileUpload_MaxFileSize: 100.0 MiB -> 50.0 MiB (-50.0 MiB)"),
        "{text}"
    );
    // Other numbers stay numbers.
    assert!(
        text.contains("~ Message_MaxAllowedSize: 5000 -> 8000 (+3000)"),
        "{text}"
    );
    // JSON keeps the values as the bundle has them.
    let size = d
        .changes
        .iter()
        .find(|c| c.item == "FileUpload_MaxFileSize")
        .expect("size change");
    assert_eq!(size.old, Some(json!(104857600)));
    // No limit (-1) is shown as it is.
    b.set_json(
        "rocketchat/settings.json",
        json!({"FileUpload_MaxFileSize": -1}),
    );
    let text = diff_nodes("a", &a, "b", &b).render_text();
    assert!(
        text.contains("~ FileUpload_MaxFileSize: 100.0 MiB -> -1\n"),
        "{text}"
    );
}
