//! The report of `rcdiag-analyzer check`: one serializable [`Report`] (schema
//! `rcdiag.report/v1`, published as `analyzer/schema/report.schema.json`) and its
//! renderers: plain or coloured text for a terminal, JSON for machines, Markdown to
//! paste into a ticket and one self-contained HTML file.
//!
//! Every value that comes from a bundle is untrusted: the text renderer escapes
//! control characters (no terminal escape injection), the Markdown renderer escapes
//! Markdown and HTML syntax, and the HTML renderer escapes everything it prints.

mod causes;
mod entry;
mod html;
mod long_values;
mod markdown;
mod summary;
mod text;
mod verify;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckResult;

pub use causes::{CauseBundle, Piece, ReportCause, error_kind, summarize_error};
pub use entry::{CheckEntry, ReportEvidence, ReportOutcome};
pub use html::{escape_html, render_html};
use long_values::LongValues;
pub use long_values::{LongValue, MAX_LONG_VALUE, MAX_LONG_VALUES};
pub use markdown::{escape_markdown, escape_markdown_in, render_markdown};
pub use summary::{Summary, Verdict};
pub use text::{TextStyle, render_text, render_text_verbose};
pub use verify::{VerifyDetails, VerifySummary};

/// Longest bundle-derived field of an evidence item (node, file, pointer, line,
/// value) in a report, in bytes; a longer one is cut, with its full length noted.
pub const MAX_EVIDENCE_FIELD: usize = 256;
/// Longest check message, note or bundle error in a report, in bytes.
pub const MAX_MESSAGE: usize = 1024;
/// Most evidence items one check shows; the rest are counted in one last item.
pub const MAX_EVIDENCE: usize = 50;

fn cut(s: &str, max: usize) -> String {
    rcdiag_bundle::cut_to(s, max)
}

fn cut_opt(s: &Option<String>, longs: &LongValues) -> Option<String> {
    s.as_deref().map(|v| longs.field(v, MAX_EVIDENCE_FIELD))
}

/// Most bytes one check entry takes before escaping: its id, title, area and
/// remediation (policy text, 1 KiB together), its message and `MAX_EVIDENCE + 1`
/// evidence items of six fields.
pub const MAX_CHECK_BYTES: usize = 1024 + MAX_MESSAGE + (MAX_EVIDENCE + 1) * 6 * MAX_EVIDENCE_FIELD;

/// Most bytes escaping and markup make of one byte of bundle text in any format
/// (`\u{1b}` in text, Markdown and JSON, `&quot;` in HTML are 6).
pub const MAX_ESCAPE_FACTOR: usize = 8;

/// The most bytes a report of `bundles` bundles and `notes` notes can take, in any
/// format, whatever the bundles hold: a fixed head (16 KiB, the HTML style sheet),
/// one line per bundle and note, every check at [`MAX_CHECK_BYTES`] and the long
/// values table at [`MAX_LONG_VALUES`] x [`MAX_LONG_VALUE`], times
/// [`MAX_ESCAPE_FACTOR`]. With the 20 checks: 3.6 MiB before escaping (1.5 MiB of
/// checks, 2 MiB of long values), 28.4 MiB at worst after it, plus 20 KiB per bundle
/// and 8 KiB per note.
pub fn max_report_bytes(bundles: usize, notes: usize) -> usize {
    let raw = 16 * 1024
        + bundles * (4 * MAX_EVIDENCE_FIELD + MAX_MESSAGE + 512)
        + notes * MAX_MESSAGE
        + crate::checks::CHECKS.len() * MAX_CHECK_BYTES
        + MAX_LONG_VALUES * MAX_LONG_VALUE;
    raw * MAX_ESCAPE_FACTOR
}

/// The value of [`Report::schema`].
pub const SCHEMA_ID: &str = "rcdiag.report/v1";

