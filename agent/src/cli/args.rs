//! The command line of `rcdiag-agent`: every subcommand, flag and help text (clap
//! derive). Parsing only; the handlers are in the sibling modules.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use rcdiag_agent::collectors;

use super::upload::UploadArgs;
use rcdiag_agent::upload;

pub const EXAMPLES: &str = "\
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
  # or into your own S3 bucket (credentials from AWS_* / AWS_PROFILE / the instance role):
  sudo rcdiag-agent collect -r age1... --upload s3://my-bucket/rcdiag/

Exit status of collect: 0 bundle written and every collector ok or skipped;
3 bundle written but a collector failed, timed out or was partial; 1 no bundle written;
4 bundle written but its upload (--upload) failed: the bundle is kept.";

pub const UPLOAD_HELP: &str = "\
One HTTP PUT per file to the link (a presigned S3, GCS or Azure SAS URL, or a support
portal's upload URL), streamed from disk, with Content-Length and Content-MD5 (and
x-amz-checksum-sha256 when the link signs it). Server errors (5xx, 408, 429), network
errors, stalls and attempts past their limit are retried with exponential backoff
(1s, 2s, 4s, ...); a refusal (401/403 expired or wrong link, 404, 413 too large) is not.
Only encrypted bundles are sent. The link's query string is its signature, a credential:
it is never printed. Every user of the machine can read a command line while it runs.
HTTPS_PROXY / NO_PROXY are followed; redirects are not. Files are never changed or
deleted.

An s3://BUCKET/PREFIX/ target puts each file at PREFIX + its file name. Credentials:
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the profile
AWS_PROFILE (default: default) of ~/.aws/credentials and ~/.aws/config, else web
identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), the container's or the
instance's role. Region: AWS_REGION, AWS_DEFAULT_REGION, the profile, else us-east-1;
another S3 service: AWS_ENDPOINT_URL (https only). Files up to 8 MiB go in one PUT,
larger ones as a multipart upload; each request carries x-amz-checksum-sha256, and the
object's size is read back.

Examples:
  rcdiag-agent upload rcdiag-node1-20261203T080000Z.rcdiag --to 'https://...'
  rcdiag-agent upload *.rcdiag --to 'https://.../case-123/'     # a folder link: names appended
  rcdiag-agent upload b.rcdiag --to 'https://...' --ca-file /etc/ssl/proxy-ca.pem
  AWS_PROFILE=support rcdiag-agent upload *.rcdiag --to s3://acme-rcdiag/case-123/

Exit status: 0 every file sent; 1 an upload failed (the files are kept); 2 invalid
options, link or file (nothing sent).";

pub const SCHEDULE_HELP: &str = "\
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
  rcdiag-agent schedule --every 6h --dir /srv/rcdiag --upload s3://acme-rcdiag/fleet/ -r age1...

