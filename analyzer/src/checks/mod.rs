//! The checks: each rule family in its own module, all run by [`run_all`] over the
//! nodes (one verified bundle each) of one installation.
//!
//! Every check gives `pass`, `warn`, `fail` or `unknown` with a one-line message,
//! evidence (bundle, node, file, JSON pointer or log line) and a remediation link
//! from the policy. Missing evidence is `unknown`, never `pass`: the message names
//! what is missing and how to collect it. Bundle data is untrusted: wrong types are
//! treated as missing, never unwrapped.

mod bundle;
mod containers;
mod deploy;
mod hardware;
mod host;
mod image;
mod logs;
mod mongodb;
mod monitoring;
mod scale;
mod version;

pub use bundle::COLLECTOR_CHECKS;

use serde::Serialize;
use serde_json::Value;

use crate::model::{Container, ContainerKind, NodeData, as_u64};
use crate::policy::{Policy, Version};

/// Result of one check.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The requirement is met.
    Pass,
    /// A recommendation is not followed, or a problem is coming.
    Warn,
    /// A requirement is broken.
    Fail,
    /// The evidence needed is missing.
    Unknown,
}

impl Outcome {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }

    /// How much attention the outcome needs when several are combined:
    /// fail > warn > unknown > pass (a definite problem outranks a gap).
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Unknown => 1,
            Outcome::Warn => 2,
            Outcome::Fail => 3,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a verdict comes from.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Bundle file name.
    pub bundle: String,
    /// Node host name.
    pub node: String,
    /// File inside the bundle.
    pub file: Option<String>,
    /// JSON pointer inside `file`.
    pub pointer: Option<String>,
    /// Log line (`<line number>: <text>`) for log evidence.
    pub line: Option<String>,
    /// The value found.
    pub value: Option<String>,
}

impl Evidence {
    /// Evidence from `file` of `node`.
    pub fn file(node: &NodeData, file: &str) -> Evidence {
        Evidence {
            bundle: node.label.clone(),
            node: node.hostname().to_string(),
            file: Some(file.to_string()),
            pointer: None,
            line: None,
            value: None,
        }
    }

    /// Evidence about `node` as a whole (no file).
    pub fn node(node: &NodeData) -> Evidence {
        Evidence {
            file: None,
            ..Evidence::file(node, "")
        }
    }

    /// Adds a JSON pointer.
    pub fn at(mut self, pointer: impl Into<String>) -> Evidence {
        self.pointer = Some(pointer.into());
        self
    }

    /// Adds the value found.
    pub fn val(mut self, value: impl std::fmt::Display) -> Evidence {
        self.value = Some(crate::model::cut(&value.to_string(), 300));
        self
    }

    /// Adds a log line.
    pub fn line(mut self, line_no: u64, text: &str) -> Evidence {
        self.line = Some(format!("{line_no}: {text}"));
        self
    }
}

/// One check's verdict.
#[derive(Serialize, Clone, Debug)]
pub struct CheckResult {
    /// Stable check id (`image.official`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Area (`image`, `mongodb`, ...).
    pub area: String,
    /// Verdict.
    pub outcome: Outcome,
    /// One-line explanation.
    pub message: String,
    /// Evidence.
    pub evidence: Vec<Evidence>,
    /// Link to the documentation to fix it.
    pub remediation: String,
}

/// What the checks run on.
pub struct CheckInput<'a> {
    /// The nodes of one installation.
    pub nodes: &'a [NodeData],
    /// The policy.
    pub policy: &'a Policy,
    /// Date to judge support at; `None` = each bundle's `created_at`.
    pub as_of: Option<jiff::civil::Date>,
    /// Whether an allowed signers file was given (`--trust`).
    pub trust_given: bool,
}

/// Static description of a check.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckInfo {
    /// Stable id.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Area.
    pub area: &'static str,
    /// What it checks.
    pub description: &'static str,
}

