//! The cri collector against a real containerd with its CRI plugin
//! (`scripts/test-env start-cri`, `RCDIAG_TEST_CRI_ENDPOINT`): the tests make pod
//! sandboxes (host network, no CNI) and containers through the CRI API as the kubelet
//! does, so containerd itself writes the labels, the state and the CRI log files the
//! agent reads; rotations are made as the kubelet makes them (rename, `ReopenContainerLog`,
//! gzip of the older one). Also: a socket that never answers is a timeout, Docker's own
//! containerd (CRI plugin disabled) is skipped, and the MongoDB URI is found in the CRI
//! view and in a pod spec read from kube-replay.

mod common;
#[path = "common/cri_pod.rs"]
mod cri_pod;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{cri_collector, mongodb_collector, require_peer, run_collectors};
use rcdiag_agent::clients::cri::{Runtime, api};
use rcdiag_agent::collectors::cri::discover::{self, CriErrorKind};
use rcdiag_agent::collectors::{Context, Options};
use rcdiag_agent::redact::Redactor;
use rcdiag_bundle::CollectorStatus;
use serde_json::Value;

const SECRET_PW: &str = "cri-s3cret-pw";
const MONGO_URL: &str = "mongodb://rc:cri-s3cret-pw@mongodb.rcdiag.svc:27017/rocketchat";
const NO_DOCKER: &str = "unix:///nonexistent/rcdiag-test-no-docker.sock";

/// The collector reads every pod of the runtime: the tests that make pods run one at a
/// time, so that one test's pod (an unreadable log) does not change another's outcome.
/// This lock does it under `cargo test` (one process); under nextest (a process per
/// test) the `cri-pods` test group of `.config/nextest.toml` does.
static ONE_POD_TEST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The containerd peer's endpoint, and [`ONE_POD_TEST`] held: for a test that makes pods.
async fn pod_test() -> Option<(String, tokio::sync::MutexGuard<'static, ()>)> {
    let endpoint = require_peer("RCDIAG_TEST_CRI_ENDPOINT")?;
    Some((endpoint, ONE_POD_TEST.lock().await))
}

/// A pod made through CRI, stopped and removed when dropped (passed or not).
struct Pod {
    endpoint: String,
    rt: Runtime,
    sandbox: String,
    container: String,
    name: String,
    log_dir: tempfile::TempDir,
    pod_config: api::PodSandboxConfig,
}

impl Pod {
    /// A pod `rcdiag/rocketchat-<pid>-<tag>` with one container `rocketchat` running
    /// `script` in the Rocket.Chat stand-in image, with the env the Helm chart gives.
    async fn start(endpoint: &str, tag: &str, script: &str) -> Pod {
        let rt = cri_pod::connect(endpoint).await.unwrap();
        let uid = format!("uid-{}-{tag}", std::process::id());
        let name = format!("rocketchat-{}-{tag}", std::process::id());
        let log_dir = tempfile::tempdir().unwrap();
        let (sandbox, pod_config) = cri_pod::run_sandbox(
            &rt,
            &name,
            &uid,
            log_dir.path(),
            HashMap::from([("app.kubernetes.io/name".into(), "rocketchat".into())]),
        )
        .await;
        let container = start_container(&rt, &sandbox, &pod_config, 0, script).await;
        Pod {
            endpoint: endpoint.to_string(),
            rt,
            sandbox,
            container,
            name,
            log_dir,
            pod_config,
        }
    }

    /// `.../rocketchat/0.log`, as containerd writes it.
    fn log_file(&self) -> PathBuf {
        let uid = format!("uid-{}", &self.name["rocketchat-".len()..]);
        self.log_dir
            .path()
            .join(format!("rcdiag_{}_{uid}", self.name))
            .join("rocketchat/0.log")
    }

    /// Waits until the current log file holds `text`.
    fn wait_for(&self, text: &str) {
        self.wait_for_in(&self.log_file(), text)
    }

