//! Collectors whose peer cannot be bounded in process run in a child process under
//! `RLIMIT_AS`, so their death cannot sink the bundle. The MongoDB driver trusts the
//! `maxMessageSizeBytes` a server announces and allocates a whole reply before reading
//! it (no option lowers that maximum), so the `mongodb` and `rocketchat` collectors run
//! in `rcdiag-agent internal-collector`: it reads its request (options, secrets
//! included) from stdin, never the command line, writes what the collector wrote into
//! a bundle encrypted to a key that exists only in the parent's memory (so no plaintext
//! touches the disk), in the run's output folder under a temp name the next run removes
//! if the parent dies, and its outcome on stdout. The parent copies the files into the
//! real bundle through the normal sink (redacted and scanned again) and records a child
//! that died (out of memory, a signal) as that collector's failure.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcdiag_bundle::{
    AgentInfo, Bundle, BundleWriter, CollectorStatus, Encryption, NodeInfo, NodeKey, OpenOptions,
    WriterOptions,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::collectors::{self, CollectorSink, Context, LogSource, Options, Outcome, Sink};
use crate::redact::Redactor;

/// The collectors run in a child process (those whose descriptor says `isolated`).
pub fn isolated() -> Vec<&'static str> {
    collectors::ALL
        .iter()
        .filter(|c| c.isolated)
        .map(|c| c.name)
        .collect()
}

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
    /// The age recipient the child encrypts to (the parent holds the identity).
    recipient: String,
    docker_host: Option<String>,
    mongodb_uri: Option<String>,
    since_ms: u64,
    log_lines: u64,
    log_bytes: u64,
    timeout_ms: u64,
    log_source_engine: bool,
    /// The run's `--docker-reply-max` (the child lists the containers too).
    #[serde(default)]
    docker_reply_max: Option<u64>,
    redact_patterns: Vec<String>,
    /// Where `mongodb_uri` came from, when the parent found it (`None`: given).
    #[serde(default)]
    mongodb_uri_source: Option<String>,
}

/// What the child answers (its stdout).
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    status: CollectorStatus,
    message: Option<String>,
    /// What its redactor redacted, per rule (added to the manifest's counts).
    #[serde(default)]
    redactions: BTreeMap<String, u64>,
}

/// What the children of one run share: the run's extra redaction patterns, and the
/// redaction counts they report, per rule (added to the manifest's).
#[derive(Debug, Default)]
pub struct Children {
    /// `--redact-pattern`s.
    pub redact_patterns: Vec<String>,
    /// The run's output folder (writable: the bundle goes there), for the children's files.
    pub out_dir: PathBuf,
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
    // The isolated collectors need the MongoDB URI: it is searched here, once per run
    // (Docker, CRI and Kubernetes views), and handed to the child with where it came from.
    let Some((mongodb_uri, uri_source, _)) = ctx.mongodb_uri().await else {
        return Outcome::skipped(ctx.no_mongodb_uri_reason().await);
    };
    let key = rcdiag_bundle::generate_support_key();
    let bundle = children.out_dir.join(format!(
        "{}{name}-{}{}",
        rcdiag_bundle::safefs::temp_prefix(),
        uuid::Uuid::now_v7().simple(),
        rcdiag_bundle::safefs::TEMP_SUFFIX
    ));
    let mut cleanup = Cleanup {
        target: bundle.clone(),
        dir: children.out_dir.clone(),
        child_prefix: None,
    };
    // The child stops by itself a little before the hard limit, so what it wrote is kept.
    let limit = ctx.options.timeout;
    let child_limit = limit
        .saturating_sub((limit / 10).clamp(Duration::from_millis(300), Duration::from_secs(3)))
        .max(Duration::from_millis(500));
    let req = Request {
        collector: name.to_string(),
        out: bundle.clone(),
        recipient: key.recipient.clone(),
        docker_host: ctx.options.docker_host.clone(),
        mongodb_uri: Some(mongodb_uri),
        mongodb_uri_source: Some(uri_source),
        since_ms: ctx.options.since.as_millis() as u64,
        log_lines: ctx.options.log_lines,
        log_bytes: ctx.options.log_bytes,
        timeout_ms: child_limit.as_millis() as u64,
        log_source_engine: ctx.options.log_source == LogSource::Engine,
        docker_reply_max: Some(ctx.docker_budget().cap()),
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
    cleanup.child_prefix = child.id().map(rcdiag_bundle::safefs::temp_prefix_of);
    let body = serde_json::to_vec(&req).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body).await;
    }
    let (mut so, mut se) = (Vec::new(), Vec::new());
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let read_out = async {
        if let Some(s) = stdout {
            let _ = s.take(64 << 10).read_to_end(&mut so).await;
        }
    };
    let read_err = async {
        if let Some(s) = stderr {
            let _ = s.take(64 << 10).read_to_end(&mut se).await;
        }
    };
    let ((), (), status) = tokio::join!(read_out, read_err, child.wait());
    let reply: Option<Reply> = serde_json::from_slice(&so).ok();
    let copied = copy_files(&bundle, &key.identity_file, out).await;
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

