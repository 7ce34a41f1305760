//! `mongodb.*`.

use super::*;

fn with_mongo(mut n: NodeData, v: &str) -> NodeData {
    n.edit_json("mongodb/summary.json", |doc| {
        doc["version"] = json!(v);
    });
    n
}

/// `mongodb.version` by the Rocket.Chat and MongoDB versions (`None`: the healthy
/// node's, 8.5.1 and 8.0.4).
#[test]
fn mongodb_version_by_versions() {
    type Row<'a> = (Option<&'a str>, Option<&'a str>, Outcome, &'a str);
    let rows: [Row; 4] = [
        (
            None,
            None,
            Outcome::Pass,
            "MongoDB 8.0.4 is supported by Rocket.Chat 8.5.1",
        ),
        (Some("7.4.1"), Some("5.0.24"), Outcome::Warn, "deprecated"),
        (Some("8.1.2"), Some("8.0.4"), Outcome::Warn, "disagree"),
        (
            None,
            Some("6.0.13"),
            Outcome::Fail,
            "not supported by Rocket.Chat 8.5.1",
        ),
    ];
    for (rc, mongo, outcome, needle) in rows {
        let mut n = healthy("a", "n1");
        if let Some(v) = rc {
            n = with_version(n, v);
        }
        if let Some(v) = mongo {
            n = with_mongo(n, v);
        }
        expect(&[n], "mongodb.version", outcome, needle);
    }
}

#[test]
fn mongodb_version_fail_too_old() {
    let mut n = healthy("a", "n1");
    n.set_json("mongodb/summary.json", json!({"version": null, "too_old": {"message": "Server reports wire version 8, but this driver requires at least 9 (MongoDB 4.4)", "version": null}}),);
    n.edit_json("rocketchat/statistics.json", |doc| {
        doc.as_object_mut().unwrap().remove("mongoVersion");
    });
    expect(&[n], "mongodb.version", Outcome::Fail, "older than 4.4");
}

#[test]
fn mongodb_version_unknown_and_fallbacks() {
    let mut n = healthy("a", "n1");
    n.set_json("mongodb/summary.json", serde_json::Value::Null);
    // statistics.mongoVersion is a fallback.
    expect(&[n.clone()], "mongodb.version", Outcome::Pass, "8.0.4");
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    skip_collector(&mut n, "mongodb", "no MongoDB URI");
    expect(
        &[n],
        "mongodb.version",
        Outcome::Unknown,
        "mongodb collector was skipped",
    );
}

#[test]
fn mongodb_replica_set_pass() {
    expect(
        &[healthy("a", "n1")],
        "mongodb.replica-set",
        Outcome::Pass,
        "replica set rs0 has a primary",
    );
}

#[test]
fn mongodb_replica_set_fail_standalone() {
    let mut n = healthy("a", "n1");
    n.edit_json("mongodb/summary.json", |v| {
        v["replica_set"] = json!({"state": "standalone", "error": "not a replica set"});
    });
    expect(&[n], "mongodb.replica-set", Outcome::Fail, "standalone");
}

#[test]
fn mongodb_replica_set_fail_no_primary_or_unhealthy() {
    let mut n = healthy("a", "n1");
    n.edit_json("mongodb/summary.json", |v| {
        v["replica_set"]["primary"] = json!(null);
    });
    n.edit_json("mongodb/summary.json", |v| {
        v["replica_set"]["members"] =
            json!([{"name": "m1:27017", "state": "SECONDARY", "health": 1}]);
    });
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Fail,
        "no primary",
    );
    n.edit_json("mongodb/summary.json", |v| {
        v["replica_set"]["primary"] = json!("m1:27017");
    });
    n.edit_json("mongodb/summary.json", |v| { v["replica_set"]["members"] = json!([{"name": "m1:27017", "state": "PRIMARY", "health": 1}, {"name": "m2:27017", "state": "(not reachable/healthy)", "health": 0}]); });
    expect(
        &[n],
        "mongodb.replica-set",
        Outcome::Fail,
        "member m2:27017",
    );
}

#[test]
fn mongodb_replica_set_warn_lag_and_size() {
    let mut n = healthy("a", "n1");
    n.edit_json("mongodb/summary.json", |v| { v["replica_set"]["members"] = json!([{"name": "m1", "state": "PRIMARY", "health": 1, "lag_seconds": 0}, {"name": "m2", "state": "SECONDARY", "health": 1, "lag_seconds": 300}]); });
    expect(&[n], "mongodb.replica-set", Outcome::Warn, "lags 300 s");
    let mut n = healthy("a", "n1");
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["users"]["concurrent"] = json!(100);
    });
    expect(&[n], "mongodb.replica-set", Outcome::Warn, "recommends 3");
}

