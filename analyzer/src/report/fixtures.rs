//! Test fixtures: real bundles written with `rcdiag_bundle::BundleWriter`, holding
//! files shaped like the collector contract (`docs/collector-outputs.md`).
//!
//! Not part of the library: the integration tests include this file with
//! `#[path = "../src/report/fixtures.rs"] mod fixtures;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rcdiag_bundle::{
    AgentInfo, BundleWriter, CollectorRecord, CollectorStatus, Encryption, NodeInfo, NodeKey,
    Recipient, WriterOptions,
};
use serde_json::{Value, json};

/// A date after every bundle written by the tests and inside 8.5 LTS support.
pub const AS_OF: &str = "2026-12-01";

/// A support key pair written to `dir/support.key`.
pub struct SupportKey {
    pub identity: PathBuf,
    pub recipient: String,
}

pub fn support_key(dir: &Path) -> SupportKey {
    let k = rcdiag_bundle::generate_support_key();
    let identity = dir.join("support.key");
    rcdiag_bundle::write_new_secret_file(&identity, k.identity_file.as_bytes())
        .expect("write identity");
    SupportKey {
        identity,
        recipient: k.recipient,
    }
}

/// An `allowed_signers` file trusting `keys`.
pub fn allowed_signers(dir: &Path, name: &str, keys: &[&NodeKey]) -> PathBuf {
    let path = dir.join(name);
    let text: String = keys
        .iter()
        .map(|k| format!("node {}\n", k.public_key_openssh()))
        .collect();
    std::fs::write(&path, text).expect("write allowed_signers");
    path
}

/// How to protect a fixture bundle.
pub enum Protect<'a> {
    /// age, to this recipient.
    Age(&'a str),
    /// The signed-plain variant.
    Plain,
}

/// The files of one node's bundle, editable before writing.
#[derive(Clone)]
pub struct Node {
    pub hostname: String,
    pub machine_id_hash: Option<String>,
    pub files: BTreeMap<String, Vec<u8>>,
    pub collectors: Vec<CollectorRecord>,
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("json");
    b.push(b'\n');
    b
}

const GIB: u64 = 1 << 30;