/// Every check, in report order.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo {
        id: "image.official",
        title: "Official Rocket.Chat image",
        area: "image",
        description: "Every Rocket.Chat container runs an official image (policy repositories, with the maintainer or OCI source label where the image carries one, DEPLOY_METHOD not tar); no Rocket.Chat process runs on the host outside a container.",
    },
    CheckInfo {
        id: "deploy.method",
        title: "Deploy method",
        area: "deploy",
        description: "Rocket.Chat's statistics deploy.method (else the containers' DEPLOY_METHOD) is not tar (a manual install).",
    },
    CheckInfo {
        id: "scale.orchestrated",
        title: "Scaled installation is orchestrated",
        area: "scale",
        description: "An installation with more than one live instance or more than 2000 active users runs under Rancher, OpenShift, Kubernetes with Helm or docker-compose.",
    },
    CheckInfo {
        id: "hardware.cpu",
        title: "CPU meets the tier",
        area: "hardware",
        description: "Each node has the vCPUs of the hardware tier for the concurrent (else active) users, for the components it runs.",
    },
    CheckInfo {
        id: "hardware.memory",
        title: "Memory meets the tier",
        area: "hardware",
        description: "Each node has the memory of the hardware tier for the concurrent (else active) users, for the components it runs.",
    },
    CheckInfo {
        id: "hardware.disk",
        title: "Disk meets the tier",
        area: "hardware",
        description: "The data mount(s) of each node are as large as the tier requires (40 GB for Rocket.Chat, plus MongoDB's where it runs).",
    },
    CheckInfo {
        id: "monitoring.prometheus",
        title: "Prometheus metrics collected",
        area: "monitoring",
        description: "Rocket.Chat's Prometheus exporter is enabled and something scrapes it (a Prometheus-like container or prometheus.io/scrape labels).",
    },
    CheckInfo {
        id: "monitoring.grafana",
        title: "Grafana dashboards",
        area: "monitoring",
        description: "A Grafana container runs to show the metrics.",
    },
    CheckInfo {
        id: "version.supported",
        title: "Rocket.Chat version supported",
        area: "version",
        description: "The Rocket.Chat release was within its support window (LTS aware) on the as-of date; a release newer than the policy is unknown.",
    },
    CheckInfo {
        id: "version.consistent",
        title: "All instances run the same version",
        area: "version",
        description: "Image tags, statistics, /api/info and startup boxes across all bundles report one Rocket.Chat version.",
    },
    CheckInfo {
        id: "mongodb.version",
        title: "MongoDB version compatible",
        area: "mongodb",
        description: "The MongoDB version is supported by the Rocket.Chat version per the policy matrix (deprecated warns).",
    },
    CheckInfo {
        id: "mongodb.replica-set",
        title: "MongoDB replica set healthy",
        area: "mongodb",
        description: "MongoDB is a replica set with a primary and every member healthy (standalone fails).",
    },
    CheckInfo {
        id: "mongodb.storage-engine",
        title: "MongoDB storage engine",
        area: "mongodb",
        description: "MongoDB uses the WiredTiger storage engine.",
    },
    CheckInfo {
        id: "mongodb.bypass-flags",
        title: "No validation bypass switches",
        area: "mongodb",
        description: "No BYPASS_* / SKIP_MONGODEPRECATION_* variable is set on Rocket.Chat containers or host processes.",
    },
    CheckInfo {
        id: "host.disk-free",
        title: "Free space on data mounts",
        area: "host",
        description: "The data mounts have free space above the policy thresholds (warn under 20%, fail under 10%).",
    },
    CheckInfo {
        id: "host.clock-skew",
        title: "Node clocks agree",
        area: "host",
        description: "Every node's clock is synchronized, its reported offset small, and the nodes' clocks agree (compared through the MongoDB server's clock).",
    },
    CheckInfo {
        id: "containers.restarting",
        title: "No restart loops or OOM kills",
        area: "containers",
        description: "No container is restarting, was OOM-killed, or has restarted more often than the policy allows.",
    },
    CheckInfo {
        id: "logs.known-errors",
        title: "Known error signatures in logs",
        area: "logs",
        description: "No log line matches a known error signature of the policy.",
    },
    CheckInfo {
        id: "bundle.complete",
        title: "Bundle complete",
        area: "bundle",
        description: "Every collector ran to completion; otherwise the checks it weakens are named.",
    },
    CheckInfo {
        id: "bundle.signer-trusted",
        title: "Bundle signer trusted",
        area: "bundle",
        description: "Every bundle is signed by a node key listed in the allowed signers file (--trust).",
    },
];

