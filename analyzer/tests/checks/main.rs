//! Tests of the policy, the node model and every check: each check is driven to each
//! outcome it can give from small synthetic nodes, plus one real bundle written with
//! `BundleWriter`, opened with `Bundle::open` and loaded with `NodeData::load`. One
//! test target, one module per area; the helpers that build nodes are here.

use rcdiag_analyzer::checks::{
    CHECKS, CheckId, CheckInput, CheckResult, Outcome, cluster_notes, run_all,
};
use rcdiag_analyzer::model::{ImageRef, NodeData};
use rcdiag_analyzer::policy::{MongoCompat, Policy, SupportStatus, Version};
use rcdiag_bundle::{
    AgentInfo, CollectorRecord, CollectorStatus, Manifest, NodeInfo, Signer, TrustStatus,
};
use serde_json::{Value, json};

mod bundle;
mod cluster;
mod containers;
mod deploy;
mod framework;
mod hardware;
mod host;
mod image;
mod kube_evidence;
mod kubernetes;
mod logs;
mod mongodb;
mod monitoring;
mod policy;
mod real_bundle;
mod scale;
mod twins;
mod version;

// ---------------------------------------------------------------------------
// Helpers

fn date(s: &str) -> jiff::civil::Date {
    s.parse().expect("test date")
}

fn collectors_ok() -> Vec<CollectorRecord> {
    ["host", "docker", "logs", "mongodb", "rocketchat"]
        .iter()
        .map(|n| CollectorRecord {
            name: n.to_string(),
            status: CollectorStatus::Ok,
            started_at: "2026-11-26T05:00:00Z".into(),
            duration_ms: 500,
            error: None,
            files: Vec::new(),
        })
        .collect()
}

fn manifest(host: &str) -> Manifest {
    Manifest {
        format: "rcdiag-bundle".into(),
        format_version: 1,
        bundle_id: format!("id-{host}"),
        created_at: "2026-11-26T05:00:00Z".into(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: "0.1.0".into(),
        },
        node: NodeInfo {
            hostname: host.into(),
            machine_id_hash: Some(format!("sha256:{host}")),
            labels: Default::default(),
        },
        collectors: collectors_ok(),
        files: Vec::new(),
        redaction: Default::default(),
        signer: Signer {
            algorithm: "sshsig-ed25519".into(),
            public_key: String::new(),
            fingerprint: format!("SHA256:{host}"),
        },
    }
}

/// The repository digest Docker records when it pulls the official image.
const OFFICIAL_DIGEST: &str = "registry.rocket.chat/rocketchat/rocket.chat@sha256:4f4b6c3a0d0e6b9d8f0a1c2e3b4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60";

fn rc_container(image: &str) -> Value {
    json!({
        "id": "c1", "name": "rocketchat-rocketchat-1", "image": image, "image_id": "sha256:rc",
        "labels": {"com.docker.compose.project": "rocketchat", "com.docker.compose.service": "rocketchat"},
        "image_labels": {"maintainer": "buildmaster@rocket.chat"},
        "repo_digests": [OFFICIAL_DIGEST],
        "env": ["DEPLOY_METHOD=docker", "MONGO_URL=mongodb://***REDACTED:uri-userinfo***@mongo:27017/rocketchat?replicaSet=rs0", "ROOT_URL=https://chat.example.com"],
        "cmd": ["node", "main.js"],
        "state": {"status": "running", "running": true, "restarting": false, "oom_killed": false, "exit_code": 0, "health": null},
        "restart_count": 0, "memory_limit_bytes": 0, "nano_cpus": 0,
        "mounts": [{"type": "volume", "source": "/var/lib/docker/volumes/uploads/_data", "destination": "/app/uploads", "read_only": false}]
    })
}

fn other_container(name: &str, image: &str) -> Value {
    json!({
        "id": name, "name": name, "image": image, "image_id": format!("sha256:{name}"),
        "labels": {"com.docker.compose.project": "rocketchat"}, "image_labels": {},
        "env": [], "state": {"status": "running", "running": true, "restarting": false, "oom_killed": false, "health": null},
        "restart_count": 0,
        "mounts": []
    })
}

