//! HTML rendering of a report: one self-contained file (inline CSS, no script, no
//! external asset; a Content-Security-Policy forbids anything else), the summary
//! first (failures, what to collect next, warnings), then the bundles, notes and
//! every check by area with its evidence in a `<details>` element. The page is the
//! askama template `templates/report.html`, checked at compile time: it escapes
//! every value it prints (issue 10 item 5), and this module hands it bundle text
//! with control characters made visible. [`escape_html`] stays for other callers.

use std::fmt::Write as _;

use super::{CheckEntry, Piece, Report, ReportOutcome, TrustLevel};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            // The entities askama's HTML escaper writes, so both agree.
            '&' => out.push_str("&#38;"),
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab/newline are not allowed in HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A value usable in an `id` attribute and a `#fragment`: letters, digits, `.`, `_`, `-`.
fn anchor(id: &str) -> String {
    format!("check-{}", anchor_part(id))
}

/// `id` with every character but letters, digits, `.`, `_` and `-` replaced by `-`.
fn anchor_part(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn class(o: ReportOutcome) -> &'static str {
    o.as_str()
}

/// A remediation: a link when it is a plain `https://` URL, text otherwise.
fn remediation_view(s: &str) -> Fix {
    let t = s.trim();
    let plain_url = t.starts_with("https://")
        && t.len() > "https://".len()
        && t.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\'));
    if plain_url {
        Fix {
            text: t.to_string(),
            link: true,
        }
    } else {
        Fix {
            text: clean(s),
            link: false,
        }
    }
}

/// The HTML of a remediation (kept for callers that want markup): a link when it is
/// a plain `https://` URL, escaped text otherwise.
#[cfg(test)]
fn remediation_html(s: &str) -> String {
    let f = remediation_view(s);
    let e = escape_html(&f.text);
    if f.link {
        format!("<a href=\"{e}\" rel=\"noreferrer noopener\">{e}</a>")
    } else {
        e
    }
}

/// `s` with control characters other than tab and newline shown as `\u{..}`
/// (not allowed in HTML text); the template escapes the markup.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

