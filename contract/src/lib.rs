//! The typed contract between `rcdiag-agent` and `rcdiag-analyzer`: one serde struct
//! per JSON file a collector writes into a bundle, and its published JSON Schema.
//!
//! Reading is lenient, because bundles come from older agents, partial collectors and
//! hostile senders: every field is optional (`#[serde(default)]`), a field of the wrong
//! type reads as absent instead of failing the whole file ([`lenient`]), a bad element
//! of a list is left out, and fields this version does not know are kept in `extra`
//! (so the explorer and `cat` still show them). Only a file that is not JSON at all, or
//! whose top level has the wrong shape, fails to load ([`ContractError`]).
//!
//! | bundle file | type |
//! |---|---|
//! | `host/host.json` | [`host::HostFile`] |
//! | `docker/version.json` | [`docker::VersionFile`] |
//! | `docker/info.json` | [`docker::InfoFile`] |
//! | `docker/containers.json` | [`docker::ContainersFile`] (`Vec<`[`docker::Container`]`>`) |
//! | `docker/images.json` | [`docker::ImagesFile`] (`Vec<`[`docker::Image`]`>`) |
//! | `docker/stats.json` | [`docker::StatsFile`] (`Vec<`[`docker::Stats`]`>`) |
//! | `logs/index.json` | [`logs::IndexFile`] (`Vec<`[`logs::LogEntry`]`>`) |
//! | `mongodb/summary.json` | [`mongodb::SummaryFile`] |
//! | `mongodb/<command>.json` | [`mongodb::CommandFile`] |
//! | `mongodb/oplog.json` | [`mongodb::CommandFile`]`<`[`mongodb::OplogReply`]`>` |
//! | `rocketchat/summary.json` | [`rocketchat::SummaryFile`] |
//! | `rocketchat/statistics.json` | [`rocketchat::StatisticsFile`] |
//! | `rocketchat/settings.json` | [`rocketchat::SettingsFile`] |
//! | `agent/run.json` | [`agent::RunFile`] |
//! | `kubernetes/cluster.json` | [`kubernetes::ClusterFile`] |
//! | `kubernetes/nodes.json` | [`kubernetes::NodesFile`] |
//! | `kubernetes/pods.json` | [`kubernetes::PodsFile`] |
//! | `kubernetes/workloads.json` | [`kubernetes::WorkloadsFile`] |
//! | `kubernetes/network.json` | [`kubernetes::NetworkFile`] |
//! | `kubernetes/storage.json` | [`kubernetes::StorageFile`] |
//! | `kubernetes/events.json` | [`kubernetes::EventsFile`] |
//! | `kubernetes/monitoring.json` | [`kubernetes::MonitoringFile`] |
//! | `kubernetes/calls.json` | [`kubernetes::CallsFile`] |
//! | `kubernetes/helm.json` | [`kubernetes::HelmFile`] |
//! | `cri/runtime.json` | [`cri::RuntimeFile`] |
//! | `cri/pods.json` | [`cri::PodsFile`] |
//! | `cri/containers.json` | [`cri::ContainersFile`] |
//! | `cri/images.json` | [`cri::ImagesFile`] |
//! | `cri/stats.json` | [`cri::StatsFile`] |
//!
//! The schemas are in `contract/schema/` (regenerate with
//! `RCDIAG_UPDATE_SCHEMA=1 cargo test -p rcdiag-contract --test schema`); what each field
//! means is in `docs/collector-outputs.md`.

pub mod agent;
pub mod conformance;
pub mod cri;
pub mod docker;
pub mod host;
pub mod kubernetes;
pub mod lenient;
pub mod logs;
pub mod mongodb;
pub mod rocketchat;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Extra fields of an object that this version of the contract does not name.
pub type Extra = serde_json::Map<String, Value>;

