//! One collection run: start the bundle writer, run the selected collectors
//! concurrently (each under its own hard time limit), record what each did, scrub,
//! sign and finish. A run cut short (error, SIGTERM/SIGINT) leaves no file behind.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcdiag_bundle::{
    AgentInfo, BundleWriter, CollectorRecord, CollectorStatus, Encryption, FinishedBundle,
    NodeInfo, NodeKey, RedactionSummary, WriterOptions,
};
use sha2::{Digest, Sha256};

use crate::collectors::{self, CollectorSink, Context, Options, Outcome, Sink};
use crate::redact::Redactor;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use rcdiag_contract::agent::{
    AgentId, CollectorRun, NodeKey as RunNodeKey, Options as RunOptions, RunFile,
};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A live line per collector (terminal).
    Live,
    /// A plain line per finished collector (logs, pipes).
    Plain,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// `Live` when stderr is a terminal, else `Plain`.
    pub fn auto() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Live
        } else {
            Self::Plain
        }
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Outer layer of the bundle.
    pub encryption: Encryption,
    /// Output file or folder.
    pub out: PathBuf,
    /// The node signing key.
    pub signer: NodeKey,
    /// Collector options.
    pub options: Options,
    /// Collectors to run, by name; the others are recorded as skipped (deselected).
    pub collectors: Vec<String>,
    /// Support case id (a node label and part of the file name).
    pub case: Option<String>,
    /// Extra redaction patterns.
    pub redact_patterns: Vec<String>,
    /// Progress display.
    pub progress: Progress,
    /// The command line, recorded (scrubbed) in `agent/run.json`.
    pub argv: Vec<String>,
    /// Consistent pseudonyms: the kinds, and the state dir that keeps their key and map.
    pub pseudonymize: Option<(Vec<crate::redact::pseudonym::Kind>, PathBuf)>,
    /// A new node key made for this run (`--new-node-key`): recorded in `agent/run.json`
    /// and as the node label `node_key_change`.
    pub key_change: Option<rcdiag_bundle::KeyReplaced>,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The bundle written.
    pub bundle: FinishedBundle,
    /// Per collector: record and bytes written.
    pub collectors: Vec<(CollectorRecord, u64)>,
}

impl RunReport {
    /// True when some collector failed, timed out or was partial.
    pub fn degraded(&self) -> bool {
        self.collectors.iter().any(|(r, _)| {
            matches!(
                r.status,
                CollectorStatus::Failed | CollectorStatus::Timeout | CollectorStatus::Partial
            )
        })
    }
}

