//! The docker collector and the Docker discovery shared by the other collectors.
//!
//! It talks to the Docker Engine API through `bollard` (endpoint: `--docker-host`,
//! else `DOCKER_HOST`, else the local socket), negotiates the API version (never
//! pinned: engines 20.10 to 29 all answer), and writes `docker/version.json`,
//! `docker/info.json`, `docker/containers.json`, `docker/images.json` and
//! `docker/stats.json` (see `docs/collector-outputs.md`).
//!
//! Secrets: every container environment entry goes through
//! [`Redactor::redact_env_entry`](crate::redact::Redactor::redact_env_entry), the
//! command line (`Cmd`, `Entrypoint`) through `redact_argv` and labels through
//! `redact_labels`, which remember the values for the exact-value pass; the sink then
//! applies the patterns to every string, and the exact-value pass at the end of the run.
//!
//! An engine that cannot be reached (socket missing, connection refused) makes the
//! collector *skipped* with a reason that says what to pass; an engine that answers
//! with errors makes it *failed* or *partial*.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse, ImageInspect};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, StatsOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::{CollectorSink, Context, DiscoveredContainer, Discovery, Options, Outcome, cgroup};
use crate::redact::Redactor;

/// The endpoint used when neither `--docker-host` nor `DOCKER_HOST` is set.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// Every "engine not reachable" message starts with this (see [`is_unreachable`]).
const UNREACHABLE_PREFIX: &str = "no Docker Engine at ";

/// How many containers are inspected (or images inspected) at once.
const CONCURRENCY: usize = 8;

/// Longest wait for one stats sample (the engine takes one to two seconds per sample).
const STATS_TIMEOUT: Duration = Duration::from_secs(10);

/// True when a discovery or connection error means "no engine here" (the collectors
/// that need Docker report themselves *skipped*), false for an engine that answered
/// with an error (*failed*).
pub fn is_unreachable(message: &str) -> bool {
    message.starts_with(UNREACHABLE_PREFIX)
}

/// Why the engine could not be used.
#[derive(Debug, Clone)]
pub(crate) enum ConnectError {
    /// Nothing answers at the endpoint: not applicable on this node (or wrong endpoint).
    Unreachable(String),
    /// Something answered, or the endpoint cannot be used as given.
    Failed(String),
    /// The endpoint accepted the connection but did not answer within the time limit.
    TimedOut(String),
}

impl ConnectError {
    /// The human message.
    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Unreachable(m) | Self::Failed(m) | Self::TimedOut(m) => m,
        }
    }

    /// The outcome a collector reports for this error.
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            Self::Unreachable(m) => Outcome::skipped(m.clone()),
            Self::Failed(m) => Outcome::failed(m.clone()),
            Self::TimedOut(m) => Outcome::timed_out(m.clone()),
        }
    }
}

/// A connected, version-negotiated engine.
#[derive(Clone)]
pub(crate) struct Engine {
    /// The client.
    pub(crate) docker: Docker,
    /// The endpoint, as the user would write it (`unix:///...`, `tcp://...`).
    pub(crate) endpoint: String,
}

/// The endpoint to use: `--docker-host`, else `DOCKER_HOST`, else the local socket.
pub fn endpoint(options: &Options) -> String {
    let raw = options
        .docker_host
        .clone()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.trim().is_empty())
        })
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let raw = raw.trim().to_string();
    if raw.starts_with('/') {
        format!("unix://{raw}")
    } else {
        raw
    }
}

