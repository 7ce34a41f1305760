//! A node bundle from a Kubernetes node without Docker: the agent's `cri` collector
//! against the real containerd peer (`scripts/test-env start-cri`), then the analyzer.
//! The test makes a pod through the CRI API as the kubelet does (the Rocket.Chat
//! stand-in image, the kubelet's labels, a restart count annotation past the policy's
//! threshold, host network), so containerd itself writes what the agent reads; the
//! checks that read a node's containers see the CRI one, with evidence in
//! `cri/containers.json` (and `cri/images.json` for the image).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use rcdiag_agent::clients::cri;
use rcdiag_e2e::{bin, require_peer};
use serde_json::Value;

#[path = "../../agent/tests/common/cri_pod.rs"]
mod cri_pod;

const NO_DOCKER: &str = "unix:///nonexistent/rcdiag-test-no-docker.sock";

/// Makes pod `rcdiag/<name>` with one container `rocketchat` that restarted `restarts`
/// times; returns the sandbox id.
async fn make_pod(rt: &cri::Runtime, name: &str, log_dir: &Path, restarts: u32) -> String {
    let uid = format!("uid-{name}");
    let (sandbox, pod_config) = cri_pod::run_sandbox(rt, name, &uid, log_dir, HashMap::new()).await;
    let envs = vec![cri_pod::env("ROOT_URL", "https://chat.example.test")];
    cri_pod::start_container(
        rt,
        &sandbox,
        &pod_config,
        restarts,
        "echo started; sleep 600",
        envs,
    )
    .await;
    sandbox
}

#[tokio::test]
async fn a_node_bundle_from_cri_feeds_the_container_checks() {
    let Some(endpoint) = require_peer("RCDIAG_TEST_CRI_ENDPOINT") else {
        return;
    };
    let rt = cri_pod::connect(&endpoint).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("rocketchat-e2e-{}", std::process::id());
    let sandbox = make_pod(&rt, &name, dir.path(), 60).await;

    let collect = Command::new(bin("rcdiag-agent"))
        .args(["collect", "--no-encrypt", "-q", "--config", "/dev/null"])
        .args([
            "--only",
            "cri",
            "--timeout",
            "30s",
            "--docker-host",
            NO_DOCKER,
        ])
        .args(["--cri-endpoint", &endpoint])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("-o")
        .arg(dir.path())
        .output()
        .unwrap();
    cri_pod::remove_sandbox(&rt, sandbox).await;
    let bundle = String::from_utf8_lossy(&collect.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(
        bundle.ends_with(".rcdiag.zip"),
        "{bundle}: {}",
        String::from_utf8_lossy(&collect.stderr)
    );
    let check = Command::new(bin("rcdiag-analyzer"))
        .args(["check", &bundle, "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&check.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}",
            String::from_utf8_lossy(&check.stderr)
        )
    });
    let check_of = |id: &str| -> Value {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {report}"))
    };
    let who = format!("rcdiag/{name}/rocketchat");
    // 60 restarts: past the policy's threshold, with the evidence in cri/containers.json.
    let restarting = check_of("containers.restarting");
    assert_eq!(restarting["outcome"], "fail", "{restarting:#}");
    let text = restarting.to_string();
    assert!(text.contains(&who), "{restarting:#}");
    assert!(text.contains("cri/containers.json"), "{restarting:#}");
    assert!(text.contains("/restart_count"), "{restarting:#}");
    // The image check sees the CRI container too, and decides it as a pod's container:
    // by its image's repository digests in cri/images.json. The image was imported into
    // containerd (`ctr images import`), not pulled, so containerd records no repository
    // digest: a local image under the official name warns, naming the container, with
    // evidence in cri/.
    let official = check_of("image.official");
    assert_eq!(official["outcome"], "warn", "{official:#}");
    let text = official.to_string();
    assert!(text.contains(&who), "{official:#}");
    assert!(
        text.contains("has no repository digest in cri/images.json"),
        "{official:#}"
    );
    assert!(text.contains("cri/containers.json"), "{official:#}");
    assert!(text.contains("cri/images.json"), "{official:#}");
    assert!(!text.contains("Docker socket"), "{official:#}");
}
