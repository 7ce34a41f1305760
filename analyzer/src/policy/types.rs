//! The policy's tables as serde types, one struct per table of
//! `analyzer/policy/rocketchat.toml`.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The whole policy. See `analyzer/policy/rocketchat.toml` for the meaning of each table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Short name, e.g. `rocketchat`.
    pub name: String,
    /// Revision of this policy; bump on every change of a fact.
    pub version: u32,
    /// The date the facts were last confirmed (`YYYY-MM-DD`).
    pub as_of: Date,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Where the facts come from, by key; every `source` field names one.
    pub sources: BTreeMap<String, Source>,
    /// Per-check remediation link and source.
    pub checks: BTreeMap<String, CheckPolicy>,
    /// Official images and how to tell a custom build.
    pub images: Images,
    /// Deploy methods reported by Rocket.Chat (`deploy.method`).
    pub deploy: Deploy,
    /// Orchestrators and their fingerprints, in matching order (first match wins).
    pub orchestrators: Vec<Orchestrator>,
    /// When an installation counts as scaled.
    pub scale: Scale,
    /// Hardware tiers.
    pub hardware: Hardware,
    /// Release table.
    pub releases: Releases,
    /// MongoDB requirements.
    pub mongodb: MongoPolicy,
    /// Monitoring stack fingerprints.
    pub monitoring: Monitoring,
    /// Known log signatures.
    pub logs: Logs,
    /// Disk, clock and restart thresholds.
    pub thresholds: Thresholds,
    /// The rules of the `kubernetes.*` checks.
    pub kubernetes: KubePolicy,
}

/// The rules of the `kubernetes.*` checks (analyzer/CHECKS.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KubePolicy {
    /// Resources every Rocket.Chat container must request and be limited in.
    pub required_resources: Vec<String>,
    /// Replicas from which a Rocket.Chat Deployment needs a PodDisruptionBudget.
    pub pdb_from_replicas: i64,
    /// Fewest MongoDB replica set members (StatefulSet replicas) that pass.
    pub mongodb_min_members: i64,
    /// Environment variables of MongoDB pods that name the replica set they form
    /// (`MONGODB_REPLICA_SET_NAME` of the Bitnami chart the Rocket.Chat chart uses);
    /// `mongodb.replica-set` reads them when MongoDB itself was not collected.
    #[serde(default)]
    pub mongodb_replica_set_env: Vec<String>,
    /// Warning event reasons listed as findings, with their outcome.
    pub warning_events: Vec<KubeEventRule>,
    /// Source key in `[sources]`.
    pub source: String,
}

/// A kind of Warning event `kubernetes.warning-events` lists.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KubeEventRule {
    /// The event's `reason` (`FailedScheduling`).
    pub reason: String,
    /// Only when the message contains this (case-insensitive), e.g. `pull`.
    #[serde(default)]
    pub message_contains: Option<String>,
    /// What it means (`image pull error`).
    pub what: String,
    /// `warn` or `fail`.
    pub outcome: String,
}

/// A document a fact comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Title of the document.
    pub title: String,
    /// URL or repository path.
    pub url: String,
}

/// Policy data attached to one check id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckPolicy {
    /// Link shown as remediation (docs.rocket.chat).
    pub remediation: String,
    /// Key of `[sources]` the check rests on.
    pub source: String,
}

/// Official images.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// Official Rocket.Chat server images.
    pub official: Vec<OfficialImage>,
    /// Official microservice images (normalized repositories).
    #[serde(default)]
    pub microservices: Vec<String>,
    /// Regexes on the normalized repository that identify a MongoDB image.
    #[serde(default)]
    pub mongodb_patterns: Vec<String>,
    /// Key of `[sources]`.
    pub source: String,
}

/// One official image repository.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OfficialImage {
    /// Normalized repository (`docker.io/rocketchat/rocket.chat`).
    pub repository: String,
    /// Who builds it.
    pub builder: String,
    /// `DEPLOY_METHOD` baked into it.
    pub deploy_method: String,
    /// Image labels of which at least one must be present, `key` or `key=value`
    /// (empty: no label requirement, e.g. the Docker Official Image).
    #[serde(default)]
    pub required_labels_any: Vec<String>,
}

/// Deploy methods.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// Methods of the official images.
    pub supported_methods: Vec<String>,
    /// Methods that mean a manual install.
    pub failing_methods: Vec<String>,
    /// Key of `[sources]`.
    pub source: String,
}

/// Support status of an orchestrator for a scaled installation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OrchestratorStatus {
    /// In the supported list.
    Supported,
    /// Not in the supported list.
    Unsupported,
    /// Might be supported but the evidence is not conclusive (warn).
    Unconfirmed,
}

/// An orchestrator and its fingerprints; any one sign matches.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Orchestrator {
    /// Stable id (`compose`, `helm`, ...).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Support status.
    pub status: OrchestratorStatus,
    /// Regexes on container label keys.
    #[serde(default)]
    pub label_key_patterns: Vec<String>,
    /// Exact `key=value` container labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Exact `NAME=value` container environment entries.
    #[serde(default)]
    pub env: Vec<String>,
    /// Regexes on container names.
    #[serde(default)]
    pub name_patterns: Vec<String>,
    /// Values of statistics `deploy.platform`.
    #[serde(default)]
    pub platforms: Vec<String>,
    /// Distributions of a cluster view (`kubernetes/cluster.json` `distribution[].name`:
    /// `openshift`, `rancher`, `rke2`, `k3s`; `kubernetes` stands for every cluster
    /// view).
    #[serde(default)]
    pub distributions: Vec<String>,
    /// Key of `[sources]`.
    pub source: String,
}

