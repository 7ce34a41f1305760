//! The rocketchat collector against a real wire-protocol peer (nx-27017): a database of
//! its own per test is seeded with the driver (users, settings with secrets among them,
//! instances, two statistics documents from the recorded 8.7 example), the collector
//! runs into a real bundle, and what it wrote is read back.
//!
//! Peers: `scripts/test-env start; source /tmp/rcdp/env`. Without them these tests say
//! SKIPPED, or fail under `RCDIAG_REQUIRE_PEERS=1`.

mod common;

use std::time::Duration;

use common::{
    Run, options, options_without_uri, require_peer, rocketchat_collector, rocketchat_fixture,
    run_against_silent_mongodb, run_collectors, unique_db, with_database,
};
use mongodb::bson::{self, Bson, DateTime, Document, doc};
use rcdiag_agent::collectors::{mongodb as mongo_collector, rocketchat};
use rcdiag_bundle::CollectorStatus;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);

/// Values that must never leave the database.
const SECRETS: &[&str] = &[
    "SmtpSecret99",
    "CloudSecret777",
    "StatsTokenSecret42",
    "OauthSecret5150",
];

const NAME: &str = "rocketchat";

async fn collect(uri: &str, timeout: Duration) -> Run {
    run_collectors(options(uri, timeout), &[(NAME, rocketchat_collector)]).await
}

fn ago(now_ms: i64, seconds: i64) -> DateTime {
    DateTime::from_millis(now_ms - seconds * 1000)
}

/// A throwaway database on the peer, dropped when the test ends (best effort).
struct TestDb {
    client: mongodb::Client,
    name: String,
    uri: String,
}

impl TestDb {
    async fn new(peer: &str) -> Self {
        let name = unique_db();
        let uri = with_database(peer, &name);
        let client = mongodb::Client::with_uri_str(&uri).await.expect("client");
        Self { client, name, uri }
    }

    fn db(&self) -> mongodb::Database {
        self.client.database(&self.name)
    }

    async fn drop_db(self) {
        let _ = self.db().drop().await;
    }
}

