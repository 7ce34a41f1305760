//! `host.*`.

use super::*;

#[test]
fn host_disk_free_pass_warn_fail_unknown() {
    expect(
        &[healthy("a", "n1")],
        "host.disk-free",
        Outcome::Pass,
        "60.0% free",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| {
        v["disks"][0]["available_bytes"] = json!(15_000_000_000u64);
    });
    expect(&[n.clone()], "host.disk-free", Outcome::Warn, "under 20%");
    n.edit_json("host/host.json", |v| {
        v["disks"][0]["available_bytes"] = json!(5_000_000_000u64);
    });
    expect(&[n.clone()], "host.disk-free", Outcome::Fail, "under 10%");
    n.set_json("host/host.json", serde_json::Value::Null);
    skip_collector(&mut n, "host", "deselected with --skip host");
    expect(
        &[n],
        "host.disk-free",
        Outcome::Unknown,
        "host collector was skipped",
    );
}

#[test]
fn host_disk_free_ignores_non_data_mounts() {
    // /boot is nearly full in the baseline but holds no data.
    let r = expect(
        &[healthy("a", "n1")],
        "host.disk-free",
        Outcome::Pass,
        "/ on n1",
    );
    assert!(!r.message.contains("/boot"));
}

fn with_mongo_clock(mut n: NodeData, offset_ms: i64) -> NodeData {
    // The mongodb collector ran 05:00:00.000-05:00:00.500 on the node's clock.
    let t = jiff::Timestamp::from_millisecond(
        date("2026-11-26")
            .at(5, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond()
            + 250
            + offset_ms,
    )
    .unwrap();
    n.mongodb.insert(
        "replSetGetStatus".into(),
        json!({"ok": true, "reply": {"set": "rs0", "date": {"$date": t.to_string()}}}),
    );
    n
}

#[test]
fn host_clock_pass_single_node() {
    expect(
        &[healthy("a", "n1")],
        "host.clock-skew",
        Outcome::Pass,
        "one bundle",
    );
}

#[test]
fn host_clock_warn_not_synchronized() {
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| {
        v["clock"] =
            json!({"wall_clock": "2026-11-26T05:00:00Z", "source": "none", "synchronized": false});
    });
    expect(&[n], "host.clock-skew", Outcome::Warn, "not synchronized");
}

#[test]
fn host_clock_fail_large_offset() {
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| {
        v["clock"]["offset_seconds"] = json!(45.0);
    });
    expect(&[n], "host.clock-skew", Outcome::Fail, "+45.000 s");
}

#[test]
fn host_clock_cross_node_through_mongodb() {
    let a = with_mongo_clock(healthy("a", "n1"), 0);
    let b = with_mongo_clock(healthy("b", "n2"), 0);
    expect(
        &[a.clone(), b],
        "host.clock-skew",
        Outcome::Pass,
        "node clocks agree",
    );
    // n2's clock runs 5 s behind: MongoDB's date looks 5 s later on its clock.
    let b = with_mongo_clock(healthy("b", "n2"), 5000);
    expect(
        &[a.clone(), b],
        "host.clock-skew",
        Outcome::Warn,
        "differ by at least",
    );
    let b = with_mongo_clock(healthy("b", "n2"), 60_000);
    expect(&[a, b], "host.clock-skew", Outcome::Fail, "n1 and n2");
}

#[test]
fn host_clock_cross_node_offset_spread() {
    let a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    b.edit_json("host/host.json", |v| {
        v["clock"]["offset_seconds"] = json!(-0.9);
    });
    let mut a2 = a.clone();
    a2.edit_json("host/host.json", |v| {
        v["clock"]["offset_seconds"] = json!(0.9);
    });
    expect(
        &[a2, b],
        "host.clock-skew",
        Outcome::Warn,
        "differ by 1.800 s",
    );
    let _ = a;
}

#[test]
fn host_clock_unknown() {
    let mut n = healthy("a", "n1");
    n.set_json("host/host.json", serde_json::Value::Null);
    skip_collector(&mut n, "host", "deselected");
    expect(
        &[n],
        "host.clock-skew",
        Outcome::Unknown,
        "host collector was skipped",
    );
}

/// A node whose time daemon could not be asked (no chrony, no systemd), as on the
/// compose sample.
fn clock_not_reported(mut n: NodeData) -> NodeData {
    n.edit_json("host/host.json", |v| {
        v["clock"] = json!({"wall_clock": "2026-11-26T05:00:00.100Z", "source": "none", "synchronized": null, "offset_seconds": null});
    });
    n
}

