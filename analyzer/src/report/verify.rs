//! What `rcdiag-analyzer verify` prints about a bundle that opened and verified:
//! identity, node, protection, signer and trust, collectors and files, as text or JSON.

use std::fmt::Write as _;

use rcdiag_bundle::Bundle;
use serde::Serialize;

use super::{TrustLevel, sanitize_line};
use crate::explore::human_size;

/// The verification result of one bundle, as `verify --format json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifySummary {
    /// Path as given.
    pub file: String,
    /// True: the signature, the file set and every file's SHA-256 verified.
    pub valid: bool,
    /// Why not, when `valid` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The rest, when valid.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<VerifyDetails>,
}

/// Details of a verified bundle.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifyDetails {
    /// UUIDv7 of the bundle.
    pub bundle_id: String,
    /// Format version.
    pub format_version: u64,
    /// Creation time, UTC RFC 3339.
    pub created_at: String,
    /// `name version` of the agent that wrote it.
    pub agent: String,
    /// The node.
    pub node: rcdiag_bundle::NodeInfo,
    /// `encrypted` (age) or `signed-plain`.
    pub protection: &'static str,
    /// True when the bundle was written plain and encrypted later by `rcdiag-agent seal`
    /// (the customer reviewed it first); its age header says so.
    pub sealed_after_review: bool,
    /// Signer key fingerprint (`SHA256:...`).
    pub signer_fingerprint: String,
    /// Signer key, OpenSSH line.
    pub signer_public_key: String,
    /// Whether the signer is pinned.
    pub trust: TrustLevel,
    /// Principals of the allowed signers entry, when trusted.
    pub trust_principals: Vec<String>,
    /// Collectors as the manifest records them.
    pub collectors: Vec<rcdiag_bundle::CollectorRecord>,
    /// Files as the manifest records them.
    pub files: Vec<rcdiag_bundle::FileRecord>,
    /// Redaction counts by rule.
    pub redaction: rcdiag_bundle::RedactionSummary,
}

impl VerifySummary {
    /// The summary of a bundle that opened and verified.
    pub fn valid(file: &str, bundle: &Bundle) -> Self {
        let m = bundle.manifest();
        let (trust, trust_principals) = TrustLevel::from_status(bundle.trust());
        Self {
            file: file.to_string(),
            valid: true,
            error: None,
            details: Some(VerifyDetails {
                bundle_id: m.bundle_id.clone(),
                format_version: m.format_version,
                created_at: m.created_at.clone(),
                agent: format!("{} {}", m.agent.name, m.agent.version),
                node: m.node.clone(),
                protection: if bundle.is_encrypted() {
                    "encrypted"
                } else {
                    "signed-plain"
                },
                sealed_after_review: bundle.is_encrypted()
                    && rcdiag_bundle::is_sealed(std::path::Path::new(file)),
                signer_fingerprint: m.signer.fingerprint.clone(),
                signer_public_key: m.signer.public_key.clone(),
                trust,
                trust_principals,
                collectors: m.collectors.clone(),
                files: m.files.clone(),
                redaction: m.redaction.clone(),
            }),
        }
    }

    /// The summary of a bundle that did not verify.
    pub fn invalid(file: &str, error: &str) -> Self {
        Self {
            file: file.to_string(),
            valid: false,
            error: Some(error.to_string()),
            details: None,
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string());
        s.push('\n');
        super::json_escape_controls(&s)
    }

    /// The text `verify` prints.
    pub fn render_text(&self) -> String {
        let c = |s: &str| sanitize_line(s);
        let mut out = String::new();
        let Some(d) = &self.details else {
            let _ = writeln!(out, "bundle     {}", c(&self.file));
            let _ = writeln!(
                out,
                "result     INVALID: {}",
                c(self.error.as_deref().unwrap_or("unknown error"))
            );
            return out;
        };
        let _ = writeln!(out, "bundle     {}", c(&self.file));
        let _ = writeln!(out, "id         {}", c(&d.bundle_id));
        let mut node = c(&d.node.hostname);
        if let Some(h) = &d.node.machine_id_hash {
            let short: String = h.chars().take(19).collect();
            let _ = write!(node, "  (machine {})", c(&short));
        }
        for (k, v) in &d.node.labels {
            let _ = write!(node, "  {}={}", c(k), c(v));
        }
        let _ = writeln!(out, "node       {node}");
        let _ = writeln!(out, "created    {}", c(&d.created_at));
        let _ = writeln!(out, "agent      {}", c(&d.agent));
        let _ = writeln!(
            out,
            "protection {}",
            if d.sealed_after_review {
                "encrypted (age), sealed after the customer reviewed the plain bundle (rcdiag-agent seal)"
            } else if d.protection == "encrypted" {
                "encrypted (age)"
            } else {
                "signed-plain (not encrypted: anyone holding the file can read it)"
            }
        );
        let _ = writeln!(out, "signature  valid, signer {}", c(&d.signer_fingerprint));
        let trust = match d.trust {
            TrustLevel::Trusted => format!("trusted ({})", c(&d.trust_principals.join(","))),
            TrustLevel::NotChecked => {
                "not checked (pass --trust allowed_signers to pin node keys)".to_string()
            }
            other => other.label().to_string(),
        };
        let _ = writeln!(out, "trust      {trust}");
        let _ = writeln!(out, "collectors ({}):", d.collectors.len());
        let nw = d.collectors.iter().map(|r| r.name.len()).max().unwrap_or(0);
        for r in &d.collectors {
            let _ = write!(
                out,
                "  {:<nw$}  {:<8} {:>8}",
                c(&r.name),
                r.status.as_str(),
                format!("{:.1}s", r.duration_ms as f64 / 1000.0)
            );
            if let Some(e) = &r.error {
                let _ = write!(out, "  {}", c(e));
            }
            out.push('\n');
        }
        let total: u64 = d.files.iter().map(|f| f.size).sum();
        let _ = writeln!(out, "files ({}, {}):", d.files.len(), human_size(total));
        for f in &d.files {
            let short: String = f.sha256.chars().take(12).collect();
            let _ = writeln!(
                out,
                "  {:>10}  sha256:{short}  {}{}",
                human_size(f.size),
                c(&f.path),
                if f.truncated { "  (truncated)" } else { "" }
            );
        }
        if !d.redaction.rules.is_empty() {
            let rules: Vec<String> = d
                .redaction
                .rules
                .iter()
                .map(|(k, v)| format!("{}={v}", c(k)))
                .collect();
            let _ = writeln!(out, "redaction  {}", rules.join(" "));
        }
        for r in &d.redaction.re_redactions {
            let rules: Vec<String> = r
                .rules
                .iter()
                .map(|(k, v)| format!("{}={v}", c(k)))
                .collect();
            let _ = writeln!(
                out,
                "re-redacted {} by rcdiag-agent redact, from bundle {} signed by {}: {}",
                c(&r.at),
                c(&r.from_bundle_id),
                c(&r.from_signer),
                if rules.is_empty() {
                    "no match".to_string()
                } else {
                    rules.join(" ")
                }
            );
        }
        let _ = writeln!(
            out,
            "result     OK: the signature and the sha256 of every file verified"
        );
        out
    }
}
