//! Scanning a bundle's logs for the policy's known-error signatures and the values of
//! the Rocket.Chat startup box: logs are read block-wise (one combined regex search
//! per block finds the few lines worth judging), with an exact per-line fallback, and
//! each line is judged on its own.

use rcdiag_bundle::Bundle;

use crate::policy::Policy;

mod judge;
#[cfg(test)]
mod tests;

use judge::block_searchable;

/// Longest log line examined; the rest of a longer line is skipped.
const MAX_SCAN_LINE: usize = 64 * 1024;

/// Bytes of a log read and searched at a time.
const SCAN_BLOCK: usize = 1 << 20;

/// A line longer than `MAX_SCAN_LINE` covers at least one whole window of this size
/// aligned to the start of the bytes searched, so only windows without a '\n' are
/// looked at more closely.
const LONG_LINE_WINDOW: usize = MAX_SCAN_LINE / 2;

/// Startup box labels: a line holding one is read for versions and settings.
const STARTUP_LABELS: [&str; 3] = ["Version:", "Engine:", "OpLog:"];

/// Finds, in logs, the lines matching a policy signature and the values of startup
/// boxes.
///
/// Each line is judged on its own by [`LogScanner::line`]: its first `MAX_SCAN_LINE`
/// bytes, decoded lossily, with trailing '\r's trimmed, against every signature and the
/// startup labels. Doing that for every line costs a regex call per line, so logs are
/// read in blocks and one multi-line regex of every signature and label (`block`) is
/// searched over the whole lines of a block; only the lines where it finds something
/// are judged. It finds every line that matches on its own:
///
/// - in a block, a line reads as its own text when it is UTF-8 and at most
///   `MAX_SCAN_LINE` bytes long (other lines are judged one by one);
/// - a match inside the line reads the same characters, and its assertions hold as
///   they do on the line alone: multi-line `^` and `$` at its ends, and the '\n' (or
///   '\r') next to it is a non-word character like the edge of a text, for `\b`. A
///   trailing '\r' is not trimmed in a block, so when a signature uses `$`, blocks
///   holding a '\r' are judged line by line. Assertions that only hold at the edges of
///   the whole text (`\A`, `\z`, `^` and `$` under `(?-m)`) and `(?x)` (whose comments
///   could swallow the rest of the union) leave `block` `None`;
/// - a match may run on across lines (`\s`, `[^x]` match '\n'), but the search resumes
///   at the start of the line after the one where the match began, and the leftmost
///   match from there starts at or before the next line's own match.
pub(crate) struct LogScanner<'p> {
    policy: &'p Policy,
    /// Signature ids, in the order of `set`.
    ids: Vec<String>,
    /// For each signature of `set`, the first one with the same id (whose kept matches
    /// it shares).
    slot: Vec<usize>,
    /// All signature patterns at once: one pass per judged line.
    set: regex::RegexSet,
    rc_version: regex::Regex,
    mongo_version: regex::Regex,
    mongo_engine: regex::Regex,
    oplog: regex::Regex,
    /// Every signature and startup label in one multi-line regex searched over blocks;
    /// `None` when a pattern cannot be searched that way (then every line is judged).
    block: Option<regex::Regex>,
    /// A signature uses `$`: blocks holding a '\r' are judged line by line.
    block_cr_sensitive: bool,
}

/// One known-signature hit in a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMatch {
    /// Policy signature id.
    pub signature: String,
    /// Bundle path of the log file.
    pub file: String,
    /// 1-based line number.
    pub line_no: u64,
    /// The line (cut to the policy's `max_line_chars`).
    pub line: String,
}

/// What a node's logs hold: signature hits and the values of startup boxes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFindings {
    /// Signature hits (capped per signature, over all of the node's logs).
    pub log_matches: Vec<LogMatch>,
    /// Hits per signature id, including those beyond the cap.
    pub log_match_counts: std::collections::BTreeMap<String, u64>,
    /// Log files scanned (bundle paths).
    pub log_files: Vec<String>,
    /// `(file, version)` from `Rocket.Chat Version:` lines.
    pub startup_versions: Vec<(String, String)>,
    /// `(file, version)` from `MongoDB Version:` lines.
    pub startup_mongo_versions: Vec<(String, String)>,
    /// `(file, engine)` from `MongoDB Engine:` lines.
    pub startup_mongo_engines: Vec<(String, String)>,
    /// `(file, Enabled|Disabled)` from `ReplicaSet OpLog:` lines.
    pub startup_oplog: Vec<(String, String)>,
}

/// One log being scanned.
struct LogState {
    /// Bundle path of the log.
    file: String,
    /// Lines seen so far.
    line_no: u64,
    /// Matches kept per signature slot, those of the node's other logs included.
    kept: Vec<usize>,
    /// The start (at most `MAX_SCAN_LINE` bytes) of a line whose end is not read yet.
    carry: Vec<u8>,
}

/// What the thread reading a bundle hands the thread scanning its logs.
enum Feed {
    /// A log starts.
    Start(String),
    /// The next bytes of the log.
    Data(Vec<u8>),
    /// The log was read to the end and verified.
    End,
}

