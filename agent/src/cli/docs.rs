//! `completions`, `man-pages` and `list-collectors`: what the agent says about itself.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;
use rcdiag_agent::collectors;

use super::args::Cli;
use rcdiag_clidocs as clidocs;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes the completion script of `shell` to stdout.
pub fn completions(shell: rcdiag_clidocs::Shell) -> Result<()> {
    clidocs::completions(Cli::command(), "rcdiag-agent", VERSION, shell)
        .map_err(|e| anyhow::anyhow!("cannot write the completion script: {e}"))
}

pub fn man_pages(dir: &std::path::Path) -> Result<ExitCode> {
    if !dir.is_dir() {
        eprintln!(
            "rcdiag-agent: error: {} is not a folder: create it first (mkdir -p {})",
            dir.display(),
            dir.display()
        );
        return Ok(ExitCode::from(2));
    }
    let pages = clidocs::man_pages(Cli::command(), "rcdiag-agent", VERSION, dir)
        .map_err(|e| anyhow::anyhow!("cannot write the man pages into {}: {e}", dir.display()))?;
    for p in pages {
        println!("{}", dir.join(p).display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list_collectors(json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(collectors::ALL)?);
        return Ok(());
    }
    for c in collectors::ALL {
        println!(
            "{}\n  reads:       {}\n  needs:       {}\n  writes:      {}\n",
            c.name, c.reads, c.permissions, c.files
        );
    }
    Ok(())
}
