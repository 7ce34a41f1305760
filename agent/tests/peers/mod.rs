//! Helpers of the tests that run the mongodb and rocketchat collectors against real wire
//! peers (`scripts/test-env start` writes their URIs into `/tmp/rcdp/env`), into a real
//! bundle that is then read back with `rcdiag_bundle::Bundle`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcdiag_agent::collectors::{CollectorSink, Context, Options, Outcome, Sink};
use rcdiag_agent::redact::Redactor;
use rcdiag_bundle::{
    AgentInfo, Bundle, BundleWriter, CollectorRecord, Encryption, NodeInfo, NodeKey, OpenOptions,
    WriterOptions,
};

/// The value of `var`, a peer's address. Unset: with `RCDIAG_REQUIRE_PEERS=1` the test
/// fails (naming the variable and how to set it), else it says SKIPPED and returns None.
pub fn require_peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            let how = "start the peers with `scripts/test-env start` and `source /tmp/rcdp/env` (or run under `scripts/test-env run -- ...`)";
            if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("{var} is not set but RCDIAG_REQUIRE_PEERS=1: {how}");
            }
            eprintln!("SKIPPED: {var} is not set; {how}");
            None
        }
    }
}

/// The shared fixtures (`RCDIAG_FIXTURES`, else `<repo>/../shared/fixtures/mongodb`).
pub fn mongodb_fixtures() -> PathBuf {
    match std::env::var_os("RCDIAG_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/mongodb"),
    }
}

/// A recorded reply (Canonical Extended JSON) as a BSON document.
pub fn fixture_doc(name: &str) -> mongodb::bson::Document {
    let path = mongodb_fixtures().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    match mongodb::bson::Bson::try_from(value) {
        Ok(mongodb::bson::Bson::Document(d)) => d,
        other => panic!("fixture {name} is not an Extended JSON document: {other:?}"),
    }
}

/// Options for a test: this URI, no Docker (a socket that does not exist, so the
/// collectors never see a real engine's containers), and `timeout`.
pub fn options(uri: &str, timeout: Duration) -> Options {
    Options {
        mongodb_uri: Some(uri.to_string()),
        docker_host: Some("unix:///nonexistent/rcdiag-test-no-docker.sock".into()),
        timeout,
        ..Options::default()
    }
}

/// One collector run written into a real, signed, unencrypted bundle.
pub struct Run {
    pub outcome: Outcome,
    pub files: Vec<String>,
    pub bundle: Bundle,
    pub path: PathBuf,
    pub redactor: Arc<Redactor>,
    _dir: tempfile::TempDir,
}

impl Run {
    /// A JSON file of the bundle.
    pub fn json(&mut self, path: &str) -> serde_json::Value {
        self.bundle
            .read_json(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Every byte of the bundle file (for "this secret is nowhere" checks).
    pub fn raw_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("bundle bytes")
    }

    /// Every entry, uncompressed.
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
                    .read_bytes(&n, 64 << 20)
                    .unwrap_or_else(|e| panic!("{n}: {e}"));
                (n, b)
            })
            .collect()
    }
}

/// Runs `collect` as the orchestrator would (one sink per collector), finishes the
/// bundle and opens it again.
pub async fn run_collector<F, Fut>(name: &'static str, options: Options, collect: F) -> Run
where
    F: FnOnce(Arc<Context>, CollectorSink) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
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
    let ctx = Arc::new(Context::new(options, redactor.clone()));
    let out = sink.for_collector(name);
    let started = jiff::Timestamp::now();
    let t0 = std::time::Instant::now();
    let outcome = collect(ctx, out.clone()).await;
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
    let writer = sink
        .into_writer()
        .expect("the collector let go of the writer");
    let finished = writer.finish().expect("finish bundle");
    let bundle = Bundle::open(&finished.path, &OpenOptions::default()).expect("open bundle");
    Run {
        outcome,
        files,
        bundle,
        path: finished.path,
        redactor,
        _dir: dir,
    }
}

/// A shared Rocket.Chat fixture (`<fixtures>/../rocketchat/<name>`) as JSON.
pub fn rocketchat_fixture(name: &str) -> serde_json::Value {
    let path = mongodb_fixtures().join("../rocketchat").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
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
