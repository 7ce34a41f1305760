//! `kubernetes/events.json` (Warning events of the last `--since`) and
//! `kubernetes/monitoring.json` (Prometheus Operator ServiceMonitors and PodMonitors).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `kubernetes/events.json`: Warning events of the last `--since`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventsFile {
    /// The window, in seconds.
    #[serde(default, deserialize_with = "opt")]
    pub since_seconds: Option<u64>,
    /// Warning events listed.
    #[serde(default, deserialize_with = "opt")]
    pub read: Option<u64>,
    /// Those within the window, newest first.
    #[serde(default, deserialize_with = "vec")]
    pub events: Vec<Event>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for EventsFile {
    const PATH: &'static str = "kubernetes/events.json";
    const SCHEMA: &'static str = "kubernetes-events.schema.json";
}

/// A Warning event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// `Warning`.
    #[serde(default, deserialize_with = "opt", rename = "type")]
    pub type_: Option<String>,
    /// `FailedScheduling`, `BackOff`, `Evicted`, ...
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// Message.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// `Pod/x`.
    #[serde(default, deserialize_with = "opt")]
    pub object: Option<String>,
    /// How many times.
    #[serde(default, deserialize_with = "opt")]
    pub count: Option<i64>,
    /// First seen.
    #[serde(default, deserialize_with = "opt")]
    pub first_seen: Option<String>,
    /// Last seen.
    #[serde(default, deserialize_with = "opt")]
    pub last_seen: Option<String>,
    /// Reporting component.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/monitoring.json`: Prometheus Operator objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitoringFile {
    /// `monitoring.coreos.com/v1` is served.
    #[serde(default, deserialize_with = "opt")]
    pub prometheus_operator: Option<bool>,
    /// ServiceMonitors.
    #[serde(default, deserialize_with = "vec")]
    pub servicemonitors: Vec<Monitor>,
    /// PodMonitors.
    #[serde(default, deserialize_with = "vec")]
    pub podmonitors: Vec<Monitor>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for MonitoringFile {
    const PATH: &'static str = "kubernetes/monitoring.json";
    const SCHEMA: &'static str = "kubernetes-monitoring.schema.json";
}

/// A ServiceMonitor or PodMonitor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Monitor {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `matchLabels` of its selector.
    #[serde(default, deserialize_with = "opt")]
    pub selector: Option<BTreeMap<String, String>>,
    /// Namespaces it selects in.
    #[serde(default, deserialize_with = "vec")]
    pub namespaces: Vec<String>,
    /// `port path every interval`.
    #[serde(default, deserialize_with = "vec")]
    pub endpoints: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
