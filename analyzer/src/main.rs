//! `rcdiag-analyzer`: verifies, checks and explores rcdiag diagnostics bundles
//! offline. This file only parses the command line and dispatches: flags are in
//! `cli/args.rs`, each subcommand's handler in `cli/` (`check`, `explore`, `keys`,
//! `diff`, `verify`, `policy`), the work in the `rcdiag_analyzer` library.
//!
//! Exit status: 0 ok (for `check`: nothing failed or warned; for `grep`: a match),
//! 1 a bundle (or key) could not be read or verified (`grep`: no match), 2 usage
//! error (`grep`: any error), 3 `check` found a failure, 4 `check` found a warning or
//! could not decide, 5 `check` found no failure but a signer is not pinned (`--trust`).

use std::process::ExitCode;

use anyhow::anyhow;
use clap::{CommandFactory, Parser};
use rcdiag_analyzer::report::sanitize_line;

mod cli;

use cli::args::{Cli, Command, PolicyCommand};
use cli::{Reported, Status, UsageError, VERSION};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => status.into(),
        Err(e) => {
            if let Some(Reported(status)) = e.downcast_ref::<Reported>() {
                return (*status).into();
            }
            let status = if e.downcast_ref::<UsageError>().is_some() {
                Status::Usage
            } else {
                Status::Error
            };
            eprintln!("error: {}", sanitize_line(&format!("{e:#}")));
            status.into()
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Status> {
    match cli.command {
        Command::Keygen(a) => cli::keys::keygen(&a),
        Command::Verify(a) => cli::verify::verify(&a),
        Command::Extract(a) => cli::verify::extract(&a),
        Command::Check(a) => cli::check::check(&a),
        Command::Policy(PolicyCommand::Show { policy }) => {
            cli::policy::policy_show(policy.as_deref())
        }
        Command::Policy(PolicyCommand::Check { file }) => cli::policy::policy_check(&file),
        Command::Ls(a) => cli::explore::ls(&a),
        Command::Cat(a) => cli::explore::cat(&a),
        Command::Grep(a) => cli::explore::grep(&a),
        Command::Diff(a) => cli::diff::diff(&a),
        Command::Completions { shell } => {
            rcdiag_clidocs::completions(Cli::command(), "rcdiag-analyzer", VERSION, shell)
                .map_err(|e| anyhow!("cannot write the completion script: {e}"))?;
            Ok(Status::Ok)
        }
        Command::ManPages { dir } => cli::man_pages(&dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
