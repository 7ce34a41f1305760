//! Collectors whose peer cannot be bounded in process run in a child process under
//! `RLIMIT_AS`, so their death cannot sink the bundle. The MongoDB driver trusts the
//! `maxMessageSizeBytes` a server announces and allocates a whole reply before reading
//! it (no option lowers that maximum), so the `mongodb` and `rocketchat` collectors run
//! in `rcdiag-agent internal-collector`: it reads its request (options, secrets
//! included) from stdin, never the command line, and answers on stdout with its
//! outcome and the JSON files the collector put (already redacted by the child; nothing
//! of them is written to disk, the child's bundle writer is never flushed). The parent
//! reads at most [`MAX_REPLY_BYTES`] of it, puts the files into the real bundle through
//! the normal sink (redacted again, and the exact-value pass of the whole run), and
//! records a child that died (out of memory, a signal) as that collector's failure.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcdiag_bundle::{
    AgentInfo, BundleWriter, CollectorStatus, Encryption, NodeInfo, NodeKey, WriterOptions,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::collectors::{self, CollectorSink, Context, LogSource, Options, Outcome, Sink};
use crate::redact::Redactor;

/// The collectors run in a child process.
pub const ISOLATED: &[&str] = &["mongodb", "rocketchat"];

/// Address space a child may use beyond what it has mapped when it starts: MongoDB's
/// real maximum message (48,000,000 bytes) and its decoding fit; a 2 GiB reply does not.
pub const CHILD_HEADROOM: u64 = 384 << 20;

/// The environment variable that makes tests lower the headroom.
const HEADROOM_ENV: &str = "RCDIAG_ISOLATE_HEADROOM";

/// What the child is asked to do (sent on its stdin).
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    collector: String,
    out: PathBuf,
    docker_host: Option<String>,
    mongodb_uri: Option<String>,
    since_ms: u64,
    log_lines: u64,
    log_bytes: u64,
    timeout_ms: u64,
    log_source_engine: bool,
    redact_patterns: Vec<String>,
}

/// The most the parent reads of a child's answer: the files of the mongodb and
/// rocketchat collectors are small (their strings are cut at 4 KiB each).
pub const MAX_REPLY_BYTES: u64 = 32 << 20;

/// What the child answers (its stdout).
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    status: CollectorStatus,
    message: Option<String>,
    /// What its redactor redacted, per rule (added to the manifest's counts).
    #[serde(default)]
    redactions: BTreeMap<String, u64>,
    /// The JSON files the collector put, in order: `(path, content)`.
    #[serde(default)]
    files: Vec<(String, serde_json::Value)>,
}

/// What the children of one run share: the run's extra redaction patterns, and the
/// redaction counts they report, per rule (added to the manifest's).
#[derive(Debug, Default)]
pub struct Children {
    /// `--redact-pattern`s.
    pub redact_patterns: Vec<String>,
    /// Counts reported by the children.
    pub counts: std::sync::Mutex<BTreeMap<String, u64>>,
}

