//! One check's entry in the report: its outcome, message, evidence and the causes
//! it cites; built from a [`CheckResult`] with bundle text cut to the report's budgets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::causes::{self, Piece};
use super::long_values::LongValues;
use super::{MAX_EVIDENCE, MAX_EVIDENCE_FIELD, MAX_MESSAGE, Report, cut_opt};
use crate::checks::{CheckResult, Evidence, Outcome};

/// The verdict of one check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckEntry {
    /// Stable check id, e.g. `rocketchat.version.supported`.
    pub id: String,
    /// One-line title of what is checked.
    pub title: String,
    /// Area the check belongs to (rocketchat, mongodb, docker, host, ...).
    pub area: String,
    /// The verdict.
    pub outcome: ReportOutcome,
    /// One-line reason for the verdict.
    pub message: String,
    /// Where in the bundles the verdict comes from.
    pub evidence: Vec<ReportEvidence>,
    /// What to do about it: a documentation link or a short instruction.
    pub remediation: String,
    /// Ids of the root causes (in the report's `causes`) the check cited for the data
    /// it lacked; the message keeps the full reasons.
    pub causes: Vec<String>,
    /// The message as renderers show it, each cited cause's reason replaced by a
    /// reference to it (not serialized; empty when the check cited no cause).
    #[serde(skip)]
    #[schemars(skip)]
    pub pieces: Vec<Piece>,
}

/// Outcome of a check.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum ReportOutcome {
    /// The requirement is met.
    Pass,
    /// Supported, but needs attention.
    Warn,
    /// The requirement is not met.
    Fail,
    /// The bundles do not hold the data to decide (a collector failed or was skipped).
    Unknown,
    /// The check does not apply to these bundles (a Kubernetes rule on a Docker
    /// install): shown as `N/A`, counted apart, never as unknown.
    #[serde(rename = "not_applicable")]
    NotApplicable,
}

impl ReportOutcome {
    /// Lowercase name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Unknown => "unknown",
            Self::NotApplicable => "not_applicable",
        }
    }

    /// Uppercase label for text output.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Unknown => "UNKNOWN",
            Self::NotApplicable => "N/A",
        }
    }
}

impl From<&Outcome> for ReportOutcome {
    fn from(o: &Outcome) -> Self {
        match o {
            Outcome::Pass => Self::Pass,
            Outcome::Warn => Self::Warn,
            Outcome::Fail => Self::Fail,
            Outcome::Unknown => Self::Unknown,
        }
    }
}

/// One piece of evidence: a value read from a file of a bundle.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportEvidence {
    /// The bundle it was read from.
    pub bundle: String,
    /// The node label.
    pub node: String,
    /// Path of the file inside the bundle.
    pub file: Option<String>,
    /// JSON Pointer (RFC 6901) into that file.
    pub pointer: Option<String>,
    /// The log line (or its number) that matched.
    pub line: Option<String>,
    /// The value found, as text.
    pub value: Option<String>,
}

impl From<&Evidence> for ReportEvidence {
    fn from(e: &Evidence) -> Self {
        Self::with(e, &LongValues::default())
    }
}

impl ReportEvidence {
    /// The evidence, each field cut to `MAX_EVIDENCE_FIELD` (with a long value's id).
    pub(super) fn with(e: &Evidence, longs: &LongValues) -> Self {
        Self {
            bundle: longs.field(&e.bundle, MAX_EVIDENCE_FIELD),
            node: longs.field(&e.node, MAX_EVIDENCE_FIELD),
            file: cut_opt(&e.file, longs),
            pointer: cut_opt(&e.pointer, longs),
            line: cut_opt(&e.line, longs),
            value: cut_opt(&e.value, longs),
        }
    }

