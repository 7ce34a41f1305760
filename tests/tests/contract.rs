//! The typed contract (`contract/`) holds for a fresh collect against the real peers:
//! every typed file the agent writes today, on the private Docker Engine (a running
//! and an exited container) and against MongoDB wire servers (a compliant Rocket.Chat
//! database, a server that refuses, one too old), reads into its type and back without
//! losing or changing a field. The samples are checked the same way in
//! `contract/tests/samples.rs`; this catches a collector that changed since.

use std::path::Path;
use std::process::Command;

use rcdiag_bundle::{Bundle, OpenOptions};
use rcdiag_contract::conformance;
use rcdiag_e2e::{bin, require_peer};

/// Containers made for the test, removed when it ends (passed or not).
struct Containers<'a> {
    host: &'a str,
    names: Vec<String>,
}

impl Containers<'_> {
    fn run(&mut self, args: &[&str]) {
        let name = format!(
            "rcdiag-contract-{}-{}",
            std::process::id(),
            self.names.len()
        );
        let out = Command::new("docker")
            .args(["-H", self.host, "run", "-d", "--name", &name])
            .args(args)
            .output()
            .expect("the docker CLI (installed by scripts/test-env)");
        assert!(
            out.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.names.push(name);
    }
}

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("docker")
                .args(["-H", self.host, "rm", "-f", n])
                .output();
        }
    }
}

/// Collects a plain bundle into `dir` and returns the differences of every typed file,
/// and the typed files seen. `code` is the exit status expected (0, or 3 when a
/// collector failed and its failure is recorded).
fn collect_and_check(dir: &Path, args: &[&str], code: i32) -> (Vec<String>, Vec<String>) {
    let out = Command::new(bin("rcdiag-agent"))
        .args([
            "collect",
            "--no-encrypt",
            "-q",
            "--config",
            "/dev/null",
            "--timeout",
            "60s",
        ])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("-o")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "collect {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let mut b = Bundle::open(Path::new(&path), &OpenOptions::default()).unwrap();
    let names: Vec<String> = b.entries().iter().map(|e| e.path.clone()).collect();
    let (mut problems, mut typed) = (Vec::new(), Vec::new());
    for name in names {
        if !conformance::has_type(&name) {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_slice(&b.read_bytes(&name, 64 << 20).unwrap()).unwrap();
        problems.extend(
            conformance::differences(&name, &value)
                .into_iter()
                .map(|d| format!("{name}: {d}")),
        );
        typed.push(name);
    }
    (problems, typed)
}

#[test]
fn a_fresh_collect_keeps_the_contract() {
    let (Some(docker), Some(mongo)) = (
        require_peer("RCDIAG_TEST_DOCKER_HOST"),
        require_peer("RCDIAG_TEST_MOCKUPDB_URI_RC_COMPLIANT"),
    ) else {
        return;
    };
    let mut containers = Containers {
        host: &docker,
        names: Vec::new(),
    };
    containers.run(&[
        "--label",
        "com.docker.compose.project=contract",
        "-e",
        "DEPLOY_METHOD=docker",
        "-p",
        "127.0.0.1::3000",
        "--restart",
        "unless-stopped",
        "--memory",
        "256m",
        "rocketchat/rocket.chat:8.5.0",
        "sh",
        "-c",
        "echo started; exec sleep 600",
    ]);
    containers.run(&["mongo:8.0", "sh", "-c", "echo bye >&2; exit 3"]);
    let dir = tempfile::tempdir().unwrap();
    let (problems, typed) = collect_and_check(
        dir.path(),
        &["--docker-host", &docker, "--mongodb-uri", &mongo],
        0,
    );
    assert!(
        problems.is_empty(),
        "the contract does not hold:\n{}",
        problems.join("\n")
    );
    for must in [
        "host/host.json",
        "docker/version.json",
        "docker/info.json",
        "docker/containers.json",
        "docker/images.json",
        "docker/stats.json",
        "logs/index.json",
        "mongodb/summary.json",
        "mongodb/buildInfo.json",
        "rocketchat/summary.json",
        "agent/run.json",
    ] {
        assert!(
            typed.iter().any(|t| t == must),
            "the collect wrote no {must}: {typed:?}"
        );
    }
}

#[test]
fn failed_mongodb_collections_keep_the_contract() {
    for var in [
        "RCDIAG_TEST_MOCKUPDB_URI_UNAUTHORIZED",
        "RCDIAG_TEST_MOCKUPDB_URI_TOO_OLD",
    ] {
        let Some(mongo) = require_peer(var) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (problems, typed) = collect_and_check(
            dir.path(),
            &["--only", "mongodb,rocketchat", "--mongodb-uri", &mongo],
            3,
        );
        assert!(
            problems.is_empty(),
            "{var}: the contract does not hold:\n{}",
            problems.join("\n")
        );
        assert!(
            typed.iter().any(|t| t == "mongodb/summary.json"),
            "{var}: {typed:?}"
        );
    }
}

/// Every Kubernetes file the collector writes, for every recorded cluster profile of
/// the kube-replay peer (Helm, OpenShift, Rancher/RKE2, k3s, kind, a non-compliant
/// install, a service account refused some lists).
#[test]
fn kubernetes_collections_keep_the_contract() {
    for (var, code) in [
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_HELM_COMPLIANT", 0),
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_NONCOMPLIANT", 0),
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_OPENSHIFT", 0),
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_RANCHER_RKE2", 0),
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_K3S", 0),
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_KIND", 0),
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_RBAC", 3),
    ] {
        let Some(kubeconfig) = require_peer(var) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (problems, typed) = collect_and_check(
            dir.path(),
            &["--only", "kubernetes", "--kubeconfig", &kubeconfig],
            code,
        );
        assert!(
            problems.is_empty(),
            "{var}: the contract does not hold:\n{}",
            problems.join("\n")
        );
        for f in [
            "cluster",
            "nodes",
            "pods",
            "workloads",
            "network",
            "storage",
            "events",
            "monitoring",
            "calls",
        ] {
            let must = format!("kubernetes/{f}.json");
            assert!(typed.contains(&must), "{var}: no {must}: {typed:?}");
        }
    }
    // `--kube-helm-release`: the decoded release, and one refused (a gzip bomb).
    for (var, release) in [
        ("RCDIAG_TEST_KUBECONFIG_REPLAY_HELM_COMPLIANT", "rocketchat"),
        (
            "RCDIAG_TEST_KUBECONFIG_REPLAY_EDGE_CASES",
            "rocketchat-edge/bomb",
        ),
    ] {
        let Some(kubeconfig) = require_peer(var) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (problems, typed) = collect_and_check(
            dir.path(),
            &[
                "--only",
                "kubernetes",
                "--kubeconfig",
                &kubeconfig,
                "--kube-helm-release",
                release,
            ],
            if release.ends_with("bomb") { 3 } else { 0 },
        );
        assert!(problems.is_empty(), "{var}: {}", problems.join("\n"));
        assert!(
            typed.contains(&"kubernetes/helm.json".to_string()),
            "{var}: {typed:?}"
        );
    }
}