With --upload TARGET each snapshot is uploaded right after it is written (to an
s3://BUCKET/PREFIX/ target under PREFIX/<node>/, one prefix per node; to a folder link
ending in /, under its file name), then up to 5 snapshots of earlier ticks whose upload
failed. The outcome is in the log, the ledger, status.json (\"upload\") and rcdiag.prom
(rcdiag_last_upload_success_timestamp_seconds, rcdiag_upload_failures,
rcdiag_uploads_pending). A failed upload never deletes a snapshot, and retention keeps
snapshots not uploaded yet past --keep and --max-age; only --max-total deletes them
(logged as snapshot_deleted_not_uploaded).

Exit status: 0 stopped by SIGTERM/SIGINT, or every snapshot (--count/--once) written with
every collector ok or skipped; 3 written but a collector failed, timed out or was partial;
1 a snapshot wrote no bundle, or the folder cannot be used; 2 invalid options or config.";

/// Collects host, Docker, log, MongoDB and Rocket.Chat diagnostics of this node into one
/// signed, encrypted bundle for Rocket.Chat support. Secrets are redacted before anything
/// is written; the plaintext never touches the disk.
#[derive(Parser)]
#[command(name = "rcdiag-agent", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
    /// Upload bundles to an HTTPS upload link from support (a presigned PUT URL) or an s3:// bucket.
    #[command(after_help = UPLOAD_HELP)]
    Upload(Box<UploadArgs>),
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
        shell: rcdiag_clidocs::Shell,
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
pub enum PseudonymsCommand {
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

pub const SEAL_HELP: &str = "The review flow: `collect --no-encrypt` writes a signed plain \
`.rcdiag.zip`; look at it (unzip -l, unzip -p, `rcdiag-agent redact` to remove more); \
then `seal` encrypts it byte for byte to support's key. Its signature still verifies, \
and support sees that it was sealed after review.

Examples:
  rcdiag-agent seal rcdiag-node1-20261203T080000Z.rcdiag.zip -r age1... --remove-plain";

pub const REDACT_HELP: &str = "Every file is passed again through the built-in rules and \
the given ones; the new bundle keeps the collectors' records, is signed by this node's \
key, and its manifest records the re-redaction (which rules, how many replacements). \
The input is never changed. Then `seal` the new bundle to send it.

Examples:
  rcdiag-agent redact b.rcdiag.zip --literal 'Project Falcon' --pattern 'ACME-[0-9]{6}' -o out/
  rcdiag-agent seal out/rcdiag-....rcdiag.zip -r age1...";

/// `rcdiag-agent seal`.
#[derive(Args, Debug)]
pub struct SealArgs {
    /// The signed plain bundle (`.rcdiag.zip`).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub to: RecipientArgs,
    /// Output folder (the input's name without `.zip`) or file, whose name must end in
    /// `.rcdiag` [default: the input's folder].
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// ASCII-armored age output.
    #[arg(long)]
    pub armor: bool,
    /// Remove the plain bundle once the sealed one is written.
    #[arg(long)]
    pub remove_plain: bool,
}

/// `rcdiag-agent redact`.
#[derive(Args, Debug)]
pub struct RedactArgs {
    /// The signed plain bundle (`.rcdiag.zip`).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Replace every match of REGEX (Rust regex syntax); repeatable. Recorded as custom-N.
    #[arg(long = "pattern", value_name = "REGEX")]
    pub patterns: Vec<String>,
    /// Replace every occurrence of TEXT; repeatable. Recorded as literal-N.
    #[arg(long = "literal", value_name = "TEXT")]
    pub literals: Vec<String>,
    /// Output folder (a standard file name) or file, whose name must end in
    /// `.rcdiag.zip` [default: the input's folder].
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// State dir holding the node key that re-signs [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum SnapshotsCommand {
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
pub enum KeyCommand {
    /// Print the node's public signing key and fingerprint (creates the key on first use).
    Show {
        /// State dir holding the node key [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Make a new node signing key, replacing the one there (lost, empty or unreadable
    /// key); support must pin the new key. The next bundle records the change, as
    /// `collect --new-node-key` does in its own.
    New {
        /// State dir holding the node key [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// Who can open the bundle (shared by `collect` and `schedule`).
#[derive(Args, Debug, Default)]
pub struct RecipientArgs {
    /// Encrypt to this recipient: an age key (age1...) or an SSH public key; repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "KEY")]
    pub recipients: Vec<String>,
    /// Read recipients from FILE, one a line.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_file: Option<PathBuf>,
}

/// What to collect and how (shared by `collect` and `schedule`).
#[derive(Args, Debug, Default)]
pub struct CollectOpts {
    /// Write a signed but unencrypted bundle (.rcdiag.zip) to inspect before sending.
    #[arg(long)]
    pub no_encrypt: bool,
    /// ASCII-armored output (for pasting into a ticket).
    #[arg(long)]
    pub armor: bool,
    /// Run only these collectors (comma-separated: host,docker,logs,mongodb,rocketchat,kubernetes,cri).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub only: Option<Vec<String>>,
    /// Leave these collectors out (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub skip: Option<Vec<String>>,
    /// Docker endpoint [default: $DOCKER_HOST, else the local socket].
    #[arg(long, value_name = "URI")]
    pub docker_host: Option<String>,
    /// MongoDB URI [default: --mongodb-uri-file, $RCDIAG_MONGODB_URI, config, else the
    /// MONGO_URL of the Rocket.Chat containers]. Every user of the node can read the
    /// command line: give a password with --mongodb-uri-file or RCDIAG_MONGODB_URI instead.
    #[arg(long, value_name = "URI")]
    pub mongodb_uri: Option<String>,
    /// Read the MongoDB URI from FILE (owned by root or you, not readable by others:
    /// chmod 600). Preferred over --mongodb-uri, which other users can see in `ps`.
    #[arg(long, value_name = "FILE")]
    pub mongodb_uri_file: Option<PathBuf>,
    /// Log window, 1s to 366d [default: 24h].
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Most log lines per container, 1 to 100000000 [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub log_lines: Option<u64>,
    /// Most log bytes per container, 1KiB to 64GiB [default: 5MiB].
    #[arg(long, value_name = "SIZE")]
    pub log_bytes: Option<String>,
    /// Where json-file container logs are read from: `auto` reads the engine's log
    /// files directly when the engine is local and they are readable (root; much faster),
    /// else through the Engine API; `engine` always asks the Engine API [default: auto].
    #[arg(long, value_name = "SOURCE", value_enum)]
    pub log_source: Option<collectors::LogSource>,
    /// Most bytes of Docker Engine replies read at a time, 1MiB to 1GiB [default: 64MiB];
    /// past it the call fails as "reply too large" and the collector records it.
    #[arg(long, value_name = "SIZE")]
    pub docker_reply_max: Option<String>,
    /// Kubeconfig of the cluster the `kubernetes` collector reads [default: $KUBECONFIG,
    /// ~/.kube/config, else the pod's service account; none: the collector is skipped].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: its current context].
    #[arg(long, value_name = "NAME")]
    pub kube_context: Option<String>,
    /// Namespace the `kubernetes` collector reads; repeat for more [default: the
    /// namespaces holding Rocket.Chat, MongoDB, Prometheus and Grafana pods].
    #[arg(long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Also decode this Helm release's latest release Secret (`NAME` or `NAMESPACE/NAME`;
    /// repeatable; opt-in): chart, revision, status and values, redacted, never the
    /// rendered manifest. Needs `list` on secrets in its namespace
    /// (packaging/kubernetes/helm-release-role.yaml).
    #[arg(long = "kube-helm-release", value_name = "NAME")]
    pub kube_helm_releases: Vec<String>,
    /// CRI socket of the node's container runtime, `unix:///PATH`, read by the `cri`
    /// collector [default: $CONTAINER_RUNTIME_ENDPOINT, else the first that exists of
    /// /run/containerd/containerd.sock, /run/crio/crio.sock, /run/k3s/containerd/containerd.sock].
    #[arg(long, value_name = "URI")]
    pub cri_endpoint: Option<String>,
    /// Where the node's root file system is mounted when the agent runs in a container
    /// (e.g. `-v /:/host:ro` and `--host-root /host`): host facts (/proc, /sys,
    /// os-release, machine id, disks, network interfaces), the CRI socket
    /// (--cri-endpoint too) and the pod log files are read under it [default: /host when a
    /// root file system is mounted there (a mount point holding etc/), else /; `--host-root /`
    /// reads this machine's own /].
    #[arg(long, value_name = "DIR")]
    pub host_root: Option<PathBuf>,
    /// Most container logs the `cri` collector reads from the node's files, 1 to 10,000
    /// (Rocket.Chat's and MongoDB's first; the others are listed in logs/index.json as not
    /// read) [default: 256].
    #[arg(long, value_name = "N")]
    pub cri_logs_max: Option<u64>,
    /// Time limit of each collector, 1s to 7d [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Support case id (added to the file name and the manifest labels).
    #[arg(long = "case", value_name = "ID")]
    pub case: Option<String>,
    /// State dir holding the node key [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Config file [default: /etc/rcdiag/agent.toml if it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra redaction rule (a regex); repeatable. Redaction cannot be turned off.
    #[arg(long = "redact-pattern", value_name = "REGEX")]
    pub redact_patterns: Vec<String>,
    /// Replace these by stable tokens, the same in every bundle of this node:
    /// hostnames, ips, emails, usernames (comma-separated) or all. The map stays in the
    /// state dir; `rcdiag-agent pseudonyms lookup TOKEN` answers support's questions.
    #[arg(long, value_name = "KINDS")]
    pub pseudonymize: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct CollectArgs {
    #[command(flatten)]
    pub to: RecipientArgs,
    /// Output folder (a standard file name is used there) or file, whose name must end
    /// in `.rcdiag` (encrypted) or `.rcdiag.zip` (--no-encrypt); any other name is
    /// refused; `-` writes the encrypted bundle to stdout (not a terminal; the summary
    /// goes to stderr), e.g. `kubectl exec POD -- rcdiag-agent collect -r age1... -o - >
    /// node.rcdiag` [default: the current folder].
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub opts: CollectOpts,
    /// Make a new node signing key first, replacing the one in the state dir (for a key
    /// that is lost, empty or unreadable); the bundle records the key change.
    #[arg(long)]
    pub new_node_key: bool,
    /// Print what would be collected from where, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress output (the summary and bundle path are still printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// Then upload the bundle to this HTTPS upload link from support (a presigned PUT
    /// URL, in single quotes) or to s3://BUCKET/PREFIX/; see `rcdiag-agent upload
    /// --help`. A failed upload keeps the bundle and makes the exit status 4.
    #[arg(long, value_name = "URL")]
    pub upload: Option<String>,
    #[command(flatten)]
    pub upload_opts: upload::UploadOpts,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum LogFormatArg {
    /// JSON when stderr is not a terminal, else text.
    #[default]
    Auto,
    /// One JSON object a line.
    Json,
    /// `time LEVEL message key=value`.
    Text,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("when").required(true).args(["every", "cron", "once"])))]
pub struct ScheduleArgs {
    /// Take a snapshot every DURATION (e.g. 30m, 6h, 1d; 1s to 366d), the first one right away.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Take snapshots at the times of a 5-field cron expression, in local time or in the
    /// zone of a `CRON_TZ=Zone ` prefix (e.g. "0 */6 * * *", "CRON_TZ=UTC 30 2 * * 1-5").
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Take one snapshot now (with retention, status and metrics) and exit: for systemd
    /// timers and Kubernetes CronJobs.
    #[arg(long, conflicts_with = "count")]
    pub once: bool,
    /// Folder of the snapshots, status.json and rcdiag.prom (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Keep at most N snapshots [default: 24 when no other limit is given].
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Delete snapshots older than DURATION (e.g. 14d), 1s to 366d.
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
    /// Keep the newest snapshots whose sizes add up to at most SIZE (e.g. 2G).
    #[arg(long, value_name = "SIZE")]
    pub max_total: Option<String>,
    /// Delay each tick by a random time below DURATION (spreads a fleet of nodes).
    #[arg(long, value_name = "DURATION")]
    pub jitter: Option<String>,
    /// Stop after N snapshots.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Also write rcdiag.prom into this folder (node_exporter's --collector.textfile.directory).
    #[arg(long, value_name = "DIR")]
    pub textfile_dir: Option<PathBuf>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Auto, value_name = "FORMAT")]
    pub log_format: LogFormatArg,
    #[command(flatten)]
    pub to: RecipientArgs,
    #[command(flatten)]
    pub opts: CollectOpts,
    /// Print the plan, the schedule and the next run times, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Log warnings and errors only.
    #[arg(short, long)]
    pub quiet: bool,
    /// Upload each snapshot after it is written: to s3://BUCKET/PREFIX/ (under
    /// PREFIX/<node>/) or to an HTTPS folder link ending in / [default: `upload` of the
    /// config]. A failed upload keeps the snapshot; the next ticks try again.
    #[arg(long, value_name = "TARGET")]
    pub upload: Option<String>,
    #[command(flatten)]
    pub upload_opts: upload::UploadOpts,
}
