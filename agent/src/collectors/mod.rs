//! The collectors and what they share: the run's options, the Docker discovery that
//! several collectors need, and the sink that redacts and writes into the bundle.
//! One module per collector; each exposes `async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome`.

pub mod cgroup;
pub mod docker;
pub mod host;
pub mod logfile;
pub mod logs;
pub mod mongodb;
pub mod rocketchat;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcdiag_bundle::{BundleWriter, CollectorStatus, FileRecord};
use serde::Serialize;
use tokio::sync::{Mutex as AsyncMutex, OnceCell, OwnedMutexGuard};

use crate::redact::Redactor;

/// Static description of a collector, for `list-collectors` and `--dry-run`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CollectorInfo {
    /// Stable name (used by `--only` / `--skip` and in the manifest).
    pub name: &'static str,
    /// What it reads.
    pub reads: &'static str,
    /// What it needs to work fully.
    pub permissions: &'static str,
    /// Files it writes.
    pub files: &'static str,
}

/// Every collector, in the order they are reported.
pub const ALL: &[CollectorInfo] = &[
    CollectorInfo {
        name: "host",
        reads: "/proc, /sys, /etc/os-release, mounts, network interfaces, chrony/timedatectl, process table",
        permissions: "none (root sees every process's environment names)",
        files: "host/host.json",
    },
    CollectorInfo {
        name: "docker",
        reads: "Docker Engine API: version, info, containers (inspect), images; one stats sample per running container (from its cgroup files beside a local engine when readable, else the Engine API)",
        permissions: "read access to the Docker socket (root or the docker group); root and the host's /proc to read stats from cgroups (else the Engine API, 1-2 s)",
        files: "docker/version.json, docker/info.json, docker/containers.json, docker/images.json, docker/stats.json",
    },
    CollectorInfo {
        name: "logs",
        reads: "stdout and stderr of every container, within --since, capped by --log-lines and --log-bytes: json-file logs of a local engine straight from <data-root>/containers/<id>/ when readable (much faster), else through the Engine API",
        permissions: "read access to the Docker socket; root to read the json-file logs directly (else the Engine API is used)",
        files: "logs/index.json, logs/<container>.log",
    },
    CollectorInfo {
        name: "mongodb",
        reads: "buildInfo, serverStatus, hostInfo, getCmdLineOpts, replSetGetStatus, oplog window, listDatabases, dbStats, $collStats",
        permissions: "a MongoDB user with clusterMonitor on admin and read on the Rocket.Chat database",
        files: "mongodb/<command>.json, mongodb/summary.json",
    },
    CollectorInfo {
        name: "rocketchat",
        reads: "rocketchat_statistics (newest), users counts, instances, allow-listed settings, /api/info and /metrics of each Rocket.Chat container",
        permissions: "read on the Rocket.Chat database; network reach to the containers",
        files: "rocketchat/summary.json, rocketchat/statistics.json, rocketchat/settings.json",
    },
];

/// Names of all collectors.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|c| c.name).collect()
}

/// Options every collector may read.
#[derive(Debug, Clone)]
pub struct Options {
    /// Docker endpoint (`unix:///var/run/docker.sock`, `tcp://...`); `None` = `DOCKER_HOST` or the local socket.
    pub docker_host: Option<String>,
    /// MongoDB URI; `None` = the `MONGO_URL` of the Rocket.Chat containers, else skipped.
    pub mongodb_uri: Option<String>,
    /// Log window.
    pub since: Duration,
    /// Most log lines per container.
    pub log_lines: u64,
    /// Most log bytes per container.
    pub log_bytes: u64,
    /// Per-collector time limit.
    pub timeout: Duration,
    /// Where json-file logs are read from.
    pub log_source: LogSource,
}

/// Where the logs collector reads `json-file` logs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// From the log files when the engine is local and they are readable (root),
    /// else through the Engine API.
    #[default]
    Auto,
    /// Always through the Engine API.
    Engine,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            docker_host: None,
            mongodb_uri: None,
            since: Duration::from_secs(24 * 3600),
            log_lines: 10_000,
            log_bytes: 5 << 20,
            timeout: Duration::from_secs(60),
            log_source: LogSource::Auto,
        }
    }
}

/// A container as discovered once and shared by the docker, logs, mongodb and rocketchat collectors.
#[derive(Debug, Clone, Default)]
pub struct DiscoveredContainer {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Image reference as configured.
    pub image: String,
    /// Whether it is running.
    pub running: bool,
    /// Raw environment (`NAME=value`, NOT redacted: never write it).
    pub env: Vec<String>,
    /// IP addresses on its networks.
    pub ips: Vec<String>,
    /// Logging driver.
    pub log_driver: Option<String>,
    /// The engine's file of a `json-file` log (`LogPath`), on the engine's host.
    pub log_path: Option<String>,
    /// Entrypoint and command (NOT redacted: never write it).
    pub cmd: Vec<String>,
    /// Labels (NOT redacted: never write them).
    pub labels: Vec<(String, String)>,
}

