//! Pod summaries (`kubernetes/pods.json`) and what pods say about the install: which
//! pods are Rocket.Chat, MongoDB or monitoring (that chooses the namespaces read), and
//! where Rocket.Chat's `MONGO_URL` comes from.
//!
//! Environment values go through the agent's redactor as container env does
//! (`Redactor::redact_env_value`: secret-looking names masked, URIs' userinfo removed,
//! values remembered for the exact-value pass); a `valueFrom` keeps only the name and key
//! of the Secret or ConfigMap it points at, never its data.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, EnvVar, Pod};
use serde::Serialize;

use super::nodes::{Condition, quantities};
use crate::redact::Redactor;

/// Pod annotations kept; the others are dropped.
pub const POD_ANNOTATIONS: &[&str] = &[
    "prometheus.io/scrape",
    "prometheus.io/port",
    "prometheus.io/path",
    "openshift.io/scc",
    "kubectl.kubernetes.io/default-container",
    "cluster-autoscaler.kubernetes.io/safe-to-evict",
];

/// What a pod is, for choosing namespaces and for the analyzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The Rocket.Chat server (monolith).
    Rocketchat,
    /// A Rocket.Chat microservice (`rocketchat/*-service` images).
    RocketchatService,
    /// MongoDB.
    Mongodb,
    /// Prometheus, its exporters and operator.
    Prometheus,
    /// Grafana.
    Grafana,
    /// Anything else.
    Other,
}

impl Role {
    /// Whether pods of this role choose their namespace.
    pub fn chooses_namespace(self) -> bool {
        self != Role::Other
    }
}

fn has_env(c: &Container, name: &str) -> bool {
    c.env.iter().flatten().any(|e| e.name == name)
}

/// The role of a pod, from its images, labels and env names.
pub fn role(pod: &Pod) -> Role {
    let labels = pod.metadata.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    let images: Vec<String> = containers
        .iter()
        .map(|c| c.image.clone().unwrap_or_default().to_ascii_lowercase())
        .collect();
    let any = |f: &dyn Fn(&str) -> bool| images.iter().any(|i| f(i));
    if any(&|i| i.contains("rocketchat/") && i.contains("-service")) {
        return Role::RocketchatService;
    }
    if any(&|i| i.contains("rocket.chat") || i.contains("rocketchat/rocket"))
        || label("app.kubernetes.io/name") == Some("rocketchat")
        || label("app") == Some("rocketchat")
        || containers
            .iter()
            .any(|c| has_env(c, "ROOT_URL") && has_env(c, "MONGO_URL"))
    {
        return Role::Rocketchat;
    }
    if any(&|i| i.contains("rocketchat")) {
        return Role::RocketchatService;
    }
    if any(&|i| i.contains("mongo")) {
        return Role::Mongodb;
    }
    if any(&|i| i.contains("grafana")) {
        return Role::Grafana;
    }
    if any(&|i| i.contains("prometheus")) {
        return Role::Prometheus;
    }
    Role::Other
}

/// One pod.
#[derive(Debug, Clone, Serialize)]
pub struct PodSummary {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// See [`Role`].
    pub role: Role,
    /// `status.phase`.
    pub phase: Option<String>,
    /// `status.reason` (`Evicted`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `spec.nodeName`.
    pub node: Option<String>,
    /// `status.qosClass`.
    pub qos_class: Option<String>,
    /// `status.startTime`.
    pub start_time: Option<String>,
    /// The controlling owner, `Kind/name`.
    pub owner: Option<String>,
    /// Whether every container is ready.
    pub ready: bool,
    /// Sum of the containers' restart counts.
    pub restarts: i32,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// Labels (values redacted like container labels).
    pub labels: BTreeMap<String, String>,
    /// The annotations of [`POD_ANNOTATIONS`].
    pub annotations: BTreeMap<String, String>,
    /// Containers, init containers first.
    pub containers: Vec<ContainerSummary>,
}

/// One container of a pod: its spec and its status.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerSummary {
    /// Name.
    pub name: String,
    /// Whether it is an init container.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// Image as specified.
    pub image: Option<String>,
    /// `imageID` as the runtime reports it (with the `sha256:` digest).
    pub image_id: Option<String>,
    /// The digest alone (`sha256:...`), when the image ID has one.
    pub digest: Option<String>,
    /// Resource requests.
    pub requests: BTreeMap<String, String>,
    /// Resource limits.
    pub limits: BTreeMap<String, String>,
    /// Ready.
    pub ready: bool,
    /// Restart count.
    pub restart_count: i32,
    /// `running`, `waiting` or `terminated`.
    pub state: Option<String>,
    /// Reason of the waiting or terminated state (`CrashLoopBackOff`, `ImagePullBackOff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    /// The last termination (`OOMKilled`, `Error`...), if it restarted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_terminated: Option<Terminated>,
    /// Environment: names, redacted values, references.
    pub env: Vec<EnvSummary>,
}

