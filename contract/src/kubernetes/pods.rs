//! `kubernetes/pods.json`: the pods of the chosen namespaces, their containers (image,
//! digest, resources, restarts, how the previous run ended) and their env, redacted.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;
use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `kubernetes/pods.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodsFile {
    /// The pods of the namespaces read.
    #[serde(default, deserialize_with = "vec")]
    pub pods: Vec<Pod>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for PodsFile {
    const PATH: &'static str = "kubernetes/pods.json";
    const SCHEMA: &'static str = "kubernetes-pods.schema.json";
}

/// A pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pod {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `rocketchat`, `rocketchat-service`, `mongodb`, `prometheus`, `grafana` or `other`.
    #[serde(default, deserialize_with = "opt")]
    pub role: Option<String>,
    /// `Running`, `Pending`, ...
    #[serde(default, deserialize_with = "opt")]
    pub phase: Option<String>,
    /// Why it is in that phase (`Evicted`).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
    /// The node it runs on.
    #[serde(default, deserialize_with = "opt")]
    pub node: Option<String>,
    /// QoS class.
    #[serde(default, deserialize_with = "opt")]
    pub qos_class: Option<String>,
    /// Start time (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub start_time: Option<String>,
    /// `ReplicaSet/x`, `StatefulSet/x`.
    #[serde(default, deserialize_with = "opt")]
    pub owner: Option<String>,
    /// Its Ready condition is True.
    #[serde(default, deserialize_with = "opt")]
    pub ready: Option<bool>,
    /// Restarts of all its containers.
    #[serde(default, deserialize_with = "opt")]
    pub restarts: Option<i64>,
    /// Pod conditions.
    #[serde(default, deserialize_with = "vec")]
    pub conditions: Vec<Condition>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The annotations kept (prometheus.io/*, ...).
    #[serde(default, deserialize_with = "opt")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Its containers (init containers too).
    #[serde(default, deserialize_with = "vec")]
    pub containers: Vec<PodContainer>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A container of a pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodContainer {
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// An init container (only written when true).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub init: Option<bool>,
    /// The image of the spec.
    #[serde(default, deserialize_with = "opt")]
    pub image: Option<String>,
    /// The image the runtime ran (`repo@sha256:...`).
    #[serde(default, deserialize_with = "opt")]
    pub image_id: Option<String>,
    /// `sha256:...` of `image_id`.
    #[serde(default, deserialize_with = "opt")]
    pub digest: Option<String>,
    /// Resource requests.
    #[serde(default, deserialize_with = "opt")]
    pub requests: Option<BTreeMap<String, String>>,
    /// Resource limits.
    #[serde(default, deserialize_with = "opt")]
    pub limits: Option<BTreeMap<String, String>>,
    /// Ready.
    #[serde(default, deserialize_with = "opt")]
    pub ready: Option<bool>,
    /// Restarts.
    #[serde(default, deserialize_with = "opt")]
    pub restart_count: Option<i64>,
    /// `running`, `waiting` or `terminated`.
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<String>,
    /// `ImagePullBackOff`, `CrashLoopBackOff`, ...
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub state_reason: Option<String>,
    /// How the previous run ended.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_terminated: Option<Terminated>,
    /// Environment of the spec, redacted.
    #[serde(default, deserialize_with = "vec")]
    pub env: Vec<EnvVar>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a container's previous run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Terminated {
    /// `OOMKilled`, `Error`, `Completed`.
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// Exit code.
    #[serde(default, deserialize_with = "opt")]
    pub exit_code: Option<i64>,
    /// When.
    #[serde(default, deserialize_with = "opt")]
    pub finished_at: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An environment variable of a pod spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvVar {
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Value, redacted as container env is.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
    /// Where the value comes from.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub value_from: Option<ValueFrom>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `valueFrom` reference (names only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValueFrom {
    /// `secretKeyRef`, `configMapKeyRef`, `fieldRef` or `resourceFieldRef`.
    #[serde(default, deserialize_with = "opt")]
    pub kind: Option<String>,
    /// The object or field named.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// The key.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub key: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
