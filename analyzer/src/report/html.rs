//! HTML rendering of a report: one self-contained file (inline CSS, no script, no
//! external asset; a Content-Security-Policy forbids anything else), the summary
//! first, then the bundles, notes and every check by area with its evidence in a
//! `<details>` element. Every bundle-derived value goes through [`escape_html`].

use std::fmt::Write as _;

use super::{CheckEntry, Report, ReportOutcome, TrustLevel};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
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

fn badge(o: ReportOutcome) -> String {
    format!("<span class=\"badge {}\">{}</span>", class(o), o.label())
}

/// A remediation: a link when it is a plain `https://` URL, escaped text otherwise.
fn remediation_html(s: &str) -> String {
    let t = s.trim();
    let plain_url = t.starts_with("https://")
        && t.len() > "https://".len()
        && t.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\'));
    if plain_url {
        let e = escape_html(t);
        format!("<a href=\"{e}\" rel=\"noreferrer noopener\">{e}</a>")
    } else {
        escape_html(s)
    }
}

const CSS: &str = r#"
:root{--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--unknown:#6e40c9;--bg:#fff;--fg:#1f2328;--mute:#59636e;--line:#d1d9e0;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:24px 0 8px;text-transform:uppercase;letter-spacing:.04em;color:var(--mute)}
.meta{color:var(--mute);margin:0 0 16px;overflow-wrap:anywhere}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.badge{display:inline-block;min-width:72px;text-align:center;padding:1px 8px;border-radius:12px;font-size:12px;font-weight:700;letter-spacing:.05em;color:#fff;vertical-align:middle}
.badge.pass{background:var(--pass)}.badge.warn{background:var(--warn)}.badge.fail{background:var(--fail)}.badge.unknown{background:var(--unknown)}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:16px 0}
.card{border:1px solid var(--line);border-left:6px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--soft)}
.card .n{display:block;font-size:30px;font-weight:700;line-height:1.1}
.card .l{color:var(--mute);text-transform:uppercase;font-size:12px;letter-spacing:.06em}
.card.pass{border-left-color:var(--pass)}.card.warn{border-left-color:var(--warn)}.card.fail{border-left-color:var(--fail)}.card.unknown{border-left-color:var(--unknown)}
.card.pass .n{color:var(--pass)}.card.warn .n{color:var(--warn)}.card.fail .n{color:var(--fail)}.card.unknown .n{color:var(--unknown)}
ul.attention{list-style:none;padding:0;margin:0}
ul.attention li{padding:6px 0;border-bottom:1px solid var(--soft);overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
th{background:var(--soft);font-weight:600}
.check{border:1px solid var(--line);border-left:6px solid var(--line);border-radius:8px;padding:10px 14px;margin:10px 0}
.check.pass{border-left-color:var(--pass)}.check.warn{border-left-color:var(--warn)}.check.fail{border-left-color:var(--fail)}.check.unknown{border-left-color:var(--unknown)}
.check .head{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.check .title{font-weight:600}
.check .id{color:var(--mute)}
.check p{margin:6px 0;overflow-wrap:anywhere}
.fix{color:var(--mute)}
details{margin-top:6px}
summary{cursor:pointer;color:var(--mute);font-size:13px}
.unreadable td{color:var(--fail)}
.nw{white-space:nowrap}
footer{margin-top:40px;color:var(--mute);font-size:12px}
@media print{details{display:block}.check{break-inside:avoid}}
"#;

/// Renders `report` as one self-contained HTML document.
pub fn render_html(report: &Report) -> String {
    let e = escape_html;
    let s = &report.summary;
    let verdict = s.verdict();
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"{}\">\n<title>rcdiag report: {} ({})</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        e(&report.generator),
        e(&report.node_list()),
        verdict.label(),
    );
    let _ = writeln!(out, "<header>\n<h1>rcdiag report {}</h1>", badge(verdict));
    if let Some(notice) = &report.signer_notice {
        let _ = writeln!(
            out,
            "<p class=\"card warn\" role=\"alert\"><strong>{}</strong></p>",
            e(notice)
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"meta\">Nodes: <strong>{}</strong> &middot; policy <strong>{}</strong> v{} (facts as of {}) &middot; verdicts as of {}</p>\n</header>",
        e(&report.node_list()),
        e(&report.policy.name),
        report.policy.version,
        e(&report.policy.as_of),
        report
            .as_of
            .as_deref()
            .map(e)
            .unwrap_or_else(|| "each bundle&#39;s creation date".into()),
    );

    // Summary first.
    let _ = writeln!(
        out,
        "<section id=\"summary\" aria-label=\"Summary\">\n<div class=\"cards\">"
    );
    for (o, n) in [
        (ReportOutcome::Fail, s.fail),
        (ReportOutcome::Warn, s.warn),
        (ReportOutcome::Unknown, s.unknown),
        (ReportOutcome::Pass, s.pass),
    ] {
        let _ = writeln!(
            out,
            "<div class=\"card {}\"><span class=\"n\">{n}</span><span class=\"l\">{}</span></div>",
            class(o),
            o.as_str()
        );
    }
    let _ = writeln!(out, "</div>");
    let mut attention: Vec<&CheckEntry> = report
        .checks
        .iter()
        .filter(|c| c.outcome != ReportOutcome::Pass)
        .collect();
    attention.sort_by_key(|c| match c.outcome {
        ReportOutcome::Fail => 0,
        ReportOutcome::Warn => 1,
        _ => 2,
    });
    if attention.is_empty() && !report.checks.is_empty() {
        let _ = writeln!(out, "<p>Every check passed.</p>");
    } else if !attention.is_empty() {
        let _ = writeln!(out, "<h2>Needs attention</h2>\n<ul class=\"attention\">");
        for c in attention {
            let _ = writeln!(
                out,
                "<li>{} <a href=\"#{}\"><code>{}</code></a> &mdash; {}</li>",
                badge(c.outcome),
                anchor(&c.id),
                e(&c.id),
                e(&c.message)
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</section>");

    // Bundles.
    let _ = writeln!(
        out,
        "<section id=\"bundles\">\n<h2>Bundles</h2>\n<table>\n<thead><tr><th>node</th><th>bundle id</th><th>created</th><th>protection</th><th>signer</th><th>trust</th><th>file</th></tr></thead>\n<tbody>"
    );
    for b in &report.bundles {
        if b.verified {
            let trust = match b.trust {
                TrustLevel::Trusted if !b.trust_principals.is_empty() => {
                    format!("trusted ({})", e(&b.trust_principals.join(", ")))
                }
                t => e(t.label()),
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"nw\"><strong>{}</strong></td><td class=\"mono\">{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td class=\"mono\">{}</td><td class=\"nw\">{}</td><td class=\"mono\">{}</td></tr>",
                e(b.node.as_deref().unwrap_or("")),
                e(b.id.as_deref().unwrap_or("")),
                e(b.created_at.as_deref().unwrap_or("")),
                if b.encrypted == Some(true) {
                    "encrypted"
                } else {
                    "signed-plain"
                },
                e(b.signer_fingerprint.as_deref().unwrap_or("")),
                trust,
                e(&b.file),
            );
        } else {
            let _ = writeln!(
                out,
                "<tr class=\"unreadable\"><td><strong>unreadable</strong></td><td colspan=\"5\">{}</td><td class=\"mono\">{}</td></tr>",
                e(b.error.as_deref().unwrap_or("")),
                e(&b.file),
            );
        }
    }
    let _ = writeln!(out, "</tbody>\n</table>\n</section>");

    if !report.notes.is_empty() {
        let _ = writeln!(out, "<section id=\"notes\">\n<h2>Notes</h2>\n<ul>");
        for n in &report.notes {
            let _ = writeln!(out, "<li>{}</li>", e(n));
        }
        let _ = writeln!(out, "</ul>\n</section>");
    }

    // Checks by area.
    let _ = writeln!(out, "<section id=\"checks\">\n<h2>Checks</h2>");
    if report.checks.is_empty() {
        let _ = writeln!(out, "<p>No check ran: no bundle could be read.</p>");
    }
    for (area, checks) in report.by_area() {
        let _ = writeln!(out, "<h3>{}</h3>", e(area));
        for c in checks {
            let _ = writeln!(
                out,
                "<article class=\"check {}\" id=\"{}\">\n<div class=\"head\">{} <span class=\"title\">{}</span> <code class=\"id\">{}</code></div>",
                class(c.outcome),
                anchor(&c.id),
                badge(c.outcome),
                e(&c.title),
                e(&c.id),
            );
            if !c.message.is_empty() {
                let _ = writeln!(out, "<p class=\"msg\">{}</p>", e(&c.message));
            }
            if c.outcome != ReportOutcome::Pass && !c.remediation.is_empty() {
                let _ = writeln!(
                    out,
                    "<p class=\"fix\">Fix: {}</p>",
                    remediation_html(&c.remediation)
                );
            }
            if !c.evidence.is_empty() {
                let open = if matches!(c.outcome, ReportOutcome::Fail | ReportOutcome::Warn) {
                    " open"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "<details{open}>\n<summary>Evidence ({})</summary>\n<table>\n<thead><tr><th>node</th><th>file</th><th>pointer / line</th><th>value</th></tr></thead>\n<tbody>",
                    c.evidence.len()
                );
                for ev in &c.evidence {
                    let mut at = String::new();
                    if let Some(p) = &ev.pointer {
                        at.push_str(&e(p));
                    }
                    if let Some(l) = &ev.line {
                        if !at.is_empty() {
                            at.push_str("<br>");
                        }
                        at.push_str(&e(l));
                    }
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                        e(&ev.node),
                        e(ev.file.as_deref().unwrap_or("")),
                        at,
                        e(ev.value.as_deref().unwrap_or("")),
                    );
                }
                let _ = writeln!(out, "</tbody>\n</table>\n</details>");
            }
            let _ = writeln!(out, "</article>");
        }
    }
    let _ = writeln!(out, "</section>");
    if !report.long_values.is_empty() {
        let _ = writeln!(
            out,
            "<section id=\"long-values\">\n<h2>Long values</h2>\n<dl>"
        );
        for v in &report.long_values {
            let _ = writeln!(
                out,
                "<dt id=\"long-{}\">{} ({} bytes)</dt><dd class=\"mono\">{}</dd>",
                anchor_part(&v.id),
                e(&v.id),
                v.length,
                e(&v.value)
            );
        }
        let _ = writeln!(out, "</dl>\n</section>");
    }
    let _ = writeln!(
        out,
        "<footer>{} &middot; {} &middot; schema {}</footer>\n</main>\n</body>\n</html>",
        e(&report.generator),
        e(&report.summary.line()),
        e(&report.schema),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_escapes_markup_and_quotes() {
        assert_eq!(
            escape_html("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn remediation_links_only_plain_https() {
        assert!(
            remediation_html("https://docs.rocket.chat/a?b=1&c=2")
                .starts_with("<a href=\"https://docs.rocket.chat/a?b=1&amp;c=2\"")
        );
        assert!(!remediation_html("javascript:alert(1)").contains("<a"));
        assert!(!remediation_html("https://x\" onmouseover=\"alert(1)").contains("<a"));
    }

    #[test]
    fn anchors_are_safe() {
        assert_eq!(anchor("a.b c\"<"), "check-a.b-c--");
    }
}
