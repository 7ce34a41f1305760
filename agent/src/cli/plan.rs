//! The effective settings of a collect or schedule run (flags over the config file over
//! defaults), its `--dry-run` description, and the [`RunConfig`] built from it.

use std::path::PathBuf;

use anyhow::{Result, bail};
use rcdiag_agent::collectors::{self, Options};
use rcdiag_agent::config::{self, FileConfig, human_bytes};
use rcdiag_agent::run::{self, Progress, RunConfig};
use rcdiag_bundle::{Encryption, NodeKey, Recipient};

use super::args::{CollectOpts, RecipientArgs};

/// The effective settings of a collect run: flags over config over defaults.
pub struct Plan {
    pub encryption: Encryption,
    pub recipients: Vec<Recipient>,
    pub out: PathBuf,
    pub state_dir: PathBuf,
    pub options: Options,
    pub collectors: Vec<String>,
    pub case: Option<String>,
    pub redact_patterns: Vec<String>,
    pub pseudonymize: Vec<rcdiag_agent::redact::pseudonym::Kind>,
    /// A dry run with no recipient given: shown as what a real run still needs.
    pub no_recipient: bool,
}

/// The plan of a run: `out` is `-o` (collect) or `--dir` (schedule). A dry run writes
/// nothing, so it needs no recipient.
pub fn plan(
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
        kubeconfig: args.kubeconfig.clone().or(file.kubeconfig.clone()),
        kube_context: args.kube_context.clone().or(file.kube_context.clone()),
        kube_namespaces: if args.namespaces.is_empty() {
            file.namespaces.clone()
        } else {
            args.namespaces.clone()
        },
        kube_helm_releases: if args.kube_helm_releases.is_empty() {
            file.kube_helm_releases.clone()
        } else {
            args.kube_helm_releases.clone()
        },
        // The cri collector's socket: the flag, the config, else crictl's variable.
        cri_endpoint: args
            .cri_endpoint
            .clone()
            .or(file.cri_endpoint.clone())
            .or_else(|| std::env::var("CONTAINER_RUNTIME_ENDPOINT").ok())
            .filter(|s| !s.trim().is_empty()),
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
        let n = config::size_in(
            "--docker-reply-max",
            s,
            rcdiag_agent::clients::budget::REPLY_MAX_RANGE,
        )
        .map_err(anyhow::Error::msg)?;
        options.docker_reply_max = Some(n);
    }
    if let Some(root) = args.host_root.as_ref().or(file.host_root.as_ref()) {
        options.host_root =
            rcdiag_agent::collectors::host::check_host_root(root).map_err(anyhow::Error::msg)?;
    } else if let Some(root) = rcdiag_agent::collectors::host::default_host_root() {
        // A root mounted at /host (the image's and the DaemonSet's mount): the node's view.
        options.host_root = root;
    }
    if let Some(n) = args.cri_logs_max.or(file.cri_logs_max) {
        options.cri_logs_max = config::count_in("--cri-logs-max", n, config::CRI_LOGS_MAX_RANGE)
            .map_err(anyhow::Error::msg)? as usize;
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
pub fn mongodb_uri(args: &CollectOpts, file: &FileConfig) -> Result<Option<String>> {
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

pub fn dry_run(p: &Plan, command: &str) {
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
pub fn run_config(p: &Plan, signer: &NodeKey, progress: Progress) -> RunConfig {
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