/// Connects to the engine of `options` and negotiates the API version.
pub(crate) async fn connect(options: &Options) -> Result<Engine, ConnectError> {
    let endpoint = endpoint(options);
    let timeout = options.timeout.as_secs().max(1);
    let client = if let Some(path) = endpoint.strip_prefix("unix://") {
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ConnectError::Unreachable(format!(
                    "{UNREACHABLE_PREFIX}{endpoint}: the socket does not exist. If Docker runs on this node, pass \
                     --docker-host (or set DOCKER_HOST) to its socket, e.g. unix:///run/user/1000/docker.sock for \
                     rootless Docker; if it does not, skip this collector"
                )));
            }
            Err(e) => {
                return Err(ConnectError::Failed(format!(
                    "cannot use the Docker socket {endpoint}: {e}; run the agent as root or as a member of the docker group"
                )));
            }
        }
        crate::peer::docker_client(&endpoint, timeout)
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        crate::peer::docker_client(&endpoint, timeout)
    } else {
        return Err(ConnectError::Failed(format!(
            "the Docker endpoint {endpoint} is not supported by this agent (TLS, SSH and named pipes are not built in): \
             run the agent on the Docker node and use its unix socket, or pass --docker-host tcp://HOST:2375"
        )));
    };
    // Every reply is read with a cap (see `crate::peer`).
    let docker = client.ok_or_else(|| {
        ConnectError::Failed(format!("the Docker endpoint {endpoint} cannot be parsed"))
    })?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| classify(&e, &endpoint))?;
    Ok(Engine { docker, endpoint })
}

/// The whole error chain, for messages (`a: b: c`).
pub(crate) fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if parts.last().is_none_or(|p| !p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The first I/O error kind in the chain.
fn io_kind(e: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// Turns a bollard error met while connecting into what to tell the user.
fn classify(e: &bollard::errors::Error, endpoint: &str) -> ConnectError {
    use bollard::errors::Error as E;
    let chain = error_chain(e);
    match e {
        E::SocketNotFoundError(path) => ConnectError::Unreachable(format!(
            "{UNREACHABLE_PREFIX}{endpoint}: the socket {path} does not exist; pass --docker-host (or set DOCKER_HOST) \
             to the engine's socket"
        )),
        E::RequestTimeoutError => ConnectError::TimedOut(format!(
            "the Docker Engine at {endpoint} did not answer in time; check `docker -H {endpoint} version` and the \
             dockerd logs, or raise --timeout"
        )),
        E::DockerResponseServerError {
            status_code,
            message,
        } => ConnectError::Failed(format!(
            "the Docker Engine at {endpoint} answered {status_code}: {message}"
        )),
        _ => match io_kind(e) {
            Some(io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
                ConnectError::Unreachable(format!(
                    "{UNREACHABLE_PREFIX}{endpoint}: nothing accepts connections there ({chain}); start Docker, or pass \
                 --docker-host (or set DOCKER_HOST) to the engine's endpoint"
                ))
            }
            Some(io::ErrorKind::PermissionDenied) => ConnectError::Failed(format!(
                "permission denied on the Docker endpoint {endpoint} ({chain}): run the agent as root or as a member \
                 of the docker group"
            )),
            _ => ConnectError::Failed(format!(
                "the Docker Engine at {endpoint} could not be queried: {chain}"
            )),
        },
    }
}

/// An engine call failed after connecting: a message naming what was asked.
fn call_error(what: &str, e: &bollard::errors::Error) -> String {
    format!("{what}: {}", error_chain(e))
}

/// The HTTP status of an engine error reply.
pub(crate) fn http_status(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The string form of a bollard enum (its JSON name), `None` for the empty variant.
fn enum_str<T: Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// Any serializable value as JSON (`null` on the impossible failure).
fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Lists the containers of the Docker endpoint once, for every collector that needs them.
pub async fn discover(options: &Options) -> Discovery {
    let engine = connect(options)
        .await
        .map_err(|e| e.message().to_string())?;
    let list = engine
        .docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default().all(true).build(),
        ))
        .await
        .map_err(|e| {
            call_error(
                &format!("listing the containers of {}", engine.endpoint),
                &e,
            )
        })?;
    let ids: Vec<(String, Option<String>, Option<String>)> = list
        .iter()
        .filter_map(|c| {
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string());
            c.id.clone().map(|id| (id, name, c.image.clone()))
        })
        .collect();
    let docker = engine.docker.clone();
    let mut found: Vec<DiscoveredContainer> = futures_util::stream::iter(ids)
        .map(|(id, name, image)| {
            let docker = docker.clone();
            async move {
                match docker.inspect_container(&id, None).await {
                    Ok(inspect) => discovered_from(&inspect),
                    // Removed between list and inspect, or not inspectable: keep what the list said.
                    Err(_) => DiscoveredContainer {
                        name: name.unwrap_or_else(|| short_id(&id).to_string()),
                        id,
                        image: image.unwrap_or_default(),
                        ..Default::default()
                    },
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// A discovered container from its inspect reply.
fn discovered_from(c: &ContainerInspectResponse) -> DiscoveredContainer {
    let id = c.id.clone().unwrap_or_default();
    let config = c.config.as_ref();
    let ips = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|nets| {
            let mut ips: Vec<String> = nets
                .values()
                .filter_map(|n| n.ip_address.clone())
                .filter(|ip| !ip.is_empty())
                .collect();
            ips.sort();
            ips
        })
        .unwrap_or_default();
    DiscoveredContainer {
        name: c
            .name
            .as_deref()
            .map(|n| n.trim_start_matches('/').to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| short_id(&id).to_string()),
        image: config
            .and_then(|c| c.image.clone())
            .or_else(|| c.image.clone())
            .unwrap_or_default(),
        running: c.state.as_ref().and_then(|s| s.running).unwrap_or(false),
        env: config.and_then(|c| c.env.clone()).unwrap_or_default(),
        ips,
        log_driver: c
            .host_config
            .as_ref()
            .and_then(|h| h.log_config.as_ref())
            .and_then(|l| l.typ.clone()),
        log_path: c.log_path.clone().filter(|p| !p.is_empty()),
        labels: config
            .and_then(|c| c.labels.as_ref())
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        cmd: config
            .and_then(|c| c.entrypoint.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(config.and_then(|c| c.cmd.clone()).unwrap_or_default())
            .collect(),
        id,
    }
}

/// The first 12 characters of an id (as `docker ps` shows it).
pub(crate) fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..12).unwrap_or(id)
}

/// Field-aware redaction of one `containers.json` record (env is already redacted):
/// command lines option by option, labels by key; the sink applies the patterns and,
/// at the end of the run, the exact-value pass to every string.
fn redact_record(redactor: &Redactor, record: &mut Value) {
    for key in ["cmd", "entrypoint"] {
        if let Some(args) = record.get(key).and_then(Value::as_array) {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.as_str().unwrap_or_default().to_string())
                .collect();
            record[key] = json!(redactor.redact_argv(&args));
        }
    }
    for key in ["labels", "image_labels", "log_options"] {
        if let Some(map) = record.get(key).and_then(Value::as_object) {
            let redacted = redactor.redact_labels(
                map.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())),
            );
            record[key] = json!(redacted);
        }
    }
}