const CSS: &str = r#"
:root{--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--unknown:#6e40c9;--na:#6e7781;--bg:#fff;--fg:#1f2328;--mute:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:24px 0 8px;text-transform:uppercase;letter-spacing:.04em;color:var(--mute)}
.meta{color:var(--mute);margin:0 0 16px;overflow-wrap:anywhere}
[role=alert]{overflow-wrap:anywhere}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.badge{display:inline-block;min-width:72px;text-align:center;padding:1px 8px;border-radius:12px;font-size:12px;font-weight:700;letter-spacing:.05em;color:#fff;vertical-align:middle}
.badge.pass{background:var(--pass)}.badge.warn{background:var(--warn)}.badge.fail{background:var(--fail)}.badge.unknown{background:var(--unknown)}.badge.not_applicable{background:var(--na)}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:16px 0}
.card{border:1px solid var(--line);border-left:6px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--soft)}
.card .n{display:block;font-size:30px;font-weight:700;line-height:1.1}
.card .l{color:var(--mute);text-transform:uppercase;font-size:12px;letter-spacing:.06em}
.card.pass{border-left-color:var(--pass)}.card.warn{border-left-color:var(--warn)}.card.fail{border-left-color:var(--fail)}.card.unknown{border-left-color:var(--unknown)}.card.not_applicable{border-left-color:var(--na)}
.card.pass .n{color:var(--pass)}.card.warn .n{color:var(--warn)}.card.fail .n{color:var(--fail)}.card.unknown .n{color:var(--unknown)}.card.not_applicable .n{color:var(--na)}
ul.attention{list-style:none;padding:0;margin:0}
ul.attention li{padding:6px 0;border-bottom:1px solid var(--soft);overflow-wrap:break-word}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line);overflow-wrap:break-word}
th{background:var(--soft);font-weight:600;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
td.mono{min-width:8em;word-break:normal;overflow-wrap:anywhere}
.check{border:1px solid var(--line);border-left:6px solid var(--line);border-radius:8px;padding:10px 14px;margin:10px 0}
.check.pass{border-left-color:var(--pass)}.check.warn{border-left-color:var(--warn)}.check.fail{border-left-color:var(--fail)}.check.unknown{border-left-color:var(--unknown)}.check.not_applicable{border-left-color:var(--na)}
.check .head{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.check .title{font-weight:600}
.check .id{color:var(--mute)}
.check p{margin:6px 0;overflow-wrap:break-word}
.check .msg,.check .fix,ul.attention li,ol.causes li,.meta{word-break:normal;overflow-wrap:anywhere}
.fix{color:var(--mute)}
details{margin-top:6px}
summary{cursor:pointer;color:var(--mute);font-size:13px}
.unreadable td{color:var(--fail)}
ol.causes{padding-left:1.4em;margin:8px 0}
ol.causes li{margin:6px 0;overflow-wrap:break-word}
ol.causes .where{color:var(--mute)}
ol.causes .undecided{display:block;color:var(--mute);font-size:13px}
ol.causes li:target{background:var(--soft)}
.nw{white-space:nowrap}
footer{margin-top:40px;color:var(--mute);font-size:12px}
@media (max-width:640px){main{padding:16px 12px 32px}.cards{grid-template-columns:repeat(2,1fr)}h1{font-size:22px}}
@media print{details{display:block}.check{break-inside:avoid}}
"#;

// The view the template `templates/report.html` renders. Every string in it is
// bundle text with control characters made visible ([`clean`]); askama escapes it
// for HTML when the template prints it (`{{ ... }}` escapes by default for `.html`).

/// A card of the summary: a count of one outcome.
struct Card {
    class: &'static str,
    n: usize,
    label: &'static str,
}

/// A piece of a message: text, or the title of a cause linking to it.
struct PieceView {
    text: String,
    link: Option<String>,
}

/// One check in a summary list.
struct Line {
    id: String,
    anchor: String,
    pieces: Vec<PieceView>,
}

/// A root cause in "What to collect next".
struct CauseView {
    anchor: String,
    id: String,
    title: String,
    bundles: String,
    summary: String,
    next_step: String,
    /// (check id, its anchor).
    checks: Vec<(String, String)>,
    /// (bundle, full reason).
    reasons: Vec<(String, String)>,
}

struct BundleRow {
    verified: bool,
    node: String,
    id: String,
    created: String,
    protection: &'static str,
    signer: String,
    trust: String,
    file: String,
    error: String,
}

struct Fix {
    text: String,
    link: bool,
}

struct EvidenceRow {
    node: String,
    file: String,
    at: Vec<String>,
    value: String,
}

struct CheckView {
    class: &'static str,
    label: &'static str,
    anchor: String,
    title: String,
    id: String,
    pieces: Vec<PieceView>,
    fix: Option<Fix>,
    open: bool,
    evidence: Vec<EvidenceRow>,
}

struct AreaView {
    name: String,
    checks: Vec<CheckView>,
}

struct LongView {
    anchor: String,
    id: String,
    length: usize,
    value: String,
}

#[derive(askama::Template)]
#[template(path = "report.html")]
struct Page {
    css: &'static str,
    generator: String,
    nodes: String,
    verdict_label: &'static str,
    verdict_class: &'static str,
    signer_notice: Option<String>,
    policy_name: String,
    policy_version: u32,
    policy_as_of: String,
    as_of: String,
    cards: Vec<Card>,
    /// Checks that do not apply.
    not_applicable: usize,
    /// No check is unknown: the causes are gaps every check did without.
    nothing_undecided: bool,
    all_passed: bool,
    failures: Vec<Line>,
    warnings: Vec<Line>,
    show_causes: bool,
    undecided_by_cause: usize,
    causes: Vec<CauseView>,
    other_unknowns: Vec<Line>,
    bundles: Vec<BundleRow>,
    notes: Vec<String>,
    no_checks: bool,
    areas: Vec<AreaView>,
    long_values: Vec<LongView>,
    summary_line: String,
    schema: String,
}

/// The anchor of cause `i` (0-based).
fn cause_anchor(i: usize) -> String {
    format!("cause-{}", i + 1)
}

fn piece_views(report: &Report, c: &CheckEntry) -> Vec<PieceView> {
    c.shown(report)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Text(t) => Some(PieceView {
                text: clean(&t),
                link: None,
            }),
            Piece::Cause(i) => report.causes.get(i).map(|k| PieceView {
                text: format!("{} (cause {})", clean(&k.title), i + 1),
                link: Some(cause_anchor(i)),
            }),
        })
        .collect()
}

