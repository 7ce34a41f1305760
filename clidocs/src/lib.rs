//! Shell completions and man pages generated from a binary's clap definition (its
//! `completions SHELL` subcommand and the hidden `man-pages DIR` that packagers call),
//! shared by `rcdiag-agent` and `rcdiag-analyzer`. Hidden (internal) subcommands are
//! left out of both.

use std::io::{self, Write};
use std::path::Path;

use clap::Command;
pub use clap_complete::Shell;

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

#[cfg(test)]
mod tests {
    use clap::{Arg, Command};

    use super::*;

    fn cmd() -> Command {
        Command::new("ignored")
            .about("A tool")
            .subcommand_required(true)
            .arg(Arg::new("verbose").long("verbose").num_args(0))
            .subcommand(Command::new("run").about("Runs"))
            .subcommand(Command::new("internal").hide(true))
    }

    #[test]
    fn man_pages_leave_out_hidden_subcommands_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("other-tool.1"), "x").unwrap();
        let pages = man_pages(cmd(), "tool", "1.2.3", dir.path()).unwrap();
        assert_eq!(pages, ["tool-run.1", "tool.1"]);
        let page = std::fs::read_to_string(dir.path().join("tool.1")).unwrap();
        assert!(
            page.contains("1.2.3") && page.contains("\\-\\-verbose"),
            "{page}"
        );
        assert!(!dir.path().join("tool-internal.1").exists());
    }

    #[test]
    fn public_command_keeps_about_and_drops_hidden() {
        let c = public(cmd(), "tool", "1.2.3");
        assert_eq!(c.get_name(), "tool");
        assert_eq!(c.get_version(), Some("1.2.3"));
        let subs: Vec<&str> = c.get_subcommands().map(|s| s.get_name()).collect();
        assert_eq!(subs, ["run"]);
        assert!(c.get_arguments().any(|a| a.get_id() == "verbose"));
    }
}
