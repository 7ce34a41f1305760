//! Pods made through the CRI API as the kubelet makes them (a host-network privileged
//! sandbox under a log folder, no CNI; a `rocketchat` container with the kubelet's
//! labels and restart-count annotation), for the tests against the containerd peer.
//! Shared by `agent/tests/cri.rs` and `tests/tests/cri_node.rs` (through `#[path]`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rcdiag_agent::clients::cri::{self, api};

/// Connects to the CRI runtime at `endpoint` (`unix://PATH` or a path), 20 s a call.
pub async fn connect(endpoint: &str) -> Result<cri::Runtime, cri::CriError> {
    let path = cri::find_endpoint(Some(endpoint), Path::new("/")).unwrap();
    cri::connect(&path, Duration::from_secs(20), cri::DEFAULT_MESSAGE_MAX).await
}

/// Runs pod sandbox `rcdiag/<name>` (uid `uid`, `labels`): host network, PID and IPC,
/// privileged, its log folder `<log_dir>/rcdiag_<name>_<uid>` (created here). Returns
/// the sandbox id and the config (its containers are created with it).
pub async fn run_sandbox(
    rt: &cri::Runtime,
    name: &str,
    uid: &str,
    log_dir: &Path,
    labels: HashMap<String, String>,
) -> (String, api::PodSandboxConfig) {
    let pod_dir = log_dir.join(format!("rcdiag_{name}_{uid}"));
    std::fs::create_dir_all(&pod_dir).unwrap();
    let pod_config = api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name.into(),
            uid: uid.into(),
            namespace: "rcdiag".into(),
            attempt: 0,
        }),
        log_directory: pod_dir.display().to_string(),
        labels,
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
    let mut r = rt.runtime.clone();
    let sandbox = rt
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
    (sandbox, pod_config)
}

/// The Rocket.Chat stand-in imported into containerd (`scripts/test-env`,
/// `RCDIAG_TEST_CRI_RC_IMAGE`): no repository digest, as a local image on a node.
pub fn imported_rc_image() -> String {
    std::env::var("RCDIAG_TEST_CRI_RC_IMAGE")
        .unwrap_or_else(|_| "docker.io/rocketchat/rocket.chat:8.5.0".into())
}

/// Creates and starts container `rocketchat` (restart `attempt`, log
/// `rocketchat/<attempt>.log`) in `sandbox`, running `sh -c script` with `envs` in the
/// Rocket.Chat stand-in image ([`imported_rc_image`]), with the labels and the restart
/// count annotation the kubelet sets. Returns the container id.
pub async fn start_container(
    rt: &cri::Runtime,
    sandbox: &str,
    pod_config: &api::PodSandboxConfig,
    attempt: u32,
    script: &str,
    envs: Vec<api::KeyValue>,
) -> String {
    start_container_of(
        rt,
        sandbox,
        pod_config,
        attempt,
        script,
        envs,
        imported_rc_image(),
    )
    .await
}

/// [`start_container`] in `image`.
pub async fn start_container_of(
    rt: &cri::Runtime,
    sandbox: &str,
    pod_config: &api::PodSandboxConfig,
    attempt: u32,
    script: &str,
    envs: Vec<api::KeyValue>,
    image: String,
) -> String {
    let md = pod_config.metadata.clone().unwrap();
    let mut r = rt.runtime.clone();
    // The labels and annotations the kubelet sets (kuberuntime/labels.go).
    let labels = HashMap::from([
        ("io.kubernetes.pod.name".to_string(), md.name),
        ("io.kubernetes.pod.namespace".into(), "rcdiag".into()),
        ("io.kubernetes.pod.uid".into(), md.uid),
        ("io.kubernetes.container.name".into(), "rocketchat".into()),
    ]);
    let container = rt
        .call(
            "CreateContainer",
            r.create_container(api::CreateContainerRequest {
                pod_sandbox_id: sandbox.to_string(),
                config: Some(api::ContainerConfig {
                    metadata: Some(api::ContainerMetadata {
                        name: "rocketchat".into(),
                        attempt,
                    }),
                    image: Some(api::ImageSpec {
                        image,
                        ..Default::default()
                    }),
                    command: vec!["/bin/sh".into(), "-c".into()],
                    args: vec![script.into()],
                    envs,
                    labels,
                    annotations: HashMap::from([(
                        "io.kubernetes.container.restartCount".into(),
                        attempt.to_string(),
                    )]),
                    log_path: format!("rocketchat/{attempt}.log"),
                    ..Default::default()
                }),
                sandbox_config: Some(pod_config.clone()),
            }),
        )
        .await
        .unwrap()
        .container_id;
    rt.call(
        "StartContainer",
        r.start_container(api::StartContainerRequest {
            container_id: container.clone(),
        }),
    )
    .await
    .unwrap();
    container
}

/// An env entry of a container config.
pub fn env(key: &str, value: &str) -> api::KeyValue {
    api::KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

/// Stops and removes `sandbox` (and so its containers); errors are ignored (clean-up).
pub async fn remove_sandbox(rt: &cri::Runtime, sandbox: String) {
    let mut r = rt.runtime.clone();
    let _ = rt
        .call(
            "StopPodSandbox",
            r.stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: sandbox.clone(),
            }),
        )
        .await;
    let _ = rt
        .call(
            "RemovePodSandbox",
            r.remove_pod_sandbox(api::RemovePodSandboxRequest {
                pod_sandbox_id: sandbox,
            }),
        )
        .await;
}
