//! Tests of the policy, the node model and every check: each check is driven to each
//! outcome it can give from small synthetic nodes, plus one real bundle written with
//! `BundleWriter`, opened with `Bundle::open` and loaded with `NodeData::load`.

use rcdiag_analyzer::checks::{
    CHECKS, CheckId, CheckInput, CheckResult, Outcome, cluster_notes, run_all,
};
use rcdiag_analyzer::model::{ImageRef, NodeData};
use rcdiag_analyzer::policy::{MongoCompat, Policy, SupportStatus, Version};
use rcdiag_bundle::{
    AgentInfo, CollectorRecord, CollectorStatus, Manifest, NodeInfo, Signer, TrustStatus,
};
use serde_json::{Value, json};

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

fn rc_container(image: &str) -> Value {
    json!({
        "id": "c1", "name": "rocketchat-rocketchat-1", "image": image, "image_id": "sha256:rc",
        "labels": {"com.docker.compose.project": "rocketchat", "com.docker.compose.service": "rocketchat"},
        "image_labels": {"maintainer": "buildmaster@rocket.chat"},
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
    n.host = Some(json!({
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
    n.docker_info =
        Some(json!({"DockerRootDir": "/var/lib/docker", "NCPU": 8, "MemTotal": 16u64 << 30}));
    n.docker_containers = Some(json!([
        rc_container("registry.rocket.chat/rocketchat/rocket.chat:8.5.1"),
        other_container(
            "rocketchat-mongodb-1",
            "mongodb/mongodb-community-server:8.0-ubi8"
        ),
        other_container("rocketchat-prometheus-1", "prom/prometheus:v3.1.0"),
        other_container("rocketchat-grafana-1", "grafana/grafana:11.4.0"),
    ]));
    n.docker_images = Some(json!([]));
    n.mongodb_summary = Some(json!({
        "server": "mongodb:27017", "version": "8.0.4", "storage_engine": "wiredTiger",
        "replica_set": {"state": "replica-set", "set_name": "rs0", "primary": "mongodb:27017",
                        "members": [{"name": "mongodb:27017", "state": "PRIMARY", "health": 1, "lag_seconds": 0}], "error": null},
        "too_old": null, "database": "rocketchat"
    }));
    n.rocketchat = Some(json!({
        "version": {"value": "8.5.1", "sources": {"statistics": "8.5.1", "image_tag": "8.5.1", "startup_log": "8.5.1", "api_info": null}},
        "unique_id": "ws-1",
        "users": {"total": 30, "active_humans": 25, "online": 10, "concurrent": 20, "concurrent_source": "statistics.totalConnectedUsers"},
        "instances": {"live": 1, "total": 1, "window_seconds": 120, "list": []},
        "deploy": {"method": "docker", "platform": "compose"},
        "prometheus": {"enabled": true, "port": 9458},
        "endpoints": []
    }));
    n.rc_settings = Some(json!({"Prometheus_Enabled": true}));
    n.rc_statistics = Some(json!({
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

fn containers_mut(n: &mut NodeData) -> &mut Vec<Value> {
    n.docker_containers
        .as_mut()
        .and_then(Value::as_array_mut)
        .expect("containers array")
}

fn rc_mut(n: &mut NodeData) -> &mut Value {
    &mut containers_mut(n)[0]
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
    n.docker_containers = None;
    n.docker_info = None;
    n.docker_images = None;
    skip_collector(
        n,
        "docker",
        "cannot reach the Docker socket /var/run/docker.sock: permission denied",
    );
}

// ---------------------------------------------------------------------------
// Baseline and framework

#[test]
fn healthy_node_passes_every_check() {
    let results = run(&[healthy("a.rcdiag", "node1")]);
    assert_eq!(results.len(), CHECKS.len());
    for (r, info) in results.iter().zip(CHECKS) {
        assert_eq!(r.id, info.id, "results come in CHECKS order");
        assert_eq!(r.outcome, Outcome::Pass, "{}: {}", r.id, r.message);
        assert!(
            r.remediation.starts_with("https://"),
            "{} has a remediation link",
            r.id
        );
        assert!(!r.message.is_empty());
    }
}

#[test]
fn evidence_names_bundle_node_and_file() {
    let results = run(&[healthy("a.rcdiag", "node1")]);
    let r = get(&results, "image.official");
    let e = &r.evidence[0];
    assert_eq!(e.bundle, "a.rcdiag");
    assert_eq!(e.node, "node1");
    assert_eq!(e.file.as_deref(), Some("docker/containers.json"));
    assert_eq!(e.pointer.as_deref(), Some("/0/image"));
}

#[test]
fn no_bundles_give_unknown_never_pass() {
    let results = run(&[]);
    assert_eq!(results.len(), CHECKS.len());
    for r in &results {
        assert_eq!(r.outcome, Outcome::Unknown, "{}: {}", r.id, r.message);
    }
}

#[test]
fn empty_node_gives_unknown_never_pass() {
    let mut n = NodeData::new("empty.rcdiag", manifest("node1"));
    n.manifest.collectors.clear();
    for r in run(&[n]) {
        assert_ne!(r.outcome, Outcome::Pass, "{}: {}", r.id, r.message);
    }
}

#[test]
fn wrong_types_do_not_crash_or_pass() {
    let mut n = NodeData::new("bad.rcdiag", manifest("node1"));
    n.host = Some(json!("not an object"));
    n.docker_containers = Some(json!({"not": "an array"}));
    n.docker_info = Some(json!([1, 2, 3]));
    n.docker_images = Some(json!(42));
    n.mongodb_summary =
        Some(json!({"version": 8, "replica_set": "yes", "storage_engine": ["wiredTiger"]}));
    n.mongodb
        .insert("buildInfo".into(), json!({"reply": {"version": {"x": 1}}}));
    n.rocketchat = Some(
        json!({"version": {"value": 851}, "users": {"concurrent": "many"}, "instances": {"live": -1}, "endpoints": "none"}),
    );
    n.rc_settings = Some(json!(null));
    n.rc_statistics = Some(json!({"deploy": "docker", "version": ["8.5.1"]}));
    let results = run(&[n]);
    for id in [
        "image.official",
        "deploy.method",
        "hardware.cpu",
        "version.supported",
        "mongodb.version",
        "mongodb.storage-engine",
        "host.disk-free",
        "containers.restarting",
    ] {
        assert_eq!(
            get(&results, id).outcome,
            Outcome::Unknown,
            "{id}: {}",
            get(&results, id).message
        );
    }
    // Containers with wrong inner types.
    let mut n = healthy("a.rcdiag", "node1");
    containers_mut(&mut n).push(json!({"name": 5, "image": null, "env": "X=1", "labels": [], "state": 7, "restart_count": "many"}));
    containers_mut(&mut n).push(json!("just a string"));
    let results = run(&[n]);
    assert_eq!(get(&results, "image.official").outcome, Outcome::Pass);
}

// ---------------------------------------------------------------------------
// image.official

#[test]
fn image_official_pass() {
    expect(
        &[healthy("a", "n1")],
        "image.official",
        Outcome::Pass,
        "official image registry.rocket.chat/rocketchat/rocket.chat",
    );
}

#[test]
fn image_official_pass_docker_official_image_without_labels() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image"] = json!("rocket.chat:8.5.1");
    rc_mut(&mut n)["image_labels"] = json!({});
    rc_mut(&mut n)["env"] = json!(["DEPLOY_METHOD=docker-official", "MONGO_URL=x", "ROOT_URL=y"]);
    expect(
        &[n],
        "image.official",
        Outcome::Pass,
        "docker.io/library/rocket.chat",
    );
}

#[test]
fn image_official_fail_custom_repository() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image"] = json!("acme/rocketchat-custom:8.5.1");
    let r = expect(&[n], "image.official", Outcome::Fail, "custom build");
    assert_eq!(
        r.evidence[0].value.as_deref(),
        Some("acme/rocketchat-custom:8.5.1")
    );
}

#[test]
fn image_official_fail_official_name_without_labels() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image_labels"] =
        json!({"org.opencontainers.image.source": "https://github.com/acme/fork"});
    expect(
        &[n],
        "image.official",
        Outcome::Fail,
        "without the maintainer or OCI source label",
    );
}

#[test]
fn image_official_pass_with_oci_source_label_only() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image_labels"] =
        json!({"org.opencontainers.image.source": "https://github.com/RocketChat/Rocket.Chat"});
    expect(&[n], "image.official", Outcome::Pass, "official image");
}

#[test]
fn image_official_fail_deploy_method_tar() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["env"] = json!(["DEPLOY_METHOD=tar", "MONGO_URL=x"]);
    expect(&[n], "image.official", Outcome::Fail, "DEPLOY_METHOD=tar");
}

#[test]
fn image_official_fail_host_process() {
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["processes"] = json!([{"pid": 4242, "kind": "rocketchat", "name": "node", "cmdline": "node main.js", "env_names": ["ROOT_URL", "MONGO_URL"], "in_container": false, "container_id": null}]);
    let r = expect(
        &[n],
        "image.official",
        Outcome::Fail,
        "outside any container",
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.pointer.as_deref() == Some("/processes/0/in_container"))
    );
}

#[test]
fn image_official_unknown_without_docker() {
    let mut n = healthy("a.rcdiag", "n1");
    no_docker(&mut n);
    let r = expect(
        &[n],
        "image.official",
        Outcome::Unknown,
        "docker collector was skipped",
    );
    assert!(
        r.message.contains("permission denied") && r.message.contains("Docker socket"),
        "{}",
        r.message
    );
}

#[test]
fn image_official_unknown_when_labels_not_collected() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)
        .as_object_mut()
        .unwrap()
        .remove("image_labels");
    expect(
        &[n],
        "image.official",
        Outcome::Unknown,
        "image labels were not collected",
    );
}

#[test]
fn image_official_labels_from_images_json() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)
        .as_object_mut()
        .unwrap()
        .remove("image_labels");
    n.docker_images = Some(
        json!([{"id": "sha256:rc", "repo_tags": ["registry.rocket.chat/rocketchat/rocket.chat:8.5.1"], "labels": {"maintainer": "buildmaster@rocket.chat"}}]),
    );
    expect(&[n], "image.official", Outcome::Pass, "official image");
}

