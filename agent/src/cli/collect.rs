//! `rcdiag-agent collect`: one bundle of this node, its summary on stdout, then the
//! optional upload. With `-o -` the (encrypted) bundle itself goes to stdout and the
//! summary to stderr ([`stdout_mode`]), for `kubectl exec POD -- rcdiag-agent collect
//! -o - > x.rcdiag` in an image without `tar`.

use std::io::{IsTerminal, Write};
use std::path::Path;
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

/// `-o -`: refused when stdout is a terminal, with `--no-encrypt` (a plain bundle would
/// sit in a temporary file) or with `--upload`; else a private temporary folder (0700,
/// under `TMPDIR`) that receives the encrypted bundle until it is copied to stdout.
fn stdout_mode(args: &CollectArgs) -> std::result::Result<tempfile::TempDir, String> {
    if std::io::stdout().is_terminal() && !args.dry_run {
        return Err("-o -: stdout is a terminal; redirect it to a file (`... collect -o - > node.rcdiag`) or pass -o PATH".into());
    }
    if args.opts.no_encrypt {
        return Err("-o - writes encrypted bundles only (a plain one would sit on disk first): drop --no-encrypt, or pass -o PATH.rcdiag.zip".into());
    }
    if args.upload.is_some() {
        return Err("-o - and --upload cannot be combined: the bundle goes to stdout; pass -o PATH to upload it too".into());
    }
    tempfile::Builder::new()
        .prefix(".rcdiag-stdout-")
        .tempdir()
        .map_err(|e| {
            format!(
                "-o -: cannot make a temporary folder in {} for the encrypted bundle: {e}; set TMPDIR to a writable folder (an emptyDir in a pod)",
                std::env::temp_dir().display()
            )
        })
}

pub fn collect(args: CollectArgs) -> Result<ExitCode> {
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    let stdout_dir = if to_stdout {
        match stdout_mode(&args) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("rcdiag-agent: error: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        None
    };
    let out_arg = match &stdout_dir {
        Some(d) => Some(d.path().to_path_buf()),
        None => args.out.clone(),
    };
    // The summary goes to stderr when the bundle goes to stdout.
    let mut o: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let p = match plan(&args.to, &args.opts, out_arg.as_ref(), args.dry_run).and_then(|p| {
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
    writeln!(
        o,
        "{:<11} {:<8} {:>5} {:>10} {:>8}",
        "collector", "status", "files", "bytes", "time"
    )?;
    for (r, bytes) in &report.collectors {
        writeln!(
            o,
            "{:<11} {:<8} {:>5} {:>10} {:>7.1}s",
            r.name,
            r.status.as_str(),
            r.files.len(),
            human_bytes(*bytes),
            r.duration_ms as f64 / 1000.0
        )?;
        if let Some(e) = r.error.as_ref().filter(|_| r.status != CollectorStatus::Ok) {
            writeln!(o, "            {e}")?;
        }
    }
    let b = &report.bundle;
    writeln!(o)?;
    writeln!(
        o,
        "bundle:     {} ({})",
        b.manifest.bundle_id,
        human_bytes(b.size)
    )?;
    match &p.encryption {
        Encryption::None => writeln!(
            o,
            "encrypted:  no (signed, unencrypted: inspect with unzip, then encrypt or send over a safe channel)"
        ),
        Encryption::Age { .. } => writeln!(
            o,
            "encrypted:  to {}",
            p.recipients
                .iter()
                .map(|r| r.fingerprint())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }?;
    writeln!(
        o,
        "signed by:  {} ({})",
        signer.fingerprint(),
        signer
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    )?;
    writeln!(
        o,
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
    )?;
    if to_stdout {
        writeln!(o, "output:     stdout")?;
        let copied = std::fs::File::open(&b.path).and_then(|mut f| {
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut f, &mut out)?;
            out.flush()
        });
        // The temporary folder (and the encrypted bundle in it) goes either way.
        drop(stdout_dir);
        if let Err(e) = copied {
            eprintln!(
                "rcdiag-agent: error: writing the bundle to stdout failed: {e}; nothing is kept, run it again"
            );
            return Ok(ExitCode::from(1));
        }
    } else {
        writeln!(o, "{}", b.path.display())?;
    }
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