/// Collects docker data into the bundle.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let engine = match connect(&ctx.options).await {
        Ok(e) => e,
        Err(e) => return e.outcome(),
    };
    let docker = &engine.docker;
    let mut errors: Vec<String> = Vec::new();
    let mut written = 0usize;

    // version.json
    match docker.version().await {
        Ok(v) => {
            let mut value = to_json(&v);
            if let Value::Object(map) = &mut value {
                map.insert(
                    "negotiated_api_version".into(),
                    json!(docker.client_version().to_string()),
                );
            }
            put(
                out,
                "docker/version.json",
                &value,
                &mut written,
                &mut errors,
            )
            .await;
        }
        Err(e) => errors.push(call_error("GET /version", &e)),
    }

    // info.json
    match docker.info().await {
        Ok(info) => {
            put(
                out,
                "docker/info.json",
                &select_info(&to_json(&info)),
                &mut written,
                &mut errors,
            )
            .await
        }
        Err(e) => errors.push(call_error("GET /info", &e)),
    }

    // containers.json (and the ids of the running ones, for stats)
    let mut running: Vec<(String, String, Option<i64>)> = Vec::new();
    match docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default().all(true).build(),
        ))
        .await
    {
        Ok(list) => {
            let ids: Vec<String> = list.iter().filter_map(|c| c.id.clone()).collect();
            let inspected: Vec<(String, Result<Option<ContainerInspectResponse>, String>)> =
                futures_util::stream::iter(ids)
                    .map(|id| {
                        let docker = docker.clone();
                        async move {
                            let r = match docker.inspect_container(&id, None).await {
                                Ok(c) => Ok(Some(c)),
                                // Removed between the list and the inspect: it no longer exists.
                                Err(e) if http_status(&e) == Some(404) => Ok(None),
                                Err(e) => Err(call_error(
                                    &format!("inspecting container {}", short_id(&id)),
                                    &e,
                                )),
                            };
                            (id, r)
                        }
                    })
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
            let image_ids: HashSet<String> = inspected
                .iter()
                .filter_map(|(_, r)| {
                    r.as_ref()
                        .ok()
                        .and_then(Option::as_ref)
                        .and_then(|c| c.image.clone())
                })
                .collect();
            let images: HashMap<String, ImageInspect> = futures_util::stream::iter(image_ids)
                .map(|id| {
                    let docker = docker.clone();
                    async move { docker.inspect_image(&id).await.ok().map(|img| (id, img)) }
                })
                .buffer_unordered(CONCURRENCY)
                .filter_map(|x| async move { x })
                .collect()
                .await;

            // Remember every container's secrets before any record is scrubbed: a secret of one
            // container may show in another's command line.
            let redactor = out.redactor();
            let mut records: Vec<(String, Value)> = Vec::new();
            let mut pending: Vec<(String, ContainerInspectResponse, Vec<String>)> = Vec::new();
            for (id, res) in inspected {
                match res {
                    Ok(None) => {}
                    Ok(Some(c)) => {
                        let env: Vec<String> = c
                            .config
                            .as_ref()
                            .and_then(|cfg| cfg.env.as_ref())
                            .map(|env| env.iter().map(|e| redactor.redact_env_entry(e)).collect())
                            .unwrap_or_default();
                        pending.push((id, c, env));
                    }
                    Err(msg) => {
                        let summary = list.iter().find(|c| c.id.as_deref() == Some(id.as_str()));
                        let name = summary
                            .and_then(|c| c.names.as_ref())
                            .and_then(|n| n.first())
                            .map(|n| n.trim_start_matches('/').to_string())
                            .unwrap_or_else(|| short_id(&id).to_string());
                        records.push((
                            name.clone(),
                            json!({"id": id, "name": name, "image": summary.and_then(|c| c.image.clone()), "error": msg}),
                        ));
                        errors.push(msg);
                    }
                }
            }
            for (id, c, env) in pending {
                let image = c.image.as_ref().and_then(|i| images.get(i));
                let mut record = container_record(&c, env, image);
                redact_record(redactor, &mut record);
                let name = record
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if c.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
                    let pid = c.state.as_ref().and_then(|s| s.pid).filter(|p| *p > 0);
                    running.push((id, name.clone(), pid));
                }
                records.push((name, record));
            }
            records.sort_by(|a, b| a.0.cmp(&b.0));
            let records: Vec<Value> = records.into_iter().map(|(_, v)| v).collect();
            put(
                out,
                "docker/containers.json",
                &records,
                &mut written,
                &mut errors,
            )
            .await;
        }
        Err(e) => errors.push(call_error("listing containers (GET /containers/json)", &e)),
    }

    // images.json
    match docker
        .list_images(Some(ListImagesOptionsBuilder::default().all(false).build()))
        .await
    {
        Ok(list) => {
            let mut images: Vec<Value> = list
                .iter()
                .map(|i| {
                    json!({
                        "id": i.id,
                        "repo_tags": i.repo_tags,
                        "repo_digests": i.repo_digests,
                        "created": unix_to_rfc3339(i.created),
                        "size_bytes": i.size,
                        "labels": out.redactor().redact_labels(i.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                        "containers": i.containers,
                    })
                })
                .collect();
            images.sort_by(|a, b| a["repo_tags"].to_string().cmp(&b["repo_tags"].to_string()));
            put(
                out,
                "docker/images.json",
                &images,
                &mut written,
                &mut errors,
            )
            .await;
        }
        Err(e) => errors.push(call_error("listing images (GET /images/json)", &e)),
    }

    // stats.json: one sample per running container. Beside a local engine the cgroup
    // files give it in cgroup::INTERVAL; the Engine API publishes samples on a
    // one-second tick and needs two ticks for a CPU share, so the containers left are
    // sampled through it all at once, in one to two seconds.
    let stats_timeout = STATS_TIMEOUT
        .min(ctx.options.timeout / 2)
        .max(Duration::from_secs(1));
    let (mut samples, rest) = if engine.endpoint.starts_with("unix://") {
        tokio::task::spawn_blocking(move || sample_cgroups(running))
            .await
            .unwrap_or_default()
    } else {
        (Vec::new(), running)
    };
    samples.extend(stats_round(docker, &rest, stats_timeout).await);
    let mut stats = Vec::new();
    for (id, name, res, source) in samples {
        match res {
            Ok(None) => {}
            Ok(Some(s)) => {
                let mut record = stats_record(&id, &name, &s);
                record["source"] = json!(source);
                stats.push(record);
            }
            Err(msg) => {
                errors.push(format!("stats of {name}: {msg}"));
                stats.push(
                    json!({"id": id, "name": name, "cpu_percent": null, "memory_usage_bytes": null,
                                  "memory_limit_bytes": null, "error": msg}),
                );
            }
        }
    }
    stats.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    put(out, "docker/stats.json", &stats, &mut written, &mut errors).await;

    if errors.is_empty() {
        Outcome::ok()
    } else if written == 0 {
        Outcome::failed(format!(
            "the Docker Engine at {} answered with errors: {}",
            engine.endpoint,
            errors.join("; ")
        ))
    } else {
        Outcome::partial(errors.join("; "))
    }
}