// ---------------------------------------------------------------------------
// deploy.method

#[test]
fn deploy_method_pass() {
    expect(
        &[healthy("a", "n1")],
        "deploy.method",
        Outcome::Pass,
        "deploy method is docker",
    );
}

#[test]
fn deploy_method_fail_tar() {
    let mut n = healthy("a", "n1");
    n.rc_statistics.as_mut().unwrap()["deploy"]["method"] = json!("tar");
    let r = expect(&[n], "deploy.method", Outcome::Fail, "manual install");
    assert_eq!(r.evidence[0].pointer.as_deref(), Some("/deploy/method"));
}

#[test]
fn deploy_method_warn_unrecognized() {
    let mut n = healthy("a", "n1");
    n.rc_statistics.as_mut().unwrap()["deploy"]["method"] = json!("snap");
    expect(&[n], "deploy.method", Outcome::Warn, "\"snap\"");
}

#[test]
fn deploy_method_falls_back_to_container_env() {
    let mut n = healthy("a", "n1");
    n.rc_statistics = None;
    n.rocketchat = None;
    let r = expect(&[n.clone()], "deploy.method", Outcome::Pass, "docker");
    assert_eq!(
        r.evidence[0].file.as_deref(),
        Some("docker/containers.json")
    );
    rc_mut(&mut n)["env"] = json!(["MONGO_URL=x", "ROOT_URL=y"]);
    expect(&[n], "deploy.method", Outcome::Fail, "tar");
}

#[test]
fn deploy_method_unknown() {
    let mut n = healthy("a", "n1");
    n.rc_statistics = None;
    n.rocketchat = None;
    no_docker(&mut n);
    skip_collector(&mut n, "rocketchat", "no MongoDB URI");
    expect(
        &[n],
        "deploy.method",
        Outcome::Unknown,
        "rocketchat collector was skipped",
    );
}

// ---------------------------------------------------------------------------
// scale.orchestrated

#[test]
fn scale_pass_not_scaled() {
    expect(
        &[healthy("a", "n1")],
        "scale.orchestrated",
        Outcome::Pass,
        "not a scaled installation",
    );
}

#[test]
fn scale_pass_scaled_with_compose() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["instances"]["live"] = json!(3);
    expect(&[n], "scale.orchestrated", Outcome::Pass, "is orchestrated");
}

#[test]
fn scale_fail_scaled_plain_docker() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["instances"]["live"] = json!(2);
    rc_mut(&mut n)["labels"] = json!({});
    expect(&[n], "scale.orchestrated", Outcome::Fail, "plain container");
}

#[test]
fn scale_fail_scaled_by_users_swarm() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["users"]["active_humans"] = json!(2500);
    rc_mut(&mut n)["labels"] = json!({"com.docker.swarm.service.name": "rc_rocketchat", "com.docker.stack.namespace": "rc"});
    expect(&[n], "scale.orchestrated", Outcome::Fail, "Docker Swarm");
}

#[test]
fn scale_warn_kubernetes_without_helm() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["instances"]["live"] = json!(3);
    n.rocketchat.as_mut().unwrap()["deploy"]["platform"] = json!("selfinstall");
    rc_mut(&mut n)["labels"] =
        json!({"io.kubernetes.pod.name": "rc-0", "io.kubernetes.pod.namespace": "chat"});
    expect(&[n], "scale.orchestrated", Outcome::Warn, "Helm");
}

#[test]
fn scale_pass_helm_by_env() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["instances"]["live"] = json!(3);
    rc_mut(&mut n)["labels"] = json!({"io.kubernetes.pod.name": "rc-0"});
    rc_mut(&mut n)["env"] = json!(["DEPLOY_METHOD=docker", "DEPLOY_PLATFORM=helm-chart"]);
    expect(
        &[n],
        "scale.orchestrated",
        Outcome::Pass,
        "Kubernetes with Helm",
    );
}

#[test]
fn scale_counts_containers_across_bundles() {
    let mut a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    for n in [&mut a, &mut b] {
        n.rocketchat = None;
        n.rc_statistics
            .as_mut()
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("activeUsers");
    }
    let r = expect(
        &[a.clone(), b.clone()],
        "scale.orchestrated",
        Outcome::Pass,
        "2 instance(s)",
    );
    assert!(r.message.contains("is orchestrated"), "{}", r.message);
    // The same node twice is counted once.
    let mut dup = a.clone();
    dup.label = "a-again".into();
    let _ = b;
    let r = run(&[a, dup]);
    let r = get(&r, "scale.orchestrated");
    assert!(!r.message.contains("2 instance(s)"), "{}", r.message);
}

#[test]
fn scale_unknown() {
    let mut n = healthy("a", "n1");
    n.rocketchat = None;
    n.rc_statistics = None;
    no_docker(&mut n);
    expect(
        &[n],
        "scale.orchestrated",
        Outcome::Unknown,
        "cannot tell whether the installation is scaled",
    );
}

// ---------------------------------------------------------------------------
// hardware.*

#[test]
fn hardware_pass() {
    let results = run(&[healthy("a", "n1")]);
    for id in ["hardware.cpu", "hardware.memory", "hardware.disk"] {
        let r = get(&results, id);
        assert_eq!(r.outcome, Outcome::Pass, "{id}: {}", r.message);
        assert!(
            r.message.contains("tier Starter for 20 concurrent users"),
            "{}",
            r.message
        );
    }
}

#[test]
fn hardware_cpu_fail_colocated_sum() {
    // Starter: Rocket.Chat 1 vCPU + MongoDB 2 vCPU on the same node.
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["cpu"]["logical_cores"] = json!(2);
    expect(&[n], "hardware.cpu", Outcome::Fail, "has 2 vCPU, needs 3");
}

#[test]
fn hardware_cpu_fail_container_limit() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["users"]["concurrent"] = json!(300);
    rc_mut(&mut n)["nano_cpus"] = json!(1_000_000_000u64);
    containers_mut(&mut n).remove(1); // no MongoDB here
    expect(&[n], "hardware.cpu", Outcome::Fail, "limited to 1 vCPU");
}

#[test]
fn hardware_cpu_unknown_and_fallback() {
    let mut n = healthy("a", "n1");
    n.host = None;
    skip_collector(&mut n, "host", "deselected");
    let r = expect(&[n.clone()], "hardware.cpu", Outcome::Pass, "8 vCPU");
    assert!(
        r.evidence
            .iter()
            .any(|e| e.file.as_deref() == Some("docker/info.json"))
    );
    n.docker_info = None;
    expect(
        &[n],
        "hardware.cpu",
        Outcome::Unknown,
        "host collector was skipped",
    );
}

