//! Root causes, said once: the checks that could not decide because a collector was
//! skipped or failed (or a file is unusable) cite the cause (`model::CauseRef`); the
//! report lists each cause once, with its stable id, a short summary, what to ask the
//! customer for next and the checks it leaves undecided, and each check's message
//! refers to it instead of repeating the reason ([`Piece`]). Raw driver error dumps
//! are summarized here ([`summarize_error`]); the full text stays in the JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{CauseKind, CauseRef};

/// One root cause of missing data, said once in the report.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportCause {
    /// Stable id, referred to by checks' `causes`: `collector-skipped:docker`,
    /// `collector-failed:mongodb`, `collector-timeout:logs`, `collector-partial:mongodb`,
    /// `collector-absent:rocketchat`, `file-missing:<path>`, `file-unusable:<path>`.
    pub id: String,
    /// The collector concerned.
    pub collector: String,
    /// The file concerned (file causes), else `null`.
    pub file: Option<String>,
    /// A few words: `docker collector skipped`.
    pub title: String,
    /// One line: what happened, with the reason summarized (first meaningful line and
    /// error kind of a driver's error).
    pub summary: String,
    /// What to ask the customer for next.
    pub next_step: String,
    /// The bundles it happened in, each with the full reason it records.
    pub bundles: Vec<CauseBundle>,
    /// The checks it leaves undecided (outcome `unknown`), by id.
    pub checks: Vec<String>,
    /// The texts that stand for this cause in check messages (not serialized).
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) phrases: Vec<String>,
}

/// A bundle a cause happened in.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CauseBundle {
    /// The bundle (its label in evidence).
    pub bundle: String,
    /// The full reason recorded there (the collector's error, the load problem).
    pub reason: Option<String>,
}

/// A part of a check's message as the renderers show it: text, or a reference to
/// the cause (by index in [`super::Report::causes`]) that replaced its long reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text of the message (cut like any message).
    Text(String),
    /// A reference to `causes[i]`.
    Cause(usize),
}

/// Collects the causes cited by check results, in first-cited order, merged by id.
#[derive(Default)]
pub(crate) struct CauseTable {
    pub causes: Vec<ReportCause>,
}

impl CauseTable {
    /// Adds the causes `refs` cited by check `check_id` (of `outcome` unknown when
    /// `undecided`); returns their indexes.
    pub fn cite(&mut self, check_id: &str, undecided: bool, refs: &[CauseRef]) -> Vec<usize> {
        let mut out = Vec::new();
        for r in refs {
            let i = match self.causes.iter().position(|c| c.id == r.id) {
                Some(i) => i,
                None => {
                    self.causes.push(new_cause(r));
                    self.causes.len() - 1
                }
            };
            let c = &mut self.causes[i];
            if !c.bundles.iter().any(|b| b.bundle == r.bundle) {
                c.bundles.push(CauseBundle {
                    bundle: r.bundle.clone(),
                    reason: r.reason.clone(),
                });
            }
            for p in &r.phrases {
                if !c.phrases.contains(p) {
                    c.phrases.push(p.clone());
                }
            }
            if undecided && !c.checks.iter().any(|x| x == check_id) {
                c.checks.push(check_id.to_string());
            }
            if !out.contains(&i) {
                out.push(i);
            }
        }
        // Longest phrases first, so a whole sentence is replaced before its part.
        for c in &mut self.causes {
            c.phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
        }
        out
    }
}

fn status_words(kind: CauseKind) -> &'static str {
    match kind {
        CauseKind::CollectorSkipped => "was skipped",
        CauseKind::CollectorFailed => "failed",
        CauseKind::CollectorTimeout => "timed out",
        CauseKind::CollectorPartial => "was partial",
        CauseKind::CollectorAbsent => "did not run",
        CauseKind::FileMissing => "was not written",
        CauseKind::FileUnusable => "is unusable",
    }
}

