//! The host collector on this machine: real values (cores, memory, the `/` mount,
//! kernel, OS), a Rocket.Chat-looking process found with its environment variable
//! *names* only, and none of its secrets (environment values, a password on its
//! command line) anywhere in the bundle.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{host_collector, run_collectors};
use rcdiag_agent::collectors::Options;
use rcdiag_bundle::CollectorStatus;
use serde_json::Value;

const ENV_SECRET: &str = "HostEnvSecret5678";
const MONGO_PASSWORD: &str = "HostMongoPw4321";
const CMDLINE_SECRET: &str = "CmdLinePw9876";

/// Kills the spawned process even when an assertion fails.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn host_facts_are_real_and_process_secrets_stay_out() {
    // Looks like a manual Rocket.Chat install to the heuristics ("rocket.chat" on its
    // command line), with secrets in its environment and on its command line.
    let child = Command::new("sh")
        .args([
            "-c",
            &format!("sleep 30; : rocket.chat --password={CMDLINE_SECRET}"),
        ])
        .env("ROOT_URL", "https://chat.example.test")
        .env(
            "MONGO_URL",
            format!("mongodb://hostuser:{MONGO_PASSWORD}@db:27017/rocketchat"),
        )
        .env("RCDIAG_TEST_PASSWORD", ENV_SECRET)
        // Its `sleep` outlives a killed `sh`: it must not hold the test's output open.
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn sh");
    let child = Reaper(child);
    let pid = child.0.id();
    // Let the shell start (its /proc entry must show the command line).
    let until = Instant::now() + Duration::from_secs(5);
    while !std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.windows(11).any(|w| w == b"rocket.chat"))
    {
        assert!(Instant::now() < until, "the test process did not start");
        std::thread::sleep(Duration::from_millis(10));
    }

    let started = Instant::now();
    let mut run = run_collectors(Options::default(), &[("host", host_collector)]).await;
    let took = started.elapsed();
    let outcome = run.outcome("host").clone();
    assert!(
        matches!(
            outcome.status,
            CollectorStatus::Ok | CollectorStatus::Partial
        ),
        "host: {outcome:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "the host collector took {took:?}"
    );

    let h = run.json("host/host.json");
    assert!(
        h["collected_at"]
            .as_str()
            .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
        "{h:#}"
    );
    assert!(
        h["hostname"].as_str().is_some_and(|s| !s.is_empty()),
        "{h:#}"
    );
    assert!(
        h["os"]["name"].as_str().is_some_and(|s| !s.is_empty()),
        "{h:#}"
    );
    assert!(
        h["os"]["kernel"].as_str().is_some_and(|s| !s.is_empty()),
        "{h:#}"
    );
    assert!(
        h["os"]["arch"].as_str().is_some_and(|s| !s.is_empty()),
        "{h:#}"
    );
    assert!(
        h["cpu"]["logical_cores"].as_u64().is_some_and(|n| n >= 1),
        "{h:#}"
    );
    assert!(
        h["memory"]["total_bytes"].as_u64().is_some_and(|n| n > 0),
        "{h:#}"
    );
    assert!(
        h["memory"]["available_bytes"].as_u64() <= h["memory"]["total_bytes"].as_u64(),
        "{h:#}"
    );
    assert!(h["uptime_seconds"].as_u64().is_some_and(|n| n > 0), "{h:#}");
    assert_eq!(h["load_average"].as_array().map(Vec::len), Some(3), "{h:#}");
    let disks = h["disks"].as_array().expect("disks");
    let root = disks
        .iter()
        .find(|d| d["mount_point"] == "/")
        .unwrap_or_else(|| panic!("no / mount: {disks:#?}"));
    assert!(
        root["total_bytes"].as_u64().is_some_and(|n| n > 0),
        "{root:#}"
    );
    assert!(
        matches!(root["kind"].as_str(), Some("ssd" | "hdd" | "unknown")),
        "{root:#}"
    );
    assert_eq!(root["network"], false);
    assert!(
        !h["network"].as_array().expect("network").is_empty(),
        "{h:#}"
    );
    let clock = &h["clock"];
    assert!(
        clock["wall_clock"]
            .as_str()
            .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
        "{clock:#}"
    );
    match clock["source"].as_str() {
        Some("none") => assert!(clock["synchronized"].is_null(), "{clock:#}"),
        Some("chrony" | "timedatectl") => assert!(clock["synchronized"].is_boolean(), "{clock:#}"),
        other => panic!("clock source {other:?}"),
    }
    assert!(
        matches!(h["cgroup_version"].as_u64(), Some(1 | 2) | None),
        "{h:#}"
    );
    assert!(
        h["in_container"].is_boolean() && h["host_proc_visible"].is_boolean(),
        "{h:#}"
    );
    if h["in_container"] == true && h["host_proc_visible"] == false {
        let warnings = h["warnings"].as_array().expect("warnings");
        assert!(
            warnings
                .iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains("RCDIAG_HOST_PROC"))),
            "{warnings:?}"
        );
    }

    let processes = h["processes"].as_array().expect("processes");
    let p = processes
        .iter()
        .find(|p| p["pid"].as_u64() == Some(u64::from(pid)))
        .unwrap_or_else(|| {
            panic!("the rocket.chat-looking process {pid} was not found: {processes:#?}")
        });
    assert_eq!(p["kind"], "rocketchat");
    let names: Vec<&str> = p["env_names"]
        .as_array()
        .expect("env names (root reads them)")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in ["ROOT_URL", "MONGO_URL", "RCDIAG_TEST_PASSWORD"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        names.iter().all(|n| !n.contains('=')),
        "names only: {names:?}"
    );
    let cmdline = p["cmdline"].as_str().expect("cmdline");
    assert!(
        cmdline.contains("rocket.chat") && cmdline.contains("***REDACTED:password-pair***"),
        "{cmdline}"
    );

    run.assert_no_secret(&[
        ENV_SECRET,
        MONGO_PASSWORD,
        CMDLINE_SECRET,
        "https://chat.example.test",
    ]);
    drop(child);
}
