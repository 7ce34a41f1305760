//! Helpers shared by the collector tests (host, docker, logs, mongodb, rocketchat, kubernetes):
//! the peer requirement and the other workspace-wide helpers (from `rcdiag-testkit`), the shared fixtures, and running collectors
//! as the orchestrator does, into a real signed bundle (`Encryption::None`) that is then
//! opened again with `rcdiag_bundle::Bundle` so assertions read what a support engineer
//! would. The wire peers' URIs come from `scripts/test-env start` (`/tmp/rcdp/env`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcdiag_agent::collectors::{CollectorSink, Context, Options, Outcome, Sink};
use rcdiag_agent::redact::Redactor;
use rcdiag_bundle::{
    AgentInfo, Bundle, BundleWriter, CollectorRecord, CollectorStatus, Encryption, NodeInfo,
    NodeKey, OpenOptions, WriterOptions,
};

pub mod kube;

/// The most a test reads of one bundle entry.
const MAX_ENTRY_BYTES: u64 = 256 << 20;

#[allow(unused_imports)]
pub use rcdiag_testkit::{
    HOW_TO_START_PEERS, HungSocket, bin, bundle_host, require_peer, sha256_hex,
};

/// The shared fixtures (`RCDIAG_FIXTURES`, else `<repo>/../shared/fixtures/mongodb`).
pub fn mongodb_fixtures() -> PathBuf {
    match std::env::var_os("RCDIAG_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/mongodb"),
    }
}

/// The text of fixture `path`, or a panic naming it.
fn fixture_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The JSON of fixture `path`, or a panic naming it.
fn fixture_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&fixture_text(path))
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A recorded reply (Canonical Extended JSON) as a BSON document.
pub fn fixture_doc(name: &str) -> mongodb::bson::Document {
    let value = fixture_json(&mongodb_fixtures().join(name));
    match mongodb::bson::Bson::try_from(value) {
        Ok(mongodb::bson::Bson::Document(d)) => d,
        other => panic!("fixture {name} is not an Extended JSON document: {other:?}"),
    }
}

/// A shared Rocket.Chat fixture (`<fixtures>/../rocketchat/<name>`) as JSON.
pub fn rocketchat_fixture(name: &str) -> serde_json::Value {
    fixture_json(&mongodb_fixtures().join("../rocketchat").join(name))
}

/// Options for a MongoDB test: this URI, no Docker (a socket that does not exist, so
/// the collectors never see a real engine's containers), and `timeout`.
pub fn options(uri: &str, timeout: Duration) -> Options {
    Options {
        mongodb_uri: Some(uri.to_string()),
        docker_host: Some("unix:///nonexistent/rcdiag-test-no-docker.sock".into()),
        timeout,
        ..Options::default()
    }
}

/// [`options`] without any MongoDB URI (and still no Docker to find one in).
pub fn options_without_uri(timeout: Duration) -> Options {
    Options {
        mongodb_uri: None,
        ..options("unused", timeout)
    }
}

