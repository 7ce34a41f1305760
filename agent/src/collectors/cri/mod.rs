//! The cri collector: the node's container runtime through the CRI gRPC API (containerd,
//! CRI-O, k3s/RKE2's containerd): runtime name and version, pod sandboxes, containers
//! (image and digest, `io.kubernetes.*` labels, restart count annotation, state, exit code
//! and reason, resources, the env of the runtime spec redacted like Docker env), images and
//! one stats sample per container. It writes `cri/runtime.json`, `cri/pods.json`,
//! `cri/containers.json`, `cri/images.json` and `cri/stats.json`
//! (`docs/collector-outputs.md`), and the containers' log files on the node
//! (`logs/cri_*.log` and their `logs/index.json` entries: [`crate::collectors::logs::node`]).
//! The read is [`discover`]'s; the client is [`crate::clients::cri`]. No socket: skipped
//! with the reason; a runtime that does not answer: a recorded timeout.

pub mod discover;

use serde_json::{Value, json};

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
    let files: [(&str, Value); 5] = [
        ("cri/runtime.json", runtime_record(snap)),
        (
            "cri/pods.json",
            json!({ "pods": snap.pods.iter().map(|p| pod_record(out, p)).collect::<Vec<_>>() }),
        ),
        (
            "cri/containers.json",
            json!({ "containers": snap.containers.iter().map(|c| container_record(out, c)).collect::<Vec<_>>() }),
        ),
        (
            "cri/images.json",
            json!({ "images": snap.images.iter().map(image_record).collect::<Vec<_>>() }),
        ),
        (
            "cri/stats.json",
            json!({ "stats": snap.stats.iter().map(stats_record).collect::<Vec<_>>() }),
        ),
    ];
    for (path, value) in files {
        if let Err(e) = out.put_json(path, &value).await {
            errors.push(format!("writing {path}: {e}"));
        }
    }
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

fn runtime_record(s: &Snapshot) -> Value {
    json!({
        "endpoint": s.endpoint,
        "runtime_name": s.version.runtime_name,
        "runtime_version": s.version.runtime_version,
        "runtime_api_version": s.version.runtime_api_version,
        "conditions": s.conditions.iter().map(|c| json!({
            "type": c.r#type, "status": c.status, "reason": c.reason, "message": c.message,
        })).collect::<Vec<_>>(),
    })
}

fn time_ns(ns: i64) -> Value {
    if ns <= 0 {
        return Value::Null;
    }
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| json!(t.to_string()))
        .unwrap_or(Value::Null)
}

fn labels(out: &CollectorSink, m: &std::collections::HashMap<String, String>) -> Value {
    json!(
        out.redactor()
            .redact_labels(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    )
}

fn pod_record(out: &CollectorSink, p: &api::PodSandbox) -> Value {
    let md = p.metadata.clone().unwrap_or_default();
    json!({
        "id": p.id,
        "name": md.name,
        "namespace": md.namespace,
        "uid": md.uid,
        "attempt": md.attempt,
        "state": api::PodSandboxState::try_from(p.state).map(|s| s.as_str_name()).unwrap_or("unknown"),
        "created_at": time_ns(p.created_at),
        "runtime_handler": p.runtime_handler,
        "labels": labels(out, &p.labels),
        "annotations": labels(out, &p.annotations),
    })
}

fn container_record(out: &CollectorSink, c: &Container) -> Value {
    let red = out.redactor();
    let md = c.entry.metadata.clone().unwrap_or_default();
    let st = c.status.as_ref();
    let res = st
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.linux.as_ref());
    json!({
        "id": c.entry.id,
        "name": md.name,
        "attempt": md.attempt,
        "pod_sandbox_id": c.entry.pod_sandbox_id,
        "pod_name": c.k8s_label("pod.name"),
        "pod_namespace": c.k8s_label("pod.namespace"),
        "pod_uid": c.k8s_label("pod.uid"),
        "image": c.image_name(),
        "image_ref": st.map(|s| s.image_ref.clone()).unwrap_or_else(|| c.entry.image_ref.clone()),
        "state": api::ContainerState::try_from(c.entry.state).map(|s| s.as_str_name()).unwrap_or("unknown"),
        "restart_count": c.entry.annotations.get("io.kubernetes.container.restartCount")
            .and_then(|v| v.parse::<u64>().ok()),
        "created_at": time_ns(c.entry.created_at),
        "started_at": st.map(|s| time_ns(s.started_at)),
        "finished_at": st.map(|s| time_ns(s.finished_at)),
        "exit_code": st.map(|s| s.exit_code),
        "reason": st.map(|s| s.reason.clone()),
        "message": st.map(|s| s.message.clone()),
        "log_path": st.map(|s| s.log_path.clone()),
        "pid": c.pid,
        "resources": res.map(|r| json!({
            "cpu_period": r.cpu_period, "cpu_quota": r.cpu_quota, "cpu_shares": r.cpu_shares,
            "memory_limit_in_bytes": r.memory_limit_in_bytes, "oom_score_adj": r.oom_score_adj,
            "cpuset_cpus": r.cpuset_cpus,
        })),
        "labels": labels(out, &c.entry.labels),
        "annotations": labels(out, &c.entry.annotations),
        // None: the runtime gave no verbose info (not collected), as for Docker.
        "env": if c.status.is_some() { json!(c.env.iter().map(|e| red.redact_env_entry(e)).collect::<Vec<_>>()) } else { Value::Null },
        "args": red.redact_argv(&c.args),
    })
}

fn image_record(i: &api::Image) -> Value {
    json!({
        "id": i.id,
        "repo_tags": i.repo_tags,
        "repo_digests": i.repo_digests,
        "size": i.size,
        "pinned": i.pinned,
    })
}

fn stats_record(s: &api::ContainerStats) -> Value {
    let attr = s.attributes.clone().unwrap_or_default();
    json!({
        "id": attr.id,
        "name": attr.metadata.map(|m| m.name),
        "timestamp": s.cpu.as_ref().map(|c| time_ns(c.timestamp)),
        "cpu_usage_core_nanoseconds": s.cpu.as_ref().and_then(|c| c.usage_core_nano_seconds.as_ref()).map(|v| v.value),
        "memory_working_set_bytes": s.memory.as_ref().and_then(|m| m.working_set_bytes.as_ref()).map(|v| v.value),
        "memory_rss_bytes": s.memory.as_ref().and_then(|m| m.rss_bytes.as_ref()).map(|v| v.value),
        "writable_layer_used_bytes": s.writable_layer.as_ref().and_then(|w| w.used_bytes.as_ref()).map(|v| v.value),
    })
}