/// Scaled installation thresholds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// More live instances than this is scaled.
    pub max_instances_unscaled: u64,
    /// More active users than this is scaled.
    pub max_users_unscaled: u64,
    /// Key of `[sources]`.
    pub source: String,
}

/// How requirements add up on a node that runs both Rocket.Chat and MongoDB.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Colocation {
    /// Both components' requirements are added.
    Sum,
    /// The larger of the two.
    Max,
}

/// Hardware tiers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// Tiers in ascending order of `max_concurrent_users`; the last has none.
    pub tiers: Vec<Tier>,
    /// Requirements of a node running both components.
    pub colocated: Colocation,
    /// Memory may read this many percent under the nominal size (kernel reserve).
    pub memory_tolerance_percent: f64,
    /// Disk may read this many percent under the nominal size (filesystem overhead).
    pub disk_tolerance_percent: f64,
    /// Key of `[sources]`.
    pub source: String,
}

/// Minimum resources of one component.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// vCPUs (logical cores).
    pub vcpu: f64,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// Disk in GB (10^9 bytes).
    pub disk_gb: f64,
}

/// One hardware tier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Name (`Starter`, `Pro`, ...).
    pub name: String,
    /// Upper bound of concurrent users (inclusive); none for the last tier.
    #[serde(default)]
    pub max_concurrent_users: Option<u64>,
    /// Rocket.Chat minimum.
    pub rocketchat: Resources,
    /// MongoDB minimum (per replica).
    pub mongodb: Resources,
    /// MongoDB replica set members recommended.
    pub mongodb_replicas: u32,
}

/// The release table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Releases {
    /// Months of support of a regular release.
    pub support_months: u32,
    /// Months of support of an LTS release.
    pub lts_support_months: u32,
    /// Warn this many days before end of life.
    pub eol_warn_days: i64,
    /// Releases in ascending version order.
    pub table: Vec<Release>,
    /// Key of `[sources]`.
    pub source: String,
}

/// One release line (`major.minor`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// `major.minor`.
    pub version: String,
    /// Release date as published (`YYYY-MM` or `YYYY-MM-DD`).
    pub released: String,
    /// Last day of support.
    pub eol: Date,
    /// Long-term support release.
    #[serde(default)]
    pub lts: bool,
    /// Remark (e.g. "EOL as listed").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// MongoDB requirements.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MongoPolicy {
    /// Compatibility matrix rows, ascending and not overlapping.
    pub matrix: Vec<MongoRow>,
    /// Required storage engine.
    pub storage_engine: String,
    /// Environment variables that bypass Rocket.Chat's validation.
    pub bypass_env: Vec<String>,
    /// Replication lag above which a member is reported (seconds).
    pub max_lag_seconds: f64,
    /// Key of `[sources]`.
    pub source: String,
}

/// Which MongoDB versions a range of Rocket.Chat versions supports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MongoRow {
    /// First Rocket.Chat `major.minor` of the row (inclusive).
    pub rocketchat_from: String,
    /// First Rocket.Chat `major.minor` after the row (exclusive); none = open ended.
    #[serde(default)]
    pub rocketchat_before: Option<String>,
    /// Supported MongoDB `major.minor` versions.
    #[serde(default)]
    pub supported: Vec<String>,
    /// Every MongoDB version at or above this is supported.
    #[serde(default)]
    pub supported_from: Option<String>,
    /// Supported but deprecated (warn).
    #[serde(default)]
    pub deprecated: Vec<String>,
    /// Versions at or above this that are not listed as supported warn instead of fail
    /// (the sources disagree).
    #[serde(default)]
    pub disputed_from: Option<String>,
    /// Remark shown with the result.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Key of `[sources]`.
    pub source: String,
}

/// Monitoring stack fingerprints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Regexes on the normalized image repository of a Prometheus-like scraper.
    pub prometheus_images: Vec<String>,
    /// Regexes on the normalized image repository of Grafana.
    pub grafana_images: Vec<String>,
    /// Container labels (`key=value`) on Rocket.Chat containers that mean they are scraped.
    pub scrape_labels: Vec<String>,
    /// Setting id that enables the exporter.
    pub setting: String,
    /// Environment variable forcing the setting.
    pub env: String,
    /// Key of `[sources]`.
    pub source: String,
}

/// Severity of a log signature.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A warning.
    Warn,
    /// A failure.
    Fail,
}

/// Known log signatures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// Matching lines kept per signature and node.
    pub max_matches_per_signature: usize,
    /// Evidence lines shown per signature in a result.
    pub max_evidence_per_signature: usize,
    /// Longest line kept (characters).
    pub max_line_chars: usize,
    /// Signatures.
    pub signatures: Vec<Signature>,
}

/// One known error signature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Stable id.
    pub id: String,
    /// Regex matched against each log line.
    pub pattern: String,
    /// Severity of a hit.
    pub severity: Severity,
    /// What it means.
    pub title: String,
    /// What to do.
    pub advice: String,
    /// Key of `[sources]`.
    pub source: String,
}

/// Numeric thresholds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Warn when a data mount has less free space than this (percent).
    pub disk_free_warn_percent: f64,
    /// Fail when a data mount has less free space than this (percent).
    pub disk_free_fail_percent: f64,
    /// Warn when node clocks differ by more than this (seconds).
    pub clock_skew_warn_seconds: f64,
    /// Fail when node clocks differ by more than this (seconds).
    pub clock_skew_fail_seconds: f64,
    /// Collector windows longer than this are not used to estimate skew (seconds).
    pub clock_max_window_seconds: f64,
    /// Warn at this many restarts of a container.
    pub restart_warn: u64,
    /// Fail at this many restarts of a container.
    pub restart_fail: u64,
}
