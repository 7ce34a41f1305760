//! Pod summaries (`kubernetes/pods.json`) and what pods say about the install: which
//! pods are Rocket.Chat, MongoDB or monitoring (that chooses the namespaces read), and
//! where Rocket.Chat's `MONGO_URL` comes from.
//!
//! Environment values go through the agent's redactor as container env does
//! (`Redactor::redact_env_value`: secret-looking names masked, URIs' userinfo removed,
//! values remembered for the exact-value pass); a `valueFrom` keeps only the name and key
//! of the Secret or ConfigMap it points at, never its data.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, EnvVar as K8sEnvVar, Pod as K8sPod};
use rcdiag_contract::kubernetes::{
    Condition, EnvVar, MongoHint, Pod, PodContainer, Terminated, ValueFrom,
};

use super::nodes::quantities;
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

/// What a pod is, for choosing namespaces and for the analyzer (written as
/// [`Role::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    /// Its name in `pods.json` (`role`) and in `cluster.json` (`reasons`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Rocketchat => "rocketchat",
            Role::RocketchatService => "rocketchat-service",
            Role::Mongodb => "mongodb",
            Role::Prometheus => "prometheus",
            Role::Grafana => "grafana",
            Role::Other => "other",
        }
    }

    /// Whether a pod summary has this role.
    pub fn of(self, pod: &Pod) -> bool {
        pod.role.as_deref() == Some(self.name())
    }
}

fn has_env(c: &Container, name: &str) -> bool {
    c.env.iter().flatten().any(|e| e.name == name)
}

/// The role of a pod, from its images, labels and env names.
pub fn role(pod: &K8sPod) -> Role {
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

fn env_summary(e: &K8sEnvVar, red: &Redactor) -> EnvVar {
    let value_from = e.value_from.as_ref().map(|f| {
        if let Some(s) = &f.secret_key_ref {
            ValueFrom {
                kind: Some("secretKeyRef".into()),
                name: Some(s.name.clone()),
                key: Some(s.key.clone()),
                extra: Default::default(),
            }
        } else if let Some(c) = &f.config_map_key_ref {
            ValueFrom {
                kind: Some("configMapKeyRef".into()),
                name: Some(c.name.clone()),
                key: Some(c.key.clone()),
                extra: Default::default(),
            }
        } else if let Some(r) = &f.field_ref {
            ValueFrom {
                kind: Some("fieldRef".into()),
                name: Some(r.field_path.clone()),
                key: None,
                extra: Default::default(),
            }
        } else if let Some(r) = &f.resource_field_ref {
            ValueFrom {
                kind: Some("resourceFieldRef".into()),
                name: Some(r.resource.clone()),
                key: None,
                extra: Default::default(),
            }
        } else {
            ValueFrom {
                kind: Some("other".into()),
                name: None,
                key: None,
                extra: Default::default(),
            }
        }
    });
    EnvVar {
        name: Some(e.name.clone()),
        value: e.value.as_deref().map(|v| red.redact_env_value(&e.name, v)),
        value_from,
        extra: Default::default(),
    }
}

fn container_summary(
    c: &Container,
    status: Option<&ContainerStatus>,
    init: bool,
    red: &Redactor,
) -> PodContainer {
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
            exit_code: Some(t.exit_code.into()),
            finished_at: t.finished_at.as_ref().map(|f| f.0.to_string()),
            extra: Default::default(),
        });
    let image_id = status.map(|s| s.image_id.clone()).filter(|s| !s.is_empty());
    let digest = image_id
        .as_deref()
        .and_then(|i| i.rfind("sha256:").map(|p| i[p..].to_string()));
    PodContainer {
        name: Some(c.name.clone()),
        // Written only when true.
        init: init.then_some(true),
        image: c.image.clone(),
        image_id,
        digest,
        requests: Some(quantities(res.and_then(|r| r.requests.as_ref()))),
        limits: Some(quantities(res.and_then(|r| r.limits.as_ref()))),
        ready: Some(status.is_some_and(|s| s.ready)),
        restart_count: Some(status.map(|s| s.restart_count).unwrap_or(0).into()),
        state: state_name.map(str::to_string),
        state_reason,
        last_terminated,
        env: c
            .env
            .iter()
            .flatten()
            .map(|e| env_summary(e, red))
            .collect(),
        extra: Default::default(),
    }
}

