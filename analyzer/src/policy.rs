//! The support policy: every fact the checks rest on, as data.
//!
//! The built-in policy is `analyzer/policy/rocketchat.toml`, embedded at build time;
//! `--policy FILE` loads another one. Every fact carries a `source` (a key of
//! `[sources]`), the policy has its own `as_of` date, and [`Policy::validate`]
//! refuses a policy whose tables are unsorted, duplicated, or whose patterns do not
//! compile.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Why a policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// Path given.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a policy (TOML syntax or a field of the wrong type).
    #[error("policy does not parse: {0}")]
    Parse(String),
    /// The policy parses but is not consistent.
    #[error("policy is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

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

impl Policy {
    /// The built-in policy (`analyzer/policy/rocketchat.toml`).
    pub fn builtin() -> Policy {
        match Self::from_toml(BUILTIN) {
            Ok(p) => p,
            // The built-in policy is validated by the test suite; reaching this is a build defect.
            Err(e) => panic!("the built-in policy is broken: {e}"),
        }
    }

    /// Parses and validates a policy.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let problems = policy.validate();
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(PolicyError::Invalid(problems))
        }
    }

    /// Reads, parses and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Problems that make the policy unusable; empty when valid. Each names the
    /// table and entry at fault.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        self.validate_head(&mut p);
        self.validate_images(&mut p);
        self.validate_orchestrators(&mut p);
        self.validate_hardware(&mut p);
        self.validate_releases(&mut p);
        self.validate_mongodb(&mut p);
        self.validate_monitoring_logs(&mut p);
        self.validate_thresholds(&mut p);
        p
    }

    fn check_source(&self, what: &str, source: &str, p: &mut Vec<String>) {
        if !self.sources.contains_key(source) {
            p.push(format!(
                "{what}: source {source:?} is not defined in [sources]"
            ));
        }
    }

    fn validate_head(&self, p: &mut Vec<String>) {
        if self.name.trim().is_empty() {
            p.push("name is empty".into());
        }
        if self.version == 0 {
            p.push("version must be 1 or more".into());
        }
        if self.sources.is_empty() {
            p.push("[sources] is empty: every fact needs a source".into());
        }
        for (key, s) in &self.sources {
            if s.url.trim().is_empty() || s.title.trim().is_empty() {
                p.push(format!("sources.{key}: title and url are required"));
            }
        }
        for info in crate::checks::CHECKS {
            if !self.checks.contains_key(info.id) {
                p.push(format!(
                    "[checks.\"{}\"] is missing (remediation link and source)",
                    info.id
                ));
            }
        }
        for (id, c) in &self.checks {
            if !crate::checks::CHECKS.iter().any(|i| i.id == id.as_str()) {
                p.push(format!("[checks.\"{id}\"]: no such check"));
            }
            if !c.remediation.starts_with("https://") {
                p.push(format!(
                    "checks.\"{id}\".remediation must be an https:// link, not {:?}",
                    c.remediation
                ));
            }
            self.check_source(&format!("checks.\"{id}\""), &c.source, p);
        }
    }

    fn validate_images(&self, p: &mut Vec<String>) {
        self.check_source("images", &self.images.source, p);
        self.check_source("deploy", &self.deploy.source, p);
        if self.images.official.is_empty() {
            p.push("images.official is empty".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for img in &self.images.official {
            let norm = crate::model::ImageRef::parse(&img.repository).repository;
            if norm != img.repository {
                p.push(format!(
                    "images.official {:?} is not a normalized repository (expected {norm:?}, no tag)",
                    img.repository
                ));
            }
            if !seen.insert(img.repository.clone()) {
                p.push(format!(
                    "images.official {:?} is listed twice",
                    img.repository
                ));
            }
            if img.deploy_method.trim().is_empty() {
                p.push(format!(
                    "images.official {:?}: deploy_method is empty",
                    img.repository
                ));
            }
        }
        for m in &self.images.microservices {
            if crate::model::ImageRef::parse(m).repository != *m {
                p.push(format!(
                    "images.microservices {m:?} is not a normalized repository"
                ));
            }
        }
        check_regexes("images.mongodb_patterns", &self.images.mongodb_patterns, p);
        if self.deploy.supported_methods.is_empty() || self.deploy.failing_methods.is_empty() {
            p.push("deploy.supported_methods and deploy.failing_methods must not be empty".into());
        }
        if let Some(m) = self
            .deploy
            .supported_methods
            .iter()
            .find(|m| self.deploy.failing_methods.contains(m))
        {
            p.push(format!("deploy method {m:?} is both supported and failing"));
        }
    }

    fn validate_orchestrators(&self, p: &mut Vec<String>) {
        let mut ids = std::collections::BTreeSet::new();
        if self.orchestrators.is_empty() {
            p.push("[[orchestrators]] is empty".into());
        }
        for o in &self.orchestrators {
            let what = format!("orchestrators {:?}", o.id);
            if o.id.trim().is_empty() || !ids.insert(o.id.clone()) {
                p.push(format!("{what}: id empty or used twice"));
            }
            self.check_source(&what, &o.source, p);
            check_regexes(
                &format!("{what}.label_key_patterns"),
                &o.label_key_patterns,
                p,
            );
            check_regexes(&format!("{what}.name_patterns"), &o.name_patterns, p);
            for kv in o.labels.iter().chain(&o.env) {
                if !kv.contains('=') {
                    p.push(format!("{what}: {kv:?} must be NAME=value"));
                }
            }
            if o.label_key_patterns.is_empty()
                && o.labels.is_empty()
                && o.env.is_empty()
                && o.name_patterns.is_empty()
                && o.platforms.is_empty()
            {
                p.push(format!("{what}: has no fingerprint at all"));
            }
        }
        self.check_source("scale", &self.scale.source, p);
        if self.scale.max_users_unscaled == 0 {
            p.push("scale.max_users_unscaled must be more than 0".into());
        }
    }

    fn validate_hardware(&self, p: &mut Vec<String>) {
        let h = &self.hardware;
        self.check_source("hardware", &h.source, p);
        if h.tiers.is_empty() {
            p.push("hardware.tiers is empty".into());
        }
        let mut last: Option<u64> = None;
        for (i, t) in h.tiers.iter().enumerate() {
            let what = format!("hardware.tiers {:?}", t.name);
            let is_last = i + 1 == h.tiers.len();
            match (t.max_concurrent_users, is_last) {
                (None, false) => p.push(format!(
                    "{what}: only the last tier may omit max_concurrent_users"
                )),
                (Some(m), _) => {
                    if last.is_some_and(|l| m <= l) {
                        p.push(format!(
                            "{what}: max_concurrent_users {m} is not above the previous tier's"
                        ));
                    }
                    last = Some(m);
                }
                (None, true) => {}
            }
            for (part, r) in [("rocketchat", &t.rocketchat), ("mongodb", &t.mongodb)] {
                for (field, v) in [
                    ("vcpu", r.vcpu),
                    ("memory_gib", r.memory_gib),
                    ("disk_gb", r.disk_gb),
                ] {
                    if !(v.is_finite() && v > 0.0) {
                        p.push(format!(
                            "{what}.{part}.{field} must be a positive number, not {v}"
                        ));
                    }
                }
            }
        }
        for (field, v) in [
            ("memory_tolerance_percent", h.memory_tolerance_percent),
            ("disk_tolerance_percent", h.disk_tolerance_percent),
        ] {
            if !(0.0..50.0).contains(&v) {
                p.push(format!("hardware.{field} must be in [0, 50), not {v}"));
            }
        }
    }

    fn validate_releases(&self, p: &mut Vec<String>) {
        let r = &self.releases;
        self.check_source("releases", &r.source, p);
        if r.table.is_empty() {
            p.push("releases.table is empty".into());
        }
        if r.support_months == 0 || r.lts_support_months < r.support_months {
            p.push(
                "releases: support_months must be > 0 and lts_support_months >= support_months"
                    .into(),
            );
        }
        if r.eol_warn_days < 0 {
            p.push("releases.eol_warn_days must not be negative".into());
        }
        let mut prev: Option<(u64, u64)> = None;
        for rel in &r.table {
            let what = format!("releases.table {:?}", rel.version);
            let Some(v) = parse_major_minor(&rel.version) else {
                p.push(format!("{what}: version must be MAJOR.MINOR"));
                continue;
            };
            if let Some(pv) = prev
                && v <= pv
            {
                p.push(format!(
                    "{what}: versions must be sorted ascending and unique (comes after {}.{})",
                    pv.0, pv.1
                ));
            }
            prev = Some(v);
            if rel.eol.last_of_month() != rel.eol {
                p.push(format!(
                    "{what}: eol {} is not the last day of its month",
                    rel.eol
                ));
            }
            match parse_release_date(&rel.released) {
                Some(d) if d > rel.eol => p.push(format!(
                    "{what}: released {} after its eol {}",
                    rel.released, rel.eol
                )),
                Some(_) => {}
                None => p.push(format!(
                    "{what}: released {:?} must be YYYY-MM or YYYY-MM-DD",
                    rel.released
                )),
            }
        }
    }

    fn validate_mongodb(&self, p: &mut Vec<String>) {
        let m = &self.mongodb;
        self.check_source("mongodb", &m.source, p);
        if m.storage_engine.trim().is_empty() {
            p.push("mongodb.storage_engine is empty".into());
        }
        if m.bypass_env.is_empty() {
            p.push("mongodb.bypass_env is empty".into());
        }
        for name in &m.bypass_env {
            if name.is_empty() || name.contains('=') || name.contains(char::is_whitespace) {
                p.push(format!(
                    "mongodb.bypass_env {name:?} is not an environment variable name"
                ));
            }
        }
        if !(m.max_lag_seconds.is_finite() && m.max_lag_seconds > 0.0) {
            p.push("mongodb.max_lag_seconds must be positive".into());
        }
        if m.matrix.is_empty() {
            p.push("mongodb.matrix is empty".into());
        }
        let mut prev_end: Option<Option<(u64, u64)>> = None;
        for (i, row) in m.matrix.iter().enumerate() {
            let what = format!(
                "mongodb.matrix row {} (Rocket.Chat {})",
                i + 1,
                row.rocketchat_from
            );
            self.check_source(&what, &row.source, p);
            let Some(from) = parse_major_minor(&row.rocketchat_from) else {
                p.push(format!("{what}: rocketchat_from must be MAJOR.MINOR"));
                continue;
            };
            let before = match &row.rocketchat_before {
                Some(b) => match parse_major_minor(b) {
                    Some(v) if v > from => Some(v),
                    _ => {
                        p.push(format!("{what}: rocketchat_before {b:?} must be MAJOR.MINOR above rocketchat_from"));
                        continue;
                    }
                },
                None => None,
            };
            match prev_end {
                Some(None) => p.push(format!("{what}: follows an open-ended row; only the last row may omit rocketchat_before")),
                Some(Some(end)) if from < end => p.push(format!("{what}: overlaps the previous row or is out of order")),
                _ => {}
            }
            prev_end = Some(before);
            if row.supported.is_empty() && row.supported_from.is_none() {
                p.push(format!("{what}: needs supported or supported_from"));
            }
            for v in row
                .supported
                .iter()
                .chain(&row.deprecated)
                .chain(row.supported_from.iter())
                .chain(row.disputed_from.iter())
            {
                if parse_major_minor(v).is_none() {
                    p.push(format!("{what}: MongoDB version {v:?} must be MAJOR.MINOR"));
                }
            }
            for d in &row.deprecated {
                if !row.supported.contains(d) {
                    p.push(format!(
                        "{what}: deprecated {d:?} must also be in supported"
                    ));
                }
            }
        }
    }

    fn validate_monitoring_logs(&self, p: &mut Vec<String>) {
        let m = &self.monitoring;
        self.check_source("monitoring", &m.source, p);
        check_regexes("monitoring.prometheus_images", &m.prometheus_images, p);
        check_regexes("monitoring.grafana_images", &m.grafana_images, p);
        if m.prometheus_images.is_empty() || m.grafana_images.is_empty() {
            p.push("monitoring.prometheus_images and grafana_images must not be empty".into());
        }
        for l in &m.scrape_labels {
            if !l.contains('=') {
                p.push(format!("monitoring.scrape_labels {l:?} must be key=value"));
            }
        }
        let l = &self.logs;
        if l.max_matches_per_signature == 0
            || l.max_evidence_per_signature == 0
            || l.max_line_chars < 40
        {
            p.push("logs: max_matches_per_signature and max_evidence_per_signature must be > 0, max_line_chars >= 40".into());
        }
        let mut ids = std::collections::BTreeSet::new();
        for s in &l.signatures {
            let what = format!("logs.signatures {:?}", s.id);
            if s.id.trim().is_empty() || !ids.insert(s.id.clone()) {
                p.push(format!("{what}: id empty or used twice"));
            }
            self.check_source(&what, &s.source, p);
            if let Err(e) = regex::Regex::new(&s.pattern) {
                p.push(format!("{what}: pattern does not compile: {e}"));
            }
        }
    }

    fn validate_thresholds(&self, p: &mut Vec<String>) {
        let t = &self.thresholds;
        if !(t.disk_free_fail_percent > 0.0
            && t.disk_free_fail_percent < t.disk_free_warn_percent
            && t.disk_free_warn_percent < 100.0)
        {
            p.push(format!(
                "thresholds: need 0 < disk_free_fail_percent ({}) < disk_free_warn_percent ({}) < 100",
                t.disk_free_fail_percent, t.disk_free_warn_percent
            ));
        }
        if !(t.clock_skew_warn_seconds > 0.0
            && t.clock_skew_warn_seconds <= t.clock_skew_fail_seconds
            && t.clock_skew_fail_seconds.is_finite())
        {
            p.push(format!(
                "thresholds: need 0 < clock_skew_warn_seconds ({}) <= clock_skew_fail_seconds ({})",
                t.clock_skew_warn_seconds, t.clock_skew_fail_seconds
            ));
        }
        if !(t.clock_max_window_seconds.is_finite() && t.clock_max_window_seconds > 0.0) {
            p.push("thresholds.clock_max_window_seconds must be positive".into());
        }
        if !(t.restart_warn > 0 && t.restart_warn <= t.restart_fail) {
            p.push(format!(
                "thresholds: need 0 < restart_warn ({}) <= restart_fail ({})",
                t.restart_warn, t.restart_fail
            ));
        }
    }

    /// The release line of `major.minor` in the table, or where it falls outside it.
    pub fn release(&self, major: u64, minor: u64) -> ReleaseLookup<'_> {
        let key = (major, minor);
        let parsed: Vec<((u64, u64), &Release)> = self
            .releases
            .table
            .iter()
            .filter_map(|r| parse_major_minor(&r.version).map(|v| (v, r)))
            .collect();
        if let Some((_, r)) = parsed.iter().find(|(v, _)| *v == key) {
            return ReleaseLookup::Known(r);
        }
        match (parsed.first(), parsed.last()) {
            (Some((first, oldest)), _) if key < *first => ReleaseLookup::OlderThanTable { oldest },
            (_, Some((last, newest))) if key > *last => ReleaseLookup::NewerThanTable { newest },
            _ => ReleaseLookup::NotInTable,
        }
    }

    /// Support status of Rocket.Chat `version` on date `on`.
    pub fn support_status(&self, version: &Version, on: Date) -> SupportStatus {
        match self.release(version.major, version.minor) {
            ReleaseLookup::Known(r) => {
                let days_left = on
                    .until(r.eol)
                    .map(|span| i64::from(span.get_days()))
                    .unwrap_or(0);
                if on > r.eol {
                    SupportStatus::Ended {
                        eol: r.eol,
                        lts: r.lts,
                    }
                } else if days_left < self.releases.eol_warn_days {
                    SupportStatus::EndingSoon {
                        eol: r.eol,
                        lts: r.lts,
                        days_left,
                    }
                } else {
                    SupportStatus::Supported {
                        eol: r.eol,
                        lts: r.lts,
                    }
                }
            }
            ReleaseLookup::NewerThanTable { newest } => SupportStatus::NewerThanPolicy {
                newest: newest.version.clone(),
            },
            ReleaseLookup::OlderThanTable { oldest } => {
                // A line older than the table ended before the oldest listed line's EOL
                // plus the LTS period at the latest.
                let bound = oldest
                    .eol
                    .checked_add(jiff::Span::new().months(self.releases.lts_support_months as i64));
                match bound {
                    Ok(b) if on > b.last_of_month() => SupportStatus::OlderThanPolicy {
                        ended_by: Some(b.last_of_month()),
                    },
                    _ => SupportStatus::OlderThanPolicy { ended_by: None },
                }
            }
            ReleaseLookup::NotInTable => SupportStatus::NotInTable,
        }
    }

    /// The matrix row covering Rocket.Chat `rc`.
    pub fn mongo_row(&self, rc: &Version) -> Option<&MongoRow> {
        let key = (rc.major, rc.minor);
        self.mongodb.matrix.iter().find(|row| {
            let Some(from) = parse_major_minor(&row.rocketchat_from) else {
                return false;
            };
            let before = row.rocketchat_before.as_deref().and_then(parse_major_minor);
            key >= from && before.is_none_or(|b| key < b)
        })
    }

    /// Whether MongoDB `mongo` suits Rocket.Chat `rc`, with the matrix row used.
    pub fn mongo_compat(&self, rc: &Version, mongo: &Version) -> (MongoCompat, Option<&MongoRow>) {
        let Some(row) = self.mongo_row(rc) else {
            return (MongoCompat::NoRow, None);
        };
        let m = (mongo.major, mongo.minor);
        let listed = |list: &[String]| {
            list.iter()
                .filter_map(|s| parse_major_minor(s))
                .any(|v| v == m)
        };
        let at_least = |s: &Option<String>| {
            s.as_deref()
                .and_then(parse_major_minor)
                .is_some_and(|v| m >= v)
        };
        let compat = if listed(&row.deprecated) {
            MongoCompat::Deprecated
        } else if listed(&row.supported) || at_least(&row.supported_from) {
            MongoCompat::Supported
        } else if at_least(&row.disputed_from) {
            MongoCompat::Disputed
        } else {
            MongoCompat::Unsupported
        };
        (compat, Some(row))
    }

    /// The hardware tier for `users` concurrent users.
    pub fn tier_for(&self, users: u64) -> Option<&Tier> {
        self.hardware
            .tiers
            .iter()
            .find(|t| t.max_concurrent_users.is_none_or(|m| users <= m))
            .or(self.hardware.tiers.last())
    }

    /// Remediation link of a check (empty when the policy has none).
    pub fn remediation(&self, check_id: &str) -> String {
        self.checks
            .get(check_id)
            .map(|c| c.remediation.clone())
            .unwrap_or_default()
    }

    /// The policy as TOML (parses back to an equal policy).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialize the policy: {e}\n"))
    }
}

