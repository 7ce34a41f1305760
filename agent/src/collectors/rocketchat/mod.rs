//! The rocketchat collector: what Rocket.Chat's own data says about the deployment.
//!
//! From the Rocket.Chat database (same connection logic as the mongodb collector, see
//! [`Context::connect_mongodb`]): the newest `rocketchat_statistics` document (allow-listed
//! fields only), user counts from `users`, the `instances` heartbeats (live = updated within
//! [`LIVE_WINDOW_SECONDS`] of collection time), and an allow-list of non-secret settings
//! from `rocketchat_settings`, queried by `_id` (the collection is never read whole:
//! it holds SMTP passwords, OAuth secrets and cloud tokens).
//!
//! From Docker discovery: the Rocket.Chat containers' image tags and `DEPLOY_*` env, and,
//! over plain HTTP/1.0 with a 2 s limit, `GET /api/info` (port `PORT`, default 3000) and
//! `GET /metrics` (port `PROMETHEUS_PORT`, else the `Prometheus_Port` setting, else 9458)
//! of each running Rocket.Chat container, by its container IP.
//!
//! Writes `rocketchat/summary.json`, `rocketchat/statistics.json` and
//! `rocketchat/settings.json` (see `docs/collector-outputs.md`). The startup box of the
//! logs is the analyzer's to read: `version.sources.startup_log` is always null here.
//!
//! `database` holds the reads of the Rocket.Chat database, `probes` the HTTP probes of
//! each container (through [`crate::clients::http`]).

mod database;
mod probes;

use std::collections::BTreeMap;
use std::time::Duration;

