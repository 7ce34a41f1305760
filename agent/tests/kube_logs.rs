//! Pod logs read through the Kubernetes API by the kubernetes collector, against
//! kube-replay (`scripts/kube-replay.py`, which serves `.../pods/POD/log` with
//! `timestamps`, `sinceSeconds`, `tailLines`, `limitBytes` and `previous`, and a 400
//! for a container without a previous log): the logs land in `logs/index.json` with
//! `source: "kubernetes"`, capped and redacted like Docker logs.
//!
//! Peer: `scripts/test-env start-kube; source /tmp/rcdp/kube.env`. Without it these
//! tests say SKIPPED, or fail under `RCDIAG_REQUIRE_PEERS=1`.

mod common;

use std::time::Duration;

use common::{kubernetes_collector, require_peer, run_collectors};
use rcdiag_agent::clients::kube::{Kube, KubeError, KubeOptions};
use rcdiag_agent::collectors::logs::kube::{PodLog, PodLogLimits, is_no_previous, query};
use rcdiag_bundle::CollectorStatus;
use serde_json::Value;

use common::kube::kube_options;

const NAME: &str = "kubernetes";

fn entries(index: &Value) -> Vec<Value> {
    index
        .as_array()
        .unwrap_or_else(|| panic!("logs/index.json is not a list: {index}"))
        .iter()
        .filter(|e| e["source"] == "kubernetes")
        .cloned()
        .collect()
}

fn entry<'a>(list: &'a [Value], pod_prefix: &str, container: &str, previous: bool) -> &'a Value {
    list.iter()
        .find(|e| {
            e["pod"].as_str().unwrap_or("").starts_with(pod_prefix)
                && e["container"] == container
                && e["previous"] == previous
        })
        .unwrap_or_else(|| {
            panic!("no log of {pod_prefix} {container} previous={previous} in {list:?}")
        })
}

#[tokio::test]
async fn rocketchat_and_mongodb_pod_logs_are_read_with_the_previous_one() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_HELM_COMPLIANT") else {
        return;
    };
    let mut run = run_collectors(kube_options(&kc), &[(NAME, kubernetes_collector)]).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let index = run.json("logs/index.json");
    let list = entries(&index);
    // Three Rocket.Chat pods, three MongoDB pods, and the previous log of the pod that
    // restarted.
    let rc: Vec<&Value> = list
        .iter()
        .filter(|e| {
            e["pod"]
                .as_str()
                .unwrap()
                .starts_with("rocketchat-rocketchat-")
        })
        .collect();
    assert!(rc.len() >= 4, "{list:?}");
    let mongo = list
        .iter()
        .filter(|e| {
            e["pod"]
                .as_str()
                .unwrap()
                .starts_with("rocketchat-mongodb-")
        })
        .count();
    assert!(mongo >= 3, "{list:?}");
    for e in &list {
        assert_eq!(e["namespace"], "rocketchat", "{e}");
    }
    let current = entry(
        &list,
        "rocketchat-rocketchat-74095cb1d5-b9q4m",
        "rocketchat",
        false,
    );
    let previous = entry(
        &list,
        "rocketchat-rocketchat-74095cb1d5-b9q4m",
        "rocketchat",
        true,
    );
    for e in [current, previous] {
        assert!(e["error"].is_null(), "{e}");
        assert!(e["lines"].as_u64().unwrap() > 10, "{e}");
        assert_eq!(e["truncated"], false, "{e}");
    }
    let text = run.text(current["file"].as_str().unwrap());
    assert!(text.contains("SERVER RUNNING"), "{text}");
    let first = text.lines().next().unwrap();
    let mut parts = first.splitn(3, ' ');
    let ts = parts.next().unwrap();
    assert!(
        ts.parse::<jiff::Timestamp>().is_ok(),
        "a timestamp first: {first}"
    );
    assert_eq!(parts.next(), Some("-"), "{first}");
    let prev_text = run.text(previous["file"].as_str().unwrap());
    assert_ne!(prev_text, text, "the previous log is another log");
    assert!(
        prev_text.to_lowercase().contains("out of memory"),
        "the OOMKilled container's last words: {prev_text}"
    );
}