fn new_cause(r: &CauseRef) -> ReportCause {
    let c = &r.collector;
    let (title, what) = match (&r.file, r.kind) {
        (Some(f), CauseKind::FileUnusable) => (
            format!("{f} unusable"),
            format!("{f} is in the bundle but unusable"),
        ),
        (Some(f), _) => (
            format!("{f} not written"),
            format!("the {c} collector ran but did not write {f}"),
        ),
        (None, k) => {
            let short = match k {
                CauseKind::CollectorSkipped => "skipped",
                CauseKind::CollectorFailed => "failed",
                CauseKind::CollectorTimeout => "timed out",
                CauseKind::CollectorPartial => "partial",
                _ => "did not run",
            };
            (
                format!("{c} collector {short}"),
                format!("the {c} collector {}", status_words(k)),
            )
        }
    };
    let summary = match r.reason.as_deref().map(summarize_error) {
        Some(reason) if reason.starts_with("deselected") && r.file.is_none() => {
            format!("the {c} collector was left out (--only/--skip)")
        }
        Some(reason) if !reason.is_empty() => format!("{what} ({reason})"),
        _ => what,
    };
    ReportCause {
        id: r.id.clone(),
        collector: c.clone(),
        file: r.file.clone(),
        title,
        summary,
        next_step: next_step(r),
        bundles: Vec::new(),
        checks: Vec::new(),
        phrases: Vec::new(),
    }
}

/// What to ask the customer for next, by the kind of cause and the collector.
fn next_step(r: &CauseRef) -> String {
    let c = r.collector.as_str();
    let reason = r.reason.as_deref().unwrap_or_default();
    if reason.contains("deselected") {
        return format!(
            "rerun rcdiag-agent collect without leaving out the {c} collector (--only/--skip)"
        );
    }
    match r.kind {
        CauseKind::CollectorSkipped => match c {
            "docker" | "logs" => "rerun sudo rcdiag-agent collect on the Docker host, if Rocket.Chat runs in Docker (or pass --docker-host with the Engine's socket)".into(),
            "mongodb" | "rocketchat" => "rerun rcdiag-agent collect with --mongodb-uri-file FILE holding Rocket.Chat's MONGO_URL (a user with clusterMonitor on admin and read on the Rocket.Chat database)".into(),
            "kubernetes" => "rerun rcdiag-agent collect with --kubeconfig FILE (or in a pod with the read-only ClusterRole), if Rocket.Chat runs on Kubernetes".into(),
            _ => format!("rerun rcdiag-agent collect where the {c} collector has something to read"),
        },
        CauseKind::CollectorFailed | CauseKind::CollectorPartial => {
            format!("fix what the {c} collector's error says (access, credentials, address), then rerun rcdiag-agent collect")
        }
        CauseKind::CollectorTimeout => {
            format!("rerun rcdiag-agent collect with a longer --timeout (the {c} collector hit its time limit)")
        }
        CauseKind::CollectorAbsent => {
            format!("rerun with a current rcdiag-agent: this bundle has no record of the {c} collector")
        }
        CauseKind::FileMissing => {
            "rerun rcdiag-agent collect; if the file is missing again, send the agent's output to rcdiag's maintainers".into()
        }
        CauseKind::FileUnusable => {
            "ask for the bundle again; if the file is unusable again, it is over the analyzer's limits or damaged at the source".into()
        }
    }
}

/// Most bytes of a summarized error.
const MAX_SUMMARY: usize = 200;

/// A one-line summary of an error as collectors record it: the first meaningful
/// line, without a driver's dump of its topology or labels, and the error's kind when
/// the dump holds it (`connection refused`, `timed out`, ...). A connection refused
/// is said so, whatever labels (such as `SystemOverloadedError`) the driver attached.
pub fn summarize_error(text: &str) -> String {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let mut head = first;
    for marker in [
        " Topology: {",
        " Topology:",
        ", labels: {",
        " labels: {",
        "Kind: ",
        " { ",
    ] {
        if let Some(i) = head.find(marker) {
            head = &head[..i];
        }
    }
    let head = head.trim().trim_end_matches([',', ':', ';', '.']).trim();
    let mut out = head.to_string();
    if let Some(kind) = error_kind(text)
        && !out.to_ascii_lowercase().contains(kind)
    {
        if out.is_empty() {
            out = kind.to_string();
        } else {
            out = format!("{out}: {kind}");
        }
    }
    shorten(&out)
}

/// `s` when it fits a summary; else its whole first sentence or clause (to `. ` or
/// `; `) when that fits twice the size; else cut at the last space before the size,
/// with `…`. Never cuts inside a word.
fn shorten(s: &str) -> String {
    if s.len() <= MAX_SUMMARY {
        return s.to_string();
    }
    let first_end = [". ", "; "].iter().filter_map(|m| s.find(m)).min();
    if let Some(end) = first_end
        && end <= 2 * MAX_SUMMARY
    {
        return s[..end].trim_end().to_string();
    }
    let mut end = MAX_SUMMARY;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let head = &s[..end];
    let head = match head.rfind(' ') {
        Some(i) if i > MAX_SUMMARY / 2 => &head[..i],
        _ => head,
    };
    format!("{}…", head.trim_end_matches([',', ':', ';', ' ']))
}