/// Runs collector `name` in a child process and copies what it wrote into `out`; the
/// child's redaction counts are added to `children.counts`.
pub async fn collect(
    name: &'static str,
    ctx: &Context,
    out: &CollectorSink,
    children: &Children,
) -> Outcome {
    let dir = match tempfile::Builder::new().prefix("rcdiag-").tempdir() {
        Ok(d) => d,
        Err(e) => return Outcome::failed(format!("cannot make a private temp folder: {e}")),
    };
    let bundle = dir.path().join("child.rcdiag.zip");
    // The child stops by itself a little before the hard limit, so what it wrote is kept.
    let limit = ctx.options.timeout;
    let child_limit = limit
        .saturating_sub((limit / 10).clamp(Duration::from_millis(300), Duration::from_secs(3)))
        .max(Duration::from_millis(500));
    let req = Request {
        collector: name.to_string(),
        out: bundle.clone(),
        docker_host: ctx.options.docker_host.clone(),
        mongodb_uri: ctx.options.mongodb_uri.clone(),
        since_ms: ctx.options.since.as_millis() as u64,
        log_lines: ctx.options.log_lines,
        log_bytes: ctx.options.log_bytes,
        timeout_ms: child_limit.as_millis() as u64,
        log_source_engine: ctx.options.log_source == LogSource::Engine,
        redact_patterns: children.redact_patterns.clone(),
    };
    // The running binary itself, even if it was replaced on disk meanwhile (an upgrade).
    let exe = if std::path::Path::new("/proc/self/exe").exists() {
        PathBuf::from("/proc/self/exe")
    } else {
        match std::env::current_exe() {
            Ok(p) => p,
            Err(e) => return Outcome::failed(format!("cannot find the agent's own binary: {e}")),
        }
    };
    let mut child = match tokio::process::Command::new(exe)
        .arg("internal-collector")
        .env("MALLOC_ARENA_MAX", "2")
        // A backtrace would be symbolized from the debug info: tens of MiB at the worst time.
        .env("RUST_BACKTRACE", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(format!("cannot start the {name} collector's process: {e}"));
        }
    };
    let body = serde_json::to_vec(&req).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body).await;
    }
    let (mut so, mut se) = (Vec::new(), Vec::new());
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let read_out = async {
        if let Some(s) = stdout {
            let _ = s.take(MAX_REPLY_BYTES).read_to_end(&mut so).await;
        }
    };
    let read_err = async {
        if let Some(s) = stderr {
            let _ = s.take(64 << 10).read_to_end(&mut se).await;
        }
    };
    let ((), (), status) = tokio::join!(read_out, read_err, child.wait());
    let reply: Option<Reply> = serde_json::from_slice(&so).ok();
    drop(so);
    drop(dir);
    let copied = match &reply {
        Some(r) => put_files(&r.files, out).await,
        None => Ok(()),
    };
    match (reply, status) {
        (Some(r), _) => {
            if let Ok(mut c) = children.counts.lock() {
                rcdiag_bundle::merge_counts(&mut c, &r.redactions);
            }
            let mut o = Outcome {
                status: r.status,
                message: r.message,
            };
            if let Err(e) = copied {
                o = Outcome::partial(format!(
                    "{}; copying its files: {e}",
                    o.message.unwrap_or_default()
                ));
            }
            o
        }
        (None, st) => {
            let how = match st {
                Ok(s) => describe_exit(s),
                Err(e) => format!("could not be waited for: {e}"),
            };
            let text = String::from_utf8_lossy(&se);
            let tail = text
                .lines()
                .find(|l| l.contains("memory allocation") || l.contains("panicked"))
                .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
                .unwrap_or("")
                .chars()
                .take(300)
                .collect::<String>();
            Outcome::failed(format!(
                "the {name} collector's process {how}{}{}; it runs under a memory limit of {} MiB \
                 beyond its start so that a peer's huge reply (e.g. a MongoDB server announcing a \
                 maxMessageSizeBytes above MongoDB's 48,000,000) cannot sink the bundle; its files are lost",
                if tail.is_empty() { "" } else { ": " },
                tail,
                headroom() >> 20
            ))
        }
    }
}

fn describe_exit(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (s.code(), s.signal()) {
        (_, Some(6)) => "was aborted (SIGABRT: most likely out of memory)".into(),
        (_, Some(9)) => "was killed (SIGKILL)".into(),
        (_, Some(sig)) => format!("died of signal {sig}"),
        (Some(c), _) => format!("exited with status {c} without an answer"),
        _ => "ended without an answer".into(),
    }
}

