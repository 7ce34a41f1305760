//! Markdown rendering of a report, to paste into a support ticket: the summary table
//! first, then the bundles, the checks that need attention, and every check by area.
//! Bundle-derived text is escaped so it cannot inject Markdown or HTML.

use std::fmt::Write as _;

use super::text::evidence_line;
use super::{CheckEntry, Piece, Report, ReportOutcome, Verdict};

/// Bundle-derived text for a Markdown table cell: see [`escape_markdown_in`].
pub fn escape_markdown(s: &str) -> String {
    escape_markdown_in(s, true)
}

/// Bundle-derived text for Markdown. Plain words (letters, digits and harmless
/// punctuation) stay as they are; every other word, i.e. anything a renderer could
/// turn into a link (URLs, `www.`, domains, e-mail addresses), a mention (`@`), an
/// issue or commit reference (`#12`, hex ids), markup or HTML, goes into a code span,
/// where GitHub-flavoured Markdown links and mentions nothing. Control characters are
/// shown escaped (`\u{1b}`) and line breaks become spaces. In a table cell (`table`),
/// `|` is escaped inside code spans too, as GFM tables need.
pub fn escape_markdown_in(s: &str, table: bool) -> String {
    let mut clean = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => clean.push(' '),
            c if c.is_control() || is_bidi(c) => {
                let _ = write!(clean, "\\u{{{:x}}}", c as u32);
            }
            c => clean.push(c),
        }
    }
    let mut out = String::with_capacity(clean.len() + 16);
    for (i, word) in clean.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.is_empty() {
            continue;
        }
        if is_plain_word(word, i == 0) {
            out.push_str(word);
            continue;
        }
        // A list marker (`1.`) goes whole into the code span: its dot is the marker.
        if i == 0 && word.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&code_span(word, table));
            continue;
        }
        // Sentence punctuation around a word stays outside its code span.
        let core = word
            .trim_start_matches(['(', '"', '\''])
            .trim_end_matches(['.', ',', ':', ';', ')', '"', '\'', '!', '?']);
        if core.is_empty() {
            out.push_str(&code_span(word, table));
            continue;
        }
        let start = word.len() - word.trim_start_matches(['(', '"', '\'']).len();
        let end = start + core.len();
        out.push_str(&word[..start]);
        if is_plain_word(core, i == 0 && start == 0) {
            out.push_str(core);
        } else {
            out.push_str(&code_span(core, table));
        }
        out.push_str(&word[end..]);
    }
    out
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A word Markdown renders as itself: letters, digits and punctuation that starts no
/// markup, with `.`, `:` or `,` allowed only at its end (sentence punctuation; a dot
/// inside a word could be a domain). A first word must not look like a list marker
/// (`-`, `+`, `3.`, `3)`).
fn is_plain_word(word: &str, first: bool) -> bool {
    let body = word.trim_end_matches(['.', ':', ',']);
    if body.is_empty() {
        return false;
    }
    let plain = body.chars().all(|c| {
        c.is_alphanumeric() && !is_bidi(c)
            || matches!(
                c,
                '-' | '(' | ')' | '\'' | '"' | ';' | '!' | '?' | '%' | '=' | '+' | '/'
            )
    });
    if !plain {
        return false;
    }
    // `/` is harmless alone, but `a/b` could be a path-like link target: keep those
    // whole words in code (and so every file path, as it reads best).
    if body.contains('/') {
        return false;
    }
    // Hex ids of 7 or more characters could be taken for commit references.
    let hexlike = body.len() >= 7
        && body.chars().all(|c| c.is_ascii_hexdigit())
        && body.chars().any(|c| c.is_ascii_digit())
        && body.chars().any(|c| c.is_ascii_alphabetic());
    if hexlike {
        return false;
    }
    if first {
        let c = body.chars().next().unwrap_or('-');
        if matches!(c, '-' | '+' | '=') {
            return false;
        }
        // `3.` or `3)` starts an ordered list; `3` before a word does not.
        let after_digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
        if c.is_ascii_digit() && after_digits.starts_with(['.', ')']) {
            return false;
        }
    }
    true
}

/// `word` as a code span: a backtick fence longer than any run of backticks in it.
fn code_span(word: &str, table: bool) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in word.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let body = if table {
        word.replace('|', "\\|")
    } else {
        word.to_string()
    };
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