/// A healthy single node: Rocket.Chat 8.5.1 (official image, compose), MongoDB 8.0
/// replica set, Prometheus and Grafana, 20 concurrent users.
fn healthy(label: &str, host: &str) -> NodeData {
    let mut n = NodeData::new(label, manifest(host));
    n.trust = TrustStatus::Trusted {
        principals: vec![host.into()],
    };
    n.set_json("host/host.json", json!({
        "collected_at": "2026-11-26T05:00:00Z", "hostname": host,
        "cpu": {"logical_cores": 8, "physical_cores": 4},
        "memory": {"total_bytes": 16u64 << 30, "available_bytes": 8u64 << 30},
        "disks": [
            {"mount_point": "/", "device": "/dev/vda1", "fs_type": "ext4", "total_bytes": 100_000_000_000u64, "available_bytes": 60_000_000_000u64},
            {"mount_point": "/boot", "device": "/dev/vda2", "fs_type": "ext4", "total_bytes": 1_000_000_000u64, "available_bytes": 10_000_000u64}
        ],
        "clock": {"wall_clock": "2026-11-26T05:00:00.100Z", "source": "chrony", "synchronized": true, "offset_seconds": 0.001},
        "in_container": false, "host_proc_visible": true,
        "processes": []
    }));
    n.set_json(
        "docker/info.json",
        json!({"DockerRootDir": "/var/lib/docker", "NCPU": 8, "MemTotal": 16u64 << 30}),
    );
    n.set_json(
        "docker/containers.json",
        json!([
            rc_container("registry.rocket.chat/rocketchat/rocket.chat:8.5.1"),
            other_container(
                "rocketchat-mongodb-1",
                "mongodb/mongodb-community-server:8.0-ubi8"
            ),
            other_container("rocketchat-prometheus-1", "prom/prometheus:v3.1.0"),
            other_container("rocketchat-grafana-1", "grafana/grafana:11.4.0"),
        ]),
    );
    n.set_json("docker/images.json", json!([]));
    n.set_json("mongodb/summary.json", json!({
        "server": "mongodb:27017", "version": "8.0.4", "storage_engine": "wiredTiger",
        "replica_set": {"state": "replica-set", "set_name": "rs0", "primary": "mongodb:27017",
                        "members": [{"name": "mongodb:27017", "state": "PRIMARY", "health": 1, "lag_seconds": 0}], "error": null},
        "too_old": null, "database": "rocketchat"
    }));
    n.set_json("rocketchat/summary.json", json!({
        "version": {"value": "8.5.1", "sources": {"statistics": "8.5.1", "image_tag": "8.5.1", "startup_log": "8.5.1", "api_info": null}},
        "unique_id": "ws-1",
        "users": {"total": 30, "active_humans": 25, "online": 10, "concurrent": 20, "concurrent_source": "statistics.totalConnectedUsers"},
        "instances": {"live": 1, "total": 1, "window_seconds": 120, "list": []},
        "deploy": {"method": "docker", "platform": "compose"},
        "prometheus": {"enabled": true, "port": 9458},
        "endpoints": []
    }));
    n.set_json(
        "rocketchat/settings.json",
        json!({"Prometheus_Enabled": true}),
    );
    n.set_json("rocketchat/statistics.json", json!({
        "version": "8.5.1", "uniqueId": "ws-1", "activeUsers": 25, "totalConnectedUsers": 20,
        "deploy": {"method": "docker", "platform": "compose"}, "mongoVersion": "8.0.4", "mongoStorageEngine": "wiredTiger"
    }));
    n.log_files = vec!["logs/rocketchat-rocketchat-1.log".into()];
    n.startup_versions = vec![("logs/rocketchat-rocketchat-1.log".into(), "8.5.1".into())];
    n
}

fn run(nodes: &[NodeData]) -> Vec<CheckResult> {
    let policy = Policy::builtin();
    run_all(&CheckInput {
        nodes,
        policy: &policy,
        as_of: None,
        trust_given: true,
    })
}

fn run_as_of(nodes: &[NodeData], as_of: &str) -> Vec<CheckResult> {
    let policy = Policy::builtin();
    run_all(&CheckInput {
        nodes,
        policy: &policy,
        as_of: Some(date(as_of)),
        trust_given: true,
    })
}

fn get<'a>(results: &'a [CheckResult], id: &str) -> &'a CheckResult {
    results
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no result {id}"))
}

#[track_caller]
fn expect(nodes: &[NodeData], id: &str, outcome: Outcome, needle: &str) -> CheckResult {
    let results = run(nodes);
    let r = get(&results, id).clone();
    assert_eq!(
        r.outcome, outcome,
        "{id}: {} (evidence {:?})",
        r.message, r.evidence
    );
    assert!(
        r.message.contains(needle),
        "{id}: message {:?} lacks {needle:?}",
        r.message
    );
    r
}

fn skip_collector(n: &mut NodeData, name: &str, reason: &str) {
    for c in &mut n.manifest.collectors {
        if c.name == name {
            c.status = CollectorStatus::Skipped;
            c.error = Some(reason.into());
        }
    }
}