async fn seed(db: &mongodb::Database, now_ms: i64) -> (Document, Document) {
    let users = db.collection::<Document>("users");
    users
        .insert_many(vec![
            doc! {"_id": "h1", "type": "user", "active": true, "status": "online", "statusConnection": "online", "roles": ["user"]},
            doc! {"_id": "h2", "type": "user", "active": true, "status": "away", "statusConnection": "away", "roles": ["user"]},
            doc! {"_id": "h3", "type": "user", "active": true, "status": "offline", "statusConnection": "offline", "roles": ["user"]},
            doc! {"_id": "h4", "type": "user", "active": true, "status": "offline", "roles": ["user", "admin"]},
            doc! {"_id": "h5", "type": "user", "active": false, "status": "offline", "statusConnection": "offline", "roles": ["user"]},
            doc! {"_id": "g1", "type": "user", "active": true, "status": "online", "statusConnection": "online", "roles": ["guest"]},
            doc! {"_id": "rocket.cat", "type": "bot", "active": true, "status": "online", "statusConnection": "online", "roles": ["bot"]},
            doc! {"_id": "app1", "type": "app", "active": true, "roles": ["app"]},
        ])
        .await
        .expect("seed users");

    let settings = db.collection::<Document>("rocketchat_settings");
    settings
        .insert_many(vec![
            doc! {"_id": "Site_Url", "value": "https://chat.example.test", "packageValue": "", "valueSource": "value"},
            doc! {"_id": "Prometheus_Enabled", "value": true, "packageValue": false},
            doc! {"_id": "Prometheus_Port", "value": 9100, "packageValue": 9458},
            doc! {"_id": "Log_Level", "value": "0"},
            doc! {"_id": "Language", "value": "en"},
            doc! {"_id": "FileUpload_Storage_Type", "value": "GridFS"},
            doc! {"_id": "Troubleshoot_Disable_Statistics_Generator", "value": false},
            doc! {"_id": "SMTP_Password", "value": "SmtpSecret99", "packageValue": ""},
            doc! {"_id": "Cloud_Workspace_Client_Secret", "value": "CloudSecret777"},
            doc! {"_id": "Accounts_OAuth_Custom-Acme-secret", "value": "OauthSecret5150"},
            doc! {"_id": "SMTP_Host", "value": "smtp.example.test"},
        ])
        .await
        .expect("seed settings");

    let instances = db.collection::<Document>("instances");
    instances
        .insert_many(vec![
            doc! {"_id": "inst-fresh", "name": "rocket.chat", "pid": 1, "extraInformation": {"host": "10.0.0.11", "port": "3000", "nodeVersion": "v22.16.0"}, "_createdAt": ago(now_ms, 3600), "_updatedAt": ago(now_ms, 5)},
            doc! {"_id": "inst-recent", "name": "rocket.chat", "pid": 1, "extraInformation": {"host": "10.0.0.12", "port": 3000}, "_createdAt": ago(now_ms, 3600), "_updatedAt": ago(now_ms, 90)},
            doc! {"_id": "inst-stale", "name": "rocket.chat", "pid": 1, "extraInformation": {"host": "10.0.0.13", "port": 3000}, "_createdAt": ago(now_ms, 7200), "_updatedAt": ago(now_ms, 600)},
        ])
        .await
        .expect("seed instances");

    // Newer: the recorded 8.7 example with a (fake) stats token; older: 8.6. Inserted
    // newest first so that natural order would pick the wrong one.
    let mut newer =
        match Bson::try_from(rocketchat_fixture("statistics.8.7.api-v1-statistics.json")) {
            Ok(Bson::Document(d)) => d,
            other => panic!("statistics fixture: {other:?}"),
        };
    newer.insert("statsToken", "StatsTokenSecret42");
    newer.insert("createdAt", ago(now_ms, 3600));
    let mut older = newer.clone();
    older.insert("_id", "older-stats");
    older.insert("version", "8.6.0");
    older.insert("uniqueId", "older-unique-id");
    older.insert("createdAt", ago(now_ms, 2 * 86400));
    let stats = db.collection::<Document>("rocketchat_statistics");
    stats
        .insert_one(newer.clone())
        .await
        .expect("seed newer statistics");
    stats
        .insert_one(older.clone())
        .await
        .expect("seed older statistics");
    (newer, older)
}