impl DiscoveredContainer {
    /// True for a Rocket.Chat server container (by image name or its env).
    pub fn is_rocketchat(&self) -> bool {
        let image = self.image.to_ascii_lowercase();
        image.contains("rocket.chat")
            || image.contains("rocketchat/rocket")
            || image.contains("rc-custom")
            || (self.env_value("ROOT_URL").is_some() && self.env_value("MONGO_URL").is_some())
    }

    /// The value of env variable `name`.
    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    }
}

/// The Docker discovery result: containers, or why there are none.
pub type Discovery = Result<Vec<DiscoveredContainer>, String>;

/// Shared state of one run.
pub struct Context {
    /// The run's options.
    pub options: Options,
    /// The run's redactor.
    pub redactor: Arc<Redactor>,
    discovery: OnceCell<Discovery>,
}

impl Context {
    /// A context for one run.
    pub fn new(options: Options, redactor: Arc<Redactor>) -> Self {
        Self {
            options,
            redactor,
            discovery: OnceCell::new(),
        }
    }

    /// A context with a given discovery (tests; callers that listed containers themselves).
    pub fn with_discovery(options: Options, redactor: Arc<Redactor>, discovery: Discovery) -> Self {
        Self {
            options,
            redactor,
            discovery: OnceCell::from(discovery),
        }
    }

    /// The containers of the Docker endpoint, listed once per run (the first caller pays).
    pub async fn discovery(&self) -> &Discovery {
        self.discovery
            .get_or_init(|| async {
                let found = docker::discover(&self.options).await;
                // Every container's secrets (env values, command-line options) are searched
                // for, whichever collector reads them.
                if let Ok(containers) = &found {
                    for c in containers {
                        self.redactor.register_env_secrets(&c.env);
                        self.redactor.register_argv_secrets(&c.cmd);
                        self.redactor.register_label_secrets(&c.labels);
                    }
                }
                found
            })
            .await
    }
}

/// The outcome a collector reports; the orchestrator adds timing and files.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Status.
    pub status: CollectorStatus,
    /// Error or skip reason (will be redacted before it is recorded).
    pub message: Option<String>,
}

impl Outcome {
    /// Everything collected.
    pub fn ok() -> Self {
        Self {
            status: CollectorStatus::Ok,
            message: None,
        }
    }
    /// Some of it collected.
    pub fn partial(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Partial,
            message: Some(msg.into()),
        }
    }
    /// Nothing usable.
    pub fn failed(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Failed,
            message: Some(msg.into()),
        }
    }
    /// Stopped by its own time limit (the orchestrator's is the hard one).
    pub fn timed_out(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Timeout,
            message: Some(msg.into()),
        }
    }
    /// Not applicable here.
    pub fn skipped(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Skipped,
            message: Some(msg.into()),
        }
    }
}

/// A JSON file put by a collector, held until every collector is done so that the
/// exact-value pass sees every secret of the run (see [`Sink::flush_pending`]).
struct PendingJson {
    path: String,
    value: serde_json::Value,
    collector: &'static str,
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

/// The bundle writer shared by the collectors of a run. Log entries are streamed one at
/// a time; JSON files are held (bounded, pattern-redacted) and written at the end.
#[derive(Clone)]
pub struct Sink {
    writer: Arc<AsyncMutex<BundleWriter>>,
    redactor: Arc<Redactor>,
    pending: Arc<Mutex<Vec<PendingJson>>>,
}

impl Sink {
    /// Wraps a writer.
    pub fn new(writer: BundleWriter, redactor: Arc<Redactor>) -> Self {
        Self {
            writer: Arc::new(AsyncMutex::new(writer)),
            redactor,
            pending: Arc::default(),
        }
    }

    /// A sink that records which files `collector` writes.
    pub fn for_collector(&self, collector: &'static str) -> CollectorSink {
        CollectorSink {
            sink: self.clone(),
            collector,
            files: Arc::new(Mutex::new(Vec::new())),
            bytes: Arc::default(),
        }
    }

    /// Writes the held JSON files, after the exact-value pass over each, in the order
    /// they were put. Returns `(collector, error)` for each file that could not be written.
    pub async fn flush_pending(&self) -> Vec<(&'static str, String)> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        let mut w = self.writer.lock().await;
        write_pending(&mut w, &self.redactor, pending)
    }

    /// Takes the writer back once every collector is done (fails if one still holds it);
    /// JSON files still held are written first.
    pub fn into_writer(self) -> Option<BundleWriter> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        let mut writer = Arc::try_unwrap(self.writer)
            .ok()
            .map(AsyncMutex::into_inner)?;
        let _ = write_pending(&mut writer, &self.redactor, pending);
        Some(writer)
    }

    /// A weak handle to the writer: it upgrades while any clone of the sink is alive.
    pub fn downgrade(&self) -> std::sync::Weak<AsyncMutex<BundleWriter>> {
        Arc::downgrade(&self.writer)
    }

    /// Runs `f` with the writer locked.
    pub async fn with_writer<T>(&self, f: impl FnOnce(&mut BundleWriter) -> T) -> T {
        let mut w = self.writer.lock().await;
        f(&mut w)
    }
}

