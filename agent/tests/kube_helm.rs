//! `--kube-helm-release`: the kubernetes collector decodes a Helm release Secret
//! (`sh.helm.release.v1.NAME.vN`, Helm's base64 of gzip of JSON) against kube-replay
//! (`scripts/kube-replay.py`; the release Secrets of `tests/fixtures/kubernetes/built/`,
//! built with Helm's encoding). What it keeps is compared with the same Secret read by the
//! real `kubectl` and decoded here independently; the fake secrets of the release's values
//! (`rcdiag-test-secret-*`) and its manifest are searched for in every byte of the bundle.
//!
//! Peer: `scripts/test-env start-kube; source /tmp/rcdp/kube.env`. Without it these tests
//! say SKIPPED, or fail under `RCDIAG_REQUIRE_PEERS=1`.

mod common;

use std::io::Read;
use std::process::Command;

use base64::Engine as _;
use common::kube::{kube_options, kubectl_get, packaging_yaml, replay_kubeconfig};
use common::{Run, kubernetes_collector, run_collectors};
use rcdiag_agent::collectors::Options;
use rcdiag_bundle::CollectorStatus;
use serde_json::Value;

const NAME: &str = "kubernetes";

async fn collect(kc: &str, releases: &[&str]) -> Run {
    let o = Options {
        kube_helm_releases: releases.iter().map(|s| s.to_string()).collect(),
        ..kube_options(kc)
    };
    run_collectors(o, &[(NAME, kubernetes_collector)]).await
}

fn helm_decode(secret: &Value) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm = b64
        .decode(secret["data"]["release"].as_str().unwrap())
        .unwrap();
    let gz = b64.decode(helm).unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn calls_to<'a>(calls: &'a Value, path: &str) -> Vec<&'a Value> {
    calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["path"] == path)
        .collect()
}