#[tokio::test]
async fn a_container_without_a_previous_log_is_a_400_that_is_not_a_failure() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_HELM_COMPLIANT") else {
        return;
    };
    let kube = Kube::connect(KubeOptions {
        kubeconfig: Some(kc.into()),
        ..KubeOptions::default()
    })
    .await
    .unwrap();
    let log = PodLog {
        namespace: "rocketchat".into(),
        pod: "rocketchat-mongodb-0".into(),
        container: "mongodb".into(),
        previous: true,
    };
    let limits = PodLogLimits {
        lines: 100,
        bytes: 1 << 20,
        since: Duration::ZERO,
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
    };
    let err = match kube
        .open_log(&log.namespace, &log.pod, &query(&log, &limits))
        .await
    {
        Ok(_) => panic!("a previous log of a container that never restarted"),
        Err(e) => e,
    };
    assert!(
        matches!(err, KubeError::Status { code: 400, .. }),
        "{err:?}"
    );
    assert!(is_no_previous(&err.to_string()), "{err}");
    // The current log of the same container is there, line by line.
    let current = PodLog {
        previous: false,
        ..log
    };
    let mut body = kube
        .open_log(&current.namespace, &current.pod, &query(&current, &limits))
        .await
        .unwrap();
    let mut n = 0;
    while let Some(line) = body.next_line().await.unwrap() {
        assert!(!line.contains('\n'));
        n += 1;
    }
    assert!(n > 0 && body.read > 0, "an empty log");
}

#[tokio::test]
async fn a_restarted_containers_previous_log_is_read() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_NONCOMPLIANT") else {
        return;
    };
    let mut run = run_collectors(kube_options(&kc), &[(NAME, kubernetes_collector)]).await;
    let index = run.json("logs/index.json");
    let list = entries(&index);
    assert!(!list.is_empty(), "{index}");
    let missing: Vec<&Value> = list
        .iter()
        .filter(|e| e["previous"] == true && e["file"].is_null())
        .collect();
    for e in &missing {
        assert!(
            e["error"].as_str().unwrap().contains("not found"),
            "the server's reason is kept: {e}"
        );
    }
    let read = list
        .iter()
        .filter(|e| e["previous"] == true && !e["file"].is_null())
        .count();
    assert!(
        read >= 1,
        "the restarted Rocket.Chat's previous log: {list:?}"
    );
    let msg = run.assert_status(NAME, CollectorStatus::Ok);
    assert!(!msg.contains("log of"), "{msg}");
}

#[tokio::test]
async fn pod_logs_keep_to_the_line_and_byte_caps() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_HELM_COMPLIANT") else {
        return;
    };
    let mut o = kube_options(&kc);
    o.log_lines = 5;
    let mut run = run_collectors(o, &[(NAME, kubernetes_collector)]).await;
    let list = entries(&run.json("logs/index.json"));
    let e = entry(
        &list,
        "rocketchat-rocketchat-74095cb1d5-x7k2p",
        "rocketchat",
        false,
    );
    assert_eq!(e["lines"], 5, "{e}");
    assert_eq!(e["truncated"], true, "{e}");
    assert_eq!(e["truncated_by"], "lines", "{e}");
    let text = run.text(e["file"].as_str().unwrap());
    assert_eq!(text.lines().count(), 5, "{text}");

    let mut o = kube_options(&kc);
    o.log_bytes = 1024;
    let mut run = run_collectors(o, &[(NAME, kubernetes_collector)]).await;
    let list = entries(&run.json("logs/index.json"));
    let e = entry(
        &list,
        "rocketchat-rocketchat-74095cb1d5-x7k2p",
        "rocketchat",
        false,
    );
    let bytes = e["bytes"].as_u64().unwrap();
    assert!(bytes > 0 && bytes <= 1024, "{e}");
    assert_eq!(e["truncated_by"], "bytes", "{e}");
    let text = run.text(e["file"].as_str().unwrap());
    assert!(text.len() as u64 <= 1024 && text.ends_with('\n'), "{text}");
}

/// The log calls of a run, from `kubernetes/calls.json`.
fn log_calls(run: &mut common::Run) -> Vec<Value> {
    run.json("kubernetes/calls.json")["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["path"].as_str().unwrap().ends_with("/log"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_pod_log_call_is_recorded_with_its_outcome() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_HELM_COMPLIANT") else {
        return;
    };
    let mut run = run_collectors(kube_options(&kc), &[(NAME, kubernetes_collector)]).await;
    run.assert_status(NAME, CollectorStatus::Ok);
    let list = entries(&run.json("logs/index.json"));
    let calls = log_calls(&mut run);
    assert_eq!(calls.len(), list.len(), "one call per log: {calls:?}");
    for e in &list {
        let path = format!(
            "/api/v1/namespaces/{}/pods/{}/log",
            e["namespace"].as_str().unwrap(),
            e["pod"].as_str().unwrap()
        );
        let previous = e["previous"] == true;
        let c = calls
            .iter()
            .find(|c| {
                c["path"] == path.as_str()
                    && c["query"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("container={}&", e["container"].as_str().unwrap()))
                    && c["query"].as_str().unwrap().contains("previous=true") == previous
            })
            .unwrap_or_else(|| panic!("no call for {e} in {calls:?}"));
        assert_eq!(c["outcome"], "ok", "{c}");
        assert_eq!(c["pages"], 1, "{c}");
        // What was received: every line (no cap binds here), and its bytes.
        assert_eq!(c["items"], e["lines"], "{c} {e}");
        assert!(
            c["bytes"].as_u64().unwrap() >= e["bytes"].as_u64().unwrap() / 2,
            "{c} {e}"
        );
        assert!(
            c["query"].as_str().unwrap().contains("timestamps=true"),
            "{c}"
        );
    }
    assert!(
        calls
            .iter()
            .any(|c| c["query"].as_str().unwrap().ends_with("&previous=true")),
        "the previous log of the restarted pod: {calls:?}"
    );
}