/// `uri` with its database path replaced by `db` (query kept).
pub fn with_database(uri: &str, db: &str) -> String {
    let (scheme, rest) = uri.split_once("://").expect("a mongodb:// URI");
    let (before_q, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = before_q.split('/').next().unwrap_or(before_q);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

/// A database name no other test run uses.
pub fn unique_db() -> String {
    format!("rc_test_{}", uuid::Uuid::now_v7().simple())
}

/// One collection run, finished and opened again.
pub struct Run {
    /// Outcome of each collector, in the order run.
    pub outcomes: Vec<(&'static str, Outcome)>,
    /// The files each collector wrote (as its sink says), in the order run.
    pub written: Vec<(&'static str, Vec<String>)>,
    /// The opened bundle.
    pub bundle: Bundle,
    /// Where the bundle file is.
    pub path: PathBuf,
    /// The run's redactor (counts).
    pub redactor: Arc<Redactor>,
    _dir: tempfile::TempDir,
}

impl Run {
    /// The outcome of collector `name`.
    pub fn outcome(&self, name: &str) -> &Outcome {
        &self
            .outcomes
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("collector {name} was not run"))
            .1
    }

    /// Asserts that collector `name` ended with `status`; returns its message ("" when
    /// it has none).
    pub fn assert_status(&self, name: &str, status: CollectorStatus) -> String {
        let outcome = self.outcome(name);
        assert_eq!(outcome.status, status, "{outcome:?}");
        outcome.message.clone().unwrap_or_default()
    }

    /// The files collector `name` wrote, in the order written.
    pub fn files(&self, name: &str) -> &[String] {
        &self
            .written
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("collector {name} was not run"))
            .1
    }

    /// A JSON entry of the bundle.
    pub fn json(&mut self, path: &str) -> serde_json::Value {
        self.bundle
            .read_json(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A text entry of the bundle.
    pub fn text(&mut self, path: &str) -> String {
        let bytes = self
            .bundle
            .read_bytes(path, MAX_ENTRY_BYTES)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"))
    }

    /// Whether the bundle has this entry.
    pub fn has(&self, path: &str) -> bool {
        self.bundle.entry(path).is_some()
    }

    /// Every byte of the bundle file (for "this secret is nowhere" checks).
    pub fn raw_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("bundle file")
    }

    /// Every entry, uncompressed (manifest and signature not included).
    pub fn all_entries(&mut self) -> Vec<(String, Vec<u8>)> {
        let names: Vec<String> = self
            .bundle
            .entries()
            .iter()
            .map(|e| e.path.clone())
            .collect();
        names
            .into_iter()
            .map(|n| {
                let b = self
                    .bundle
                    .read_bytes(&n, MAX_ENTRY_BYTES)
                    .unwrap_or_else(|e| panic!("{n}: {e}"));
                (n, b)
            })
            .collect()
    }

    /// Every entry (manifest and signature included), uncompressed, plus the raw bundle file.
    pub fn all_bytes(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut all = self.all_entries();
        all.push((
            "manifest.json".into(),
            self.bundle.manifest_bytes().to_vec(),
        ));
        all.push((
            "manifest.json.sig".into(),
            self.bundle.signature_bytes().to_vec(),
        ));
        all.push(("<bundle file>".into(), self.raw_bytes()));
        all
    }

    /// Panics if any of `secrets` is in any byte of the bundle.
    pub fn assert_no_secret(&mut self, secrets: &[&str]) {
        for (name, bytes) in self.all_bytes() {
            let text = String::from_utf8_lossy(&bytes);
            for s in secrets {
                assert!(!text.contains(s), "secret {s:?} leaked into {name}");
            }
        }
    }
}

/// A collector function as the orchestrator calls it.
pub type CollectFn =
    for<'a> fn(&'a Context, &'a CollectorSink) -> futures_util::future::BoxFuture<'a, Outcome>;

/// Runs `collectors` one after the other with one shared context (so they share the
/// Docker discovery, as in a real run), each with its own sink, then records them,
/// finishes the bundle and opens it again.
pub async fn run_collectors(options: Options, collectors: &[(&'static str, CollectFn)]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let redactor = Arc::new(Redactor::new(&[]).expect("redactor"));
    let writer = BundleWriter::create(WriterOptions {
        out: dir.path().join("test.rcdiag.zip"),
        encryption: Encryption::None,
        signer: NodeKey::generate(),
        agent: AgentInfo {
            name: "rcdiag-agent".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        node: NodeInfo {
            hostname: "test-node".into(),
            ..NodeInfo::default()
        },
        compression_level: None,
    })
    .expect("bundle writer");
    let sink = Sink::new(writer, redactor.clone());
    let ctx = Context::new(options, redactor.clone());
    let mut outcomes = Vec::new();
    let mut written = Vec::new();
    for (name, collect) in collectors {
        let out = sink.for_collector(name);
        let started = jiff::Timestamp::now();
        let t0 = Instant::now();
        let outcome = collect(&ctx, &out).await;
        let files = out.files();
        drop(out);
        // As the orchestrator does: the outcome's message is redacted into the manifest.
        let record = CollectorRecord {
            name: name.to_string(),
            status: outcome.status,
            started_at: started.to_string(),
            duration_ms: t0.elapsed().as_millis() as u64,
            error: outcome.message.as_deref().map(|m| redactor.redact_text(m)),
            files: files.clone(),
        };
        sink.with_writer(|w| w.record_collector(record)).await;
        outcomes.push((*name, outcome));
        written.push((*name, files));
    }
    let writer = sink
        .into_writer()
        .expect("the collectors let go of the writer");
    let finished = writer.finish().expect("finish bundle");
    let bundle = Bundle::open(&finished.path, &OpenOptions::default()).expect("open bundle");
    Run {
        outcomes,
        written,
        bundle,
        path: finished.path,
        redactor,
        _dir: dir,
    }
}

/// Runs collector `name` against a "MongoDB" that accepts TCP and never answers, with a
/// 2 s ctx timeout, and asserts the decision both database collectors share: the
/// collector returns by itself, `failed`, within that time (the driver's server
/// selection gives up after a quarter of it); it is not left to the orchestrator's hard
/// limit.
pub async fn run_against_silent_mongodb(name: &'static str, collect: CollectFn) -> Run {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s); // accepted, never read nor answered
        }
    });
    let uri = format!("mongodb://127.0.0.1:{port}/rocketchat?directConnection=true");
    let limit = Duration::from_secs(2);
    let t0 = Instant::now();
    let run = run_collectors(options(&uri, limit), &[(name, collect)]).await;
    let took = t0.elapsed();
    holder.abort();
    assert!(took < limit, "took {took:?}");
    run.assert_status(name, CollectorStatus::Failed);
    run
}

/// Defines `$fn_name`, the collector `rcdiag_agent::collectors::$module` as a
/// [`CollectFn`].
macro_rules! collect_fns {
    ($($fn_name:ident => $module:ident),* $(,)?) => {
        $(
            #[doc = concat!("The ", stringify!($module), " collector as a [`CollectFn`].")]
            pub fn $fn_name<'a>(
                ctx: &'a Context,
                out: &'a CollectorSink,
            ) -> futures_util::future::BoxFuture<'a, Outcome> {
                Box::pin(rcdiag_agent::collectors::$module::collect(ctx, out))
            }
        )*
    };
}

collect_fns! {
    docker_collector => docker,
    logs_collector => logs,
    host_collector => host,
    mongodb_collector => mongodb,
    rocketchat_collector => rocketchat,
    kubernetes_collector => kubernetes,
    cri_collector => cri,
}

/// Writes a kubeconfig for an API server at `https://127.0.0.1:PORT` that is not
/// verified (a test server that never answers), and returns its path in `dir`.
pub fn insecure_kubeconfig(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("insecure.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: s\n  user:\n    token: t\ncontexts:\n- name: s\n  context:\n    cluster: s\n    user: s\ncurrent-context: s\n"
        ),
    )
    .expect("write the kubeconfig");
    path
}

/// An "encrypted bundle" as far as the upload is concerned (an age header), of `n`
/// pseudo-random bytes (several read chunks).
pub fn age_file(dir: &Path, name: &str, n: usize) -> PathBuf {
    let mut data = b"age-encryption.org/v1\n-> X25519 test\n".to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(n);
    let p = dir.join(name);
    std::fs::write(&p, &data).expect("write the file");
    p
}

/// Prepares `cmd` (an `rcdiag-agent` command) for the upload peers: short retry delays
/// (`RCDIAG_UPLOAD_BACKOFF=10ms`) and no proxy from the caller's environment.
pub fn for_upload_peers(cmd: &mut std::process::Command) -> &mut std::process::Command {
    cmd.env("RCDIAG_UPLOAD_BACKOFF", "10ms");
    for v in [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd
}
