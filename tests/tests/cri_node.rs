//! A node bundle from a Kubernetes node without Docker: the agent's `cri` collector
//! against the real containerd peer (`scripts/test-env start-cri`), then the analyzer.
//! The tests make a pod through the CRI API as the kubelet does (the Rocket.Chat
//! stand-in image, the kubelet's labels, a restart count annotation past the policy's
//! threshold, host network), so containerd itself writes what the agent reads; the
//! checks that read a node's containers see the CRI one, with evidence in
//! `cri/containers.json` (and `cri/images.json` for the image). One image is imported
//! (no repository digest: image.official warns), one pulled through CRI `PullImage`
//! from the registry mirror (a repository digest, as a pull from Docker Hub: it passes).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use rcdiag_agent::clients::cri::{self, api};
use rcdiag_e2e::{bin, require_peer};
use serde_json::Value;

#[path = "../../agent/tests/common/cri_pod.rs"]
mod cri_pod;

const NO_DOCKER: &str = "unix:///nonexistent/rcdiag-test-no-docker.sock";

/// One pod at a time in this process: the cri collector reads every pod of the runtime
/// (`cargo test` runs these tests on threads of one process; under nextest the test
/// group `cri-pods` of `.config/nextest.toml` does the same across processes).
static ONE_POD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes pod `rcdiag/<name>` with one container `rocketchat` of `image` that restarted
/// `restarts` times; returns the sandbox id.
async fn make_pod(
    rt: &cri::Runtime,
    name: &str,
    log_dir: &Path,
    restarts: u32,
    image: String,
) -> String {
    let uid = format!("uid-{name}");
    let (sandbox, pod_config) = cri_pod::run_sandbox(rt, name, &uid, log_dir, HashMap::new()).await;
    let envs = vec![cri_pod::env("ROOT_URL", "https://chat.example.test")];
    cri_pod::start_container_of(
        rt,
        &sandbox,
        &pod_config,
        restarts,
        "echo started; sleep 600",
        envs,
        image,
    )
    .await;
    sandbox
}

/// Collects `--only cri` from `endpoint` into `dir` and checks the bundle: the JSON
/// report, or what went wrong (the caller removes its pod first, then panics).
fn collect_and_check(endpoint: &str, dir: &Path) -> Result<Value, String> {
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
        .args(["--cri-endpoint", endpoint])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("-o")
        .arg(dir)
        .output()
        .map_err(|e| format!("rcdiag-agent: {e}"))?;
    let bundle = String::from_utf8_lossy(&collect.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    if !bundle.ends_with(".rcdiag.zip") {
        return Err(format!(
            "{bundle}: {}",
            String::from_utf8_lossy(&collect.stderr)
        ));
    }
    let check = Command::new(bin("rcdiag-analyzer"))
        .args(["check", &bundle, "--format", "json"])
        .output()
        .map_err(|e| format!("rcdiag-analyzer: {e}"))?;
    serde_json::from_slice(&check.stdout).map_err(|e| {
        format!(
            "not a JSON report ({e}): {}",
            String::from_utf8_lossy(&check.stderr)
        )
    })
}

/// The result of check `id` in `report`.
fn check_of(report: &Value, id: &str) -> Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} in {report}"))
}

#[tokio::test]
async fn a_node_bundle_from_cri_feeds_the_container_checks() {
    let Some(endpoint) = require_peer("RCDIAG_TEST_CRI_ENDPOINT") else {
        return;
    };
    let _one = ONE_POD.lock().await;
    let rt = cri_pod::connect(&endpoint).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("rocketchat-e2e-{}", std::process::id());
    let sandbox = make_pod(&rt, &name, dir.path(), 60, cri_pod::imported_rc_image()).await;
    let report = collect_and_check(&endpoint, dir.path());
    cri_pod::remove_sandbox(&rt, sandbox).await;
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    let check_of = |id: &str| check_of(&report, id);
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

#[tokio::test]
async fn an_image_the_runtime_pulled_from_an_official_repository_passes_by_its_digest() {
    // `scripts/test-env` points containerd's docker.io at its registry mirror, where
    // scripts/make-images pushed the stand-ins: a CRI PullImage records the repository
    // digest as a pull from Docker Hub does, and the kubelet's pull is the same call.
    let Some(endpoint) = require_peer("RCDIAG_TEST_CRI_ENDPOINT") else {
        return;
    };
    let Some(mirror) = require_peer("RCDIAG_TEST_CRI_MIRROR") else {
        return;
    };
    let _one = ONE_POD.lock().await;
    let rt = cri_pod::connect(&endpoint).await.unwrap();
    let image = "docker.io/rocketchat/rocket.chat:8.4.0".to_string();
    let mut images = rt.images.clone();
    let pulled = rt
        .call(
            "PullImage",
            images.pull_image(api::PullImageRequest {
                image: Some(api::ImageSpec {
                    image: image.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| {
            panic!("containerd could not pull {image} through the mirror {mirror}: {e}")
        });
    assert!(!pulled.image_ref.is_empty(), "{pulled:?}");
    let dir = tempfile::tempdir().unwrap();
    let name = format!("rocketchat-pulled-{}", std::process::id());
    let sandbox = make_pod(&rt, &name, dir.path(), 0, image.clone()).await;
    let report = collect_and_check(&endpoint, dir.path());
    cri_pod::remove_sandbox(&rt, sandbox).await;
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    let official = check_of(&report, "image.official");
    assert_eq!(official["outcome"], "pass", "{official:#}");
    let text = official.to_string();
    assert!(
        text.contains("pulled from docker.io/rocketchat/rocket.chat"),
        "{official:#}"
    );
    assert!(text.contains("cri/images.json"), "{official:#}");
    assert!(text.contains("@sha256:"), "{official:#}");
}
