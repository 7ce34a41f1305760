//! The sink that redacts and writes into the bundle: JSON files are held (bounded,
//! pattern-redacted) until every collector is done so the exact-value pass sees every
//! secret of the run; log entries are streamed line by line.

use std::sync::{Arc, Mutex};

use rcdiag_bundle::{BundleWriter, FileRecord};
use serde::Serialize;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::redact::Redactor;

/// A JSON file put by a collector, held until every collector is done so that the
/// exact-value pass sees every secret of the run (see [`Sink::flush_pending`]).
struct PendingJson {
    path: String,
    value: serde_json::Value,
    collector: &'static str,
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

/// The bundle writer shared by the collectors of a run. Log entries are streamed one at
/// a time; JSON files are held (bounded, pattern-redacted) and written at the end.
#[derive(Clone)]
pub struct Sink {
    writer: Arc<AsyncMutex<BundleWriter>>,
    redactor: Arc<Redactor>,
    pending: Arc<Mutex<Vec<PendingJson>>>,
}

impl Sink {
    /// Wraps a writer.
    pub fn new(writer: BundleWriter, redactor: Arc<Redactor>) -> Self {
        Self {
            writer: Arc::new(AsyncMutex::new(writer)),
            redactor,
            pending: Arc::default(),
        }
    }

    /// A sink that records which files `collector` writes.
    pub fn for_collector(&self, collector: &'static str) -> CollectorSink {
        CollectorSink {
            sink: self.clone(),
            collector,
            files: Arc::new(Mutex::new(Vec::new())),
            bytes: Arc::default(),
        }
    }

    /// Writes the held JSON files, after the exact-value pass over each, in the order
    /// they were put. Returns `(collector, error)` for each file that could not be written.
    pub async fn flush_pending(&self) -> Vec<(&'static str, String)> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        let mut w = self.writer.lock().await;
        write_pending(&mut w, &self.redactor, pending)
    }

    /// Takes the writer back once every collector is done (fails if one still holds it);
    /// JSON files still held are written first.
    pub fn into_writer(self) -> Option<BundleWriter> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        let mut writer = Arc::try_unwrap(self.writer)
            .ok()
            .map(AsyncMutex::into_inner)?;
        let _ = write_pending(&mut writer, &self.redactor, pending);
        Some(writer)
    }

    /// A weak handle to the writer: it upgrades while any clone of the sink is alive.
    pub fn downgrade(&self) -> std::sync::Weak<AsyncMutex<BundleWriter>> {
        Arc::downgrade(&self.writer)
    }

    /// Runs `f` with the writer locked.
    pub async fn with_writer<T>(&self, f: impl FnOnce(&mut BundleWriter) -> T) -> T {
        let mut w = self.writer.lock().await;
        f(&mut w)
    }
}

