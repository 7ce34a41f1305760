//! The cri collector's read against a real containerd with its CRI plugin
//! (`scripts/test-env start-cri`, `RCDIAG_TEST_CRI_ENDPOINT`): the test makes a pod
//! sandbox (host network, no CNI) and a container through the CRI API as the kubelet
//! does, and checks what the agent reads back; a socket that never answers is a timeout.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rcdiag_agent::clients::cri::{self, api};
use rcdiag_agent::collectors::cri::discover::{self, CriErrorKind};

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
    held.abort();
    match r {
        Err(CriErrorKind::TimedOut(m)) => assert!(m.contains("did not answer"), "{m}"),
        other => panic!("want a timeout, got {other:?}"),
    }
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[tokio::test]
async fn no_socket_is_unreachable_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    match discover::discover(None, dir.path(), Duration::from_secs(3)).await {
        Err(CriErrorKind::Unreachable(m)) => {
            assert!(m.contains("/run/containerd/containerd.sock"), "{m}");
            assert!(m.contains("--cri-endpoint"), "{m}");
        }
        other => panic!("want unreachable, got {other:?}"),
    }
}

// Not yet passing here: containerd 1.6.20's RunPodSandbox fails in this machine's
// container ("runc create failed: can't get final child's PID from pipe: EOF") while
// `ctr run` works; see /work/helpers/cri-status.md. Run with `--run-ignored all`.
#[ignore = "RunPodSandbox fails under this dev container's runc; see cri-status.md"]
#[tokio::test]
async fn reads_a_pod_made_through_cri_on_real_containerd() {
    let Some(endpoint) = common::require_peer("RCDIAG_TEST_CRI_ENDPOINT") else {
        return;
    };
    let image = std::env::var("RCDIAG_TEST_CRI_IMAGE")
        .unwrap_or_else(|_| "docker.io/library/rcdiag-base:latest".into());
    let logs = tempfile::tempdir().unwrap();
    let path = cri::find_endpoint(Some(&endpoint), Path::new("/")).unwrap();
    let rt = cri::connect(&path, Duration::from_secs(20), cri::DEFAULT_MESSAGE_MAX)
        .await
        .unwrap();
    let mut r = rt.runtime.clone();
    let uid = format!("uid-{}", std::process::id());
    let pod_name = format!("rocketchat-{}", std::process::id());
    let log_dir = logs.path().join(format!("rcdiag_{pod_name}_{uid}"));
    std::fs::create_dir_all(&log_dir).unwrap();
    let pod_config = api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: pod_name.clone(),
            uid: uid.clone(),
            namespace: "rcdiag".into(),
            attempt: 0,
        }),
        log_directory: log_dir.display().to_string(),
        labels: HashMap::from([("app.kubernetes.io/name".into(), "rocketchat".into())]),
        linux: Some(api::LinuxPodSandboxConfig {
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(api::NamespaceOption {
                    network: api::NamespaceMode::Node as i32,
                    pid: api::NamespaceMode::Node as i32,
                    ipc: api::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                privileged: true,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = rt
        .call(
            "RunPodSandbox",
            r.run_pod_sandbox(api::RunPodSandboxRequest {
                config: Some(pod_config.clone()),
                runtime_handler: String::new(),
            }),
        )
        .await
        .unwrap()
        .pod_sandbox_id;
    // The labels and annotations the kubelet sets (kuberuntime/labels.go).
    let labels = HashMap::from([
        ("io.kubernetes.pod.name".to_string(), pod_name.clone()),
        (
            "io.kubernetes.pod.namespace".to_string(),
            "rcdiag".to_string(),
        ),
        ("io.kubernetes.pod.uid".to_string(), uid.clone()),
        (
            "io.kubernetes.container.name".to_string(),
            "rocketchat".to_string(),
        ),
    ]);
    let created = rt
        .call(
            "CreateContainer",
            r.create_container(api::CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(api::ContainerConfig {
                    metadata: Some(api::ContainerMetadata {
                        name: "rocketchat".into(),
                        attempt: 0,
                    }),
                    image: Some(api::ImageSpec {
                        image: image.clone(),
                        ..Default::default()
                    }),
                    command: vec!["/bin/sh".into(), "-c".into()],
                    args: vec!["echo hello from cri; sleep 600".into()],
                    envs: vec![
                        api::KeyValue {
                            key: "MONGO_URL".into(),
                            value: "mongodb://rc:cri-s3cret-pw@mongodb.rcdiag.svc:27017/rocketchat"
                                .into(),
                        },
                        api::KeyValue {
                            key: "DEPLOY_PLATFORM".into(),
                            value: "helm-chart".into(),
                        },
                    ],
                    labels,
                    annotations: HashMap::from([(
                        "io.kubernetes.container.restartCount".into(),
                        "0".into(),
                    )]),
                    log_path: "rocketchat/0.log".into(),
                    ..Default::default()
                }),
                sandbox_config: Some(pod_config),
            }),
        )
        .await
        .unwrap()
        .container_id;
    rt.call(
        "StartContainer",
        r.start_container(api::StartContainerRequest {
            container_id: created.clone(),
        }),
    )
    .await
    .unwrap();

    let snap = discover::discover(Some(&endpoint), Path::new("/"), Duration::from_secs(30)).await;

    // Clean up before asserting.
    let _ = rt
        .call(
            "StopPodSandbox",
            r.stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: pod.clone(),
            }),
        )
        .await;
    let log = std::fs::read_to_string(log_dir.join("rocketchat/0.log")).unwrap_or_default();
    let _ = rt
        .call(
            "RemovePodSandbox",
            r.remove_pod_sandbox(api::RemovePodSandboxRequest {
                pod_sandbox_id: pod.clone(),
            }),
        )
        .await;

    let snap = snap.expect("discover");
    assert_eq!(snap.version.runtime_name, "containerd");
    assert!(!snap.version.runtime_version.is_empty());
    let p = snap.pods.iter().find(|p| p.id == pod).expect("our pod");
    assert_eq!(p.metadata.as_ref().unwrap().uid, uid);
    assert_eq!(
        p.labels.get("app.kubernetes.io/name").map(String::as_str),
        Some("rocketchat")
    );
    let c = snap
        .containers
        .iter()
        .find(|c| c.entry.id == created)
        .expect("our container");
    assert_eq!(c.k8s_label("pod.name"), Some(pod_name.as_str()));
    assert!(
        c.env.iter().any(|e| e == "DEPLOY_PLATFORM=helm-chart"),
        "{:?}",
        c.env
    );
    let d = c.as_discovered();
    assert_eq!(d.name, format!("rcdiag/{pod_name}/rocketchat"));
    assert!(d.is_rocketchat(), "{d:?}");
    assert_eq!(
        d.env_value("MONGO_URL"),
        Some("mongodb://rc:cri-s3cret-pw@mongodb.rcdiag.svc:27017/rocketchat")
    );
    assert!(c.status.as_ref().unwrap().image_ref.starts_with("sha256:"));
    // containerd itself wrote the CRI log file (timestamp stream tag content).
    assert!(log.contains(" stdout F hello from cri"), "{log:?}");
}