#[tokio::test]
async fn reads_a_seeded_rocketchat_database_without_its_secrets() {
    let Some(peer) = require_peer("RCDIAG_TEST_NX_URI") else {
        return;
    };
    let test_db = TestDb::new(&peer).await;
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let (newer, _older) = seed(&test_db.db(), now_ms).await;

    let mut run = collect(&test_db.uri, TIMEOUT).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    assert_eq!(
        run.files(NAME),
        vec![
            "rocketchat/summary.json".to_string(),
            "rocketchat/statistics.json".into(),
            "rocketchat/settings.json".into()
        ]
    );
    let summary = run.json("rocketchat/summary.json");
    let statistics = run.json("rocketchat/statistics.json");
    let settings = run.json("rocketchat/settings.json");

    // Users.
    let users = &summary["users"];
    assert_eq!(users["total"], json!(8), "{users}");
    assert_eq!(users["humans"], json!(6), "{users}");
    assert_eq!(users["active_humans"], json!(5), "{users}");
    assert_eq!(users["active_guests"], json!(1), "{users}");
    assert_eq!(users["bots"], json!(1), "{users}");
    assert_eq!(
        users["online"],
        json!(4),
        "statusConnection present and not offline: {users}"
    );
    assert_eq!(users["online_humans"], json!(3), "{users}");
    assert_eq!(
        users["concurrent"],
        json!(
            newer
                .get_i32("totalConnectedUsers")
                .expect("totalConnectedUsers")
        )
    );
    assert_eq!(
        users["concurrent_source"],
        json!("statistics.totalConnectedUsers")
    );

    // Instances: live = updated within 120 s.
    let inst = &summary["instances"];
    assert_eq!(inst["total"], json!(3), "{inst}");
    assert_eq!(inst["live"], json!(2), "{inst}");
    assert_eq!(
        inst["window_seconds"],
        json!(rocketchat::LIVE_WINDOW_SECONDS)
    );
    let by_id = |id: &str| {
        inst["list"]
            .as_array()
            .expect("list")
            .iter()
            .find(|i| i["id"] == json!(id))
            .cloned()
            .expect("instance")
    };
    assert_eq!(by_id("inst-fresh")["live"], json!(true));
    assert_eq!(
        by_id("inst-fresh")["port"],
        json!(3000),
        "string ports are read as numbers"
    );
    assert_eq!(by_id("inst-fresh")["host"], json!("10.0.0.11"));
    assert_eq!(by_id("inst-recent")["live"], json!(true));
    assert_eq!(by_id("inst-stale")["live"], json!(false));

    // Statistics: the newest document, allow-listed.
    assert_eq!(
        statistics["version"],
        json!(newer.get_str("version").expect("version"))
    );
    assert_eq!(
        statistics["uniqueId"],
        json!(newer.get_str("uniqueId").expect("uniqueId"))
    );
    assert_eq!(
        statistics["msEnabled"],
        json!(newer.get_bool("msEnabled").expect("msEnabled"))
    );
    assert_eq!(
        statistics["mongoVersion"],
        json!(newer.get_str("mongoVersion").expect("mongoVersion"))
    );
    let nd = newer.get_document("deploy").expect("deploy");
    assert_eq!(
        statistics["deploy"],
        json!({"method": nd.get_str("method").expect("m"), "platform": nd.get_str("platform").expect("p")})
    );
    let os = newer.get_document("os").expect("os");
    assert_eq!(
        statistics["os"]["cpu_count"],
        json!(os.get_array("cpus").expect("cpus").len())
    );
    assert_eq!(
        statistics["process"]["nodeVersion"],
        json!(
            newer
                .get_document("process")
                .expect("p")
                .get_str("nodeVersion")
                .expect("nv")
        )
    );
    let created = bson::DateTime::from_millis(now_ms - 3600 * 1000);
    let created = jiff::Timestamp::from_millisecond(created.timestamp_millis())
        .expect("ts")
        .to_string();
    assert_eq!(statistics["createdAt"], json!(created));
    let keys: Vec<&String> = statistics.as_object().expect("object").keys().collect();
    for forbidden in [
        "statsToken",
        "wizard",
        "settings",
        "_id",
        "services",
        "integrations",
        "userLanguages",
    ] {
        assert!(
            !keys.iter().any(|k| *k == forbidden),
            "{forbidden} is not allow-listed: {keys:?}"
        );
    }

    // Summary: version, deploy, prometheus, site.
    assert_eq!(summary["version"]["value"], json!("8.7.0"));
    assert_eq!(summary["version"]["sources"]["statistics"], json!("8.7.0"));
    assert_eq!(summary["version"]["sources"]["startup_log"], Value::Null);
    assert_eq!(summary["statistics_created_at"], json!(created));
    assert_eq!(
        summary["unique_id"],
        json!(newer.get_str("uniqueId").expect("uniqueId"))
    );
    assert_eq!(
        summary["deploy"]["method"],
        json!(nd.get_str("method").expect("m"))
    );
    assert_eq!(
        summary["deploy"]["platform"],
        json!(nd.get_str("platform").expect("p"))
    );
    assert_eq!(summary["deploy"]["source"], json!("statistics"));
    assert_eq!(summary["site_url"], json!("https://chat.example.test"));
    assert_eq!(summary["prometheus"]["enabled"], json!(true));
    assert_eq!(summary["prometheus"]["port"], json!(9100));
    assert_eq!(summary["database"], json!(test_db.name));
    assert_eq!(
        summary["endpoints"],
        json!([]),
        "no Docker here, so no container to probe"
    );

    // Settings: exactly the allow-listed ones that exist.
    let got: Vec<&String> = settings.as_object().expect("object").keys().collect();
    let mut want = vec![
        "FileUpload_Storage_Type",
        "Language",
        "Log_Level",
        "Prometheus_Enabled",
        "Prometheus_Port",
        "Site_Url",
        "Troubleshoot_Disable_Statistics_Generator",
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(
        want.iter()
            .all(|w| rocketchat::SETTINGS_ALLOW_LIST.contains(w))
    );
    assert_eq!(settings["Prometheus_Port"], json!(9100));

    // No secret anywhere: entries, manifest (and its signature), the file itself.
    run.assert_no_secret(SECRETS);
    for (name, bytes) in run.all_entries() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("SMTP_Password") && !text.contains("smtp.example.test"),
            "{name} holds a setting that is not allow-listed"
        );
    }
    test_db.drop_db().await;
}

