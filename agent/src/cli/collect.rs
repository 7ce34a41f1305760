//! `rcdiag-agent collect`: one bundle of this node, its summary on stdout, then the
//! optional upload.

use std::process::ExitCode;

use anyhow::Result;
use rcdiag_agent::config::human_bytes;
use rcdiag_agent::key_change;
use rcdiag_agent::run::{self, Progress, RunError};
use rcdiag_bundle::{CollectorStatus, Encryption, NodeKey};

use super::args::CollectArgs;
use super::error::message;
use super::out_path::check_out;
use super::plan::{dry_run, plan, run_config};
use super::{runtime, shutdown_signal};
use rcdiag_agent::upload;

pub fn collect(args: CollectArgs) -> Result<ExitCode> {
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
    let signer = if args.new_node_key {
        let (k, r) = NodeKey::replace(&p.state_dir)?;
        // Kept until a bundle records it, like `key new`'s: an interrupted run does not
        // lose it, and a change no bundle recorded yet keeps the key support pinned.
        if let Err(e) = key_change::record(&p.state_dir, &r, &k.fingerprint()) {
            eprintln!("rcdiag-agent: warning: {e}");
        }
        k
    } else {
        NodeKey::load_or_create(&p.state_dir)?
    };
    let (key_change, warnings) = key_change::pending(&p.state_dir, &signer.fingerprint());
    for w in &warnings {
        eprintln!("rcdiag-agent: warning: {w}");
    }
    let progress = if args.quiet {
        Progress::Quiet
    } else {
        Progress::auto()
    };
    let mut cfg = run_config(&p, &signer, progress);
    let report_key_change = key_change.is_some();
    cfg.key_change = key_change;
    cfg.argv = upload::scrub_argv(cfg.argv);
    let rt = runtime()?;
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
    if report_key_change && let Err(e) = key_change::clear(&p.state_dir) {
        eprintln!(
            "rcdiag-agent: warning: cannot remove {}: {e}; the next bundle will record the key change again",
            p.state_dir.join(key_change::PENDING_FILE).display()
        );
    }
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
