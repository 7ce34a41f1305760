//! `rcdiag-analyzer`: verifies, checks and explores rcdiag diagnostics bundles
//! offline. The work is done by the `rcdiag_analyzer` library; this file parses the
//! command line, loads keys, opens bundles, prints and picks the exit status.
//!
//! Exit status: 0 ok (for `check`: nothing failed or warned; for `grep`: a match),
//! 1 a bundle (or key) could not be read or verified (`grep`: no match), 2 usage
//! error (`grep`: any error), 3 `check` found a failure, 4 `check` found a warning or
//! could not decide, 5 `check` found no failure but a signer is not pinned (`--trust`).

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use rcdiag_analyzer::checks::{self, CheckInput};
use rcdiag_analyzer::diff::diff_nodes;
use rcdiag_analyzer::explore::{self, ExploreError, Glob, GrepOptions};
use rcdiag_analyzer::model::NodeData;
use rcdiag_analyzer::policy::Policy;
use rcdiag_analyzer::report::{
    self, BundleInfo, PolicyRef, Report, ReportOutcome, TextStyle, VerifySummary, sanitize_line,
};
use rcdiag_bundle::{Bundle, Identity, OpenOptions, TrustedSigners};

mod clidocs;

const EXAMPLES: &str = "\
Examples:
  # once, on the support side: make a key pair; give customers the printed age1... recipient
  rcdiag-analyzer keygen -o ~/.config/rcdiag/support.key

  # check a bundle a customer sent against Rocket.Chat's support requirements
  export RCDIAG_IDENTITY=~/.config/rcdiag/support.key
  rcdiag-analyzer check rcdiag-node1-20261126T050000Z.rcdiag
  rcdiag-analyzer check node1.rcdiag node2.rcdiag --format html -o report.html

  # is it intact and who signed it? pin node keys with an OpenSSH allowed_signers file
  rcdiag-analyzer verify node1.rcdiag --trust allowed_signers

  # look inside without extracting anything to disk
  rcdiag-analyzer ls node1.rcdiag
  rcdiag-analyzer cat node1.rcdiag rocketchat/summary.json | jq .version
  rcdiag-analyzer grep -i 'MongoServerSelectionError' node1.rcdiag node2.rcdiag

  # what changed since last week?
  rcdiag-analyzer diff last-week.rcdiag today.rcdiag

Exit status: 0 ok, 1 a bundle could not be read or verified, 2 usage error,
3 check found a failure, 4 check found a warning or an unknown, 5 check found no
failure but a bundle's signer is not verified (no --trust) (grep: 0 match, 1 none, 2 error).
Identities: -i FILE (repeatable) or RCDIAG_IDENTITY=FILE[:FILE...]. Colour: NO_COLOR disables it.";

/// Verify, check and explore rcdiag diagnostics bundles of Rocket.Chat nodes, offline.
#[derive(Debug, Parser)]
#[command(name = "rcdiag-analyzer", version, after_help = EXAMPLES, propagate_version = true, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a support key pair: writes the private identity, prints the age1... recipient.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer keygen                       # writes ./rcdiag-support.key
  rcdiag-analyzer keygen -o ~/.config/rcdiag/support.key > recipient.txt

Only the recipient (age1...) goes to standard output, so it can be captured; every
message goes to standard error. The identity file is created with mode 0600 and is
never overwritten. Give the recipient to customers (rcdiag-agent --recipient age1...)
and keep the identity: `-i FILE` (or RCDIAG_IDENTITY) decrypts their bundles.")]
    Keygen(KeygenArgs),

    /// Verify a bundle: decryption, signature, every file's SHA-256; print what it holds.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer verify node1.rcdiag -i support.key
  rcdiag-analyzer verify node1.rcdiag -i support.key --trust allowed_signers
  rcdiag-analyzer verify node1.rcdiag.zip --format json | jq .trust

Exit status: 0 the bundle is intact (and, with --trust, signed by a trusted key);
1 it is not, with the reason on standard error.")]
    Verify(VerifyArgs),

    /// Extract a verified bundle into a new (or empty) folder.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer extract node1.rcdiag ./node1 -i support.key