#[test]
fn hardware_memory_fail_and_unknown() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["users"]["concurrent"] = json!(400); // Pro: 4 + 4 GiB
    n.mongodb_summary.as_mut().unwrap()["replica_set"]["members"] = json!([]);
    n.host.as_mut().unwrap()["memory"]["total_bytes"] = json!(6u64 << 30);
    expect(
        &[n.clone()],
        "hardware.memory",
        Outcome::Fail,
        "needs 8 GiB",
    );
    n.host.as_mut().unwrap()["memory"] = json!(null);
    n.docker_info = None;
    expect(&[n], "hardware.memory", Outcome::Unknown, "host/host.json");
}

#[test]
fn hardware_memory_tolerates_kernel_reserve() {
    // 3.8 GiB reported for a nominal 4 GiB Rocket.Chat-only node.
    let mut n = healthy("a", "n1");
    containers_mut(&mut n).remove(1);
    n.rocketchat.as_mut().unwrap()["users"]["concurrent"] = json!(100);
    n.host.as_mut().unwrap()["memory"]["total_bytes"] = json!((3.8 * (1u64 << 30) as f64) as u64);
    expect(&[n], "hardware.memory", Outcome::Pass, "3.8 GiB");
}

#[test]
fn hardware_disk_fail_and_unknown() {
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["disks"][0]["total_bytes"] = json!(30_000_000_000u64);
    n.host.as_mut().unwrap()["disks"][0]["available_bytes"] = json!(20_000_000_000u64);
    expect(&[n.clone()], "hardware.disk", Outcome::Fail, "needs 50 GB");
    n.host
        .as_mut()
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("disks");
    expect(&[n], "hardware.disk", Outcome::Unknown, "host/host.json");
}

#[test]
fn hardware_disk_counts_separate_data_mount() {
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["disks"] = json!([
        {"mount_point": "/", "total_bytes": 10_000_000_000u64, "available_bytes": 5_000_000_000u64},
        {"mount_point": "/var/lib/docker", "total_bytes": 80_000_000_000u64, "available_bytes": 50_000_000_000u64}
    ]);
    let r = expect(&[n], "hardware.disk", Outcome::Pass, "/var/lib/docker");
    assert!(!r.message.contains("data mount(s) /,"), "{}", r.message);
}

#[test]
fn hardware_unknown_without_users() {
    let mut n = healthy("a", "n1");
    n.rocketchat = None;
    n.rc_statistics = None;
    skip_collector(&mut n, "rocketchat", "no MongoDB URI");
    let results = run(&[n]);
    for id in ["hardware.cpu", "hardware.memory", "hardware.disk"] {
        let r = get(&results, id);
        assert_eq!(r.outcome, Outcome::Unknown, "{id}");
        assert!(r.message.contains("user count"), "{}", r.message);
    }
}

#[test]
fn hardware_uses_active_users_when_concurrent_missing() {
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["users"]
        .as_object_mut()
        .unwrap()
        .remove("concurrent");
    n.rc_statistics
        .as_mut()
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("totalConnectedUsers");
    expect(&[n], "hardware.cpu", Outcome::Pass, "25 active users");
}

// ---------------------------------------------------------------------------
// monitoring.*

#[test]
fn monitoring_prometheus_pass() {
    expect(
        &[healthy("a", "n1")],
        "monitoring.prometheus",
        Outcome::Pass,
        "scraper was found",
    );
}

#[test]
fn monitoring_prometheus_warn_disabled() {
    let mut n = healthy("a", "n1");
    n.rc_settings = Some(json!({"Prometheus_Enabled": false}));
    expect(&[n], "monitoring.prometheus", Outcome::Warn, "disabled");
}

