//! `rocketchat/*.json`: what the `rocketchat` collector read from the Rocket.Chat
//! database and endpoints (docs/collector-outputs.md, "rocketchat").

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `rocketchat/summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummaryFile {
    /// The Rocket.Chat version and where each source saw it.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<Version>,
    /// The workspace's unique id.
    #[serde(default, deserialize_with = "opt")]
    pub unique_id: Option<String>,
    /// `Site_Url`.
    #[serde(default, deserialize_with = "opt")]
    pub site_url: Option<String>,
    /// User counts.
    #[serde(default, deserialize_with = "opt")]
    pub users: Option<Users>,
    /// Server instances seen in the database.
    #[serde(default, deserialize_with = "opt")]
    pub instances: Option<Instances>,
    /// Deployment method and platform.
    #[serde(default, deserialize_with = "opt")]
    pub deploy: Option<Deploy>,
    /// The Prometheus exporter.
    #[serde(default, deserialize_with = "opt")]
    pub prometheus: Option<Prometheus>,
    /// `/api/info` and `/metrics` of each Rocket.Chat container.
    #[serde(default, deserialize_with = "vec")]
    pub endpoints: Vec<Endpoint>,
    /// When the newest statistics document was made.
    #[serde(default, deserialize_with = "opt")]
    pub statistics_created_at: Option<String>,
    /// The database read.
    #[serde(default, deserialize_with = "opt")]
    pub database: Option<String>,
    /// Where the MongoDB URI came from.
    #[serde(default, deserialize_with = "opt")]
    pub uri_source: Option<String>,
    /// Rocket.Chat containers found.
    #[serde(default, deserialize_with = "vec")]
    pub containers: Vec<RcContainer>,
    /// Why containers could not be listed.
    #[serde(default, deserialize_with = "opt")]
    pub containers_error: Option<String>,
    /// Why the database could not be read.
    #[serde(default, deserialize_with = "opt")]
    pub database_error: Option<String>,
    /// What could not be read, by part (`statistics`, `users`, `instances`, `settings`).
    #[serde(default, deserialize_with = "opt")]
    pub errors: Option<BTreeMap<String, crate::mongodb::CommandError>>,
    /// Remarks for the reader.
    #[serde(default, deserialize_with = "vec")]
    pub notes: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for SummaryFile {
    const PATH: &'static str = "rocketchat/summary.json";
    const SCHEMA: &'static str = "rocketchat-summary.schema.json";
}

/// The Rocket.Chat version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Version {
    /// The version the agent settled on.
    #[serde(default, deserialize_with = "opt")]
    pub value: Option<String>,
    /// What each source said (`statistics`, `image_tag`, `startup_log`, `api_info`).
    #[serde(default, deserialize_with = "opt")]
    pub sources: Option<BTreeMap<String, Option<String>>>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// User counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Users {
    /// Users.
    #[serde(default, deserialize_with = "opt")]
    pub total: Option<u64>,
    /// Human users.
    #[serde(default, deserialize_with = "opt")]
    pub humans: Option<u64>,
    /// Active human users.
    #[serde(default, deserialize_with = "opt")]
    pub active_humans: Option<u64>,
    /// Active guests.
    #[serde(default, deserialize_with = "opt")]
    pub active_guests: Option<u64>,
    /// Bots and apps.
    #[serde(default, deserialize_with = "opt")]
    pub bots: Option<u64>,
    /// Online now.
    #[serde(default, deserialize_with = "opt")]
    pub online: Option<u64>,
    /// Online humans.
    #[serde(default, deserialize_with = "opt")]
    pub online_humans: Option<u64>,
    /// Concurrent connections.
    #[serde(default, deserialize_with = "opt")]
    pub concurrent: Option<u64>,
    /// Where `concurrent` comes from.
    #[serde(default, deserialize_with = "opt")]
    pub concurrent_source: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Server instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Instances {
    /// Instances seen within the window.
    #[serde(default, deserialize_with = "opt")]
    pub live: Option<u64>,
    /// Instances recorded.
    #[serde(default, deserialize_with = "opt")]
    pub total: Option<u64>,
    /// The liveness window.
    #[serde(default, deserialize_with = "opt")]
    pub window_seconds: Option<u64>,
    /// Each instance.
    #[serde(default, deserialize_with = "vec")]
    pub list: Vec<Instance>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One server instance (`instances` collection).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Instance {
    /// Instance id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// Instance name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Address.
    #[serde(default, deserialize_with = "opt")]
    pub host: Option<String>,
    /// Port.
    #[serde(default, deserialize_with = "opt")]
    pub port: Option<u64>,
    /// Process id.
    #[serde(default, deserialize_with = "opt")]
    pub pid: Option<u64>,
    /// Node.js version.
    #[serde(default, deserialize_with = "opt")]
    pub node_version: Option<String>,
    /// Last heartbeat.
    #[serde(default, deserialize_with = "opt")]
    pub updated_at: Option<String>,
    /// Seconds since the last heartbeat.
    #[serde(default, deserialize_with = "opt")]
    pub age_seconds: Option<f64>,
    /// Within the window.
    #[serde(default, deserialize_with = "opt")]
    pub live: Option<bool>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How Rocket.Chat was deployed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deploy {
    /// `DEPLOY_METHOD` (`docker`, `helm`, ...).
    #[serde(default, deserialize_with = "opt")]
    pub method: Option<String>,
    /// `DEPLOY_PLATFORM` (`compose`, `helm-chart`, ...).
    #[serde(default, deserialize_with = "opt")]
    pub platform: Option<String>,
    /// Where it was read.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The Prometheus exporter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Prometheus {
    /// `Prometheus_Enabled`.
    #[serde(default, deserialize_with = "opt")]
    pub enabled: Option<bool>,
    /// Where `enabled` was read.
    #[serde(default, deserialize_with = "opt")]
    pub enabled_source: Option<String>,
    /// `Prometheus_Port`.
    #[serde(default, deserialize_with = "opt")]
    pub port: Option<u64>,
    /// Where `port` was read.
    #[serde(default, deserialize_with = "opt")]
    pub port_source: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The HTTP endpoints of one Rocket.Chat container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Endpoint {
    /// Container name.
    #[serde(default, deserialize_with = "opt")]
    pub container: Option<String>,
    /// Address used.
    #[serde(default, deserialize_with = "opt")]
    pub address: Option<String>,
    /// Remark.
    #[serde(default, deserialize_with = "opt")]
    pub note: Option<String>,
    /// `/api/info`.
    #[serde(default, deserialize_with = "opt")]
    pub api_info: Option<Probe>,
    /// `/metrics`.
    #[serde(default, deserialize_with = "opt")]
    pub metrics: Option<Probe>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One HTTP probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Probe {
    /// URL asked.
    #[serde(default, deserialize_with = "opt")]
    pub url: Option<String>,
    /// Answered as expected.
    #[serde(default, deserialize_with = "opt")]
    pub ok: Option<bool>,
    /// HTTP status.
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<u64>,
    /// Version announced.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// What went wrong.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// `/metrics` holds Rocket.Chat's own metrics.
    #[serde(default, deserialize_with = "opt")]
    pub rocketchat_metrics: Option<bool>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Rocket.Chat container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RcContainer {
    /// Container name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Image.
    #[serde(default, deserialize_with = "opt")]
    pub image: Option<String>,
    /// Tag of the image.
    #[serde(default, deserialize_with = "opt")]
    pub image_tag: Option<String>,
    /// Running.
    #[serde(default, deserialize_with = "opt")]
    pub running: Option<bool>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `rocketchat/statistics.json`: the newest `rocketchat_statistics` document, allow-listed fields only (Rocket.Chat's own camelCase names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatisticsFile {
    /// Rocket.Chat version.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// Workspace id.
    #[serde(default, rename = "uniqueId", deserialize_with = "opt")]
    pub unique_id: Option<String>,
    /// Install date.
    #[serde(default, rename = "installedAt", deserialize_with = "opt")]
    pub installed_at: Option<String>,
    /// Users.
    #[serde(default, rename = "totalUsers", deserialize_with = "opt")]
    pub total_users: Option<u64>,
    /// Active users.
    #[serde(default, rename = "activeUsers", deserialize_with = "opt")]
    pub active_users: Option<u64>,
    /// Active guests.
    #[serde(default, rename = "activeGuests", deserialize_with = "opt")]
    pub active_guests: Option<u64>,
    /// Online users.
    #[serde(default, rename = "onlineUsers", deserialize_with = "opt")]
    pub online_users: Option<u64>,
    /// Connected users.
    #[serde(default, rename = "totalConnectedUsers", deserialize_with = "opt")]
    pub total_connected_users: Option<u64>,
    /// Instances.
    #[serde(default, rename = "instanceCount", deserialize_with = "opt")]
    pub instance_count: Option<u64>,
    /// Oplog tailing.
    #[serde(default, rename = "oplogEnabled", deserialize_with = "opt")]
    pub oplog_enabled: Option<bool>,
    /// MongoDB version.
    #[serde(default, rename = "mongoVersion", deserialize_with = "opt")]
    pub mongo_version: Option<String>,
    /// MongoDB storage engine.
    #[serde(default, rename = "mongoStorageEngine", deserialize_with = "opt")]
    pub mongo_storage_engine: Option<String>,
    /// When the document was made.
    #[serde(default, rename = "createdAt", deserialize_with = "opt")]
    pub created_at: Option<String>,
    /// Deployment (`method`, `platform`).
    #[serde(default, deserialize_with = "opt")]
    pub deploy: Option<Value>,
    /// OS of the server (`cpu_count`, `cpu_model` replace `cpus`).
    #[serde(default, deserialize_with = "opt")]
    pub os: Option<Value>,
    /// Node.js process.
    #[serde(default, deserialize_with = "opt")]
    pub process: Option<Value>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for StatisticsFile {
    const PATH: &'static str = "rocketchat/statistics.json";
    const SCHEMA: &'static str = "rocketchat-statistics.schema.json";
}

/// `rocketchat/settings.json`: `{"<setting id>": value}` for the allow-list only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SettingsFile(pub BTreeMap<String, Value>);

impl BundleFile for SettingsFile {
    const PATH: &'static str = "rocketchat/settings.json";
    const SCHEMA: &'static str = "rocketchat-settings.schema.json";
}