/// Text of the built-in policy.
pub const BUILTIN: &str = include_str!("../policy/rocketchat.toml");

/// Where a release line falls in the policy's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReleaseLookup<'a> {
    /// Listed.
    Known(&'a Release),
    /// Newer than every listed line: the policy is older than the release.
    NewerThanTable {
        /// The newest listed line.
        newest: &'a Release,
    },
    /// Older than every listed line.
    OlderThanTable {
        /// The oldest listed line.
        oldest: &'a Release,
    },
    /// Inside the table's range but not listed (no such release).
    NotInTable,
}

/// Support status of a Rocket.Chat version on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupportStatus {
    /// Supported, with more than `eol_warn_days` left.
    Supported {
        /// Last day of support.
        eol: Date,
        /// LTS line.
        lts: bool,
    },
    /// Supported, with fewer than `eol_warn_days` left.
    EndingSoon {
        /// Last day of support.
        eol: Date,
        /// LTS line.
        lts: bool,
        /// Days until `eol`.
        days_left: i64,
    },
    /// Past its end of life.
    Ended {
        /// Last day of support.
        eol: Date,
        /// LTS line.
        lts: bool,
    },
    /// Newer than the policy knows: the policy is older than this release.
    NewerThanPolicy {
        /// Newest line the policy lists.
        newest: String,
    },
    /// Older than the policy's table; `ended_by` is set when it has certainly ended.
    OlderThanPolicy {
        /// A date by which it had certainly ended, when `on` is past it.
        ended_by: Option<Date>,
    },
    /// Within the table's range but not a listed release.
    NotInTable,
}

