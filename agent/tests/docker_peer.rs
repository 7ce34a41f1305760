//! The docker and logs collectors against a REAL Docker Engine (the private one of
//! `scripts/test-env start`, named by `RCDIAG_TEST_DOCKER_HOST`).
//!
//! Each run creates, with unique names, a realistic Rocket.Chat deployment: two
//! Rocket.Chat containers (compose labels, `MONGO_URL` with a password, `ADMIN_PASS`,
//! restart policy, pino JSON lines, the SERVER RUNNING box, a bearer token and the
//! `MONGO_URL` in clear, on stdout and stderr), a mongo and a prometheus container, a
//! container that exited, and one with `--log-driver none`. The collectors write into a
//! real bundle that is then opened again; the containers are removed even when an
//! assertion fails. Also: an endpoint that accepts and never answers (with the default
//! `--timeout` the collectors must still be waiting after 2 s: the orchestrator owns the
//! time limit; with `--timeout 2s` they give up by themselves and say what to check), and
//! a missing socket (skipped, with what to do).
//!
//! Without the peer these tests print SKIPPED (or fail under `RCDIAG_REQUIRE_PEERS=1`).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use common::{docker_collector, logs_collector, require_peer, run_collectors};
use futures_util::StreamExt;
use rcdiag_agent::collectors::{LogSource, Options, docker, logs};
use rcdiag_bundle::CollectorStatus;
use serde_json::Value;

const PEER: &str = "RCDIAG_TEST_DOCKER_HOST";

const MONGO_PASSWORD: &str = "Sup3rS3cretPw";
const MONGO_URL: &str = "mongodb://rcuser:Sup3rS3cretPw@mongo:27017/rocketchat?replicaSet=rs0";
const ADMIN_PASS: &str = "AdminPass123!";
const BEARER: &str = "Zq8xK2mNvB4tR7yW1pL9eH3c";
const SECRETS: &[&str] = &[MONGO_PASSWORD, ADMIN_PASS, BEARER, "rcuser:Sup3rS3cretPw"];

const RC_IMAGE: &str = "rocketchat/rocket.chat:8.5.0";
const LAST_LINE: &str = "rcdiag-test-last-line";
/// Lines each Rocket.Chat container prints (see [`rc_script`]).
const RC_LINES: usize = 1 + 14 + 4 + 40 + 1;

/// What a Rocket.Chat container prints: pino JSON, the startup box (facts §9, as in
/// `shared/fixtures/rocketchat/log.server-running.8.x.txt`), an error on stderr, a
/// bearer token and the MONGO_URL in clear (stderr), the admin password in clear (only
/// the exact-secret scan can catch that one), 40 more pino lines, then a last marker.
fn rc_script(host: &str) -> String {
    let pino = |level: u32, section: &str, msg: &str| {
        format!(
            r#"{{"level":{level},"time":"2026-11-26T05:00:00.000Z","pid":1,"hostname":"{host}","name":"RocketChat","section":"{section}","msg":"{msg}"}}"#
        )
    };
    let boxed = [
        "+---------------------------------------------------------+",
        "|                      SERVER RUNNING                     |",
        "+---------------------------------------------------------+",
        "|                                                         |",
        "|  Rocket.Chat Version: 8.5.0                             |",
        "|       NodeJS Version: 22.16.0 - x64                     |",
        "|      MongoDB Version: 8.0.4                             |",
        "|       MongoDB Engine: wiredTiger                        |",
        "|             Platform: linux                             |",
        "|         Process Port: 3000                              |",
        "|             Site URL: https://chat.example.com          |",
        "|          Commit Hash: 7137ec80f3                        |",
        "|        Commit Branch: HEAD                              |",
        "+---------------------------------------------------------+",
    ];
    let mut s = String::new();
    s.push_str(&format!(
        "echo '{}'\n",
        pino(30, "Startup", "Starting Rocket.Chat")
    ));
    for line in boxed {
        s.push_str(&format!("echo '{line}'\n"));
    }
    s.push_str(&format!(
        "echo '{}' >&2\n",
        pino(
            50,
            "MongoDB",
            "MongoServerSelectionError: Server selection timed out after 10000 ms"
        )
    ));
    s.push_str(&format!(
        "echo 'GET /api/v1/me Authorization: Bearer {BEARER}' >&2\n"
    ));
    s.push_str("echo \"connecting to $MONGO_URL\" >&2\n");
    s.push_str("echo \"initial admin created with $ADMIN_PASS\"\n");
    // The engine stamps each stream as it reads it: let stderr be read before the rest.
    s.push_str("sleep 1\n");
    s.push_str(&format!(
        "i=0; while [ $i -lt 40 ]; do echo \"{{\\\"level\\\":30,\\\"msg\\\":\\\"tick $i\\\",\\\"hostname\\\":\\\"{host}\\\"}}\"; i=$((i+1)); done\n"
    ));
    s.push_str(&format!("echo '{LAST_LINE}'\nexec sleep 3600\n"));
    s
}

