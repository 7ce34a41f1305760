//! Opt-in: the mongodb and rocketchat collectors against a real MongoDB, for anyone who
//! has one. Set `RCDIAG_TEST_REAL_MONGODB_URI=mongodb://user:pw@host:27017/rocketchat`
//! (a user with clusterMonitor and read on the database). Skipped, loudly, when unset:
//! no real mongod can be had on the CI machines (see the README).

mod common;

use std::time::Duration;

use common::{CollectFn, mongodb_collector, rocketchat_collector, run_collectors};
use rcdiag_agent::collectors::Options;
use rcdiag_bundle::CollectorStatus;

#[tokio::test]
async fn a_real_mongodb_is_collected_faithfully_and_without_its_password() {
    let Some(uri) = std::env::var("RCDIAG_TEST_REAL_MONGODB_URI")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!(
            "\n*** SKIPPED (opt-in): set RCDIAG_TEST_REAL_MONGODB_URI to test against a real MongoDB ***\n"
        );
        return;
    };
    let options = Options {
        mongodb_uri: Some(uri.clone()),
        timeout: Duration::from_secs(30),
        ..Options::default()
    };
    let collectors: [(&'static str, CollectFn); 2] = [
        ("mongodb", mongodb_collector),
        ("rocketchat", rocketchat_collector),
    ];
    let mut run = run_collectors(options, &collectors).await;
    let outcome = run.outcome("mongodb").clone();
    assert!(
        matches!(
            outcome.status,
            CollectorStatus::Ok | CollectorStatus::Partial
        ),
        "mongodb: {outcome:?}"
    );
    // What the server says of itself, read back from the bundle, agrees across files.
    let build = run.json("mongodb/buildInfo.json");
    let version = build["reply"]["version"]
        .as_str()
        .expect("buildInfo.version")
        .to_string();
    assert!(version.split('.').count() >= 2, "{version}");
    let summary = run.json("mongodb/summary.json");
    assert_eq!(summary["version"].as_str(), Some(version.as_str()));
    let status = run.json("mongodb/serverStatus.json");
    if status["ok"] == true {
        assert!(
            status["reply"]["uptime"].as_f64().unwrap_or(0.0) > 0.0,
            "{status}"
        );
        assert_eq!(status["reply"]["version"].as_str(), Some(version.as_str()));
    }
    assert!(
        ["replica-set", "standalone"]
            .contains(&summary["replica_set"]["state"].as_str().unwrap_or_default()),
        "{summary}"
    );
    // The password of the URI is nowhere in the bundle.
    let authority = uri
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    if let Some(pass) = authority
        .rsplit_once('@')
        .and_then(|(u, _)| u.split_once(':'))
        .map(|(_, p)| p.to_string())
    {
        run.assert_no_secret(&[pass.as_str()]);
    }
}