    /// Waits until `file` holds `text`.
    fn wait_for_in(&self, file: &Path, text: &str) {
        let t0 = Instant::now();
        loop {
            let s = std::fs::read_to_string(file).unwrap_or_default();
            if s.contains(text) {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "{text:?} not in the log: {s:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The restart `attempt` of the container, started as the kubelet starts it after the
    /// previous one ended: same name, `<attempt>.log` beside the others.
    async fn restart(&self, attempt: u32, script: &str) -> (String, PathBuf) {
        let id = start_container(&self.rt, &self.sandbox, &self.pod_config, attempt, script).await;
        (id, self.log_file().with_file_name(format!("{attempt}.log")))
    }

    /// Removes a container through CRI (as the kubelet's garbage collection does).
    async fn remove(&self, id: &str) {
        let mut r = self.rt.runtime.clone();
        self.rt
            .call(
                "RemoveContainer",
                r.remove_container(api::RemoveContainerRequest {
                    container_id: id.to_string(),
                }),
            )
            .await
            .unwrap();
    }

    /// Rotates as the kubelet does: rename `0.log` to `0.log.<time>`, then ask the
    /// runtime to reopen `0.log`.
    async fn rotate(&self, stamp: &str) -> PathBuf {
        let cur = self.log_file();
        let to = cur.with_file_name(format!("0.log.{stamp}"));
        std::fs::rename(&cur, &to).unwrap();
        let mut r = self.rt.runtime.clone();
        self.rt
            .call(
                "ReopenContainerLog",
                r.reopen_container_log(api::ReopenContainerLogRequest {
                    container_id: self.container.clone(),
                }),
            )
            .await
            .unwrap();
        to
    }

    fn options(&self) -> Options {
        Options {
            cri_endpoint: Some(self.endpoint.clone()),
            docker_host: Some(NO_DOCKER.into()),
            timeout: Duration::from_secs(30),
            since: Duration::ZERO,
            ..Options::default()
        }
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let (endpoint, sandbox) = (self.endpoint.clone(), self.sandbox.clone());
        // Drop cannot wait on the test's runtime (its channel's task would not run): a
        // thread with its own runtime and connection.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let Ok(rt) = cri_pod::connect(&endpoint).await else {
                        return;
                    };
                    cri_pod::remove_sandbox(&rt, sandbox).await;
                });
        })
        .join();
    }
}

/// Creates and starts container `rocketchat` (restart `attempt`, log `rocketchat/<attempt>.log`)
/// in `sandbox`, running `script`, with the labels and env the kubelet and the Helm chart give.
async fn start_container(
    rt: &Runtime,
    sandbox: &str,
    pod_config: &api::PodSandboxConfig,
    attempt: u32,
    script: &str,
) -> String {
    let envs = vec![
        cri_pod::env("MONGO_URL", MONGO_URL),
        cri_pod::env("ROOT_URL", "https://chat.example.test"),
        cri_pod::env("DEPLOY_PLATFORM", "helm-chart"),
    ];
    cri_pod::start_container(rt, sandbox, pod_config, attempt, script, envs).await
}

/// The entry of `pod`'s container in `cri/containers.json`.
fn container_entry(containers: &Value, pod: &Pod) -> Value {
    containers["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == pod.container.as_str())
        .unwrap()
        .clone()
}

/// The cri collector alone at `endpoint` (no Docker), which must be skipped: the reason
/// and the run.
async fn cri_skipped_at(endpoint: String) -> (String, common::Run) {
    let opts = Options {
        cri_endpoint: Some(endpoint),
        docker_host: Some(NO_DOCKER.into()),
        ..Options::default()
    };
    let run = run_collectors(opts, &[("cri", cri_collector)]).await;
    let m = run.assert_status("cri", CollectorStatus::Skipped);
    (m, run)
}

fn entry_of<'a>(index: &'a Value, pod: &Pod) -> &'a Value {
    index
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["pod"] == pod.name.as_str())
        .unwrap_or_else(|| panic!("no index entry for {}: {index}", pod.name))
}