#[test]
fn host_clock_decided_by_the_shared_mongodb_clock_when_sync_is_not_reported() {
    // Without any clock to compare with: unknown, and it says what is missing.
    let (a, b) = (
        clock_not_reported(healthy("a", "n1")),
        clock_not_reported(healthy("b", "n2")),
    );
    expect(
        &[a.clone(), b.clone()],
        "host.clock-skew",
        Outcome::Unknown,
        "no MongoDB clock was read",
    );
    // Both read MongoDB rs0's clock: the pair is compared through it, and passes.
    let a = with_mongo_clock(a, 0);
    let r = expect(
        &[a.clone(), with_mongo_clock(b.clone(), 0)],
        "host.clock-skew",
        Outcome::Pass,
        "clocks of n1 and n2 agree within",
    );
    assert!(r.message.contains("MongoDB rs0"), "{}", r.message);
    assert!(
        r.evidence
            .iter()
            .any(|e| e.file.as_deref() == Some("mongodb/replSetGetStatus.json")),
        "{:?}",
        r.evidence
    );
    // n2 5 s behind: warns; 60 s: fails.
    expect(
        &[a.clone(), with_mongo_clock(b.clone(), 5000)],
        "host.clock-skew",
        Outcome::Warn,
        "clocks of n1 and n2 differ by at least",
    );
    expect(
        &[a, with_mongo_clock(b, 60_000)],
        "host.clock-skew",
        Outcome::Fail,
        "n1 and n2",
    );
}

#[test]
fn host_clock_one_node_against_the_mongodb_clock() {
    let n = clock_not_reported(healthy("a", "n1"));
    expect(
        &[with_mongo_clock(n.clone(), 0)],
        "host.clock-skew",
        Outcome::Pass,
        "n1's clock agrees with MongoDB rs0's clock",
    );
    // MongoDB's date is 60 s later than the node's clock: the node is behind.
    expect(
        &[with_mongo_clock(n, 60_000)],
        "host.clock-skew",
        Outcome::Fail,
        "the clock of n1 is behind MongoDB rs0's clock by at least",
    );
}

#[test]
fn host_clock_millisecond_start_narrows_the_uncertainty() {
    // With a start time in milliseconds there is no one-second widening: two nodes
    // 3 s apart differ by at least 2.5 s (with whole seconds: at least 0.5 s).
    let mut a = with_mongo_clock(clock_not_reported(healthy("a", "n1")), 0);
    let mut b = with_mongo_clock(clock_not_reported(healthy("b", "n2")), 3000);
    for n in [&mut a, &mut b] {
        for c in &mut n.manifest.collectors {
            c.started_at = "2026-11-26T05:00:00.000Z".into();
        }
    }
    // 3 s apart, uncertainty 0.25 s + 2 ms per node: at least 2.5 s.
    expect(
        &[a, b],
        "host.clock-skew",
        Outcome::Warn,
        "differ by at least 2.5 s",
    );
}

/// `disks_view` (whose disks `host/host.json` lists): the node's (`host`) are judged as
/// before; the agent container's own (`container`) give "container view only", never a
/// pass or a fail, for `host.disk-free` and `hardware.disk` alike; a bundle of an older
/// agent without the field is judged as before.
#[test]
fn disk_checks_judge_only_the_nodes_own_disks() {
    // A small, nearly full disk: fails both checks when judged.
    let small = |view: Option<&str>| {
        let mut n = healthy("a", "n1");
        n.edit_json("host/host.json", |v| {
            v["disks"][0]["total_bytes"] = json!(30_000_000_000u64);
            v["disks"][0]["available_bytes"] = json!(1_000_000_000u64);
            if let Some(view) = view {
                v["disks_view"] = json!(view);
            }
        });
        n
    };
    for view in [Some("host"), None] {
        expect(&[small(view)], "host.disk-free", Outcome::Fail, "under 10%");
        expect(
            &[small(view)],
            "hardware.disk",
            Outcome::Fail,
            "needs 50 GB",
        );
    }
    for id in ["host.disk-free", "hardware.disk"] {
        let r = expect(
            &[small(Some("container"))],
            id,
            Outcome::Unknown,
            "container view only: the disks in host/host.json are the agent container's, not the node's; mount the node's root read-only on /host and pass --host-root /host",
        );
        assert!(
            r.evidence
                .iter()
                .any(|e| e.file.as_deref() == Some("host/host.json")
                    && e.pointer.as_deref() == Some("/disks_view")
                    && e.value.as_deref() == Some("container")),
            "{id}: {:?}",
            r.evidence
        );
        assert!(r.message.starts_with("n1"), "{id}: {}", r.message);
    }
    // One node's container view does not hide another node's verdict.
    let r = expect(
        &[small(Some("container")), {
            let mut b = small(Some("host"));
            b.label = "b".into();
            b.manifest.node.hostname = "n2".into();
            b.edit_json("host/host.json", |v| v["hostname"] = json!("n2"));
            b
        }],
        "host.disk-free",
        Outcome::Fail,
        "/ on n2",
    );
    assert!(r.message.contains("container view only"), "{}", r.message);
}