    /// Registers the fields of `e` too long to show whole.
    pub(super) fn register(e: &Evidence, longs: &mut LongValues) {
        let optional = [&e.file, &e.pointer, &e.line, &e.value];
        for s in [&e.bundle, &e.node]
            .into_iter()
            .chain(optional.into_iter().flatten())
        {
            longs.register(s, MAX_EVIDENCE_FIELD);
        }
    }
}

impl ReportEvidence {
    /// `file#pointer` (or just the file, or just the pointer), empty when neither is known.
    pub fn location(&self) -> String {
        match (&self.file, &self.pointer) {
            (Some(f), Some(p)) if !p.is_empty() => format!("{f}#{p}"),
            (Some(f), _) => f.clone(),
            (None, Some(p)) => format!("#{p}"),
            (None, None) => String::new(),
        }
    }
}

impl From<&CheckResult> for CheckEntry {
    fn from(r: &CheckResult) -> Self {
        Self::with(
            r,
            &LongValues::default(),
            &mut causes::CauseTable::default(),
        )
    }
}

impl CheckEntry {
    /// The entry of `r`, long values cut with their ids, its causes added to `table`.
    pub(super) fn with(
        r: &CheckResult,
        longs: &LongValues,
        table: &mut causes::CauseTable,
    ) -> Self {
        let undecided = r.outcome == Outcome::Unknown;
        let cited = table.cite(&r.id, undecided, &r.causes);
        let pieces = if cited.is_empty() {
            Vec::new()
        } else {
            causes::pieces(&r.message, &cited, &table.causes)
                .into_iter()
                .map(|p| match p {
                    Piece::Text(t) => Piece::Text(longs.text(&t, MAX_EVIDENCE_FIELD, MAX_MESSAGE)),
                    p => p,
                })
                .collect()
        };
        Self {
            id: r.id.clone(),
            title: r.title.clone(),
            area: r.area.clone(),
            outcome: if r.not_applicable {
                ReportOutcome::NotApplicable
            } else {
                ReportOutcome::from(&r.outcome)
            },
            message: longs.text(&r.message, MAX_EVIDENCE_FIELD, MAX_MESSAGE),
            evidence: {
                let mut ev: Vec<ReportEvidence> = r
                    .evidence
                    .iter()
                    .take(MAX_EVIDENCE)
                    .map(|e| ReportEvidence::with(e, longs))
                    .collect();
                if r.evidence.len() > MAX_EVIDENCE
                    && let Some(first) = ev.first()
                {
                    ev.push(ReportEvidence {
                        bundle: first.bundle.clone(),
                        node: first.node.clone(),
                        file: None,
                        pointer: None,
                        line: None,
                        value: Some(format!(
                            "... and {} more evidence item(s), not shown",
                            r.evidence.len() - MAX_EVIDENCE
                        )),
                    });
                }
                ev
            },
            remediation: r.remediation.clone(),
            causes: cited
                .iter()
                .filter_map(|&i| table.causes.get(i).map(|c| c.id.clone()))
                .collect(),
            pieces,
        }
    }

    /// The message as renderers show it (see [`CheckEntry::pieces`]), with a
    /// reference at the end to each cited cause the text did not name (not for a
    /// check that passed or does not apply).
    pub fn shown(&self, report: &Report) -> Vec<Piece> {
        let cited: Vec<usize> = self
            .causes
            .iter()
            .filter_map(|id| report.causes.iter().position(|c| &c.id == id))
            .collect();
        let mut p = if self.pieces.is_empty() {
            vec![Piece::Text(self.message.clone())]
        } else {
            self.pieces.clone()
        };
        // A check that decided says what it lacked only where its text names it.
        let decided = matches!(
            self.outcome,
            ReportOutcome::Pass | ReportOutcome::NotApplicable
        );
        for i in causes::missing_refs(&p, &cited)
            .into_iter()
            .filter(|_| !decided)
        {
            p.push(Piece::Text(" (see ".into()));
            p.push(Piece::Cause(i));
            p.push(Piece::Text(")".into()));
        }
        p
    }
}