#[tokio::test]
async fn a_log_line_over_64_kib_is_cut_with_a_marker_and_the_next_line_is_whole() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_EDGE_CASES") else {
        return;
    };
    let mut run = run_collectors(kube_options(&kc), &[(NAME, kubernetes_collector)]).await;
    let list = entries(&run.json("logs/index.json"));
    let e = entry(&list, "edge-rocketchat-", "rocketchat", false);
    let e = if e["pod"].as_str().unwrap().ends_with("-l0ng1") {
        e.clone()
    } else {
        list.iter()
            .find(|x| x["pod"].as_str().unwrap().ends_with("-l0ng1") && x["previous"] == false)
            .unwrap()
            .clone()
    };
    assert!(e["error"].is_null(), "{e}");
    // The same log as the real kubectl reads it, with the kubelet's timestamps: the agent
    // cuts the line as received (timestamp included) at 64 KiB.
    let pod = e["pod"].as_str().unwrap();
    let served = common::kube::kubectl(
        &kc,
        &[
            "logs",
            "-n",
            "rocketchat-edge",
            pod,
            "-c",
            "rocketchat",
            "--timestamps",
        ],
    );
    let served = String::from_utf8(served).unwrap();
    let long = served.lines().map(|l| l.len()).max().unwrap();
    assert!(long > 100_000, "{long}");
    let text = run.text(e["file"].as_str().unwrap());
    let marker = format!(
        " [rcdiag: line cut at 64 KiB, {} more bytes left out]",
        long - 64 * 1024
    );
    let cut: Vec<&str> = text.lines().filter(|l| l.contains("line cut at")).collect();
    assert_eq!(cut.len(), 1, "one cut line");
    assert!(
        cut[0].ends_with(&marker),
        "{}",
        &cut[0][cut[0].len() - 80..]
    );
    assert!(cut[0].len() < 64 * 1024 + 200, "{}", cut[0].len());
    assert!(
        text.lines().any(
            |l| l.ends_with(r#"{"level":30,"msg":"rcdiag-edge: the line after the long one"}"#)
        ),
        "the next line is whole"
    );
    assert_eq!(
        text.lines().count(),
        served.lines().count(),
        "no line lost or split"
    );
}

#[tokio::test]
async fn a_previous_log_that_is_gone_is_recorded_as_absent_not_as_a_failure() {
    let Some(kc) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_EDGE_CASES") else {
        return;
    };
    let mut run = run_collectors(kube_options(&kc), &[(NAME, kubernetes_collector)]).await;
    let msg = run.assert_status(NAME, CollectorStatus::Ok);
    assert!(!msg.contains("log of"), "{msg}");
    let list = entries(&run.json("logs/index.json"));
    let gone = list
        .iter()
        .find(|x| x["pod"].as_str().unwrap().ends_with("-g0ne2") && x["previous"] == true)
        .unwrap_or_else(|| panic!("the restarted container's previous log is asked for: {list:?}"));
    let pod = gone["pod"].as_str().unwrap();
    assert!(gone["file"].is_null(), "{gone}");
    let want = format!("previous terminated container \"rocketchat\" in pod \"{pod}\" not found");
    assert!(gone["error"].as_str().unwrap().contains(&want), "{gone}");
    // Its current log is there.
    let current = list
        .iter()
        .find(|x| x["pod"] == pod && x["previous"] == false)
        .unwrap();
    assert!(current["lines"].as_u64().unwrap() > 10, "{current}");
    let calls = log_calls(&mut run);
    let c = calls
        .iter()
        .find(|c| {
            c["path"].as_str().unwrap().contains(pod)
                && c["query"].as_str().unwrap().contains("previous=true")
        })
        .unwrap();
    assert_eq!(c["outcome"], "absent", "{c}");
    assert!(c["message"].as_str().unwrap().contains(&want), "{c}");
    assert!(
        c["message"].as_str().unwrap().contains("(400)")
            || c["message"].as_str().unwrap().contains("400"),
        "{c}"
    );
}
