//! `-o PATH` of the commands that write one bundle: an existing folder or a file name
//! with the extension that says what the bundle is.

use anyhow::Result;

use super::error::usage;

/// Checks `-o PATH` of a command writing one bundle: an existing folder (the standard
/// name is used there), or a file name ending in `.rcdiag` (encrypted) or
/// `.rcdiag.zip` (signed, unencrypted) in a folder that exists. Anything else is
/// refused, so a plain bundle never gets a name that looks encrypted or neutral.
pub fn check_out(out: &std::path::Path, encrypted: bool) -> Result<()> {
    if out.is_dir() {
        return Ok(());
    }
    let shown = out.display();
    let text = out.to_string_lossy();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if text.ends_with('/') {
        return Err(usage(format!(
            "-o {shown}: folder {shown} does not exist; create it (mkdir -p {shown}) or pass another -o"
        )));
    }
    if !parent.is_dir() {
        return Err(usage(format!(
            "-o {shown}: folder {} does not exist; create it (mkdir -p {}) or pass another -o",
            parent.display(),
            parent.display()
        )));
    }
    let (want, kind) = if encrypted {
        (".rcdiag", "an encrypted bundle")
    } else {
        (".rcdiag.zip", "a signed, unencrypted bundle")
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(want) && name.len() > want.len() {
        return Ok(());
    }
    let stem = name
        .strip_suffix(".rcdiag.zip")
        .or_else(|| name.strip_suffix(".rcdiag"))
        .or_else(|| name.strip_suffix(".zip"))
        .unwrap_or(&name);
    let stem = if stem.is_empty() { "bundle" } else { stem };
    Err(usage(format!(
        "-o {shown}: the file name of {kind} must end in {want}: pass -o {}, or an existing folder (the standard name is used there)",
        parent.join(format!("{stem}{want}")).display()
    )))
}