#[tokio::test]
async fn an_empty_database_gives_zero_counts_and_a_note() {
    let Some(peer) = require_peer("RCDIAG_TEST_NX_URI") else {
        return;
    };
    let test_db = TestDb::new(&peer).await;
    let mut run = collect(&test_db.uri, TIMEOUT).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    assert!(
        !run.files(NAME)
            .iter()
            .any(|f| f == "rocketchat/statistics.json"),
        "no statistics document, no file"
    );
    let summary = run.json("rocketchat/summary.json");
    assert_eq!(summary["users"]["total"], json!(0));
    assert_eq!(
        summary["users"]["concurrent_source"],
        json!("users.statusConnection")
    );
    assert_eq!(summary["instances"]["total"], json!(0));
    assert_eq!(summary["version"]["value"], Value::Null);
    assert!(
        summary["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n
                .as_str()
                .is_some_and(|s| s.contains("rocketchat_statistics")))),
        "{summary}"
    );
    assert_eq!(run.json("rocketchat/settings.json"), json!({}));
    test_db.drop_db().await;
}

#[tokio::test]
async fn unauthorized_reads_name_the_read_role() {
    let Some(uri) = require_peer("RCDIAG_TEST_MOCKUPDB_URI_UNAUTHORIZED") else {
        return;
    };
    let mut run = collect(&uri, TIMEOUT).await;
    let msg = run.assert_status(NAME, CollectorStatus::Partial);
    assert!(
        msg.contains("grant the read role on the rocketchat database"),
        "{msg}"
    );
    let summary = run.json("rocketchat/summary.json");
    for part in ["statistics", "users", "instances", "settings"] {
        assert_eq!(
            summary["errors"][part]["code"],
            json!(13),
            "{part}: {summary}"
        );
    }
}

/// Same decision as the mongodb collector: a silent server makes it return `failed` by
/// itself within the ctx timeout (2 s here, asserted by [`run_against_silent_mongodb`]),
/// with the summary written.
#[tokio::test]
async fn silent_server_fails_within_the_time_limit() {
    let mut run = run_against_silent_mongodb(NAME, rocketchat_collector).await;
    let summary = run.json("rocketchat/summary.json");
    assert!(
        summary["database_error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be reached")),
        "{summary}"
    );
}

#[tokio::test]
async fn no_uri_is_skipped_with_the_reason() {
    let run = run_collectors(
        options_without_uri(TIMEOUT),
        &[(NAME, rocketchat_collector)],
    )
    .await;
    assert_eq!(run.outcome(NAME).status, CollectorStatus::Skipped);
    assert_eq!(
        run.outcome(NAME).message.as_deref(),
        Some(mongo_collector::NO_URI)
    );
}
