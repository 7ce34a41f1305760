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