fn write_pending(
    w: &mut BundleWriter,
    redactor: &Redactor,
    pending: Vec<PendingJson>,
) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    for mut p in merge_lists(pending) {
        redactor.replace_exact_json(&mut p.value);
        let mut bytes = serde_json::to_vec_pretty(&p.value).unwrap_or_default();
        bytes.push(b'\n');
        match w.add_bytes(&p.path, &bytes) {
            Ok(rec) => {
                p.bytes
                    .fetch_add(rec.size, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => errors.push((p.collector, format!("writing {}: {e}", p.path))),
        }
    }
    errors
}

/// Files put more than once as JSON lists (`logs/index.json`, from the `logs` and the
/// `kubernetes` collectors) become one list, in the order they were put; the first
/// collector to put it is named if writing it fails.
fn merge_lists(pending: Vec<PendingJson>) -> Vec<PendingJson> {
    let mut out: Vec<PendingJson> = Vec::with_capacity(pending.len());
    for mut p in pending {
        if let Some(first) = out.iter_mut().find(|q| q.path == p.path)
            && let (serde_json::Value::Array(a), serde_json::Value::Array(b)) =
                (&mut first.value, &mut p.value)
        {
            a.append(b);
            continue;
        }
        out.push(p);
    }
    out
}

/// A collector's view of the sink: every write is redacted and recorded.
#[derive(Clone)]
pub struct CollectorSink {
    sink: Sink,
    collector: &'static str,
    files: Arc<Mutex<Vec<String>>>,
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl CollectorSink {
    /// Uncompressed bytes written so far by this collector.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The collector this sink belongs to.
    pub fn collector(&self) -> &'static str {
        self.collector
    }

    /// The run's redactor.
    pub fn redactor(&self) -> &Redactor {
        &self.sink.redactor
    }

    /// The run's redactor, to hand to another task.
    pub fn redactor_arc(&self) -> Arc<Redactor> {
        self.sink.redactor.clone()
    }

    /// Paths written so far (kept even when the collector times out).
    pub fn files(&self) -> Vec<String> {
        self.files.lock().expect("files lock").clone()
    }

    /// Puts `value` as a JSON file: every string is cut to [`crate::bound::MAX_FIELD_BYTES`]
    /// and pattern-redacted now; the exact-value pass and the write happen once every
    /// collector is done ([`Sink::flush_pending`]).
    pub async fn put_json(
        &self,
        path: &str,
        value: &impl Serialize,
    ) -> Result<(), rcdiag_bundle::Error> {
        let mut value = serde_json::to_value(value).map_err(|e| rcdiag_bundle::Error::Json {
            path: path.into(),
            reason: e.to_string(),
        })?;
        crate::bound::bound_json(&mut value);
        self.sink.redactor.redact_json(&mut value);
        self.sink
            .pending
            .lock()
            .expect("pending lock")
            .push(PendingJson {
                path: path.to_string(),
                value,
                collector: self.collector,
                bytes: self.bytes.clone(),
            });
        self.files
            .lock()
            .expect("files lock")
            .push(path.to_string());
        Ok(())
    }

    /// Opens a streamed text entry; the writer stays locked until the stream is finished or dropped.
    pub async fn stream(&self, path: &str) -> Result<LineStream, rcdiag_bundle::Error> {
        let mut guard = self.sink.writer.clone().lock_owned().await;
        guard.begin_file(path)?;
        self.files
            .lock()
            .expect("files lock")
            .push(path.to_string());
        Ok(LineStream {
            guard,
            redactor: self.sink.redactor.clone(),
            lines: 0,
            bytes: 0,
            finished: false,
            total: self.bytes.clone(),
        })
    }
}

/// A text entry being written line by line, each line redacted first.
pub struct LineStream {
    guard: OwnedMutexGuard<BundleWriter>,
    redactor: Arc<Redactor>,
    /// Lines written.
    pub lines: u64,
    /// Bytes written (after redaction).
    pub bytes: u64,
    finished: bool,
    total: Arc<std::sync::atomic::AtomicU64>,
}

impl LineStream {
    /// Redacts and writes one line (a newline is added).
    pub fn write_line(&mut self, line: &str) -> Result<(), rcdiag_bundle::Error> {
        let redacted = self
            .redactor
            .redact_line(line.trim_end_matches(['\n', '\r']));
        self.write_redacted_line(&redacted)
    }

    /// Writes one line that the caller already passed through `Redactor::redact_line`
    /// (a newline is added). Use `write_line` for raw text.
    pub fn write_redacted_line(&mut self, line: &str) -> Result<(), rcdiag_bundle::Error> {
        let mut out = String::with_capacity(line.len() + 1);
        out.push_str(line.trim_end_matches(['\n', '\r']));
        out.push('\n');
        self.guard.write_chunk(out.as_bytes())?;
        self.lines += 1;
        self.bytes += out.len() as u64;
        self.total
            .fetch_add(out.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Writes `lines` lines that the caller already redacted (with
    /// `Redactor::redact_line`) and joined, each ending in `\n`.
    pub fn write_block(&mut self, block: &[u8], lines: u64) -> Result<(), rcdiag_bundle::Error> {
        self.guard.write_chunk(block)?;
        self.lines += lines;
        self.bytes += block.len() as u64;
        self.total
            .fetch_add(block.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Closes the entry.
    pub fn finish(mut self, truncated: bool) -> Result<FileRecord, rcdiag_bundle::Error> {
        self.finished = true;
        self.guard.end_file(truncated).cloned()
    }
}

impl Drop for LineStream {
    fn drop(&mut self) {
        if !self.finished {
            // Cut short (time limit or error): close the entry, marked truncated.
            let _ = self.guard.end_file(true);
        }
    }
}