#[test]
fn mongodb_replica_set_from_raw_reply_and_unknown() {
    let mut n = healthy("a", "n1");
    n.set_json("mongodb/summary.json", serde_json::Value::Null);
    n.mongodb.insert("replSetGetStatus".into(), json!({"ok": false, "error": {"code": 76, "code_name": "NoReplicationEnabled", "message": "not running with --replSet"}}));
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Fail,
        "NoReplicationEnabled",
    );
    n.mongodb.clear();
    n.edit_json("rocketchat/statistics.json", |doc| {
        doc["oplogEnabled"] = json!(true);
    });
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Unknown,
        "member health was not collected",
    );
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    n.startup_oplog = vec![("logs/rc.log".into(), "Disabled".into())];
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Fail,
        "ReplicaSet OpLog: Disabled",
    );
    n.startup_oplog.clear();
    expect(
        &[n],
        "mongodb.replica-set",
        Outcome::Unknown,
        "replica set state is unknown",
    );
}

#[test]
fn mongodb_storage_engine_pass_fail_unknown() {
    expect(
        &[healthy("a", "n1")],
        "mongodb.storage-engine",
        Outcome::Pass,
        "wiredTiger",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("mongodb/summary.json", |v| {
        v["storage_engine"] = json!("mmapv1");
    });
    expect(
        &[n.clone()],
        "mongodb.storage-engine",
        Outcome::Fail,
        "mmapv1",
    );
    n.set_json("mongodb/summary.json", serde_json::Value::Null);
    n.set_json("rocketchat/statistics.json", serde_json::Value::Null);
    expect(
        &[n],
        "mongodb.storage-engine",
        Outcome::Unknown,
        "storage engine is unknown",
    );
}

#[test]
fn mongodb_bypass_flags_pass_fail_unknown() {
    expect(
        &[healthy("a", "n1")],
        "mongodb.bypass-flags",
        Outcome::Pass,
        "none of BYPASS_MONGO_VALIDATION",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("BYPASS_OPLOG_VALIDATION=true"));
    });
    let r = expect(
        &[n],
        "mongodb.bypass-flags",
        Outcome::Fail,
        "BYPASS_OPLOG_VALIDATION",
    );
    assert_eq!(
        r.evidence[0].value.as_deref(),
        Some("BYPASS_OPLOG_VALIDATION")
    );
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("SKIP_MONGODEPRECATION_CHECK="));
    });
    expect(&[n], "mongodb.bypass-flags", Outcome::Pass, "none of");
    let mut n = healthy("a", "n1");
    no_docker(&mut n);
    expect(
        &[n.clone()],
        "mongodb.bypass-flags",
        Outcome::Unknown,
        "docker collector was skipped",
    );
    n.edit_json("host/host.json", |v| { v["processes"] = json!([{"pid": 7, "kind": "rocketchat", "env_names": ["ROOT_URL", "BYPASS_NODEJS_VALIDATION"], "in_container": false}]); });
    expect(
        &[n],
        "mongodb.bypass-flags",
        Outcome::Fail,
        "BYPASS_NODEJS_VALIDATION",
    );
}

#[test]
fn mongodb_bypass_flags_from_host_processes_without_docker() {
    let mut n = healthy("a", "n1");
    no_docker(&mut n);
    // A containerized Rocket.Chat process in the host's list, clean: decided.
    n.edit_json("host/host.json", |v| { v["processes"] = json!([{"pid": 7, "kind": "rocketchat", "env_names": ["ROOT_URL", "MONGO_URL", "DEPLOY_METHOD"], "in_container": true}]); });
    let r = expect(
        &[n.clone()],
        "mongodb.bypass-flags",
        Outcome::Pass,
        "read from the host's process list on n1",
    );
    assert!(!r.message.contains("docker collector"), "{}", r.message);
    // Its environment unreadable (not root): still unknown, and it says why.
    n.edit_json("host/host.json", |v| {
        v["processes"] = json!([{"pid": 7, "kind": "rocketchat", "in_container": true}]);
    });
    expect(
        &[n],
        "mongodb.bypass-flags",
        Outcome::Unknown,
        "environment of its Rocket.Chat processes was not readable",
    );
}
