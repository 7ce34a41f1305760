//! `rcdiag-agent`: collects a signed, encrypted diagnostics bundle of this Rocket.Chat node.
//! This file only parses the command line and dispatches; the flags are in
//! [`cli::args`], each subcommand's handler in a module of [`cli`].

use std::process::ExitCode;

use clap::Parser;

// `println!`, `print!`, `eprintln!` and `eprint!` that never panic on a closed stdout or
// stderr; declared first so that every module below uses them.
#[macro_use]
#[allow(unused_macros)]
mod stdio;

mod cli;

use cli::args::{Cli, Command, KeyCommand, PseudonymsCommand, SnapshotsCommand};
use cli::error::{UsageError, message};
use cli::{collect, docs, keys, review, schedule, snapshots};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Collect(args) => collect::collect(*args),
        Command::Key {
            command: KeyCommand::Show { state_dir },
        } => keys::key_show(state_dir, false).map(|()| ExitCode::SUCCESS),
        Command::Key {
            command: KeyCommand::New { state_dir },
        } => keys::key_show(state_dir, true).map(|()| ExitCode::SUCCESS),
        Command::ListCollectors { json } => docs::list_collectors(json).map(|()| ExitCode::SUCCESS),
        Command::Schedule(args) => schedule::schedule_cmd(*args),
        Command::InternalCollector => {
            return ExitCode::from(rcdiag_agent::isolate::child_main().clamp(0, 255) as u8);
        }
        Command::Snapshots {
            command: SnapshotsCommand::List { dir, json },
        } => snapshots::snapshots_list(&dir, json).map(|()| ExitCode::SUCCESS),
        Command::Seal(args) => review::seal_cmd(args).map(|()| ExitCode::SUCCESS),
        Command::Redact(args) => review::redact_cmd(args).map(|()| ExitCode::SUCCESS),
        Command::Upload(args) => Ok(cli::upload::upload_cmd(&args)),
        Command::Pseudonyms {
            command: PseudonymsCommand::Lookup { token, state_dir },
        } => keys::pseudonym_lookup(&token, state_dir),
        Command::Completions { shell } => docs::completions(shell).map(|()| ExitCode::SUCCESS),
        Command::ManPages { dir } => docs::man_pages(&dir),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rcdiag-agent: error: {}", message(&e));
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