#[tokio::test]
async fn a_socket_that_never_answers_is_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("hung.sock");
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            conns.push(c); // accepted, never read nor answered
        }
    });
    let t0 = Instant::now();
    let r = discover::discover(
        Some(&format!("unix://{}", sock.display())),
        Path::new("/"),
        Duration::from_secs(3),
    )
    .await;
    let took = t0.elapsed();
    match r {
        Err(CriErrorKind::TimedOut(m)) => assert!(m.contains("did not answer"), "{m}"),
        other => panic!("want a timeout, got {other:?}"),
    }
    assert!(took < Duration::from_secs(4), "took {took:?}");

    // Through the collector: a recorded timeout, within its own time limit.
    let opts = Options {
        cri_endpoint: Some(format!("unix://{}", sock.display())),
        docker_host: Some(NO_DOCKER.into()),
        timeout: Duration::from_secs(3),
        ..Options::default()
    };
    let t0 = Instant::now();
    let run = run_collectors(opts, &[("cri", cri_collector)]).await;
    assert!(t0.elapsed() < Duration::from_secs(4));
    let m = run.assert_status("cri", CollectorStatus::Timeout);
    assert!(m.contains("did not answer") && m.contains("crictl"), "{m}");
    held.abort();
}

#[tokio::test]
async fn no_socket_is_skipped_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    match discover::discover(None, dir.path(), Duration::from_secs(3)).await {
        Err(CriErrorKind::Unreachable(m)) => {
            assert!(m.contains("/run/containerd/containerd.sock"), "{m}");
            assert!(m.contains("--cri-endpoint"), "{m}");
        }
        other => panic!("want unreachable, got {other:?}"),
    }
    let (m, run) = cri_skipped_at(format!("unix://{}/none.sock", dir.path().display())).await;
    assert!(
        m.contains("no CRI socket") && m.contains("none.sock"),
        "{m}"
    );
    assert!(run.files("cri").is_empty());
}

/// Docker's own containerd (its CRI plugin disabled, as Docker ships it) answers, but
/// not the CRI API: skipped with that reason, not failed.
#[tokio::test]
async fn dockers_containerd_without_cri_is_skipped() {
    let Some(d) = require_peer("RCDIAG_TEST_PEERS_DIR") else {
        return;
    };
    let sock = Path::new(&d).join("exec/containerd/containerd.sock");
    assert!(
        sock.exists(),
        "the private dockerd's containerd at {sock:?}"
    );
    let (m, _) = cri_skipped_at(format!("unix://{}", sock.display())).await;
    assert!(
        m.contains("does not serve the CRI API") && m.contains("Unimplemented"),
        "{m}"
    );
}