/// Writes one JSON file, counting successes and recording failures.
async fn put(
    out: &CollectorSink,
    path: &str,
    value: &impl Serialize,
    written: &mut usize,
    errors: &mut Vec<String>,
) {
    match out.put_json(path, value).await {
        Ok(_) => *written += 1,
        Err(e) => errors.push(format!("writing {path}: {e}")),
    }
}

/// The documented subset of `/info` (plus a few fields support asks for).
fn select_info(info: &Value) -> Value {
    const KEEP: &[&str] = &[
        "ID",
        "Name",
        "ServerVersion",
        "OperatingSystem",
        "OSType",
        "OSVersion",
        "KernelVersion",
        "Architecture",
        "NCPU",
        "MemTotal",
        "Driver",
        "DriverStatus",
        "LoggingDriver",
        "CgroupDriver",
        "CgroupVersion",
        "Containers",
        "ContainersRunning",
        "ContainersPaused",
        "ContainersStopped",
        "Images",
        "DockerRootDir",
        "SystemTime",
        "LiveRestoreEnabled",
        "DefaultRuntime",
        "SecurityOptions",
        "MemoryLimit",
        "SwapLimit",
        "HttpProxy",
        "HttpsProxy",
        "NoProxy",
        "Warnings",
    ];
    let mut out = serde_json::Map::new();
    if let Value::Object(map) = info {
        for key in KEEP {
            if let Some(v) = map.get(*key) {
                out.insert((*key).to_string(), v.clone());
            }
        }
        if let Some(Value::Object(swarm)) = map.get("Swarm") {
            let mut s = serde_json::Map::new();
            for key in [
                "LocalNodeState",
                "ControlAvailable",
                "Nodes",
                "Managers",
                "Error",
            ] {
                if let Some(v) = swarm.get(key) {
                    s.insert(key.to_string(), v.clone());
                }
            }
            out.insert("Swarm".into(), Value::Object(s));
        }
    }
    Value::Object(out)
}