/// The kind of error a message holds, most telling first.
pub fn error_kind(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    let kinds: &[(&[&str], &str)] = &[
        (
            &["connection refused", "os error 111"],
            "connection refused",
        ),
        (
            &[
                "failed to lookup address",
                "name or service not known",
                "dns error",
            ],
            "host name not resolved",
        ),
        (
            &["no route to host", "network is unreachable"],
            "no route to host",
        ),
        (&["connection reset", "broken pipe"], "connection reset"),
        (&["permission denied", "os error 13"], "permission denied"),
        (
            &[
                "authenticationfailed",
                "authentication failed",
                "auth error",
            ],
            "authentication failed",
        ),
        (&["unauthorized", "not authorized"], "not authorized"),
        (
            &["certificate", "tls handshake", "invalid peer"],
            "TLS error",
        ),
        (&["does not exist", "no such file"], "not found"),
        (&["timed out", "timeout"], "timed out"),
    ];
    kinds
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| t.contains(n)))
        .map(|(_, k)| *k)
}

/// How the advice to collect again starts in check messages, after the reason it
/// follows; the cause says the next step once, so the report drops it there.
const ADVICE: &[&str] = &["; rerun ", "; on a Kubernetes cluster run "];

/// `t` (the text right after a reference) without the advice it starts with: the
/// advice ends at the next `; ` or the `)` that closes a bracket opened before it,
/// both outside brackets of its own (`(--only/--skip)`), or at the end.
fn drop_advice(t: &str) -> &str {
    let Some(rest) = ADVICE.iter().find_map(|a| t.strip_prefix(a)) else {
        return t;
    };
    let mut depth = 0usize;
    for (j, ch) in rest.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' if depth == 0 => return &rest[j..],
            ')' => depth -= 1,
            ';' if depth == 0 && rest[j..].starts_with("; ") => return &rest[j..],
            _ => {}
        }
    }
    ""
}

/// The message of a check as pieces: each phrase of a cited cause replaced by a
/// reference to it; a `; rerun ...` advice right after one is dropped (the cause
/// says what to rerun), and references repeated back to back are said once.
pub(crate) fn pieces(message: &str, cited: &[usize], causes: &[ReportCause]) -> Vec<Piece> {
    let mut out = vec![Piece::Text(message.to_string())];
    for &i in cited {
        let Some(c) = causes.get(i) else { continue };
        for phrase in &c.phrases {
            if phrase.is_empty() {
                continue;
            }
            let mut next = Vec::new();
            for p in out {
                match p {
                    Piece::Text(t) if t.contains(phrase.as_str()) => {
                        let mut rest = t.as_str();
                        while let Some(at) = rest.find(phrase.as_str()) {
                            if at > 0 {
                                next.push(Piece::Text(rest[..at].to_string()));
                            }
                            next.push(Piece::Cause(i));
                            rest = &rest[at + phrase.len()..];
                        }
                        if !rest.is_empty() {
                            next.push(Piece::Text(rest.to_string()));
                        }
                    }
                    p => next.push(p),
                }
            }
            out = next;
        }
    }
    // Drop "; rerun ..." advice that follows a reference.
    let mut cleaned: Vec<Piece> = Vec::new();
    for p in out {
        match p {
            Piece::Text(t) if matches!(cleaned.last(), Some(Piece::Cause(_))) => {
                let t = drop_advice(&t);
                if !t.is_empty() {
                    cleaned.push(Piece::Text(t.to_string()));
                }
            }
            p => cleaned.push(p),
        }
    }
    // `cause; cause` (the same one, on several nodes) becomes one reference.
    let mut merged: Vec<Piece> = Vec::new();
    for p in cleaned {
        if let Piece::Cause(i) = p
            && let [.., Piece::Cause(j), Piece::Text(sep)] = merged.as_slice()
            && *j == i
            && matches!(sep.as_str(), "; " | ", " | " and " | "\n")
        {
            merged.pop();
            continue;
        }
        if let Piece::Cause(i) = p
            && let Some(Piece::Cause(j)) = merged.last()
            && *j == i
        {
            continue;
        }
        merged.push(p);
    }
    merged
}

