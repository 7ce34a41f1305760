//! The cri collector: the node's container runtime through the CRI gRPC API (containerd,
//! CRI-O, k3s/RKE2's containerd): runtime name and version, pod sandboxes, containers
//! (image and digest, `io.kubernetes.*` labels, restart count annotation, state, exit code
//! and reason, resources, the env of the runtime spec redacted like Docker env), images and
//! one stats sample per container. It writes `cri/runtime.json`, `cri/pods.json`,
//! `cri/containers.json`, `cri/images.json` and `cri/stats.json`
//! (`docs/collector-outputs.md`), and the containers' log files on the node
//! (`logs/cri_*.log` and their `logs/index.json` entries: [`crate::collectors::logs::node`]).
//! The read is [`discover`]'s (the API's objects, env not yet redacted); the files are the
//! contract's types ([`rcdiag_contract::cri`]), made from it here; the client is
//! [`crate::clients::cri`]. No socket: skipped with the reason; a runtime that does not
//! answer: a recorded timeout.

pub mod discover;

use std::collections::{BTreeMap, HashMap};

use rcdiag_contract::cri::{
    Condition, Container as ContainerRecord, ContainersFile, Image, ImagesFile, PodSandbox,
    PodsFile, Resources, RuntimeFile, Stats, StatsFile,
};

use self::discover::{Container, CriErrorKind, Snapshot};
use super::{CollectorSink, Context, Outcome};
use crate::clients::cri::api;

descriptor! {
    name: "cri",
    reads: "CRI gRPC API of the node's container runtime (containerd, CRI-O, k3s; --cri-endpoint): version, pod sandboxes, containers (verbose status), images, one stats sample; the containers' log files under /var/log/pods (rotations and gzip rotations too), capped by --since, --log-lines and --log-bytes",
    permissions: "read/write access to the CRI socket (root); only read calls are made; read access to /var/log/pods",
    files: "cri/runtime.json, cri/pods.json, cri/containers.json, cri/images.json, cri/stats.json; logs/cri_<ns>_<pod>_<container>.log and their logs/index.json entries",
    isolated: false,
}

/// Collects the CRI runtime's view into the bundle (the run reads it once: the MongoDB
/// URI search reads the same).
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let started = tokio::time::Instant::now();
    let snap = match ctx.cri().await {
        Ok(s) => s,
        Err(CriErrorKind::Unreachable(m)) => return Outcome::skipped(m.clone()),
        Err(CriErrorKind::TimedOut(m)) => return Outcome::timed_out(m.clone()),
        Err(CriErrorKind::Failed(m)) => return Outcome::failed(m.clone()),
    };
    let red = out.redactor();
    for c in &snap.containers {
        red.register_env_secrets(&c.env);
        red.register_argv_secrets(&c.args);
    }
    let mut errors = snap.errors.clone();
    write(out, "cri/runtime.json", &runtime_record(snap), &mut errors).await;
    let pods = PodsFile {
        pods: snap.pods.iter().map(|p| pod_record(out, p)).collect(),
        extra: Default::default(),
    };
    write(out, "cri/pods.json", &pods, &mut errors).await;
    let containers = ContainersFile {
        containers: snap
            .containers
            .iter()
            .map(|c| container_record(out, c))
            .collect(),
        extra: Default::default(),
    };
    write(out, "cri/containers.json", &containers, &mut errors).await;
    let images = ImagesFile {
        images: snap.images.iter().map(image_record).collect(),
        extra: Default::default(),
    };
    write(out, "cri/images.json", &images, &mut errors).await;
    let stats = StatsFile {
        stats: snap.stats.iter().map(stats_record).collect(),
        extra: Default::default(),
    };
    write(out, "cri/stats.json", &stats, &mut errors).await;
    // The containers' log files on this node, into logs/index.json beside the others.
    if !snap.containers.is_empty() {
        let deadline = started + ctx.options.timeout.mul_f64(0.85);
        let (index, failures) = crate::collectors::logs::node::collect_node_logs(
            ctx,
            &snap.containers,
            &ctx.options.host_root,
            deadline,
            out,
        )
        .await;
        errors.extend(failures);
        if let Err(e) = out.put_json("logs/index.json", &index).await {
            errors.push(format!("writing logs/index.json: {e}"));
        }
    }
    if snap.timed_out {
        Outcome::timed_out(errors.join("; "))
    } else if errors.is_empty() {
        Outcome::ok()
    } else {
        Outcome::partial(errors.join("; "))
    }
}

/// Puts `value` at `path`, recording a failure in `errors`.
async fn write(
    out: &CollectorSink,
    path: &str,
    value: &impl serde::Serialize,
    errors: &mut Vec<String>,
) {
    if let Err(e) = out.put_json(path, value).await {
        errors.push(format!("writing {path}: {e}"));
    }
}