/// Removes the child's bundle, and the temp files of a child that died or was killed
/// mid-write (out of memory, the run cut short), however the parent's side ends.
struct Cleanup {
    target: PathBuf,
    dir: PathBuf,
    child_prefix: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.target);
        let Some(prefix) = &self.child_prefix else {
            return;
        };
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let ours = e.file_name().to_string_lossy().starts_with(prefix.as_str())
                    && e.file_type().is_ok_and(|t| t.is_file());
                if ours {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

/// Copies the entries of the child's bundle into `out` (JSON through `put_json`,
/// text line by line): redacted and scanned again by the run's own redactor.
async fn copy_files(
    bundle: &std::path::Path,
    identity_file: &str,
    out: &CollectorSink,
) -> Result<(), String> {
    if !bundle.exists() {
        return Ok(());
    }
    let ids = rcdiag_bundle::Identity::from_bytes(identity_file.as_bytes(), "the child's key")
        .map_err(|e| e.to_string())?;
    let opts = OpenOptions {
        identities: &ids,
        ..OpenOptions::default()
    };
    let mut b = Bundle::open(bundle, &opts).map_err(|e| e.to_string())?;
    let names: Vec<String> = b.entries().iter().map(|f| f.path.clone()).collect();
    for name in names {
        let data = b.read_bytes(&name, 256 << 20).map_err(|e| e.to_string())?;
        if name.ends_with(".json") {
            let v: serde_json::Value =
                serde_json::from_slice(&data).map_err(|e| format!("{name}: {e}"))?;
            out.put_json(&name, &v).await.map_err(|e| e.to_string())?;
        } else {
            let mut s = out.stream(&name).await.map_err(|e| e.to_string())?;
            for line in String::from_utf8_lossy(&data).lines() {
                s.write_line(line).map_err(|e| e.to_string())?;
            }
            s.finish(false).map_err(|e| e.to_string())?;
        }
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
    let collector = collectors::by_name(&req.collector)
        .filter(|c| c.isolated)
        .ok_or_else(|| format!("collector {:?} is not run in a child", req.collector))?;
    let name = collector.name;
    let redactor = Arc::new(Redactor::new(&req.redact_patterns).map_err(|e| e.to_string())?);
    if let Some(uri) = &req.mongodb_uri {
        redactor.register_uri_secrets(uri);
    }
    let writer = BundleWriter::create(WriterOptions {
        out: req.out.clone(),
        encryption: Encryption::Age {
            recipients: vec![
                rcdiag_bundle::Recipient::parse(&req.recipient).map_err(|e| e.to_string())?,
            ],
            armor: false,
        },
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
        mongodb_uri_source: req.mongodb_uri_source.clone(),
        since: Duration::from_millis(req.since_ms),
        log_lines: req.log_lines,
        log_bytes: req.log_bytes,
        timeout: Duration::from_millis(req.timeout_ms),
        log_source: if req.log_source_engine {
            LogSource::Engine
        } else {
            LogSource::Auto
        },
        docker_reply_max: req.docker_reply_max,
        // Only isolated collectors run here; the kubernetes one is not.
        ..Options::default()
    };
    let limit = options.timeout;
    let ctx = Context::new(options, redactor.clone());
    let out = sink.for_collector(name);
    let fut = (collector.collect)(&ctx, &out);
    let outcome = match tokio::time::timeout(limit, fut).await {
        Ok(o) => o,
        Err(_) => Outcome::over_time_limit(limit),
    };
    drop(out);
    let writer = sink
        .into_writer()
        .ok_or("the collector still holds the writer")?;
    writer.finish().map_err(|e| e.to_string())?;
    // Redacted with what this process learnt (the containers' secrets), as in process.
    Ok(Reply {
        status: outcome.status,
        message: outcome.message.map(|m| redactor.redact_line(&m)),
        redactions: redactor.counts(),
    })
}
