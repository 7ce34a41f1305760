//! The kube-replay peer and the real `kubectl` as the oracle: the kubeconfig of a
//! replay profile, and what `kubectl` says against it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The kubeconfig of kube-replay profile `profile` (`RCDIAG_TEST_KUBECONFIG_REPLAY_<profile>`;
/// the default profile for ""), or `None` (the test is skipped, or fails under
/// `RCDIAG_REQUIRE_PEERS=1`).
pub fn replay_kubeconfig(profile: &str) -> Option<String> {
    let var = if profile.is_empty() {
        "RCDIAG_TEST_KUBECONFIG_REPLAY".to_string()
    } else {
        format!("RCDIAG_TEST_KUBECONFIG_REPLAY_{profile}")
    };
    super::require_peer(&var)
}

/// kubectl's discovery cache for `kc`: kubectl caches per server URL, and every
/// profile shares one port, so each kubeconfig gets its own.
fn cache_dir(kc: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rcdiag-kubectl-cache-{}", kc.replace('/', "_")))
}

/// The standard output of `kubectl --kubeconfig KC ARGS`, which must succeed.
pub fn kubectl(kc: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new("kubectl")
        .args(["--kubeconfig", kc, "--cache-dir"])
        .arg(cache_dir(kc))
        .args(args)
        .output()
        .expect("kubectl (installed by scripts/test-env install)");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `kubectl get ARGS -o json`.
pub fn kubectl_get(kc: &str, args: &[&str]) -> Value {
    let args = [&["get"][..], args, &["-o", "json"]].concat();
    serde_json::from_slice(&kubectl(kc, &args)).expect("kubectl printed JSON")
}

/// The items of `kubectl get ARGS -o json`.
pub fn kubectl_items(kc: &str, args: &[&str]) -> Vec<Value> {
    kubectl_get(kc, args)["items"]
        .as_array()
        .expect("kubectl printed a list")
        .clone()
}

/// The `namespace/name` of each object `kubectl get ARGS` lists, sorted.
pub fn kubectl_names(kc: &str, args: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = kubectl_items(kc, args)
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().expect("metadata.name")
            )
        })
        .collect();
    names.sort();
    names
}

/// Collector options for a kube-replay cluster at `kc`: no Docker Engine, a 60 s
/// budget, and every recorded Warning event whatever its age (kubectl has no window).
pub fn kube_options(kc: &str) -> rcdiag_agent::collectors::Options {
    rcdiag_agent::collectors::Options {
        kubeconfig: Some(kc.into()),
        docker_host: Some("unix:///nonexistent/rcdiag-test-no-docker.sock".into()),
        timeout: std::time::Duration::from_secs(60),
        since: std::time::Duration::from_secs(365 * 24 * 3600),
        ..Default::default()
    }
}

/// The documents of `packaging/kubernetes/NAME` (YAML, read with python3-yaml).
pub fn packaging_yaml(name: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging/kubernetes")
        .join(name);
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(&path)
        .output()
        .expect("python3 (with python3-yaml)");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python3 printed JSON")
}