/// Why a run wrote no bundle.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The bundle could not be started or finished.
    #[error(transparent)]
    Bundle(#[from] rcdiag_bundle::Error),
    /// A `--redact-pattern` does not compile.
    #[error("invalid --redact-pattern: {0}")]
    Pattern(#[from] regex::Error),
    /// Interrupted by a signal.
    #[error("interrupted by {0}: no bundle was written and no temporary file is left")]
    Interrupted(&'static str),
    /// The pseudonym key or map could not be used.
    #[error(transparent)]
    Pseudonyms(#[from] crate::redact::pseudonym::PseudonymError),
    /// Internal failure.
    #[error("{0}")]
    Internal(String),
}

fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The node's name: `RCDIAG_NODE_NAME` when set (a Kubernetes DaemonSet passes
/// `spec.nodeName`; a container's own hostname is meaningless), else the host name
/// (the node's `/etc/hostname` under `host_root` when that is not `/`).
pub fn node_name(host_root: &Path) -> String {
    std::env::var("RCDIAG_NODE_NAME")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| crate::collectors::host::hostname_under(host_root))
        .unwrap_or_else(rcdiag_bundle::hostname)
}

/// The node's name as its bundles carry it: [`node_name`], or its pseudonym when
/// `pseudonymize` (the run's kinds and state dir) takes host names, so that what is
/// named after the node (the upload prefix) does not show what the bundles hide. Makes
/// the pseudonym key in the state dir if there is none yet, as a run does.
pub fn bundle_node_name(
    host_root: &Path,
    pseudonymize: Option<&(Vec<crate::redact::pseudonym::Kind>, PathBuf)>,
) -> Result<String, crate::redact::pseudonym::PseudonymError> {
    use crate::redact::pseudonym::{Kind, Pseudonymizer};
    let name = node_name(host_root);
    match pseudonymize {
        Some((kinds, state_dir)) if kinds.contains(&Kind::Hostnames) => Ok(host_token(
            &Pseudonymizer::new(kinds.clone(), state_dir)?,
            &name,
        )),
        _ => Ok(name),
    }
}

/// The token of host name `name`, registered (with this machine's own host name) so
/// that every later mention of either is replaced.
fn host_token(p: &crate::redact::pseudonym::Pseudonymizer, name: &str) -> String {
    use crate::redact::pseudonym::Kind;
    p.register(Kind::Hostnames, name);
    p.register(Kind::Hostnames, &rcdiag_bundle::hostname());
    p.token(Kind::Hostnames, name)
}

/// The `sha256:` of the node's `/etc/machine-id` (or the D-Bus one) under `host_root`,
/// never the id itself.
pub fn machine_id_hash(host_root: &Path) -> Option<String> {
    for p in ["etc/machine-id", "var/lib/dbus/machine-id"] {
        if let Ok(id) = std::fs::read_to_string(host_root.join(p)) {
            let id = id.trim();
            if !id.is_empty() {
                return Some(format!(
                    "sha256:{}",
                    hex::encode(Sha256::digest(format!("rcdiag:{id}")))
                ));
            }
        }
    }
    None
}

/// Scrubs a command line: values of options that may hold credentials are masked.
pub fn scrub_argv(argv: &[String], redactor: &Redactor) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut mask_next = false;
    for a in argv {
        if mask_next {
            out.push(redactor.redact_uri(a));
            mask_next = false;
            continue;
        }
        if let Some((k, v)) = a
            .split_once('=')
            .filter(|(k, _)| k.starts_with("--mongodb-uri") || k.starts_with("--docker-host"))
        {
            out.push(format!("{k}={}", redactor.redact_uri(v)));
            continue;
        }
        mask_next = a == "--mongodb-uri" || a == "--docker-host";
        out.push(redactor.redact_text(a));
    }
    out
}

/// The live lines on a terminal (`Progress::Live`): an `indicatif` spinner per
/// collector, `  ⠋ docker      running     1.2s`, finished as
/// `  ✔ docker      ok          1.2s`. Not drawn when stderr is not a terminal
/// (indicatif's stderr target checks), where `Progress::Plain` lines are written.
struct Live {
    _multi: MultiProgress,
    bars: Vec<(&'static str, ProgressBar)>,
}

impl Live {
    fn new(names: &[&'static str]) -> Self {
        // Drawn from the ticker below (every 120 ms), no thread of indicatif's own.
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("  {spinner} {prefix:<11} running  {secs}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", " "])
            .with_key("secs", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:>6.1}s", s.elapsed().as_secs_f64());
            });
        let bars = names
            .iter()
            .map(|n| {
                let bar = ProgressBar::new_spinner()
                    .with_style(style.clone())
                    .with_prefix(*n);
                (*n, multi.add(bar))
            })
            .collect();
        Self {
            _multi: multi,
            bars,
        }
    }

    /// Advances the spinners of the collectors still running.
    fn tick(&self) {
        for (_, b) in &self.bars {
            if !b.is_finished() {
                b.tick();
            }
        }
    }

    /// Shows `name` as done.
    fn done(&self, name: &str, status: CollectorStatus, elapsed: Duration) {
        let Some((_, bar)) = self.bars.iter().find(|(n, _)| *n == name) else {
            return;
        };
        let mark = match status {
            CollectorStatus::Ok => "✔",
            CollectorStatus::Skipped => "–",
            _ => "✘",
        };
        bar.set_style(
            ProgressStyle::with_template("  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.finish_with_message(format!(
            "{mark} {name:<11} {:<8} {:>6.1}s",
            status.as_str(),
            elapsed.as_secs_f64()
        ));
    }

    /// Leaves the lines as they are (a run cut short).
    fn abandon(&self) {
        for (_, b) in &self.bars {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
}

/// Runs a collection. `cancel` resolving (e.g. on SIGTERM) aborts it and removes the temp file.
pub async fn run(
    cfg: RunConfig,
    cancel: impl Future<Output = &'static str>,
) -> Result<RunReport, RunError> {
    let redactor = Arc::new(Redactor::new(&cfg.redact_patterns)?);
    let mut hostname = node_name(&cfg.options.host_root);
    if let Some((kinds, state_dir)) = cfg.pseudonymize.as_ref().filter(|(k, _)| !k.is_empty()) {
        use crate::redact::pseudonym::{Kind, Pseudonymizer};
        let p = Pseudonymizer::new(kinds.clone(), state_dir)?;
        if p.wants(Kind::Hostnames) {
            hostname = host_token(&p, &hostname);
        }
        redactor.set_pseudonymizer(p);
    }
    if let Some(uri) = &cfg.options.mongodb_uri {
        redactor.register_uri_secrets(uri);
    }
    let mut labels = BTreeMap::new();
    if let Some(case) = cfg.case.as_ref().filter(|c| !c.is_empty()) {
        labels.insert("case".to_string(), case.clone());
    }
    if let Some(k) = &cfg.key_change {
        labels.insert(
            "node_key_change".to_string(),
            match &k.previous_fingerprint {
                Some(f) => format!("new key, replacing {f}"),
                None => "new key, the previous one was missing or unusable".to_string(),
            },
        );
    }
    // Temp files of runs that died (SIGKILL, power loss) in the output folder.
    let out_dir = if cfg.out.is_dir() {
        cfg.out.clone()
    } else {
        cfg.out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    let stale = rcdiag_bundle::safefs::remove_stale_temp_files(&out_dir);
    if !stale.removed.is_empty() && cfg.progress != Progress::Quiet {
        eprintln!(
            "rcdiag-agent: removed {} temporary file(s) left by runs that died: {}",
            stale.removed.len(),
            stale.removed.join(", ")
        );
    }
    let writer = BundleWriter::create(WriterOptions {
        out: cfg.out.clone(),
        encryption: cfg.encryption.clone(),
        signer: cfg.signer.clone(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        node: NodeInfo {
            hostname,
            machine_id_hash: machine_id_hash(&cfg.options.host_root),
            labels,
        },
        compression_level: None,
    })?;
    // Secrets on this node's command lines are remembered before any collector
    // writes, so the exact-value pass finds them in the logs too (bounded: 2 s).
    if cfg.collectors.iter().any(|c| c == "host" || c == "logs") {
        let red = redactor.clone();
        let harvest = crate::threads::on_own_thread("argv-secrets", move || {
            collectors::host::harvest_argv_secrets(&red)
        });
        let _ = tokio::time::timeout(Duration::from_secs(2), harvest).await;
    }
    let sink = Sink::new(writer, redactor.clone());
    let ctx = Arc::new(Context::new(cfg.options.clone(), redactor.clone()));
    let selected: Vec<&'static str> = collectors::names()
        .into_iter()
        .filter(|n| cfg.collectors.iter().any(|c| c == n))
        .collect();
    let live = (cfg.progress == Progress::Live).then(|| Arc::new(Live::new(&selected)));

    let children = Arc::new(crate::isolate::Children {
        redact_patterns: cfg.redact_patterns.clone(),
        out_dir: out_dir.clone(),
        ..Default::default()
    });
    let mut tasks = Vec::new();
    for name in &selected {
        let name: &'static str = name;
        let ctx = ctx.clone();
        let out = sink.for_collector(name);
        let limit = cfg.options.timeout;
        let live = live.clone();
        let progress = cfg.progress;
        let handle = tokio::spawn(run_one(
            name,
            ctx,
            out.clone(),
            limit,
            live,
            progress,
            children.clone(),
        ));
        tasks.push((name, out, handle));
    }

    let ticker = live.clone().map(|live| {
        tokio::spawn(async move {
            loop {
                live.tick();
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        })
    });

    let aborts: Vec<tokio::task::AbortHandle> =
        tasks.iter().map(|(_, _, h)| h.abort_handle()).collect();
    let all = async {
        let mut results = Vec::new();
        for (name, out, handle) in tasks {
            let started = jiff::Timestamp::now();
            let res = handle.await;
            results.push((name, out, res, started));
        }
        results
    };
    // Boxed (not pinned on the stack) so the cancel branch can drop it: that drops the
    // join handles' captures, the last clones of the sink, and with them the writer.
    let mut all = Box::pin(all);
    let results = tokio::select! {
        r = &mut all => r,
        sig = cancel => {
            if let Some(t) = ticker { t.abort(); }
            if let Some(l) = &live { l.abandon(); }
            // Abort every collector; once the last one lets go of the sink, the writer
            // is dropped and its temp file removed. Wait for that before returning.
            aborts.iter().for_each(|a| a.abort());
            drop(all);
            let weak = sink.downgrade();
            drop(sink);
            let deadline = Instant::now() + Duration::from_secs(5);
            while weak.upgrade().is_some() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return Err(RunError::Interrupted(sig));
        }
    };
    if let Some(t) = ticker {
        t.abort();
    }

    // Every collector is done, so every secret of the run is known: the held JSON
    // files get the exact-value pass and are written now.
    let flush_errors = sink.flush_pending().await;
    let mut records = Vec::new();
    for (name, out, res, _) in results {
        let (mut record, bytes) = match res {
            Ok((r, _)) => (r, out.bytes()),
            Err(e) => (
                CollectorRecord {
                    name: name.to_string(),
                    status: CollectorStatus::Failed,
                    started_at: rfc3339(jiff::Timestamp::now()),
                    duration_ms: 0,
                    error: Some(format!("the collector crashed: {e}; please report this")),
                    files: out.files(),
                },
                0,
            ),
        };
        let errors: Vec<&str> = flush_errors
            .iter()
            .filter(|(c, _)| *c == name)
            .map(|(_, e)| e.as_str())
            .collect();
        if !errors.is_empty() {
            if record.status == CollectorStatus::Ok {
                record.status = CollectorStatus::Partial;
            }
            let mut msg = record.error.take().map(|m| vec![m]).unwrap_or_default();
            msg.extend(errors.iter().map(|e| e.to_string()));
            record.error = Some(msg.join("; "));
        }
        // The manifest holds no secret by construction: names, counts, and messages
        // that went through the patterns and, now, the exact-value pass.
        record.error = record
            .error
            .map(|m| redactor.replace_exact(&m).unwrap_or(m));
        records.push((record, bytes));
    }
    for info in collectors::ALL {
        if !selected.contains(&info.name) {
            records.push((
                CollectorRecord {
                    name: info.name.to_string(),
                    status: CollectorStatus::Skipped,
                    started_at: rfc3339(jiff::Timestamp::now()),
                    duration_ms: 0,
                    error: Some("deselected (--only/--skip)".into()),
                    files: Vec::new(),
                },
                0,
            ));
        }
    }

    let run_info = RunFile {
        agent: Some(AgentId {
            name: Some("rcdiag-agent".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        }),
        argv: scrub_argv(&cfg.argv, &redactor),
        options: Some(RunOptions {
            docker_host: cfg
                .options
                .docker_host
                .as_deref()
                .map(|u| redactor.redact_uri(u)),
            mongodb_uri: cfg
                .options
                .mongodb_uri
                .as_deref()
                .map(|u| redactor.redact_uri(u)),
            since_seconds: Some(cfg.options.since.as_secs()),
            log_lines: Some(cfg.options.log_lines),
            log_bytes: Some(cfg.options.log_bytes),
            timeout_seconds: Some(cfg.options.timeout.as_secs_f64()),
            collectors: selected.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
        node_key: Some(RunNodeKey {
            fingerprint: Some(cfg.signer.fingerprint()),
            changed: Some(cfg.key_change.is_some()),
            previous_fingerprint: cfg
                .key_change
                .as_ref()
                .and_then(|k| k.previous_fingerprint.clone()),
            reason: cfg.key_change.as_ref().map(|k| k.reason.clone()),
            ..Default::default()
        }),
        collectors: records
            .iter()
            .map(|(r, b)| CollectorRun {
                name: Some(r.name.clone()),
                status: Some(r.status.as_str().into()),
                duration_ms: Some(r.duration_ms),
                bytes: Some(*b),
                error: r.error.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let agent_sink = sink.for_collector("agent");
    agent_sink.put_json("agent/run.json", &run_info).await?;
    drop(agent_sink);
    if let Some((_, e)) = sink.flush_pending().await.into_iter().next() {
        return Err(RunError::Internal(e));
    }

    let mut writer = sink
        .into_writer()
        .ok_or_else(|| RunError::Internal("a collector still holds the bundle writer".into()))?;
    for (r, _) in &records {
        writer.record_collector(r.clone());
    }
    // The collectors run in a child process redacted with their own redactor.
    let mut rules = redactor.counts();
    if let Ok(c) = children.counts.lock() {
        rcdiag_bundle::merge_counts(&mut rules, &c);
    }
    writer.set_redaction(RedactionSummary {
        enabled: true,
        rules,
        ..Default::default()
    });
    // The pseudonym map stays on the node; saved before the bundle exists, so that
    // every token in it can be looked up.
    if let Some(p) = redactor.pseudonymizer() {
        p.save()?;
    }
    let bundle = writer.finish()?;
    Ok(RunReport {
        bundle,
        collectors: records,
    })
}

async fn run_one(
    name: &'static str,
    ctx: Arc<Context>,
    out: CollectorSink,
    limit: Duration,
    live: Option<Arc<Live>>,
    progress: Progress,
    children: Arc<crate::isolate::Children>,
) -> (CollectorRecord, u64) {
    let started_at = jiff::Timestamp::now();
    let t0 = Instant::now();
    let fut = async {
        match collectors::by_name(name) {
            // Not bounded in process (the driver trusts the server's message size):
            // in a child under a memory limit, see `crate::isolate`.
            Some(c) if c.isolated => crate::isolate::collect(name, &ctx, &out, &children).await,
            Some(c) => (c.collect)(&ctx, &out).await,
            None => Outcome::failed(format!("unknown collector {name}")),
        }
    };
    let outcome = match tokio::time::timeout(limit, fut).await {
        Ok(o) => o,
        Err(_) => Outcome::over_time_limit(limit),
    };
    let elapsed = t0.elapsed();
    let message = outcome.message.map(|m| out.redactor().redact_line(&m));
    let files = out.files();
    let bytes = out.bytes();
    if let Some(live) = &live {
        live.done(name, outcome.status, elapsed);
    }
    if progress == Progress::Plain {
        eprintln!(
            "rcdiag-agent: collector {name}: {} in {:.1}s, {} file(s){}",
            outcome.status,
            elapsed.as_secs_f64(),
            files.len(),
            message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
    }
    (
        CollectorRecord {
            name: name.to_string(),
            status: outcome.status,
            started_at: rfc3339(started_at),
            duration_ms: elapsed.as_millis() as u64,
            error: message,
            files,
        },
        bytes,
    )
}

/// `60s`, `2m30s`.
pub fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 && s < 10 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    match s {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}