fn no_docker(n: &mut NodeData) {
    n.set_json("docker/containers.json", serde_json::Value::Null);
    n.set_json("docker/info.json", serde_json::Value::Null);
    n.set_json("docker/images.json", serde_json::Value::Null);
    skip_collector(
        n,
        "docker",
        "cannot reach the Docker socket /var/run/docker.sock: permission denied",
    );
}

/// `n` announcing Rocket.Chat `v` everywhere a version shows.
fn with_version(mut n: NodeData, v: &str) -> NodeData {
    n.edit_json("rocketchat/summary.json", |doc| {
        doc["version"] = json!({"value": v, "sources": {}});
    });
    n.edit_json("rocketchat/statistics.json", |doc| {
        doc["version"] = json!(v);
    });
    n.edit_json("docker/containers.json", |doc| {
        doc[0]["image"] = json!(format!("registry.rocket.chat/rocketchat/rocket.chat:{v}"));
    });
    n.startup_versions = vec![("logs/rocketchat-rocketchat-1.log".into(), v.into())];
    n
}

/// The digest containerd records for the official image it pulled.
const CRI_OFFICIAL_DIGEST: &str = "docker.io/rocketchat/rocket.chat@sha256:a357e5cdfde61791a79a3d97ad2d12c5bccfefe902ad2478f87ea4b4a2a58797";

/// A CRI container of pod `ns/pod` named `name`, as the agent's `cri` collector writes
/// it (the kubelet's labels, `image_ref` the image id), running image `image` (id
/// `sha256:<name>`), its environment collected and empty.
fn cri_container(ns: &str, pod: &str, name: &str, image: &str) -> rcdiag_contract::cri::Container {
    let labels = [
        ("io.kubernetes.pod.namespace", ns),
        ("io.kubernetes.pod.name", pod),
        ("io.kubernetes.container.name", name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    rcdiag_contract::cri::Container {
        id: Some(format!("{pod}-{name}")),
        name: Some(name.into()),
        pod_name: Some(pod.into()),
        pod_namespace: Some(ns.into()),
        image: Some(image.into()),
        image_ref: Some(format!("sha256:{name}")),
        state: Some("CONTAINER_RUNNING".into()),
        restart_count: Some(0),
        labels: Some(labels),
        env: Some(Vec::new()),
        ..Default::default()
    }
}

/// The image of [`cri_container`] `name` in `cri/images.json`: tagged `image`, with
/// repository digests `digests` (empty for an image built or imported on the node).
fn cri_image(name: &str, image: &str, digests: &[&str]) -> rcdiag_contract::cri::Image {
    rcdiag_contract::cri::Image {
        id: Some(format!("sha256:{name}")),
        repo_tags: vec![image.into()],
        repo_digests: digests.iter().map(|d| d.to_string()).collect(),
        ..Default::default()
    }
}

/// A node bundle of Kubernetes node `host` written by the DaemonSet's agent: host
/// facts (the healthy node's), no Docker Engine, the `cri` collector's files built from
/// the contract types (`images` `None`: no `cri/images.json`), no database view.
fn cri_node(
    host: &str,
    containers: Vec<rcdiag_contract::cri::Container>,
    images: Option<Vec<rcdiag_contract::cri::Image>>,
) -> NodeData {
    use rcdiag_contract::cri;
    let mut n = healthy(&format!("{host}.rcdiag"), host);
    no_docker(&mut n);
    for f in [
        "mongodb/summary.json",
        "rocketchat/summary.json",
        "rocketchat/settings.json",
        "rocketchat/statistics.json",
    ] {
        n.set_json(f, Value::Null);
    }
    n.log_files.clear();
    n.startup_versions.clear();
    n.manifest.collectors.push(CollectorRecord {
        name: "cri".into(),
        status: CollectorStatus::Ok,
        started_at: "2026-11-26T05:00:00Z".into(),
        duration_ms: 200,
        error: None,
        files: Vec::new(),
    });
    let runtime = cri::RuntimeFile {
        endpoint: Some("unix:///run/containerd/containerd.sock".into()),
        runtime_name: Some("containerd".into()),
        runtime_version: Some("1.6.20".into()),
        runtime_api_version: Some("v1".into()),
        ..Default::default()
    };
    n.set_json("cri/runtime.json", serde_json::to_value(runtime).unwrap());
    let containers = cri::ContainersFile {
        containers,
        ..Default::default()
    };
    n.set_json(
        "cri/containers.json",
        serde_json::to_value(containers).unwrap(),
    );
    if let Some(images) = images {
        let images = cri::ImagesFile {
            images,
            ..Default::default()
        };
        n.set_json("cri/images.json", serde_json::to_value(images).unwrap());
    }
    assert!(n.load_problems.is_empty(), "{:?}", n.load_problems);
    n
}