#[test]
fn monitoring_prometheus_env_overrides_setting() {
    let mut n = healthy("a", "n1");
    n.rc_settings = Some(json!({"Prometheus_Enabled": false}));
    rc_mut(&mut n)["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("OVERWRITE_SETTING_Prometheus_Enabled=true"));
    expect(&[n], "monitoring.prometheus", Outcome::Pass, "enabled");
}

#[test]
fn monitoring_prometheus_warn_no_scraper() {
    let mut n = healthy("a", "n1");
    containers_mut(&mut n).remove(2);
    expect(
        &[n.clone()],
        "monitoring.prometheus",
        Outcome::Warn,
        "nothing on these nodes scrapes it",
    );
    // compose scrape labels count as a scraper.
    rc_mut(&mut n)["labels"]["prometheus.io/scrape"] = json!("true");
    expect(&[n], "monitoring.prometheus", Outcome::Pass, "scraper");
}

#[test]
fn monitoring_prometheus_unknown() {
    let mut n = healthy("a", "n1");
    n.rc_settings = None;
    n.rocketchat = None;
    skip_collector(&mut n, "rocketchat", "no MongoDB URI");
    expect(
        &[n],
        "monitoring.prometheus",
        Outcome::Unknown,
        "exporter is enabled is unknown",
    );
}

#[test]
fn monitoring_grafana_pass_warn_unknown() {
    expect(
        &[healthy("a", "n1")],
        "monitoring.grafana",
        Outcome::Pass,
        "Grafana",
    );
    let mut n = healthy("a", "n1");
    containers_mut(&mut n).remove(3);
    expect(
        &[n.clone()],
        "monitoring.grafana",
        Outcome::Warn,
        "no Grafana container",
    );
    no_docker(&mut n);
    expect(
        &[n],
        "monitoring.grafana",
        Outcome::Unknown,
        "docker collector was skipped",
    );
}

#[test]
fn monitoring_grafana_on_another_node() {
    let a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    containers_mut(&mut b).remove(3);
    let mut a2 = a.clone();
    containers_mut(&mut a2).remove(3);
    expect(&[a, b], "monitoring.grafana", Outcome::Pass, "Grafana");
    let _ = a2;
}

// ---------------------------------------------------------------------------
// version.*

fn with_version(mut n: NodeData, v: &str) -> NodeData {
    n.rocketchat.as_mut().unwrap()["version"] = json!({"value": v, "sources": {}});
    n.rc_statistics.as_mut().unwrap()["version"] = json!(v);
    rc_mut(&mut n)["image"] = json!(format!("registry.rocket.chat/rocketchat/rocket.chat:{v}"));
    n.startup_versions = vec![("logs/rocketchat-rocketchat-1.log".into(), v.into())];
    n
}

#[test]
fn version_supported_pass() {
    expect(
        &[healthy("a", "n1")],
        "version.supported",
        Outcome::Pass,
        "8.5 LTS) is supported until 2027-06-30 (as of 2026-11-26)",
    );
}

#[test]
fn version_supported_fail_eol() {
    let n = with_version(healthy("a", "n1"), "8.0.3");
    expect(
        &[n],
        "version.supported",
        Outcome::Fail,
        "reached end of life on 2026-06-30",
    );
}

#[test]
fn version_supported_uses_bundle_date_by_default() {
    let mut n = with_version(healthy("a", "n1"), "8.0.3");
    n.manifest.created_at = "2026-04-01T10:00:00Z".into();
    expect(
        &[n.clone()],
        "version.supported",
        Outcome::Pass,
        "as of 2026-04-01",
    );
    // --as-of overrides it.
    let results = run_as_of(&[n], "2026-07-01");
    assert_eq!(get(&results, "version.supported").outcome, Outcome::Fail);
}

#[test]
fn version_supported_warn_near_eol() {
    let n = with_version(healthy("a", "n1"), "7.10.4");
    let results = run_as_of(&[n], "2026-09-15");
    let r = get(&results, "version.supported");
    assert_eq!(r.outcome, Outcome::Warn, "{}", r.message);
    assert!(
        r.message.contains("2026-09-30") && r.message.contains("15 day(s)"),
        "{}",
        r.message
    );
}

#[test]
fn version_supported_warn_prerelease() {
    let n = with_version(healthy("a", "n1"), "8.6.0-rc.2");
    expect(&[n], "version.supported", Outcome::Warn, "pre-release");
}

#[test]
fn version_supported_unknown_newer_than_policy() {
    let n = with_version(healthy("a", "n1"), "8.9.0");
    expect(
        &[n],
        "version.supported",
        Outcome::Unknown,
        "the policy is older than this release",
    );
}

#[test]
fn version_supported_unknown_missing() {
    let mut n = healthy("a", "n1");
    n.rocketchat = None;
    n.rc_statistics = None;
    n.startup_versions.clear();
    rc_mut(&mut n)["image"] = json!("registry.rocket.chat/rocketchat/rocket.chat:latest");
    expect(
        &[n],
        "version.supported",
        Outcome::Unknown,
        "version is unknown",
    );
}

#[test]
fn version_consistent_pass_fail_unknown() {
    expect(
        &[healthy("a", "n1"), healthy("b", "n2")],
        "version.consistent",
        Outcome::Pass,
        "report Rocket.Chat 8.5.1",
    );
    let b = with_version(healthy("b", "n2"), "8.4.0");
    let r = expect(
        &[healthy("a", "n1"), b],
        "version.consistent",
        Outcome::Fail,
        "different Rocket.Chat versions",
    );
    assert!(
        r.message.contains("8.4.0") && r.message.contains("8.5.1"),
        "{}",
        r.message
    );
    let mut n = healthy("a", "n1");
    n.rocketchat = None;
    n.rc_statistics = None;
    n.startup_versions.clear();
    no_docker(&mut n);
    expect(
        &[n],
        "version.consistent",
        Outcome::Unknown,
        "no Rocket.Chat version found",
    );
}

#[test]
fn version_consistent_partial_tag_and_old_startup_box() {
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["image"] = json!("rocket.chat:8.5");
    rc_mut(&mut n)["image_labels"] = json!({});
    // An older startup box earlier in the same log (before an upgrade) is ignored.
    n.startup_versions = vec![
        ("logs/rocketchat-rocketchat-1.log".into(), "8.4.2".into()),
        ("logs/rocketchat-rocketchat-1.log".into(), "8.5.1".into()),
    ];
    expect(&[n], "version.consistent", Outcome::Pass, "8.5.1");
}

// ---------------------------------------------------------------------------
// mongodb.*

fn with_mongo(mut n: NodeData, v: &str) -> NodeData {
    n.mongodb_summary.as_mut().unwrap()["version"] = json!(v);
    n
}

#[test]
fn mongodb_version_pass() {
    expect(
        &[healthy("a", "n1")],
        "mongodb.version",
        Outcome::Pass,
        "MongoDB 8.0.4 is supported by Rocket.Chat 8.5.1",
    );
}

#[test]
fn mongodb_version_warn_deprecated() {
    let n = with_mongo(with_version(healthy("a", "n1"), "7.4.1"), "5.0.24");
    expect(&[n], "mongodb.version", Outcome::Warn, "deprecated");
}

#[test]
fn mongodb_version_warn_disputed() {
    let n = with_mongo(with_version(healthy("a", "n1"), "8.1.2"), "8.0.4");
    expect(&[n], "mongodb.version", Outcome::Warn, "disagree");
}

#[test]
fn mongodb_version_fail_unsupported() {
    let n = with_mongo(healthy("a", "n1"), "6.0.13");
    expect(
        &[n],
        "mongodb.version",
        Outcome::Fail,
        "not supported by Rocket.Chat 8.5.1",
    );
}

#[test]
fn mongodb_version_fail_too_old() {
    let mut n = healthy("a", "n1");
    n.mongodb_summary = Some(
        json!({"version": null, "too_old": {"message": "Server reports wire version 8, but this driver requires at least 9 (MongoDB 4.4)", "version": null}}),
    );
    n.rc_statistics
        .as_mut()
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("mongoVersion");
    expect(&[n], "mongodb.version", Outcome::Fail, "older than 4.4");
}

#[test]
fn mongodb_version_unknown_and_fallbacks() {
    let mut n = healthy("a", "n1");
    n.mongodb_summary = None;
    // statistics.mongoVersion is a fallback.
    expect(&[n.clone()], "mongodb.version", Outcome::Pass, "8.0.4");
    n.rc_statistics = None;
    skip_collector(&mut n, "mongodb", "no MongoDB URI");
    expect(
        &[n],
        "mongodb.version",
        Outcome::Unknown,
        "mongodb collector was skipped",
    );
}

#[test]
fn mongodb_replica_set_pass() {
    expect(
        &[healthy("a", "n1")],
        "mongodb.replica-set",
        Outcome::Pass,
        "replica set rs0 has a primary",
    );
}

#[test]
fn mongodb_replica_set_fail_standalone() {
    let mut n = healthy("a", "n1");
    n.mongodb_summary.as_mut().unwrap()["replica_set"] =
        json!({"state": "standalone", "error": "not a replica set"});
    expect(&[n], "mongodb.replica-set", Outcome::Fail, "standalone");
}

#[test]
fn mongodb_replica_set_fail_no_primary_or_unhealthy() {
    let mut n = healthy("a", "n1");
    n.mongodb_summary.as_mut().unwrap()["replica_set"]["primary"] = json!(null);
    n.mongodb_summary.as_mut().unwrap()["replica_set"]["members"] =
        json!([{"name": "m1:27017", "state": "SECONDARY", "health": 1}]);
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Fail,
        "no primary",
    );
    n.mongodb_summary.as_mut().unwrap()["replica_set"]["primary"] = json!("m1:27017");
    n.mongodb_summary.as_mut().unwrap()["replica_set"]["members"] = json!([{"name": "m1:27017", "state": "PRIMARY", "health": 1}, {"name": "m2:27017", "state": "(not reachable/healthy)", "health": 0}]);
    expect(
        &[n],
        "mongodb.replica-set",
        Outcome::Fail,
        "member m2:27017",
    );
}

#[test]
fn mongodb_replica_set_warn_lag_and_size() {
    let mut n = healthy("a", "n1");
    n.mongodb_summary.as_mut().unwrap()["replica_set"]["members"] = json!([{"name": "m1", "state": "PRIMARY", "health": 1, "lag_seconds": 0}, {"name": "m2", "state": "SECONDARY", "health": 1, "lag_seconds": 300}]);
    expect(&[n], "mongodb.replica-set", Outcome::Warn, "lags 300 s");
    let mut n = healthy("a", "n1");
    n.rocketchat.as_mut().unwrap()["users"]["concurrent"] = json!(100);
    expect(&[n], "mongodb.replica-set", Outcome::Warn, "recommends 3");
}

#[test]
fn mongodb_replica_set_from_raw_reply_and_unknown() {
    let mut n = healthy("a", "n1");
    n.mongodb_summary = None;
    n.mongodb.insert("replSetGetStatus".into(), json!({"ok": false, "error": {"code": 76, "code_name": "NoReplicationEnabled", "message": "not running with --replSet"}}));
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Fail,
        "NoReplicationEnabled",
    );
    n.mongodb.clear();
    n.rc_statistics.as_mut().unwrap()["oplogEnabled"] = json!(true);
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Unknown,
        "member health was not collected",
    );
    n.rc_statistics = None;
    n.startup_oplog = vec![("logs/rc.log".into(), "Disabled".into())];
    expect(
        &[n.clone()],
        "mongodb.replica-set",
        Outcome::Fail,
        "ReplicaSet OpLog: Disabled",
    );
    n.startup_oplog.clear();
    expect(
        &[n],
        "mongodb.replica-set",
        Outcome::Unknown,
        "replica set state is unknown",
    );
}

#[test]
fn mongodb_storage_engine_pass_fail_unknown() {
    expect(
        &[healthy("a", "n1")],
        "mongodb.storage-engine",
        Outcome::Pass,
        "wiredTiger",
    );
    let mut n = healthy("a", "n1");
    n.mongodb_summary.as_mut().unwrap()["storage_engine"] = json!("mmapv1");
    expect(
        &[n.clone()],
        "mongodb.storage-engine",
        Outcome::Fail,
        "mmapv1",
    );
    n.mongodb_summary = None;
    n.rc_statistics = None;
    expect(
        &[n],
        "mongodb.storage-engine",
        Outcome::Unknown,
        "storage engine is unknown",
    );
}

#[test]
fn mongodb_bypass_flags_pass_fail_unknown() {
    expect(
        &[healthy("a", "n1")],
        "mongodb.bypass-flags",
        Outcome::Pass,
        "none of BYPASS_MONGO_VALIDATION",
    );
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("BYPASS_OPLOG_VALIDATION=true"));
    let r = expect(
        &[n],
        "mongodb.bypass-flags",
        Outcome::Fail,
        "BYPASS_OPLOG_VALIDATION",
    );
    assert_eq!(
        r.evidence[0].value.as_deref(),
        Some("BYPASS_OPLOG_VALIDATION")
    );
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("SKIP_MONGODEPRECATION_CHECK="));
    expect(&[n], "mongodb.bypass-flags", Outcome::Pass, "none of");
    let mut n = healthy("a", "n1");
    no_docker(&mut n);
    expect(
        &[n.clone()],
        "mongodb.bypass-flags",
        Outcome::Unknown,
        "docker collector was skipped",
    );
    n.host.as_mut().unwrap()["processes"] = json!([{"pid": 7, "kind": "rocketchat", "env_names": ["ROOT_URL", "BYPASS_NODEJS_VALIDATION"], "in_container": false}]);
    expect(
        &[n],
        "mongodb.bypass-flags",
        Outcome::Fail,
        "BYPASS_NODEJS_VALIDATION",
    );
}