fn rc_log(version: &str, extra: &[&str]) -> String {
    let mut lines = vec![
        "2026-11-25T05:00:00.000000001Z stdout {\"level\":30,\"time\":\"2026-11-25T05:00:00.000Z\",\"msg\":\"Starting Rocket.Chat\"}".to_string(),
        "2026-11-25T05:00:01.000000001Z stdout +----------------------------------------------+".to_string(),
        "2026-11-25T05:00:01.000000002Z stdout |                SERVER RUNNING                |".to_string(),
        "2026-11-25T05:00:01.000000003Z stdout +----------------------------------------------+".to_string(),
        format!("2026-11-25T05:00:01.000000004Z stdout |  Rocket.Chat Version: {version:<23}|"),
        "2026-11-25T05:00:01.000000005Z stdout |       NodeJS Version: 22.16.0                |".to_string(),
        "2026-11-25T05:00:01.000000006Z stdout |      MongoDB Version: 8.0.4                  |".to_string(),
        "2026-11-25T05:00:01.000000007Z stdout |       MongoDB Engine: wiredTiger             |".to_string(),
        "2026-11-25T05:00:01.000000008Z stdout |             Platform: linux                  |".to_string(),
        "2026-11-25T05:00:01.000000009Z stdout |         Process Port: 3000                   |".to_string(),
        "2026-11-25T05:00:01.000000010Z stdout |             Site URL: https://chat.example.com|".to_string(),
        "2026-11-25T05:00:01.000000011Z stdout +----------------------------------------------+".to_string(),
        "2026-11-25T05:10:00.000000000Z stdout {\"level\":30,\"time\":\"2026-11-25T05:10:00.000Z\",\"msg\":\"user logged in\"}".to_string(),
    ];
    lines.extend(extra.iter().map(|s| s.to_string()));
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn container(
    name: &str,
    image: &str,
    service: &str,
    restarts: u64,
    env: &[&str],
    image_labels: Value,
) -> Value {
    json!({
        "id": format!("{:0>64}", name.len()),
        "name": name,
        "image": image,
        "image_id": format!("sha256:{:0>64}", image.len()),
        "repo_digests": [],
        "created": "2026-11-20T10:00:00Z",
        "labels": {
            "com.docker.compose.project": "rocketchat",
            "com.docker.compose.service": service
        },
        "image_labels": image_labels,
        "env": env,
        "cmd": ["node", "main.js"],
        "entrypoint": [],
        "state": {"status": "running", "running": true, "restarting": false, "oom_killed": false,
                  "exit_code": 0, "started_at": "2026-11-20T10:00:05Z", "finished_at": null, "health": "healthy"},
        "restart_count": restarts,
        "restart_policy": {"name": "unless-stopped", "maximum_retry_count": 0},
        "memory_limit_bytes": 0,
        "nano_cpus": 0,
        "log_driver": "json-file",
        "mounts": [],
        "networks": [{"name": "rocketchat_default", "ip": "172.18.0.3"}],
        "ports": []
    })
}

impl Node {
    /// A small, supported single-node installation: Rocket.Chat `version` from the
    /// official image under docker-compose, MongoDB 8.0 replica set, Prometheus and
    /// Grafana, ample hardware, clock in sync, no restarts, clean logs.
    pub fn healthy(hostname: &str, version: &str) -> Node {
        let rc_name = "rocketchat-rocketchat-1";
        let mut files = BTreeMap::new();
        files.insert(
            "host/host.json".to_string(),
            pretty(&json!({
                "collected_at": "2026-11-26T05:00:00Z",
                "hostname": hostname,
                "os": {"name": "Debian GNU/Linux", "version": "12", "id": "debian", "kernel": "6.1.0-18-amd64", "arch": "x86_64"},
                "uptime_seconds": 12345, "load_average": [0.1, 0.2, 0.3],
                "cpu": {"model": "Intel(R) Xeon(R)", "physical_cores": 4, "logical_cores": 8, "frequency_mhz": 2400},
                "memory": {"total_bytes": 16 * GIB, "available_bytes": 10 * GIB, "swap_total_bytes": 0, "swap_free_bytes": 0},
                "disks": [{"mount_point": "/", "device": "/dev/vda1", "fs_type": "ext4", "total_bytes": 200 * GIB,
                           "available_bytes": 120 * GIB, "kind": "ssd", "network": false, "removable": false, "read_only": false}],
                "network": [{"name": "eth0", "mac": "02:00:00:00:00:01", "addresses": ["10.0.0.5/24"]}],
                "clock": {"wall_clock": "2026-11-26T05:00:00.123Z", "source": "chrony", "synchronized": true, "offset_seconds": 0.0012},
                "cgroup_version": 2,
                "in_container": false, "host_proc_visible": true,
                "processes": [],
                "warnings": []
            })),
        );
        let official_labels = json!({
            "maintainer": "buildmaster@rocket.chat",
            "org.opencontainers.image.source": "https://github.com/RocketChat/Rocket.Chat"
        });
        let containers = json!([
            container(
                rc_name,
                &format!("rocketchat/rocket.chat:{version}"),
                "rocketchat",
                0,
                &[
                    "DEPLOY_METHOD=docker",
                    "DEPLOY_PLATFORM=compose",
                    "OVERWRITE_SETTING_Prometheus_Enabled=true",
                    "MONGO_URL=mongodb://***REDACTED:uri-userinfo***@mongodb:27017/rocketchat?replicaSet=rs0"
                ],
                official_labels.clone()
            ),
            container(
                "rocketchat-mongodb-1",
                "mongo:8.0",
                "mongodb",
                0,
                &[],
                json!({})
            ),
            container(
                "rocketchat-prometheus-1",
                "prom/prometheus:v3.0.0",
                "prometheus",
                0,
                &[],
                json!({})
            ),
            container(
                "rocketchat-grafana-1",
                "grafana/grafana:11.0.0",
                "grafana",
                0,
                &[],
                json!({})
            ),
        ]);
        files.insert("docker/containers.json".into(), pretty(&containers));
        files.insert(
            "docker/info.json".into(),
            pretty(&json!({"ServerVersion": "27.5.1", "OperatingSystem": "Debian GNU/Linux 12", "KernelVersion": "6.1.0-18-amd64",
                           "NCPU": 8, "MemTotal": 16 * GIB, "Driver": "overlay2", "LoggingDriver": "json-file", "CgroupVersion": "2",
                           "Containers": 4, "ContainersRunning": 4, "Images": 4, "Swarm": {"LocalNodeState": "inactive"},
                           "DockerRootDir": "/var/lib/docker", "Name": hostname})),
        );
        files.insert(
            "docker/version.json".into(),
            pretty(&json!({"Version": "27.5.1", "ApiVersion": "1.47", "negotiated_api_version": "1.47"})),
        );
        files.insert(
            "docker/images.json".into(),
            pretty(&json!([
                {"id": format!("sha256:{:0>64}", format!("rocketchat/rocket.chat:{version}").len()),
                 "repo_tags": [format!("rocketchat/rocket.chat:{version}")], "repo_digests": [format!("rocketchat/rocket.chat@sha256:{:0>64}", version.len())], "created": "2026-11-01T00:00:00Z",
                 "size_bytes": 900_000_000u64, "labels": official_labels},
                {"id": format!("sha256:{:0>64}", "mongo:8.0".len()), "repo_tags": ["mongo:8.0"], "repo_digests": [],
                 "created": "2026-10-01T00:00:00Z", "size_bytes": 800_000_000u64, "labels": {}}
            ])),
        );
        files.insert(
            "docker/stats.json".into(),
            pretty(&json!([{"id": "1", "name": rc_name, "cpu_percent": 3.5, "memory_usage_bytes": 900_000_000u64, "memory_limit_bytes": 16 * GIB}])),
        );
        let log_path = format!("logs/{rc_name}.log");
        let log = rc_log(version, &[]);
        files.insert(
            "logs/index.json".into(),
            pretty(&json!([{"container": rc_name, "id": "1", "file": log_path, "lines": log.lines().count(),
                            "bytes": log.len(), "truncated": false, "truncated_by": null,
                            "since": "2026-11-25T05:00:00Z", "error": null}])),
        );
        files.insert(log_path, log.into_bytes());
        files.insert(
            "mongodb/summary.json".into(),
            pretty(&json!({
                "uri_source": format!("container:{rc_name}"), "server": "mongodb:27017", "version": "8.0.4",
                "storage_engine": "wiredTiger",
                "replica_set": {"state": "replica-set", "set_name": "rs0", "primary": "mongodb:27017",
                                "members": [{"name": "mongodb:27017", "state": "PRIMARY", "health": 1, "lag_seconds": 0}],
                                "error": null},
                "too_old": null,
                "commands": {"buildInfo": "ok", "serverStatus": "ok", "replSetGetStatus": "ok"},
                "database": "rocketchat"
            })),
        );
        files.insert(
            "mongodb/buildInfo.json".into(),
            pretty(&json!({"ok": true, "reply": {"version": "8.0.4", "gitVersion": "0", "storageEngines": ["wiredTiger"]}})),
        );
        files.insert(
            "rocketchat/summary.json".into(),
            pretty(&json!({
                "version": {"value": version, "sources": {"statistics": version, "image_tag": version, "startup_log": version, "api_info": null}},
                "unique_id": "abc123", "site_url": "https://chat.example.com",
                "users": {"total": 120, "active_humans": 100, "online": 12, "concurrent": 20, "concurrent_source": "statistics.totalConnectedUsers"},
                "instances": {"live": 1, "total": 1, "window_seconds": 120,
                              "list": [{"id": "i1", "host": "172.18.0.3", "port": 3000, "updated_at": "2026-11-26T04:59:55Z", "live": true}]},
                "deploy": {"method": "docker", "platform": "compose"},
                "prometheus": {"enabled": true, "port": 9458},
                "endpoints": [],
                "statistics_created_at": "2026-11-26T04:00:00Z"
            })),
        );
        files.insert(
            "rocketchat/settings.json".into(),
            pretty(&json!({"Prometheus_Enabled": true, "Prometheus_Port": 9458, "Site_Url": "https://chat.example.com"})),
        );
        files.insert(
            "rocketchat/statistics.json".into(),
            pretty(&json!({"version": version, "totalUsers": 120, "activeUsers": 100, "onlineUsers": 12, "totalConnectedUsers": 20,
                           "instanceCount": 1, "oplogEnabled": true, "mongoVersion": "8.0.4", "mongoStorageEngine": "wiredTiger",
                           "deploy": {"method": "docker", "platform": "compose"}, "createdAt": "2026-11-26T04:00:00Z"})),
        );
        let mut node = Node {
            hostname: hostname.to_string(),
            machine_id_hash: Some(format!(
                "sha256:{:0>64}",
                hostname
                    .bytes()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )),
            files,
            collectors: Vec::new(),
        };
        node.collectors = ["host", "docker", "logs", "mongodb", "rocketchat"]
            .iter()
            .map(|name| node.collector(name, CollectorStatus::Ok, None))
            .collect();
        node
    }

    /// A collector record listing the files under `name/` (`logs` for logs).
    pub fn collector(
        &self,
        name: &str,
        status: CollectorStatus,
        error: Option<&str>,
    ) -> CollectorRecord {
        CollectorRecord {
            name: name.to_string(),
            status,
            started_at: "2026-11-26T05:00:00Z".to_string(),
            duration_ms: 1200,
            error: error.map(str::to_string),
            files: self
                .files
                .keys()
                .filter(|p| p.starts_with(&format!("{name}/")))
                .cloned()
                .collect(),
        }
    }

    /// Edits the JSON file `path` in place.
    pub fn edit(&mut self, path: &str, f: impl FnOnce(&mut Value)) -> &mut Self {
        let bytes = self
            .files
            .get(path)
            .unwrap_or_else(|| panic!("fixture has no {path}"));
        let mut v: Value = serde_json::from_slice(bytes).expect("fixture json");
        f(&mut v);
        self.files.insert(path.to_string(), pretty(&v));
        self
    }

    /// Edits the container named `name` in `docker/containers.json`.
    pub fn edit_container(&mut self, name: &str, f: impl FnOnce(&mut Value)) -> &mut Self {
        self.edit("docker/containers.json", |v| {
            let c = v
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|c| c["name"] == name))
                .unwrap_or_else(|| panic!("no container {name}"));
            f(c);
        })
    }

    /// Appends lines to the Rocket.Chat log.
    pub fn append_log(&mut self, lines: &[&str]) -> &mut Self {
        let log = self
            .files
            .get_mut("logs/rocketchat-rocketchat-1.log")
            .expect("log");
        for l in lines {
            log.extend_from_slice(l.as_bytes());
            log.push(b'\n');
        }
        self
    }

    /// Writes the bundle to `path`, signed by `key`.
    pub fn write(&self, path: &Path, protect: Protect<'_>, key: &NodeKey) -> PathBuf {
        let encryption = match protect {
            Protect::Age(r) => Encryption::Age {
                recipients: vec![Recipient::parse(r).expect("recipient")],
                armor: false,
            },
            Protect::Plain => Encryption::None,
        };
        let mut w = BundleWriter::create(WriterOptions {
            out: path.to_path_buf(),
            encryption,
            signer: key.clone(),
            agent: AgentInfo {
                name: "rcdiag-agent".into(),
                version: "0.1.0".into(),
            },
            node: NodeInfo {
                hostname: self.hostname.clone(),
                machine_id_hash: self.machine_id_hash.clone(),
                labels: BTreeMap::from([("case".to_string(), "CASE-1234".to_string())]),
            },
            compression_level: None,
        })
        .expect("create bundle");
        for (p, data) in &self.files {
            w.add_bytes(p, data).expect("add file");
        }
        for c in &self.collectors {
            w.record_collector(c.clone());
        }
        w.finish().expect("finish bundle").path
    }
}
