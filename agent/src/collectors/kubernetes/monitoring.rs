//! Prometheus Operator objects (`kubernetes/monitoring.json`): ServiceMonitors and
//! PodMonitors (`monitoring.coreos.com/v1`, read as JSON) of the chosen namespaces,
//! when the cluster serves that API group.

use std::collections::BTreeMap;

use rcdiag_contract::kubernetes::Monitor;
use serde_json::Value;

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
pub fn monitor(m: &Value) -> Monitor {
    let spec = &m["spec"];
    let eps = spec["endpoints"]
        .as_array()
        .or(spec["podMetricsEndpoints"].as_array());
    Monitor {
        namespace: Some(
            m["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ),
        name: Some(m["metadata"]["name"].as_str().unwrap_or("").to_string()),
        labels: Some(string_map(&m["metadata"]["labels"])),
        selector: Some(string_map(&spec["selector"]["matchLabels"])),
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
        extra: Default::default(),
    }
}
