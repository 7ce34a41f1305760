//! `rcdiag-agent schedule`: the scheduler's options checked into a plan, its
//! `--dry-run`, and the run of [`rcdiag_agent::schedule::schedule`] with its exit status.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use rcdiag_agent::run::{self, Progress};
use rcdiag_agent::schedule::{self, Cron, LogFormat, Logger, ScheduleConfig, Trigger};
use rcdiag_agent::snapshots::{self, Retention};
use rcdiag_agent::upload::{self, Target};
use rcdiag_agent::{config, key_change};
use rcdiag_bundle::NodeKey;

use super::args::{LogFormatArg, ScheduleArgs};
use super::error::message;
use super::plan::{Plan, dry_run, plan, run_config};
use super::{runtime, shutdown_signal};

/// Retention when no --keep, --max-age or --max-total is given.
const DEFAULT_KEEP: usize = 24;

/// The scheduler's settings, checked; an `Err` is a usage error (exit 2).
pub struct SchedulePlan {
    pub trigger: Trigger,
    pub retention: Retention,
    pub default_retention: bool,
    pub jitter: Duration,
    pub count: Option<u64>,
    /// `--upload` (or the config's `upload`), checked; an `s3://` target with the node's
    /// own prefix.
    pub upload: Option<schedule::ScheduleUpload>,
}

/// `--upload TARGET` (else the config's `upload`), checked before anything runs.
fn schedule_upload(args: &ScheduleArgs, p: &Plan) -> Result<Option<schedule::ScheduleUpload>> {
    let from_config = match &args.upload {
        Some(_) => None,
        None => config::FileConfig::load(args.opts.config.as_deref())
            .map_err(anyhow::Error::msg)?
            .upload
            .filter(|u| !u.trim().is_empty()),
    };
    let Some(url) = args.upload.clone().or(from_config) else {
        if args.upload_opts.ca_file.is_some() || args.upload_opts.allow_plain {
            bail!("--ca-file and --allow-plain only apply with --upload TARGET");
        }
        return Ok(None);
    };
    let target = Target::parse(&url)?;
    if !target.is_folder() {
        bail!(
            "{}: a schedule uploads one snapshot per tick, and a presigned link names one object: \
             give s3://BUCKET/PREFIX/ or a folder link ending in /",
            target.shown()
        );
    }
    if args.opts.no_encrypt && !args.upload_opts.allow_plain {
        bail!(
            "--upload with --no-encrypt would send plain bundles: only encrypted bundles are uploaded. \
             Drop --no-encrypt (and give support's key with -r), or add --allow-plain if anyone who can \
             read the storage behind the target may read the bundles"
        );
    }
    let settings = upload::Settings::new(&args.upload_opts)?;
    // One prefix per node: the host part of its bundle names, the node name
    // (`RCDIAG_NODE_NAME`, else the host name under --host-root) or, with host names
    // pseudonymized, its token (a dry run makes no key: it shows a placeholder).
    let pseudonymize =
        (!p.pseudonymize.is_empty()).then(|| (p.pseudonymize.clone(), p.state_dir.clone()));
    let hides_hosts = p
        .pseudonymize
        .contains(&rcdiag_agent::redact::pseudonym::Kind::Hostnames);
    let host = if hides_hosts && args.dry_run {
        "host-PSEUDONYM".to_string()
    } else {
        run::bundle_node_name(&p.options.host_root, pseudonymize.as_ref())
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let name = rcdiag_bundle::bundle_file_name(&host, jiff::Timestamp::now(), None, true);
    let node = snapshots::parse_bundle_name(&name)
        .map(|n| n.host)
        .unwrap_or_else(|| "node".into());
    Ok(Some(schedule::ScheduleUpload {
        target: target.for_node(&node),
        settings,
    }))
}

pub fn schedule_plan(args: &ScheduleArgs, p: &Plan) -> Result<SchedulePlan> {
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
        hold_unuploaded: false,
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
    let upload = schedule_upload(args, p)?;
    retention.hold_unuploaded = upload.is_some();
    Ok(SchedulePlan {
        trigger,
        retention,
        default_retention,
        jitter,
        count,
        upload,
    })
}

pub fn schedule_cmd(args: ScheduleArgs) -> Result<ExitCode> {
    let usage = |e: anyhow::Error| {
        eprintln!("rcdiag-agent: error: {}", message(&e));
        ExitCode::from(2)
    };
    let p = match plan(&args.to, &args.opts, Some(&args.dir), args.dry_run) {
        Ok(p) => p,
        Err(e) => return Ok(usage(e)),
    };
    let sp = match schedule_plan(&args, &p) {
        Ok(s) => s,
        Err(e) => return Ok(usage(e)),
    };
    if args.dry_run {
        schedule_dry_run(&p, &sp, &args);
        return Ok(ExitCode::SUCCESS);
    }
    let signer = NodeKey::load_or_create(&p.state_dir)?;
    // A `key new` no bundle recorded yet: the first snapshot records it.
    let (key_change, warnings) = key_change::pending(&p.state_dir, &signer.fingerprint());
    for w in &warnings {
        eprintln!("rcdiag-agent: warning: {w}");
    }
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
    let mut cfg = ScheduleConfig {
        trigger: sp.trigger,
        dir: args.dir.clone(),
        retention: sp.retention,
        jitter: sp.jitter,
        count: sp.count,
        textfile_dir: args.textfile_dir.clone(),
        run: run_config(&p, &signer, Progress::Quiet),
        upload: sp.upload,
        log,
    };
    cfg.run.key_change = key_change;
    cfg.run.argv = upload::scrub_argv(cfg.run.argv);
    let rt = runtime()?;
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

pub fn schedule_dry_run(p: &Plan, sp: &SchedulePlan, args: &ScheduleArgs) {
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
    if let Some(u) = &sp.upload {
        println!(
            "upload: each snapshot to {}, then up to {} earlier ones not uploaded yet; snapshots not uploaded are kept until --max-total",
            u.target.shown(),
            schedule::MAX_RETRIES_PER_TICK
        );
    }
}