/// Containers created by a test; removed (forced, with their anonymous volumes) on drop,
/// also when the test fails.
struct Deployment {
    endpoint: String,
    ids: Vec<String>,
    names: HashMap<&'static str, String>,
}

impl Deployment {
    fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.to_string(),
            ids: Vec::new(),
            names: HashMap::new(),
        }
    }

    /// Creates container `name` from `body`, records it (as `key`), and starts it.
    async fn start(
        &mut self,
        docker: &Docker,
        key: &'static str,
        name: &str,
        body: ContainerCreateBody,
    ) {
        let created = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(name).build()),
                body,
            )
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        self.ids.push(created.id.clone());
        self.names.insert(key, name.to_string());
        docker
            .start_container(&created.id, None)
            .await
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut self.ids);
        let endpoint = self.endpoint.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(docker) = connect(&endpoint) else {
                    return;
                };
                for id in ids {
                    let opts = RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build();
                    if let Err(e) = docker.remove_container(&id, Some(opts)).await {
                        eprintln!("cleanup: could not remove container {id}: {e}");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn connect(endpoint: &str) -> Result<Docker, bollard::errors::Error> {
    if endpoint.starts_with("unix://") || endpoint.starts_with('/') {
        Docker::connect_with_unix(endpoint, 60, bollard::API_DEFAULT_VERSION)
    } else {
        Docker::connect_with_http(endpoint, 60, bollard::API_DEFAULT_VERSION)
    }
}

/// Makes `image` from a busybox root file system when the engine lacks it (the engine
/// cannot pull), as `scripts/make-images` does.
fn ensure_image(endpoint: &str, image: &str, docker_has_it: bool) {
    if docker_has_it {
        return;
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("image {image} is missing and no busybox to make it: apt-get install busybox-static, or run scripts/make-images"));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).expect("rootfs");
    std::fs::create_dir_all(root.join("tmp")).expect("rootfs");
    std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
    for applet in ["sh", "echo", "sleep", "cat", "printf", "true", "false"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("applet link");
    }
    let tar = dir.path().join("rootfs.tar");
    let status = std::process::Command::new("tar")
        .args(["-C"])
        .arg(&root)
        .args(["--owner=0", "--group=0", "--numeric-owner", "-cf"])
        .arg(&tar)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar of the busybox rootfs failed");
    let mut cmd = std::process::Command::new("docker");
    cmd.args(["-H", endpoint, "import"]);
    if image.contains("rocket.chat") {
        cmd.args(["--change", "LABEL maintainer=buildmaster@rocket.chat"]);
        cmd.args([
            "--change",
            "LABEL org.opencontainers.image.source=https://github.com/RocketChat/Rocket.Chat",
        ]);
        cmd.args(["--change", "ENV DEPLOY_METHOD=docker"]);
    }
    cmd.arg(&tar).arg(image);
    let out = cmd
        .output()
        .expect("run `docker import` (the docker CLI is needed to make test images)");
    assert!(
        out.status.success(),
        "docker import {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Spec {
    key: &'static str,
    image: &'static str,
    service: &'static str,
    number: &'static str,
    env: Vec<String>,
    script: String,
    log_none: bool,
}

/// Creates and starts the deployment; waits until every running container has printed its last line.
async fn deploy(endpoint: &str) -> Deployment {
    let docker = connect(endpoint).expect("connect to the test engine");
    let run = uuid::Uuid::now_v7().simple().to_string();
    let run = &run[run.len() - 10..];
    let project = format!("rcdiagt{run}");
    let rc_env = |n: u32| {
        vec![
            format!("MONGO_URL={MONGO_URL}"),
            format!("ADMIN_PASS={ADMIN_PASS}"),
            "DEPLOY_METHOD=docker".to_string(),
            "DEPLOY_PLATFORM=compose".to_string(),
            "ROOT_URL=https://chat.example.com".to_string(),
            "PORT=3000".to_string(),
            format!("INSTANCE_IP=10.0.0.{n}"),
        ]
    };
    let specs = vec![
        Spec {
            key: "rc1",
            image: RC_IMAGE,
            service: "rocketchat",
            number: "1",
            env: rc_env(1),
            script: rc_script("rc1"),
            log_none: false,
        },
        Spec {
            key: "rc2",
            image: RC_IMAGE,
            service: "rocketchat",
            number: "2",
            env: rc_env(2),
            script: rc_script("rc2"),
            log_none: false,
        },
        Spec {
            key: "mongo",
            image: "mongo:8.0",
            service: "mongodb",
            number: "1",
            env: vec!["MONGODB_REPLICA_SET_MODE=primary".into()],
            script: format!(
                "echo '{{\"t\":{{\"$date\":\"2026-11-26T05:00:00.000+00:00\"}},\"s\":\"I\",\"c\":\"NETWORK\",\"id\":23016,\"ctx\":\"listener\",\"msg\":\"Waiting for connections\",\"attr\":{{\"port\":27017,\"ssl\":\"off\"}}}}'\necho '{LAST_LINE}'\nexec sleep 3600\n"
            ),
            log_none: false,
        },
        Spec {
            key: "prometheus",
            image: "prom/prometheus:v3.0.0",
            service: "prometheus",
            number: "1",
            env: vec![],
            script: format!(
                "echo 'time=2026-11-26T05:00:00Z level=INFO msg=\"Server is ready to receive web requests.\"' >&2\necho '{LAST_LINE}'\nexec sleep 3600\n"
            ),
            log_none: false,
        },
        Spec {
            key: "setup",
            image: RC_IMAGE,
            service: "rocketchat-setup",
            number: "1",
            env: rc_env(9),
            script: "echo 'migration failed' >&2; exit 3\n".into(),
            log_none: false,
        },
        Spec {
            key: "nolog",
            image: RC_IMAGE,
            service: "nolog",
            number: "1",
            env: vec![format!("MONGO_URL={MONGO_URL}")],
            script: format!("echo 'nobody reads this'\necho '{LAST_LINE}'\nexec sleep 3600\n"),
            log_none: true,
        },
    ];
    for image in [
        "rocketchat/rocket.chat:8.5.0",
        "mongo:8.0",
        "prom/prometheus:v3.0.0",
    ] {
        let present = docker.inspect_image(image).await.is_ok();
        ensure_image(endpoint, image, present);
    }

    let mut dep = Deployment::new(endpoint);
    for spec in &specs {
        let name = format!("{project}-{}-{}", spec.service, spec.number);
        let labels: HashMap<String, String> = [
            ("com.docker.compose.project", project.as_str()),
            ("com.docker.compose.service", spec.service),
            ("com.docker.compose.container-number", spec.number),
            ("com.docker.compose.version", "2.29.7"),
            ("com.docker.compose.oneoff", "False"),
            (
                "com.docker.compose.project.config_files",
                "/opt/rocketchat/compose.yml",
            ),
            ("com.docker.compose.project.working_dir", "/opt/rocketchat"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body = ContainerCreateBody {
            image: Some(spec.image.to_string()),
            cmd: Some(vec!["sh".into(), "-c".into(), spec.script.clone()]),
            env: Some(spec.env.clone()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                restart_policy: Some(RestartPolicy {
                    name: Some(if spec.key == "setup" {
                        RestartPolicyNameEnum::NO
                    } else {
                        RestartPolicyNameEnum::UNLESS_STOPPED
                    }),
                    maximum_retry_count: None,
                }),
                log_config: spec.log_none.then(|| HostConfigLogConfig {
                    typ: Some("none".into()),
                    config: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        dep.start(&docker, spec.key, &name, body).await;
    }

    // Wait until the readable running containers printed their last line, and the setup one exited.
    let deadline = Instant::now() + Duration::from_secs(30);
    for key in ["rc1", "rc2", "mongo", "prometheus"] {
        let name = &dep.names[key];
        loop {
            let mut stream = docker.logs(name, Some(all_logs()));
            let mut seen = false;
            while let Some(Ok(item)) = stream.next().await {
                if String::from_utf8_lossy(item.as_ref()).contains(LAST_LINE) {
                    seen = true;
                }
            }
            if seen {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not print its last line within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let setup = &dep.names["setup"];
    loop {
        let state = docker
            .inspect_container(setup, None)
            .await
            .ok()
            .and_then(|c| c.state);
        if state.as_ref().and_then(|s| s.running) == Some(false) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{setup} did not exit within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dep
}

/// Engine API logs options: stdout and stderr, every line.
fn all_logs() -> bollard::query_parameters::LogsOptions {
    LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail("all")
        .build()
}

/// The logs collector alone, with `options`, into a bundle.
async fn run_logs(options: Options) -> common::Run {
    run_collectors(options, &[("logs", logs_collector)]).await
}

fn options(endpoint: &str) -> Options {
    Options {
        docker_host: Some(endpoint.to_string()),
        timeout: Duration::from_secs(60),
        ..Options::default()
    }
}

fn find<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|c| c[key].as_str() == Some(name)))
        .unwrap_or_else(|| panic!("{name} not found in {list:#}"))
}

/// Every log of a run by container name: (index `source`, text).
fn logs_by_container(run: &mut common::Run) -> HashMap<String, (String, String)> {
    let index = run.json("logs/index.json");
    let mut out = HashMap::new();
    for entry in index.as_array().expect("index") {
        if let Some(file) = entry["file"].as_str() {
            let text = run.text(file);
            out.insert(
                entry["container"].as_str().expect("name").to_string(),
                (entry["source"].as_str().unwrap_or("-").to_string(), text),
            );
        }
    }
    out
}

/// Whether this agent can read the cgroup of a running container (root, local engine,
/// same pid namespace as the engine's containers).
async fn cgroup_readable(endpoint: &str, name: &str) -> bool {
    let docker = connect(endpoint).expect("connect");
    let c = docker
        .inspect_container(name, None)
        .await
        .unwrap_or_else(|e| panic!("inspect {name}: {e}"));
    let (Some(id), Some(pid)) = (c.id, c.state.and_then(|s| s.pid)) else {
        return false;
    };
    let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    endpoint.starts_with("unix://")
        && rcdiag_agent::sources::cgroup::locate(&id, &proc_cgroup, &mountinfo).is_some()
}

/// `file` when this user can read the container's json-file log (root beside a local
/// engine, as in CI), else `engine`.
async fn expected_source(endpoint: &str, name: &str) -> &'static str {
    let docker = connect(endpoint).expect("connect");
    let c = docker
        .inspect_container(name, None)
        .await
        .unwrap_or_else(|e| panic!("inspect {name}: {e}"));
    let readable = c
        .log_path
        .as_deref()
        .is_some_and(|p| std::fs::File::open(p).is_ok());
    if readable && endpoint.starts_with("unix://") {
        "file"
    } else {
        "engine"
    }
}

fn log_lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// The full deployment: docker + logs collectors into one bundle, then the caps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_is_collected_whole_capped_and_without_secrets() {
    let Some(endpoint) = require_peer(PEER) else {
        return;
    };
    let dep = deploy(&endpoint).await;
    let collectors: &[(&str, common::CollectFn)] =
        &[("docker", docker_collector), ("logs", logs_collector)];

    // 1. Defaults.
    let mut run = run_collectors(options(&endpoint), collectors).await;
    assert_eq!(
        run.outcome("docker").status,
        CollectorStatus::Ok,
        "docker: {:?}",
        run.outcome("docker").message
    );
    let logs_outcome = run.outcome("logs").clone();
    assert_ne!(
        logs_outcome.status,
        CollectorStatus::Failed,
        "logs: {:?}",
        logs_outcome.message
    );
    if let Some(msg) = &logs_outcome.message {
        assert!(
            !msg.contains(&dep.names["nolog"]),
            "the none driver made the collector partial: {msg}"
        );
    }

    let version = run.json("docker/version.json");
    assert!(
        version["Version"].as_str().is_some_and(|v| !v.is_empty()),
        "{version:#}"
    );
    assert!(version["ApiVersion"].as_str().is_some(), "{version:#}");
    assert!(
        version["negotiated_api_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{version:#}"
    );
    let info = run.json("docker/info.json");
    for key in [
        "ServerVersion",
        "NCPU",
        "MemTotal",
        "Driver",
        "LoggingDriver",
        "DockerRootDir",
        "Containers",
    ] {
        assert!(!info[key].is_null(), "info.json lacks {key}: {info:#}");
    }
    assert!(info["Swarm"]["LocalNodeState"].is_string(), "{info:#}");

    let containers = run.json("docker/containers.json");
    for key in ["rc1", "rc2", "mongo", "prometheus", "setup", "nolog"] {
        let name = &dep.names[key];
        let c = find(&containers, "name", name);
        assert!(c["id"].as_str().is_some_and(|id| id.len() == 64), "{c:#}");
        assert!(
            c["image_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("sha256:")),
            "{c:#}"
        );
        assert!(c["created"].is_string(), "{c:#}");
        assert_eq!(
            c["labels"]["com.docker.compose.project"].as_str(),
            name.split('-').next(),
            "{c:#}"
        );
        assert!(
            c["labels"]["com.docker.compose.service"].is_string(),
            "{c:#}"
        );
        assert!(
            c["cmd"]
                .as_array()
                .is_some_and(|a| a.first().and_then(Value::as_str) == Some("sh")),
            "{c:#}"
        );
    }
    let rc1 = find(&containers, "name", &dep.names["rc1"]);
    assert_eq!(rc1["image"], RC_IMAGE);
    assert_eq!(
        rc1["image_labels"]["maintainer"], "buildmaster@rocket.chat",
        "{rc1:#}"
    );
    assert_eq!(
        rc1["image_labels"]["org.opencontainers.image.source"],
        "https://github.com/RocketChat/Rocket.Chat"
    );
    assert_eq!(rc1["state"]["status"], "running");
    assert_eq!(rc1["state"]["running"], true);
    assert_eq!(rc1["restart_policy"]["name"], "unless-stopped");
    assert_eq!(rc1["log_driver"], "json-file");
    let env: Vec<&str> = rc1["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"DEPLOY_METHOD=docker"), "{env:?}");
    assert!(
        env.contains(&"ROOT_URL=https://chat.example.com"),
        "{env:?}"
    );
    assert!(
        env.contains(
            &"MONGO_URL=mongodb://rcuser:***REDACTED:uri-userinfo***@mongo:27017/rocketchat?replicaSet=rs0"
        ),
        "MONGO_URL keeps its topology, loses its credentials: {env:?}"
    );
    assert!(
        env.contains(&"ADMIN_PASS=***REDACTED:env-secret***"),
        "{env:?}"
    );
    let setup = find(&containers, "name", &dep.names["setup"]);
    assert_eq!(setup["state"]["status"], "exited");
    assert_eq!(setup["state"]["exit_code"], 3);
    assert_eq!(setup["restart_policy"]["name"], "no");
    assert_eq!(
        find(&containers, "name", &dep.names["nolog"])["log_driver"],
        "none"
    );

    let images = run.json("docker/images.json");
    let rc_image = images
        .as_array()
        .and_then(|a| {
            a.iter().find(|i| {
                i["repo_tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == RC_IMAGE))
            })
        })
        .unwrap_or_else(|| panic!("{RC_IMAGE} not in images.json: {images:#}"));
    assert_eq!(rc_image["labels"]["maintainer"], "buildmaster@rocket.chat");
    assert!(rc_image["size_bytes"].as_i64().is_some_and(|s| s > 0));
    assert!(rc_image["created"].is_string());

    let stats = run.json("docker/stats.json");
    for key in ["rc1", "rc2", "mongo", "prometheus", "nolog"] {
        let s = find(&stats, "name", &dep.names[key]);
        assert!(
            s["cpu_percent"].as_f64().is_some_and(|p| p >= 0.0),
            "CPU % needs the previous sample: {s:#}"
        );
        assert!(
            s["memory_usage_bytes"].as_u64().is_some_and(|m| m > 0),
            "{s:#}"
        );
        assert!(
            s["memory_limit_bytes"].as_u64().is_some_and(|m| m > 0),
            "{s:#}"
        );
        // Root beside a local engine (as in CI) reads the cgroup; otherwise the engine.
        let expected = if cgroup_readable(&endpoint, &dep.names[key]).await {
            "cgroup"
        } else {
            "engine"
        };
        assert_eq!(s["source"], expected, "{s:#}");
    }
    // The cgroup reading agrees with the engine's own sample of the same (idle) container.
    let name = &dep.names["mongo"];
    if cgroup_readable(&endpoint, name).await {
        let ours = find(&stats, "name", name).clone();
        let docker = connect(&endpoint).expect("connect");
        let opts = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .build();
        let api = docker
            .stats(name, Some(opts))
            .next()
            .await
            .expect("a sample")
            .expect("stats");
        let api_memory = api.memory_stats.as_ref().and_then(|m| m.limit);
        assert_eq!(
            ours["memory_limit_bytes"].as_u64(),
            api_memory,
            "the limit is capped at the host's memory as the engine does"
        );
        let api_cpus = api.cpu_stats.as_ref().and_then(|c| c.online_cpus);
        assert_eq!(ours["online_cpus"].as_u64(), api_cpus.map(u64::from));
        // An idle shell: both well under one CPU.
        assert!(ours["cpu_percent"].as_f64().is_some_and(|p| p < 50.0));
    }
    assert!(
        stats
            .as_array()
            .expect("stats")
            .iter()
            .all(|s| s["name"] != dep.names["setup"].as_str()),
        "an exited container has no stats sample"
    );

    let index = run.json("logs/index.json");
    for key in ["rc1", "rc2"] {
        let name = &dep.names[key];
        let entry = find(&index, "container", name);
        let file = format!("logs/{name}.log");
        assert_eq!(entry["file"], file.as_str(), "{entry:#}");
        assert_eq!(entry["truncated"], false, "{entry:#}");
        assert!(entry["truncated_by"].is_null(), "{entry:#}");
        assert!(entry["error"].is_null(), "{entry:#}");
        assert!(entry["since"].is_string(), "{entry:#}");
        let text = run.text(&file);
        let lines = log_lines(&text);
        assert_eq!(lines.len(), RC_LINES, "{text}");
        assert_eq!(entry["lines"], RC_LINES as u64);
        assert_eq!(entry["bytes"], text.len() as u64);
        for line in &lines {
            let mut parts = line.splitn(3, ' ');
            let ts = parts.next().unwrap_or_default();
            assert!(
                ts.parse::<jiff::Timestamp>().is_ok(),
                "not an RFC 3339 timestamp: {line}"
            );
            assert!(
                matches!(parts.next(), Some("stdout" | "stderr")),
                "no stream name: {line}"
            );
        }
        // A line holds every one of the needles.
        let has = |needles: &[&str]| lines.iter().any(|l| needles.iter().all(|n| l.contains(n)));
        for needles in [
            &[" stdout ", "SERVER RUNNING"][..],
            &["|  Rocket.Chat Version: 8.5.0"],
            &[" stdout ", r#""msg":"Starting Rocket.Chat""#],
            &[" stderr ", "MongoServerSelectionError"],
            &[" stderr ", "Bearer ***REDACTED:bearer-token***"],
            &[
                " stderr connecting to mongodb://rcuser:***REDACTED:uri-userinfo***@",
                "mongo:27017/rocketchat?replicaSet=rs0",
            ],
        ] {
            assert!(has(needles), "{needles:?}: {text}");
        }
        assert!(
            lines
                .iter()
                .any(|l| l
                    .ends_with(" stdout initial admin created with ***REDACTED:exact-secret***")),
            "the admin password is replaced, the rest of its line kept: {text}"
        );
        assert!(
            lines
                .last()
                .is_some_and(|l| l.ends_with(&format!(" stdout {LAST_LINE}"))),
            "{text}"
        );
    }
    for key in ["mongo", "prometheus", "setup"] {
        let name = &dep.names[key];
        let entry = find(&index, "container", name);
        assert!(entry["error"].is_null(), "{entry:#}");
        let text = run.text(&format!("logs/{name}.log"));
        assert!(!text.is_empty(), "{name} log is empty");
    }
    assert!(
        run.text(&format!("logs/{}.log", dep.names["prometheus"]))
            .contains(" stderr time=")
    );
    assert!(
        run.text(&format!("logs/{}.log", dep.names["setup"]))
            .contains(" stderr migration failed")
    );
    let nolog = find(&index, "container", &dep.names["nolog"]);
    assert!(nolog["file"].is_null(), "{nolog:#}");
    assert_eq!(nolog["log_driver"], "none");
    assert!(
        nolog["error"]
            .as_str()
            .is_some_and(|e| e.contains("none") && e.contains("read")),
        "{nolog:#}"
    );
    assert!(!run.has(&format!("logs/{}.log", dep.names["nolog"])));
    run.assert_no_secret(SECRETS);

    // 1b. Read from the json-file logs (when this user can) or through the Engine API,
    // the same lines come out.
    let from_auto = logs_by_container(&mut run);
    let mut via_engine = run_logs(Options {
        log_source: LogSource::Engine,
        ..options(&endpoint)
    })
    .await;
    let from_engine = logs_by_container(&mut via_engine);
    for key in ["rc1", "rc2", "mongo", "prometheus", "setup"] {
        let name = &dep.names[key];
        let (auto_source, auto_text) = &from_auto[name];
        let (engine_source, engine_text) = &from_engine[name];
        assert_eq!(engine_source, "engine", "{name}");
        assert_eq!(
            auto_source,
            expected_source(&endpoint, name).await,
            "{name}"
        );
        assert_same_lines(name, auto_text, engine_text);
    }
    via_engine.assert_no_secret(SECRETS);

    // 2. --log-lines 5: the 5 newest lines, flagged.
    // Both sources: the files (window found backward) and the engine (one pass, the
    // newest lines kept in memory).
    for log_source in [LogSource::Auto, LogSource::Engine] {
        let mut run = run_logs(Options {
            log_lines: 5,
            log_source,
            ..options(&endpoint)
        })
        .await;
        let index = run.json("logs/index.json");
        for key in ["rc1", "rc2"] {
            let name = &dep.names[key];
            let entry = find(&index, "container", name);
            assert_eq!(entry["lines"], 5, "{entry:#}");
            assert_eq!(entry["truncated"], true, "{entry:#}");
            assert_eq!(entry["truncated_by"], "lines", "{entry:#}");
            let file = format!("logs/{name}.log");
            assert!(
                run.bundle.entry(&file).is_some_and(|r| r.truncated),
                "the manifest marks {file} truncated"
            );
            let text = run.text(&file);
            let lines = log_lines(&text);
            assert_eq!(lines.len(), 5, "{text}");
            assert!(
                lines[4].ends_with(LAST_LINE),
                "the newest lines are kept: {text}"
            );
            assert!(lines[0].contains("tick 36"), "{text}");
        }
        run.assert_no_secret(SECRETS);
    }

    // 3. A small --log-bytes: under the cap, the newest lines, flagged.
    // Both sources: the files (window found backward) and the engine (one pass, the
    // newest lines kept in memory).
    for log_source in [LogSource::Auto, LogSource::Engine] {
        let cap = 600u64;
        let mut run = run_logs(Options {
            log_bytes: cap,
            log_source,
            ..options(&endpoint)
        })
        .await;
        let index = run.json("logs/index.json");
        for key in ["rc1", "rc2"] {
            let name = &dep.names[key];
            let entry = find(&index, "container", name);
            assert_eq!(entry["truncated"], true, "{entry:#}");
            assert_eq!(entry["truncated_by"], "bytes", "{entry:#}");
            let text = run.text(&format!("logs/{name}.log"));
            assert!(text.len() as u64 <= cap, "{} bytes > cap {cap}", text.len());
            assert!(
                text.len() as u64 > cap / 2,
                "the cap is used, not wasted: {} bytes",
                text.len()
            );
            assert_eq!(entry["bytes"], text.len() as u64);
            assert!(
                text.trim_end().ends_with(LAST_LINE),
                "the newest lines are kept: {text}"
            );
        }
        run.assert_no_secret(SECRETS);
    }
    drop(dep);
}

/// Rotated json-file logs (`max-size`), a compressed rotation, a TTY container and a
/// line the driver splits (over 16 KiB): read from the files they give exactly the
/// Engine API's lines; a window reaching into a compressed rotation is read through
/// the engine instead, and a window that does not, from the files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_compressed_and_tty_logs_read_from_files_match_the_engine() {
    let Some(endpoint) = require_peer(PEER) else {
        return;
    };
    let docker = connect(&endpoint).expect("connect to the test engine");
    ensure_image(
        &endpoint,
        RC_IMAGE,
        docker.inspect_image(RC_IMAGE).await.is_ok(),
    );
    let run = uuid::Uuid::now_v7().simple().to_string();
    let run = &run[run.len() - 10..];
    let mut dep = Deployment::new(&endpoint);
    // 400 numbered lines, every third on stderr, a few long ones (not on the TTY, see
    // below), then the marker. The last long line comes at 390: its 16 KiB records
    // each fill a file of the 8 KiB rotations, so the ten records after it start a
    // fresh current file and the last 5 lines never reach into a gzip rotation (after
    // a long line at 300, the hundred records left made the current file hold 4 or 5
    // lines, depending on the timestamps' lengths).
    let script = |long: bool| {
        format!(
            "l=x; for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do l=$l$l; done; \
             i=0; while [ $i -lt 400 ]; do if [ $((i % 3)) = 0 ]; then echo \"err $i\" >&2; else echo \"out $i: some text\"; fi; \
             if [ {long} = true ] && [ $((i % 130)) = 0 ]; then echo \"$l$l\"; fi; i=$((i+1)); done; \
             echo '{LAST_LINE}'; exec sleep 3600"
        )
    };
    let opts = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let specs: [(&'static str, bool, HashMap<String, String>); 4] = [
        (
            "rotated",
            false,
            opts(&[("max-size", "8k"), ("max-file", "50")]),
        ),
        (
            "compressed",
            false,
            opts(&[("max-size", "8k"), ("max-file", "50"), ("compress", "true")]),
        ),
        ("tty", true, HashMap::new()),
        ("plain", false, HashMap::new()),
    ];
    for (key, tty, log_opts) in specs {
        let name = format!("rcdiagt{run}-{key}");
        let body = ContainerCreateBody {
            image: Some(RC_IMAGE.to_string()),
            // A TTY log is a byte stream: the engine glues a record cut mid-line to the
            // next one's timestamp, the file keeps them apart, so no long lines there.
            cmd: Some(vec!["sh".into(), "-c".into(), script(!tty)]),
            tty: Some(tty),
            host_config: Some(HostConfig {
                log_config: Some(HostConfigLogConfig {
                    typ: Some("json-file".into()),
                    config: Some(log_opts),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        dep.start(&docker, key, &name, body).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in dep.names.values() {
        loop {
            let mut stream = docker.logs(name, Some(all_logs()));
            let mut seen = false;
            let mut got = Vec::new();
            while let Some(item) = stream.next().await {
                let item = item.map(|i| String::from_utf8_lossy(i.as_ref()).into_owned());
                seen |= item.as_ref().is_ok_and(|t| t.contains(LAST_LINE));
                got.push(format!("{item:?}").chars().take(200).collect::<String>());
                if got.len() > 3 {
                    got.remove(0);
                }
            }
            if seen {
                break;
            }
            if Instant::now() >= deadline {
                let state = docker.inspect_container(name, None).await.map(|c| c.state);
                panic!("{name} did not finish within 60 s: state {state:?}, last records {got:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let rotated = docker
        .inspect_container(&dep.names["rotated"], None)
        .await
        .expect("inspect")
        .log_path
        .expect("LogPath");
    let can_read_files = expected_source(&endpoint, &dep.names["plain"]).await == "file";
    if can_read_files {
        assert!(
            Path::new(&format!("{rotated}.3")).exists(),
            "the engine rotated the log into several files"
        );
    }

    for log_lines in [10_000u64, 5] {
        let mut by_file = run_logs(Options {
            log_lines,
            ..options(&endpoint)
        })
        .await;
        let mut by_engine = run_logs(Options {
            log_lines,
            log_source: LogSource::Engine,
            ..options(&endpoint)
        })
        .await;
        let (files, engine) = (
            logs_by_container(&mut by_file),
            logs_by_container(&mut by_engine),
        );
        for (key, name) in &dep.names {
            let (source, text) = &files[name];
            let expected = match (*key, log_lines) {
                _ if !can_read_files => "engine",
                // The whole log reaches into the gzip rotations: the engine reads those.
                ("compressed", 10_000) => "engine",
                _ => "file",
            };
            assert_eq!(source, expected, "{name} with --log-lines {log_lines}");
            assert_same_lines(
                &format!("{name} --log-lines {log_lines}"),
                text,
                &engine[name].1,
            );
            let lines = log_lines_of(text);
            if log_lines == 5 {
                assert_eq!(lines.len(), 5, "{name}");
            } else {
                assert!(lines.iter().any(|l| l.ends_with(LAST_LINE)), "{name}");
                // 400 lines + 4 long ones (64 KiB, split by the driver at 16 KiB) + the
                // marker (stdout and stderr are copied to the log by separate engine
                // routines: the marker need not be last).
                assert!(lines.len() > 400, "{name}: {} lines", lines.len());
                // A TTY has one stream, the process's stdout.
                let stream = if *key == "tty" { "stdout" } else { "stderr" };
                assert!(
                    lines
                        .iter()
                        .any(|l| l.contains(&format!(" {stream} err 399"))),
                    "{name}"
                );
            }
        }
    }
    drop(dep);
}

/// Fails at the first line where the two logs differ, showing only that line.
fn assert_same_lines(what: &str, from_file: &str, from_engine: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) =
        (from_file.lines().collect(), from_engine.lines().collect());
    let cut = |l: &str| l.chars().take(160).collect::<String>();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(
            cut(x),
            cut(y),
            "{what}: line {} differs (left: file source, right: engine)",
            i + 1
        );
        assert_eq!(x.len(), y.len(), "{what}: line {} differs in length", i + 1);
    }
    assert_eq!(
        a.len(),
        b.len(),
        "{what}: line counts differ (file, engine)"
    );
}

fn log_lines_of(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// An endpoint that accepts connections and never answers: the collectors keep waiting
/// (the orchestrator's time limit stops them), they neither return early nor panic.
#[tokio::test]
async fn silent_engine_keeps_the_collector_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("bind a test socket");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn); // accepted, never read nor answered
        }
    });
    let endpoint = format!("unix://{}", path.display());
    let collectors: [(&str, common::CollectFn); 2] =
        [("docker", docker_collector), ("logs", logs_collector)];
    for (name, collect) in collectors {
        let started = Instant::now();
        let res = tokio::time::timeout(
            Duration::from_secs(2),
            run_collectors(options(&endpoint), &[(name, collect)]),
        )
        .await;
        assert!(
            res.is_err(),
            "{name} returned instead of waiting on a silent engine: {:?}",
            res.map(|r| r.outcomes)
        );
        assert!(started.elapsed() >= Duration::from_secs(2));
    }
    // With a short --timeout both give up by themselves, saying what to check (the logs
    // collector before the orchestrator's limit, so it can still report).
    let short = Options {
        timeout: Duration::from_secs(2),
        ..options(&endpoint)
    };
    for (name, collect) in collectors {
        let started = Instant::now();
        let run = tokio::time::timeout(
            Duration::from_secs(10),
            run_collectors(short.clone(), &[(name, collect)]),
        )
        .await
        .unwrap_or_else(|_| panic!("{name} ignored its own --timeout"));
        let outcome = run.outcome(name);
        assert_eq!(
            outcome.status,
            CollectorStatus::Timeout,
            "{name}: {outcome:?}"
        );
        let msg = outcome.message.as_deref().unwrap_or_default();
        assert!(
            msg.contains(&endpoint) && msg.contains("--timeout"),
            "{name}: {msg}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
    }
    holder.abort();
}

/// No socket at the endpoint: skipped, with the endpoint and what to pass.
#[tokio::test]
async fn missing_socket_is_skipped_with_what_to_do() {
    let endpoint = "unix:///nonexistent/rcdiag-test/docker.sock";
    let mut run = run_collectors(
        options(endpoint),
        &[("docker", docker_collector), ("logs", logs_collector)],
    )
    .await;
    for name in ["docker", "logs"] {
        let outcome = run.outcome(name);
        assert_eq!(
            outcome.status,
            CollectorStatus::Skipped,
            "{name}: {outcome:?}"
        );
        let msg = outcome.message.as_deref().unwrap_or_default();
        assert!(
            msg.contains(endpoint) && msg.contains("--docker-host"),
            "{name}: {msg}"
        );
        assert!(docker::is_unreachable(msg), "{msg}");
    }
    assert!(
        run.bundle.entries().is_empty(),
        "nothing written: {:?}",
        run.bundle.entries()
    );
    let manifest = run.bundle.manifest().clone();
    assert_eq!(manifest.collectors.len(), 2);
    let _ = run.all_bytes();
    // The discovery says the same.
    let d = docker::discover(&options(endpoint)).await;
    assert!(
        d.as_ref().is_err_and(|e| docker::is_unreachable(e)),
        "{d:?}"
    );
    // A sanitized file name is what index.json promises.
    assert_eq!(logs::sanitize("a/b:c"), "a_b_c");
}