Nothing is written unless the whole bundle verifies; entry names are checked so
nothing can land outside DIR; existing files are never overwritten. Prefer ls, cat
and grep, which read inside the bundle without putting plaintext on disk.")]
    Extract(ExtractArgs),

    /// Check bundles against Rocket.Chat's support requirements; report text, JSON, Markdown or HTML.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer check node1.rcdiag -i support.key
  rcdiag-analyzer check node*.rcdiag --keep-going --format markdown > ticket.md
  rcdiag-analyzer check node1.rcdiag --format html -o report.html
  rcdiag-analyzer check node1.rcdiag --format json | jq '.checks[] | select(.outcome==\"fail\")'
  rcdiag-analyzer check node1.rcdiag --as-of 2027-01-01 --policy my-policy.toml

Give every node of one installation at once: checks such as the replica set or the
scale of the installation look across nodes.

Exit status: 0 every check passed and every signer is pinned by --trust, 3 at least
one failed, 4 a warning or an unknown (and no failure), 5 no failure, but a bundle's
signer is not verified (run without --trust: anyone can sign a bundle), 1 a bundle
could not be read or verified (with --keep-going: only when none could; a skipped
bundle makes the status at least 4), 2 usage error.
Without --trust, the report says so in its first line and its summary.")]
    Check(CheckArgs),

    /// Show or validate a policy (the facts and thresholds checks apply).
    #[command(subcommand)]
    Policy(PolicyCommand),

    /// List the files of a bundle: size, collector, path, truncation.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer ls node1.rcdiag -i support.key
  rcdiag-analyzer ls node1.rcdiag --format json | jq -r '.[].path'")]
    Ls(LsArgs),

    /// Print one file of a bundle to standard output, read from inside the bundle.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer cat node1.rcdiag docker/containers.json | jq '.[].image'
  rcdiag-analyzer cat node1.rcdiag logs/rocketchat-rocketchat-1.log | less
  rcdiag-analyzer cat node1.rcdiag logs/rocketchat-rocketchat-1.log --escape

The output is RAW: the file's bytes exactly as the bundle holds them, escape
sequences included, whether or not standard output is a terminal. A bundle comes
from outside: to read one on a terminal, pass --escape (control characters shown
as \\u{1b}, like grep and check show them) or pipe it into a pager such as less.

The file's SHA-256 is checked as it is read: if it does not match the signed
manifest, the status is 1 and an error is printed after the content.")]
    Cat(CatArgs),

    /// Search log lines (or every text file) of bundles with a regular expression.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer grep MongoServerSelectionError node1.rcdiag node2.rcdiag
  rcdiag-analyzer grep -i 'deprecat' node1.rcdiag --files 'logs/rocketchat-*.log'
  rcdiag-analyzer grep '\"ok\": false' node1.rcdiag --all --identity support.key

Output is ripgrep-like: NODE:FILE:LINE_NO:LINE. Here -i means --ignore-case, as in
grep: give the key with --identity FILE or RCDIAG_IDENTITY.
The regex syntax is Rust's regex crate (like ripgrep's default).

Exit status: 0 a line matched, 1 no line matched, 2 an error.")]
    Grep(GrepArgs),

    /// Compare two bundles of one node: versions, containers, restarts, settings, users, disks, logs.
    #[command(after_help = "\
Examples:
  rcdiag-analyzer diff node1-monday.rcdiag node1-friday.rcdiag -i support.key
  rcdiag-analyzer diff old.rcdiag new.rcdiag --format json | jq '.changes[] | select(.area==\"containers\")'