/// A map with sorted keys.
fn sorted(map: &HashMap<String, String>) -> BTreeMap<&str, &str> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Unix seconds as RFC 3339 (`null` when out of range).
fn unix_to_rfc3339(secs: i64) -> Value {
    jiff::Timestamp::from_second(secs)
        .map(|t| json!(t.to_string()))
        .unwrap_or(Value::Null)
}

/// One `containers.json` record (env already redacted).
fn container_record(
    c: &ContainerInspectResponse,
    env: Vec<String>,
    image: Option<&ImageInspect>,
) -> Value {
    let config = c.config.as_ref();
    let host = c.host_config.as_ref();
    let state = c.state.as_ref();
    let id = c.id.clone().unwrap_or_default();
    let name = c
        .name
        .as_deref()
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| short_id(&id).to_string());
    let empty = HashMap::new();
    let labels = config.and_then(|c| c.labels.as_ref()).unwrap_or(&empty);
    let image_labels = image
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.labels.as_ref())
        .unwrap_or(&empty);

    let mounts: Vec<Value> = c
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            json!({
                "type": m.typ.as_ref().and_then(enum_str),
                "name": m.name,
                "source": m.source,
                "destination": m.destination,
                "read_only": m.rw.map(|rw| !rw),
            })
        })
        .collect();

    let mut networks: Vec<Value> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|nets| {
            nets.iter()
                .map(|(name, n)| {
                    json!({
                        "name": name,
                        "ip": n.ip_address.clone().filter(|ip| !ip.is_empty()),
                        "aliases": n.aliases,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    networks.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));

    // Published ports: the live map of a running container, else the configured bindings.
    let live = c
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .filter(|p| !p.is_empty());
    let ports_map = live.or_else(|| host.and_then(|h| h.port_bindings.as_ref()));
    let mut ports: Vec<Value> = Vec::new();
    for (key, bindings) in ports_map.into_iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let container_port: Option<u16> = port.parse().ok();
        match bindings.as_ref().filter(|b| !b.is_empty()) {
            None => ports.push(json!({"container_port": container_port, "protocol": proto,
                                      "host_ip": null, "host_port": null})),
            Some(list) => {
                for b in list {
                    ports.push(json!({
                        "container_port": container_port,
                        "protocol": proto,
                        "host_ip": b.host_ip.clone().filter(|h| !h.is_empty()),
                        "host_port": b.host_port.as_deref().and_then(|p| p.parse::<u16>().ok()),
                    }));
                }
            }
        }
    }
    ports.sort_by_key(|a| a.to_string());

    json!({
        "id": id,
        "name": name,
        "image": config.and_then(|c| c.image.clone()),
        "image_id": c.image,
        "repo_digests": image.and_then(|i| i.repo_digests.clone()).unwrap_or_default(),
        "image_repo_tags": image.and_then(|i| i.repo_tags.clone()).unwrap_or_default(),
        "image_created": image.and_then(|i| i.created.as_ref()).map(to_json),
        "created": c.created.as_ref().map(to_json),
        "labels": sorted(labels),
        "image_labels": sorted(image_labels),
        "env": env,
        "cmd": config.and_then(|c| c.cmd.clone()).unwrap_or_default(),
        "entrypoint": config.and_then(|c| c.entrypoint.clone()).unwrap_or_default(),
        "working_dir": config.and_then(|c| c.working_dir.clone()),
        "user": config.and_then(|c| c.user.clone()),
        "tty": config.and_then(|c| c.tty),
        "state": {
            "status": state.and_then(|s| s.status.as_ref()).and_then(enum_str),
            "running": state.and_then(|s| s.running),
            "paused": state.and_then(|s| s.paused),
            "restarting": state.and_then(|s| s.restarting),
            "oom_killed": state.and_then(|s| s.oom_killed),
            "dead": state.and_then(|s| s.dead),
            "pid": state.and_then(|s| s.pid),
            "exit_code": state.and_then(|s| s.exit_code),
            "error": state.and_then(|s| s.error.clone()).filter(|e| !e.is_empty()),
            "started_at": state.and_then(|s| s.started_at.clone()),
            "finished_at": state.and_then(|s| s.finished_at.clone()),
            "health": state.and_then(|s| s.health.as_ref()).and_then(|h| h.status.as_ref()).and_then(enum_str),
            "health_failing_streak": state.and_then(|s| s.health.as_ref()).and_then(|h| h.failing_streak),
        },
        "restart_count": c.restart_count,
        "restart_policy": {
            "name": host.and_then(|h| h.restart_policy.as_ref()).and_then(|p| p.name.as_ref()).and_then(enum_str),
            "maximum_retry_count": host.and_then(|h| h.restart_policy.as_ref()).and_then(|p| p.maximum_retry_count),
        },
        "memory_limit_bytes": host.and_then(|h| h.memory),
        "memory_reservation_bytes": host.and_then(|h| h.memory_reservation),
        "nano_cpus": host.and_then(|h| h.nano_cpus),
        "cpu_quota": host.and_then(|h| h.cpu_quota),
        "cpu_period": host.and_then(|h| h.cpu_period),
        "cpuset_cpus": host.and_then(|h| h.cpuset_cpus.clone()).filter(|s| !s.is_empty()),
        "pids_limit": host.and_then(|h| h.pids_limit),
        "network_mode": host.and_then(|h| h.network_mode.clone()),
        "privileged": host.and_then(|h| h.privileged),
        "log_driver": host.and_then(|h| h.log_config.as_ref()).and_then(|l| l.typ.clone()),
        "log_options": host.and_then(|h| h.log_config.as_ref()).and_then(|l| l.config.as_ref()).map(sorted),
        "mounts": mounts,
        "networks": networks,
        "ports": ports,
    })
}

/// One stats sample of each running container, all at once: `Ok(None)` for a container
/// stopped or removed since it was listed.
async fn stats_round(
    docker: &Docker,
    running: &[(String, String, Option<i64>)],
    timeout: Duration,
) -> Vec<Sample> {
    futures_util::future::join_all(running.iter().map(|(id, name, _)| async move {
        let opts = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(false)
            .build();
        let mut stream = docker.stats(id, Some(opts));
        let res = match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => Err(format!("no stats sample within {} s", timeout.as_secs())),
            Ok(None) => Err("the engine sent no stats sample".to_string()),
            Ok(Some(Err(e))) if matches!(http_status(&e), Some(404 | 409)) => Ok(None),
            Ok(Some(Err(e))) => Err(call_error("GET /containers/{id}/stats", &e)),
            Ok(Some(Ok(s))) => Ok(Some(s)),
        };
        (id.clone(), name.clone(), res, "engine")
    }))
    .await
}