fn line(report: &Report, c: &CheckEntry) -> Line {
    Line {
        id: clean(&c.id),
        anchor: anchor(&c.id),
        pieces: piece_views(report, c),
    }
}

/// Renders `report` as one self-contained HTML document, through the askama
/// template `templates/report.html` (checked at compile time, escaping by default).
pub fn render_html(report: &Report) -> String {
    use askama::Template as _;
    page(report).render().unwrap_or_else(|e| {
        format!(
            "<!DOCTYPE html><p>report could not be rendered: {}</p>\n",
            escape_html(&e.to_string())
        )
    })
}

fn page(report: &Report) -> Page {
    let s = &report.summary;
    let verdict = s.verdict;
    let of = |o: ReportOutcome| report.checks.iter().filter(move |c| c.outcome == o);
    let unknown: Vec<&CheckEntry> = of(ReportOutcome::Unknown).collect();
    let causes = report
        .causes
        .iter()
        .enumerate()
        .map(|(i, c)| CauseView {
            anchor: cause_anchor(i),
            id: clean(&c.id),
            title: clean(&c.title),
            bundles: clean(
                &c.bundles
                    .iter()
                    .map(|b| b.bundle.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            summary: clean(&c.summary),
            next_step: clean(&c.next_step),
            checks: c.checks.iter().map(|id| (clean(id), anchor(id))).collect(),
            reasons: c
                .bundles
                .iter()
                .filter_map(|b| b.reason.as_ref().map(|r| (clean(&b.bundle), clean(r))))
                .collect(),
        })
        .collect();
    let bundles = report
        .bundles
        .iter()
        .map(|b| BundleRow {
            verified: b.verified,
            node: clean(b.node.as_deref().unwrap_or("")),
            id: clean(b.id.as_deref().unwrap_or("")),
            created: clean(b.created_at.as_deref().unwrap_or("")),
            protection: if b.encrypted == Some(true) {
                "encrypted"
            } else {
                "signed-plain"
            },
            signer: clean(b.signer_fingerprint.as_deref().unwrap_or("")),
            trust: match b.trust {
                TrustLevel::Trusted if !b.trust_principals.is_empty() => {
                    format!("trusted ({})", clean(&b.trust_principals.join(", ")))
                }
                t => t.label().to_string(),
            },
            file: clean(&b.file),
            error: clean(b.error.as_deref().unwrap_or("")),
        })
        .collect();
    let areas = report
        .by_area()
        .into_iter()
        .map(|(area, checks)| AreaView {
            name: clean(area),
            checks: checks
                .into_iter()
                .map(|c| {
                    let decided_by_cause =
                        c.outcome == ReportOutcome::Unknown && !c.causes.is_empty();
                    CheckView {
                        class: class(c.outcome),
                        label: c.outcome.label(),
                        anchor: anchor(&c.id),
                        title: clean(&c.title),
                        id: clean(&c.id),
                        pieces: if c.message.is_empty() {
                            Vec::new()
                        } else {
                            piece_views(report, c)
                        },
                        fix: (!matches!(
                            c.outcome,
                            ReportOutcome::Pass | ReportOutcome::NotApplicable
                        ) && !c.remediation.is_empty()
                            && !decided_by_cause)
                            .then(|| remediation_view(&c.remediation)),
                        open: matches!(c.outcome, ReportOutcome::Fail | ReportOutcome::Warn),
                        evidence: c
                            .evidence
                            .iter()
                            .map(|ev| EvidenceRow {
                                node: clean(&ev.node),
                                file: clean(ev.file.as_deref().unwrap_or("")),
                                at: ev
                                    .pointer
                                    .iter()
                                    .chain(ev.line.iter())
                                    .map(|a| clean(a))
                                    .collect(),
                                value: clean(ev.value.as_deref().unwrap_or("")),
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    Page {
        css: CSS,
        generator: clean(&report.generator),
        nodes: clean(&report.node_list()),
        verdict_label: verdict.label(),
        verdict_class: class(verdict.outcome()),
        signer_notice: report.signer_notice.as_deref().map(clean),
        policy_name: clean(&report.policy.name),
        policy_version: report.policy.version,
        policy_as_of: clean(&report.policy.as_of),
        as_of: report
            .as_of
            .as_deref()
            .map(clean)
            .unwrap_or_else(|| "each bundle's creation date".into()),
        cards: [
            (ReportOutcome::Fail, s.fail),
            (ReportOutcome::Unknown, s.unknown),
            (ReportOutcome::Warn, s.warn),
            (ReportOutcome::Pass, s.pass),
            (ReportOutcome::NotApplicable, s.not_applicable),
        ]
        .into_iter()
        .filter(|&(o, n)| o != ReportOutcome::NotApplicable || n > 0)
        .map(|(o, n)| Card {
            class: class(o),
            n,
            label: match o {
                ReportOutcome::NotApplicable => "n/a",
                o => o.as_str(),
            },
        })
        .collect(),
        not_applicable: s.not_applicable,
        all_passed: s.pass > 0
            && report.checks.iter().all(|c| {
                matches!(
                    c.outcome,
                    ReportOutcome::Pass | ReportOutcome::NotApplicable
                )
            }),
        failures: of(ReportOutcome::Fail).map(|c| line(report, c)).collect(),
        warnings: of(ReportOutcome::Warn).map(|c| line(report, c)).collect(),
        show_causes: !report.causes.is_empty() || !unknown.is_empty(),
        nothing_undecided: unknown.is_empty(),
        undecided_by_cause: unknown.iter().filter(|c| !c.causes.is_empty()).count(),
        causes,
        other_unknowns: unknown
            .iter()
            .filter(|c| c.causes.is_empty())
            .map(|c| line(report, c))
            .collect(),
        bundles,
        notes: report.notes.iter().map(|n| clean(n)).collect(),
        no_checks: report.checks.is_empty(),
        areas,
        long_values: report
            .long_values
            .iter()
            .map(|v| LongView {
                anchor: format!("long-{}", anchor_part(&v.id)),
                id: clean(&v.id),
                length: v.length,
                value: clean(&v.value),
            })
            .collect(),
        summary_line: clean(&report.summary.line()),
        schema: clean(&report.schema),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_escapes_markup_and_quotes() {
        assert_eq!(
            escape_html("<script>alert('x')</script>&\""),
            "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;&#38;&#34;"
        );
    }

    #[test]
    fn remediation_links_only_plain_https() {
        assert!(
            remediation_html("https://docs.rocket.chat/a?b=1&c=2")
                .starts_with("<a href=\"https://docs.rocket.chat/a?b=1&#38;c=2\"")
        );
        assert!(!remediation_html("javascript:alert(1)").contains("<a"));
        assert!(!remediation_html("https://x\" onmouseover=\"alert(1)").contains("<a"));
    }

    #[test]
    fn anchors_are_safe() {
        assert_eq!(anchor("a.b c\"<"), "check-a.b-c--");
    }
}
