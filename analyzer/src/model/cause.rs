//! Root causes of missing data: why a file a check needs is not in a bundle (a
//! collector skipped, failed, timed out or absent, a file unusable), each with a
//! stable id such as `collector-skipped:docker`. [`super::NodeData::why_missing`]
//! records every cause it cites, so the checks need no change to name theirs: the
//! check runner collects what each check cited ([`super::NodeData::take_cited`]) and
//! the report says each cause once, the checks referring to it by id.

use std::sync::Mutex;

use rcdiag_bundle::CollectorStatus;

/// What kind of root cause (the first part of a cause id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CauseKind {
    /// The collector was skipped (deselected, or nothing to collect there).
    CollectorSkipped,
    /// The collector failed.
    CollectorFailed,
    /// The collector hit its time limit.
    CollectorTimeout,
    /// The collector wrote only part of its data.
    CollectorPartial,
    /// The manifest has no record of the collector (an older or other agent).
    CollectorAbsent,
    /// The collector ran but did not write the file.
    FileMissing,
    /// The file is present but unusable (not JSON, too large, wrong shape).
    FileUnusable,
}

impl CauseKind {
    /// The id prefix: `collector-skipped`, `file-unusable`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CollectorSkipped => "collector-skipped",
            Self::CollectorFailed => "collector-failed",
            Self::CollectorTimeout => "collector-timeout",
            Self::CollectorPartial => "collector-partial",
            Self::CollectorAbsent => "collector-absent",
            Self::FileMissing => "file-missing",
            Self::FileUnusable => "file-unusable",
        }
    }

    /// The kind of a collector's status (`None` for `ok`).
    pub fn of_status(st: CollectorStatus) -> Option<Self> {
        match st {
            CollectorStatus::Ok => None,
            CollectorStatus::Skipped => Some(Self::CollectorSkipped),
            CollectorStatus::Failed => Some(Self::CollectorFailed),
            CollectorStatus::Timeout => Some(Self::CollectorTimeout),
            CollectorStatus::Partial => Some(Self::CollectorPartial),
        }
    }
}

/// One root cause cited by a check, on one node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CauseRef {
    /// Stable id: `<kind>:<collector>` for collector causes (`collector-skipped:docker`),
    /// `<kind>:<file>` for file causes (`file-unusable:docker/containers.json`).
    pub id: String,
    /// The kind.
    #[serde(skip)]
    pub kind: CauseKind,
    /// The collector concerned.
    pub collector: String,
    /// The file concerned, for file causes.
    pub file: Option<String>,
    /// The bundle (node label) it was cited for.
    pub bundle: String,
    /// The full reason the bundle records (the collector's error, the load problem).
    pub reason: Option<String>,
    /// The exact texts that stand for this cause in the check's message, longest
    /// first (the whole `why_missing` sentence, then its cause part), so a report can
    /// replace them by a reference to the cause.
    pub phrases: Vec<String>,
}

/// The causes a node's `why_missing` cited since the last [`CauseLog::take`]. A clone
/// starts empty (what was cited belongs to the check that cited it).
#[derive(Debug, Default)]
pub(crate) struct CauseLog(Mutex<Vec<CauseRef>>);

impl Clone for CauseLog {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl CauseLog {
    pub(crate) fn push(&self, c: CauseRef) {
        if let Ok(mut v) = self.0.lock()
            && !v.contains(&c)
        {
            v.push(c);
        }
    }

    pub(crate) fn take(&self) -> Vec<CauseRef> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}