#[tokio::test]
async fn the_latest_release_is_decoded_its_values_redacted_never_its_manifest() {
    let Some(kc) = replay_kubeconfig("HELM_COMPLIANT") else {
        return;
    };
    let mut run = collect(&kc, &["rocketchat"]).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let helm = run.json("kubernetes/helm.json");
    let releases = helm["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1, "{helm}");
    let r = &releases[0];
    assert!(r["error"].is_null(), "{r}");

    // What kubectl reads, decoded here.
    let want = helm_decode(&kubectl_get(
        &kc,
        &[
            "secret",
            "-n",
            "rocketchat",
            "sh.helm.release.v1.rocketchat.v3",
        ],
    ));
    assert_eq!(r["requested"], "rocketchat");
    assert_eq!(r["name"], want["name"]);
    assert_eq!(r["namespace"], "rocketchat", "found from the workloads");
    assert_eq!(r["secret"], "sh.helm.release.v1.rocketchat.v3");
    assert_eq!(r["revision"], want["version"]);
    assert_eq!(r["revision"], 3);
    assert_eq!(r["status"], want["info"]["status"]);
    assert_eq!(r["status"], "deployed");
    assert_eq!(r["last_deployed"], want["info"]["last_deployed"]);
    assert_eq!(r["description"], want["info"]["description"]);
    let chart = &r["chart"];
    let meta = &want["chart"]["metadata"];
    assert_eq!(chart["name"], meta["name"]);
    assert_eq!(chart["version"], "7.0.2");
    assert_eq!(chart["app_version"], meta["appVersion"]);
    assert_eq!(chart["app_version"], "8.6.1");
    assert_eq!(
        chart["dependencies"].as_array().unwrap().len(),
        meta["dependencies"].as_array().unwrap().len()
    );
    // Every revision, by its labels: kubectl's view of the same Secrets.
    let list = kubectl_get(
        &kc,
        &[
            "secrets",
            "-n",
            "rocketchat",
            "-l",
            "owner=helm,name=rocketchat",
        ],
    );
    let mut revs: Vec<(i64, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let l = &s["metadata"]["labels"];
            (
                l["version"].as_str().unwrap().parse().unwrap(),
                l["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    revs.sort();
    let got: Vec<(i64, String)> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap(),
                h["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, revs);
    assert_eq!(got.len(), 2, "{got:?}");

    // The values: kept where they are not secret, redacted where they are.
    let v = &r["values"];
    let cfg = &want["config"];
    assert_eq!(v["host"], cfg["host"]);
    assert_eq!(v["replicaCount"], 3);
    assert_eq!(v["mongodb"]["architecture"], "replicaset");
    assert_eq!(v["resources"], cfg["resources"]);
    assert_eq!(v["smtp"]["host"], cfg["smtp"]["host"]);
    let marker = "***REDACTED:values-secret***";
    assert_eq!(v["smtp"]["password"], marker);
    assert_eq!(v["license"], marker);
    assert_eq!(v["mongodb"]["auth"]["rootPassword"], marker);
    assert_eq!(v["mongodb"]["auth"]["passwords"][0], marker);
    assert!(run.redactor.counts()["values-secret"] >= 4);
    // The manifest (it holds the chart's Secret with the MongoDB URI) and the values'
    // secrets are nowhere in the bundle.
    let manifest = want["manifest"].as_str().unwrap();
    let encoded_uri = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("mongo-uri: "))
        .expect("the fixture's manifest holds the chart's Secret");
    assert!(encoded_uri.len() > 40, "{encoded_uri}");
    run.assert_no_secret(&[
        "rcdiag-test-secret",
        encoded_uri,
        "# Source:",
        "templates/deployment.yaml",
    ]);

    // The one Secret call: Helm's label selector in the release's namespace.
    let calls = run.json("kubernetes/calls.json");
    let c = calls_to(&calls, "/api/v1/namespaces/rocketchat/secrets");
    assert_eq!(c.len(), 1, "{calls}");
    assert_eq!(c[0]["outcome"], "ok");
    assert_eq!(
        c[0]["query"],
        "labelSelector=owner%3Dhelm%2Cname%3Drocketchat"
    );
    assert_eq!(c[0]["items"], 2);
    let secret_calls = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["path"].as_str().unwrap().contains("secrets"))
        .count();
    assert_eq!(secret_calls, 1, "no other Secret is read: {calls}");
}

#[tokio::test]
async fn a_release_that_is_not_there_is_an_error_that_says_where_it_looked() {
    let Some(kc) = replay_kubeconfig("HELM_COMPLIANT") else {
        return;
    };
    let mut run = collect(&kc, &["rocketchat/no-such-release"]).await;
    let msg = run.assert_status(NAME, CollectorStatus::Partial);
    assert!(msg.contains("no-such-release"), "{msg}");
    let helm = run.json("kubernetes/helm.json");
    let r = &helm["releases"][0];
    assert_eq!(r["namespace"], "rocketchat");
    assert!(r["values"].is_null() && r["secret"].is_null(), "{r}");
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("name=no-such-release in rocketchat") && e.contains("NAMESPACE/NAME"),
        "{e}"
    );
    // The rest of the collection is whole.
    assert!(
        run.json("kubernetes/pods.json")["pods"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_and_the_rest_is_collected() {
    let Some(kc) = replay_kubeconfig("EDGE_CASES") else {
        return;
    };
    // The fixture is a bomb: small on the wire, 64 MiB decoded.
    let secret = kubectl_get(
        &kc,
        &[
            "secret",
            "-n",
            "rocketchat-edge",
            "sh.helm.release.v1.bomb.v1",
        ],
    );
    assert!(secret["data"]["release"].as_str().unwrap().len() < 200 << 10);
    let mut run = collect(&kc, &["rocketchat-edge/bomb"]).await;
    let msg = run.assert_status(NAME, CollectorStatus::Partial);
    assert!(msg.contains("gzip bomb"), "{msg}");
    let helm = run.json("kubernetes/helm.json");
    let r = &helm["releases"][0];
    assert_eq!(r["secret"], "sh.helm.release.v1.bomb.v1");
    assert_eq!(r["revision"], 1);
    let e = r["error"].as_str().unwrap();
    assert!(e.contains("decodes to more than 32 MiB: refused"), "{e}");
    assert!(r["values"].is_null(), "{r}");
    assert!(r["decoded_bytes"].is_null(), "{r}");
    assert!(run.has("kubernetes/pods.json") && run.has("logs/index.json"));
}

#[tokio::test]
async fn a_refused_secret_list_is_recorded_naming_the_verb_and_resource() {
    let Some(kc) = replay_kubeconfig("RBAC") else {
        return;
    };
    let mut run = collect(&kc, &["rocketchat"]).await;
    let msg = run.assert_status(NAME, CollectorStatus::Partial);
    assert!(
        msg.contains("cannot list secrets in namespace rocketchat"),
        "{msg}"
    );
    let calls = run.json("kubernetes/calls.json");
    let c = calls_to(&calls, "/api/v1/namespaces/rocketchat/secrets");
    assert_eq!(c.len(), 1, "{calls}");
    assert_eq!(c[0]["outcome"], "forbidden");
    let m = c[0]["message"].as_str().unwrap();
    assert!(
        m.contains("user system:serviceaccount:rcdiag:rcdiag-agent cannot list secrets in namespace rocketchat")
            && m.contains("kubectl auth can-i list secrets -n rocketchat"),
        "{m}"
    );
    let helm = run.json("kubernetes/helm.json");
    let e = helm["releases"][0]["error"].as_str().unwrap();
    assert!(e.contains("could not be listed"), "{e}");
    run.assert_no_secret(&["rcdiag-test-secret"]);
}

#[tokio::test]
async fn without_the_option_no_secret_is_read_and_no_helm_file_written() {
    let Some(kc) = replay_kubeconfig("HELM_COMPLIANT") else {
        return;
    };
    let mut run = collect(&kc, &[]).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    assert!(!run.has("kubernetes/helm.json"));
    let calls = run.json("kubernetes/calls.json");
    assert!(
        calls["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["path"].as_str().unwrap().contains("secrets")),
        "{calls}"
    );
}

/// The opt-in Role grants exactly what the agent asks for: `list` on secrets, in one
/// namespace, to the CronJob's service account.
#[test]
fn the_helm_role_grants_list_on_secrets_in_one_namespace_only() {
    let docs = packaging_yaml("helm-release-role.yaml");
    assert_eq!(docs.len(), 2);
    let role = docs.iter().find(|d| d["kind"] == "Role").expect("a Role");
    assert_eq!(role["apiVersion"], "rbac.authorization.k8s.io/v1");
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["apiGroups"], serde_json::json!([""]));
    assert_eq!(rules[0]["resources"], serde_json::json!(["secrets"]));
    assert_eq!(rules[0]["verbs"], serde_json::json!(["list"]));
    let binding = docs
        .iter()
        .find(|d| d["kind"] == "RoleBinding")
        .expect("a RoleBinding");
    assert_eq!(
        binding["metadata"]["namespace"],
        role["metadata"]["namespace"]
    );
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], "rcdiag-cluster");
    assert_eq!(binding["subjects"][0]["namespace"], "rcdiag");
    // Not a ClusterRole: the agent never needs Secrets cluster-wide.
    assert!(docs.iter().all(|d| d["kind"] != "ClusterRole"));
}

/// `kube_helm_releases` in agent.toml reaches the collector through the real binary, and
/// `--kube-helm-release` overrides it.
#[test]
fn the_config_key_and_the_flag_reach_the_collector() {
    let Some(kc) = replay_kubeconfig("HELM_COMPLIANT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        format!("kubeconfig = {kc:?}\nkube_helm_releases = [\"rocketchat\"]\n"),
    )
    .unwrap();
    let run = |extra: &[&str], out: &std::path::Path| {
        std::fs::create_dir_all(out).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"))
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
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut b = rcdiag_bundle::Bundle::open(
            std::path::Path::new(&path),
            &rcdiag_bundle::OpenOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
        (
            o.status.code(),
            b.read_json::<Value>("kubernetes/helm.json").unwrap(),
        )
    };
    let (code, helm) = run(&[], &dir.path().join("a"));
    assert_eq!(code, Some(0), "{helm}");
    assert_eq!(helm["releases"][0]["requested"], "rocketchat");
    assert_eq!(helm["releases"][0]["revision"], 3);
    let (code, helm) = run(
        &["--kube-helm-release", "rocketchat/missing"],
        &dir.path().join("b"),
    );
    assert_eq!(code, Some(3), "a release not found is partial: {helm}");
    let releases = helm["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1, "the flag replaces the config: {helm}");
    assert_eq!(releases[0]["requested"], "rocketchat/missing");
}