#[tokio::test]
async fn reads_a_pod_made_through_cri_on_real_containerd() {
    let Some((endpoint, _one)) = pod_test().await else {
        return;
    };
    // A line over containerd's 16 KiB (max_container_log_line_size): written as P pieces.
    // containerd copies stdout and stderr to the file from two goroutines, so the stderr
    // line could land between the long line's pieces (the log reader joins pieces of both
    // streams into one line: 4 lines instead of 5). The container waits, before the long
    // line, until the test has seen the stderr line in the file and opens `go`.
    let go = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = go.local_addr().unwrap().port();
    drop(go);
    let script = format!(
        "echo hello from cri; echo \"connecting to $MONGO_URL\"; echo to stderr >&2; \
         until nc 127.0.0.1 {port} </dev/null >/dev/null 2>&1; do sleep 0.05; done; \
         yes 0123456789 | head -n 4000 | tr -d '\\n'; echo; echo after the long line; sleep 600"
    );
    let pod = Pod::start(&endpoint, "a", &script).await;
    pod.wait_for(" stderr F to stderr\n");
    let go = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the go port, free again");
    go.set_nonblocking(true).unwrap();
    let t0 = Instant::now();
    while go.accept().is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the container never connected to 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    pod.wait_for(" stdout F after the long line\n");

    let snap = discover::discover(Some(&endpoint), Path::new("/"), Duration::from_secs(30))
        .await
        .expect("discover");
    assert_eq!(snap.version.runtime_name, "containerd");
    assert!(!snap.version.runtime_version.is_empty());
    let p = snap
        .pods
        .iter()
        .find(|p| p.id == pod.sandbox)
        .expect("our pod");
    assert_eq!(p.metadata.as_ref().unwrap().namespace, "rcdiag");
    assert_eq!(
        p.labels.get("app.kubernetes.io/name").map(String::as_str),
        Some("rocketchat")
    );
    let c = snap
        .containers
        .iter()
        .find(|c| c.entry.id == pod.container)
        .expect("our container");
    assert_eq!(c.k8s_label("pod.name"), Some(pod.name.as_str()));
    assert!(
        c.env.iter().any(|e| e == "DEPLOY_PLATFORM=helm-chart"),
        "{:?}",
        c.env
    );
    let d = c.as_discovered();
    assert_eq!(d.name, format!("rcdiag/{}/rocketchat", pod.name));
    assert!(d.is_rocketchat(), "{d:?}");
    assert!(c.status.as_ref().unwrap().image_ref.starts_with("sha256:"));
    // containerd itself wrote the CRI log file, the long line in pieces.
    let raw = std::fs::read_to_string(pod.log_file()).unwrap();
    assert!(raw.contains(" stdout F hello from cri\n"), "{raw:.300}");
    assert!(raw.contains(" stderr F to stderr\n"));
    assert!(raw.lines().filter(|l| l.contains(" stdout P ")).count() >= 2);

    // The MongoDB URI from the CRI view (no Docker here).
    let ctx = Context::new(
        pod.options(),
        std::sync::Arc::new(Redactor::new(&[]).unwrap()),
    );
    let (uri, source, _) = ctx.mongodb_uri().await.expect("a URI from CRI");
    assert_eq!(uri, MONGO_URL);
    assert!(source.starts_with("cri:rcdiag/rocketchat-"), "{source}");
    assert!(!ctx.redactor.redact_text(MONGO_URL).contains(SECRET_PW));

    // The collector into a bundle: the files, the env redacted, the log read from the node.
    let mut run = run_collectors(pod.options(), &[("cri", cri_collector)]).await;
    run.assert_status("cri", CollectorStatus::Ok);
    let rt = run.json("cri/runtime.json");
    assert_eq!(rt["runtime_name"], "containerd");
    assert_eq!(rt["runtime_api_version"], "v1");
    let ours = container_entry(&run.json("cri/containers.json"), &pod);
    assert_eq!(ours["pod_namespace"], "rcdiag");
    assert_eq!(ours["state"], "CONTAINER_RUNNING");
    assert_eq!(ours["restart_count"], 0);
    let env: Vec<&str> = ours["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(env.contains(&"DEPLOY_PLATFORM=helm-chart"), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("MONGO_URL=mongodb://")));
    let images = run.json("cri/images.json");
    assert!(images["images"].as_array().unwrap().iter().any(|i| {
        i["repo_tags"]
            .to_string()
            .contains("rocketchat/rocket.chat:8.5.0")
    }));
    let index = run.json("logs/index.json");
    let e = entry_of(&index, &pod).clone();
    assert_eq!(e["source"], "cri-file");
    assert_eq!(e["namespace"], "rcdiag");
    assert_eq!(e["truncated"], false);
    let log = run.text(e["file"].as_str().unwrap());
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 5, "{log:.400}");
    assert_eq!(e["lines"], 5);
    // stdout in order; stderr comes through its own pipe, so anywhere.
    assert!(lines.iter().any(|l| l.ends_with(" stderr to stderr")));
    let lines: Vec<&str> = lines
        .into_iter()
        .filter(|l| l.contains(" stdout "))
        .collect();
    assert!(lines[0].ends_with(" stdout hello from cri"), "{}", lines[0]);
    assert!(lines[0].as_bytes()[29] == b'Z' && lines[0].as_bytes()[10] == b'T');
    assert!(lines[1].contains(" stdout connecting to mongodb://rc:***REDACTED"));
    // The pieces joined into one line of 40,000 characters.
    let long = lines
        .iter()
        .find(|l| l.contains("0123456789"))
        .expect("the long line");
    assert_eq!(long.len(), 30 + " stdout ".len() + 40_000, "{:.80}", long);
    assert!(lines[3].ends_with(" stdout after the long line"));
    run.assert_no_secret(&[SECRET_PW]);
}