/// The last termination of a container.
#[derive(Debug, Clone, Serialize)]
pub struct Terminated {
    /// `OOMKilled`, `Error`, `Completed`...
    pub reason: Option<String>,
    /// Exit code.
    pub exit_code: i32,
    /// When it finished.
    pub finished_at: Option<String>,
}

/// One environment variable.
#[derive(Debug, Clone, Serialize)]
pub struct EnvSummary {
    /// Name.
    pub name: String,
    /// The value, through the redactor (absent with `value_from`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where the value comes from instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
}

/// A `valueFrom` reference: only names.
#[derive(Debug, Clone, Serialize)]
pub struct ValueFrom {
    /// `secretKeyRef`, `configMapKeyRef`, `fieldRef`, `resourceFieldRef`.
    pub kind: &'static str,
    /// The Secret or ConfigMap name, or the field path / resource.
    pub name: Option<String>,
    /// The key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn env_summary(e: &EnvVar, red: &Redactor) -> EnvSummary {
    let value_from = e.value_from.as_ref().map(|f| {
        if let Some(s) = &f.secret_key_ref {
            ValueFrom {
                kind: "secretKeyRef",
                name: Some(s.name.clone()),
                key: Some(s.key.clone()),
            }
        } else if let Some(c) = &f.config_map_key_ref {
            ValueFrom {
                kind: "configMapKeyRef",
                name: Some(c.name.clone()),
                key: Some(c.key.clone()),
            }
        } else if let Some(r) = &f.field_ref {
            ValueFrom {
                kind: "fieldRef",
                name: Some(r.field_path.clone()),
                key: None,
            }
        } else if let Some(r) = &f.resource_field_ref {
            ValueFrom {
                kind: "resourceFieldRef",
                name: Some(r.resource.clone()),
                key: None,
            }
        } else {
            ValueFrom {
                kind: "other",
                name: None,
                key: None,
            }
        }
    });
    EnvSummary {
        name: e.name.clone(),
        value: e.value.as_deref().map(|v| red.redact_env_value(&e.name, v)),
        value_from,
    }
}

fn container_summary(
    c: &Container,
    status: Option<&ContainerStatus>,
    init: bool,
    red: &Redactor,
) -> ContainerSummary {
    let res = c.resources.as_ref();
    let state = status.and_then(|s| s.state.as_ref());
    let (state_name, state_reason) = match state {
        Some(s) if s.running.is_some() => (Some("running"), None),
        Some(s) if s.waiting.is_some() => (
            Some("waiting"),
            s.waiting.as_ref().and_then(|w| w.reason.clone()),
        ),
        Some(s) if s.terminated.is_some() => (
            Some("terminated"),
            s.terminated.as_ref().and_then(|t| t.reason.clone()),
        ),
        _ => (None, None),
    };
    let last_terminated = status
        .and_then(|s| s.last_state.as_ref())
        .and_then(|l| l.terminated.as_ref())
        .map(|t| Terminated {
            reason: t.reason.clone(),
            exit_code: t.exit_code,
            finished_at: t.finished_at.as_ref().map(|f| f.0.to_string()),
        });
    let image_id = status.map(|s| s.image_id.clone()).filter(|s| !s.is_empty());
    let digest = image_id
        .as_deref()
        .and_then(|i| i.rfind("sha256:").map(|p| i[p..].to_string()));
    ContainerSummary {
        name: c.name.clone(),
        init,
        image: c.image.clone(),
        image_id,
        digest,
        requests: quantities(res.and_then(|r| r.requests.as_ref())),
        limits: quantities(res.and_then(|r| r.limits.as_ref())),
        ready: status.is_some_and(|s| s.ready),
        restart_count: status.map(|s| s.restart_count).unwrap_or(0),
        state: state_name.map(str::to_string),
        state_reason,
        last_terminated,
        env: c
            .env
            .iter()
            .flatten()
            .map(|e| env_summary(e, red))
            .collect(),
    }
}

