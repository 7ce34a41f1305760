//! The report's overall verdict and its count of outcomes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CheckEntry, ReportOutcome};

/// The overall verdict of a report.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    #[default]
    Pass,
    /// No failure; a warning (or a few unknowns).
    Warn,
    /// No failure and no warning, but some checks could not decide.
    Unknown,
    /// No failure, and more than half of the checks could not decide: the bundles do
    /// not hold enough to judge the deployment; collect what the causes name.
    Incomplete,
    /// At least one check failed.
    Fail,
}

impl Verdict {
    /// Uppercase label: `PASS`, `WARN`, `UNKNOWN`, `INCOMPLETE`, `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Unknown => "UNKNOWN",
            Self::Incomplete => "INCOMPLETE",
            Self::Fail => "FAIL",
        }
    }

    /// Lowercase name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Unknown => "unknown",
            Self::Incomplete => "incomplete",
            Self::Fail => "fail",
        }
    }

    /// The check outcome whose colour and class the verdict takes.
    pub fn outcome(self) -> ReportOutcome {
        match self {
            Self::Pass => ReportOutcome::Pass,
            Self::Warn => ReportOutcome::Warn,
            Self::Unknown | Self::Incomplete => ReportOutcome::Unknown,
            Self::Fail => ReportOutcome::Fail,
        }
    }
}

/// How many checks ended in each outcome.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Checks that passed.
    pub pass: usize,
    /// Checks that warned.
    pub warn: usize,
    /// Checks that failed.
    pub fail: usize,
    /// Checks that could not decide.
    pub unknown: usize,
    /// Checks that do not apply to these bundles (not counted in the verdict).
    #[serde(default)]
    pub not_applicable: usize,
    /// Bundles read whose signer is not pinned (no `--trust`, or not in it).
    pub unverified_signers: usize,
    /// The overall verdict (see [`Summary::verdict`]): `fail` when a check failed,
    /// else `incomplete` when more than half of the applicable checks are unknown, else `warn`,
    /// `unknown` or `pass`.
    pub verdict: Verdict,
}

impl Summary {
    /// Counts the outcomes of `checks`.
    pub fn of(checks: &[CheckEntry]) -> Self {
        let mut s = Self::default();
        for c in checks {
            match c.outcome {
                ReportOutcome::Pass => s.pass += 1,
                ReportOutcome::Warn => s.warn += 1,
                ReportOutcome::Fail => s.fail += 1,
                ReportOutcome::Unknown => s.unknown += 1,
                ReportOutcome::NotApplicable => s.not_applicable += 1,
            }
        }
        s.verdict = s.verdict();
        s
    }

    /// The overall verdict: a failure beats everything; then, when more than half of
    /// the applicable checks are unknown, `INCOMPLETE` (checks that do not apply
    /// count neither way); then a warning, then an unknown, then pass.
    pub fn verdict(&self) -> Verdict {
        let total = self.pass + self.warn + self.fail + self.unknown;
        if self.fail > 0 {
            Verdict::Fail
        } else if self.unknown * 2 > total {
            Verdict::Incomplete
        } else if self.warn > 0 {
            Verdict::Warn
        } else if self.unknown > 0 {
            Verdict::Unknown
        } else {
            Verdict::Pass
        }
    }

    /// `12 pass, 2 warn, 1 fail, 0 unknown, 3 N/A`, then `; signer not verified: pass
    /// --trust` when a bundle's signer is not pinned.
    pub fn line(&self) -> String {
        format!("{}{}", self.counts(), self.trust_suffix())
    }

    /// `12 pass, 2 warn, 1 fail, 0 unknown, 3 N/A` (the N/A count only when some
    /// check does not apply).
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} pass, {} warn, {} fail, {} unknown",
            self.pass, self.warn, self.fail, self.unknown
        );
        if self.not_applicable > 0 {
            s.push_str(&format!(", {} N/A", self.not_applicable));
        }
        s
    }

    /// `; signer not verified: pass --trust` when a signer is not pinned, else empty.
    pub fn trust_suffix(&self) -> &'static str {
        if self.unverified_signers > 0 {
            "; signer not verified: pass --trust"
        } else {
            ""
        }
    }
}
