//! Shell completions and man pages generated from the command-line definition
//! (`completions SHELL`, and the hidden `man-pages DIR` that packagers call).
//! Hidden (internal) subcommands are left out of both.

use std::io::{self, Write};
use std::path::Path;

use clap::Command;
use clap_complete::Shell;

/// `cmd` without its hidden subcommands (completions would offer them otherwise).
fn public(cmd: Command, name: &'static str, version: &'static str) -> Command {
    let mut out = Command::new(name)
        .version(version)
        .args(cmd.get_arguments().cloned());
    if let Some(a) = cmd.get_about() {
        out = out.about(a.clone());
    }
    if let Some(a) = cmd.get_long_about() {
        out = out.long_about(a.clone());
    }
    if let Some(a) = cmd.get_after_help() {
        out = out.after_help(a.clone());
    }
    out.subcommand_required(cmd.is_subcommand_required_set())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

/// Writes the completion script of `shell` to standard output.
pub fn completions(
    cmd: Command,
    name: &'static str,
    version: &'static str,
    shell: Shell,
) -> io::Result<()> {
    let mut cmd = public(cmd, name, version);
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    let mut out = io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    }
}

/// Writes one man page per command into `dir` (`NAME.1`, `NAME-SUB.1`, ...) and
/// returns the file names of `name`'s pages there.
pub fn man_pages(
    cmd: Command,
    name: &'static str,
    version: &'static str,
    dir: &Path,
) -> io::Result<Vec<String>> {
    let cmd = public(cmd, name, version);
    clap_mangen::generate_to(cmd, dir)?;
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".1") && (n == &format!("{name}.1") || n.starts_with(&format!("{name}-")))
        })
        .collect();
    names.sort();
    Ok(names)
}
