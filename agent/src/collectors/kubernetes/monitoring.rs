//! Prometheus Operator objects (`kubernetes/monitoring.json`): ServiceMonitors and
//! PodMonitors (`monitoring.coreos.com/v1`, read as JSON) of the chosen namespaces,
//! when the cluster serves that API group.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// Everything of `monitoring.json`.
#[derive(Debug, Default, Serialize)]
pub struct Monitoring {
    /// Whether `monitoring.coreos.com` is served.
    pub prometheus_operator: bool,
    /// ServiceMonitors.
    pub servicemonitors: Vec<MonitorSummary>,
    /// PodMonitors.
    pub podmonitors: Vec<MonitorSummary>,
}

/// A ServiceMonitor or PodMonitor.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorSummary {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels (the `release` label is what a Prometheus selects on).
    pub labels: BTreeMap<String, String>,
    /// Selector `matchLabels`.
    pub selector: BTreeMap<String, String>,
    /// `namespaceSelector.matchNames`.
    pub namespaces: Vec<String>,
    /// Endpoints, `port path every interval`.
    pub endpoints: Vec<String>,
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A monitor's summary, from its JSON (`endpoints` or `podMetricsEndpoints`).
pub fn monitor(m: &Value) -> MonitorSummary {
    let spec = &m["spec"];
    let eps = spec["endpoints"]
        .as_array()
        .or(spec["podMetricsEndpoints"].as_array());
    MonitorSummary {
        namespace: m["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        name: m["metadata"]["name"].as_str().unwrap_or("").to_string(),
        labels: string_map(&m["metadata"]["labels"]),
        selector: string_map(&spec["selector"]["matchLabels"]),
        namespaces: spec["namespaceSelector"]["matchNames"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        endpoints: eps
            .into_iter()
            .flatten()
            .map(|e| {
                let port = e["port"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| e["targetPort"].as_i64().map(|p| p.to_string()))
                    .unwrap_or_else(|| "-".into());
                format!(
                    "{port} {} every {}",
                    e["path"].as_str().unwrap_or("/metrics"),
                    e["interval"].as_str().unwrap_or("default")
                )
            })
            .collect(),
    }
}