#[tokio::test]
async fn follows_rotations_made_the_way_the_kubelet_makes_them() {
    let Some((endpoint, _one)) = pod_test().await else {
        return;
    };
    let script = "echo hello; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done";
    let pod = Pod::start(&endpoint, "r", script).await;
    pod.wait_for("tick 5");
    let first = pod.rotate("20261204-100000").await;
    pod.wait_for("tick 10");
    pod.rotate("20261204-100001").await;
    // The kubelet compresses the older rotation through a .tmp file.
    let gz = PathBuf::from(format!("{}.gz", first.display()));
    let tmp = PathBuf::from(format!("{}.tmp", gz.display()));
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c '{}' > '{}' && mv '{}' '{}' && rm '{}'",
            first.display(),
            tmp.display(),
            tmp.display(),
            gz.display(),
            first.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    pod.wait_for("tick 3");
    let mut newest = 0;
    for l in std::fs::read_to_string(pod.log_file()).unwrap().lines() {
        if let Some(n) = l.rsplit_once("tick ") {
            newest = n.1.parse().unwrap();
        }
    }
    assert!(newest > 10);

    let mut run = run_collectors(pod.options(), &[("cri", cri_collector)]).await;
    run.assert_status("cri", CollectorStatus::Ok);
    let index = run.json("logs/index.json");
    let e = entry_of(&index, &pod).clone();
    let log = run.text(e["file"].as_str().unwrap());
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].ends_with(" stdout hello"), "{log:.300}");
    // Every tick once, in order, across the gzip rotation, the plain one and the current file.
    let ticks: Vec<u64> = lines[1..]
        .iter()
        .map(|l| l.rsplit_once("tick ").unwrap().1.parse().unwrap())
        .collect();
    assert!(ticks.len() as u64 >= newest, "{ticks:?}");
    assert_eq!(ticks, (1..=ticks.len() as u64).collect::<Vec<_>>());
    let stamps: Vec<&str> = lines.iter().map(|l| &l[..30]).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));

    // --log-lines 3: the newest three, marked truncated by lines.
    let opts = Options {
        log_lines: 3,
        ..pod.options()
    };
    let mut run = run_collectors(opts, &[("cri", cri_collector)]).await;
    let index = run.json("logs/index.json");
    let e = entry_of(&index, &pod).clone();
    assert_eq!(e["lines"], 3);
    assert_eq!(e["truncated_by"], "lines");
    let log = run.text(e["file"].as_str().unwrap());
    let ticks: Vec<u64> = log
        .lines()
        .map(|l| l.rsplit_once("tick ").unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(ticks.len(), 3);
    assert!(ticks[0] >= newest - 2 && ticks.windows(2).all(|w| w[1] == w[0] + 1));
}

/// A log file the agent cannot read is an index entry with the reason and no file, and
/// makes the collector partial.
#[tokio::test]
async fn an_unreadable_log_file_is_recorded() {
    let Some((endpoint, _one)) = pod_test().await else {
        return;
    };
    let pod = Pod::start(&endpoint, "u", "echo one; sleep 600").await;
    pod.wait_for("one");
    std::fs::remove_file(pod.log_file()).unwrap();
    let mut run = run_collectors(pod.options(), &[("cri", cri_collector)]).await;
    let m = run.assert_status("cri", CollectorStatus::Partial);
    assert!(m.contains(&pod.name) && m.contains("cannot open"), "{m}");
    let index = run.json("logs/index.json");
    let e = entry_of(&index, &pod);
    assert!(e["file"].is_null(), "{e}");
    assert!(e["error"].as_str().unwrap().contains("No such file"), "{e}");
}

