//! `hardware.*`.

use super::*;

#[test]
fn hardware_pass() {
    let results = run(&[healthy("a", "n1")]);
    for id in ["hardware.cpu", "hardware.memory", "hardware.disk"] {
        let r = get(&results, id);
        assert_eq!(r.outcome, Outcome::Pass, "{id}: {}", r.message);
        assert!(
            r.message.contains("tier Starter for 20 concurrent users"),
            "{}",
            r.message
        );
    }
}

#[test]
fn hardware_cpu_fail_colocated_sum() {
    // Starter: Rocket.Chat 1 vCPU + MongoDB 2 vCPU on the same node.
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| {
        v["cpu"]["logical_cores"] = json!(2);
    });
    expect(&[n], "hardware.cpu", Outcome::Fail, "has 2 vCPU, needs 3");
}

#[test]
fn hardware_cpu_fail_container_limit() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["users"]["concurrent"] = json!(300);
    });
    n.edit_json("docker/containers.json", |v| {
        v[0]["nano_cpus"] = json!(1_000_000_000u64);
    });
    n.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap().remove(1);
    }); // no MongoDB here
    expect(&[n], "hardware.cpu", Outcome::Fail, "limited to 1 vCPU");
}

#[test]
fn hardware_cpu_unknown_and_fallback() {
    let mut n = healthy("a", "n1");
    n.set_json("host/host.json", serde_json::Value::Null);
    skip_collector(&mut n, "host", "deselected");
    let r = expect(&[n.clone()], "hardware.cpu", Outcome::Pass, "8 vCPU");
    assert!(
        r.evidence
            .iter()
            .any(|e| e.file.as_deref() == Some("docker/info.json"))
    );
    n.set_json("docker/info.json", serde_json::Value::Null);
    expect(
        &[n],
        "hardware.cpu",
        Outcome::Unknown,
        "host collector was skipped",
    );
}

#[test]
fn hardware_memory_fail_and_unknown() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["users"]["concurrent"] = json!(400);
    }); // Pro: 4 + 4 GiB
    n.edit_json("mongodb/summary.json", |v| {
        v["replica_set"]["members"] = json!([]);
    });
    n.edit_json("host/host.json", |v| {
        v["memory"]["total_bytes"] = json!(6u64 << 30);
    });
    expect(
        &[n.clone()],
        "hardware.memory",
        Outcome::Fail,
        "needs 8 GiB",
    );
    n.edit_json("host/host.json", |v| {
        v["memory"] = json!(null);
    });
    n.set_json("docker/info.json", serde_json::Value::Null);
    expect(&[n], "hardware.memory", Outcome::Unknown, "host/host.json");
}

#[test]
fn hardware_memory_tolerates_kernel_reserve() {
    // 3.8 GiB reported for a nominal 4 GiB Rocket.Chat-only node.
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap().remove(1);
    });
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["users"]["concurrent"] = json!(100);
    });
    n.edit_json("host/host.json", |v| {
        v["memory"]["total_bytes"] = json!((3.8 * (1u64 << 30) as f64) as u64);
    });
    expect(&[n], "hardware.memory", Outcome::Pass, "3.8 GiB");
}

#[test]
fn hardware_disk_fail_and_unknown() {
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| {
        v["disks"][0]["total_bytes"] = json!(30_000_000_000u64);
    });
    n.edit_json("host/host.json", |v| {
        v["disks"][0]["available_bytes"] = json!(20_000_000_000u64);
    });
    expect(&[n.clone()], "hardware.disk", Outcome::Fail, "needs 50 GB");
    n.edit_json("host/host.json", |v| {
        v.as_object_mut().unwrap().remove("disks");
    });
    expect(&[n], "hardware.disk", Outcome::Unknown, "host/host.json");
}

#[test]
fn hardware_disk_counts_separate_data_mount() {
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| { v["disks"] = json!([
        {"mount_point": "/", "total_bytes": 10_000_000_000u64, "available_bytes": 5_000_000_000u64},
        {"mount_point": "/var/lib/docker", "total_bytes": 80_000_000_000u64, "available_bytes": 50_000_000_000u64}
    ]); });
    let r = expect(&[n], "hardware.disk", Outcome::Pass, "/var/lib/docker");
    assert!(!r.message.contains("data mount(s) /,"), "{}", r.message);
}

#[test]
fn hardware_unknown_without_users() {
    let mut n = healthy("a", "n1");
    n.set_json("rocketchat/summary.json", serde_json::Value::Null);
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    skip_collector(&mut n, "rocketchat", "no MongoDB URI");
    let results = run(&[n]);
    for id in ["hardware.cpu", "hardware.memory", "hardware.disk"] {
        let r = get(&results, id);
        assert_eq!(r.outcome, Outcome::Unknown, "{id}");
        assert!(r.message.contains("user count"), "{}", r.message);
    }
}

#[test]
fn hardware_uses_active_users_when_concurrent_missing() {
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["users"].as_object_mut().unwrap().remove("concurrent");
    });
    n.edit_json("rocketchat/statistics.json", |doc| {
        doc.as_object_mut().unwrap().remove("totalConnectedUsers");
    });
    expect(&[n], "hardware.cpu", Outcome::Pass, "25 active users");
}

#[test]
fn hardware_memory_of_the_wrong_type_is_unknown() {
    // `memory.total_bytes` as a string reads as absent (the contract's lenient
    // readers): unknown with the reason, never a pass or fail on a made-up figure.
    let mut n = healthy("a", "n1");
    n.edit_json("host/host.json", |v| {
        v["memory"]["total_bytes"] = json!("16 GiB");
    });
    n.set_json("docker/info.json", serde_json::Value::Null);
    assert!(n.host.as_ref().is_some_and(|h| h.memory.is_some()));
    let r = expect(&[n], "hardware.memory", Outcome::Unknown, "host/host.json");
    assert!(
        !r.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/memory/total_bytes")),
        "{:?}",
        r.evidence
    );
}
