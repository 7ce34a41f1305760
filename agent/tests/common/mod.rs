//! Helpers of the host, docker and logs collector tests: the peer requirement
//! (`require_peer`), and running collectors as the orchestrator does, into a real
//! signed bundle (`Encryption::None`) that is then opened again with
//! `rcdiag_bundle::Bundle` so assertions read what a support engineer would.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use rcdiag_agent::collectors::{CollectorSink, Context, Options, Outcome, Sink};
use rcdiag_agent::redact::Redactor;
use rcdiag_bundle::{
    AgentInfo, Bundle, BundleWriter, CollectorRecord, Encryption, NodeInfo, NodeKey, OpenOptions,
    WriterOptions,
};

/// How to get the peers, for messages.
pub const HOW_TO_START_PEERS: &str = "start them with `scripts/test-env start` then `source /tmp/rcdp/env` \
     (or run the tests under `scripts/test-env run -- cargo test ...`)";

/// The value of `var` (a peer's address, e.g. `RCDIAG_TEST_DOCKER_HOST`). When it is
/// unset: with `RCDIAG_REQUIRE_PEERS=1` the test fails, naming the variable and how to
/// set it; otherwise it prints a loud `SKIPPED` line and returns `None`.
pub fn require_peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!(
                    "{var} is not set but RCDIAG_REQUIRE_PEERS=1 requires the test peers: {HOW_TO_START_PEERS}"
                );
            }
            eprintln!(
                "\n*** SKIPPED: {var} is not set, this test needs a real peer: {HOW_TO_START_PEERS} ***\n"
            );
            None
        }
    }
}

/// One collection run, finished and opened again.
pub struct Run {
    /// Outcome of each collector, in the order run.
    pub outcomes: Vec<(&'static str, Outcome)>,
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
            .read_bytes(path, 256 << 20)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"))
    }

    /// Whether the bundle has this entry.
    pub fn has(&self, path: &str) -> bool {
        self.bundle.entry(path).is_some()
    }

    /// Every entry (manifest and signature included), uncompressed, plus the raw bundle file.
    pub fn all_bytes(&mut self) -> Vec<(String, Vec<u8>)> {
        let names: Vec<String> = self
            .bundle
            .entries()
            .iter()
            .map(|e| e.path.clone())
            .collect();
        let mut all: Vec<(String, Vec<u8>)> = names
            .into_iter()
            .map(|n| {
                let b = self
                    .bundle
                    .read_bytes(&n, 256 << 20)
                    .unwrap_or_else(|e| panic!("{n}: {e}"));
                (n, b)
            })
            .collect();
        all.push((
            "manifest.json".into(),
            self.bundle.manifest_bytes().to_vec(),
        ));
        all.push((
            "manifest.json.sig".into(),
            self.bundle.signature_bytes().to_vec(),
        ));
        all.push((
            "<bundle file>".into(),
            std::fs::read(&self.path).expect("bundle file"),
        ));
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
    for (name, collect) in collectors {
        let out = sink.for_collector(name);
        let started = jiff::Timestamp::now();
        let t0 = std::time::Instant::now();
        let outcome = collect(&ctx, &out).await;
        let record = CollectorRecord {
            name: name.to_string(),
            status: outcome.status,
            started_at: started.to_string(),
            duration_ms: t0.elapsed().as_millis() as u64,
            error: outcome.message.as_deref().map(|m| redactor.redact_text(m)),
            files: out.files(),
        };
        drop(out);
        sink.with_writer(|w| w.record_collector(record)).await;
        outcomes.push((*name, outcome));
    }
    let writer = sink
        .into_writer()
        .expect("the collectors let go of the writer");
    let finished = writer.finish().expect("finish bundle");
    let bundle = Bundle::open(&finished.path, &OpenOptions::default()).expect("open bundle");
    Run {
        outcomes,
        bundle,
        path: finished.path,
        redactor,
        _dir: dir,
    }
}

/// The docker collector as a [`CollectFn`].
pub fn docker_collector<'a>(
    ctx: &'a Context,
    out: &'a CollectorSink,
) -> futures_util::future::BoxFuture<'a, Outcome> {
    Box::pin(rcdiag_agent::collectors::docker::collect(ctx, out))
}

/// The logs collector as a [`CollectFn`].
pub fn logs_collector<'a>(
    ctx: &'a Context,
    out: &'a CollectorSink,
) -> futures_util::future::BoxFuture<'a, Outcome> {
    Box::pin(rcdiag_agent::collectors::logs::collect(ctx, out))
}

/// The host collector as a [`CollectFn`].
pub fn host_collector<'a>(
    ctx: &'a Context,
    out: &'a CollectorSink,
) -> futures_util::future::BoxFuture<'a, Outcome> {
    Box::pin(rcdiag_agent::collectors::host::collect(ctx, out))
}
