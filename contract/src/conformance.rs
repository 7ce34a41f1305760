//! Conformance: does a bundle file survive its type unchanged? Used by the tests that
//! hold the contract to what the agent really writes (the samples, and a fresh
//! collect against the real peers), so that a field the agent writes and the
//! contract gets wrong (a wrong type reads as absent) is caught, not silently lost.

use serde_json::Value;

use crate::{BundleFile, ContractError, agent, docker, host, logs, mongodb, rocketchat};

/// The contract type of a bundle path, by name, if it has one.
pub fn type_of(path: &str) -> Option<&'static str> {
    Some(match path {
        "host/host.json" => "host::HostFile",
        "docker/version.json" => "docker::VersionFile",
        "docker/info.json" => "docker::InfoFile",
        "docker/containers.json" => "docker::ContainersFile",
        "docker/images.json" => "docker::ImagesFile",
        "docker/stats.json" => "docker::StatsFile",
        "logs/index.json" => "logs::IndexFile",
        "mongodb/summary.json" => "mongodb::SummaryFile",
        "mongodb/oplog.json" => "mongodb::OplogFile",
        "rocketchat/summary.json" => "rocketchat::SummaryFile",
        "rocketchat/statistics.json" => "rocketchat::StatisticsFile",
        "rocketchat/settings.json" => "rocketchat::SettingsFile",
        "agent/run.json" => "agent::RunFile",
        p if p.starts_with("mongodb/") && p.ends_with(".json") => "mongodb::CommandFile",
        _ => return None,
    })
}

/// Reads `value` into the type of `path` and writes it back; `None` when the path has
/// no contract type.
pub fn roundtrip(path: &str, value: Value) -> Option<Result<Value, ContractError>> {
    fn via<T: BundleFile>(path: &str, value: Value) -> Result<Value, ContractError> {
        let typed: T = crate::from_value(path, value)?;
        Ok(serde_json::to_value(&typed).expect("contract types serialize"))
    }
    Some(match type_of(path)? {
        "host::HostFile" => via::<host::HostFile>(path, value),
        "docker::VersionFile" => via::<docker::VersionFile>(path, value),
        "docker::InfoFile" => via::<docker::InfoFile>(path, value),
        "docker::ContainersFile" => via::<docker::ContainersFile>(path, value),
        "docker::ImagesFile" => via::<docker::ImagesFile>(path, value),
        "docker::StatsFile" => via::<docker::StatsFile>(path, value),
        "logs::IndexFile" => via::<logs::IndexFile>(path, value),
        "mongodb::SummaryFile" => via::<mongodb::SummaryFile>(path, value),
        "mongodb::OplogFile" => via::<mongodb::OplogFile>(path, value),
        "rocketchat::SummaryFile" => via::<rocketchat::SummaryFile>(path, value),
        "rocketchat::StatisticsFile" => via::<rocketchat::StatisticsFile>(path, value),
        "rocketchat::SettingsFile" => via::<rocketchat::SettingsFile>(path, value),
        "agent::RunFile" => via::<agent::RunFile>(path, value),
        _ => via::<mongodb::CommandFile>(path, value),
    })
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
        assert_eq!(type_of("logs/rocketchat-1.log"), None);
        assert_eq!(
            type_of("mongodb/serverStatus.json"),
            Some("mongodb::CommandFile")
        );
    }
}
