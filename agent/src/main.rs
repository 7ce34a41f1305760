//! `rcdiag-agent`: collects a signed, encrypted diagnostics bundle of this Rocket.Chat node.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand, ValueEnum};
use rcdiag_agent::collectors::{self, Options};
use rcdiag_agent::config::{self, FileConfig, human_bytes};
use rcdiag_agent::review::ReviewError;
use rcdiag_agent::run::{self, Progress, RunConfig, RunError};
use rcdiag_agent::schedule::{self, Cron, LogFormat, Logger, ScheduleConfig, Trigger};
use rcdiag_agent::snapshots::{self, Retention};
use rcdiag_bundle::{CollectorStatus, Encryption, NodeKey, Recipient};

/// `println!` that never panics when stdout is closed (`rcdiag-agent ... | head`):
/// what could not be written is dropped, as the reader has gone. Defined before the
/// modules so that they use it too.
macro_rules! println {
    () => {
        println!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod clidocs;
mod upload;

const EXAMPLES: &str = "\
Examples:
  # what support asks you to run (the key is in their message):
  sudo rcdiag-agent collect -r age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs...
  # look at what would be collected, write nothing:
  sudo rcdiag-agent collect --dry-run
  # a signed but unencrypted bundle you can open with unzip before sending:
  sudo rcdiag-agent collect --no-encrypt -o /tmp
  # this node's signing key (support pins it with --trust):
  rcdiag-agent key show
  # a snapshot every 6 hours into a folder, the newest 28 kept (runs until SIGTERM):
  sudo rcdiag-agent schedule --every 6h --dir /var/lib/rcdiag/snapshots --keep 28 -r age1...
  rcdiag-agent snapshots list /var/lib/rcdiag/snapshots
  # collect and send it to the upload link support gave you (single quotes!):
  sudo rcdiag-agent collect -r age1... --upload 'https://...'

Exit status of collect: 0 bundle written and every collector ok or skipped;
3 bundle written but a collector failed, timed out or was partial; 1 no bundle written;
4 bundle written but its upload (--upload) failed: the bundle is kept.";

const UPLOAD_HELP: &str = "\
One HTTP PUT per file to the link (a presigned S3, GCS or Azure SAS URL, or a support
portal's upload URL), streamed from disk, with Content-Length and Content-MD5 (and
x-amz-checksum-sha256 when the link signs it). Server errors (5xx, 408, 429), network
errors, stalls and attempts past their limit are retried with exponential backoff
(1s, 2s, 4s, ...); a refusal (401/403 expired or wrong link, 404, 413 too large) is not.
Only encrypted bundles are sent. The link's query string is its signature, a credential:
it is never printed. Every user of the machine can read a command line while it runs.
HTTPS_PROXY / NO_PROXY are followed; redirects are not. Files are never changed or
deleted.

Examples:
  rcdiag-agent upload rcdiag-node1-20261203T080000Z.rcdiag --to 'https://...'
  rcdiag-agent upload *.rcdiag --to 'https://.../case-123/'     # a folder link: names appended
  rcdiag-agent upload b.rcdiag --to 'https://...' --ca-file /etc/ssl/proxy-ca.pem

Exit status: 0 every file sent; 1 an upload failed (the files are kept); 2 invalid
options, link or file (nothing sent).";

const SCHEDULE_HELP: &str = "\
After each snapshot: retention (only over the snapshots this scheduler wrote, listed in
DIR/.rcdiag-snapshots.json; the newest good snapshot is always kept), then DIR/status.json
and DIR/rcdiag.prom (Prometheus text format, for node_exporter's textfile collector).
A tick that comes while a snapshot runs is skipped and logged. Log lines go to stderr:
JSON when stderr is not a terminal. SIGTERM or SIGINT stops it; a snapshot cut short
leaves no file and no temporary file.

Examples:
  rcdiag-agent schedule --every 6h --jitter 10m --dir /var/lib/rcdiag/snapshots --keep 28 -r age1...
  rcdiag-agent schedule --cron 'CRON_TZ=UTC 0 3 * * *' --dir /srv/rcdiag --max-total 2G
  rcdiag-agent schedule --once --dir /var/lib/rcdiag/snapshots --keep 28    # systemd timer, CronJob

Exit status: 0 stopped by SIGTERM/SIGINT, or every snapshot (--count/--once) written with
every collector ok or skipped; 3 written but a collector failed, timed out or was partial;
1 a snapshot wrote no bundle, or the folder cannot be used; 2 invalid options or config.";

/// Collects host, Docker, log, MongoDB and Rocket.Chat diagnostics of this node into one
/// signed, encrypted bundle for Rocket.Chat support. Secrets are redacted before anything
/// is written; the plaintext never touches the disk.
#[derive(Parser)]
#[command(name = "rcdiag-agent", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect a bundle of this node (the bundle path is the last line of stdout).
    Collect(Box<CollectArgs>),
    /// The node signing key.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// List the collectors: what each reads and which permissions it needs.
    ListCollectors {
        /// Output as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run as a service: a snapshot per tick into a folder, with retention, status.json
    /// and Prometheus metrics (runs in the foreground until SIGTERM/SIGINT).
    #[command(after_help = SCHEDULE_HELP)]
    Schedule(Box<ScheduleArgs>),
    /// For the agent itself: runs one collector in a child process under a memory
    /// limit (its request on stdin).
    #[command(hide = true)]
    InternalCollector,
    /// The snapshots written by `schedule`.
    Snapshots {
        #[command(subcommand)]
        command: SnapshotsCommand,
    },
    /// Encrypt a signed plain bundle (from `collect --no-encrypt`) to support, unchanged.
    #[command(after_help = SEAL_HELP)]
    Seal(SealArgs),
    /// Redact a signed plain bundle again with more rules, and re-sign it.
    #[command(after_help = REDACT_HELP)]
    Redact(RedactArgs),
    /// Upload bundles to an HTTPS upload link from support (a presigned PUT URL).
    #[command(after_help = UPLOAD_HELP)]
    Upload(Box<upload::UploadArgs>),
    /// The pseudonyms of `collect --pseudonymize`, kept on this node.
    Pseudonyms {
        #[command(subcommand)]
        command: PseudonymsCommand,
    },
    /// Print a shell completion script (e.g. `rcdiag-agent completions bash >
    /// /etc/bash_completion.d/rcdiag-agent`).
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL", value_enum)]
        shell: clap_complete::Shell,
    },
    /// For packagers: write the man pages (rcdiag-agent.1, rcdiag-agent-collect.1, ...)
    /// into DIR, which must exist.
    #[command(hide = true)]
    ManPages {
        /// The folder to write the pages into.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum PseudonymsCommand {
    /// Print the value behind TOKEN (as support quotes it from a bundle: host-7f3a, ip-09c2).
    Lookup {
        /// The token.
        #[arg(value_name = "TOKEN")]
        token: String,
        /// State dir holding the map [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

const SEAL_HELP: &str = "The review flow: `collect --no-encrypt` writes a signed plain \
`.rcdiag.zip`; look at it (unzip -l, unzip -p, `rcdiag-agent redact` to remove more); \
then `seal` encrypts it byte for byte to support's key. Its signature still verifies, \
and support sees that it was sealed after review.

Examples:
  rcdiag-agent seal rcdiag-node1-20261203T080000Z.rcdiag.zip -r age1... --remove-plain";

const REDACT_HELP: &str = "Every file is passed again through the built-in rules and \
the given ones; the new bundle keeps the collectors' records, is signed by this node's \
key, and its manifest records the re-redaction (which rules, how many replacements). \
The input is never changed. Then `seal` the new bundle to send it.

Examples:
  rcdiag-agent redact b.rcdiag.zip --literal 'Project Falcon' --pattern 'ACME-[0-9]{6}' -o out/
  rcdiag-agent seal out/rcdiag-....rcdiag.zip -r age1...";

/// `rcdiag-agent seal`.
#[derive(Args, Debug)]
struct SealArgs {
    /// The signed plain bundle (`.rcdiag.zip`).
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    #[command(flatten)]
    to: RecipientArgs,
    /// Output folder (the input's name without `.zip`) or file, whose name must end in
    /// `.rcdiag` [default: the input's folder].
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    out: Option<PathBuf>,
    /// ASCII-armored age output.
    #[arg(long)]
    armor: bool,
    /// Remove the plain bundle once the sealed one is written.
    #[arg(long)]
    remove_plain: bool,
}

/// `rcdiag-agent redact`.
#[derive(Args, Debug)]
struct RedactArgs {
    /// The signed plain bundle (`.rcdiag.zip`).
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    /// Replace every match of REGEX (Rust regex syntax); repeatable. Recorded as custom-N.
    #[arg(long = "pattern", value_name = "REGEX")]
    patterns: Vec<String>,
    /// Replace every occurrence of TEXT; repeatable. Recorded as literal-N.
    #[arg(long = "literal", value_name = "TEXT")]
    literals: Vec<String>,
    /// Output folder (a standard file name) or file, whose name must end in
    /// `.rcdiag.zip` [default: the input's folder].
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    out: Option<PathBuf>,
    /// State dir holding the node key that re-signs [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum SnapshotsCommand {
    /// List the snapshots in DIR, oldest first: time, size, outcome of each collector.
    List {
        /// The folder given to `schedule --dir`.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Output as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the node's public signing key and fingerprint (creates the key on first use).
    Show {
        /// State dir holding the node key [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Make a new node signing key, replacing the one there (lost, empty or unreadable
    /// key); support must pin the new key (`collect --new-node-key` does the same and
    /// records the change in its bundle).
    New {
        /// State dir holding the node key [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// Who can open the bundle (shared by `collect` and `schedule`).
#[derive(Args, Debug, Default)]
struct RecipientArgs {
    /// Encrypt to this recipient: an age key (age1...) or an SSH public key; repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "KEY")]
    recipients: Vec<String>,
    /// Read recipients from FILE, one a line.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    recipients_file: Option<PathBuf>,
}

/// What to collect and how (shared by `collect` and `schedule`).
#[derive(Args, Debug, Default)]
struct CollectOpts {
    /// Write a signed but unencrypted bundle (.rcdiag.zip) to inspect before sending.
    #[arg(long)]
    no_encrypt: bool,
    /// ASCII-armored output (for pasting into a ticket).
    #[arg(long)]
    armor: bool,
    /// Run only these collectors (comma-separated: host,docker,logs,mongodb,rocketchat).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    only: Option<Vec<String>>,
    /// Leave these collectors out (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    skip: Option<Vec<String>>,
    /// Docker endpoint [default: $DOCKER_HOST, else the local socket].
    #[arg(long, value_name = "URI")]
    docker_host: Option<String>,
    /// MongoDB URI [default: --mongodb-uri-file, $RCDIAG_MONGODB_URI, config, else the
    /// MONGO_URL of the Rocket.Chat containers]. Every user of the node can read the
    /// command line: give a password with --mongodb-uri-file or RCDIAG_MONGODB_URI instead.
    #[arg(long, value_name = "URI")]
    mongodb_uri: Option<String>,
    /// Read the MongoDB URI from FILE (owned by root or you, not readable by others:
    /// chmod 600). Preferred over --mongodb-uri, which other users can see in `ps`.
    #[arg(long, value_name = "FILE")]
    mongodb_uri_file: Option<PathBuf>,
    /// Log window, 1s to 366d [default: 24h].
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    /// Most log lines per container, 1 to 100000000 [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    log_lines: Option<u64>,
    /// Most log bytes per container, 1KiB to 64GiB [default: 5MiB].
    #[arg(long, value_name = "SIZE")]
    log_bytes: Option<String>,
    /// Where json-file container logs are read from: `auto` reads the engine's log
    /// files directly when the engine is local and they are readable (root; much faster),
    /// else through the Engine API; `engine` always asks the Engine API [default: auto].
    #[arg(long, value_name = "SOURCE", value_enum)]
    log_source: Option<collectors::LogSource>,
    /// Most bytes of Docker Engine replies read at a time, 1MiB to 1GiB [default: 64MiB];
    /// past it the call fails as "reply too large" and the collector records it.
    #[arg(long, value_name = "SIZE")]
    docker_reply_max: Option<String>,
    /// Time limit of each collector, 1s to 7d [default: 60s].
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Support case id (added to the file name and the manifest labels).
    #[arg(long = "case", value_name = "ID")]
    case: Option<String>,
    /// State dir holding the node key [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Config file [default: /etc/rcdiag/agent.toml if it exists].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Extra redaction rule (a regex); repeatable. Redaction cannot be turned off.
    #[arg(long = "redact-pattern", value_name = "REGEX")]
    redact_patterns: Vec<String>,
    /// Replace these by stable tokens, the same in every bundle of this node:
    /// hostnames, ips, emails, usernames (comma-separated) or all. The map stays in the
    /// state dir; `rcdiag-agent pseudonyms lookup TOKEN` answers support's questions.
    #[arg(long, value_name = "KINDS")]
    pseudonymize: Option<String>,
}

#[derive(Args, Debug, Default)]
struct CollectArgs {
    #[command(flatten)]
    to: RecipientArgs,
    /// Output folder (a standard file name is used there) or file, whose name must end
    /// in `.rcdiag` (encrypted) or `.rcdiag.zip` (--no-encrypt); any other name is
    /// refused [default: the current folder].
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    opts: CollectOpts,
    /// Make a new node signing key first, replacing the one in the state dir (for a key
    /// that is lost, empty or unreadable); the bundle records the key change.
    #[arg(long)]
    new_node_key: bool,
    /// Print what would be collected from where, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// No progress output (the summary and bundle path are still printed).
    #[arg(short, long)]
    quiet: bool,
    /// Then upload the bundle to this HTTPS upload link from support (a presigned PUT
    /// URL, in single quotes); see `rcdiag-agent upload --help`. A failed upload keeps
    /// the bundle and makes the exit status 4.
    #[arg(long, value_name = "URL")]
    upload: Option<String>,
    #[command(flatten)]
    upload_opts: upload::UploadOpts,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
enum LogFormatArg {
    /// JSON when stderr is not a terminal, else text.
    #[default]
    Auto,
    /// One JSON object a line.
    Json,
    /// `time LEVEL message key=value`.
    Text,
}

/// Retention when no --keep, --max-age or --max-total is given.
const DEFAULT_KEEP: usize = 24;

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("when").required(true).args(["every", "cron", "once"])))]
struct ScheduleArgs {
    /// Take a snapshot every DURATION (e.g. 30m, 6h, 1d; 1s to 366d), the first one right away.
    #[arg(long, value_name = "DURATION")]
    every: Option<String>,
    /// Take snapshots at the times of a 5-field cron expression, in local time or in the
    /// zone of a `CRON_TZ=Zone ` prefix (e.g. "0 */6 * * *", "CRON_TZ=UTC 30 2 * * 1-5").
    #[arg(long, value_name = "EXPR")]
    cron: Option<String>,
    /// Take one snapshot now (with retention, status and metrics) and exit: for systemd
    /// timers and Kubernetes CronJobs.
    #[arg(long, conflicts_with = "count")]
    once: bool,
    /// Folder of the snapshots, status.json and rcdiag.prom (created if missing).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Keep at most N snapshots [default: 24 when no other limit is given].
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// Delete snapshots older than DURATION (e.g. 14d), 1s to 366d.
    #[arg(long, value_name = "DURATION")]
    max_age: Option<String>,
    /// Keep the newest snapshots whose sizes add up to at most SIZE (e.g. 2G).
    #[arg(long, value_name = "SIZE")]
    max_total: Option<String>,
    /// Delay each tick by a random time below DURATION (spreads a fleet of nodes).
    #[arg(long, value_name = "DURATION")]
    jitter: Option<String>,
    /// Stop after N snapshots.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Also write rcdiag.prom into this folder (node_exporter's --collector.textfile.directory).
    #[arg(long, value_name = "DIR")]
    textfile_dir: Option<PathBuf>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Auto, value_name = "FORMAT")]
    log_format: LogFormatArg,
    #[command(flatten)]
    to: RecipientArgs,
    #[command(flatten)]
    opts: CollectOpts,
    /// Print the plan, the schedule and the next run times, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Log warnings and errors only.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Collect(args) => collect(*args),
        Command::Key {
            command: KeyCommand::Show { state_dir },
        } => key_show(state_dir, false).map(|()| ExitCode::SUCCESS),
        Command::Key {
            command: KeyCommand::New { state_dir },
        } => key_show(state_dir, true).map(|()| ExitCode::SUCCESS),
        Command::ListCollectors { json } => list_collectors(json).map(|()| ExitCode::SUCCESS),
        Command::Schedule(args) => schedule_cmd(*args),
        Command::InternalCollector => {
            return ExitCode::from(rcdiag_agent::isolate::child_main().clamp(0, 255) as u8);
        }
        Command::Snapshots {
            command: SnapshotsCommand::List { dir, json },
        } => snapshots_list(&dir, json).map(|()| ExitCode::SUCCESS),
        Command::Seal(args) => seal_cmd(args).map(|()| ExitCode::SUCCESS),
        Command::Redact(args) => redact_cmd(args).map(|()| ExitCode::SUCCESS),
        Command::Upload(args) => Ok(upload::upload_cmd(&args)),
        Command::Pseudonyms {
            command: PseudonymsCommand::Lookup { token, state_dir },
        } => pseudonym_lookup(&token, state_dir),
        Command::Completions { shell } => {
            clidocs::completions(Cli::command(), "rcdiag-agent", VERSION, shell)
                .map_err(|e| anyhow::anyhow!("cannot write the completion script: {e}"))
                .map(|()| ExitCode::SUCCESS)
        }
        Command::ManPages { dir } => man_pages(&dir),
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

/// An error in what the user asked for: bad values, a missing recipient, options that
/// do not go together (exit status 2; runtime failures are 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// Checks `-o PATH` of a command writing one bundle: an existing folder (the standard
/// name is used there), or a file name ending in `.rcdiag` (encrypted) or
/// `.rcdiag.zip` (signed, unencrypted) in a folder that exists. Anything else is
/// refused, so a plain bundle never gets a name that looks encrypted or neutral.
fn check_out(out: &std::path::Path, encrypted: bool) -> Result<()> {
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

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// The error and its causes on one line, each cause once: a cause whose text the
/// message already holds (errors that print their source) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn man_pages(dir: &std::path::Path) -> Result<ExitCode> {
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

fn key_show(state_dir: Option<PathBuf>, new: bool) -> Result<()> {
    let dir = state_dir.unwrap_or_else(rcdiag_bundle::default_state_dir);
    let key = if new {
        let (key, replaced) = NodeKey::replace(&dir)?;
        eprintln!(
            "new node key made{}; give support the new key to pin (below)",
            replaced
                .previous_fingerprint
                .map(|f| format!(" (replacing {f})"))
                .unwrap_or_default()
        );
        key
    } else {
        NodeKey::load_or_create(&dir)?
    };
    println!("{}", key.public_key_openssh());
    println!("{}", key.fingerprint());
    if let Some(p) = key.path() {
        eprintln!("key file: {}", p.display());
    }
    eprintln!("support pins this key with a line in an allowed_signers file:");
    eprintln!(
        "  {} {}",
        rcdiag_bundle::hostname(),
        key.public_key_openssh()
    );
    Ok(())
}

fn list_collectors(json: bool) -> Result<()> {
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

/// The effective settings of a collect run: flags over config over defaults.
struct Plan {
    encryption: Encryption,
    recipients: Vec<Recipient>,
    out: PathBuf,
    state_dir: PathBuf,
    options: Options,
    collectors: Vec<String>,
    case: Option<String>,
    redact_patterns: Vec<String>,
    pseudonymize: Vec<rcdiag_agent::redact::pseudonym::Kind>,
    /// A dry run with no recipient given: shown as what a real run still needs.
    no_recipient: bool,
}

/// The plan of a run: `out` is `-o` (collect) or `--dir` (schedule). A dry run writes
/// nothing, so it needs no recipient.
fn plan(
    to: &RecipientArgs,
    args: &CollectOpts,
    out: Option<&PathBuf>,
    dry_run: bool,
) -> Result<Plan> {
    let file = FileConfig::load(args.config.as_deref()).map_err(anyhow::Error::msg)?;
    let mut recipients = Vec::new();
    for r in to.recipients.iter().chain(if to.recipients.is_empty() {
        file.recipients.iter()
    } else {
        [].iter()
    }) {
        recipients.push(Recipient::parse(r)?);
    }
    if let Some(f) = to
        .recipients_file
        .as_ref()
        .or(file.recipients_file.as_ref())
    {
        recipients.extend(Recipient::parse_file(f)?);
    }
    let armor = args.armor || file.armor.unwrap_or(false);
    let no_recipient = dry_run && !args.no_encrypt && recipients.is_empty();
    let encryption = if args.no_encrypt || no_recipient {
        Encryption::None
    } else if recipients.is_empty() {
        bail!(
            "no recipient: the bundle must be encrypted to Rocket.Chat support's key.\n  \
             Ask your support contact for their key (it starts with age1... or ssh-) and run:\n    \
             rcdiag-agent collect -r <support key>\n  \
             or put `recipients = [\"<support key>\"]` in {}.\n  \
             To look at the data first, write a signed, unencrypted bundle with --no-encrypt.",
            config::DEFAULT_CONFIG
        );
    } else {
        Encryption::Age {
            recipients: recipients.clone(),
            armor,
        }
    };
    let names = collectors::names();
    let check = |list: &[String]| -> Result<()> {
        for n in list {
            if !names.contains(&n.as_str()) {
                bail!(
                    "unknown collector {n:?}; the collectors are: {}",
                    names.join(", ")
                );
            }
        }
        Ok(())
    };
    let only = args.only.clone().or(file.only.clone());
    let skip = args.skip.clone().or(file.skip.clone()).unwrap_or_default();
    if let Some(o) = &only {
        check(o)?;
    }
    check(&skip)?;
    let selected: Vec<String> = names
        .iter()
        .filter(|n| only.as_ref().is_none_or(|o| o.iter().any(|x| x == *n)))
        .filter(|n| !skip.iter().any(|x| x == *n))
        .map(|n| n.to_string())
        .collect();
    let mut options = Options {
        docker_host: args
            .docker_host
            .clone()
            .or(file.docker_host.clone())
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty())),
        mongodb_uri: mongodb_uri(args, &file)?,
        ..Options::default()
    };
    if let Some(s) = args.since.as_ref().or(file.since.as_ref()) {
        options.since = config::duration_in("--since", s, config::INTERVAL_RANGE)
            .map_err(anyhow::Error::msg)?;
    }
    if let Some(n) = args.log_lines.or(file.log_lines) {
        options.log_lines = config::count_in("--log-lines", n, config::LOG_LINES_RANGE)
            .map_err(anyhow::Error::msg)?;
    }
    if let Some(s) = args.log_bytes.as_ref().or(file.log_bytes.as_ref()) {
        options.log_bytes = config::size_in("--log-bytes", s, config::LOG_BYTES_RANGE)
            .map_err(anyhow::Error::msg)?;
    }
    if let Some(s) = args
        .docker_reply_max
        .as_ref()
        .or(file.docker_reply_max.as_ref())
    {
        let n = config::size_in("--docker-reply-max", s, rcdiag_agent::peer::REPLY_MAX_RANGE)
            .map_err(anyhow::Error::msg)?;
        rcdiag_agent::peer::set_reply_max(n);
    }
    if let Some(src) = args.log_source.or(file.log_source) {
        options.log_source = src;
    }
    if let Some(s) = args.timeout.as_ref().or(file.timeout.as_ref()) {
        options.timeout = config::duration_in("--timeout", s, config::TIMEOUT_RANGE)
            .map_err(anyhow::Error::msg)?;
    }
    let mut redact_patterns = file.redact_patterns.clone();
    redact_patterns.extend(args.redact_patterns.iter().cloned());
    let pseudonymize = match args.pseudonymize.as_ref().or(file.pseudonymize.as_ref()) {
        Some(list) => {
            rcdiag_agent::redact::pseudonym::Kind::parse_list(list).map_err(anyhow::Error::msg)?
        }
        None => Vec::new(),
    };
    Ok(Plan {
        encryption,
        recipients,
        out: out
            .cloned()
            .or(file.out.clone())
            .unwrap_or_else(|| PathBuf::from(".")),
        state_dir: args
            .state_dir
            .clone()
            .or(file.state_dir.clone())
            .unwrap_or_else(rcdiag_bundle::default_state_dir),
        options,
        collectors: selected,
        case: args.case.clone(),
        redact_patterns,
        pseudonymize,
        no_recipient,
    })
}

/// The MongoDB URI, from the first source given: `--mongodb-uri`, `--mongodb-uri-file`,
/// `RCDIAG_MONGODB_URI`, the config's `mongodb_uri_file`, the config's `mongodb_uri`.
fn mongodb_uri(args: &CollectOpts, file: &FileConfig) -> Result<Option<String>> {
    if let Some(u) = &args.mongodb_uri {
        return Ok(Some(u.clone()));
    }
    if let Some(f) = &args.mongodb_uri_file {
        return Ok(Some(config::read_uri_file(f).map_err(anyhow::Error::msg)?));
    }
    if let Some(u) = std::env::var("RCDIAG_MONGODB_URI")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
    {
        return Ok(Some(u));
    }
    if let Some(f) = &file.mongodb_uri_file {
        return Ok(Some(config::read_uri_file(f).map_err(anyhow::Error::msg)?));
    }
    Ok(file.mongodb_uri.clone())
}

fn dry_run(p: &Plan, command: &str) {
    let red = rcdiag_agent::redact::Redactor::new(&[]).expect("built-in rules compile");
    println!("rcdiag-agent {command} --dry-run: nothing will be written.\n");
    println!("collectors:");
    let endpoint = collectors::docker::endpoint(&p.options);
    // A local socket that is not there: Docker (and the MONGO_URL found through it) is
    // skipped, as the run would record it.
    let no_socket = endpoint
        .strip_prefix("unix://")
        .filter(|path| std::fs::symlink_metadata(path).is_err());
    for c in collectors::ALL {
        let on = p.collectors.iter().any(|n| n == c.name);
        let (mark, source) = match c.name {
            _ if !on => ("-", "not selected".to_string()),
            "docker" | "logs" => match no_socket {
                Some(path) => (
                    "-",
                    format!(
                        "skipped, no socket at {path} (pass --docker-host if Docker runs here)"
                    ),
                ),
                None => ("+", format!("from {endpoint}")),
            },
            "mongodb" | "rocketchat" => match (&p.options.mongodb_uri, no_socket) {
                (Some(u), _) => ("+", format!("from {}", red.redact_uri(u))),
                (None, Some(_)) => (
                    "-",
                    "skipped, no --mongodb-uri and no Docker to find the MONGO_URL of the Rocket.Chat containers in".to_string(),
                ),
                (None, None) => (
                    "+",
                    "from the MONGO_URL of the Rocket.Chat containers (skipped if none)".to_string(),
                ),
            },
            _ => ("+", "from this host".to_string()),
        };
        println!(
            "  {mark} {:<11} {source}  [{}]",
            format!("{}:", c.name),
            c.reads
        );
    }
    println!(
        "\nlogs: last {} of at most {} lines / {} per container",
        run::humantime(p.options.since),
        p.options.log_lines,
        human_bytes(p.options.log_bytes)
    );
    println!(
        "time limit per collector: {}",
        run::humantime(p.options.timeout)
    );
    match &p.encryption {
        Encryption::None if p.no_recipient => println!(
            "encryption: no recipient given: a real run needs support's key (-r age1... or -R FILE), or --no-encrypt"
        ),
        Encryption::None => println!("encryption: NONE (signed .rcdiag.zip, --no-encrypt)"),
        Encryption::Age { armor, .. } => println!(
            "encryption: age{} to {}",
            if *armor { " (armored)" } else { "" },
            p.recipients
                .iter()
                .map(|r| r.fingerprint())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    println!("output: {}", p.out.display());
    let key = p.state_dir.join(rcdiag_bundle::NODE_KEY_FILE);
    println!(
        "signing key: {}{}",
        key.display(),
        if key.exists() {
            ""
        } else {
            " (would be created)"
        }
    );
}

/// The run configuration of a plan.
fn run_config(p: &Plan, signer: &NodeKey, progress: Progress) -> RunConfig {
    RunConfig {
        encryption: p.encryption.clone(),
        out: p.out.clone(),
        signer: signer.clone(),
        options: p.options.clone(),
        collectors: p.collectors.clone(),
        case: p.case.clone(),
        redact_patterns: p.redact_patterns.clone(),
        progress,
        argv: std::env::args().collect(),
        pseudonymize: (!p.pseudonymize.is_empty())
            .then(|| (p.pseudonymize.clone(), p.state_dir.clone())),
        key_change: None,
    }
}

fn collect(args: CollectArgs) -> Result<ExitCode> {
    let p = match plan(&args.to, &args.opts, args.out.as_ref(), args.dry_run).and_then(|p| {
        check_out(
            &p.out,
            p.no_recipient || matches!(p.encryption, Encryption::Age { .. }),
        )
        .map(|()| p)
    }) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rcdiag-agent: error: {}", message(&e));
            return Ok(ExitCode::from(2));
        }
    };
    let upload = match upload::AfterCollect::prepare(
        args.upload.as_deref(),
        &args.upload_opts,
        args.opts.no_encrypt,
    ) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("rcdiag-agent: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.dry_run {
        dry_run(&p, "collect");
        if let Some(u) = &upload {
            println!("{}", u.describe());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (signer, key_change) = if args.new_node_key {
        let (k, r) = NodeKey::replace(&p.state_dir)?;
        (k, Some(r))
    } else {
        (NodeKey::load_or_create(&p.state_dir)?, None)
    };
    let progress = if args.quiet {
        Progress::Quiet
    } else {
        Progress::auto()
    };
    let mut cfg = run_config(&p, &signer, progress);
    cfg.key_change = key_change;
    cfg.argv = upload::scrub_argv(cfg.argv);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(run::run(cfg, shutdown_signal()));
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    let report = match result {
        Ok(r) => r,
        Err(RunError::Interrupted(sig)) => {
            eprintln!(
                "rcdiag-agent: interrupted by {sig}: no bundle was written and no temporary file is left"
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "{:<11} {:<8} {:>5} {:>10} {:>8}",
        "collector", "status", "files", "bytes", "time"
    );
    for (r, bytes) in &report.collectors {
        println!(
            "{:<11} {:<8} {:>5} {:>10} {:>7.1}s",
            r.name,
            r.status.as_str(),
            r.files.len(),
            human_bytes(*bytes),
            r.duration_ms as f64 / 1000.0
        );
        if let Some(e) = r.error.as_ref().filter(|_| r.status != CollectorStatus::Ok) {
            println!("            {e}");
        }
    }
    let b = &report.bundle;
    println!();
    println!(
        "bundle:     {} ({})",
        b.manifest.bundle_id,
        human_bytes(b.size)
    );
    match &p.encryption {
        Encryption::None => println!(
            "encrypted:  no (signed, unencrypted: inspect with unzip, then encrypt or send over a safe channel)"
        ),
        Encryption::Age { .. } => println!(
            "encrypted:  to {}",
            p.recipients
                .iter()
                .map(|r| r.fingerprint())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    println!(
        "signed by:  {} ({})",
        signer.fingerprint(),
        signer
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    println!(
        "redacted:   {}",
        if b.manifest.redaction.rules.is_empty() {
            "nothing matched".to_string()
        } else {
            b.manifest
                .redaction
                .rules
                .iter()
                .map(|(k, v)| format!("{k} x{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    println!("{}", b.path.display());
    let code = if report.degraded() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    };
    Ok(match &upload {
        Some(u) => u.run(&b.path, code, args.quiet),
        None => code,
    })
}

/// The scheduler's settings, checked; an `Err` is a usage error (exit 2).
struct SchedulePlan {
    trigger: Trigger,
    retention: Retention,
    default_retention: bool,
    jitter: Duration,
    count: Option<u64>,
}

fn schedule_plan(args: &ScheduleArgs) -> Result<SchedulePlan> {
    let duration = |flag: &str, v: &str, range| {
        config::duration_in(flag, v, range).map_err(anyhow::Error::msg)
    };
    let trigger = if let Some(e) = &args.every {
        let d = config::parse_duration(e).map_err(|e| anyhow::anyhow!("--every: {e}"))?;
        if d < schedule::MIN_INTERVAL {
            bail!(
                "--every {e} is too short: the shortest interval is 1s (bundle names have a one-second resolution)"
            );
        }
        Trigger::Every(duration("--every", e, config::INTERVAL_RANGE)?)
    } else if let Some(c) = &args.cron {
        Trigger::Cron(Box::new(Cron::parse(c).map_err(anyhow::Error::msg)?))
    } else {
        Trigger::Once
    };
    let jitter = match &args.jitter {
        Some(j) => duration("--jitter", j, config::JITTER_RANGE)?,
        None => Duration::ZERO,
    };
    if let Trigger::Every(d) = &trigger
        && jitter >= *d
    {
        bail!(
            "--jitter {} must be shorter than --every {}",
            run::humantime(jitter),
            run::humantime(*d)
        );
    }
    let mut retention = Retention {
        keep: args.keep,
        max_age: args
            .max_age
            .as_deref()
            .map(|a| duration("--max-age", a, config::INTERVAL_RANGE))
            .transpose()?,
        max_total: args
            .max_total
            .as_deref()
            .map(|t| {
                config::size_in("--max-total", t, config::MAX_TOTAL_RANGE)
                    .map_err(anyhow::Error::msg)
            })
            .transpose()?,
    };
    if retention.keep == Some(0) {
        bail!(
            "--keep 0 would keep nothing: give at least 1 (the newest good snapshot is always kept)"
        );
    }
    if retention.max_total == Some(0) {
        bail!("--max-total 0 would keep nothing: give a size such as 500M or 2G");
    }
    let default_retention = retention == Retention::default();
    if default_retention {
        retention.keep = Some(DEFAULT_KEEP);
    }
    if args.count == Some(0) {
        bail!(
            "--count 0 would take no snapshot: give at least 1, or leave it out to run until stopped"
        );
    }
    let count = if args.once { Some(1) } else { args.count };
    Ok(SchedulePlan {
        trigger,
        retention,
        default_retention,
        jitter,
        count,
    })
}

fn schedule_cmd(args: ScheduleArgs) -> Result<ExitCode> {
    let usage = |e: anyhow::Error| {
        eprintln!("rcdiag-agent: error: {}", message(&e));
        ExitCode::from(2)
    };
    let p = match plan(&args.to, &args.opts, Some(&args.dir), args.dry_run) {
        Ok(p) => p,
        Err(e) => return Ok(usage(e)),
    };
    let sp = match schedule_plan(&args) {
        Ok(s) => s,
        Err(e) => return Ok(usage(e)),
    };
    if args.dry_run {
        schedule_dry_run(&p, &sp, &args);
        return Ok(ExitCode::SUCCESS);
    }
    let signer = NodeKey::load_or_create(&p.state_dir)?;
    let log = match args.log_format {
        LogFormatArg::Auto => Logger::auto(args.quiet),
        LogFormatArg::Json => Logger {
            format: LogFormat::Json,
            quiet: args.quiet,
        },
        LogFormatArg::Text => Logger {
            format: LogFormat::Text,
            quiet: args.quiet,
        },
    };
    let cfg = ScheduleConfig {
        trigger: sp.trigger,
        dir: args.dir.clone(),
        retention: sp.retention,
        jitter: sp.jitter,
        count: sp.count,
        textfile_dir: args.textfile_dir.clone(),
        run: run_config(&p, &signer, Progress::Quiet),
        log,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(schedule::schedule(cfg, shutdown_signal()));
    rt.shutdown_timeout(Duration::from_secs(2));
    let summary = result?;
    let c = &summary.counters;
    Ok(
        if summary.stopped_by.is_some() || (c.failed == 0 && c.interrupted == 0 && c.degraded == 0)
        {
            ExitCode::SUCCESS
        } else if c.failed > 0 || c.interrupted > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::from(3)
        },
    )
}

fn schedule_dry_run(p: &Plan, sp: &SchedulePlan, args: &ScheduleArgs) {
    dry_run(p, "schedule");
    let now = jiff::Timestamp::now();
    println!();
    let first = match &sp.trigger {
        Trigger::Every(_) => ", the first snapshot right away",
        Trigger::Once => ": one snapshot now, then exit",
        Trigger::Cron(_) => "",
    };
    println!(
        "schedule: {}{first}{}",
        sp.trigger.describe(),
        if sp.jitter.is_zero() {
            String::new()
        } else {
            format!(
                " (each tick delayed by a random time below {})",
                run::humantime(sp.jitter)
            )
        }
    );
    let next: Vec<String> = sp
        .trigger
        .upcoming(now, 3)
        .into_iter()
        .map(snapshots::rfc3339)
        .collect();
    println!("next runs: {}", next.join(", "));
    match sp.count {
        Some(n) => println!("stops after: {n} snapshot(s)"),
        None => println!("stops on: SIGTERM or SIGINT"),
    }
    println!(
        "retention: {}{}; only snapshots listed in {} are ever deleted, and the newest good one is always kept",
        sp.retention.describe(),
        if sp.default_retention {
            " (default)"
        } else {
            ""
        },
        args.dir.join(snapshots::LEDGER_FILE).display()
    );
    println!(
        "status: {}",
        args.dir.join(snapshots::STATUS_FILE).display()
    );
    print!(
        "metrics: {}",
        args.dir.join(snapshots::METRICS_FILE).display()
    );
    if let Some(t) = &args.textfile_dir {
        print!(" and {}", t.join(snapshots::METRICS_FILE).display());
    }
    println!();
}

fn snapshots_list(dir: &std::path::Path, json: bool) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "{} is not a folder: pass the --dir given to `rcdiag-agent schedule` (e.g. /var/lib/rcdiag/snapshots)",
            dir.display()
        );
    }
    let (rows, warnings) = snapshots::list(dir)?;
    for w in &warnings {
        eprintln!("rcdiag-agent: warning: {w}");
    }
    let status = schedule::Status::load(dir);
    if json {
        let v = serde_json::json!({"dir": dir.display().to_string(), "snapshots": rows, "status": status});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no snapshots in {}", dir.display());
    } else {
        print!("{}", snapshots::render_list(&rows));
        let managed: Vec<&snapshots::Listed> = rows
            .iter()
            .filter(|r| r.managed && r.outcome != "missing")
            .collect();
        println!(
            "\n{} snapshot(s); {} written by the scheduler ({}); others are never deleted",
            rows.len(),
            managed.len(),
            human_bytes(managed.iter().map(|r| r.bytes).sum())
        );
    }
    if let Some(s) = status {
        let last = s
            .last_run
            .as_ref()
            .map(|l| format!("last run {} {}", l.finished_at, l.outcome))
            .unwrap_or_else(|| "no run yet".into());
        println!(
            "scheduler: {} ({}, pid {}); {last}; next run {}",
            s.state,
            s.schedule,
            s.pid,
            s.next_run.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return "signal";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

fn seal_cmd(a: SealArgs) -> Result<()> {
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

fn redact_cmd(a: RedactArgs) -> Result<()> {
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

fn pseudonym_lookup(token: &str, state_dir: Option<PathBuf>) -> Result<ExitCode> {
    let dir = state_dir.unwrap_or_else(rcdiag_bundle::default_state_dir);
    match rcdiag_agent::redact::pseudonym::lookup(&dir, token)? {
        Some(e) => {
            println!("{}", e.value);
            eprintln!("{token}: {:?}", e.kind);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "rcdiag-agent: {token} is not in the pseudonym map of {} (was the bundle made on this node, with this --state-dir?)",
                dir.display()
            );
            Ok(ExitCode::from(1))
        }
    }
}
