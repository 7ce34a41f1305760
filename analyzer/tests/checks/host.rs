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