/// Compatibility of a MongoDB version with a Rocket.Chat version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MongoCompat {
    /// Supported.
    Supported,
    /// Supported but deprecated.
    Deprecated,
    /// The sources disagree.
    Disputed,
    /// Not supported.
    Unsupported,
    /// No matrix row covers the Rocket.Chat version.
    NoRow,
}

/// A version number as Rocket.Chat and MongoDB print them (`8.5.0`, `v7.10.3`,
/// `8.6.0-rc.1`, `4.4`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch (0 when absent).
    pub patch: u64,
    /// Pre-release or build suffix (`rc.1`, `develop`), if any.
    pub pre: Option<String>,
}

impl Version {
    /// Parses `MAJOR.MINOR[.PATCH][-PRE|+BUILD]`, with an optional leading `v`;
    /// `None` for anything else (`latest`, `develop`, garbage).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s
            .strip_prefix('v')
            .or_else(|| s.strip_prefix('V'))
            .unwrap_or(s);
        let (core, pre) = match s.find(['-', '+']) {
            Some(i) => (
                &s[..i],
                Some(s[i + 1..].to_string()).filter(|p| !p.is_empty()),
            ),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let num = |p: Option<&str>| -> Option<u64> {
            let p = p?;
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let patch = match parts.next() {
            Some(p) => num(Some(p))?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// `major.minor`.
    pub fn line(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

/// Parses `MAJOR.MINOR` (nothing else).
pub fn parse_major_minor(s: &str) -> Option<(u64, u64)> {
    let v = Version::parse(s)?;
    (v.pre.is_none() && s.trim().split('.').count() == 2).then_some((v.major, v.minor))
}

/// Parses a release date given as `YYYY-MM` (first of the month) or `YYYY-MM-DD`.
pub fn parse_release_date(s: &str) -> Option<Date> {
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    let (y, m) = s.split_once('-')?;
    Date::new(y.parse().ok()?, m.parse().ok()?, 1).ok()
}

fn check_regexes(what: &str, patterns: &[String], p: &mut Vec<String>) {
    for pat in patterns {
        if let Err(e) = regex::Regex::new(pat) {
            p.push(format!("{what}: pattern {pat:?} does not compile: {e}"));
        }
    }
}

/// `pattern` compiled once per process and shared (policies are small, checks run per
/// container); `None` when it does not compile (`validate()` reports those). Shared,
/// not cloned: a clone of a `Regex` starts with an empty search cache, which costs more
/// to build than a short match.
pub fn cached_regex(pattern: &str) -> Option<std::sync::Arc<regex::Regex>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Cache = Mutex<HashMap<String, Option<Arc<regex::Regex>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(re) = cache.get(pattern) {
        return re.clone();
    }
    let re = regex::Regex::new(pattern).ok().map(Arc::new);
    cache.insert(pattern.to_string(), re.clone());
    re
}