// ---------------------------------------------------------------------------
// host.*

#[test]
fn host_disk_free_pass_warn_fail_unknown() {
    expect(
        &[healthy("a", "n1")],
        "host.disk-free",
        Outcome::Pass,
        "60.0% free",
    );
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["disks"][0]["available_bytes"] = json!(15_000_000_000u64);
    expect(&[n.clone()], "host.disk-free", Outcome::Warn, "under 20%");
    n.host.as_mut().unwrap()["disks"][0]["available_bytes"] = json!(5_000_000_000u64);
    expect(&[n.clone()], "host.disk-free", Outcome::Fail, "under 10%");
    n.host = None;
    skip_collector(&mut n, "host", "deselected with --skip host");
    expect(
        &[n],
        "host.disk-free",
        Outcome::Unknown,
        "host collector was skipped",
    );
}

#[test]
fn host_disk_free_ignores_non_data_mounts() {
    // /boot is nearly full in the baseline but holds no data.
    let r = expect(
        &[healthy("a", "n1")],
        "host.disk-free",
        Outcome::Pass,
        "/ on n1",
    );
    assert!(!r.message.contains("/boot"));
}

fn with_mongo_clock(mut n: NodeData, offset_ms: i64) -> NodeData {
    // The mongodb collector ran 05:00:00.000-05:00:00.500 on the node's clock.
    let t = jiff::Timestamp::from_millisecond(
        date("2026-11-26")
            .at(5, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond()
            + 250
            + offset_ms,
    )
    .unwrap();
    n.mongodb.insert(
        "replSetGetStatus".into(),
        json!({"ok": true, "reply": {"set": "rs0", "date": {"$date": t.to_string()}}}),
    );
    n
}

#[test]
fn host_clock_pass_single_node() {
    expect(
        &[healthy("a", "n1")],
        "host.clock-skew",
        Outcome::Pass,
        "one bundle",
    );
}

#[test]
fn host_clock_warn_not_synchronized() {
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["clock"] =
        json!({"wall_clock": "2026-11-26T05:00:00Z", "source": "none", "synchronized": false});
    expect(&[n], "host.clock-skew", Outcome::Warn, "not synchronized");
}

#[test]
fn host_clock_fail_large_offset() {
    let mut n = healthy("a", "n1");
    n.host.as_mut().unwrap()["clock"]["offset_seconds"] = json!(45.0);
    expect(&[n], "host.clock-skew", Outcome::Fail, "+45.000 s");
}

#[test]
fn host_clock_cross_node_through_mongodb() {
    let a = with_mongo_clock(healthy("a", "n1"), 0);
    let b = with_mongo_clock(healthy("b", "n2"), 0);
    expect(
        &[a.clone(), b],
        "host.clock-skew",
        Outcome::Pass,
        "node clocks agree",
    );
    // n2's clock runs 5 s behind: MongoDB's date looks 5 s later on its clock.
    let b = with_mongo_clock(healthy("b", "n2"), 5000);
    expect(
        &[a.clone(), b],
        "host.clock-skew",
        Outcome::Warn,
        "differ by at least",
    );
    let b = with_mongo_clock(healthy("b", "n2"), 60_000);
    expect(&[a, b], "host.clock-skew", Outcome::Fail, "n1 and n2");
}

#[test]
fn host_clock_cross_node_offset_spread() {
    let a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    b.host.as_mut().unwrap()["clock"]["offset_seconds"] = json!(-0.9);
    let mut a2 = a.clone();
    a2.host.as_mut().unwrap()["clock"]["offset_seconds"] = json!(0.9);
    expect(
        &[a2, b],
        "host.clock-skew",
        Outcome::Warn,
        "differ by 1.800 s",
    );
    let _ = a;
}

#[test]
fn host_clock_unknown() {
    let mut n = healthy("a", "n1");
    n.host = None;
    skip_collector(&mut n, "host", "deselected");
    expect(
        &[n],
        "host.clock-skew",
        Outcome::Unknown,
        "host collector was skipped",
    );
}

// ---------------------------------------------------------------------------
// containers.restarting

#[test]
fn containers_restarting_all_outcomes() {
    expect(
        &[healthy("a", "n1")],
        "containers.restarting",
        Outcome::Pass,
        "none of 4 containers",
    );
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["restart_count"] = json!(5);
    expect(
        &[n],
        "containers.restarting",
        Outcome::Warn,
        "restarted 5 times",
    );
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["restart_count"] = json!(12);
    expect(
        &[n],
        "containers.restarting",
        Outcome::Fail,
        "restarted 12 times",
    );
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["state"]["status"] = json!("restarting");
    expect(
        &[n],
        "containers.restarting",
        Outcome::Fail,
        "is restarting",
    );
    let mut n = healthy("a", "n1");
    containers_mut(&mut n)[1]["state"]["oom_killed"] = json!(true);
    expect(&[n], "containers.restarting", Outcome::Fail, "OOM");
    let mut n = healthy("a", "n1");
    rc_mut(&mut n)["state"]["health"] = json!("unhealthy");
    expect(&[n], "containers.restarting", Outcome::Warn, "unhealthy");
    let mut n = healthy("a", "n1");
    no_docker(&mut n);
    expect(
        &[n],
        "containers.restarting",
        Outcome::Unknown,
        "Docker socket",
    );
}

// ---------------------------------------------------------------------------
// logs.known-errors

fn scan(n: &mut NodeData, text: &str) {
    let policy = Policy::builtin();
    n.log_files.clear();
    n.scan_log("logs/rocketchat-rocketchat-1.log", text.as_bytes(), &policy)
        .expect("scan");
}

#[test]
fn logs_pass() {
    let mut n = healthy("a", "n1");
    scan(
        &mut n,
        "2026-11-26T04:00:00.000000000Z stdout {\"level\":30,\"msg\":\"all good\"}\n",
    );
    expect(
        &[n],
        "logs.known-errors",
        Outcome::Pass,
        "no known error signature in 1 log file",
    );
}

#[test]
fn logs_fail_with_capped_evidence() {
    let mut n = healthy("a", "n1");
    let mut text = String::new();
    for i in 0..30 {
        text.push_str(&format!("2026-11-26T04:00:{i:02}.000Z stderr MongoServerSelectionError: Server selection timed out after 10000 ms\n"));
    }
    text.push_str("2026-11-26T04:01:00.000Z stdout Failed to communicate with Rocket.Chat Cloud\n");
    scan(&mut n, &text);
    assert_eq!(n.log_match_counts.get("mongodb-unreachable"), Some(&30));
    assert_eq!(
        n.log_matches
            .iter()
            .filter(|m| m.signature == "mongodb-unreachable")
            .count(),
        20,
        "kept matches are capped"
    );
    let r = expect(&[n], "logs.known-errors", Outcome::Fail, "30 line(s)");
    let hits: Vec<_> = r
        .evidence
        .iter()
        .filter(|e| e.value.as_deref() == Some("mongodb-unreachable"))
        .collect();
    assert_eq!(hits.len(), 5, "evidence per signature is capped");
    assert!(
        hits[0].line.as_deref().unwrap().starts_with("1: "),
        "{:?}",
        hits[0].line
    );
    assert!(
        r.message.contains("Rocket.Chat Cloud is unreachable"),
        "{}",
        r.message
    );
}

#[test]
fn logs_warn() {
    let mut n = healthy("a", "n1");
    scan(
        &mut n,
        "x\n2026-11-26T04:00:00Z stdout Deprecated /health endpoint was called\n",
    );
    let r = expect(
        &[n],
        "logs.known-errors",
        Outcome::Warn,
        "deprecated /health",
    );
    assert_eq!(
        r.evidence[0].line.as_deref().map(|l| l.starts_with("2: ")),
        Some(true)
    );
}

#[test]
fn logs_unknown() {
    let mut n = healthy("a", "n1");
    n.log_files.clear();
    skip_collector(&mut n, "logs", "cannot reach the Docker socket");
    expect(
        &[n],
        "logs.known-errors",
        Outcome::Unknown,
        "logs collector was skipped",
    );
}

#[test]
fn log_scan_reads_startup_boxes() {
    let mut n = NodeData::new("a", manifest("n1"));
    let policy = Policy::builtin();
    let text = concat!(
        "2026-11-26T04:00:00Z stdout +----------------------------------------------+\n",
        "2026-11-26T04:00:00Z stdout |                SERVER RUNNING                |\n",
        "2026-11-26T04:00:00Z stdout |  Rocket.Chat Version: 7.10.3                 |\n",
        "2026-11-26T04:00:00Z stdout |  MongoDB Version: 6.0.13                     |\n",
        "2026-11-26T04:00:00Z stdout |  MongoDB Engine: wiredTiger                  |\n",
        "2026-11-26T04:00:00Z stdout |  ReplicaSet OpLog: Enabled                   |\n",
        "2026-11-26T05:00:00Z stdout {\"level\":51,\"msg\":\"+---+\\n| SERVER RUNNING |\\n| Rocket.Chat Version: 8.5.1 |\\n| MongoDB Version: 8.0.4 |\\n+---+\"}\n",
        "no newline at end: Rocket.Chat Version: 8.5.1"
    );
    n.scan_log("logs/rc.log", text.as_bytes(), &policy).unwrap();
    assert_eq!(
        n.startup_versions,
        vec![
            ("logs/rc.log".to_string(), "7.10.3".to_string()),
            ("logs/rc.log".to_string(), "8.5.1".to_string())
        ]
    );
    assert_eq!(
        n.startup_mongo_versions.last().map(|x| x.1.as_str()),
        Some("8.0.4")
    );
    assert_eq!(n.startup_mongo_engines[0].1, "wiredTiger");
    assert_eq!(n.startup_oplog[0].1, "Enabled");
    assert_eq!(n.log_files, vec!["logs/rc.log".to_string()]);
}

#[test]
fn log_scan_survives_huge_lines_and_binary() {
    let mut n = NodeData::new("a", manifest("n1"));
    let policy = Policy::builtin();
    let mut data = vec![b'x'; 3 << 20];
    data.extend_from_slice(
        b" OPLOG / REPLICASET IS REQUIRED\n\xff\xfe\x00 OPLOG / REPLICASET IS REQUIRED\n",
    );
    n.scan_log("logs/x.log", &data[..], &policy).unwrap();
    // The first hit sits beyond the 64 KiB examined per line; the second is found.
    let m: Vec<_> = n
        .log_matches
        .iter()
        .filter(|m| m.signature == "oplog-required")
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].line_no, 2);
    assert!(m[0].line.chars().count() <= policy.logs.max_line_chars);
}

