//! `seal` and `redact`: the review flow of a signed plain bundle.

use anyhow::Result;
use rcdiag_agent::review::ReviewError;
use rcdiag_bundle::{NodeKey, Recipient};

use super::args::{RedactArgs, SealArgs};
use super::error::usage;
use super::out_path::check_out;

pub fn seal_cmd(a: SealArgs) -> Result<()> {
    let mut recipients = Vec::new();
    for r in &a.to.recipients {
        recipients.push(Recipient::parse(r).map_err(|e| usage(e.to_string()))?);
    }
    if let Some(f) = &a.to.recipients_file {
        recipients.extend(Recipient::parse_file(f).map_err(|e| usage(e.to_string()))?);
    }
    if recipients.is_empty() {
        return Err(usage(
            "no recipient: pass support's key with -r age1... (or -R FILE)",
        ));
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| rcdiag_agent::review::default_out(&a.bundle));
    check_out(&out, true)?;
    let sealed = rcdiag_agent::review::seal(&a.bundle, &out, &recipients, a.armor, a.remove_plain)?;
    eprintln!(
        "sealed: {} bytes, signed by {} (signature unchanged){}",
        sealed.size,
        sealed.signer,
        if a.remove_plain {
            format!("; removed {}", a.bundle.display())
        } else {
            String::new()
        }
    );
    println!("{}", sealed.path.display());
    Ok(())
}

pub fn redact_cmd(a: RedactArgs) -> Result<()> {
    if a.patterns.is_empty() && a.literals.is_empty() {
        return Err(usage(
            "nothing to redact: give --pattern REGEX or --literal TEXT (repeatable)",
        ));
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| rcdiag_agent::review::default_out(&a.bundle));
    check_out(&out, false)?;
    let dir = a.state_dir.unwrap_or_else(rcdiag_bundle::default_state_dir);
    let signer = NodeKey::load_or_create(&dir)?;
    let done =
        rcdiag_agent::review::redact_bundle(&a.bundle, &out, &a.patterns, &a.literals, signer)
            .map_err(|e| match e {
                ReviewError::Pattern(_) | ReviewError::Input(_) => usage(e.to_string()),
                e => e.into(),
            })?;
    let counts: Vec<String> = done
        .counts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    eprintln!(
        "re-redacted: {}",
        if counts.is_empty() {
            "no match".to_string()
        } else {
            counts.join(", ")
        }
    );
    println!("{}", done.bundle.path.display());
    Ok(())
}
