//! The caps of one log: turns its lines into redacted output lines under
//! `--log-lines` and `--log-bytes`, in batches for the writer. In ring mode it keeps the
//! newest lines that fit (memory bounded by `--log-bytes`).

use super::{BATCH, Ending, Limits, Msg};
use crate::redact::Redactor;

/// Turns log lines into redacted output lines under the caps, in batches. In ring
/// mode it keeps the newest lines that fit (memory bounded by `--log-bytes`);
/// otherwise it stops at the first line over a cap.
pub(super) struct Emitter {
    pub(super) lines_cap: u64,
    pub(super) bytes_cap: u64,
    pub(super) ring: Option<std::collections::VecDeque<String>>,
    pub(super) ring_bytes: u64,
    /// Why lines were dropped from the ring (`bytes` wins over `lines`).
    pub(super) evicted_by: Option<&'static str>,
    pub(super) batch: Vec<u8>,
    pub(super) batch_lines: u64,
    /// Lines accepted so far.
    pub(super) seen: u64,
    /// Bytes accepted so far (stream mode).
    pub(super) written: u64,
    pub(super) stop: Option<&'static str>,
    pub(super) error: Option<String>,
}

impl Emitter {
    pub(super) fn new(limits: &Limits, ring: bool) -> Self {
        Emitter {
            lines_cap: limits.lines,
            bytes_cap: limits.bytes,
            ring: ring.then(std::collections::VecDeque::new),
            ring_bytes: 0,
            evicted_by: None,
            batch: Vec::with_capacity(BATCH + 4096),
            batch_lines: 0,
            seen: 0,
            written: 0,
            stop: None,
            error: None,
        }
    }

    /// Takes one line; false when a cap stops the log here.
    pub(super) fn push(
        &mut self,
        redactor: &Redactor,
        timestamp: &str,
        stream: &str,
        text: &str,
    ) -> bool {
        // The text is redacted on its own so a withheld line keeps its timestamp and stream.
        let redacted = redactor.redact_line(text);
        let len = (timestamp.len() + stream.len() + redacted.len() + 3) as u64;
        if let Some(ring) = &mut self.ring {
            self.seen += 1;
            if len > self.bytes_cap {
                // This line alone is over the cap: it and everything older are left out.
                ring.clear();
                self.ring_bytes = 0;
                self.evicted_by = Some("bytes");
                return true;
            }
            ring.push_back(format!("{timestamp} {stream} {redacted}\n"));
            self.ring_bytes += len;
            while self.ring_bytes > self.bytes_cap || ring.len() as u64 > self.lines_cap {
                if self.ring_bytes > self.bytes_cap {
                    self.evicted_by = Some("bytes");
                } else if self.evicted_by.is_none() {
                    self.evicted_by = Some("lines");
                }
                let Some(old) = ring.pop_front() else { break };
                self.ring_bytes -= old.len() as u64;
            }
            return true;
        }
        if self.seen >= self.lines_cap {
            self.stop = Some("lines");
            return false;
        }
        if self.written + len > self.bytes_cap {
            self.stop = Some("bytes");
            return false;
        }
        let b = &mut self.batch;
        b.extend_from_slice(timestamp.as_bytes());
        b.push(b' ');
        b.extend_from_slice(stream.as_bytes());
        b.push(b' ');
        b.extend_from_slice(redacted.as_bytes());
        b.push(b'\n');
        self.batch_lines += 1;
        self.seen += 1;
        self.written += len;
        true
    }

    /// The current batch when it is big enough to hand over.
    pub(super) fn full_batch(&mut self) -> Option<Msg> {
        (self.batch.len() >= BATCH).then(|| self.take_batch())
    }

    pub(super) fn take_batch(&mut self) -> Msg {
        let bytes = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH + 4096));
        Msg::Batch {
            bytes,
            lines: std::mem::take(&mut self.batch_lines),
        }
    }

    /// Everything not handed over yet: the ring's lines, or the last batch.
    pub(super) fn drain(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        if let Some(ring) = self.ring.take() {
            for line in ring {
                self.batch.extend_from_slice(line.as_bytes());
                self.batch_lines += 1;
                if self.batch.len() >= BATCH {
                    out.push(self.take_batch());
                }
            }
        }
        if self.batch_lines > 0 {
            out.push(self.take_batch());
        }
        out
    }

    /// How the log ended, as far as the emitter knows.
    pub(super) fn ending(&mut self, source: Option<&'static str>) -> Ending {
        Ending {
            source,
            exists: false,
            // Cut by the deadline says more than older lines left out.
            truncated_by: self
                .stop
                .filter(|s| *s == "timeout")
                .or(self.evicted_by)
                .or(self.stop),
            error: self.error.take(),
        }
    }
}
