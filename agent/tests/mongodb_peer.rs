//! The mongodb collector against real wire-protocol peers: the mockupdb replay server
//! (recorded replies of real MongoDB 4.4 to 8.0 servers, `scripts/mockupdb-replay.py`),
//! nx-27017, and a socket that never answers. Each run goes into a real bundle that is
//! read back; values are compared with the recorded fixtures, not with literals.
//!
//! Peers: `scripts/test-env start; source /tmp/rcdp/env`. Without them these tests say
//! SKIPPED, or fail under `RCDIAG_REQUIRE_PEERS=1`.

mod common;

use std::time::{Duration, Instant};

use common::{
    Run, fixture_doc, mongodb_collector, options, options_without_uri, require_peer,
    run_against_silent_mongodb, run_collectors,
};
use mongodb::bson::{Bson, Document};
use rcdiag_agent::collectors::mongodb as collector;
use rcdiag_bundle::CollectorStatus;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);

const NAME: &str = "mongodb";

async fn collect(uri: &str, timeout: Duration) -> Run {
    run_collectors(options(uri, timeout), &[(NAME, mongodb_collector)]).await
}

fn f64_of(b: Option<&Bson>) -> Option<f64> {
    collector::num(b)
}

/// `[(name, stateStr, health, lag vs the PRIMARY)]` as the recording says.
fn recorded_members(status: &Document) -> Vec<(String, String, f64, Option<f64>)> {
    let members: Vec<&Document> = status
        .get_array("members")
        .expect("members")
        .iter()
        .filter_map(Bson::as_document)
        .collect();
    let date = |m: &Document| {
        m.get_datetime("optimeDate")
            .ok()
            .map(|d| d.timestamp_millis())
    };
    let primary = members
        .iter()
        .find(|m| m.get_str("stateStr").ok() == Some("PRIMARY"))
        .and_then(|p| date(p));
    members
        .iter()
        .map(|m| {
            let health = f64_of(m.get("health")).expect("health");
            let lag = match (primary, date(m)) {
                (Some(p), Some(o)) if health > 0.0 && o > 0 => Some((p - o) as f64 / 1000.0),
                _ => None,
            };
            (
                m.get_str("name").expect("name").to_string(),
                m.get_str("stateStr").expect("stateStr").to_string(),
                health,
                lag,
            )
        })
        .collect()
}

fn summary_members(summary: &Value) -> Vec<(String, String, f64, Option<f64>)> {
    summary["replica_set"]["members"]
        .as_array()
        .expect("members array")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().expect("name").to_string(),
                m["state"].as_str().expect("state").to_string(),
                m["health"].as_f64().expect("health"),
                m["lag_seconds"].as_f64(),
            )
        })
        .collect()
}

const ALL_FILES: &[&str] = &[
    "mongodb/buildInfo.json",
    "mongodb/serverStatus.json",
    "mongodb/hostInfo.json",
    "mongodb/getCmdLineOpts.json",
    "mongodb/replSetGetStatus.json",
    "mongodb/oplog.json",
    "mongodb/listDatabases.json",
    "mongodb/dbStats.json",
    "mongodb/collStats.json",
    "mongodb/summary.json",
];

/// The version a recorded `buildInfo` reply names.
fn recorded_version(fixture: &str) -> Value {
    json!(fixture_doc(fixture).get_str("version").expect("version"))
}

/// The storage engine a recorded `serverStatus` reply names.
fn storage_engine(server_status: &Document) -> Value {
    json!(
        server_status
            .get_document("storageEngine")
            .expect("storageEngine")
            .get_str("name")
            .expect("name")
    )
}