/// The URI inline in a Rocket.Chat pod's spec (kube-replay `noncompliant`), when neither
/// Docker nor CRI shows it; a `secretKeyRef` (`helm-compliant`) gives a skip reason that
/// names the Secret and `--mongodb-uri`.
#[tokio::test]
async fn mongodb_uri_from_the_pod_spec_or_why_not() {
    let (Some(inline), Some(secret)) = (
        require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_NONCOMPLIANT"),
        require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_HELM_COMPLIANT"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let opts = |kc: &str| Options {
        kubeconfig: Some(kc.into()),
        docker_host: Some(NO_DOCKER.into()),
        cri_endpoint: Some(format!("unix://{}/none.sock", dir.path().display())),
        timeout: Duration::from_secs(20),
        ..Options::default()
    };
    let ctx = Context::new(
        opts(&inline),
        std::sync::Arc::new(Redactor::new(&[]).unwrap()),
    );
    let (uri, source, _) = ctx.mongodb_uri().await.expect("the inline URI");
    assert!(
        uri.contains("rcdiag-test-secret-inline@mongo.chat.svc.cluster.local"),
        "{uri}"
    );
    assert_eq!(source, "kubernetes:chat/rocketchat-0588df19a5-4kq7z");
    assert!(
        !ctx.redactor
            .redact_text(&uri)
            .contains("rcdiag-test-secret-inline")
    );

    let ctx = Context::new(
        opts(&secret),
        std::sync::Arc::new(Redactor::new(&[]).unwrap()),
    );
    assert!(ctx.mongodb_uri().await.is_none());
    let why = ctx.no_mongodb_uri_reason().await;
    assert!(
        why.contains("Secret rocketchat-rocketchat (key mongo-uri)")
            && why.contains("--mongodb-uri"),
        "{why}"
    );
    let run = run_collectors(opts(&secret), &[("mongodb", mongodb_collector)]).await;
    let m = run.assert_status("mongodb", CollectorStatus::Skipped);
    assert!(m.contains("Secret rocketchat-rocketchat"), "{m}");
}

/// Through the binary: the URI the parent found in the pod spec is handed to the
/// isolated mongodb collector's child, which records where it came from.
#[test]
fn the_isolated_collector_gets_the_uri_found_by_the_run() {
    let Some(inline) = require_peer("RCDIAG_TEST_KUBECONFIG_REPLAY_NONCOMPLIANT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"))
        .args(["collect", "--no-encrypt", "-q", "--config", "/dev/null"])
        .args([
            "--only",
            "mongodb",
            "--timeout",
            "10s",
            "--kubeconfig",
            &inline,
        ])
        .args(["--docker-host", NO_DOCKER])
        .arg("--cri-endpoint")
        .arg(format!("unix://{}/none.sock", dir.path().display()))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("-o")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim().to_string();
    let mut b =
        rcdiag_bundle::Bundle::open(Path::new(&path), &rcdiag_bundle::OpenOptions::default())
            .unwrap_or_else(|e| panic!("{path}: {e} ({})", String::from_utf8_lossy(&out.stderr)));
    let summary: Value =
        serde_json::from_slice(&b.read_bytes("mongodb/summary.json", 1 << 20).unwrap()).unwrap();
    assert_eq!(
        summary["uri_source"], "kubernetes:chat/rocketchat-0588df19a5-4kq7z",
        "{summary}"
    );
    assert!(!summary.to_string().contains("rcdiag-test-secret-inline"));
}