use mongodb::Client;
use mongodb::bson::{Bson, Document};
use rcdiag_contract::rocketchat::{
    Deploy, Instances, Prometheus, RcContainer, SummaryFile, Users, Version,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use self::database::{instances, newest_statistics, port_of, settings, truthy, user_counts};
use self::probes::probe_containers;
use super::{CollectorSink, Context, DiscoveredContainer, Outcome};
use crate::clients::mongodb::{Budget, CmdError, ConnectError, to_json};
use crate::redact::Redactor;

/// An instance whose `_updatedAt` is at most this old is live (Rocket.Chat beats every
/// 10 s and its TTL index drops an instance after 60 s by default).
pub const LIVE_WINDOW_SECONDS: i64 = 120;

/// Limit of each HTTP request to a container.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(2);

/// Rocket.Chat's default HTTP port.
pub const DEFAULT_PORT: u16 = 3000;

/// Rocket.Chat's default Prometheus exporter port.
pub const DEFAULT_PROMETHEUS_PORT: u16 = 9458;

/// Most instances listed.
const MAX_INSTANCES: i64 = 200;

/// Settings that are read (by `_id`): none is a secret.
pub const SETTINGS_ALLOW_LIST: &[&str] = &[
    "Site_Url",
    "Site_Name",
    "Language",
    "Show_Setup_Wizard",
    "Prometheus_Enabled",
    "Prometheus_Port",
    "Prometheus_Reset_Interval",
    "Prometheus_Garbage_Collector",
    "Prometheus_API_User_Agent",
    "Log_Level",
    "Log_Package",
    "Log_View_Limit",
    "Log_Exceptions_to_Channel",
    "FileUpload_Enabled",
    "FileUpload_Storage_Type",
    "FileUpload_MaxFileSize",
    "Accounts_TwoFactorAuthentication_Enabled",
    "Accounts_TwoFactorAuthentication_By_Email_Enabled",
    "Accounts_RegistrationForm",
    "Force_SSL",
    "Troubleshoot_Disable_Notifications",
    "Troubleshoot_Disable_Presence_Broadcast",
    "Troubleshoot_Disable_Instance_Broadcast",
    "Troubleshoot_Disable_Sessions_Monitor",
    "Troubleshoot_Disable_Livechat_Activity_Monitor",
    "Troubleshoot_Disable_Statistics_Generator",
    "Troubleshoot_Disable_Data_Exporter_Processor",
    "Troubleshoot_Disable_Workspace_Sync",
    "Troubleshoot_Disable_Teams_Mention",
    "Troubleshoot_Force_Caching_Version",
];

/// Top-level `rocketchat_statistics` fields that are kept as they are (scalars only).
const STATISTICS_SCALARS: &[&str] = &[
    "version",
    "tag",
    "branch",
    "uniqueId",
    "installedAt",
    "totalUsers",
    "activeUsers",
    "activeGuests",
    "nonActiveUsers",
    "appUsers",
    "onlineUsers",
    "awayUsers",
    "busyUsers",
    "offlineUsers",
    "totalConnectedUsers",
    "instanceCount",
    "oplogEnabled",
    "msEnabled",
    "mongoVersion",
    "mongoStorageEngine",
    "dailyPeakConnections",
    "maxMonthlyPeakConnections",
    "uploadsTotal",
    "uploadsTotalSize",
    "fileStoreType",
    "enterpriseReady",
    "fips",
    "totalRooms",
    "totalMessages",
    "createdAt",
    "_updatedAt",
];

/// Sub-documents of `rocketchat_statistics` and the fields kept of each.
const STATISTICS_SUBSETS: &[(&str, &[&str])] = &[
    ("deploy", &["method", "platform"]),
    (
        "os",
        &[
            "type", "platform", "arch", "release", "uptime", "loadavg", "totalmem", "freemem",
        ],
    ),
    ("process", &["nodeVersion", "pid", "uptime"]),
    ("migration", &["version", "locked"]),
    ("enterprise", &["modules", "tags"]),
    (
        "apps",
        &[
            "engineVersion",
            "totalInstalled",
            "totalActive",
            "totalFailed",
        ],
    ),
];

/// The allow-listed part of a `rocketchat_statistics` document. `os.cpus` becomes
/// `os.cpu_count` and `os.cpu_model`.
pub fn allow_statistics(d: &Document) -> Map<String, Value> {
    let mut out = Map::new();
    for &k in STATISTICS_SCALARS {
        match d.get(k) {
            None | Some(Bson::Document(_)) | Some(Bson::Array(_)) => {}
            Some(v) => {
                out.insert(k.to_string(), to_json(v));
            }
        }
    }
    for &(k, fields) in STATISTICS_SUBSETS {
        let Ok(sub) = d.get_document(k) else { continue };
        let mut m = Map::new();
        for &f in fields {
            if let Some(v) = sub.get(f) {
                // Nested documents are not kept; arrays only of scalars (loadavg, modules).
                let keep = match v {
                    Bson::Document(_) => false,
                    Bson::Array(a) => a
                        .iter()
                        .all(|x| !matches!(x, Bson::Document(_) | Bson::Array(_))),
                    _ => true,
                };
                if keep {
                    m.insert(f.to_string(), to_json(v));
                }
            }
        }
        if k == "os"
            && let Ok(cpus) = sub.get_array("cpus")
        {
            m.insert("cpu_count".into(), json!(cpus.len()));
            let model = cpus
                .iter()
                .filter_map(Bson::as_document)
                .find_map(|c| c.get_str("model").ok());
            m.insert("cpu_model".into(), json!(model));
        }
        out.insert(k.to_string(), Value::Object(m));
    }
    out
}

/// A part the database or a probe gave as JSON, read into its contract type (a field of
/// the wrong type reads as absent, as the analyzer would read it).
fn lenient<T: DeserializeOwned + Default>(v: Value) -> T {
    serde_json::from_value(v).unwrap_or_default()
}

/// The tag of an image reference (`rocketchat/rocket.chat:8.5.0` → `8.5.0`); none when
/// the reference has no tag.
pub fn image_tag(image: &str) -> Option<String> {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    name[last..]
        .rsplit_once(':')
        .map(|(_, t)| t.to_string())
        .filter(|t| !t.is_empty())
}

/// `8.5.0`, `v7.10.2`, `6.9.0-rc.1` look like versions; `latest` or `develop` do not.
fn version_like(v: &str) -> Option<String> {
    let v = v.trim().trim_start_matches('v');
    (v.chars().next().is_some_and(|c| c.is_ascii_digit()) && v.contains('.')).then(|| v.to_string())
}

/// What the database said (each part may have failed).
#[derive(Default)]
struct DbFacts {
    statistics: Option<Map<String, Value>>,
    users: Map<String, Value>,
    instances: Option<Value>,
    settings: Map<String, Value>,
    errors: BTreeMap<String, CmdError>,
}

async fn read_database(
    client: &Client,
    database: &str,
    budget: &Budget,
    red: &Redactor,
) -> DbFacts {
    let db = client.database(database);
    let mut f = DbFacts::default();
    match newest_statistics(&db, budget, red).await {
        Ok(s) => f.statistics = s,
        Err(e) => {
            f.errors.insert("statistics".into(), e);
        }
    }
    let (users, err) = user_counts(&db, budget, red).await;
    f.users = users;
    if let Some(e) = err {
        f.errors.insert("users".into(), e);
    }
    match instances(&db, budget, red, jiff::Timestamp::now()).await {
        Ok(v) => f.instances = Some(v),
        Err(e) => {
            f.errors.insert("instances".into(), e);
        }
    }
    match settings(&db, budget, red).await {
        Ok(s) => f.settings = s,
        Err(e) => {
            f.errors.insert("settings".into(), e);
        }
    }
    f
}
descriptor! {
    name: "rocketchat",
    reads: "rocketchat_statistics (newest), users counts, instances, allow-listed settings, /api/info and /metrics of each Rocket.Chat container",
    permissions: "read on the Rocket.Chat database; network reach to the containers",
    files: "rocketchat/summary.json, rocketchat/statistics.json, rocketchat/settings.json",
    isolated: true,
}

/// Collects rocketchat data into the bundle. See the module documentation.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let budget = Budget::new(ctx.options.timeout);
    let red = out.redactor();
    let (conn, db_error) = match ctx.connect_mongodb(out, &budget).await {
        Ok(c) => (Some(c), None),
        Err(ConnectError::NoUri) => return Outcome::skipped(ctx.no_mongodb_uri_reason().await),
        Err(e) => (None, Some(e.to_string())),
    };
    let facts = match &conn {
        Some(c) => read_database(&c.client, &c.database, &budget, red).await,
        None => DbFacts::default(),
    };

    // Containers.
    let (containers, containers_error): (Vec<DiscoveredContainer>, Option<String>) =
        match ctx.discovery().await {
            Ok(list) => (
                list.iter().filter(|c| c.is_rocketchat()).cloned().collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(red.redact_text(e))),
        };
    let first_rc = containers.iter().find(|c| c.running).or(containers.first());

    // Prometheus: env of the containers, then settings, then the default.
    let env_port = containers
        .iter()
        .find_map(|c| c.env_value("PROMETHEUS_PORT"))
        .and_then(|p| p.trim().parse::<u16>().ok());
    let setting_port = port_of(facts.settings.get("Prometheus_Port"));
    let (prom_port, port_source) = match (env_port, setting_port) {
        (Some(p), _) => (p, "env PROMETHEUS_PORT"),
        (None, Some(p)) => (p, "setting Prometheus_Port"),
        (None, None) => (DEFAULT_PROMETHEUS_PORT, "default"),
    };
    let env_enabled = containers
        .iter()
        .find_map(|c| c.env_value("OVERWRITE_SETTING_Prometheus_Enabled"))
        .and_then(|v| truthy(Some(&Value::from(v))));
    let (prom_enabled, enabled_source) = match (
        env_enabled,
        truthy(facts.settings.get("Prometheus_Enabled")),
    ) {
        (Some(e), _) => (Some(e), Some("env OVERWRITE_SETTING_Prometheus_Enabled")),
        (None, Some(e)) => (Some(e), Some("setting Prometheus_Enabled")),
        (None, None) => (None, None),
    };

    // Endpoints (bounded by HTTP_TIMEOUT and what is left of the budget).
    let http_limit = HTTP_TIMEOUT.min(budget.remaining().max(Duration::from_millis(100)));
    let endpoints = probe_containers(&containers, prom_port, http_limit).await;

    // Version.
    let stats = facts.statistics.as_ref();
    let stat_str = |k: &str| {
        stats
            .and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let stats_version = stat_str("version");
    let tag = first_rc.and_then(|c| image_tag(&c.image));
    let api_version = endpoints
        .iter()
        .find_map(|e| e.api_info.as_ref().and_then(|a| a.version.clone()));
    let value = [&stats_version, &api_version, &tag]
        .into_iter()
        .flatten()
        .find_map(|v| version_like(v));

    // Deploy: statistics, else the container's env.
    let stats_deploy = stats
        .and_then(|s| s.get("deploy"))
        .and_then(Value::as_object);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let deploy = match stats_deploy {
        Some(d) => Deploy {
            method: text(d.get("method")),
            platform: text(d.get("platform")),
            source: Some("statistics".into()),
            ..Default::default()
        },
        None => match first_rc {
            Some(c)
                if c.env_value("DEPLOY_METHOD").is_some()
                    || c.env_value("DEPLOY_PLATFORM").is_some() =>
            {
                Deploy {
                    method: c.env_value("DEPLOY_METHOD").map(str::to_string),
                    platform: c.env_value("DEPLOY_PLATFORM").map(str::to_string),
                    source: Some(format!("container:{}", c.name)),
                    ..Default::default()
                }
            }
            _ => Deploy::default(),
        },
    };

    // Users: the database's counts, typed (a count that is not a number reads as absent).
    let mut users: Users = lenient(Value::Object(facts.users.clone()));
    let stats_connected = stats
        .and_then(|s| s.get("totalConnectedUsers"))
        .and_then(Value::as_u64);
    (users.concurrent, users.concurrent_source) = match (stats_connected, users.online) {
        (Some(n), _) => (Some(n), Some("statistics.totalConnectedUsers".into())),
        (None, Some(n)) => (Some(n), Some("users.statusConnection".into())),
        (None, None) => (None, None),
    };

    let mut notes = Vec::new();
    if conn.is_some() && facts.statistics.is_none() && !facts.errors.contains_key("statistics") {
        notes.push("no rocketchat_statistics document: statistics are generated hourly unless Troubleshoot_Disable_Statistics_Generator is set".to_string());
    }
    if let Some(c) = conn.as_ref().and_then(|c| c.rewrite.clone()) {
        notes.push(c);
    }

    let sources = [
        ("statistics", stats_version),
        ("image_tag", tag),
        ("startup_log", None),
        ("api_info", api_version),
    ];
    let summary = SummaryFile {
        version: Some(Version {
            value,
            sources: Some(
                sources
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
            ..Default::default()
        }),
        unique_id: stat_str("uniqueId"),
        site_url: text(facts.settings.get("Site_Url")),
        users: Some(users),
        instances: Some(match &facts.instances {
            Some(v) => lenient(v.clone()),
            None => Instances {
                window_seconds: Some(LIVE_WINDOW_SECONDS.unsigned_abs()),
                ..Default::default()
            },
        }),
        deploy: Some(deploy),
        prometheus: Some(Prometheus {
            enabled: prom_enabled,
            enabled_source: enabled_source.map(str::to_string),
            port: Some(u64::from(prom_port)),
            port_source: Some(port_source.to_string()),
            ..Default::default()
        }),
        endpoints,
        statistics_created_at: text(stats.and_then(|s| s.get("createdAt"))),
        database: conn.as_ref().map(|c| c.database.clone()),
        uri_source: conn.as_ref().map(|c| c.uri_source.clone()),
        containers: containers
            .iter()
            .map(|c| RcContainer {
                name: Some(c.name.clone()),
                image: Some(c.image.clone()),
                image_tag: image_tag(&c.image),
                running: Some(c.running),
                ..Default::default()
            })
            .collect(),
        containers_error,
        database_error: db_error.clone(),
        errors: Some(
            facts
                .errors
                .iter()
                .map(|(k, e)| (k.clone(), crate::collectors::mongodb::command_error(e)))
                .collect(),
        ),
        notes,
        ..Default::default()
    };

    let mut write_errors = Vec::new();
    let put = |path: &'static str, value: Value| {
        let out = out.clone();
        async move {
            out.put_json(path, &value)
                .await
                .err()
                .map(|e| format!("{path}: {e}"))
        }
    };
    let summary = serde_json::to_value(&summary).unwrap_or(Value::Null);
    if let Some(e) = put("rocketchat/summary.json", summary).await {
        write_errors.push(e);
    }
    if let Some(s) = &facts.statistics
        && let Some(e) = put("rocketchat/statistics.json", Value::Object(s.clone())).await
    {
        write_errors.push(e);
    }
    if conn.is_some()
        && !facts.errors.contains_key("settings")
        && let Some(e) = put(
            "rocketchat/settings.json",
            Value::Object(facts.settings.clone()),
        )
        .await
    {
        write_errors.push(e);
    }

    if let Some(e) = db_error {
        return Outcome::failed(e);
    }
    let mut problems: Vec<String> = facts
        .errors
        .iter()
        .map(|(k, e)| match &e.hint {
            Some(h) => format!("{k}: {} ({h})", e.status_line()),
            None => format!("{k}: {}", e.status_line()),
        })
        .collect();
    problems.extend(write_errors);
    if problems.is_empty() {
        Outcome::ok()
    } else {
        Outcome::partial(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn image_tags() {
        assert_eq!(
            image_tag("rocketchat/rocket.chat:8.5.0").as_deref(),
            Some("8.5.0")
        );
        assert_eq!(
            image_tag("registry.rocket.chat/rocketchat/rocket.chat:7.10.2").as_deref(),
            Some("7.10.2")
        );
        assert_eq!(
            image_tag("myregistry.local:5000/rc-custom:6.9.0@sha256:abc").as_deref(),
            Some("6.9.0")
        );
        assert_eq!(image_tag("myregistry.local:5000/rc-custom"), None);
        assert_eq!(version_like("latest"), None);
        assert_eq!(version_like("v7.10.2").as_deref(), Some("7.10.2"));
    }

    #[test]
    fn statistics_keep_only_the_allow_list() {
        let d = doc! {
            "version": "8.7.0", "statsToken": "eyJsecret", "wizard": {"organizationName": "ACME"},
            "os": {"type": "Linux", "cpus": [{"model": "EPYC", "speed": 0}, {"model": "EPYC"}], "secretish": 1},
            "deploy": {"method": "docker", "platform": "compose"},
            "settings": {"email": {"smtp": {"smtpHost": "smtp.example.com"}}},
            "createdAt": mongodb::bson::DateTime::from_millis(1_780_000_000_000_i64),
        };
        let s = allow_statistics(&d);
        let text = serde_json::to_string(&s).expect("json");
        assert!(
            !text.contains("eyJsecret")
                && !text.contains("ACME")
                && !text.contains("smtp")
                && !text.contains("secretish"),
            "{text}"
        );
        assert_eq!(s["os"]["cpu_count"], json!(2));
        assert_eq!(s["deploy"]["platform"], json!("compose"));
        assert!(
            s["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{text}"
        );
    }
}