#[tokio::test]
async fn v8_0_replica_set_matches_the_recording() {
    let Some(uri) = require_peer("RCDIAG_TEST_MOCKUPDB_URI_V8_0_REPLSET") else {
        return;
    };
    let mut run = collect(&uri, TIMEOUT).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    for f in ALL_FILES {
        assert!(
            run.files(NAME).iter().any(|x| x == f),
            "{f} missing from {:?}",
            run.files(NAME)
        );
    }

    let build = fixture_doc("buildInfo.8.0.json");
    let status = fixture_doc("serverStatus.8.0.replset.json");
    let rs = fixture_doc("replSetGetStatus.8.0.replset.primary.json");
    let oplog = fixture_doc("collStats-aggregation.local.oplog.rs.8.0.replset.json");
    let host = fixture_doc("hostInfo.8.0.replset.json");

    let summary = run.json("mongodb/summary.json");
    assert_eq!(summary["version"], recorded_version("buildInfo.8.0.json"));
    assert_eq!(summary["storage_engine"], storage_engine(&status));
    assert_eq!(summary["uri_source"], json!("option"));
    assert_eq!(summary["database"], json!("rocketchat"));
    assert_eq!(summary["too_old"], Value::Null);
    assert_eq!(summary["replica_set"]["state"], json!("replica-set"));
    assert_eq!(
        summary["replica_set"]["set_name"],
        json!(rs.get_str("set").expect("set"))
    );
    let recorded = recorded_members(&rs);
    assert_eq!(summary_members(&summary), recorded);
    let primary = recorded
        .iter()
        .find(|m| m.1 == "PRIMARY")
        .map(|m| m.0.clone());
    assert_eq!(
        summary["replica_set"]["primary"]
            .as_str()
            .map(str::to_string),
        primary
    );
    assert!(
        recorded.iter().any(|m| m.3.is_some_and(|l| l > 0.0)),
        "the recording has a lagging secondary"
    );
    for cmd in [
        "buildInfo",
        "serverStatus",
        "hostInfo",
        "getCmdLineOpts",
        "replSetGetStatus",
        "oplog",
        "listDatabases",
        "dbStats",
        "collStats",
    ] {
        assert_eq!(
            summary["commands"][cmd],
            json!("ok"),
            "{cmd}: {}",
            summary["commands"]
        );
    }

    // serverStatus: the documented subset, values as recorded.
    let ss = run.json("mongodb/serverStatus.json");
    assert_eq!(ss["ok"], json!(true));
    let reply = ss["reply"].as_object().expect("reply");
    assert!(
        !reply.contains_key("metrics")
            && !reply.contains_key("locks")
            && !reply.contains_key("tcmalloc"),
        "subset only"
    );
    let conns = status.get_document("connections").expect("connections");
    assert_eq!(
        reply["connections"]["current"].as_f64(),
        f64_of(conns.get("current"))
    );
    assert_eq!(reply["uptime"].as_f64(), f64_of(status.get("uptime")));
    let cache = status
        .get_document("wiredTiger")
        .and_then(|w| w.get_document("cache"))
        .expect("cache");
    assert_eq!(
        reply["wiredTiger"]["cache"]["maximum bytes configured"].as_f64(),
        f64_of(cache.get("maximum bytes configured"))
    );
    let opc = status.get_document("opcounters").expect("opcounters");
    assert_eq!(
        reply["opcounters"]["command"].as_f64(),
        f64_of(opc.get("command"))
    );
    let repl = status.get_document("repl").expect("repl");
    assert_eq!(
        reply["repl"]["setName"],
        json!(repl.get_str("setName").expect("setName"))
    );
    assert_eq!(
        reply["mem"]["resident"].as_f64(),
        f64_of(status.get_document("mem").expect("mem").get("resident"))
    );

    // oplog: sizes from $collStats (the replay has no oplog entries to read).
    let op = run.json("mongodb/oplog.json");
    assert_eq!(op["ok"], json!(true), "{op}");
    let st = oplog.get_document("storageStats").expect("storageStats");
    assert_eq!(op["reply"]["size_bytes"].as_f64(), f64_of(st.get("size")));
    assert_eq!(
        op["reply"]["max_size_bytes"].as_f64(),
        f64_of(st.get("maxSize"))
    );

    let hi = run.json("mongodb/hostInfo.json");
    assert_eq!(
        hi["reply"]["system"]["hostname"],
        json!(
            host.get_document("system")
                .expect("system")
                .get_str("hostname")
                .expect("hostname")
        )
    );
    let bi = run.json("mongodb/buildInfo.json");
    assert_eq!(
        bi["reply"]["gitVersion"],
        json!(build.get_str("gitVersion").expect("gitVersion"))
    );
    let opts = run.json("mongodb/getCmdLineOpts.json");
    assert_eq!(
        opts["reply"]["argv"],
        json!(["mongod", "--replSet", "rs0", "--bind_ip_all"])
    );
    let dbs = run.json("mongodb/listDatabases.json");
    assert!(
        dbs["reply"]["databases"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    );
    let dbstats = run.json("mongodb/dbStats.json");
    assert_eq!(
        dbstats["reply"]["db"],
        json!("rocketchat"),
        "dbStats ran on the Rocket.Chat database"
    );
}

#[tokio::test]
async fn v7_0_standalone_is_recorded_as_not_a_replica_set() {
    let Some(uri) = require_peer("RCDIAG_TEST_MOCKUPDB_URI_V7_0_STANDALONE") else {
        return;
    };
    let mut run = collect(&uri, TIMEOUT).await;
    // Error 76 and the missing oplog are findings about the server, not failures to collect.
    run.assert_status(NAME, CollectorStatus::Ok);
    let summary = run.json("mongodb/summary.json");
    assert_eq!(summary["version"], recorded_version("buildInfo.7.0.json"));
    assert_eq!(
        summary["storage_engine"],
        storage_engine(&fixture_doc("serverStatus.7.0.standalone.json"))
    );
    assert_eq!(summary["replica_set"]["state"], json!("standalone"));
    assert!(
        summary["replica_set"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a replica set")),
        "{summary}"
    );
    assert!(
        summary["commands"]["replSetGetStatus"]
            .as_str()
            .is_some_and(|c| c.starts_with("error 76 NoReplicationEnabled")),
        "{summary}"
    );
    let rs = run.json("mongodb/replSetGetStatus.json");
    assert_eq!(rs["ok"], json!(false));
    assert_eq!(rs["error"]["code"], json!(76));
    assert_eq!(rs["error"]["code_name"], json!("NoReplicationEnabled"));
    assert!(
        rs["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("replica set")),
        "{rs}"
    );
    let op = run.json("mongodb/oplog.json");
    assert_eq!(op["ok"], json!(false));
    assert_eq!(op["error"]["code"], json!(26), "{op}");
}

#[tokio::test]
async fn v4_4_unreachable_member_is_reported_with_health_0_and_no_lag() {
    let Some(uri) = require_peer("RCDIAG_TEST_MOCKUPDB_URI_V4_4_REPLSET_UNREACHABLE_MEMBER") else {
        return;
    };
    let mut run = collect(&uri, TIMEOUT).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let summary = run.json("mongodb/summary.json");
    assert_eq!(summary["version"], recorded_version("buildInfo.4.4.json"));
    let rs = fixture_doc("replSetGetStatus.4.4.replset.secondary-member-unreachable.json");
    let recorded = recorded_members(&rs);
    assert_eq!(summary_members(&summary), recorded);
    let down: Vec<_> = recorded.iter().filter(|m| m.2 == 0.0).collect();
    assert_eq!(down.len(), 1, "the recording has one unreachable member");
    let m = summary["replica_set"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["name"] == json!(down[0].0))
        .expect("member");
    assert_eq!(m["state"], json!("(not reachable/healthy)"));
    assert_eq!(m["lag_seconds"], Value::Null);
    assert!(
        m["last_heartbeat_message"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{m}"
    );
    // A SECONDARY's view without a PRIMARY: said so, not invented.
    assert_eq!(summary["replica_set"]["primary"], Value::Null);
    assert_eq!(summary["replica_set"]["my_state"], json!("SECONDARY"));
    assert!(
        summary["replica_set"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no member is PRIMARY"))
    );
    let op = run.json("mongodb/oplog.json");
    let st = fixture_doc("collStats.local.oplog.rs.4.4.replset.json");
    assert_eq!(
        op["reply"]["max_size_bytes"].as_f64(),
        f64_of(st.get("maxSize")),
        "{op}"
    );
}

#[tokio::test]
async fn unauthorized_names_the_missing_role_and_keeps_what_it_could_read() {
    let Some(uri) = require_peer("RCDIAG_TEST_MOCKUPDB_URI_UNAUTHORIZED") else {
        return;
    };
    let mut run = collect(&uri, TIMEOUT).await;
    let msg = run.assert_status(NAME, CollectorStatus::Partial);
    assert!(msg.contains("clusterMonitor"), "{msg}");
    let summary = run.json("mongodb/summary.json");
    assert_eq!(
        summary["version"],
        recorded_version("buildInfo.6.0.json"),
        "buildInfo needs no rights"
    );
    assert_eq!(summary["commands"]["buildInfo"], json!("ok"));
    for cmd in [
        "serverStatus",
        "hostInfo",
        "getCmdLineOpts",
        "replSetGetStatus",
        "listDatabases",
    ] {
        let f = run.json(&format!("mongodb/{cmd}.json"));
        assert_eq!(f["ok"], json!(false), "{cmd}");
        assert_eq!(f["error"]["code"], json!(13), "{cmd}: {f}");
        assert_eq!(f["error"]["code_name"], json!("Unauthorized"), "{cmd}");
        assert!(
            f["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains("clusterMonitor")),
            "{cmd}: {f}"
        );
        assert!(
            summary["commands"][cmd]
                .as_str()
                .is_some_and(|c| c.starts_with("error 13 Unauthorized")),
            "{cmd}"
        );
    }
    let recorded = fixture_doc("listDatabases.3.6.error-13-Unauthorized.json");
    let ld = run.json("mongodb/listDatabases.json");
    assert_eq!(
        ld["error"]["message"],
        json!(recorded.get_str("errmsg").expect("errmsg"))
    );
    // Collection reads name the read role on the Rocket.Chat database.
    let cs = run.json("mongodb/collStats.json");
    assert!(
        cs["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("read role on the rocketchat database")),
        "{cs}"
    );
    // The topology still comes from the handshake, which needs no rights.
    assert_eq!(summary["replica_set"]["state"], json!("standalone"));
    assert_eq!(summary["replica_set"]["source"], json!("hello"));
}

#[tokio::test]
async fn too_old_server_is_a_finding_not_a_panic() {
    let Some(uri) = require_peer("RCDIAG_TEST_MOCKUPDB_URI_TOO_OLD") else {
        return;
    };
    let t0 = Instant::now();
    let mut run = collect(&uri, TIMEOUT).await;
    assert!(t0.elapsed() < TIMEOUT);
    let msg = run.assert_status(NAME, CollectorStatus::Failed);
    assert!(
        msg.contains("too old") && msg.contains("3.6") && msg.contains("4.4"),
        "{msg}"
    );
    let summary = run.json("mongodb/summary.json");
    assert_eq!(summary["too_old"]["version"], json!("3.6"), "{summary}");
    assert_eq!(summary["too_old"]["wire_version"], json!(6));
    assert!(
        summary["too_old"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("upgrade MongoDB"))
    );
    assert_eq!(run.files(NAME), vec!["mongodb/summary.json".to_string()]);
}

#[tokio::test]
async fn nx_placeholder_replies_are_unexpected_shapes_not_data() {
    let Some(uri) = require_peer("RCDIAG_TEST_NX_URI") else {
        return;
    };
    let mut run = collect(&uri, TIMEOUT).await;
    run.assert_status(NAME, CollectorStatus::Partial);
    let summary = run.json("mongodb/summary.json");
    // nx-27017 answers hostInfo, getCmdLineOpts and replSetGetStatus with {ok: 1, result: []}.
    for cmd in ["hostInfo", "getCmdLineOpts", "replSetGetStatus"] {
        let f = run.json(&format!("mongodb/{cmd}.json"));
        assert_eq!(f["ok"], json!(false), "{cmd}: {f}");
        assert_eq!(
            f["error"]["code_name"],
            json!("UnexpectedReply"),
            "{cmd}: {f}"
        );
        assert!(
            summary["commands"][cmd]
                .as_str()
                .is_some_and(|c| c.starts_with("unexpected reply shape")),
            "{cmd}: {summary}"
        );
    }
    assert_ne!(summary["replica_set"]["state"], json!("replica-set"));
    // What it does answer is read: version, connections.
    assert_eq!(summary["commands"]["serverStatus"], json!("ok"));
    let ss = run.json("mongodb/serverStatus.json");
    assert!(
        ss["reply"]["connections"]["current"].as_f64().is_some(),
        "{ss}"
    );
    assert!(summary["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn wrong_password_fails_without_leaking_it() {
    let Some(uri) = require_peer("RCDIAG_TEST_MOCKUPDB_URI_V8_0_REPLSET") else {
        return;
    };
    let secret = "Sup3rS3cretPw9";
    let with_creds = uri
        .replacen("mongodb://", &format!("mongodb://rcuser:{secret}@"), 1)
        .replacen("/?", "/rocketchat?", 1);
    let mut run = collect(&with_creds, TIMEOUT).await;
    let msg = run.assert_status(NAME, CollectorStatus::Failed);
    assert!(
        msg.contains("credentials") || msg.contains("uthentication"),
        "{msg}"
    );
    let summary = run.json("mongodb/summary.json");
    assert!(
        summary["uri"]
            .as_str()
            .is_some_and(|u| u.contains("REDACTED") && u.contains("127.0.0.1")),
        "{summary}"
    );
    // Not in any entry, nor the manifest, its signature or the bundle file.
    run.assert_no_secret(&[secret]);
    assert!(
        run.redactor.has_exact(secret),
        "the password was registered for the scan"
    );
}

/// A "MongoDB" that accepts TCP and never answers. Decision: the collector returns by
/// itself, `failed`, within the ctx timeout (here 2 s; the driver's server selection
/// gives up after a quarter of it), it is not left to the orchestrator's hard limit
/// (both asserted by [`run_against_silent_mongodb`]).
#[tokio::test]
async fn silent_server_fails_within_the_time_limit() {
    let mut run = run_against_silent_mongodb(NAME, mongodb_collector).await;
    let msg = run.outcome(NAME).message.clone().unwrap_or_default();
    assert!(msg.contains("could not be reached"), "{msg}");
    let summary = run.json("mongodb/summary.json");
    assert!(
        summary["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be reached")),
        "{summary}"
    );
}

#[tokio::test]
async fn no_uri_and_no_containers_is_skipped() {
    let run = run_collectors(options_without_uri(TIMEOUT), &[(NAME, mongodb_collector)]).await;
    assert_eq!(run.outcome(NAME).status, CollectorStatus::Skipped);
    assert_eq!(
        run.outcome(NAME).message.as_deref(),
        Some(collector::NO_URI)
    );
    assert!(run.files(NAME).is_empty());
}