/// `--host-root`: the node's root mounted elsewhere (here a built one: the default
/// socket path linked to the real containerd's socket, and a copy of the log file
/// containerd wrote at its node path, with one more line). The agent reads the socket
/// and the log under it, and the bundle names the node's paths.
#[tokio::test]
async fn the_socket_and_the_log_files_are_read_under_host_root() {
    let Some((endpoint, _one)) = pod_test().await else {
        return;
    };
    let pod = Pod::start(&endpoint, "h", "echo on the node; sleep 600").await;
    pod.wait_for("on the node");
    let root = tempfile::tempdir().unwrap();
    let sock = root.path().join("run/containerd/containerd.sock");
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(endpoint.trim_start_matches("unix://"), &sock).unwrap();
    let node_log = pod.log_file();
    let copy = root.path().join(node_log.strip_prefix("/").unwrap());
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let mut text = std::fs::read_to_string(&node_log).unwrap();
    text.push_str("2026-01-01T00:00:00.000000000Z stdout F read under the host root\n");
    std::fs::write(&copy, text).unwrap();

    let opts = Options {
        cri_endpoint: None,
        host_root: root.path().to_path_buf(),
        ..pod.options()
    };
    let mut run = run_collectors(opts, &[("cri", cri_collector)]).await;
    run.assert_status("cri", CollectorStatus::Ok);
    let rt = run.json("cri/runtime.json");
    assert_eq!(rt["endpoint"], "unix:///run/containerd/containerd.sock");
    let ours = container_entry(&run.json("cri/containers.json"), &pod);
    assert_eq!(ours["log_path"], node_log.display().to_string());
    let index = run.json("logs/index.json");
    let e = entry_of(&index, &pod).clone();
    let log = run.text(e["file"].as_str().unwrap());
    assert!(log.contains(" stdout on the node"), "{log}");
    assert!(log.contains(" stdout read under the host root"), "{log}");

    // An option naming the socket is a node path too: read under the root.
    let opts = Options {
        cri_endpoint: Some("unix:///run/containerd/containerd.sock".into()),
        host_root: root.path().to_path_buf(),
        ..pod.options()
    };
    let mut run = run_collectors(opts, &[("cri", cri_collector)]).await;
    run.assert_status("cri", CollectorStatus::Ok);
    assert_eq!(
        run.json("cri/runtime.json")["endpoint"],
        "unix:///run/containerd/containerd.sock"
    );
}

/// A restarted container: the previous one's log (`0.log`, the container exited) is read
/// beside the current one's (`1.log`), under the same caps, marked `previous` with the
/// restart it belongs to; still when the runtime no longer lists the previous container
/// (its file is there). `--cri-logs-max` caps the number of logs read and says so.
#[tokio::test]
async fn the_previous_containers_log_is_read_after_a_restart() {
    let Some((endpoint, _one)) = pod_test().await else {
        return;
    };
    let pod = Pod::start(&endpoint, "r", "echo first life; echo crashing; exit 3").await;
    pod.wait_for("crashing");
    let (second, second_log) = pod.restart(1, "echo second life; sleep 600").await;
    pod.wait_for_in(&second_log, "second life");
    let ours = |index: &Value| -> Vec<Value> {
        index
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["pod"] == pod.name.as_str())
            .cloned()
            .collect()
    };
    let opts = || Options {
        log_lines: 1,
        ..pod.options()
    };

    // Both containers listed by the runtime: one entry each.
    let mut run = run_collectors(opts(), &[("cri", cri_collector)]).await;
    run.assert_status("cri", CollectorStatus::Ok);
    let entries = ours(&run.json("logs/index.json"));
    assert_eq!(entries.len(), 2, "{entries:?}");
    let cur = entries.iter().find(|e| e["attempt"] == 1).unwrap();
    let prev = entries.iter().find(|e| e["attempt"] == 0).unwrap();
    assert_eq!(cur["previous"], false);
    assert_eq!(cur["id"], second.as_str());
    assert_eq!(prev["previous"], true);
    assert_eq!(prev["id"], pod.container.as_str());
    assert!(
        prev["file"].as_str().unwrap().contains(".attempt0"),
        "{prev}"
    );
    // The same caps: --log-lines 1 keeps the newest line of each.
    assert_eq!(prev["lines"], 1);
    assert_eq!(prev["truncated_by"], "lines");
    let text = run.text(prev["file"].as_str().unwrap());
    assert!(text.ends_with(" stdout crashing\n"), "{text}");
    assert!(
        run.text(cur["file"].as_str().unwrap())
            .contains("second life")
    );

    // The runtime removes the exited container (its file stays, as the kubelet keeps it
    // until the pod goes): the file beside 1.log is still read, as the previous log.
    pod.remove(&pod.container).await;
    let prev_file = pod.log_file();
    assert!(
        prev_file.is_file(),
        "containerd removed {}",
        prev_file.display()
    );
    let mut run = run_collectors(opts(), &[("cri", cri_collector)]).await;
    run.assert_status("cri", CollectorStatus::Ok);
    let entries = ours(&run.json("logs/index.json"));
    assert_eq!(entries.len(), 2, "{entries:?}");
    let prev = entries.iter().find(|e| e["attempt"] == 0).unwrap();
    assert_eq!(prev["previous"], true);
    assert_eq!(prev["source"], "cri-file");
    let text = run.text(prev["file"].as_str().unwrap());
    assert!(text.ends_with(" stdout crashing\n"), "{text}");

    // At most one log: the current one is read, the previous one listed as not read.
    let mut run = run_collectors(
        Options {
            cri_logs_max: 1,
            ..opts()
        },
        &[("cri", cri_collector)],
    )
    .await;
    run.assert_status("cri", CollectorStatus::Ok);
    let index = run.json("logs/index.json");
    let read = index
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["file"].is_string())
        .count();
    assert_eq!(read, 1, "{index}");
    let entries = ours(&index);
    let prev = entries.iter().find(|e| e["attempt"] == 0).unwrap();
    assert!(prev["file"].is_null(), "{prev}");
    assert_eq!(prev["truncated_by"], "count");
    assert!(
        prev["error"].as_str().unwrap().contains("--cri-logs-max"),
        "{prev}"
    );
}