impl<'p> LogScanner<'p> {
    pub(crate) fn new(policy: &'p Policy) -> Self {
        let re = |p: &str| regex::Regex::new(p).unwrap_or_else(|_| never_matches());
        // A policy is validated on load; an invalid pattern is skipped, never fatal.
        let valid: Vec<&crate::policy::Signature> = policy
            .logs
            .signatures
            .iter()
            .filter(|s| regex::Regex::new(&s.pattern).is_ok())
            .collect();
        let ids: Vec<String> = valid.iter().map(|s| s.id.clone()).collect();
        let slot = ids
            .iter()
            .map(|id| ids.iter().position(|o| o == id).unwrap_or(0))
            .collect();
        let block = if valid.iter().all(|s| block_searchable(&s.pattern)) {
            let alternatives: Vec<String> = valid
                .iter()
                .map(|s| format!("(?:{})", s.pattern))
                .chain(STARTUP_LABELS.iter().map(|l| regex::escape(l)))
                .collect();
            regex::Regex::new(&format!("(?m:{})", alternatives.join("|"))).ok()
        } else {
            None
        };
        LogScanner {
            policy,
            ids,
            slot,
            set: regex::RegexSet::new(valid.iter().map(|s| s.pattern.as_str()))
                .unwrap_or_else(|_| regex::RegexSet::empty()),
            rc_version: re(r"Rocket\.Chat Version:\s*v?([0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*)"),
            mongo_version: re(r"MongoDB Version:\s*v?([0-9]+\.[0-9]+(?:\.[0-9]+)?)"),
            mongo_engine: re(r"MongoDB Engine:\s*([A-Za-z][A-Za-z0-9_-]*)"),
            oplog: re(r"ReplicaSet OpLog:\s*(Enabled|Disabled)"),
            block,
            block_cr_sensitive: valid.iter().any(|s| s.pattern.contains('$')),
        }
    }

    /// Scans the logs `files` of `bundle`: this thread reads them (decrypting,
    /// inflating and checking each one's SHA-256) while a second one scans what was
    /// read. Without a second thread they are read and scanned in turn. Returns what
    /// the logs hold.
    pub(crate) fn scan_entries(
        &self,
        bundle: &mut Bundle,
        files: &[&str],
    ) -> Result<LogFindings, rcdiag_bundle::Error> {
        let mut found = LogFindings::default();
        if files.is_empty() {
            return Ok(found);
        }
        let piped = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Feed>(2);
            let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            let found = &mut found;
            let scanner = std::thread::Builder::new()
                .name("rcdiag-scan".into())
                .spawn_scoped(s, move || {
                    let mut log: Option<LogState> = None;
                    for feed in rx {
                        match feed {
                            Feed::Start(file) => log = Some(self.start(found, &file)),
                            Feed::Data(data) => {
                                if let Some(log) = &mut log {
                                    self.feed(found, log, &data);
                                }
                                // Fails only once reading stopped.
                                let _ = back_tx.send(data);
                            }
                            Feed::End => {
                                if let Some(log) = log.take() {
                                    self.finish(found, log);
                                }
                            }
                        }
                    }
                })
                .ok()?;
            let read = read_entries(bundle, files, &tx, &back_rx);
            drop(tx);
            if let Err(panic) = scanner.join() {
                std::panic::resume_unwind(panic);
            }
            Some(read)
        });
        match piped {
            Some(read) => read.map(|()| found),
            None => {
                for file in files {
                    let mut reader = bundle.open_entry(file)?;
                    if let Err(e) = self.scan(&mut found, file, &mut reader) {
                        return Err(reader.into_error(e));
                    }
                }
                Ok(found)
            }
        }
    }

    /// Scans one log from any reader, adding to `found` (the node's other logs).
    pub(crate) fn scan(
        &self,
        found: &mut LogFindings,
        file: &str,
        mut reader: impl std::io::Read,
    ) -> std::io::Result<()> {
        let mut log = self.start(found, file);
        let mut buf = vec![0u8; SCAN_BLOCK];
        loop {
            let n = read_full(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            self.feed(found, &mut log, &buf[..n]);
        }
        self.finish(found, log);
        Ok(())
    }

    /// Starts scanning log `file` of `found`.
    fn start(&self, found: &mut LogFindings, file: &str) -> LogState {
        if !found.log_files.iter().any(|f| f == file) {
            found.log_files.push(file.to_string());
        }
        let mut kept = vec![0; self.ids.len()];
        for m in &found.log_matches {
            if let Some(i) = self.ids.iter().position(|id| *id == m.signature) {
                kept[i] += 1;
            }
        }
        LogState {
            file: file.to_string(),
            line_no: 0,
            kept,
            carry: Vec::new(),
        }
    }

    /// Ends a log: judges its last line when it has no '\n'.
    fn finish(&self, found: &mut LogFindings, mut log: LogState) {
        if !log.carry.is_empty() {
            let line = std::mem::take(&mut log.carry);
            log.line_no += 1;
            let line_no = log.line_no;
            self.line(found, &mut log, line_no, &line);
        }
    }
}

/// Reads `files` of `bundle` to the end (which checks each one's size and SHA-256),
/// handing their bytes to `tx` in blocks of `SCAN_BLOCK` (reusing those sent back on
/// `back`). Stops early, without an error, when the receiver is gone.
fn read_entries(
    bundle: &mut Bundle,
    files: &[&str],
    tx: &std::sync::mpsc::SyncSender<Feed>,
    back: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> Result<(), rcdiag_bundle::Error> {
    for file in files {
        let mut reader = bundle.open_entry(file)?;
        if tx.send(Feed::Start(file.to_string())).is_err() {
            return Ok(());
        }
        loop {
            let mut buf = back.try_recv().unwrap_or_default();
            buf.resize(SCAN_BLOCK, 0);
            let n = match read_full(&mut reader, &mut buf) {
                Ok(n) => n,
                Err(e) => return Err(reader.into_error(e)),
            };
            if n == 0 {
                break;
            }
            buf.truncate(n);
            if tx.send(Feed::Data(buf)).is_err() {
                return Ok(());
            }
        }
        if tx.send(Feed::End).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads until `buf` is full or the reader is at its end (0 only at the end).
fn read_full(reader: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
fn never_matches() -> regex::Regex {
    // `[^\s\S]` matches no character; it always compiles.
    regex::Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("constant regex"))
}