/// Puts the child's files into `out` through `put_json`: redacted again by the run's
/// own redactor, and held for the exact-value pass of the whole run.
async fn put_files(
    files: &[(String, serde_json::Value)],
    out: &CollectorSink,
) -> Result<(), String> {
    for (name, v) in files {
        if !name.ends_with(".json") {
            return Err(format!("{name}: the child may only put JSON files"));
        }
        out.put_json(name, v).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn headroom() -> u64 {
    std::env::var(HEADROOM_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(|mib| mib << 20)
        .unwrap_or(CHILD_HEADROOM)
}

/// The address space mapped now (`VmSize`), in bytes.
fn vm_size() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb << 10)
}

/// The child side (`rcdiag-agent internal-collector`): returns the process exit code.
pub fn child_main() -> i32 {
    let mut input = Vec::new();
    if std::io::stdin()
        .take(1 << 20)
        .read_to_end(&mut input)
        .is_err()
    {
        return 2;
    }
    let Ok(req) = serde_json::from_slice::<Request>(&input) else {
        eprintln!(
            "rcdiag-agent internal-collector: not a request (this command is for the agent itself)"
        );
        return 2;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return 1;
        }
    };
    // The memory limit, once the runtime exists: what is mapped now plus the headroom.
    if let Some(now) = vm_size() {
        let limit = now + headroom();
        let _ = rustix::process::setrlimit(
            rustix::process::Resource::As,
            rustix::process::Rlimit {
                current: Some(limit),
                maximum: Some(limit),
            },
        );
    }
    let reply = rt.block_on(run_child(&req));
    match reply {
        Ok(r) => {
            println!("{}", serde_json::to_string(&r).unwrap_or_default());
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

async fn run_child(req: &Request) -> Result<Reply, String> {
    let name: &'static str = collectors::names()
        .into_iter()
        .find(|n| *n == req.collector && ISOLATED.contains(n))
        .ok_or_else(|| format!("collector {:?} is not run in a child", req.collector))?;
    let redactor = Arc::new(Redactor::new(&req.redact_patterns).map_err(|e| e.to_string())?);
    if let Some(uri) = &req.mongodb_uri {
        redactor.register_uri_secrets(uri);
    }
    let writer = BundleWriter::create(WriterOptions {
        out: req.out.clone(),
        encryption: Encryption::None,
        signer: NodeKey::generate(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        node: NodeInfo::default(),
        compression_level: Some(1),
    })
    .map_err(|e| e.to_string())?;
    let sink = Sink::new(writer, redactor.clone());
    let options = Options {
        docker_host: req.docker_host.clone(),
        mongodb_uri: req.mongodb_uri.clone(),
        since: Duration::from_millis(req.since_ms),
        log_lines: req.log_lines,
        log_bytes: req.log_bytes,
        timeout: Duration::from_millis(req.timeout_ms),
        log_source: if req.log_source_engine {
            LogSource::Engine
        } else {
            LogSource::Auto
        },
    };
    let limit = options.timeout;
    let ctx = Context::new(options, redactor.clone());
    let out = sink.for_collector(name);
    let fut = async {
        match name {
            "mongodb" => collectors::mongodb::collect(&ctx, &out).await,
            _ => collectors::rocketchat::collect(&ctx, &out).await,
        }
    };
    let outcome = match tokio::time::timeout(limit, fut).await {
        Ok(o) => o,
        Err(_) => Outcome {
            status: CollectorStatus::Timeout,
            message: Some(format!(
                "did not finish within {}; files written until then are kept; raise --timeout if the node is slow",
                crate::run::humantime(limit)
            )),
        },
    };
    drop(out);
    // The files go back on stdout; the writer is dropped unflushed, so its temp file
    // (zip headers only) is removed and no collected byte touches the disk.
    // The child's own exact-value pass (it may have learnt secrets the parent did not:
    // its own Docker discovery); the parent's comes on top.
    let mut files = sink.take_pending_json();
    for (_, v) in &mut files {
        redactor.replace_exact_json(v);
    }
    drop(sink);
    // Redacted with what this process learnt (the containers' secrets), as in process.
    Ok(Reply {
        status: outcome.status,
        message: outcome.message.map(|m| redactor.redact_line(&m)),
        redactions: redactor.counts(),
        files,
    })
}