/// Benchmark (run by `scripts/bench-collect`, not by `cargo test`): the node log files
/// of BENCH_CRI_CONTAINERS (200) containers made through CRI on the real containerd
/// (10 pods, restarts 0..N/10 of one container each, all listed), BENCH_CRI_LINES (2000)
/// lines each, read by the cri collector vs `cat` of the same files, in the same run.
#[tokio::test]
#[ignore = "a benchmark: scripts/bench-collect runs it"]
async fn bench_node_logs_against_cat() {
    let Some((endpoint, _one)) = pod_test().await else {
        return;
    };
    let env = |k: &str, d: u32| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (n, lines) = (
        env("BENCH_CRI_CONTAINERS", 200),
        env("BENCH_CRI_LINES", 2000),
    );
    let per_pod = n.div_ceil(10);
    let script = format!(
        "i=0; while [ $i -lt {lines} ]; do echo \"method call sendMessage user $i in room GENERAL took 12ms\"; i=$((i+1)); done; echo DONE; sleep 600"
    );
    let t0 = Instant::now();
    let mut pods = Vec::new();
    let mut files = Vec::new();
    for p in 0..10 {
        let pod = Pod::start(&endpoint, &format!("b{p}"), &script).await;
        files.push(pod.log_file());
        for a in 1..per_pod {
            let (_, f) = pod.restart(a, &script).await;
            files.push(f);
        }
        pods.push(pod);
    }
    for f in &files {
        pods[0].wait_for_in(f, "DONE");
    }
    eprintln!(
        "bench: {} containers x {lines} lines made in {:.1} s",
        files.len(),
        t0.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let cat = std::process::Command::new("cat")
        .args(&files)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let cat_s = t.elapsed().as_secs_f64();
    assert!(cat.success());
    let t = Instant::now();
    let mut run = run_collectors(pods[0].options(), &[("cri", cri_collector)]).await;
    let agent_s = t.elapsed().as_secs_f64();
    run.assert_status("cri", CollectorStatus::Ok);
    let index = run.json("logs/index.json");
    let read = index
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["file"].is_string() && e["lines"] == u64::from(lines + 1))
        .count();
    assert!(
        read >= files.len(),
        "{read} of {} logs read whole",
        files.len()
    );
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    eprintln!(
        "bench: {} logs, {:.1} MiB: cri collector {agent_s:.2} s (CRI calls, logs, bundle), cat {cat_s:.3} s",
        files.len(),
        bytes as f64 / (1 << 20) as f64
    );
}
