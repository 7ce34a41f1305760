//! `rcdiag-agent collect` against a Kubernetes cluster from the command line and the
//! config file: `--kubeconfig`, `--namespace` (repeatable) and `namespaces` in
//! agent.toml reach the `kubernetes` collector, and a kubeconfig that cannot be read
//! fails that collector (recorded, exit 3) without sinking the bundle. The cluster is
//! kube-replay (`scripts/kube-replay.py`), replaying a Helm install of Rocket.Chat.

use std::path::Path;
use std::process::{Command, Output};

use rcdiag_bundle::{Bundle, OpenOptions};
use rcdiag_e2e::{bin, require_peer};

fn collect(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin("rcdiag-agent"))
        .args(["collect", "--no-encrypt", "-q", "--only", "kubernetes"])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("-o")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn bundle_of(out: &Output) -> Bundle {
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    Bundle::open(Path::new(&path), &OpenOptions::default()).unwrap_or_else(|e| {
        panic!(
            "{path}: {e}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn pod_namespaces(b: &mut Bundle) -> Vec<String> {
    let pods: serde_json::Value = b.read_json("kubernetes/pods.json").unwrap();
    let mut ns: Vec<String> = pods["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["namespace"].as_str().unwrap().to_string())
        .collect();
    ns.dedup();
    ns
}

#[test]
fn kubeconfig_and_namespaces_from_flags_and_config_reach_the_collector() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // Flags: one namespace.
    let out = collect(
        dir.path(),
        &[
            "--config",
            "/dev/null",
            "--kubeconfig",
            &kc,
            "--namespace",
            "rocketchat",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut b = bundle_of(&out);
    assert_eq!(pod_namespaces(&mut b), vec!["rocketchat".to_string()]);
    let rc = b
        .read_json::<serde_json::Value>("kubernetes/pods.json")
        .unwrap()["pods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["role"] == "rocketchat")
        .count();
    assert_eq!(rc, 3, "the Helm install's three Rocket.Chat pods");

    // The config file: namespaces given there.
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!("kubeconfig = {kc:?}\nnamespaces = [\"monitoring\"]\n"),
    )
    .unwrap();
    let out2 = dir.path().join("second");
    std::fs::create_dir(&out2).unwrap();
    let out = Command::new(bin("rcdiag-agent"))
        .args([
            "collect",
            "--no-encrypt",
            "-q",
            "--only",
            "kubernetes",
            "--config",
        ])
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("-o")
        .arg(&out2)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        pod_namespaces(&mut bundle_of(&out)),
        vec!["monitoring".to_string()]
    );
}

#[test]
fn an_unreadable_kubeconfig_fails_the_collector_not_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let out = collect(
        dir.path(),
        &[
            "--config",
            "/dev/null",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = bundle_of(&out);
    let k = b
        .manifest()
        .collectors
        .iter()
        .find(|c| c.name == "kubernetes")
        .expect("recorded");
    assert_eq!(k.status.as_str(), "failed");
    assert!(
        k.error
            .as_deref()
            .unwrap_or("")
            .contains("/nonexistent/kubeconfig"),
        "{:?}",
        k.error
    );
}
