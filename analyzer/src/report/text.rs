//! Text rendering of a report for a terminal: checks grouped by area, each with its
//! outcome, one-line reason, evidence and remediation, then a summary line. Colour
//! (plain ANSI SGR codes) only when the caller asks for it.

use std::fmt::Write as _;

use super::{CheckEntry, Piece, Report, ReportEvidence, ReportOutcome, TrustLevel, sanitize_line};

/// Whether to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextStyle {
    /// No escape codes at all.
    #[default]
    Plain,
    /// ANSI colours and bold.
    Color,
}

impl TextStyle {
    fn paint(self, code: &str, s: &str) -> String {
        match self {
            Self::Plain => s.to_string(),
            Self::Color => format!("\x1b[{code}m{s}\x1b[0m"),
        }
    }

    fn outcome(self, o: ReportOutcome) -> String {
        self.paint(outcome_code(o), &format!("{:<7}", o.label()))
    }

    fn outcome_word(self, o: ReportOutcome) -> String {
        self.paint(outcome_code(o), o.label())
    }

    fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }

    fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn outcome_code(o: ReportOutcome) -> &'static str {
    match o {
        ReportOutcome::Pass => "32",
        ReportOutcome::Warn => "33",
        ReportOutcome::Fail => "1;31",
        ReportOutcome::Unknown => "35",
        ReportOutcome::NotApplicable => "2",
    }
}

/// One evidence item as a single line: `node file#pointer line N: value`.
pub(crate) fn evidence_line(e: &ReportEvidence) -> String {
    let mut s = e.node.clone();
    let loc = e.location();
    if !loc.is_empty() {
        s.push(' ');
        s.push_str(&loc);
    }
    if let Some(line) = &e.line {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && digits == line.len() {
            let _ = write!(s, ":{line}");
        } else if digits > 0 && !loc.is_empty() && line[digits..].starts_with(':') {
            // `14: text` right after the file reads like grep: `file:14: text`.
            let _ = write!(s, ":{line}");
        } else {
            let _ = write!(s, ": {line}");
        }
    }
    if let Some(v) = &e.value {
        let _ = write!(s, " = {v}");
    }
    s
}

/// The message of `c` with its cause references as `[cause N: few words]`.
fn shown_message(report: &Report, c: &CheckEntry) -> String {
    c.shown(report)
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.clone(),
            Piece::Cause(i) => report
                .causes
                .get(*i)
                .map(|k| format!("{} [cause {}]", k.title, i + 1))
                .unwrap_or_default(),
        })
        .collect()
}

/// Renders `report` as text: passing checks show their first evidence item only.
pub fn render_text(report: &Report, style: TextStyle) -> String {
    render(report, style, false)
}

/// Renders `report` as text with every evidence item and every cause's full reason
/// (`check --verbose`).
pub fn render_text_verbose(report: &Report, style: TextStyle) -> String {
    render(report, style, true)
}

fn render(report: &Report, style: TextStyle, verbose: bool) -> String {
    let clean = |s: &str| sanitize_line(s);
    let mut out = String::new();
    if let Some(notice) = &report.signer_notice {
        let _ = writeln!(
            out,
            "{} {}",
            style.bold("rcdiag check:"),
            style.paint("1;33", &clean(notice))
        );
    }
    let _ = writeln!(
        out,
        "{} {} bundle(s), policy {} v{} (facts as of {}), verdicts as of {}",
        style.bold("rcdiag check:"),
        report.bundles.len(),
        clean(&report.policy.name),
        report.policy.version,
        clean(&report.policy.as_of),
        report
            .as_of
            .as_deref()
            .map(clean)
            .unwrap_or_else(|| "each bundle's creation date".to_string()),
    );
    for b in &report.bundles {
        if b.verified {
            let trust = match b.trust {
                TrustLevel::Untrusted => style.paint("33", b.trust.label()),
                TrustLevel::Trusted if !b.trust_principals.is_empty() => {
                    format!("trusted ({})", clean(&b.trust_principals.join(",")))
                }
                other => other.label().to_string(),
            };
            let _ = writeln!(
                out,
                "  {}  {}  created {}  {}  signer {}  trust: {}",
                style.bold(&clean(b.node.as_deref().unwrap_or("?"))),
                clean(&b.file),
                clean(b.created_at.as_deref().unwrap_or("?")),
                if b.encrypted == Some(true) {
                    "encrypted"
                } else {
                    "signed-plain"
                },
                clean(b.signer_fingerprint.as_deref().unwrap_or("?")),
                trust,
            );
        } else {
            let _ = writeln!(
                out,
                "  {}  {}: {}",
                style.paint("1;31", "UNREADABLE"),
                clean(&b.file),
                clean(b.error.as_deref().unwrap_or("unknown error")),
            );
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("notes:"));
        for n in &report.notes {
            let _ = writeln!(out, "  - {}", clean(n));
        }
    }
    render_summary(&mut out, report, style, verbose);
    for (area, checks) in report.by_area() {
        let _ = writeln!(out, "\n{}", style.bold(&format!("== {} ==", clean(area))));
        for c in checks {
            let _ = writeln!(
                out,
                "{} {}  {}",
                style.outcome(c.outcome),
                clean(&c.id),
                clean(&c.title)
            );
            let pad = "        ";
            let message = if verbose {
                c.message.clone()
            } else {
                shown_message(report, c)
            };
            if !message.is_empty() {
                let _ = writeln!(out, "{pad}{}", clean(&message));
            }
            let quiet = matches!(
                c.outcome,
                ReportOutcome::Pass | ReportOutcome::NotApplicable
            );
            let shown = if quiet && !verbose {
                c.evidence.len().min(1)
            } else {
                c.evidence.len()
            };
            for e in &c.evidence[..shown] {
                let _ = writeln!(
                    out,
                    "{pad}{} {}",
                    style.dim("evidence:"),
                    clean(&evidence_line(e))
                );
            }
            if shown < c.evidence.len() {
                let _ = writeln!(
                    out,
                    "{pad}{}",
                    style.dim(&format!(
                        "(and {} more evidence item(s): --verbose shows them)",
                        c.evidence.len() - shown
                    ))
                );
            }
            // An undecided check's next step is its cause's, said at the top.
            let decided_by_cause = c.outcome == ReportOutcome::Unknown && !c.causes.is_empty();
            if !quiet && !c.remediation.is_empty() && !decided_by_cause {
                let _ = writeln!(out, "{pad}{} {}", style.dim("fix:"), clean(&c.remediation));
            }
        }
    }
    if report.checks.is_empty() {
        let _ = writeln!(out, "\nno check ran: no bundle could be read");
    }
    if !report.long_values.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            style.bold("long values (whole once, cut where they appear):")
        );
        for v in &report.long_values {
            let _ = writeln!(
                out,
                "  {} ({} bytes): {}",
                clean(&v.id),
                v.length,
                clean(&v.value)
            );
        }
    }
    let verdict = report.summary.verdict;
    let _ = writeln!(
        out,
        "\nsummary: {} -> {}{}",
        report.summary.counts(),
        style.paint(outcome_code(verdict.outcome()), verdict.label()),
        report.summary.trust_suffix()
    );
    out
}

