//! Conformance: does a bundle file survive its type unchanged? Used by the tests that
//! hold the contract to what the agent really writes (the samples, and a fresh
//! collect against the real peers), so that a field the agent writes and the
//! contract gets wrong (a wrong type reads as absent) is caught, not silently lost.

use serde_json::Value;

use crate::{
    BundleFile, ContractError, agent, cri, docker, host, kubernetes, logs, mongodb, rocketchat,
};

/// Reads a file into its contract type and writes it back.
type Roundtrip = fn(&str, Value) -> Result<Value, ContractError>;

fn via<T: BundleFile>(path: &str, value: Value) -> Result<Value, ContractError> {
    let typed: T = crate::from_value(path, value)?;
    Ok(serde_json::to_value(&typed).expect("contract types serialize"))
}

/// The contract type of a bundle path, as its round trip; `None` when it has none.
fn contract_of(path: &str) -> Option<Roundtrip> {
    Some(match path {
        "host/host.json" => via::<host::HostFile>,
        "docker/version.json" => via::<docker::VersionFile>,
        "docker/info.json" => via::<docker::InfoFile>,
        "docker/containers.json" => via::<docker::ContainersFile>,
        "docker/images.json" => via::<docker::ImagesFile>,
        "docker/stats.json" => via::<docker::StatsFile>,
        "logs/index.json" => via::<logs::IndexFile>,
        "mongodb/summary.json" => via::<mongodb::SummaryFile>,
        "mongodb/oplog.json" => via::<mongodb::OplogFile>,
        "rocketchat/summary.json" => via::<rocketchat::SummaryFile>,
        "rocketchat/statistics.json" => via::<rocketchat::StatisticsFile>,
        "rocketchat/settings.json" => via::<rocketchat::SettingsFile>,
        "agent/run.json" => via::<agent::RunFile>,
        "kubernetes/cluster.json" => via::<kubernetes::ClusterFile>,
        "kubernetes/nodes.json" => via::<kubernetes::NodesFile>,
        "kubernetes/pods.json" => via::<kubernetes::PodsFile>,
        "kubernetes/workloads.json" => via::<kubernetes::WorkloadsFile>,
        "kubernetes/network.json" => via::<kubernetes::NetworkFile>,
        "kubernetes/storage.json" => via::<kubernetes::StorageFile>,
        "kubernetes/events.json" => via::<kubernetes::EventsFile>,
        "kubernetes/monitoring.json" => via::<kubernetes::MonitoringFile>,
        "kubernetes/calls.json" => via::<kubernetes::CallsFile>,
        "kubernetes/helm.json" => via::<kubernetes::HelmFile>,
        "cri/runtime.json" => via::<cri::RuntimeFile>,
        "cri/pods.json" => via::<cri::PodsFile>,
        "cri/containers.json" => via::<cri::ContainersFile>,
        "cri/images.json" => via::<cri::ImagesFile>,
        "cri/stats.json" => via::<cri::StatsFile>,
        p if p.starts_with("mongodb/") && p.ends_with(".json") => via::<mongodb::CommandFile>,
        _ => return None,
    })
}

/// Whether a bundle path has a contract type.
pub fn has_type(path: &str) -> bool {
    contract_of(path).is_some()
}

/// Reads `value` into the type of `path` and writes it back; `None` when the path has
/// no contract type.
pub fn roundtrip(path: &str, value: Value) -> Option<Result<Value, ContractError>> {
    contract_of(path).map(|f| f(path, value))
}

/// The differences between a file as written and as read back through its type,
/// ignoring what the types cannot tell apart (a null field, an empty list and an
/// absent field; `3` and `3.0`). Empty when the contract holds for this file. Each entry is a JSON
/// pointer and what was found on each side.
pub fn differences(path: &str, original: &Value) -> Vec<String> {
    let Some(back) = roundtrip(path, original.clone()) else {
        return Vec::new();
    };
    let back = match back {
        Ok(v) => v,
        Err(e) => return vec![format!("(whole file): {e}")],
    };
    let mut out = Vec::new();
    diff("", &normalize(original), &normalize(&back), &mut out);
    out
}

fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null() && x.as_array().is_none_or(|a| !a.is_empty()))
                .map(|(k, x)| (k.clone(), normalize(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| v.clone()),
        _ => v.clone(),
    }
}

fn diff(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let here = format!("{at}/{k}");
                match y.get(k) {
                    Some(vb) => diff(&here, va, vb, out),
                    None => out.push(format!("{here}: written {va}, lost when read")),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(format!("{at}/{k}: not written, read as {vb}"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff(&format!("{at}/{i}"), va, vb, out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{at}: written {a}, read as {b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_of_the_wrong_type_is_a_difference() {
        let ok = json!({"hostname": "n1", "cpu": {"logical_cores": 4}, "future_field": [1]});
        assert!(differences("host/host.json", &ok).is_empty());
        let bad = json!({"hostname": "n1", "cpu": {"logical_cores": "four"}});
        let d = differences("host/host.json", &bad);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("/cpu/logical_cores: written"), "{d:?}");
    }

    #[test]
    fn a_dropped_list_element_is_a_difference() {
        let good = json!([{"id": "a", "restart_count": 1}, {"id": "b", "restart_count": 2}]);
        assert!(differences("docker/containers.json", &good).is_empty());
        let bad = json!([{"id": "a", "restart_count": 1}, {"id": "b", "restart_count": "x"}]);
        assert_eq!(
            differences("docker/containers.json", &bad),
            vec!["/1/restart_count: written \"x\", lost when read".to_string()]
        );
        let bad = json!({"disks": [{"mount_point": "/"}, "not a disk"]});
        let d = differences("host/host.json", &bad);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("/disks: written"), "{d:?}");
    }

    #[test]
    fn the_wrong_top_level_is_an_error_naming_the_file() {
        let d = differences("docker/containers.json", &json!({"id": "a"}));
        assert_eq!(d.len(), 1);
        assert!(
            d[0].contains("docker/containers.json holds an object where a list was expected"),
            "{d:?}"
        );
        assert!(!has_type("logs/rocketchat-1.log"));
        assert!(has_type("mongodb/serverStatus.json"));
        // A command file reads through the generic command type: its reply is kept whole.
        let cmd = json!({"ok": true, "reply": {"version": "8.0.1", "anything": [1]}});
        assert!(differences("mongodb/serverStatus.json", &cmd).is_empty());
    }
}
