//! `rcdiag-agent`: collects a signed, encrypted diagnostics bundle of this Rocket.Chat node.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use rcdiag_agent::collectors::{self, Options};
use rcdiag_agent::config::{self, FileConfig, human_bytes};
use rcdiag_agent::run::{self, Progress, RunConfig, RunError};
use rcdiag_bundle::{CollectorStatus, Encryption, NodeKey, Recipient};

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

Exit status of collect: 0 bundle written and every collector ok or skipped;
3 bundle written but a collector failed, timed out or was partial; 1 no bundle written.";

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
    Collect(CollectArgs),
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
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the node's public signing key and fingerprint (creates the key on first use).
    Show {
        /// State dir holding the node key [default: /var/lib/rcdiag as root, else $XDG_STATE_HOME/rcdiag].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Default)]
struct CollectArgs {
    /// Encrypt to this recipient: an age key (age1...) or an SSH public key; repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "KEY")]
    recipients: Vec<String>,
    /// Read recipients from FILE, one a line.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    recipients_file: Option<PathBuf>,
    /// Output file or folder [default: the current folder].
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    out: Option<PathBuf>,
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
    /// MongoDB URI [default: config, else the MONGO_URL of the Rocket.Chat containers].
    #[arg(long, value_name = "URI")]
    mongodb_uri: Option<String>,
    /// Log window [default: 24h].
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    /// Most log lines per container [default: 10000].
    #[arg(long, value_name = "N")]
    log_lines: Option<u64>,
    /// Most log bytes per container [default: 5MiB].
    #[arg(long, value_name = "SIZE")]
    log_bytes: Option<String>,
    /// Time limit of each collector [default: 60s].
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
    /// Print what would be collected from where, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// No progress output (the summary and bundle path are still printed).
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Collect(args) => collect(args),
        Command::Key { command: KeyCommand::Show { state_dir } } => key_show(state_dir).map(|()| ExitCode::SUCCESS),
        Command::ListCollectors { json } => list_collectors(json).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rcdiag-agent: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn key_show(state_dir: Option<PathBuf>) -> Result<()> {
    let dir = state_dir.unwrap_or_else(rcdiag_bundle::default_state_dir);
    let key = NodeKey::load_or_create(&dir)?;
    println!("{}", key.public_key_openssh());
    println!("{}", key.fingerprint());
    if let Some(p) = key.path() {
        eprintln!("key file: {}", p.display());
    }
    eprintln!("support pins this key with a line in an allowed_signers file:");
    eprintln!("  {} {}", rcdiag_bundle::hostname(), key.public_key_openssh());
    Ok(())
}

fn list_collectors(json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(collectors::ALL)?);
        return Ok(());
    }
    for c in collectors::ALL {
        println!("{}\n  reads:       {}\n  needs:       {}\n  writes:      {}\n", c.name, c.reads, c.permissions, c.files);
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
}

fn plan(args: &CollectArgs) -> Result<Plan> {
    let file = FileConfig::load(args.config.as_deref()).map_err(anyhow::Error::msg)?;
    let mut recipients = Vec::new();
    for r in args.recipients.iter().chain(if args.recipients.is_empty() { file.recipients.iter() } else { [].iter() }) {
        recipients.push(Recipient::parse(r)?);
    }
    if let Some(f) = args.recipients_file.as_ref().or(file.recipients_file.as_ref()) {
        recipients.extend(Recipient::parse_file(f)?);
    }
    let armor = args.armor || file.armor.unwrap_or(false);
    let encryption = if args.no_encrypt {
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
        Encryption::Age { recipients: recipients.clone(), armor }
    };
    let names = collectors::names();
    let check = |list: &[String]| -> Result<()> {
        for n in list {
            if !names.contains(&n.as_str()) {
                bail!("unknown collector {n:?}; the collectors are: {}", names.join(", "));
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
    let mut options = Options::default();
    options.docker_host = args.docker_host.clone().or(file.docker_host.clone()).or_else(|| std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty()));
    options.mongodb_uri = args.mongodb_uri.clone().or(file.mongodb_uri.clone());
    if let Some(s) = args.since.as_ref().or(file.since.as_ref()) {
        options.since = config::parse_duration(s).map_err(anyhow::Error::msg).context("--since")?;
    }
    if let Some(n) = args.log_lines.or(file.log_lines) {
        options.log_lines = n;
    }
    if let Some(s) = args.log_bytes.as_ref().or(file.log_bytes.as_ref()) {
        options.log_bytes = config::parse_size(s).map_err(anyhow::Error::msg).context("--log-bytes")?;
    }
    if let Some(s) = args.timeout.as_ref().or(file.timeout.as_ref()) {
        options.timeout = config::parse_duration(s).map_err(anyhow::Error::msg).context("--timeout")?;
    }
    let mut redact_patterns = file.redact_patterns.clone();
    redact_patterns.extend(args.redact_patterns.iter().cloned());
    Ok(Plan {
        encryption,
        recipients,
        out: args.out.clone().or(file.out.clone()).unwrap_or_else(|| PathBuf::from(".")),
        state_dir: args.state_dir.clone().or(file.state_dir.clone()).unwrap_or_else(rcdiag_bundle::default_state_dir),
        options,
        collectors: selected,
        case: args.case.clone(),
        redact_patterns,
    })
}

fn dry_run(p: &Plan) {
    let red = rcdiag_agent::redact::Redactor::new(&[]).expect("built-in rules compile");
    println!("rcdiag-agent collect --dry-run: nothing will be written.\n");
    println!("collectors:");
    for c in collectors::ALL {
        let on = p.collectors.iter().any(|n| n == c.name);
        let source = match c.name {
            "docker" | "logs" => format!("from {}", p.options.docker_host.as_deref().unwrap_or("unix:///var/run/docker.sock")),
            "mongodb" | "rocketchat" => match &p.options.mongodb_uri {
                Some(u) => format!("from {}", red.redact_uri(u)),
                None => "from the MONGO_URL of the Rocket.Chat containers (skipped if none)".to_string(),
            },
            _ => "from this host".to_string(),
        };
        println!("  {} {:<11} {}  [{}]", if on { "+" } else { "-" }, c.name, if on { source } else { "not selected".into() }, c.reads);
    }
    println!("\nlogs: last {} of at most {} lines / {} per container", run::humantime(p.options.since), p.options.log_lines, human_bytes(p.options.log_bytes));
    println!("time limit per collector: {}", run::humantime(p.options.timeout));
    match &p.encryption {
        Encryption::None => println!("encryption: NONE (signed .rcdiag.zip, --no-encrypt)"),
        Encryption::Age { armor, .. } => println!(
            "encryption: age{} to {}",
            if *armor { " (armored)" } else { "" },
            p.recipients.iter().map(|r| r.fingerprint()).collect::<Vec<_>>().join(", ")
        ),
    }
    println!("output: {}", p.out.display());
    let key = p.state_dir.join(rcdiag_bundle::NODE_KEY_FILE);
    println!("signing key: {}{}", key.display(), if key.exists() { "" } else { " (would be created)" });
}

fn collect(args: CollectArgs) -> Result<ExitCode> {
    let p = plan(&args)?;
    if args.dry_run {
        dry_run(&p);
        return Ok(ExitCode::SUCCESS);
    }
    let signer = NodeKey::load_or_create(&p.state_dir)?;
    let progress = if args.quiet { Progress::Quiet } else { Progress::auto() };
    let cfg = RunConfig {
        encryption: p.encryption.clone(),
        out: p.out.clone(),
        signer: signer.clone(),
        options: p.options.clone(),
        collectors: p.collectors.clone(),
        case: p.case.clone(),
        redact_patterns: p.redact_patterns.clone(),
        progress,
        argv: std::env::args().collect(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let result = rt.block_on(run::run(cfg, shutdown_signal()));
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    let report = match result {
        Ok(r) => r,
        Err(RunError::Interrupted(sig)) => {
            eprintln!("rcdiag-agent: interrupted by {sig}: no bundle was written and no temporary file is left");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    println!("{:<11} {:<8} {:>5} {:>10} {:>8}", "collector", "status", "files", "bytes", "time");
    for (r, bytes) in &report.collectors {
        println!("{:<11} {:<8} {:>5} {:>10} {:>7.1}s", r.name, r.status.as_str(), r.files.len(), human_bytes(*bytes), r.duration_ms as f64 / 1000.0);
        if let Some(e) = r.error.as_ref().filter(|_| r.status != CollectorStatus::Ok) {
            println!("            {e}");
        }
    }
    let b = &report.bundle;
    println!();
    println!("bundle:     {} ({})", b.manifest.bundle_id, human_bytes(b.size));
    match &p.encryption {
        Encryption::None => println!("encrypted:  no (signed, unencrypted: inspect with unzip, then encrypt or send over a safe channel)"),
        Encryption::Age { .. } => println!(
            "encrypted:  to {}",
            p.recipients.iter().map(|r| r.fingerprint()).collect::<Vec<_>>().join(", ")
        ),
    }
    println!("signed by:  {} ({})", signer.fingerprint(), signer.path().map(|p| p.display().to_string()).unwrap_or_default());
    println!("redacted:   {}", if b.manifest.redaction.rules.is_empty() { "nothing matched".to_string() } else {
        b.manifest.redaction.rules.iter().map(|(k, v)| format!("{k} x{v}")).collect::<Vec<_>>().join(", ")
    });
    println!("{}", b.path.display());
    Ok(if report.degraded() { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        std::future::pending::<()>().await;
        return "signal";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
