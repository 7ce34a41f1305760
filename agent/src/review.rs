//! The customer's review step before a bundle leaves the building: `seal` encrypts a
//! signed plain bundle to support unchanged (its signature still verifies), and
//! `redact` redacts an existing plain bundle again with more rules, re-signs it with
//! the node key and records the re-redaction in the manifest.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rcdiag_bundle::{
    AgentInfo, Bundle, BundleWriter, Encryption, FinishedBundle, NodeKey, OpenOptions, ReRedaction,
    WriterOptions,
};

use crate::redact::Redactor;

/// Why a review command failed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Reading, verifying or writing a bundle failed.
    #[error(transparent)]
    Bundle(#[from] rcdiag_bundle::Error),
    /// A `--pattern` does not compile.
    #[error("invalid --pattern: {0}")]
    Pattern(#[from] regex::Error),
    /// The input is not what the command takes.
    #[error("{0}")]
    Input(String),
    /// Removing the plain copy failed.
    #[error(
        "the bundle was sealed to {sealed} but the plain copy {plain} could not be removed: {source}; remove it by hand"
    )]
    Remove {
        sealed: String,
        plain: String,
        #[source]
        source: std::io::Error,
    },
}

/// What `redact` wrote.
#[derive(Debug)]
pub struct Redone {
    /// The new bundle.
    pub bundle: FinishedBundle,
    /// Replacements per rule in this pass.
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// Reads the signed plain bundle `input`, applies the built-in rules, every `pattern`
/// (`custom-N`) and every `literal` (`literal-N`) to every file again, and writes a new
/// signed plain bundle to `out` (folder or file), signed by `signer`. The manifest keeps
/// the collectors' records and the first redaction summary, and adds one
/// [`ReRedaction`]. Plaintext is read from the input and written only into the new
/// bundle (no temporary plain file).
pub fn redact_bundle(
    input: &Path,
    out: &Path,
    patterns: &[String],
    literals: &[String],
    signer: NodeKey,
) -> Result<Redone, ReviewError> {
    let mut rules: Vec<(String, String)> = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        rules.push((format!("custom-{}", i + 1), p.clone()));
    }
    for (i, l) in literals.iter().enumerate() {
        if l.is_empty() {
            return Err(ReviewError::Input(format!(
                "--literal {} is empty: give the text to remove",
                i + 1
            )));
        }
        rules.push((format!("literal-{}", i + 1), regex::escape(l)));
    }
    let redactor = Redactor::with_rules(&rules)?;
    let mut bundle = Bundle::open(input, &OpenOptions::default())?;
    if bundle.is_encrypted() {
        return Err(ReviewError::Input(format!(
            "{} is encrypted: `redact` takes the signed plain `.rcdiag.zip` that `collect --no-encrypt` wrote (re-redact, then `seal` it)",
            input.display()
        )));
    }
    bundle.verify_contents()?;
    let manifest = bundle.manifest().clone();
    let out = if out.is_dir() {
        out.join(rcdiag_bundle::bundle_file_name(
            &manifest.node.hostname,
            jiff::Timestamp::now(),
            manifest.node.labels.get("case").map(String::as_str),
            false,
        ))
    } else {
        out.to_path_buf()
    };
    let mut writer = BundleWriter::create(WriterOptions {
        out,
        encryption: Encryption::None,
        signer,
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        node: manifest.node.clone(),
        compression_level: None,
    })?;
    for rec in &manifest.files {
        if rec.path.ends_with(".json") {
            let mut value: serde_json::Value = bundle.read_json(&rec.path)?;
            redactor.redact_json(&mut value);
            let mut bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
            bytes.push(b'\n');
            writer.add_bytes(&rec.path, &bytes)?;
        } else {
            let entry = bundle.open_entry(&rec.path)?;
            let mut reader = BufReader::new(entry);
            writer.begin_file(&rec.path)?;
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(rcdiag_bundle::Error::Io)?;
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&line);
                let had_newline = text.ends_with('\n');
                let mut out = redactor.redact_text(text.trim_end_matches('\n'));
                if had_newline {
                    out.push('\n');
                }
                writer.write_chunk(out.as_bytes())?;
            }
            writer.end_file(rec.truncated)?;
        }
    }
    for c in &manifest.collectors {
        writer.record_collector(c.clone());
    }
    let counts = redactor.counts();
    let mut summary = manifest.redaction.clone();
    summary.re_redactions.push(ReRedaction {
        at: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        from_bundle_id: manifest.bundle_id.clone(),
        from_signer: manifest.signer.fingerprint.clone(),
        rules: counts.clone(),
    });
    writer.set_redaction(summary);
    Ok(Redone {
        bundle: writer.finish()?,
        counts,
    })
}

/// Seals the plain bundle `input` to `recipients` into `out`; with `remove_plain`,
/// removes the plain copy once the sealed one is in place.
pub fn seal(
    input: &Path,
    out: &Path,
    recipients: &[rcdiag_bundle::Recipient],
    armor: bool,
    remove_plain: bool,
) -> Result<rcdiag_bundle::Sealed, ReviewError> {
    let sealed = rcdiag_bundle::seal(input, out, recipients, armor)?;
    if remove_plain {
        std::fs::remove_file(input).map_err(|source| ReviewError::Remove {
            sealed: sealed.path.display().to_string(),
            plain: input.display().to_string(),
            source,
        })?;
    }
    Ok(sealed)
}

/// The default output folder of a review command: the input's folder.
pub fn default_out(input: &Path) -> PathBuf {
    match input.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