/// Runs every check in [`CHECKS`] order.
pub fn run_all(input: &CheckInput) -> Vec<CheckResult> {
    let mut out = vec![
        image::official(input),
        deploy::method(input),
        scale::orchestrated(input),
    ];
    out.extend(hardware::all(input));
    out.push(monitoring::prometheus(input));
    out.push(monitoring::grafana(input));
    out.push(version::supported(input));
    out.push(version::consistent(input));
    out.push(mongodb::version(input));
    out.push(mongodb::replica_set(input));
    out.push(mongodb::storage_engine(input));
    out.push(mongodb::bypass_flags(input));
    out.push(host::disk_free(input));
    out.push(host::clock_skew(input));
    out.push(containers::restarting(input));
    out.push(logs::known_errors(input));
    out.push(bundle::complete(input));
    out.push(bundle::signer_trusted(input));
    out
}

/// Runs the one check `id`; `None` for an unknown id.
pub fn run_one(input: &CheckInput, id: &str) -> Option<CheckResult> {
    CHECKS
        .iter()
        .any(|c| c.id == id)
        .then(|| run_all(input).into_iter().find(|r| r.id == id))
        .flatten()
}

/// Remarks about the set of bundles as a whole (e.g. bundles of different deployments).
pub fn cluster_notes(nodes: &[NodeData]) -> Vec<String> {
    let mut notes = Vec::new();
    // Different workspaces.
    let mut ids: Vec<(String, &str)> = Vec::new();
    for n in nodes {
        let id = n
            .rocketchat
            .as_ref()
            .and_then(|r| r.get("unique_id"))
            .and_then(Value::as_str)
            .or_else(|| {
                n.rc_statistics
                    .as_ref()
                    .and_then(|s| s.get("uniqueId"))
                    .and_then(Value::as_str)
            });
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            ids.push((id.to_string(), &n.label));
        }
    }
    if let Some((first, first_label)) = ids.first()
        && let Some((other, other_label)) = ids.iter().find(|(i, _)| i != first)
    {
        notes.push(format!(
            "bundles look like different deployments: uniqueId {first} ({first_label}) vs {other} ({other_label}); analyze each deployment's bundles separately"
        ));
    }
    // Same node twice.
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            let same_machine = matches!((&a.manifest.node.machine_id_hash, &b.manifest.node.machine_id_hash), (Some(x), Some(y)) if x == y);
            let same_key = a.manifest.signer.fingerprint == b.manifest.signer.fingerprint
                && !a.manifest.signer.fingerprint.is_empty();
            if same_machine || same_key {
                notes.push(format!(
                    "{} and {} come from the same node ({}): it is counted once where instances are counted",
                    a.label,
                    b.label,
                    if same_machine { "same machine id" } else { "same signing key" }
                ));
            }
        }
    }
    // Replica sets.
    let mut sets: Vec<(String, &str)> = Vec::new();
    for n in nodes {
        if let Some(s) = n
            .mongodb_summary
            .as_ref()
            .and_then(|s| s.pointer("/replica_set/set_name"))
            .and_then(Value::as_str)
            && !s.is_empty()
        {
            sets.push((s.to_string(), &n.label));
        }
    }
    if let Some((first, fl)) = sets.first()
        && let Some((other, ol)) = sets.iter().find(|(s, _)| s != first)
    {
        notes.push(format!(
            "bundles see different MongoDB replica sets: {first} ({fl}) vs {other} ({ol})"
        ));
    }
    // Collection times far apart.
    let times: Vec<jiff::Timestamp> = nodes.iter().filter_map(NodeData::created_at).collect();
    if let (Some(min), Some(max)) = (times.iter().min(), times.iter().max()) {
        let hours = max.as_second().saturating_sub(min.as_second()) / 3600;
        if hours >= 24 {
            notes.push(format!(
                "bundles were created {hours} hours apart: versions, instances and clocks may have changed in between"
            ));
        }
    }
    notes
}