/// A pod's summary.
pub fn summarize(pod: &Pod, red: &Redactor) -> PodSummary {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let find = |list: Option<&Vec<ContainerStatus>>, name: &str| -> Option<ContainerStatus> {
        list.and_then(|l| l.iter().find(|s| s.name == name))
            .cloned()
    };
    let mut containers = Vec::new();
    if let Some(spec) = &pod.spec {
        for c in spec.init_containers.iter().flatten() {
            let s = find(
                status.and_then(|s| s.init_container_statuses.as_ref()),
                &c.name,
            );
            containers.push(container_summary(c, s.as_ref(), true, red));
        }
        for c in &spec.containers {
            let s = find(status.and_then(|s| s.container_statuses.as_ref()), &c.name);
            containers.push(container_summary(c, s.as_ref(), false, red));
        }
    }
    let main: Vec<&ContainerSummary> = containers.iter().filter(|c| !c.init).collect();
    let annotations = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| POD_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    PodSummary {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        role: role(pod),
        phase: status.and_then(|s| s.phase.clone()),
        reason: status.and_then(|s| s.reason.clone()),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        qos_class: status.and_then(|s| s.qos_class.clone()),
        start_time: status
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.to_string()),
        owner: owner(pod),
        ready: !main.is_empty() && main.iter().all(|c| c.ready),
        restarts: main.iter().map(|c| c.restart_count).sum(),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| Condition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect(),
        labels: red.redact_labels(
            meta.labels
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        annotations,
        containers,
    }
}

/// The controlling owner of a pod, `Kind/name`.
pub fn owner(pod: &Pod) -> Option<String> {
    let refs = pod.metadata.owner_references.as_ref()?;
    let o = refs
        .iter()
        .find(|o| o.controller == Some(true))
        .or(refs.first())?;
    Some(format!("{}/{}", o.kind, o.name))
}

/// Where the `MONGO_URL` of a Rocket.Chat pod comes from, for `cluster.json`.
#[derive(Debug, Clone, Serialize)]
pub struct MongoHint {
    /// `inline`, `secret`, `configmap`.
    pub source: &'static str,
    /// The pod, `namespace/name`.
    pub pod: String,
    /// The Secret or ConfigMap and key, when referenced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The URI with its credentials removed, when inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_redacted: Option<String>,
    /// What to do.
    pub message: String,
}

/// The [`MongoHint`] of the first running Rocket.Chat pod that sets `MONGO_URL` (else
/// of the first one that is not running).
pub fn mongodb_hint(pods: &[Pod], red: &Redactor) -> Option<MongoHint> {
    let mut best: Option<(bool, MongoHint)> = None;
    for p in pods {
        keep_better_hint(&mut best, p, red);
    }
    best.map(|(_, h)| h)
}

/// Replaces `best` (`(running, hint)`) by `pod`'s hint when there is none yet, or when
/// `pod` runs and the pod of `best` does not.
pub fn keep_better_hint(best: &mut Option<(bool, MongoHint)>, pod: &Pod, red: &Redactor) {
    if best.as_ref().is_some_and(|(running, _)| *running) || role(pod) != Role::Rocketchat {
        return;
    }
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if best.is_some() && !running {
        return;
    }
    if let Some(h) = hint_of(pod, red) {
        *best = Some((running, h));
    }
}

/// Where the `MONGO_URL` of `pod` comes from, if it sets one.
fn hint_of(pod: &Pod, red: &Redactor) -> Option<MongoHint> {
    let id = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or("")
    );
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    let env = containers
        .iter()
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "MONGO_URL")?;
    if let Some(v) = env.value.as_deref().filter(|v| !v.trim().is_empty()) {
        red.register_uri_secrets(v);
        red.register_secret(v);
        return Some(MongoHint {
            source: "inline",
            pod: id.clone(),
            reference: None,
            uri_redacted: Some(red.redact_uri(v)),
            message: format!(
                "MONGO_URL is inline in the spec of pod {id}: the mongodb and rocketchat collectors can use it with --mongodb-uri (the value, with its password, is in the pod spec; it is not written here)"
            ),
        });
    }
    let from = env.value_from.as_ref();
    if let Some(s) = from.and_then(|f| f.secret_key_ref.as_ref()) {
        return Some(MongoHint {
            source: "secret",
            pod: id.clone(),
            reference: Some(format!("secret {} key {}", s.name, s.key)),
            uri_redacted: None,
            message: format!(
                "MONGO_URL of pod {id} comes from Secret {} (key {}), which the agent does not read: pass --mongodb-uri to collect MongoDB and Rocket.Chat data",
                s.name, s.key
            ),
        });
    }
    if let Some(c) = from.and_then(|f| f.config_map_key_ref.as_ref()) {
        return Some(MongoHint {
            source: "configmap",
            pod: id.clone(),
            reference: Some(format!("configmap {} key {}", c.name, c.key)),
            uri_redacted: None,
            message: format!(
                "MONGO_URL of pod {id} comes from ConfigMap {} (key {}), which the agent does not read: pass --mongodb-uri",
                c.name, c.key
            ),
        });
    }
    None
}
