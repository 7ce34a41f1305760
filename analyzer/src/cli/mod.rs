//! What the subcommands share: exit statuses, the errors that pick them, the
//! policy loader and standard output; one module per group of subcommands.

pub(crate) mod args;
pub(crate) mod check;
pub(crate) mod diff;
pub(crate) mod explore;
pub(crate) mod keys;
pub(crate) mod policy;
pub(crate) mod verify;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::CommandFactory;
use rcdiag_analyzer::checks::CheckId;
use rcdiag_analyzer::policy::{Policy, PolicyError};

use args::Cli;

/// Exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok = 0,
    Error = 1,
    Usage = 2,
    Fail = 3,
    Warn = 4,
    /// `check`: no check failed, but a bundle's signer is not pinned (no `--trust`).
    Unverified = 5,
    /// `check`: no check failed, but more than half of the checks that apply are unknown
    /// (verdict `INCOMPLETE`): collect what the report's causes name.
    Incomplete = 6,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s as u8)
    }
}

/// An error in what the user asked for (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// An error already printed (exit with this status, print nothing more).
#[derive(Debug, thiserror::Error)]
#[error("exit {0:?}")]
pub(crate) struct Reported(pub(crate) Status);

pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) fn man_pages(dir: &Path) -> anyhow::Result<Status> {
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "{} is not a folder: create it first (mkdir -p {})",
            dir.display(),
            dir.display()
        ))
        .into());
    }
    let pages = rcdiag_clidocs::man_pages(Cli::command(), "rcdiag-analyzer", VERSION, dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    for p in pages {
        println!("{}", dir.join(p).display());
    }
    Ok(Status::Ok)
}

pub(crate) fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    match path {
        None => Ok(Policy::builtin()),
        Some(p) => Policy::load(p, CheckId::NAMES).map_err(|e| {
            if let PolicyError::Parse { .. } = e {
                // Several lines, each part escaped already: printed here, not by
                // main's one-line escape.
                eprintln!(
                    "error: {}: {e}\nfix it and run `rcdiag-analyzer policy check {}`",
                    rcdiag_analyzer::report::sanitize_line(&p.display().to_string()),
                    rcdiag_analyzer::report::sanitize_line(&p.display().to_string())
                );
                return Reported(Status::Usage).into();
            }
            UsageError(format!(
                "{}: {e}; see `rcdiag-analyzer policy check {}`",
                p.display(),
                p.display()
            ))
            .into()
        }),
    }
}

/// Writes `text` to standard output; a closed pipe is not an error.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

pub(crate) fn display(p: &Path) -> String {
    p.display().to_string()
}