/// The result of checking one or more bundles against a policy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(
    title = "rcdiag analyzer report",
    description = "Output of `rcdiag-analyzer check --format json`: the bundles read, the policy applied and one verdict per check, with evidence."
)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always `rcdiag.report/v1`.
    #[schemars(extend("const" = "rcdiag.report/v1"))]
    pub schema: String,
    /// The program and version that wrote the report, e.g. `rcdiag-analyzer 0.1.0`.
    pub generator: String,
    /// The policy the checks applied.
    pub policy: PolicyRef,
    /// The date support verdicts were evaluated at (`YYYY-MM-DD`), when `--as-of`
    /// was given; `null` means each bundle's own creation date was used.
    pub as_of: Option<String>,
    /// Every bundle named on the command line, readable or not, in order.
    pub bundles: Vec<BundleInfo>,
    /// Set when a bundle that was read is signed by a key not pinned with `--trust`:
    /// `signed by SHA256:..., not verified: pass --trust ...`. Every renderer shows
    /// it first and in the summary; `check` then exits 5 rather than 0 or 4.
    pub signer_notice: Option<String>,
    /// Remarks about the set of bundles (several nodes, one cluster, gaps).
    pub notes: Vec<String>,
    /// Root causes of missing data (a collector skipped or failed, a file unusable),
    /// each said once; checks refer to them by id in their `causes`.
    pub causes: Vec<ReportCause>,
    /// One entry per check, in the order the checks ran.
    pub checks: Vec<CheckEntry>,
    /// Count of checks by outcome.
    pub summary: Summary,
    /// Bundle values longer than a field (256 bytes), each whole once (up to 128 KiB,
    /// at most 16 of them); the fields that hold one are cut and end `[cut, N bytes,
    /// whole as V1]`. Left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub long_values: Vec<LongValue>,
}

/// The policy a report applied.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// Policy name (`builtin` rules carry Rocket.Chat's published requirements).
    pub name: String,
    /// Policy revision.
    pub version: u32,
    /// The date the policy's facts (release table, requirements) were last checked, `YYYY-MM-DD`.
    pub as_of: String,
}

/// One bundle given to `check`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BundleInfo {
    /// The bundle's path as given on the command line.
    pub file: String,
    /// Bundle id (UUIDv7) from the signed manifest; `null` when the bundle could not be read.
    pub id: Option<String>,
    /// The node label used in evidence (the host name, made unique among the bundles).
    pub node: Option<String>,
    /// Creation time from the manifest, UTC RFC 3339.
    pub created_at: Option<String>,
    /// `SHA256:...` fingerprint of the node key that signed the manifest.
    pub signer_fingerprint: Option<String>,
    /// True for an age-encrypted bundle, false for the signed-plain variant.
    pub encrypted: Option<bool>,
    /// True when the signature and every file's SHA-256 verified.
    pub verified: bool,
    /// Whether the signer's key is pinned in the allowed signers file given with `--trust`.
    pub trust: TrustLevel,
    /// Principals of the allowed signers line that matched, when trusted.
    pub trust_principals: Vec<String>,
    /// Why the bundle could not be used, when `verified` is false.
    pub error: Option<String>,
}

/// Whether a bundle's signer is known.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    /// The signer's key is in the allowed signers file.
    Trusted,
    /// An allowed signers file was given and the key is not in it.
    Untrusted,
    /// No allowed signers file was given: the signature is valid, the key is not pinned.
    NotChecked,
    /// The bundle could not be read.
    Unknown,
}

impl TrustLevel {
    /// Converts the reader's trust status; returns the level and the principals.
    pub fn from_status(status: &rcdiag_bundle::TrustStatus) -> (Self, Vec<String>) {
        match status {
            rcdiag_bundle::TrustStatus::Trusted { principals } => {
                (Self::Trusted, principals.clone())
            }
            rcdiag_bundle::TrustStatus::Untrusted => (Self::Untrusted, Vec::new()),
            rcdiag_bundle::TrustStatus::NotChecked => (Self::NotChecked, Vec::new()),
        }
    }

    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::Untrusted => "NOT trusted",
            Self::NotChecked => "not checked",
            Self::Unknown => "unknown",
        }
    }
}

impl BundleInfo {
    /// The entry of a bundle that opened and verified.
    pub fn verified(file: &str, node: &str, bundle: &rcdiag_bundle::Bundle) -> Self {
        let m = bundle.manifest();
        let (trust, trust_principals) = TrustLevel::from_status(bundle.trust());
        Self {
            file: file.to_string(),
            id: Some(m.bundle_id.clone()),
            node: Some(node.to_string()),
            created_at: Some(m.created_at.clone()),
            signer_fingerprint: Some(m.signer.fingerprint.clone()),
            encrypted: Some(bundle.is_encrypted()),
            verified: true,
            trust,
            trust_principals,
            error: None,
        }
    }