/// One container's stats: id, name, the sample (`Ok(None)`: stopped meanwhile) and
/// where it was read (`cgroup` or `engine`).
type Sample = (
    String,
    String,
    Result<Option<ContainerStatsResponse>, String>,
    &'static str,
);

/// A running container: id, name, main process id.
type Running = (String, String, Option<i64>);

/// Samples the running containers whose cgroup this agent can read (blocking: two
/// readings `cgroup::INTERVAL` apart); returns them and the containers left over.
fn sample_cgroups(running: Vec<Running>) -> (Vec<Sample>, Vec<Running>) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mountinfo = read("/proc/self/mountinfo");
    let host_memory = cgroup::host_memory(&read("/proc/meminfo"));
    let mut found = Vec::new();
    let mut rest = Vec::new();
    // One host CPU reading per round, as the engine takes one per collection tick.
    let proc_stat = read("/proc/stat");
    for (id, name, pid) in running {
        let first = pid.and_then(|pid| {
            let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
            let loc = cgroup::locate(&id, &proc_cgroup, &mountinfo)?;
            let first = cgroup::read(&loc, &proc_stat, host_memory).ok()?;
            Some((loc, first))
        });
        match first {
            Some((loc, first)) => found.push((id, name, pid, loc, first)),
            None => rest.push((id, name, pid)),
        }
    }
    if found.is_empty() {
        return (Vec::new(), rest);
    }
    std::thread::sleep(cgroup::INTERVAL);
    let mut samples = Vec::new();
    let proc_stat = read("/proc/stat");
    for (id, name, pid, loc, first) in found {
        match cgroup::read(&loc, &proc_stat, host_memory) {
            Ok(now) => samples.push((id, name, Ok(Some(cgroup::to_stats(&first, &now))), "cgroup")),
            // Stopped meanwhile (its cgroup is gone), or unreadable now: ask the engine.
            Err(_) => rest.push((id, name, pid)),
        }
    }
    (samples, rest)
}