fn emoji(o: ReportOutcome) -> &'static str {
    match o {
        ReportOutcome::Pass => "✅ pass",
        ReportOutcome::Warn => "⚠️ warn",
        ReportOutcome::Fail => "❌ fail",
        ReportOutcome::Unknown => "❔ unknown",
        ReportOutcome::NotApplicable => "➖ N/A",
    }
}

fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Warn => "⚠️ warn",
        Verdict::Fail => "❌ fail",
        Verdict::Unknown => "❔ unknown",
        Verdict::Incomplete => "❔ INCOMPLETE",
    }
}

/// The anchor of cause `i` (0-based): `cause-1`, `cause-2`, ...
pub(crate) fn cause_anchor(i: usize) -> String {
    format!("cause-{}", i + 1)
}

/// The message of `c` for Markdown: escaped text, each cited cause a link to it.
fn message_md(report: &Report, c: &CheckEntry, table: bool) -> String {
    c.shown(report)
        .iter()
        .map(|p| match p {
            Piece::Text(t) => escape_markdown_in(t, table),
            Piece::Cause(i) => report
                .causes
                .get(*i)
                .map(|k| {
                    format!(
                        "[{} (cause {})](#{})",
                        escape_markdown_in(&k.title, table),
                        i + 1,
                        cause_anchor(*i)
                    )
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Renders `report` as Markdown.
pub fn render_markdown(report: &Report) -> String {
    let e = escape_markdown;
    let s = &report.summary;
    let mut out = String::new();
    match &report.signer_notice {
        Some(notice) => {
            let _ = writeln!(
                out,
                "## rcdiag check: {} — {}\n",
                verdict_label(s.verdict),
                escape_markdown_in(notice, false)
            );
        }
        None => {
            let _ = writeln!(out, "## rcdiag check: {}\n", verdict_label(s.verdict));
        }
    }
    let _ = writeln!(out, "| outcome | checks |\n|---|---:|");
    let _ = writeln!(out, "| ❌ fail | {} |", s.fail);
    let _ = writeln!(out, "| ❔ unknown | {} |", s.unknown);
    let _ = writeln!(out, "| ⚠️ warn | {} |", s.warn);
    let _ = writeln!(out, "| ✅ pass | {} |", s.pass);
    if s.not_applicable > 0 {
        let _ = writeln!(out, "| ➖ N/A (does not apply) | {} |", s.not_applicable);
    }
    if s.unverified_signers > 0 {
        let _ = writeln!(
            out,
            "| ⚠️ signer not verified: pass \\-\\-trust | {} bundle(s) |",
            s.unverified_signers
        );
    }
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
            let _ = writeln!(out, "- {}", escape_markdown_in(n, false));
        }
    }

    // Failures, then what to collect next, then warnings.
    let of = |o: ReportOutcome| -> Vec<&CheckEntry> {
        report.checks.iter().filter(|c| c.outcome == o).collect()
    };
    let table = |out: &mut String, title: &str, checks: &[&CheckEntry]| {
        if checks.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n### {title} ({})\n", checks.len());
        let _ = writeln!(out, "| outcome | check | reason |\n|---|---|---|");
        for c in checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                emoji(c.outcome),
                e(&c.id),
                message_md(report, c, true)
            );
        }
    };
    table(&mut out, "Failures", &of(ReportOutcome::Fail));
    let unknown = of(ReportOutcome::Unknown);
    if !report.causes.is_empty() || !unknown.is_empty() {
        let by_cause = unknown.iter().filter(|c| !c.causes.is_empty()).count();
        if unknown.is_empty() {
            let _ = writeln!(out, "\n### Gaps in the bundles\n");
            let _ = writeln!(out, "Every check decided without them.\n");
        } else {
            let _ = writeln!(out, "\n### What to collect next\n");
            let _ = writeln!(
                out,
                "{by_cause} check(s) could not be decided for lack of data.\n"
            );
        }
        for (i, c) in report.causes.iter().enumerate() {
            let nodes: Vec<&str> = c.bundles.iter().map(|b| b.bundle.as_str()).collect();
            let _ = write!(
                out,
                "{}. <a id=\"{}\"></a>**{}** ({}, {}): {}.",
                i + 1,
                cause_anchor(i),
                escape_markdown_in(&c.title, false),
                escape_markdown_in(&nodes.join(", "), false),
                e(&c.id),
                escape_markdown_in(&c.summary, false),
            );
            if c.checks.is_empty() {
                let _ = write!(out, " The checks that noted it decided without it.");
            } else {
                let _ = write!(
                    out,
                    " Ask the customer to {}.",
                    escape_markdown_in(&c.next_step, false)
                );
            }
            if !c.checks.is_empty() {
                let ids: Vec<String> = c.checks.iter().map(|id| e(id)).collect();
                let _ = write!(
                    out,
                    " Leaves {} check(s) undecided: {}.",
                    c.checks.len(),
                    ids.join(", ")
                );
            }
            let _ = writeln!(out);
        }
        let other: Vec<&CheckEntry> = unknown
            .iter()
            .copied()
            .filter(|c| c.causes.is_empty())
            .collect();
        if !other.is_empty() {
            let _ = writeln!(out);
            for c in other {
                let _ = writeln!(
                    out,
                    "- ❔ {}: {}",
                    e(&c.id),
                    escape_markdown_in(&c.message, false)
                );
            }
        }
    }
    table(&mut out, "Warnings", &of(ReportOutcome::Warn));

    for (area, checks) in report.by_area() {
        let _ = writeln!(out, "\n### {}\n", e(area));
        for c in checks {
            if matches!(
                c.outcome,
                ReportOutcome::Pass | ReportOutcome::NotApplicable
            ) {
                // Passing (and not applicable) checks in one line each: the ticket
                // stays short.
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
                let _ = writeln!(out, "  - {}", message_md(report, c, false));
            }
            for ev in &c.evidence {
                let _ = writeln!(
                    out,
                    "  - evidence: {}",
                    escape_markdown_in(&evidence_line(ev), false)
                );
            }
            let decided_by_cause = c.outcome == ReportOutcome::Unknown && !c.causes.is_empty();
            if !c.remediation.is_empty() && !decided_by_cause {
                let _ = writeln!(out, "  - fix: {}", link_or_text(&c.remediation));
            }
        }
    }
    if !report.long_values.is_empty() {
        let _ = writeln!(out, "\n### Long values\n");
        for v in &report.long_values {
            let _ = writeln!(
                out,
                "- {} ({} bytes): {}",
                e(&v.id),
                v.length,
                escape_markdown_in(&v.value, false)
            );
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
    fn escape_markdown_puts_anything_linkable_in_code_spans() {
        let s = escape_markdown("<script>alert(1)</script> | *x* [a](b)");
        assert_eq!(s, "`<script>alert(1)</script>` `\\|` `*x*` `[a](b`)");
        assert_eq!(
            escape_markdown_in(
                "see https://evil.example/login or www.evil.example, mail a@b.example",
                false
            ),
            "see `https://evil.example/login` or `www.evil.example`, mail `a@b.example`"
        );
        assert_eq!(
            escape_markdown_in("ping @team about #12 and 3f9a2c1d", false),
            "ping `@team` about `#12` and `3f9a2c1d`"
        );
        assert_eq!(escape_markdown_in("a`b ``c", false), "``a`b`` ``` ``c ```");
        assert_eq!(escape_markdown_in("- item", false), "`-` item");
        assert_eq!(escape_markdown_in("1. item", false), "`1.` item");
        assert_eq!(escape_markdown_in("2) item", false), "`2)` item");
        assert_eq!(escape_markdown_in("3 containers", false), "3 containers");
        assert_eq!(
            escape_markdown_in("(supported: 4.4, 6.0) (6.3", false),
            "(supported: `4.4`, `6.0`) (`6.3`"
        );
        assert_eq!(
            escape_markdown_in("Rocket.Chat 7.4.0 reached end of life.", false),
            "`Rocket.Chat` `7.4.0` reached end of life."
        );
        assert_eq!(escape_markdown_in("x\u{1b}[2J", false), "`x\\u{1b}[2J`");
    }

    #[test]
    fn only_plain_https_urls_become_links() {
        assert_eq!(
            link_or_text("https://docs.rocket.chat/x"),
            "<https://docs.rocket.chat/x>"
        );
        assert!(!link_or_text("javascript:alert(1)").starts_with('<'));
        // Anything else is a code span: shown, never linked or rendered as HTML.
        assert_eq!(link_or_text("https://x/<script>"), "`https://x/<script>`");
    }
}
