//! `version.*`.

use super::*;

/// `version.supported` by the Rocket.Chat version (`None`: the healthy node's 8.5.1),
/// judged at each bundle's date (2026-11-26).
#[test]
fn version_supported_by_version() {
    let rows: [(Option<&str>, Outcome, &str); 3] = [
        (
            None,
            Outcome::Pass,
            "8.5 LTS) is supported until 2027-06-30 (as of 2026-11-26)",
        ),
        (
            Some("8.0.3"),
            Outcome::Fail,
            "reached end of life on 2026-06-30",
        ),
        (Some("8.6.0-rc.2"), Outcome::Warn, "pre-release"),
    ];
    for (version, outcome, needle) in rows {
        let mut n = healthy("a", "n1");
        if let Some(v) = version {
            n = with_version(n, v);
        }
        expect(&[n], "version.supported", outcome, needle);
    }
}

#[test]
fn version_supported_uses_bundle_date_by_default() {
    let mut n = with_version(healthy("a", "n1"), "8.0.3");
    n.manifest.created_at = "2026-04-01T10:00:00Z".into();
    expect(
        &[n.clone()],
        "version.supported",
        Outcome::Pass,
        "as of 2026-04-01",
    );
    // --as-of overrides it.
    let results = run_as_of(&[n], "2026-07-01");
    assert_eq!(get(&results, "version.supported").outcome, Outcome::Fail);
}

#[test]
fn version_supported_warn_near_eol() {
    let n = with_version(healthy("a", "n1"), "7.10.4");
    let results = run_as_of(&[n], "2026-09-15");
    let r = get(&results, "version.supported");
    assert_eq!(r.outcome, Outcome::Warn, "{}", r.message);
    assert!(
        r.message.contains("2026-09-30") && r.message.contains("15 day(s)"),
        "{}",
        r.message
    );
}

#[test]
fn version_supported_unknown_newer_than_policy() {
    let n = with_version(healthy("a", "n1"), "8.9.0");
    expect(
        &[n],
        "version.supported",
        Outcome::Unknown,
        "the policy is older than this release",
    );
}

#[test]
fn version_supported_unknown_missing() {
    let mut n = healthy("a", "n1");
    n.set_json("rocketchat/summary.json", serde_json::Value::Null);
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    n.startup_versions.clear();
    n.edit_json("docker/containers.json", |v| {
        v[0]["image"] = json!("registry.rocket.chat/rocketchat/rocket.chat:latest");
    });
    expect(
        &[n],
        "version.supported",
        Outcome::Unknown,
        "version is unknown",
    );
}

#[test]
fn version_consistent_pass_fail_unknown() {
    expect(
        &[healthy("a", "n1"), healthy("b", "n2")],
        "version.consistent",
        Outcome::Pass,
        "report Rocket.Chat 8.5.1",
    );
    let b = with_version(healthy("b", "n2"), "8.4.0");
    let r = expect(
        &[healthy("a", "n1"), b],
        "version.consistent",
        Outcome::Fail,
        "different Rocket.Chat versions",
    );
    assert!(
        r.message.contains("8.4.0") && r.message.contains("8.5.1"),
        "{}",
        r.message
    );
    let mut n = healthy("a", "n1");
    n.set_json("rocketchat/summary.json", serde_json::Value::Null);
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    n.startup_versions.clear();
    no_docker(&mut n);
    expect(
        &[n],
        "version.consistent",
        Outcome::Unknown,
        "no Rocket.Chat version found",
    );
}

#[test]
fn version_consistent_partial_tag_and_old_startup_box() {
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["image"] = json!("rocket.chat:8.5");
    });
    n.edit_json("docker/containers.json", |v| {
        v[0]["image_labels"] = json!({});
    });
    // An older startup box earlier in the same log (before an upgrade) is ignored.
    n.startup_versions = vec![
        ("logs/rocketchat-rocketchat-1.log".into(), "8.4.2".into()),
        ("logs/rocketchat-rocketchat-1.log".into(), "8.5.1".into()),
    ];
    expect(&[n], "version.consistent", Outcome::Pass, "8.5.1");
}