/// One `stats.json` record, with the CPU percentage computed as `docker stats` does.
pub(crate) fn stats_record(id: &str, name: &str, s: &ContainerStatsResponse) -> Value {
    let cpu = s.cpu_stats.as_ref();
    let pre = s.precpu_stats.as_ref();
    let total = cpu
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage);
    let pre_total = pre
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage);
    let system = cpu.and_then(|c| c.system_cpu_usage);
    let pre_system = pre.and_then(|c| c.system_cpu_usage).filter(|v| *v > 0);
    let online = cpu
        .and_then(|c| c.online_cpus)
        .filter(|n| *n > 0)
        .map(u64::from)
        .or_else(|| {
            cpu.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as u64)
        })
        .filter(|n| *n > 0);
    let cpu_percent = match (total, pre_total, system, pre_system, online) {
        (Some(t), Some(pt), Some(sy), Some(psy), Some(n)) if sy > psy => {
            let cpu_delta = t.saturating_sub(pt) as f64;
            let sys_delta = (sy - psy) as f64;
            Some(((cpu_delta / sys_delta) * n as f64 * 100.0 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    let mem = s.memory_stats.as_ref();
    let usage = mem.and_then(|m| m.usage);
    // As the docker CLI: page cache that can be dropped does not count as used.
    let inactive = mem.and_then(|m| m.stats.as_ref()).and_then(|st| {
        st.get("total_inactive_file")
            .or_else(|| st.get("inactive_file"))
            .copied()
    });
    let used = usage.map(|u| match inactive {
        Some(i) if i < u => u - i,
        _ => u,
    });
    let limit = mem.and_then(|m| m.limit);
    let mem_percent = match (used, limit) {
        (Some(u), Some(l)) if l > 0 => {
            Some(((u as f64 / l as f64) * 100.0 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    json!({
        "id": id,
        "name": name,
        "read": s.read.as_ref().map(to_json),
        "cpu_percent": cpu_percent,
        "online_cpus": online,
        "memory_usage_bytes": used,
        "memory_raw_usage_bytes": usage,
        "memory_limit_bytes": limit,
        "memory_percent": mem_percent,
        "pids": s.pids_stats.as_ref().and_then(|p| p.current),
        "note": if cpu_percent.is_none() { Some("no previous CPU sample: cpu_percent unknown") } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_prefers_option_and_adds_scheme() {
        let o = Options {
            docker_host: Some("/tmp/x.sock".into()),
            ..Default::default()
        };
        assert_eq!(endpoint(&o), "unix:///tmp/x.sock");
        let o = Options {
            docker_host: Some("tcp://10.0.0.1:2375".into()),
            ..Default::default()
        };
        assert_eq!(endpoint(&o), "tcp://10.0.0.1:2375");
    }

    #[test]
    fn short_ids() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn cpu_percent_uses_the_previous_sample() {
        let s: ContainerStatsResponse = serde_json::from_value(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 200_000_000u64}, "system_cpu_usage": 18_000_000_000u64},
            "memory_stats": {"usage": 1000, "limit": 4000, "stats": {"inactive_file": 200}}
        }))
        .expect("valid stats");
        let r = stats_record("id", "n", &s);
        assert_eq!(r["cpu_percent"], json!(20.0));
        assert_eq!(r["memory_usage_bytes"], json!(800));
        assert_eq!(r["memory_percent"], json!(20.0));
    }

    #[test]
    fn cpu_percent_is_null_without_precpu() {
        let s: ContainerStatsResponse = serde_json::from_value(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 400u64}, "system_cpu_usage": 2000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 0u64}}
        }))
        .expect("valid stats");
        assert!(stats_record("id", "n", &s)["cpu_percent"].is_null());
    }
}