// ---------------------------------------------------------------------------
// Shared helpers for the check modules.

/// One observation of a check, combined by [`conclude`].
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub outcome: Outcome,
    pub message: String,
    pub evidence: Vec<Evidence>,
}

impl Finding {
    pub fn new(outcome: Outcome, message: impl Into<String>, evidence: Vec<Evidence>) -> Finding {
        Finding {
            outcome,
            message: message.into(),
            evidence,
        }
    }
}

/// Most evidence items kept per check result.
pub(crate) const MAX_EVIDENCE: usize = 60;
/// Most messages joined into one result message.
const MAX_MESSAGES: usize = 4;

/// Builds a result with the id's title and area and the policy's remediation link.
pub(crate) fn result(
    input: &CheckInput,
    id: &str,
    outcome: Outcome,
    message: String,
    mut evidence: Vec<Evidence>,
) -> CheckResult {
    let info = CHECKS.iter().find(|c| c.id == id);
    evidence.truncate(MAX_EVIDENCE);
    CheckResult {
        id: id.to_string(),
        title: info.map(|i| i.title).unwrap_or(id).to_string(),
        area: info.map(|i| i.area).unwrap_or("").to_string(),
        outcome,
        message,
        evidence,
        remediation: input.policy.remediation(id),
    }
}

/// Combines findings: the outcome is the most severe one (fail > warn > unknown >
/// pass); the message lists the most severe findings first. No finding at all is
/// `unknown` with `nothing_msg`.
pub(crate) fn conclude(
    input: &CheckInput,
    id: &str,
    mut findings: Vec<Finding>,
    nothing_msg: &str,
) -> CheckResult {
    if findings.is_empty() {
        return result(
            input,
            id,
            Outcome::Unknown,
            nothing_msg.to_string(),
            Vec::new(),
        );
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.outcome.severity()));
    let outcome = findings[0].outcome;
    let mut msgs: Vec<&str> = Vec::new();
    // A set beside the list: one finding per container must not cost a scan each.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for f in &findings {
        // After a problem, passes add nothing to the one-line message.
        if f.outcome == Outcome::Pass && outcome != Outcome::Pass {
            continue;
        }
        if seen.insert(f.message.as_str()) {
            msgs.push(&f.message);
        }
    }
    let extra = msgs.len().saturating_sub(MAX_MESSAGES);
    let mut message = msgs
        .iter()
        .take(MAX_MESSAGES)
        .copied()
        .collect::<Vec<_>>()
        .join("; ");
    if extra > 0 {
        message.push_str(&format!("; and {extra} more"));
    }
    let evidence = findings.into_iter().flat_map(|f| f.evidence).collect();
    result(input, id, outcome, message, evidence)
}

/// The date support is judged at for `node`: `--as-of`, else the bundle's creation date.
pub(crate) fn as_of(input: &CheckInput, node: &NodeData) -> Option<jiff::civil::Date> {
    input.as_of.or_else(|| {
        node.created_at()
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
    })
}

/// Rocket.Chat containers of a node (`None` when docker data is missing).
pub(crate) fn rc_containers<'a>(node: &'a NodeData, policy: &Policy) -> Option<Vec<Container<'a>>> {
    node.containers(policy).map(|cs| {
        cs.into_iter()
            .filter(|c| c.kind == ContainerKind::RocketChat)
            .collect()
    })
}