A warning is printed when the bundles come from different nodes or OLD is newer than NEW.
Exit status: 0 compared (with or without differences), 1 a bundle could not be read.")]
    Diff(DiffArgs),

    /// Print a shell completion script (e.g. `rcdiag-analyzer completions bash > /etc/bash_completion.d/rcdiag-analyzer`).
    Completions {
        /// The shell
        #[arg(value_name = "SHELL", value_enum)]
        shell: clap_complete::Shell,
    },

    /// For packagers: write the man pages (rcdiag-analyzer.1, rcdiag-analyzer-check.1, ...) into DIR, which must exist.
    #[command(hide = true)]
    ManPages {
        /// The folder to write the pages into
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Keys to open bundles with.
#[derive(Debug, Args)]
struct OpenArgs {
    /// Private key that decrypts bundles: an age identity file (from `keygen` or age-keygen)
    /// or an unencrypted SSH private key; repeat for several [default: $RCDIAG_IDENTITY,
    /// one path or several separated by `:`]
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    identity: Vec<PathBuf>,

    /// OpenSSH allowed_signers file of trusted node keys; a bundle signed by any other key is
    /// refused ("not trusted")
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    trust: Option<PathBuf>,
}

/// Keys for `grep`, whose `-i` is --ignore-case.
#[derive(Debug, Args)]
struct GrepOpenArgs {
    /// Private key that decrypts bundles (age identity file or SSH private key); repeatable
    /// [default: $RCDIAG_IDENTITY]. No short form here: -i is --ignore-case
    #[arg(long = "identity", value_name = "FILE")]
    identity: Vec<PathBuf>,

    /// OpenSSH allowed_signers file of trusted node keys; other signers are refused
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    trust: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct KeygenArgs {
    /// Where to write the identity (private key); created with mode 0600, never overwritten
    #[arg(short, long, value_name = "FILE", default_value = "rcdiag-support.key")]
    output: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum DataFormat {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum ReportFormat {
    /// Plain text for a terminal, grouped by area.
    #[default]
    Text,
    /// rcdiag.report/v1 (schema: analyzer/schema/report.schema.json).
    Json,
    /// Markdown to paste into a ticket.
    #[value(alias = "md")]
    Markdown,
    /// One self-contained HTML file.
    Html,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum ColorWhen {
    /// When writing text to a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The bundle (.rcdiag encrypted, or .rcdiag.zip signed-plain)
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    #[command(flatten)]
    open: OpenArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: DataFormat,
}

#[derive(Debug, Args)]
struct ExtractArgs {
    /// The bundle
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    /// Folder to create (or an empty one)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    #[command(flatten)]
    open: OpenArgs,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Bundles to check: every node of one installation
    #[arg(value_name = "BUNDLE", required = true)]
    bundles: Vec<PathBuf>,
    #[command(flatten)]
    open: OpenArgs,
    /// Go on when a bundle cannot be read, checking the others
    #[arg(long)]
    keep_going: bool,
    /// Policy file (TOML) instead of the built-in one; see `policy show`
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Judge version support at this date instead of each bundle's creation date
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    as_of: Option<jiff::civil::Date>,
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
    /// Write the report to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Colour the text report
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    color: ColorWhen,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the effective policy as TOML (the built-in one, or FILE validated)
    #[command(after_help = "\
Examples:
  rcdiag-analyzer policy show > my-policy.toml      # start a custom policy from the built-in one
  rcdiag-analyzer policy show --policy my-policy.toml")]
    Show {
        /// Policy file to load instead of the built-in one
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Validate a policy file; lists every problem (exit 1) or says it is valid (exit 0)
    #[command(visible_alias = "validate")]
    Check {
        /// The policy file (TOML)
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
struct LsArgs {
    /// The bundle
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    #[command(flatten)]
    open: OpenArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: DataFormat,
}

#[derive(Debug, Args)]
struct CatArgs {
    /// The bundle
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
    /// Path of the file inside the bundle (see `ls`)
    #[arg(value_name = "PATH")]
    path: String,
    /// Show control characters escaped (`\u{1b}`), line by line, instead of raw bytes
    #[arg(long)]
    escape: bool,
    #[command(flatten)]
    open: OpenArgs,
}

#[derive(Debug, Args)]
struct GrepArgs {
    /// Regular expression (Rust regex syntax)
    #[arg(value_name = "PATTERN")]
    pattern: String,
    /// Bundles to search
    #[arg(value_name = "BUNDLE", required = true)]
    bundles: Vec<PathBuf>,
    /// Match case-insensitively
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Only files whose path matches GLOB (`*`, `**`, `?`); repeatable [default: logs/*.log]
    #[arg(long = "files", value_name = "GLOB")]
    files: Vec<String>,
    /// Search every text file, not only logs/*.log
    #[arg(long, conflicts_with = "files")]
    all: bool,
    #[command(flatten)]
    open: GrepOpenArgs,
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The older bundle
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The newer bundle
    #[arg(value_name = "NEW")]
    new: PathBuf,
    #[command(flatten)]
    open: OpenArgs,
    /// Policy file whose log signatures are compared (default: built-in)
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    format: DataFormat,
}

fn parse_date(s: &str) -> Result<jiff::civil::Date, String> {
    s.parse::<jiff::civil::Date>()
        .map_err(|e| format!("expected a date like 2026-11-26: {e}"))
}

/// Exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok = 0,
    Error = 1,
    Usage = 2,
    Fail = 3,
    Warn = 4,
    /// `check`: no check failed, but a bundle's signer is not pinned (no `--trust`).
    Unverified = 5,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s as u8)
    }
}

/// An error in what the user asked for (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// An error already printed (exit with this status, print nothing more).
#[derive(Debug, thiserror::Error)]
#[error("exit {0:?}")]
struct Reported(Status);

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
        Command::Keygen(a) => keygen(&a),
        Command::Verify(a) => verify(&a),
        Command::Extract(a) => extract(&a),
        Command::Check(a) => check(&a),
        Command::Policy(PolicyCommand::Show { policy }) => policy_show(policy.as_deref()),
        Command::Policy(PolicyCommand::Check { file }) => policy_check(&file),
        Command::Ls(a) => ls(&a),
        Command::Cat(a) => cat(&a),
        Command::Grep(a) => grep(&a),
        Command::Diff(a) => diff(&a),
        Command::Completions { shell } => {
            clidocs::completions(Cli::command(), "rcdiag-analyzer", VERSION, shell)
                .map_err(|e| anyhow!("cannot write the completion script: {e}"))?;
            Ok(Status::Ok)
        }
        Command::ManPages { dir } => man_pages(&dir),
    }
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn man_pages(dir: &Path) -> anyhow::Result<Status> {
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "{} is not a folder: create it first (mkdir -p {})",
            dir.display(),
            dir.display()
        ))
        .into());
    }
    let pages = clidocs::man_pages(Cli::command(), "rcdiag-analyzer", VERSION, dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    for p in pages {
        println!("{}", dir.join(p).display());
    }
    Ok(Status::Ok)
}

// ---------------------------------------------------------------------------------
// Keys and opening bundles.

/// Identities and trusted signers, loaded once per run.
struct Keys {
    identities: Vec<Identity>,
    trusted: Option<TrustedSigners>,
}

impl Keys {
    fn load(identity: &[PathBuf], trust: Option<&Path>) -> anyhow::Result<Self> {
        let paths: Vec<PathBuf> = if identity.is_empty() {
            std::env::var_os("RCDIAG_IDENTITY")
                .map(|v| {
                    v.to_string_lossy()
                        .split(':')
                        .filter(|p| !p.trim().is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            identity.to_vec()
        };
        let mut identities = Vec::new();
        for p in &paths {
            identities.extend(Identity::load_file(p)?);
        }
        let trusted = match trust {
            None => None,
            Some(p) => {
                let t = TrustedSigners::load(p)?;
                if t.is_empty() {
                    return Err(UsageError(format!(
                        "allowed signers {}: no key applies to rcdiag bundles, so every bundle would be refused; \
                         add lines like `node1 ssh-ed25519 AAAA...` (the node's node_ed25519.pub)",
                        p.display()
                    ))
                    .into());
                }
                Some(t)
            }
        };
        Ok(Self {
            identities,
            trusted,
        })
    }

    fn options(&self) -> OpenOptions<'_> {
        OpenOptions {
            identities: &self.identities,
            trusted: self.trusted.as_ref(),
            require_trusted: self.trusted.is_some(),
            ..Default::default()
        }
    }

    fn open(&self, path: &Path) -> Result<Bundle, rcdiag_bundle::Error> {
        Bundle::open(path, &self.options())
    }

    /// Opens a bundle for loading into the model: names, limits, signature and file set
    /// are checked now; each file's hash is checked as the model reads it, and whatever
    /// it did not read is checked by `verify_contents` afterwards: every byte is verified
    /// and read once.
    fn open_for_model(&self, path: &Path) -> Result<Bundle, rcdiag_bundle::Error> {
        Bundle::open(
            path,
            &OpenOptions {
                skip_content_check: true,
                ..self.options()
            },
        )
    }
}

/// `error: <bundle>: <reason>` on standard error.
fn report_bundle_error(path: &Path, e: &dyn std::fmt::Display) {
    eprintln!(
        "error: {}: {}",
        sanitize_line(&path.display().to_string()),
        sanitize_line(&e.to_string())
    );
}

/// Opens one bundle or reports why not (status 1).
fn open_or_report(keys: &Keys, path: &Path) -> anyhow::Result<Bundle> {
    keys.open(path).map_err(|e| {
        report_bundle_error(path, &e);
        Reported(Status::Error).into()
    })
}

fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    match path {
        None => Ok(Policy::builtin()),
        Some(p) => Policy::load(p).map_err(|e| {
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
fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

// ---------------------------------------------------------------------------------
// Commands.

fn keygen(a: &KeygenArgs) -> anyhow::Result<Status> {
    let key = rcdiag_bundle::generate_support_key();
    if let Err(e) = rcdiag_bundle::write_new_secret_file(&a.output, key.identity_file.as_bytes()) {
        let hint = match e.kind() {
            io::ErrorKind::AlreadyExists => {
                "it already exists and rcdiag never overwrites a key: choose another -o FILE, or move the old key away first"
                    .to_string()
            }
            io::ErrorKind::NotFound => "its folder does not exist: create it first".to_string(),
            _ => e.to_string(),
        };
        return Err(anyhow!(
            "cannot write the identity to {}: {hint}",
            a.output.display()
        ));
    }
    eprintln!(
        "wrote the support identity (private key) to {} (mode 0600): keep it secret and backed up;\n\
         decrypt bundles with `-i {}` or RCDIAG_IDENTITY={}.\n\
         Give customers this recipient (rcdiag-agent --recipient ...):",
        a.output.display(),
        a.output.display(),
        a.output.display()
    );
    print_stdout(&format!("{}\n", key.recipient))?;
    Ok(Status::Ok)
}

fn verify(a: &VerifyArgs) -> anyhow::Result<Status> {
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let file = display(&a.bundle);
    match keys.open(&a.bundle) {
        Ok(bundle) => {
            let s = VerifySummary::valid(&file, &bundle);
            print_stdout(&match a.format {
                DataFormat::Text => s.render_text(),
                DataFormat::Json => s.to_json(),
            })?;
            Ok(Status::Ok)
        }
        Err(e) => {
            if let DataFormat::Json = a.format {
                print_stdout(&VerifySummary::invalid(&file, &e.to_string()).to_json())?;
            }
            report_bundle_error(&a.bundle, &e);
            Ok(Status::Error)
        }
    }
}

fn extract(a: &ExtractArgs) -> anyhow::Result<Status> {
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let mut bundle = open_or_report(&keys, &a.bundle)?;
    match bundle.extract_to(&a.dir) {
        Ok(written) => {
            print_stdout(&format!(
                "extracted {} files (with manifest.json and its signature) to {}\n",
                written.len(),
                a.dir.display()
            ))?;
            Ok(Status::Ok)
        }
        Err(e) => {
            report_bundle_error(&a.bundle, &e);
            Ok(Status::Error)
        }
    }
}

/// Labels of the bundles as checks cite them: the file name, or the whole path when
/// two bundles share a file name.
fn bundle_labels(paths: &[PathBuf]) -> Vec<String> {
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| display(p))
        })
        .collect();
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for n in &names {
        *count.entry(n.as_str()).or_default() += 1;
    }
    names
        .iter()
        .zip(paths)
        .map(|(n, p)| {
            if count.get(n.as_str()).copied().unwrap_or(0) > 1 {
                display(p)
            } else {
                n.clone()
            }
        })
        .collect()
}

/// Most bundles loaded at once.
const MAX_LOAD_THREADS: usize = 4;

/// Runs `load(0)`, `load(1)`, ... `load(count - 1)` on up to as many threads as the
/// machine runs at once, and returns the results in order. A bundle takes tens of
/// milliseconds to verify and scan (decryption, inflation and hashing dominate), so
/// several bundles are loaded side by side. Indexes are taken in increasing order; once
/// a call returns `(_, true)` no further index is started, so only results after the
/// first stopping one can be `None`: read in order up to it, they are what loading one
/// by one would have given.
fn load_bundles<T: Send>(count: usize, load: impl Fn(usize) -> (T, bool) + Sync) -> Vec<Option<T>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let work = || {
        let mut done = Vec::new();
        while !stopped.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= count {
                break;
            }
            let (result, stop) = load(i);
            if stop {
                stopped.store(true, Ordering::SeqCst);
            }
            done.push((i, result));
        }
        done
    };
    // At most 4 at once: each bundle being loaded may hold up to its memory budget
    // (see rcdiag_analyzer::model), so the peak stays bounded on a large machine.
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_LOAD_THREADS)
        .min(count);
    let mut results: Vec<Option<T>> = (0..count).map(|_| None).collect();
    std::thread::scope(|s| {
        // This thread works too, so a failure to start threads only costs speed.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|n| {
                std::thread::Builder::new()
                    .name(format!("rcdiag-load-{n}"))
                    .spawn_scoped(s, work)
                    .ok()
            })
            .collect();
        let mut done = work();
        for h in helpers {
            match h.join() {
                Ok(d) => done.extend(d),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (i, r) in done {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        }
    });
    results
}

fn check(a: &CheckArgs) -> anyhow::Result<Status> {
    let policy = load_policy(a.policy.as_deref())?;
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let labels = bundle_labels(&a.bundles);
    let mut infos = Vec::new();
    let mut nodes = Vec::new();
    let mut skipped = Vec::new();
    let loaded = load_bundles(a.bundles.len(), |i| {
        let (path, label) = (&a.bundles[i], &labels[i]);
        let file = display(path);
        let loaded = keys.open_for_model(path).and_then(|mut b| {
            let node = NodeData::load(&mut b, label, &policy)?;
            b.verify_contents()?;
            Ok((
                BundleInfo::verified(&file, &b.manifest().node.hostname, &b),
                node,
            ))
        });
        // Without --keep-going the run stops at the first bundle that fails.
        let stop = loaded.is_err() && !a.keep_going;
        (loaded, stop)
    });
    for (path, loaded) in a.bundles.iter().zip(loaded) {
        let file = display(path);
        // Only bundles after one that stopped the run are left unloaded.
        let Some(loaded) = loaded else { break };
        match loaded {
            Ok((info, node)) => {
                infos.push(info);
                nodes.push(node);
            }
            Err(e) => {
                report_bundle_error(path, &e);
                if !a.keep_going {
                    if a.bundles.len() > 1 {
                        eprintln!("hint: pass --keep-going to check the other bundles anyway");
                    }
                    return Ok(Status::Error);
                }
                skipped.push(format!("{file} was skipped: {e}"));
                infos.push(BundleInfo::failed(&file, &e.to_string()));
            }
        }
    }
    if nodes.is_empty() {
        eprintln!("error: no bundle could be read; nothing to check");
        return Ok(Status::Error);
    }
    let results = checks::run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: a.as_of,
        trust_given: keys.trusted.is_some(),
    });
    let mut notes = skipped.clone();
    notes.extend(checks::cluster_notes(&nodes));
    let report = Report::new(
        PolicyRef {
            name: policy.name.clone(),
            version: policy.version,
            as_of: policy.as_of.to_string(),
        },
        a.as_of,
        infos,
        notes,
        &results,
    );
    let text = match a.format {
        ReportFormat::Text => {
            let color = match a.color {
                ColorWhen::Always => true,
                ColorWhen::Never => false,
                ColorWhen::Auto => {
                    a.output.is_none()
                        && io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            report::render_text(
                &report,
                if color {
                    TextStyle::Color
                } else {
                    TextStyle::Plain
                },
            )
        }
        ReportFormat::Json => report.to_json(),
        ReportFormat::Markdown => report::render_markdown(&report),
        ReportFormat::Html => report::render_html(&report),
    };
    match &a.output {
        None => print_stdout(&text)?,
        Some(out) => {
            fs::write(out, text.as_bytes())
                .with_context(|| format!("cannot write the report to {}", out.display()))?;
            eprintln!(
                "wrote the report to {} ({})",
                out.display(),
                report.summary.line()
            );
        }
    }
    let mut verdict = report.summary.verdict();
    if !skipped.is_empty() && verdict == ReportOutcome::Pass {
        verdict = ReportOutcome::Unknown;
    }
    // A pass (or warning) of bundles whose signers nobody pinned is not the same
    // result as one of trusted bundles: anyone can sign a bundle.
    Ok(match verdict {
        ReportOutcome::Fail => Status::Fail,
        _ if report.summary.unverified_signers > 0 => Status::Unverified,
        ReportOutcome::Pass => Status::Ok,
        ReportOutcome::Warn | ReportOutcome::Unknown => Status::Warn,
    })
}

fn policy_show(path: Option<&Path>) -> anyhow::Result<Status> {
    let policy = load_policy(path)?;
    print_stdout(&policy.to_toml())?;
    Ok(Status::Ok)
}

fn policy_check(file: &Path) -> anyhow::Result<Status> {
    match Policy::load(file) {
        Ok(p) => {
            println!(
                "{}: valid policy {:?} version {} (facts as of {})",
                file.display(),
                p.name,
                p.version,
                p.as_of
            );
            Ok(Status::Ok)
        }
        Err(rcdiag_analyzer::policy::PolicyError::Invalid(problems)) => {
            eprintln!("error: {}: {} problem(s):", file.display(), problems.len());
            for p in problems {
                eprintln!("  - {}", sanitize_line(&p));
            }
            eprintln!(
                "fix them and run `rcdiag-analyzer policy check {}` again",
                file.display()
            );
            Ok(Status::Error)
        }
        Err(e) => {
            eprintln!(
                "error: {}: {}",
                file.display(),
                sanitize_line(&e.to_string())
            );
            Ok(Status::Error)
        }
    }
}

fn ls(a: &LsArgs) -> anyhow::Result<Status> {
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

fn cat(a: &CatArgs) -> anyhow::Result<Status> {
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

fn grep(a: &GrepArgs) -> anyhow::Result<Status> {
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

/// True when `path` starts like an age identity or an SSH private key.
fn looks_like_identity(path: &Path) -> bool {
    let mut head = [0u8; 64];
    let n = fs::File::open(path)
        .and_then(|mut f| io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    head.starts_with("AGE-SECRET-KEY-")
        || head.starts_with("# created:")
        || head.starts_with("-----BEGIN OPENSSH PRIVATE KEY")
}

fn diff(a: &DiffArgs) -> anyhow::Result<Status> {
    let policy = load_policy(a.policy.as_deref())?;
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let labels = bundle_labels(&[a.old.clone(), a.new.clone()]);
    let load = |path: &Path, label: &str| -> anyhow::Result<NodeData> {
        let mut b = open_or_report(&keys, path)?;
        NodeData::load(&mut b, label, &policy).map_err(|e| {
            report_bundle_error(path, &e);
            Reported(Status::Error).into()
        })
    };
    let old = load(&a.old, &labels[0])?;
    let new = load(&a.new, &labels[1])?;
    let d = diff_nodes(&display(&a.old), &old, &display(&a.new), &new);
    if let DataFormat::Json = a.format {
        // The text output shows them in place; JSON readers may not look.
        for w in &d.warnings {
            eprintln!("warning: {}", sanitize_line(w));
        }
    }
    print_stdout(&match a.format {
        DataFormat::Text => d.render_text(),
        DataFormat::Json => d.to_json(),
    })?;
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bundle_labels_use_file_names_unless_ambiguous() {
        let l = bundle_labels(&[
            PathBuf::from("a/x.rcdiag"),
            PathBuf::from("b/x.rcdiag"),
            PathBuf::from("c/y.rcdiag"),
        ]);
        assert_eq!(l, ["a/x.rcdiag", "b/x.rcdiag", "y.rcdiag"]);
    }
}