    /// The entry of a bundle that could not be opened or verified.
    pub fn failed(file: &str, error: &str) -> Self {
        Self {
            file: file.to_string(),
            id: None,
            node: None,
            created_at: None,
            signer_fingerprint: None,
            encrypted: None,
            verified: false,
            trust: TrustLevel::Unknown,
            trust_principals: Vec::new(),
            error: Some(cut(error, MAX_MESSAGE)),
        }
    }
}

impl Report {
    /// Assembles a report from the check results.
    pub fn new(
        policy: PolicyRef,
        as_of: Option<jiff::civil::Date>,
        bundles: Vec<BundleInfo>,
        notes: Vec<String>,
        results: &[CheckResult],
    ) -> Self {
        let mut bundles = bundles;
        let mut longs = LongValues::default();
        for b in &bundles {
            if let Some(n) = &b.node {
                longs.register(n, MAX_EVIDENCE_FIELD);
            }
        }
        for e in results
            .iter()
            .flat_map(|r| r.evidence.iter().take(MAX_EVIDENCE))
        {
            ReportEvidence::register(e, &mut longs);
        }
        for text in results.iter().map(|r| &r.message).chain(&notes) {
            longs.register_words(text, MAX_EVIDENCE_FIELD);
        }
        for b in &mut bundles {
            b.node = b
                .node
                .as_deref()
                .map(|n| longs.field(n, MAX_EVIDENCE_FIELD));
        }
        let mut table = causes::CauseTable::default();
        let mut checks: Vec<CheckEntry> = results
            .iter()
            .map(|r| CheckEntry::with(r, &longs, &mut table))
            .collect();
        // Causes that leave checks undecided first (the next steps that matter), in
        // the order first cited; the references follow the new numbers.
        let mut order: Vec<usize> = (0..table.causes.len()).collect();
        order.sort_by_key(|&i| table.causes[i].checks.is_empty());
        let mut new_index = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        for c in &mut checks {
            for p in &mut c.pieces {
                if let Piece::Cause(i) = p {
                    *i = new_index[*i];
                }
            }
        }
        let mut slots: Vec<Option<causes::ReportCause>> =
            table.causes.into_iter().map(Some).collect();
        table.causes = order.iter().filter_map(|&i| slots[i].take()).collect();
        let causes = table
            .causes
            .into_iter()
            .map(|mut c| {
                c.summary = longs.text(&c.summary, MAX_EVIDENCE_FIELD, MAX_MESSAGE);
                for b in &mut c.bundles {
                    b.reason = b
                        .reason
                        .as_deref()
                        .map(|r| longs.text(r, MAX_EVIDENCE_FIELD, MAX_MESSAGE));
                }
                c
            })
            .collect();
        let mut summary = Summary::of(&checks);
        let signer_notice = signer_notice(&bundles);
        summary.unverified_signers = bundles
            .iter()
            .filter(|b| b.verified && b.trust != TrustLevel::Trusted)
            .count();
        Self {
            schema: SCHEMA_ID.to_string(),
            generator: format!("rcdiag-analyzer {}", env!("CARGO_PKG_VERSION")),
            policy,
            as_of: as_of.map(|d| d.to_string()),
            bundles,
            signer_notice,
            notes: notes
                .iter()
                .map(|n| longs.text(n, MAX_EVIDENCE_FIELD, MAX_MESSAGE))
                .collect(),
            causes,
            checks,
            summary,
            long_values: longs.into_list(),
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail; fall back to an empty object anyway.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string());
        s.push('\n');
        json_escape_controls(&s)
    }

    /// The checks grouped by area, areas in the order they first appear.
    pub fn by_area(&self) -> Vec<(&str, Vec<&CheckEntry>)> {
        let mut groups: Vec<(&str, Vec<&CheckEntry>)> = Vec::new();
        for c in &self.checks {
            match groups.iter_mut().find(|(a, _)| *a == c.area) {
                Some((_, v)) => v.push(c),
                None => groups.push((&c.area, vec![c])),
            }
        }
        groups
    }

    /// The node labels of the bundles that were read, joined with `, `.
    pub fn node_list(&self) -> String {
        let nodes: Vec<&str> = self
            .bundles
            .iter()
            .filter_map(|b| b.node.as_deref())
            .collect();
        if nodes.is_empty() {
            "no readable bundle".to_string()
        } else {
            nodes.join(", ")
        }
    }
}