/// Host processes of kind `kind` (`rocketchat`, `mongod`) with their index.
pub(crate) fn processes_of<'a>(node: &'a NodeData, kind: &str) -> Vec<(usize, &'a Value)> {
    node.processes()
        .into_iter()
        .enumerate()
        .filter(|(_, p)| p.get("kind").and_then(Value::as_str) == Some(kind))
        .collect()
}

/// Index of a process in `host.json`'s `processes` array (for JSON pointers).
pub(crate) fn process_pointer(idx: usize, field: &str) -> String {
    if field.is_empty() {
        format!("/processes/{idx}")
    } else {
        format!("/processes/{idx}/{field}")
    }
}

/// The Rocket.Chat version a node reports, most authoritative source first, with evidence.
pub(crate) fn node_rc_version(node: &NodeData, policy: &Policy) -> Option<(Version, Evidence)> {
    if let Some(s) = node
        .rocketchat
        .as_ref()
        .and_then(|r| r.pointer("/version/value"))
        .and_then(Value::as_str)
        && let Some(v) = Version::parse(s)
    {
        return Some((
            v,
            Evidence::file(node, "rocketchat/summary.json")
                .at("/version/value")
                .val(s),
        ));
    }
    if let Some(s) = node
        .rc_statistics
        .as_ref()
        .and_then(|r| r.get("version"))
        .and_then(Value::as_str)
        && let Some(v) = Version::parse(s)
    {
        return Some((
            v,
            Evidence::file(node, "rocketchat/statistics.json")
                .at("/version")
                .val(s),
        ));
    }
    if let Some(cs) = rc_containers(node, policy) {
        for c in cs {
            if let Some(tag) = &c.image_ref.tag
                && let Some(v) = Version::parse(tag)
                && tag.matches('.').count() == 2
            {
                return Some((
                    v,
                    Evidence::file(node, "docker/containers.json")
                        .at(c.pointer("image"))
                        .val(&c.image),
                ));
            }
        }
    }
    if let Some((file, s)) = node.startup_versions.last()
        && let Some(v) = Version::parse(s)
    {
        return Some((
            v,
            Evidence::file(node, file).val(format!("Rocket.Chat Version: {s}")),
        ));
    }
    None
}

/// Users that size the installation: concurrent users (else active users), the
/// largest figure over the nodes (they share one database), with its basis.
pub(crate) fn cluster_users(nodes: &[NodeData]) -> Option<(u64, &'static str, Evidence)> {
    let pick = |sources: &[(&str, &str, &'static str)]| -> Option<(u64, &'static str, Evidence)> {
        let mut best: Option<(u64, &'static str, Evidence)> = None;
        for n in nodes {
            for (file, pointer, basis) in sources {
                let doc = match *file {
                    "rocketchat/summary.json" => n.rocketchat.as_ref(),
                    _ => n.rc_statistics.as_ref(),
                };
                if let Some(v) = doc.and_then(|d| d.pointer(pointer)).and_then(as_u64) {
                    if best.as_ref().is_none_or(|b| v > b.0) {
                        best = Some((v, basis, Evidence::file(n, file).at(*pointer).val(v)));
                    }
                    break;
                }
            }
        }
        best
    };
    pick(&[
        (
            "rocketchat/summary.json",
            "/users/concurrent",
            "concurrent users",
        ),
        (
            "rocketchat/statistics.json",
            "/totalConnectedUsers",
            "concurrent users",
        ),
    ])
    .or_else(|| {
        pick(&[
            (
                "rocketchat/summary.json",
                "/users/active_humans",
                "active users",
            ),
            ("rocketchat/statistics.json", "/activeUsers", "active users"),
        ])
    })
}

/// A stable key for "the same node" across bundles.
pub(crate) fn node_key(node: &NodeData) -> String {
    node.manifest
        .node
        .machine_id_hash
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("host:{}", node.hostname()))
}

/// Whether a setting/env value means "on" (`true`, `"true"`, `1`, `{"value": true}`).
pub(crate) fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::Object(o) => o.get("value").and_then(truthy),
        _ => None,
    }
}

/// A short list for a message: `a, b, c and 2 more`.
pub(crate) fn list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}
