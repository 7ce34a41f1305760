//! Markdown rendering of a report, to paste into a support ticket: the summary table
//! first, then the bundles, the checks that need attention, and every check by area.
//! Bundle-derived text is escaped so it cannot inject Markdown or HTML.

use std::fmt::Write as _;

use super::text::evidence_line;
use super::{Report, ReportOutcome};

/// Escapes text for a Markdown paragraph or table cell: HTML-significant characters
/// become entities, Markdown punctuation is backslash-escaped, line breaks become spaces.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Values never start a line here, so list and heading markers are harmless;
            // `@` and `#` are escaped so a value cannot mention people or link issues.
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '@' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn emoji(o: ReportOutcome) -> &'static str {
    match o {
        ReportOutcome::Pass => "✅ pass",
        ReportOutcome::Warn => "⚠️ warn",
        ReportOutcome::Fail => "❌ fail",
        ReportOutcome::Unknown => "❔ unknown",
    }
}

/// Renders `report` as Markdown.
pub fn render_markdown(report: &Report) -> String {
    let e = escape_markdown;
    let s = &report.summary;
    let mut out = String::new();
    let _ = writeln!(out, "## rcdiag check: {}\n", emoji(s.verdict()));
    let _ = writeln!(out, "| outcome | checks |\n|---|---:|");
    let _ = writeln!(out, "| ❌ fail | {} |", s.fail);
    let _ = writeln!(out, "| ⚠️ warn | {} |", s.warn);
    let _ = writeln!(out, "| ❔ unknown | {} |", s.unknown);
    let _ = writeln!(out, "| ✅ pass | {} |", s.pass);
    let _ = writeln!(
        out,
        "\nPolicy **{}** v{} (facts as of {}); verdicts as of {}. Written by {}.\n",
        e(&report.policy.name),
        report.policy.version,
        e(&report.policy.as_of),
        report
            .as_of
            .as_deref()
            .map(e)
            .unwrap_or_else(|| "each bundle's creation date".into()),
        e(&report.generator),
    );

    let _ = writeln!(out, "### Bundles\n");
    let _ = writeln!(
        out,
        "| node | bundle id | created | protection | signer | trust | file |\n|---|---|---|---|---|---|---|"
    );
    for b in &report.bundles {
        if b.verified {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                e(b.node.as_deref().unwrap_or("")),
                e(b.id.as_deref().unwrap_or("")),
                e(b.created_at.as_deref().unwrap_or("")),
                if b.encrypted == Some(true) {
                    "encrypted"
                } else {
                    "signed-plain"
                },
                e(b.signer_fingerprint.as_deref().unwrap_or("")),
                e(b.trust.label()),
                e(&b.file),
            );
        } else {
            let _ = writeln!(
                out,
                "| ❌ unreadable | | | | | | {}: {} |",
                e(&b.file),
                e(b.error.as_deref().unwrap_or(""))
            );
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n### Notes\n");
        for n in &report.notes {
            let _ = writeln!(out, "- {}", e(n));
        }
    }

    let attention: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.outcome != ReportOutcome::Pass)
        .collect();
    if !attention.is_empty() {
        let _ = writeln!(out, "\n### Needs attention\n");
        let _ = writeln!(out, "| outcome | check | reason |\n|---|---|---|");
        for c in attention {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                emoji(c.outcome),
                e(&c.id),
                e(&c.message)
            );
        }
    }

    for (area, checks) in report.by_area() {
        let _ = writeln!(out, "\n### {}\n", e(area));
        for c in checks {
            if c.outcome == ReportOutcome::Pass {
                // Passing checks in one line each: the ticket stays short.
                let _ = writeln!(
                    out,
                    "- {} {} — {}: {}",
                    emoji(c.outcome),
                    e(&c.id),
                    e(&c.title),
                    e(&c.message)
                );
                continue;
            }
            let _ = writeln!(
                out,
                "- **{}** {} — {}",
                emoji(c.outcome),
                e(&c.id),
                e(&c.title)
            );
            if !c.message.is_empty() {
                let _ = writeln!(out, "  - {}", e(&c.message));
            }
            for ev in &c.evidence {
                let _ = writeln!(out, "  - evidence: {}", e(&evidence_line(ev)));
            }
            if c.outcome != ReportOutcome::Pass && !c.remediation.is_empty() {
                let _ = writeln!(out, "  - fix: {}", link_or_text(&c.remediation));
            }
        }
    }
    out
}

/// A remediation that is a plain `https://` URL becomes a link; anything else is escaped text.
fn link_or_text(s: &str) -> String {
    let t = s.trim();
    let plain_url = t.starts_with("https://")
        && t.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\'' | '`')
        });
    if plain_url {
        format!("<{t}>")
    } else {
        escape_markdown(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_markdown_neutralizes_html_and_tables() {
        let s = escape_markdown("<script>alert(1)</script> | *x* [a](b)");
        assert!(!s.contains('<') && !s.contains('>'), "{s}");
        assert!(s.contains("\\|"), "{s}");
        assert!(s.contains("\\[a\\](b)"), "{s}");
    }

    #[test]
    fn only_plain_https_urls_become_links() {
        assert_eq!(
            link_or_text("https://docs.rocket.chat/x"),
            "<https://docs.rocket.chat/x>"
        );
        assert!(!link_or_text("javascript:alert(1)").starts_with('<'));
        assert!(!link_or_text("https://x/<script>").contains('<'));
    }
}
