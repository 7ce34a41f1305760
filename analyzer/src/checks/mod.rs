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
mod id;
mod image;
mod logs;
mod mongodb;
mod monitoring;
mod scale;
mod version;

pub use bundle::COLLECTOR_CHECKS;
pub use id::{CheckId, UnknownCheck};

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

    /// Adds the value found (at most [`crate::report::MAX_LONG_VALUE`] bytes: the
    /// report shows a long value whole once, see [`crate::report::LongValue`]).
    pub fn val(mut self, value: impl std::fmt::Display) -> Evidence {
        self.value = Some(rcdiag_bundle::cut_to(
            &value.to_string(),
            crate::report::MAX_LONG_VALUE,
        ));
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

/// A check: its id, title, area, what it checks and the function that runs it.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id.
    pub id: CheckId,
    /// Title.
    pub title: &'static str,
    /// Area (the first part of the id).
    pub area: &'static str,
    /// What it checks.
    pub description: &'static str,
    /// Runs the check over the nodes of one installation.
    pub run: fn(&CheckInput) -> CheckResult,
}

/// Each area's checks, in report order.
const AREAS: &[&[Check]] = &[
    image::CHECKS,
    deploy::CHECKS,
    scale::CHECKS,
    hardware::CHECKS,
    monitoring::CHECKS,
    version::CHECKS,
    mongodb::CHECKS,
    host::CHECKS,
    containers::CHECKS,
    logs::CHECKS,
    bundle::CHECKS,
];

const COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < AREAS.len() {
        n += AREAS[i].len();
        i += 1;
    }
    n
};

const fn flatten() -> [Check; COUNT] {
    let mut out = [AREAS[0][0]; COUNT];
    let (mut a, mut k) = (0, 0);
    while a < AREAS.len() {
        let mut i = 0;
        while i < AREAS[a].len() {
            out[k] = AREAS[a][i];
            k += 1;
            i += 1;
        }
        a += 1;
    }
    out
}

/// Every check, in report order (the areas' own lists, concatenated).
pub const CHECKS: &[Check] = &flatten();

/// Runs every check in [`CHECKS`] order.
pub fn run_all(input: &CheckInput) -> Vec<CheckResult> {
    CHECKS.iter().map(|c| (c.run)(input)).collect()
}

/// Runs the one check `id`; `None` for an unknown id.
pub fn run_one(input: &CheckInput, id: &str) -> Option<CheckResult> {
    CHECKS
        .iter()
        .find(|c| c.id.as_str() == id)
        .map(|c| (c.run)(input))
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
/// Most distinct evidence values longer than a report field that one result keeps
/// long (the report shows each whole once); the others are cut to a field's size, so
/// a result holds at most this many values of up to `report::MAX_LONG_VALUE` bytes.
const MAX_LONG_PER_RESULT: usize = 4;
/// Most messages joined into one result message.
const MAX_MESSAGES: usize = 4;

/// Builds a result with the id's title and area and the policy's remediation link.
pub(crate) fn result(
    input: &CheckInput,
    id: CheckId,
    outcome: Outcome,
    message: String,
    mut evidence: Vec<Evidence>,
) -> CheckResult {
    let info = CHECKS.iter().find(|c| c.id == id);
    evidence.truncate(MAX_EVIDENCE);
    let mut long: Vec<String> = Vec::new();
    for v in evidence.iter_mut().filter_map(|e| e.value.as_mut()) {
        if v.len() <= crate::report::MAX_EVIDENCE_FIELD || long.contains(v) {
            continue;
        }
        if long.len() < MAX_LONG_PER_RESULT {
            long.push(v.clone());
        } else {
            *v = rcdiag_bundle::cut_to(v, crate::report::MAX_EVIDENCE_FIELD);
        }
    }
    CheckResult {
        id: id.as_str().to_string(),
        title: info.map_or(id.as_str(), |i| i.title).to_string(),
        area: info.map_or("", |i| i.area).to_string(),
        outcome,
        message,
        evidence,
        remediation: input.policy.remediation(id.as_str()),
    }
}

/// Combines findings: the outcome is the most severe one (fail > warn > unknown >
/// pass); the message lists the most severe findings first. No finding at all is
/// `unknown` with `nothing_msg`.
pub(crate) fn conclude(
    input: &CheckInput,
    id: CheckId,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_declared_once_each_in_id_order_with_their_area() {
        let ids: Vec<CheckId> = CHECKS.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            CheckId::ALL,
            "every id has exactly one check, in order"
        );
        for c in CHECKS {
            assert_eq!(
                c.id.as_str().split_once('.').map(|(a, _)| a),
                Some(c.area),
                "{} is declared in the wrong area",
                c.id
            );
            assert!(!c.title.is_empty() && !c.description.is_empty());
        }
    }

    #[test]
    fn builtin_policy_covers_exactly_the_checks() {
        let p = Policy::builtin();
        assert_eq!(p.validate(CheckId::NAMES), Vec::<String>::new());
        let keys: Vec<&str> = p.checks.keys().map(String::as_str).collect();
        let mut names = CheckId::NAMES.to_vec();
        names.sort_unstable();
        assert_eq!(keys, names);
    }
}
