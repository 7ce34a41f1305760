//! What a check gives: its outcome, evidence and result, the input it runs on, and
//! how findings combine into one result.

use serde::Serialize;

use super::{CHECKS, CheckId};
use crate::model::NodeData;
use crate::policy::Policy;

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
    /// The root causes the check cited for missing data (a collector skipped or
    /// failed, a file unusable), filled in by the check runner; the report says each
    /// once and the check refers to it by id.
    pub causes: Vec<crate::model::CauseRef>,
    /// `false` when the check does not apply to these bundles (a Kubernetes rule on
    /// a Docker installation): its outcome is then `pass` and its message starts with
    /// "does not apply", so a renderer that does not know this field still says so;
    /// one that does shows it as not applicable, apart from the passes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
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
        causes: Vec::new(),
        not_applicable: false,
    }
}

/// A result saying the check does not apply to these bundles (see
/// [`CheckResult::not_applicable`]); `message` says why and starts with "does not apply".
pub(crate) fn not_applicable(
    input: &CheckInput,
    id: CheckId,
    message: String,
    evidence: Vec<Evidence>,
) -> CheckResult {
    let mut r = result(input, id, Outcome::Pass, message, evidence);
    r.not_applicable = true;
    r
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
    let mut gaps: Vec<&str> = Vec::new();
    // A set beside the list: one finding per container must not cost a scan each.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for f in &findings {
        // After a problem, passes add nothing to the one-line message.
        if f.outcome == Outcome::Pass && outcome != Outcome::Pass {
            continue;
        }
        if seen.insert(f.message.as_str()) {
            // Unknowns come after the findings, grouped among themselves: a group
            // differs in a name only, so the cause's reason stays word for word.
            if f.outcome == Outcome::Unknown {
                gaps.push(&f.message);
            } else {
                msgs.push(&f.message);
            }
        }
    }
    // Findings about several containers, pods or nodes are said once.
    let mut msgs = super::group::group_messages(&msgs);
    msgs.extend(super::group::group_messages(&gaps));
    let extra = msgs.len().saturating_sub(MAX_MESSAGES);
    let mut message = msgs
        .iter()
        .take(MAX_MESSAGES)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if extra > 0 {
        message.push_str(&format!("; and {extra} more"));
    }
    let evidence = findings.into_iter().flat_map(|f| f.evidence).collect();
    result(input, id, outcome, message, evidence)
}