/// The summary at the top: the verdict, then failures, what to collect next (each
/// root cause once), warnings and the number of passes.
fn render_summary(out: &mut String, report: &Report, style: TextStyle, verbose: bool) {
    let clean = |s: &str| sanitize_line(s);
    let s = &report.summary;
    let verdict = s.verdict;
    let _ = writeln!(
        out,
        "\n{} {}: {}",
        style.bold("verdict:"),
        style.paint(outcome_code(verdict.outcome()), verdict.label()),
        report.summary.counts()
    );
    let of = |o: ReportOutcome| report.checks.iter().filter(move |c| c.outcome == o);
    if s.fail > 0 {
        let _ = writeln!(out, "\n{}", style.bold(&format!("failures ({}):", s.fail)));
        for c in of(ReportOutcome::Fail) {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                style.outcome_word(ReportOutcome::Fail),
                clean(&c.id),
                clean(&c.title)
            );
        }
    }
    let undecided: Vec<&CheckEntry> = of(ReportOutcome::Unknown).collect();
    if !undecided.is_empty() || !report.causes.is_empty() {
        let by_cause = undecided.iter().filter(|c| !c.causes.is_empty()).count();
        let heading = if undecided.is_empty() {
            "gaps in the bundles (every check decided without them):".to_string()
        } else {
            format!("to collect next: {by_cause} check(s) could not be decided for lack of data:")
        };
        let _ = writeln!(out, "\n{}", style.bold(&heading));
        // With nothing undecided, the heading says it already.
        let mut said_minor = undecided.is_empty();
        for (i, c) in report.causes.iter().enumerate() {
            let nodes: Vec<&str> = c.bundles.iter().map(|b| b.bundle.as_str()).collect();
            if c.checks.is_empty() && !said_minor {
                // Causes come with those that leave checks undecided first.
                let _ = writeln!(
                    out,
                    "  {}",
                    style.dim("also missing (the checks that noted it decided without it):")
                );
                said_minor = true;
            }
            let _ = writeln!(
                out,
                "  [cause {}] {} ({}): {}.",
                i + 1,
                clean(&c.summary),
                clean(&nodes.join(", ")),
                clean(&c.id),
            );
            if c.checks.is_empty() && !verbose {
                continue;
            }
            let _ = writeln!(out, "      Ask the customer to {}.", clean(&c.next_step));
            if !c.checks.is_empty() {
                let _ = writeln!(
                    out,
                    "      Leaves {} check(s) undecided: {}",
                    c.checks.len(),
                    clean(&c.checks.join(", "))
                );
            }
            if verbose {
                for b in &c.bundles {
                    if let Some(r) = &b.reason {
                        let _ = writeln!(
                            out,
                            "      {} {}: {}",
                            style.dim("reason in"),
                            clean(&b.bundle),
                            clean(r)
                        );
                    }
                }
            }
        }
        for c in undecided.iter().filter(|c| c.causes.is_empty()) {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                style.outcome_word(ReportOutcome::Unknown),
                clean(&c.id),
                clean(&c.message)
            );
        }
    }
    if s.warn > 0 {
        let _ = writeln!(out, "\n{}", style.bold(&format!("warnings ({}):", s.warn)));
        for c in of(ReportOutcome::Warn) {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                style.outcome_word(ReportOutcome::Warn),
                clean(&c.id),
                clean(&c.title)
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} {} check(s) passed{}",
        style.bold("passes:"),
        s.pass,
        if verbose {
            ""
        } else {
            " (below, each with its first evidence item; --verbose shows all)"
        }
    );
    if s.not_applicable > 0 {
        let ids: Vec<&str> = of(ReportOutcome::NotApplicable)
            .map(|c| c.id.as_str())
            .collect();
        let _ = writeln!(
            out,
            "{} {} check(s) do not apply to these bundles: {}",
            style.bold("N/A:"),
            s.not_applicable,
            clean(&ids.join(", "))
        );
    }
}