// ---------------------------------------------------------------------------
// bundle.*

#[test]
fn bundle_complete_pass_warn_unknown() {
    expect(
        &[healthy("a", "n1")],
        "bundle.complete",
        Outcome::Pass,
        "every collector ran",
    );
    let mut n = healthy("a.rcdiag", "n1");
    skip_collector(&mut n, "docker", "cannot reach the Docker socket");
    let r = expect(
        &[n.clone()],
        "bundle.complete",
        Outcome::Warn,
        "the docker collector skipped",
    );
    assert!(
        r.message.contains("image.official") && r.message.contains("containers.restarting"),
        "{}",
        r.message
    );
    n.manifest.collectors.retain(|c| c.name != "mongodb");
    expect(
        &[n.clone()],
        "bundle.complete",
        Outcome::Warn,
        "mongodb collector did not run",
    );
    let mut n = healthy("a", "n1");
    n.load_problems
        .insert("host/host.json".into(), "not valid JSON".into());
    expect(
        &[n],
        "bundle.complete",
        Outcome::Warn,
        "host/host.json is unusable",
    );
    expect(&[], "bundle.complete", Outcome::Unknown, "no bundle");
}

#[test]
fn bundle_signer_trusted_all_outcomes() {
    expect(
        &[healthy("a", "n1")],
        "bundle.signer-trusted",
        Outcome::Pass,
        "trusted node key",
    );
    let mut n = healthy("a", "n1");
    n.trust = TrustStatus::Untrusted;
    expect(
        &[healthy("b", "n2"), n],
        "bundle.signer-trusted",
        Outcome::Fail,
        "NOT in the allowed signers",
    );
    let policy = Policy::builtin();
    let nodes = [healthy("a", "n1")];
    let results = run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: None,
        trust_given: false,
    });
    let r = get(&results, "bundle.signer-trusted");
    assert_eq!(r.outcome, Outcome::Unknown);
    assert!(
        r.message.contains("not checked") && r.message.contains("--trust"),
        "{}",
        r.message
    );
}

// ---------------------------------------------------------------------------
// cluster notes

#[test]
fn cluster_notes_flag_different_deployments_and_duplicates() {
    let a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    b.rocketchat.as_mut().unwrap()["unique_id"] = json!("ws-2");
    let notes = cluster_notes(&[a.clone(), b]);
    assert!(
        notes.iter().any(|n| n.contains("different deployments")
            && n.contains("ws-1")
            && n.contains("ws-2")),
        "{notes:?}"
    );
    let mut dup = a.clone();
    dup.label = "a2".into();
    let notes = cluster_notes(&[a.clone(), dup]);
    assert!(notes.iter().any(|n| n.contains("same node")), "{notes:?}");
    assert!(cluster_notes(&[a, healthy("c", "n3")]).is_empty());
}

// ---------------------------------------------------------------------------
// Policy

#[test]
fn policy_builtin_validates() {
    let p = Policy::builtin();
    assert!(
        p.validate(CheckId::NAMES).is_empty(),
        "{:?}",
        p.validate(CheckId::NAMES)
    );
    assert_eq!(p.name, "rocketchat");
    assert_eq!(p.as_of, date("2026-11-26"));
    assert_eq!(p.releases.table.len(), 36, "every row of facts §4");
    for info in CHECKS {
        assert!(
            p.checks.contains_key(info.id.as_str()),
            "{} has remediation and source",
            info.id
        );
    }
}

#[test]
fn policy_roundtrips_through_toml() {
    let p = Policy::builtin();
    let again = Policy::from_toml(&p.to_toml(), CheckId::NAMES).expect("to_toml parses back");
    assert_eq!(p, again);
}

#[test]
fn policy_broken_is_rejected_with_clear_messages() {
    let text = rcdiag_analyzer::policy::BUILTIN
        .replace("version = \"6.1\"", "version = \"6.0\"")
        .replace("'(^|/)prom/prometheus$'", "'(unclosed'")
        .replace(
            "disk_free_fail_percent = 10.0",
            "disk_free_fail_percent = 25.0",
        )
        .replace("eol = \"2027-06-30\"", "eol = \"2027-06-15\"")
        .replace("source = \"monitoring\"\n", "source = \"nowhere\"\n");
    let err = Policy::from_toml(&text, CheckId::NAMES).expect_err("broken policy");
    let msg = err.to_string();
    for needle in [
        "policy is invalid",
        "releases.table \"6.0\": versions must be sorted ascending and unique",
        "monitoring.prometheus_images: pattern \"(unclosed\" does not compile",
        "disk_free_fail_percent (25) < disk_free_warn_percent (20)",
        "eol 2027-06-15 is not the last day of its month",
        "source \"nowhere\" is not defined in [sources]",
    ] {
        assert!(msg.contains(needle), "message lacks {needle:?}:\n{msg}");
    }
}

#[test]
fn policy_parse_errors_are_clear() {
    let err = Policy::from_toml("name = 5", CheckId::NAMES).expect_err("wrong type");
    assert!(
        err.to_string().starts_with("policy does not parse:"),
        "{err}"
    );
    let text =
        rcdiag_analyzer::policy::BUILTIN.replace("as_of = \"2026-11-26\"", "as_of = \"yesterday\"");
    assert!(Policy::from_toml(&text, CheckId::NAMES).is_err());
    let text = format!(
        "{}\nunexpected_key = 1\n",
        rcdiag_analyzer::policy::BUILTIN.replacen(
            "name = \"rocketchat\"",
            "name = \"rocketchat\"\nbogus = true",
            1
        )
    );
    let err = Policy::from_toml(&text, CheckId::NAMES).expect_err("unknown field");
    assert!(err.to_string().contains("bogus"), "{err}");
    let err = Policy::load(
        std::path::Path::new("/nonexistent/policy.toml"),
        CheckId::NAMES,
    )
    .expect_err("missing file");
    assert!(
        err.to_string().contains("/nonexistent/policy.toml"),
        "{err}"
    );
}

#[test]
fn policy_load_from_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, Policy::builtin().to_toml()).unwrap();
    assert_eq!(
        Policy::load(&path, CheckId::NAMES).unwrap(),
        Policy::builtin()
    );
}

