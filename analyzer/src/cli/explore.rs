//! `ls`, `cat` and `grep`: a bundle's files, one file, and a search over them.

use std::io::{self, Write};

use anyhow::{Context, anyhow};
use rcdiag_analyzer::explore::{self, ExploreError, Glob, GrepOptions};
use rcdiag_analyzer::report::{self, sanitize_line};

use super::args::{CatArgs, DataFormat, GrepArgs, LsArgs};
use super::keys::{Keys, looks_like_identity, open_or_report, report_bundle_error};
use super::{Status, print_stdout};

pub(crate) fn ls(a: &LsArgs) -> anyhow::Result<Status> {
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let bundle = open_or_report(&keys, &a.bundle)?;
    let mut rows = explore::ls_rows(bundle.manifest());
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    print_stdout(&match a.format {
        DataFormat::Text => {
            // render_ls escapes every name, on a terminal and in a pipe alike.
            explore::render_ls(&rows)
        }
        DataFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(&rows).context("cannot serialize the listing")?;
            s.push('\n');
            report::json_escape_controls(&s)
        }
    })?;
    Ok(Status::Ok)
}

pub(crate) fn cat(a: &CatArgs) -> anyhow::Result<Status> {
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let mut bundle = open_or_report(&keys, &a.bundle)?;
    let mut out = io::stdout().lock();
    match explore::cat_with(&mut bundle, &a.path, &mut out, a.escape) {
        Ok(_) => Ok(Status::Ok),
        Err(e) if e.is_broken_pipe() => Ok(Status::Ok),
        Err(ExploreError::Output(e)) => Err(anyhow!("cannot write to standard output: {e}")),
        Err(ExploreError::Bundle(e)) => {
            report_bundle_error(&a.bundle, &e);
            Ok(Status::Error)
        }
    }
}

pub(crate) fn grep(a: &GrepArgs) -> anyhow::Result<Status> {
    // grep's own convention: 0 match, 1 none, 2 error.
    let fail = |msg: String| -> anyhow::Result<Status> {
        eprintln!("error: {}", sanitize_line(&msg));
        Ok(Status::Usage)
    };
    let regex = match regex::bytes::RegexBuilder::new(&a.pattern)
        .case_insensitive(a.ignore_case)
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("invalid regular expression: {e}")),
    };
    let mut files = Vec::new();
    for g in &a.files {
        match Glob::new(g) {
            Ok(g) => files.push(g),
            Err(e) => return fail(format!("invalid --files pattern {g:?}: {e}")),
        }
    }
    let keys = match Keys::load(&a.open.identity, a.open.trust.as_deref()) {
        Ok(k) => k,
        Err(e) => return fail(format!("{e:#}")),
    };
    if let Some(key) = a.bundles.iter().find(|p| looks_like_identity(p)) {
        return fail(format!(
            "{} is a private key, not a bundle; in grep, -i means --ignore-case: pass keys with --identity FILE",
            key.display()
        ));
    }
    let mut bundles = Vec::new();
    for path in &a.bundles {
        match keys.open(path) {
            Ok(b) => bundles.push(b),
            Err(e) => {
                report_bundle_error(path, &e);
                if matches!(e, rcdiag_bundle::Error::NoMatchingIdentity { .. }) {
                    eprintln!(
                        "hint: in grep, pass keys with --identity FILE (-i means --ignore-case)"
                    );
                }
                return Ok(Status::Usage);
            }
        }
    }
    let labels = explore::node_labels(bundles.iter().map(|b| b.manifest().node.hostname.as_str()));
    // Matched lines, labels and paths come from bundles: escaped on a terminal and in
    // a pipe alike (the output is often pasted somewhere; `cat` gives raw bytes).
    let opts = GrepOptions {
        regex,
        files,
        all: a.all,
        escape_controls: true,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut matches = 0u64;
    for ((bundle, label), path) in bundles.iter_mut().zip(&labels).zip(&a.bundles) {
        match explore::grep(bundle, label, &opts, &mut out) {
            Ok(stats) => {
                matches += stats.matches;
                for f in stats.binary_skipped {
                    eprintln!(
                        "{}: {}: binary file skipped",
                        path.display(),
                        sanitize_line(&f)
                    );
                }
            }
            Err(e) if e.is_broken_pipe() => return Ok(Status::Ok),
            Err(e) => {
                let _ = out.flush();
                report_bundle_error(path, &e);
                return Ok(Status::Usage);
            }
        }
    }
    if let Err(e) = out.flush()
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return fail(format!("cannot write to standard output: {e}"));
    }
    Ok(if matches > 0 {
        Status::Ok
    } else {
        Status::Error
    })
}
