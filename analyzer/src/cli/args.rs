//! The command line: subcommands, flags and their help texts (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) const EXAMPLES: &str = "\
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
failure but a bundle's signer is not verified (no --trust), 6 check found no failure
but more than half of the checks that apply could not be decided (INCOMPLETE)
(grep: 0 match, 1 none, 2 error).
Identities: -i FILE (repeatable) or RCDIAG_IDENTITY=FILE[:FILE...]. Colour: NO_COLOR disables it.";

/// Verify, check and explore rcdiag diagnostics bundles of Rocket.Chat nodes, offline.
#[derive(Debug, Parser)]
#[command(name = "rcdiag-analyzer", version, after_help = EXAMPLES, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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

The report starts with the verdict, then the failures, then what to collect next
(each root cause once: a collector skipped or failed, a file unusable, with what to
ask the customer for and the checks it leaves undecided), then the warnings. Checks
refer to their cause by number (text) or link (Markdown, HTML); JSON has the full
reasons per check and a `causes` list. Passing checks show one evidence item unless
--verbose.

Exit status: 0 every check passed and every signer is pinned by --trust, 3 at least
one failed, 4 a warning or an unknown (and no failure), 5 no failure, but a bundle's
signer is not verified (run without --trust: anyone can sign a bundle), 6 no failure,
but more than half of the checks that apply are unknown (verdict INCOMPLETE: collect
what the causes name; checks shown N/A do not apply and count neither way), 1 a bundle could not be read or verified (with --keep-going: only when
none could; a skipped bundle makes the status at least 4), 2 usage error. 3 wins over
5, 5 over 6, 6 over 4.
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
        shell: rcdiag_clidocs::Shell,
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
pub(crate) struct OpenArgs {
    /// Private key that decrypts bundles: an age identity file (from `keygen` or age-keygen)
    /// or an unencrypted SSH private key; repeat for several [default: $RCDIAG_IDENTITY,
    /// one path or several separated by `:`]
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub(crate) identity: Vec<PathBuf>,

    /// OpenSSH allowed_signers file of trusted node keys; a bundle signed by any other key is
    /// refused ("not trusted")
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    pub(crate) trust: Option<PathBuf>,
}

/// Keys for `grep`, whose `-i` is --ignore-case.
#[derive(Debug, Args)]
pub(crate) struct GrepOpenArgs {
    /// Private key that decrypts bundles (age identity file or SSH private key); repeatable
    /// [default: $RCDIAG_IDENTITY]. No short form here: -i is --ignore-case
    #[arg(long = "identity", value_name = "FILE")]
    pub(crate) identity: Vec<PathBuf>,

    /// OpenSSH allowed_signers file of trusted node keys; other signers are refused
    #[arg(long, value_name = "ALLOWED_SIGNERS")]
    pub(crate) trust: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the identity (private key); created with mode 0600, never overwritten
    #[arg(short, long, value_name = "FILE", default_value = "rcdiag-support.key")]
    pub(crate) output: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub(crate) enum DataFormat {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub(crate) enum ReportFormat {
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
pub(crate) enum ColorWhen {
    /// When writing text to a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The bundle (.rcdiag encrypted, or .rcdiag.zip signed-plain)
    #[arg(value_name = "BUNDLE")]
    pub(crate) bundle: PathBuf,
    #[command(flatten)]
    pub(crate) open: OpenArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: DataFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ExtractArgs {
    /// The bundle
    #[arg(value_name = "BUNDLE")]
    pub(crate) bundle: PathBuf,
    /// Folder to create (or an empty one)
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    #[command(flatten)]
    pub(crate) open: OpenArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Bundles to check: every node of one installation. `s3://BUCKET/PREFIX/` reads the
    /// bundles under it (standard names only, at most 10,000 objects listed; credentials
    /// from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a role, AWS_REGION,
    /// AWS_ENDPOINT_URL for another S3 service)
    #[arg(value_name = "BUNDLE", required = true)]
    pub(crate) bundles: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) open: OpenArgs,
    #[command(flatten)]
    pub(crate) s3: S3Args,
    /// Go on when a bundle cannot be read, checking the others
    #[arg(long)]
    pub(crate) keep_going: bool,
    /// Policy file (TOML) instead of the built-in one; see `policy show`
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Judge version support at this date instead of each bundle's creation date
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub(crate) as_of: Option<jiff::civil::Date>,
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: ReportFormat,
    /// Write the report to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Colour the text report
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    pub(crate) color: ColorWhen,
    /// Text report: every evidence item of passing checks, full messages and every
    /// cause's full reason (by default passing checks show one evidence item)
    #[arg(short, long)]
    pub(crate) verbose: bool,
}

/// How `check s3://...` reads a bucket.
#[derive(Debug, Args)]
pub(crate) struct S3Args {
    /// With s3:// bundles: trust the S3 endpoint's certificate when signed by this CA (PEM)
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
    /// With s3:// bundles: skip objects larger than this (e.g. 500M, 2G) [default: 8G, the
    /// largest bundle the reader opens]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_object_size: Option<u64>,
}

/// `SIZE`: bytes, or with a k, M or G suffix (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 500M or 2G"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        u => return Err(format!("invalid size unit {u:?} in {s:?}: use k, M or G")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("size {s:?} must be more than 0 and fit in 64 bits"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
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
pub(crate) struct LsArgs {
    /// The bundle
    #[arg(value_name = "BUNDLE")]
    pub(crate) bundle: PathBuf,
    #[command(flatten)]
    pub(crate) open: OpenArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: DataFormat,
}

#[derive(Debug, Args)]
pub(crate) struct CatArgs {
    /// The bundle
    #[arg(value_name = "BUNDLE")]
    pub(crate) bundle: PathBuf,
    /// Path of the file inside the bundle (see `ls`)
    #[arg(value_name = "PATH")]
    pub(crate) path: String,
    /// Show control characters escaped (`\u{1b}`), line by line, instead of raw bytes
    #[arg(long)]
    pub(crate) escape: bool,
    #[command(flatten)]
    pub(crate) open: OpenArgs,
}

#[derive(Debug, Args)]
pub(crate) struct GrepArgs {
    /// Regular expression (Rust regex syntax)
    #[arg(value_name = "PATTERN")]
    pub(crate) pattern: String,
    /// Bundles to search
    #[arg(value_name = "BUNDLE", required = true)]
    pub(crate) bundles: Vec<PathBuf>,
    /// Match case-insensitively
    #[arg(short = 'i', long)]
    pub(crate) ignore_case: bool,
    /// Only files whose path matches GLOB (`*`, `**`, `?`); repeatable [default: logs/*.log]
    #[arg(long = "files", value_name = "GLOB")]
    pub(crate) files: Vec<String>,
    /// Search every text file, not only logs/*.log
    #[arg(long, conflicts_with = "files")]
    pub(crate) all: bool,
    #[command(flatten)]
    pub(crate) open: GrepOpenArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The older bundle
    #[arg(value_name = "OLD")]
    pub(crate) old: PathBuf,
    /// The newer bundle
    #[arg(value_name = "NEW")]
    pub(crate) new: PathBuf,
    #[command(flatten)]
    pub(crate) open: OpenArgs,
    /// Policy file whose log signatures are compared (default: built-in)
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: DataFormat,
}

pub(crate) fn parse_date(s: &str) -> Result<jiff::civil::Date, String> {
    s.parse::<jiff::civil::Date>()
        .map_err(|e| format!("expected a date like 2026-11-26: {e}"))
}
