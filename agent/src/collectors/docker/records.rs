//! The records of `docker/containers.json`, `docker/info.json` and `docker/images.json`
//! built from the engine's replies, and their field-aware redaction.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerInspectResponse, ImageInspect};
use rcdiag_contract::docker::{Container, ContainerState, Mount, Network, Port, RestartPolicy};
use serde::Serialize;
use serde_json::Value;

use crate::clients::docker::short_id;
use crate::redact::Redactor;

/// The string form of a bollard enum (its JSON name), `None` for the empty variant.
fn enum_str<T: Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// Any serializable value as JSON (`null` on the impossible failure).
pub(super) fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Field-aware redaction of one `containers.json` record (env is already redacted):
/// command lines option by option, labels by key; the sink applies the patterns and,
/// at the end of the run, the exact-value pass to every string.
pub(super) fn redact_record(redactor: &Redactor, record: &mut Container) {
    record.cmd = redactor.redact_argv(&record.cmd);
    record.entrypoint = redactor.redact_argv(&record.entrypoint);
    for map in [
        &mut record.labels,
        &mut record.image_labels,
        &mut record.log_options,
    ]
    .into_iter()
    .flatten()
    {
        *map = redactor.redact_labels(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
}

/// The documented subset of `/info` (plus a few fields support asks for).
pub(super) fn select_info(info: &Value) -> Value {
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
fn sorted(map: &HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A serializable value's string form (bollard's dates), `None` when it has none.
pub(super) fn as_string<T: Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// An engine's signed count as the contract's unsigned one (`None` when negative).
fn unsigned(n: Option<i64>) -> Option<u64> {
    n.and_then(|n| u64::try_from(n).ok())
}

/// Unix seconds as RFC 3339 (`None` when out of range).
pub(super) fn unix_to_rfc3339(secs: i64) -> Option<String> {
    jiff::Timestamp::from_second(secs)
        .ok()
        .map(|t| t.to_string())
}

/// One `containers.json` record (env already redacted).
pub(super) fn container_record(
    c: &ContainerInspectResponse,
    env: Vec<String>,
    image: Option<&ImageInspect>,
) -> Container {
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

    let mounts: Vec<Mount> = c
        .mounts
        .iter()
        .flatten()
        .map(|m| Mount {
            typ: m.typ.as_ref().and_then(enum_str),
            name: m.name.clone(),
            source: m.source.clone(),
            destination: m.destination.clone(),
            read_only: m.rw.map(|rw| !rw),
            ..Default::default()
        })
        .collect();

    let mut networks: Vec<Network> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|nets| {
            nets.iter()
                .map(|(name, n)| Network {
                    name: Some(name.clone()),
                    ip: n.ip_address.clone().filter(|ip| !ip.is_empty()),
                    aliases: n.aliases.clone().unwrap_or_default(),
                    ..Default::default()
                })
                .collect()
        })
        .unwrap_or_default();
    networks.sort_by(|a, b| a.name.cmp(&b.name));

    // Published ports: the live map of a running container, else the configured bindings.
    let live = c
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .filter(|p| !p.is_empty());
    let ports_map = live.or_else(|| host.and_then(|h| h.port_bindings.as_ref()));
    let mut ports: Vec<Port> = Vec::new();
    for (key, bindings) in ports_map.into_iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let port = |host_ip: Option<String>, host_port: Option<u16>| Port {
            container_port: port.parse().ok(),
            protocol: Some(proto.to_string()),
            host_ip,
            host_port,
            ..Default::default()
        };
        match bindings.as_ref().filter(|b| !b.is_empty()) {
            None => ports.push(port(None, None)),
            Some(list) => {
                for b in list {
                    ports.push(port(
                        b.host_ip.clone().filter(|h| !h.is_empty()),
                        b.host_port.as_deref().and_then(|p| p.parse::<u16>().ok()),
                    ));
                }
            }
        }
    }
    // By the record's JSON text (keys in name order), the order of earlier agents.
    ports.sort_by_cached_key(|p| to_json(p).to_string());

    let health = state.and_then(|s| s.health.as_ref());
    let restart_policy = host.and_then(|h| h.restart_policy.as_ref());
    let log_config = host.and_then(|h| h.log_config.as_ref());
    Container {
        id: Some(id),
        name: Some(name),
        image: config.and_then(|c| c.image.clone()),
        image_id: c.image.clone(),
        repo_digests: image
            .and_then(|i| i.repo_digests.clone())
            .unwrap_or_default(),
        image_repo_tags: image.and_then(|i| i.repo_tags.clone()).unwrap_or_default(),
        image_created: image.and_then(|i| i.created.as_ref()).and_then(as_string),
        created: c.created.as_ref().and_then(as_string),
        labels: Some(sorted(labels)),
        image_labels: Some(sorted(image_labels)),
        env: Some(env),
        cmd: config.and_then(|c| c.cmd.clone()).unwrap_or_default(),
        entrypoint: config
            .and_then(|c| c.entrypoint.clone())
            .unwrap_or_default(),
        working_dir: config.and_then(|c| c.working_dir.clone()),
        user: config.and_then(|c| c.user.clone()),
        tty: config.and_then(|c| c.tty),
        state: Some(ContainerState {
            status: state.and_then(|s| s.status.as_ref()).and_then(enum_str),
            running: state.and_then(|s| s.running),
            paused: state.and_then(|s| s.paused),
            restarting: state.and_then(|s| s.restarting),
            oom_killed: state.and_then(|s| s.oom_killed),
            dead: state.and_then(|s| s.dead),
            pid: state.and_then(|s| s.pid),
            exit_code: state.and_then(|s| s.exit_code),
            error: state
                .and_then(|s| s.error.clone())
                .filter(|e| !e.is_empty()),
            started_at: state.and_then(|s| s.started_at.clone()),
            finished_at: state.and_then(|s| s.finished_at.clone()),
            health: health.and_then(|h| h.status.as_ref()).and_then(enum_str),
            health_failing_streak: health.and_then(|h| h.failing_streak),
            ..Default::default()
        }),
        restart_count: unsigned(c.restart_count),
        restart_policy: Some(RestartPolicy {
            name: restart_policy
                .and_then(|p| p.name.as_ref())
                .and_then(enum_str),
            maximum_retry_count: restart_policy.and_then(|p| p.maximum_retry_count),
            ..Default::default()
        }),
        memory_limit_bytes: unsigned(host.and_then(|h| h.memory)),
        memory_reservation_bytes: unsigned(host.and_then(|h| h.memory_reservation)),
        nano_cpus: unsigned(host.and_then(|h| h.nano_cpus)),
        cpu_quota: host.and_then(|h| h.cpu_quota),
        cpu_period: host.and_then(|h| h.cpu_period),
        cpuset_cpus: host
            .and_then(|h| h.cpuset_cpus.clone())
            .filter(|s| !s.is_empty()),
        pids_limit: host.and_then(|h| h.pids_limit),
        network_mode: host.and_then(|h| h.network_mode.clone()),
        privileged: host.and_then(|h| h.privileged),
        log_driver: log_config.and_then(|l| l.typ.clone()),
        log_options: log_config.and_then(|l| l.config.as_ref()).map(sorted),
        mounts,
        networks,
        ports,
        ..Default::default()
    }
}