/// `signed by SHA256:..., not verified: pass --trust ...` for the bundles read whose
/// signer is not pinned, or None when every one is.
pub fn signer_notice(bundles: &[BundleInfo]) -> Option<String> {
    let open: Vec<&BundleInfo> = bundles
        .iter()
        .filter(|b| b.verified && b.trust != TrustLevel::Trusted)
        .collect();
    let fingerprints: Vec<&str> = open
        .iter()
        .map(|b| b.signer_fingerprint.as_deref().unwrap_or("?"))
        .collect();
    let hint = "pass --trust ALLOWED_SIGNERS (the nodes' node_ed25519.pub) to pin node keys";
    match fingerprints.as_slice() {
        [] => None,
        [one] => Some(format!(
            "signed by {one}, not verified: anyone can sign a bundle; {hint}"
        )),
        many => Some(format!(
            "{} bundles signed by {}, not verified: anyone can sign a bundle; {hint}",
            many.len(),
            many.join(", ")
        )),
    }
}

/// The JSON Schema of [`Report`], pretty-printed with a trailing newline: the content
/// of `analyzer/schema/report.schema.json`.
///
/// The schema describes what the analyzer writes (schemars' serialize contract):
/// every field is always present, optional values are `null`.
pub fn report_schema_json() -> String {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Report>();
    // Sorted keys: the output must not depend on serde_json's preserve_order feature,
    // which building the whole workspace switches on.
    let value = serde_json::to_value(&schema)
        .map(rcdiag_bundle::sorted_json)
        .unwrap_or_default();
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}

/// JSON text with the characters JSON does not escape but a terminal may act on
/// (DEL, the C1 controls such as U+009B, a one-character CSI, and bidirectional
/// overrides) written as `\uXXXX` escapes: the same JSON value, safe on a terminal.
/// Such characters only occur inside JSON strings, where the escape is valid.
pub fn json_escape_controls(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c == '\u{7f}'
            || ('\u{80}'..='\u{9f}').contains(&c)
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Replaces control characters (terminal escapes included) by visible `\u{..}`
/// escapes so a bundle value cannot drive the terminal; tabs become spaces.
pub fn sanitize_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            c if c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_escapes_what_json_leaves_raw() {
        let v = serde_json::json!({"k": "a\u{1b}[2J\u{9b}31m\u{7f}\u{202e}z"});
        let s = json_escape_controls(&serde_json::to_string(&v).expect("json"));
        assert_eq!(s, r#"{"k":"a\u001b[2J\u009b31m\u007f\u202ez"}"#);
        let back: serde_json::Value = serde_json::from_str(&s).expect("still JSON");
        assert_eq!(back, v);
    }

    #[test]
    fn sanitize_line_escapes_terminal_controls() {
        assert_eq!(
            sanitize_line("a\u{1b}[31mred\nx\ty"),
            "a\\u{1b}[31mred\\u{a}x y"
        );
        assert_eq!(sanitize_line("bidi\u{202e}x"), "bidi\\u{202e}x");
    }

    #[test]
    fn verdict_orders_fail_incomplete_warn_unknown_pass() {
        let s = Summary {
            pass: 3,
            warn: 1,
            fail: 0,
            unknown: 1,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Warn);
        let s = Summary {
            pass: 3,
            warn: 0,
            fail: 0,
            unknown: 1,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Unknown);
        let s = Summary {
            pass: 0,
            warn: 2,
            fail: 1,
            unknown: 0,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Fail);
        assert_eq!(Summary::default().verdict(), Verdict::Pass);
        // More than half unknown and no failure: incomplete, even with a warning.
        let s = Summary {
            pass: 3,
            warn: 1,
            unknown: 5,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Incomplete);
        // Exactly half is not more than half.
        let s = Summary {
            pass: 4,
            unknown: 4,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Unknown);
        // A failure still says FAIL.
        let s = Summary {
            fail: 1,
            unknown: 9,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Fail);
        // Checks that do not apply count neither way: 4 unknown of 7 applicable is
        // more than half, though 4 of 17 checks in all is not.
        let s = Summary {
            pass: 3,
            unknown: 4,
            not_applicable: 10,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Incomplete);
        assert_eq!(s.counts(), "3 pass, 0 warn, 0 fail, 4 unknown, 10 N/A");
        // Only checks that do not apply: nothing to judge, nothing unknown.
        let s = Summary {
            not_applicable: 10,
            ..Default::default()
        };
        assert_eq!(s.verdict(), Verdict::Pass);
    }
}