#[test]
fn policy_support_status_around_eol_boundaries() {
    let p = Policy::builtin();
    let v = |s: &str| Version::parse(s).unwrap();
    // 8.0: EOL 2026-06-30, warn 30 days before.
    assert!(matches!(
        p.support_status(&v("8.0.0"), date("2026-05-30")),
        SupportStatus::Supported { .. }
    ));
    // Exactly 30 days left is not yet "ending soon".
    assert!(matches!(
        p.support_status(&v("8.0.0"), date("2026-05-31")),
        SupportStatus::Supported { .. }
    ));
    assert!(matches!(
        p.support_status(&v("8.0.0"), date("2026-06-01")),
        SupportStatus::EndingSoon { days_left: 29, .. }
    ));
    assert!(matches!(
        p.support_status(&v("8.0.9"), date("2026-06-30")),
        SupportStatus::EndingSoon { days_left: 0, .. }
    ));
    assert_eq!(
        p.support_status(&v("8.0.9"), date("2026-07-01")),
        SupportStatus::Ended {
            eol: date("2026-06-30"),
            lts: false
        }
    );
    // LTS lines get twelve months.
    assert_eq!(
        p.support_status(&v("7.10.0"), date("2026-10-01")),
        SupportStatus::Ended {
            eol: date("2026-09-30"),
            lts: true
        }
    );
    assert_eq!(
        p.support_status(&v("8.5.1"), date("2026-11-26")),
        SupportStatus::Supported {
            eol: date("2027-06-30"),
            lts: true
        }
    );
    // 8.7 as listed (January, not February).
    assert_eq!(
        p.support_status(&v("8.7.0"), date("2027-02-01")),
        SupportStatus::Ended {
            eol: date("2027-01-31"),
            lts: false
        }
    );
    // Leap year end of February.
    assert_eq!(
        p.support_status(&v("6.3.0"), date("2024-03-01")),
        SupportStatus::Ended {
            eol: date("2024-02-29"),
            lts: false
        }
    );
}

#[test]
fn policy_version_outside_table() {
    let p = Policy::builtin();
    let v = |s: &str| Version::parse(s).unwrap();
    assert_eq!(
        p.support_status(&v("8.8.0"), date("2026-11-26")),
        SupportStatus::NewerThanPolicy {
            newest: "8.7".into()
        }
    );
    assert_eq!(
        p.support_status(&v("9.0.0"), date("2026-11-26")),
        SupportStatus::NewerThanPolicy {
            newest: "8.7".into()
        }
    );
    assert!(matches!(
        p.support_status(&v("5.4.0"), date("2026-11-26")),
        SupportStatus::OlderThanPolicy { ended_by: Some(_) }
    ));
    assert_eq!(
        p.support_status(&v("5.4.0"), date("2023-10-01")),
        SupportStatus::OlderThanPolicy { ended_by: None }
    );
    assert_eq!(
        p.support_status(&v("6.14.0"), date("2026-11-26")),
        SupportStatus::NotInTable
    );
}

#[test]
fn policy_mongodb_matrix() {
    let p = Policy::builtin();
    let v = |s: &str| Version::parse(s).unwrap();
    let c = |rc: &str, m: &str| p.mongo_compat(&v(rc), &v(m)).0;
    assert_eq!(c("8.5.1", "8.0.4"), MongoCompat::Supported);
    assert_eq!(c("8.5.1", "8.2.1"), MongoCompat::Supported);
    assert_eq!(c("8.5.1", "7.0.12"), MongoCompat::Unsupported);
    assert_eq!(c("8.1.0", "8.2.0"), MongoCompat::Supported);
    assert_eq!(c("8.1.0", "8.0.4"), MongoCompat::Disputed);
    assert_eq!(c("8.0.0", "7.0.4"), MongoCompat::Unsupported);
    assert_eq!(c("7.13.0", "7.0.4"), MongoCompat::Supported);
    assert_eq!(c("7.4.0", "5.0.4"), MongoCompat::Deprecated);
    assert_eq!(c("7.4.0", "4.4.4"), MongoCompat::Unsupported);
    assert_eq!(c("6.5.0", "4.4.4"), MongoCompat::Deprecated);
    assert_eq!(c("6.2.0", "4.4.4"), MongoCompat::Supported);
    assert_eq!(c("5.4.0", "4.2.1"), MongoCompat::Deprecated);
    assert_eq!(c("4.8.0", "4.4.0"), MongoCompat::NoRow);
}

#[test]
fn version_and_image_parsing() {
    assert_eq!(
        Version::parse("v8.5.0").map(|v| v.to_string()),
        Some("8.5.0".into())
    );
    assert_eq!(
        Version::parse("8.6.0-rc.1").and_then(|v| v.pre),
        Some("rc.1".into())
    );
    assert_eq!(Version::parse("8.5").map(|v| v.line()), Some("8.5".into()));
    for bad in [
        "latest",
        "develop",
        "",
        "8",
        "8.x",
        "1.2.3.4",
        "sha-abc1234",
    ] {
        assert_eq!(Version::parse(bad), None, "{bad}");
    }
    let r = |s: &str| ImageRef::parse(s);
    assert_eq!(
        r("rocket.chat:8.5.0").repository,
        "docker.io/library/rocket.chat"
    );
    assert_eq!(
        r("rocketchat/rocket.chat").repository,
        "docker.io/rocketchat/rocket.chat"
    );
    assert_eq!(r("rocketchat/rocket.chat").tag, None);
    let full = r("registry.rocket.chat/rocketchat/rocket.chat:8.5.0@sha256:abc");
    assert_eq!(
        (
            full.repository.as_str(),
            full.tag.as_deref(),
            full.digest.as_deref()
        ),
        (
            "registry.rocket.chat/rocketchat/rocket.chat",
            Some("8.5.0"),
            Some("sha256:abc")
        )
    );
    assert_eq!(
        r("localhost:5000/acme/chat:1").repository,
        "localhost:5000/acme/chat"
    );
    assert_eq!(
        r("docker.io/RocketChat/Rocket.Chat:1").repository,
        "docker.io/rocketchat/rocket.chat"
    );
    assert_eq!(r("sha256:0123").repository, "");
}

// ---------------------------------------------------------------------------
// A real bundle