/// The references of a message and its `causes`: `true` when some cited cause did not
/// appear in the text (the renderer then adds a reference at the end).
pub(crate) fn missing_refs(pieces: &[Piece], cited: &[usize]) -> Vec<usize> {
    cited
        .iter()
        .copied()
        .filter(|i| !pieces.contains(&Piece::Cause(*i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_said_so_not_by_its_labels() {
        let dump = "MongoDB could not be reached: Server selection timeout: No available servers. Topology: { Type: Unknown, Servers: [ { Address: 127.0.0.1:1, Type: Unknown, Error: Kind: I/O error: Connection refused (os error 111), labels: {\"SystemOverloadedError\", \"RetryableError\"} } ] }; check that the URI's hosts are reachable";
        let s = summarize_error(dump);
        assert_eq!(
            s,
            "MongoDB could not be reached: Server selection timeout: No available servers: connection refused"
        );
        assert!(!s.contains("SystemOverloaded"));
        assert_eq!(summarize_error("\n\n  plain reason\nmore"), "plain reason");
        assert_eq!(error_kind("the socket does not exist"), Some("not found"));
        // Long reasons: the whole first sentence, or a cut between words.
        let long = format!(
            "no Docker Engine at /run/docker.sock {}; pass --docker-host",
            "word ".repeat(50)
        );
        let s = summarize_error(&long);
        assert!(s.ends_with("word"), "{s}");
        assert!(!s.contains("pass --docker-host"), "{s}");
        let one = "x".repeat(10) + &" abcdefgh".repeat(60);
        let s = summarize_error(&one);
        assert!(s.ends_with("abcdefgh…"), "{s}");
        assert!(s.len() <= MAX_SUMMARY + '…'.len_utf8(), "{}", s.len());
    }

    #[test]
    fn phrases_become_references_and_advice_after_them_goes() {
        let cause = ReportCause {
            id: "collector-skipped:docker".into(),
            collector: "docker".into(),
            file: None,
            title: "docker collector skipped".into(),
            summary: String::new(),
            next_step: String::new(),
            bundles: vec![],
            checks: vec![],
            phrases: vec![
                "no usable docker/containers.json in a: the docker collector was skipped: x".into(),
                "the docker collector was skipped: x".into(),
            ],
        };
        let p = pieces(
            "no container: no usable docker/containers.json in a: the docker collector was skipped: x; rerun rcdiag-agent collect with access to the Docker socket",
            &[0],
            std::slice::from_ref(&cause),
        );
        assert_eq!(
            p,
            vec![Piece::Text("no container: ".into()), Piece::Cause(0)]
        );
        let p = pieces(
            "a: the docker collector was skipped: x; b: the docker collector was skipped: x",
            &[0],
            std::slice::from_ref(&cause),
        );
        assert_eq!(
            p,
            vec![
                Piece::Text("a: ".into()),
                Piece::Cause(0),
                Piece::Text("; b: ".into()),
                Piece::Cause(0)
            ]
        );
        let p = pieces(
            "x (no usable docker/containers.json in a: the docker collector was skipped: x; rerun y) z",
            &[0],
            std::slice::from_ref(&cause),
        );
        assert_eq!(
            p,
            vec![
                Piece::Text("x (".into()),
                Piece::Cause(0),
                Piece::Text(") z".into())
            ]
        );
        assert_eq!(missing_refs(&[Piece::Text("t".into())], &[0]), vec![0]);
        // Advice with brackets of its own, inside a bracket, then more text: the
        // closing bracket stays, the advice goes.
        let p = pieces(
            "n1 (meets it; unknown: the docker collector was skipped: x; rerun it without leaving out the docker collector (--only/--skip)); n2 ok",
            &[0],
            std::slice::from_ref(&cause),
        );
        assert_eq!(
            p,
            vec![
                Piece::Text("n1 (meets it; unknown: ".into()),
                Piece::Cause(0),
                Piece::Text("); n2 ok".into())
            ]
        );
        // The Kubernetes checks' advice goes too.
        let p = pieces(
            "the docker collector was skipped: x; on a Kubernetes cluster run rcdiag-agent collect --kubeconfig FILE (or in a pod with the read-only ClusterRole)",
            &[0],
            std::slice::from_ref(&cause),
        );
        assert_eq!(p, vec![Piece::Cause(0)]);
        assert_eq!(drop_advice("; rerun a (b) c"), "");
        assert_eq!(drop_advice(") tail"), ") tail");
    }
}