/// `cri/runtime.json`.
fn runtime_record(s: &Snapshot) -> RuntimeFile {
    RuntimeFile {
        endpoint: Some(s.endpoint.clone()),
        runtime_name: Some(s.version.runtime_name.clone()),
        runtime_version: Some(s.version.runtime_version.clone()),
        runtime_api_version: Some(s.version.runtime_api_version.clone()),
        conditions: s
            .conditions
            .iter()
            .map(|c| Condition {
                kind: Some(c.r#type.clone()),
                status: Some(c.status),
                reason: Some(c.reason.clone()),
                message: Some(c.message.clone()),
                extra: Default::default(),
            })
            .collect(),
        extra: Default::default(),
    }
}

/// The runtime's nanoseconds since the epoch as RFC 3339; `None` for 0 (not set).
fn time_ns(ns: i64) -> Option<String> {
    if ns <= 0 {
        return None;
    }
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .ok()
        .map(|t| t.to_string())
}

fn labels(out: &CollectorSink, m: &HashMap<String, String>) -> Option<BTreeMap<String, String>> {
    Some(
        out.redactor()
            .redact_labels(m.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
}

fn pod_record(out: &CollectorSink, p: &api::PodSandbox) -> PodSandbox {
    let md = p.metadata.clone().unwrap_or_default();
    PodSandbox {
        id: Some(p.id.clone()),
        name: Some(md.name),
        namespace: Some(md.namespace),
        uid: Some(md.uid),
        attempt: Some(md.attempt.into()),
        state: Some(
            api::PodSandboxState::try_from(p.state)
                .map(|s| s.as_str_name())
                .unwrap_or("unknown")
                .to_string(),
        ),
        created_at: time_ns(p.created_at),
        runtime_handler: Some(p.runtime_handler.clone()),
        labels: labels(out, &p.labels),
        annotations: labels(out, &p.annotations),
        extra: Default::default(),
    }
}

fn container_record(out: &CollectorSink, c: &Container) -> ContainerRecord {
    let red = out.redactor();
    let md = c.entry.metadata.clone().unwrap_or_default();
    let st = c.status.as_ref();
    let res = st
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.linux.as_ref());
    let label = |k: &str| c.k8s_label(k).map(str::to_string);
    ContainerRecord {
        id: Some(c.entry.id.clone()),
        name: Some(md.name),
        attempt: Some(md.attempt.into()),
        pod_sandbox_id: Some(c.entry.pod_sandbox_id.clone()),
        pod_name: label("pod.name"),
        pod_namespace: label("pod.namespace"),
        pod_uid: label("pod.uid"),
        image: Some(c.image_name()),
        image_ref: Some(
            st.map(|s| s.image_ref.clone())
                .unwrap_or_else(|| c.entry.image_ref.clone()),
        ),
        state: Some(
            api::ContainerState::try_from(c.entry.state)
                .map(|s| s.as_str_name())
                .unwrap_or("unknown")
                .to_string(),
        ),
        restart_count: c
            .entry
            .annotations
            .get("io.kubernetes.container.restartCount")
            .and_then(|v| v.parse::<u64>().ok()),
        created_at: time_ns(c.entry.created_at),
        started_at: st.and_then(|s| time_ns(s.started_at)),
        finished_at: st.and_then(|s| time_ns(s.finished_at)),
        exit_code: st.map(|s| s.exit_code.into()),
        reason: st.map(|s| s.reason.clone()),
        message: st.map(|s| s.message.clone()),
        log_path: st.map(|s| s.log_path.clone()),
        pid: c.pid,
        resources: res.map(|r| Resources {
            cpu_period: Some(r.cpu_period),
            cpu_quota: Some(r.cpu_quota),
            cpu_shares: Some(r.cpu_shares),
            memory_limit_in_bytes: Some(r.memory_limit_in_bytes),
            oom_score_adj: Some(r.oom_score_adj),
            cpuset_cpus: Some(r.cpuset_cpus.clone()),
            extra: Default::default(),
        }),
        labels: labels(out, &c.entry.labels),
        annotations: labels(out, &c.entry.annotations),
        // None: the runtime gave no verbose info (not collected), as for Docker.
        env: c
            .status
            .is_some()
            .then(|| c.env.iter().map(|e| red.redact_env_entry(e)).collect()),
        args: red.redact_argv(&c.args),
        extra: Default::default(),
    }
}

fn image_record(i: &api::Image) -> Image {
    Image {
        id: Some(i.id.clone()),
        repo_tags: i.repo_tags.clone(),
        repo_digests: i.repo_digests.clone(),
        size: Some(i.size),
        pinned: Some(i.pinned),
        extra: Default::default(),
    }
}

fn stats_record(s: &api::ContainerStats) -> Stats {
    let attr = s.attributes.clone().unwrap_or_default();
    Stats {
        id: Some(attr.id),
        name: attr.metadata.map(|m| m.name),
        timestamp: s.cpu.as_ref().and_then(|c| time_ns(c.timestamp)),
        cpu_usage_core_nanoseconds: s
            .cpu
            .as_ref()
            .and_then(|c| c.usage_core_nano_seconds.as_ref())
            .map(|v| v.value),
        memory_working_set_bytes: s
            .memory
            .as_ref()
            .and_then(|m| m.working_set_bytes.as_ref())
            .map(|v| v.value),
        memory_rss_bytes: s
            .memory
            .as_ref()
            .and_then(|m| m.rss_bytes.as_ref())
            .map(|v| v.value),
        writable_layer_used_bytes: s
            .writable_layer
            .as_ref()
            .and_then(|w| w.used_bytes.as_ref())
            .map(|v| v.value),
        extra: Default::default(),
    }
}