fn write_pending(
    w: &mut BundleWriter,
    redactor: &Redactor,
    pending: Vec<PendingJson>,
) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    for mut p in pending {
        redactor.replace_exact_json(&mut p.value);
        let mut bytes = serde_json::to_vec_pretty(&p.value).unwrap_or_default();
        bytes.push(b'\n');
        match w.add_bytes(&p.path, &bytes) {
            Ok(rec) => {
                p.bytes
                    .fetch_add(rec.size, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => errors.push((p.collector, format!("writing {}: {e}", p.path))),
        }
    }
    errors
}

/// A collector's view of the sink: every write is redacted and recorded.
#[derive(Clone)]
pub struct CollectorSink {
    sink: Sink,
    collector: &'static str,
    files: Arc<Mutex<Vec<String>>>,
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl CollectorSink {
    /// Uncompressed bytes written so far by this collector.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The collector this sink belongs to.
    pub fn collector(&self) -> &'static str {
        self.collector
    }

    /// The run's redactor.
    pub fn redactor(&self) -> &Redactor {
        &self.sink.redactor
    }

    /// The run's redactor, to hand to another task.
    pub fn redactor_arc(&self) -> Arc<Redactor> {
        self.sink.redactor.clone()
    }

    /// Paths written so far (kept even when the collector times out).
    pub fn files(&self) -> Vec<String> {
        self.files.lock().expect("files lock").clone()
    }

    /// Puts `value` as a JSON file: every string is cut to [`crate::bound::MAX_FIELD_BYTES`]
    /// and pattern-redacted now; the exact-value pass and the write happen once every
    /// collector is done ([`Sink::flush_pending`]).
    pub async fn put_json(
        &self,
        path: &str,
        value: &impl Serialize,
    ) -> Result<(), rcdiag_bundle::Error> {
        let mut value = serde_json::to_value(value).map_err(|e| rcdiag_bundle::Error::Json {
            path: path.into(),
            reason: e.to_string(),
        })?;
        crate::bound::bound_json(&mut value);
        self.sink.redactor.redact_json(&mut value);
        self.sink
            .pending
            .lock()
            .expect("pending lock")
            .push(PendingJson {
                path: path.to_string(),
                value,
                collector: self.collector,
                bytes: self.bytes.clone(),
            });
        self.files
            .lock()
            .expect("files lock")
            .push(path.to_string());
        Ok(())
    }

    /// Opens a streamed text entry; the writer stays locked until the stream is finished or dropped.
    pub async fn stream(&self, path: &str) -> Result<LineStream, rcdiag_bundle::Error> {
        let mut guard = self.sink.writer.clone().lock_owned().await;
        guard.begin_file(path)?;
        self.files
            .lock()
            .expect("files lock")
            .push(path.to_string());
        Ok(LineStream {
            guard,
            redactor: self.sink.redactor.clone(),
            lines: 0,
            bytes: 0,
            finished: false,
            total: self.bytes.clone(),
        })
    }
}

/// A text entry being written line by line, each line redacted first.
pub struct LineStream {
    guard: OwnedMutexGuard<BundleWriter>,
    redactor: Arc<Redactor>,
    /// Lines written.
    pub lines: u64,
    /// Bytes written (after redaction).
    pub bytes: u64,
    finished: bool,
    total: Arc<std::sync::atomic::AtomicU64>,
}

impl LineStream {
    /// Redacts and writes one line (a newline is added).
    pub fn write_line(&mut self, line: &str) -> Result<(), rcdiag_bundle::Error> {
        let redacted = self
            .redactor
            .redact_line(line.trim_end_matches(['\n', '\r']));
        self.write_redacted_line(&redacted)
    }

    /// Writes one line that the caller already passed through `Redactor::redact_line`
    /// (a newline is added). Use `write_line` for raw text.
    pub fn write_redacted_line(&mut self, line: &str) -> Result<(), rcdiag_bundle::Error> {
        let mut out = String::with_capacity(line.len() + 1);
        out.push_str(line.trim_end_matches(['\n', '\r']));
        out.push('\n');
        self.guard.write_chunk(out.as_bytes())?;
        self.lines += 1;
        self.bytes += out.len() as u64;
        self.total
            .fetch_add(out.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Writes `lines` lines that the caller already redacted (with
    /// `Redactor::redact_line`) and joined, each ending in `\n`.
    pub fn write_block(&mut self, block: &[u8], lines: u64) -> Result<(), rcdiag_bundle::Error> {
        self.guard.write_chunk(block)?;
        self.lines += lines;
        self.bytes += block.len() as u64;
        self.total
            .fetch_add(block.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Closes the entry.
    pub fn finish(mut self, truncated: bool) -> Result<FileRecord, rcdiag_bundle::Error> {
        self.finished = true;
        self.guard.end_file(truncated).cloned()
    }
}

impl Drop for LineStream {
    fn drop(&mut self) {
        if !self.finished {
            // Cut short (time limit or error): close the entry, marked truncated.
            let _ = self.guard.end_file(true);
        }
    }
}