#[test]
fn real_bundle_loads_and_checks() {
    use rcdiag_bundle::{Bundle, BundleWriter, Encryption, NodeKey, OpenOptions, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let mut w = BundleWriter::create(WriterOptions {
        out: dir.path().to_path_buf(),
        encryption: Encryption::None,
        signer: NodeKey::generate(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: "0.1.0".into(),
        },
        node: NodeInfo {
            hostname: "node1".into(),
            ..Default::default()
        },
        compression_level: None,
    })
    .unwrap();
    let template = healthy("x", "node1");
    w.add_json("host/host.json", template.host.as_ref().unwrap())
        .unwrap();
    w.add_json(
        "docker/containers.json",
        template.docker_containers.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json("docker/info.json", template.docker_info.as_ref().unwrap())
        .unwrap();
    w.add_json("docker/images.json", &json!([])).unwrap();
    w.add_json("docker/version.json", &json!({"Version": "27.0.0"}))
        .unwrap();
    w.add_json(
        "mongodb/summary.json",
        template.mongodb_summary.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "mongodb/buildInfo.json",
        &json!({"ok": true, "reply": {"version": "8.0.4"}}),
    )
    .unwrap();
    w.add_json(
        "mongodb/serverStatus.json",
        &json!({"ok": true, "reply": {"storageEngine": {"name": "wiredTiger"}}}),
    )
    .unwrap();
    w.add_json(
        "rocketchat/summary.json",
        template.rocketchat.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "rocketchat/settings.json",
        template.rc_settings.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "rocketchat/statistics.json",
        template.rc_statistics.as_ref().unwrap(),
    )
    .unwrap();
    w.add_json(
        "logs/index.json",
        &json!([{"container": "rocketchat-rocketchat-1", "id": "c1", "file": "logs/rocketchat-rocketchat-1.log", "lines": 3, "bytes": 200, "truncated": false, "truncated_by": null, "since": "2026-11-25T05:00:00Z", "error": null}]),
    )
    .unwrap();
    w.add_bytes(
        "logs/rocketchat-rocketchat-1.log",
        b"2026-11-26T04:00:00.000000000Z stdout |  Rocket.Chat Version: 8.5.1  |\n2026-11-26T04:00:01.000000000Z stderr Failed to communicate with Rocket.Chat Cloud\n2026-11-26T04:00:02.000000000Z stdout ok\n",
    )
    .unwrap();
    w.add_bytes("rocketchat/broken.json", b"{not json").unwrap();
    for c in collectors_ok() {
        w.record_collector(c);
    }
    let done = w.finish().unwrap();

    let mut bundle = Bundle::open(&done.path, &OpenOptions::default()).unwrap();
    let policy = Policy::builtin();
    let label = done.path.file_name().unwrap().to_string_lossy().to_string();
    let node = NodeData::load(&mut bundle, &label, &policy).unwrap();
    assert_eq!(node.label, label);
    assert_eq!(node.hostname(), "node1");
    assert!(
        node.host.is_some()
            && node.docker_containers.is_some()
            && node.docker_info.is_some()
            && node.docker_images.is_some()
    );
    assert!(
        node.mongodb_summary.is_some()
            && node.rocketchat.is_some()
            && node.rc_settings.is_some()
            && node.rc_statistics.is_some()
    );
    assert!(node.logs_index.is_some());
    assert_eq!(
        node.mongodb.keys().cloned().collect::<Vec<_>>(),
        vec!["buildInfo".to_string(), "serverStatus".to_string()]
    );
    assert_eq!(
        node.log_files,
        vec!["logs/rocketchat-rocketchat-1.log".to_string()]
    );
    assert_eq!(
        node.startup_versions,
        vec![(
            "logs/rocketchat-rocketchat-1.log".to_string(),
            "8.5.1".to_string()
        )]
    );
    assert_eq!(node.log_matches.len(), 1);
    assert_eq!(node.log_matches[0].signature, "cloud-unreachable");
    assert_eq!(node.log_matches[0].line_no, 2);
    assert_eq!(node.trust, TrustStatus::NotChecked);

    let nodes = [node];
    let results = run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: None,
        trust_given: false,
    });
    assert_eq!(get(&results, "image.official").outcome, Outcome::Pass);
    assert_eq!(get(&results, "version.supported").outcome, Outcome::Pass);
    assert_eq!(get(&results, "mongodb.version").outcome, Outcome::Pass);
    assert_eq!(get(&results, "logs.known-errors").outcome, Outcome::Warn);
    assert_eq!(
        get(&results, "bundle.signer-trusted").outcome,
        Outcome::Unknown
    );
    let r = get(&results, "logs.known-errors");
    assert_eq!(r.evidence[0].bundle, label);
    assert_eq!(
        r.evidence[0].file.as_deref(),
        Some("logs/rocketchat-rocketchat-1.log")
    );
}

#[test]
fn real_bundle_with_unparsable_file_records_problem() {
    use rcdiag_bundle::{Bundle, BundleWriter, Encryption, NodeKey, OpenOptions, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let mut w = BundleWriter::create(WriterOptions {
        out: dir.path().to_path_buf(),
        encryption: Encryption::None,
        signer: NodeKey::generate(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: "0.1.0".into(),
        },
        node: NodeInfo {
            hostname: "node1".into(),
            ..Default::default()
        },
        compression_level: None,
    })
    .unwrap();
    w.add_bytes("host/host.json", b"{\"cpu\": ").unwrap();
    let done = w.finish().unwrap();
    let mut bundle = Bundle::open(&done.path, &OpenOptions::default()).unwrap();
    let node = NodeData::load(&mut bundle, "b", &Policy::builtin()).unwrap();
    assert!(node.host.is_none());
    assert!(
        node.load_problems
            .get("host/host.json")
            .is_some_and(|p| p.contains("not valid JSON"))
    );
    let nodes = [node];
    let policy = Policy::builtin();
    let results = run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: None,
        trust_given: false,
    });
    let r = get(&results, "host.disk-free");
    assert_eq!(r.outcome, Outcome::Unknown);
    assert!(r.message.contains("present but unusable"), "{}", r.message);
    assert_eq!(get(&results, "bundle.complete").outcome, Outcome::Warn);
}

/// A plain bundle holding logs `logs` (path, content), and its path.
fn bundle_with_logs(dir: &std::path::Path, logs: &[(&str, &[u8])]) -> std::path::PathBuf {
    use rcdiag_bundle::{BundleWriter, Encryption, NodeKey, WriterOptions};
    let mut w = BundleWriter::create(WriterOptions {
        out: dir.to_path_buf(),
        encryption: Encryption::None,
        signer: NodeKey::generate(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: "0.1.0".into(),
        },
        node: NodeInfo {
            hostname: "node1".into(),
            ..Default::default()
        },
        compression_level: None,
    })
    .unwrap();
    for (path, data) in logs {
        w.add_bytes(path, data).unwrap();
    }
    w.finish().unwrap().path
}

/// A log of `lines` lines with varied text (so it does not compress to nothing), a
/// signature on every 997th line and a startup box line now and then.
fn varied_log(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..lines {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let text = match i % 997 {
            0 => "MongoServerSelectionError: connection refused".to_string(),
            500 => format!("|  Rocket.Chat Version: 8.{}.0  |", i % 7),
            _ => format!(
                "{{\"level\":30,\"msg\":\"call {x:016x} took {}ms\"}}",
                x % 1000
            ),
        };
        out.extend_from_slice(format!("2026-11-26T05:00:00.{i:09}Z stdout {text}\n").as_bytes());
    }
    out
}

#[test]
fn real_bundle_logs_over_many_read_blocks_scan_like_scan_log() {
    use rcdiag_bundle::{Bundle, OpenOptions};
    let dir = tempfile::tempdir().unwrap();
    let a = varied_log(60_000);
    let b = varied_log(7_000);
    assert!(a.len() > 3 << 20, "several read blocks: {}", a.len());
    let path = bundle_with_logs(dir.path(), &[("logs/a.log", &a), ("logs/b.log", &b)]);
    // As `check` opens it: each file's hash is checked as the model reads it.
    let opts = OpenOptions {
        skip_content_check: true,
        ..Default::default()
    };
    let mut bundle = Bundle::open(&path, &opts).unwrap();
    let policy = Policy::builtin();
    let loaded = NodeData::load(&mut bundle, "b", &policy).unwrap();
    bundle.verify_contents().unwrap();
    let mut expected = NodeData::new("b", loaded.manifest.clone());
    expected.scan_log("logs/a.log", &a[..], &policy).unwrap();
    expected.scan_log("logs/b.log", &b[..], &policy).unwrap();
    assert_eq!(loaded.log_files, expected.log_files);
    assert_eq!(loaded.log_matches, expected.log_matches);
    assert_eq!(loaded.log_match_counts, expected.log_match_counts);
    assert_eq!(loaded.startup_versions, expected.startup_versions);
    // 61 hits in a.log (lines 1, 998, ...), 8 in b.log; 20 kept for the node.
    assert_eq!(
        loaded.log_match_counts.get("mongodb-unreachable"),
        Some(&(61 + 8))
    );
    let kept: Vec<u64> = loaded.log_matches.iter().map(|m| m.line_no).collect();
    assert_eq!(kept, (0..20).map(|k| 1 + 997 * k).collect::<Vec<u64>>());
    assert_eq!(
        loaded.startup_versions.len(),
        14,
        "8.0.0 to 8.6.0 in each log"
    );
}

#[test]
fn a_log_damaged_inside_the_bundle_fails_the_load() {
    use rcdiag_bundle::{Bundle, OpenOptions};
    let dir = tempfile::tempdir().unwrap();
    let a = varied_log(40_000);
    let path = bundle_with_logs(dir.path(), &[("logs/a.log", &a), ("logs/b.log", b"ok\n")]);
    // Flip a byte in the middle of logs/a.log's compressed data (after its local header).
    let mut bytes = std::fs::read(&path).unwrap();
    let name = b"logs/a.log";
    let at = bytes
        .windows(name.len())
        .enumerate()
        .find(|(i, w)| *w == name && *i >= 30 && bytes[i - 30..i - 26] == *b"PK\x03\x04")
        .map(|(i, _)| i)
        .expect("local header of logs/a.log");
    let extra = u16::from_le_bytes([bytes[at - 2], bytes[at - 1]]) as usize;
    let data = at + name.len() + extra;
    bytes[data + 20_000] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let opts = OpenOptions {
        skip_content_check: true,
        ..Default::default()
    };
    let mut bundle = Bundle::open(&path, &opts).expect("the manifest and signature are intact");
    let err = NodeData::load(&mut bundle, "b", &Policy::builtin())
        .expect_err("a damaged log must fail the load");
    assert!(!err.to_string().is_empty());
}