/// A pod's summary.
pub fn summarize(pod: &K8sPod, red: &Redactor) -> Pod {
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
    let main: Vec<&PodContainer> = containers.iter().filter(|c| c.init != Some(true)).collect();
    let annotations = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| POD_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Pod {
        namespace: Some(meta.namespace.clone().unwrap_or_default()),
        name: Some(meta.name.clone().unwrap_or_default()),
        role: Some(role(pod).name().to_string()),
        phase: status.and_then(|s| s.phase.clone()),
        reason: status.and_then(|s| s.reason.clone()),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        qos_class: status.and_then(|s| s.qos_class.clone()),
        start_time: status
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.to_string()),
        owner: owner(pod),
        ready: Some(!main.is_empty() && main.iter().all(|c| c.ready == Some(true))),
        restarts: Some(main.iter().filter_map(|c| c.restart_count).sum()),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| Condition {
                type_: Some(c.type_.clone()),
                status: Some(c.status.clone()),
                reason: c.reason.clone(),
                message: c.message.clone(),
                extra: Default::default(),
            })
            .collect(),
        labels: Some(
            red.redact_labels(
                meta.labels
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
        ),
        annotations: Some(annotations),
        containers,
        extra: Default::default(),
    }
}

/// The controlling owner of a pod, `Kind/name`.
pub fn owner(pod: &K8sPod) -> Option<String> {
    let refs = pod.metadata.owner_references.as_ref()?;
    let o = refs
        .iter()
        .find(|o| o.controller == Some(true))
        .or(refs.first())?;
    Some(format!("{}/{}", o.kind, o.name))
}

/// The [`MongoHint`] of the first running Rocket.Chat pod that sets `MONGO_URL` (else
/// of the first one that is not running).
pub fn mongodb_hint(pods: &[K8sPod], red: &Redactor) -> Option<MongoHint> {
    let mut best: Option<(bool, MongoHint)> = None;
    for p in pods {
        keep_better_hint(&mut best, p, red);
    }
    best.map(|(_, h)| h)
}

/// Replaces `best` (`(running, hint)`) by `pod`'s hint when there is none yet, or when
/// `pod` runs and the pod of `best` does not.
pub fn keep_better_hint(best: &mut Option<(bool, MongoHint)>, pod: &K8sPod, red: &Redactor) {
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
fn hint_of(pod: &K8sPod, red: &Redactor) -> Option<MongoHint> {
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
            source: Some("inline".into()),
            pod: Some(id.clone()),
            reference: None,
            uri_redacted: Some(red.redact_uri(v)),
            extra: Default::default(),
            message: Some(format!(
                "MONGO_URL is inline in the spec of pod {id}: the mongodb and rocketchat collectors can use it with --mongodb-uri (the value, with its password, is in the pod spec; it is not written here)"
            )),
        });
    }
    let from = env.value_from.as_ref();
    if let Some(s) = from.and_then(|f| f.secret_key_ref.as_ref()) {
        return Some(MongoHint {
            source: Some("secret".into()),
            pod: Some(id.clone()),
            reference: Some(format!("secret {} key {}", s.name, s.key)),
            uri_redacted: None,
            extra: Default::default(),
            message: Some(format!(
                "MONGO_URL of pod {id} comes from Secret {} (key {}), which the agent does not read: pass --mongodb-uri to collect MongoDB and Rocket.Chat data",
                s.name, s.key
            )),
        });
    }
    if let Some(c) = from.and_then(|f| f.config_map_key_ref.as_ref()) {
        return Some(MongoHint {
            source: Some("configmap".into()),
            pod: Some(id.clone()),
            reference: Some(format!("configmap {} key {}", c.name, c.key)),
            uri_redacted: None,
            extra: Default::default(),
            message: Some(format!(
                "MONGO_URL of pod {id} comes from ConfigMap {} (key {}), which the agent does not read: pass --mongodb-uri",
                c.name, c.key
            )),
        });
    }
    None
}