/// Why a bundle file could not be read into its type.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// Not JSON at all.
    #[error(
        "{path} is not valid JSON ({source}): the bundle is damaged; `rcdiag-analyzer cat` shows what it holds"
    )]
    NotJson {
        /// Bundle path.
        path: String,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// JSON, but its top level is not what the file holds (an object, or a list).
    #[error(
        "{path} holds {found} where {expected} was expected: the bundle is damaged or was not written by rcdiag-agent"
    )]
    WrongShape {
        /// Bundle path.
        path: String,
        /// What the top level is.
        found: &'static str,
        /// What it should be.
        expected: &'static str,
    },
}

/// A JSON file of a bundle with a typed contract.
pub trait BundleFile: DeserializeOwned + serde::Serialize + schemars::JsonSchema {
    /// Its path in the bundle (for `mongodb/<command>.json`, the pattern).
    const PATH: &'static str;
    /// Name of its schema file in `contract/schema/`.
    const SCHEMA: &'static str;
    /// Whether its top level is a list (else an object).
    const IS_LIST: bool = false;
}

/// Reads an already parsed file into its type. Never fails on a field: only a top
/// level of the wrong shape is an error.
pub fn from_value<T: BundleFile>(path: &str, value: Value) -> Result<T, ContractError> {
    let (ok, expected) = if T::IS_LIST {
        (value.is_array(), "a list")
    } else {
        (value.is_object(), "an object")
    };
    if !ok {
        return Err(ContractError::WrongShape {
            path: path.to_string(),
            found: kind(&value),
            expected,
        });
    }
    // Every field and element is lenient, so a top level of the right shape always
    // deserializes; the fallback only guards against a type that is not.
    T::deserialize(value).map_err(|_| ContractError::WrongShape {
        path: path.to_string(),
        found: "fields of the wrong types",
        expected,
    })
}

/// Parses the bytes of a file into its type.
pub fn from_slice<T: BundleFile>(path: &str, bytes: &[u8]) -> Result<T, ContractError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|source| ContractError::NotJson {
        path: path.to_string(),
        source,
    })?;
    from_value(path, value)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The JSON Schema of `T`, as published in `contract/schema/` (keys sorted, pretty,
/// newline at the end).
pub fn schema_json<T: BundleFile>() -> String {
    let schema = schemars::schema_for!(T);
    let value =
        rcdiag_bundle::sorted_json(serde_json::to_value(&schema).expect("schema serializes"));
    let mut s = serde_json::to_string_pretty(&value).expect("schema serializes");
    s.push('\n');
    s
}

/// Every published schema: `(schema file name, bundle path, schema)`.
pub fn schemas() -> Vec<(&'static str, &'static str, String)> {
    fn one<T: BundleFile>() -> (&'static str, &'static str, String) {
        (T::SCHEMA, T::PATH, schema_json::<T>())
    }
    vec![
        one::<host::HostFile>(),
        one::<docker::VersionFile>(),
        one::<docker::InfoFile>(),
        one::<docker::ContainersFile>(),
        one::<docker::ImagesFile>(),
        one::<docker::StatsFile>(),
        one::<logs::IndexFile>(),
        one::<mongodb::SummaryFile>(),
        one::<mongodb::CommandFile>(),
        one::<mongodb::OplogFile>(),
        one::<rocketchat::SummaryFile>(),
        one::<rocketchat::StatisticsFile>(),
        one::<rocketchat::SettingsFile>(),
        one::<agent::RunFile>(),
        one::<kubernetes::ClusterFile>(),
        one::<kubernetes::NodesFile>(),
        one::<kubernetes::PodsFile>(),
        one::<kubernetes::WorkloadsFile>(),
        one::<kubernetes::NetworkFile>(),
        one::<kubernetes::StorageFile>(),
        one::<kubernetes::EventsFile>(),
        one::<kubernetes::MonitoringFile>(),
        one::<kubernetes::CallsFile>(),
        one::<kubernetes::HelmFile>(),
        one::<cri::RuntimeFile>(),
        one::<cri::PodsFile>(),
        one::<cri::ContainersFile>(),
        one::<cri::ImagesFile>(),
        one::<cri::StatsFile>(),
    ]
}
