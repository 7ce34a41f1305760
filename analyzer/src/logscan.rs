//! Scanning a bundle's logs for the policy's known-error signatures and the values of
//! the Rocket.Chat startup box: logs are read block-wise (one combined regex search
//! per block finds the few lines worth judging), with an exact per-line fallback, and
//! each line is judged on its own.

use rcdiag_bundle::Bundle;

use crate::model::{LogMatch, NodeData, cut};
use crate::policy::Policy;

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
    /// read. Without a second thread they are read and scanned in turn.
    pub(crate) fn scan_entries(
        &self,
        node: &mut NodeData,
        bundle: &mut Bundle,
        files: &[&str],
    ) -> Result<(), rcdiag_bundle::Error> {
        if files.is_empty() {
            return Ok(());
        }
        let piped = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Feed>(2);
            let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            let node = &mut *node;
            let scanner = std::thread::Builder::new()
                .name("rcdiag-scan".into())
                .spawn_scoped(s, move || {
                    let mut log: Option<LogState> = None;
                    for feed in rx {
                        match feed {
                            Feed::Start(file) => log = Some(self.start(node, &file)),
                            Feed::Data(data) => {
                                if let Some(log) = &mut log {
                                    self.feed(node, log, &data);
                                }
                                // Fails only once reading stopped.
                                let _ = back_tx.send(data);
                            }
                            Feed::End => {
                                if let Some(log) = log.take() {
                                    self.finish(node, log);
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
            Some(read) => read,
            None => {
                for file in files {
                    let mut reader = bundle.open_entry(file)?;
                    if let Err(e) = self.scan(node, file, &mut reader) {
                        return Err(reader.into_error(e));
                    }
                }
                Ok(())
            }
        }
    }

    /// Scans one log from any reader.
    pub(crate) fn scan(
        &self,
        node: &mut NodeData,
        file: &str,
        mut reader: impl std::io::Read,
    ) -> std::io::Result<()> {
        let mut log = self.start(node, file);
        let mut buf = vec![0u8; SCAN_BLOCK];
        loop {
            let n = read_full(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            self.feed(node, &mut log, &buf[..n]);
        }
        self.finish(node, log);
        Ok(())
    }

    /// Starts scanning log `file` of `node`.
    fn start(&self, node: &mut NodeData, file: &str) -> LogState {
        if !node.log_files.iter().any(|f| f == file) {
            node.log_files.push(file.to_string());
        }
        let mut kept = vec![0; self.ids.len()];
        for m in &node.log_matches {
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

    /// Scans the next bytes of a log: the whole lines among them, and the line begun
    /// in earlier bytes once it ends here.
    fn feed(&self, node: &mut NodeData, log: &mut LogState, mut data: &[u8]) {
        if !log.carry.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            let piece = &data[..newline.unwrap_or(data.len())];
            let room = MAX_SCAN_LINE.saturating_sub(log.carry.len());
            log.carry.extend_from_slice(&piece[..piece.len().min(room)]);
            let Some(i) = newline else { return };
            let line = std::mem::take(&mut log.carry);
            log.line_no += 1;
            let line_no = log.line_no;
            self.line(node, log, line_no, &line);
            log.carry = line;
            log.carry.clear();
            data = &data[i + 1..];
        }
        let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.lines(node, log, &data[..end]);
        let tail = &data[end..];
        log.carry
            .extend_from_slice(&tail[..tail.len().min(MAX_SCAN_LINE)]);
    }

    /// Ends a log: judges its last line when it has no '\n'.
    fn finish(&self, node: &mut NodeData, mut log: LogState) {
        if !log.carry.is_empty() {
            let line = std::mem::take(&mut log.carry);
            log.line_no += 1;
            let line_no = log.line_no;
            self.line(node, &mut log, line_no, &line);
        }
    }

    /// Judges whole lines (the last may lack its '\n'), by the block search where it
    /// can.
    fn lines(&self, node: &mut NodeData, log: &mut LogState, bytes: &[u8]) {
        let Some(block) = &self.block else {
            self.each_line(node, log, bytes);
            return;
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            let (text, odd) = split_searchable(rest);
            if self.block_cr_sensitive && text.contains('\r') {
                self.each_line(node, log, text.as_bytes());
            } else {
                self.search(node, log, block, text);
            }
            self.each_line(node, log, odd);
            rest = rest.get(text.len() + odd.len()..).unwrap_or_default();
        }
    }

    /// Searches `text` (whole lines, each at most `MAX_SCAN_LINE` bytes) with `block`
    /// and judges each line where a match begins.
    fn search(&self, node: &mut NodeData, log: &mut LogState, block: &regex::Regex, text: &str) {
        let bytes = text.as_bytes();
        // Where the search resumes: always the start of a line.
        let mut pos = 0;
        // The newlines before `counted` are counted in `log.line_no`.
        let mut counted = 0;
        while pos < bytes.len() {
            let Some(m) = block.find_at(text, pos) else {
                break;
            };
            let at = m.start();
            let start = line_start(bytes, at).max(pos);
            if start >= bytes.len() {
                // After the last '\n': no line.
                break;
            }
            let end = line_end(bytes, at);
            log.line_no += count_newlines(&bytes[counted..start]);
            counted = start;
            let line_no = log.line_no + 1;
            self.line(node, log, line_no, &bytes[start..end]);
            pos = end + 1;
        }
        log.line_no += count_newlines(bytes.get(counted..).unwrap_or_default());
        if bytes.last().is_some_and(|&b| b != b'\n') {
            // A last line without a '\n'.
            log.line_no += 1;
        }
    }

    /// Judges each line of `bytes` (its first `MAX_SCAN_LINE` bytes).
    fn each_line(&self, node: &mut NodeData, log: &mut LogState, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            log.line_no += 1;
            let line_no = log.line_no;
            self.line(node, log, line_no, &line[..line.len().min(MAX_SCAN_LINE)]);
            rest = next;
        }
    }

    /// Judges one line: `raw` is at most `MAX_SCAN_LINE` bytes, without its '\n'.
    fn line(&self, node: &mut NodeData, log: &mut LogState, line_no: u64, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches('\r');
        let file = log.file.as_str();
        let max_keep = self.policy.logs.max_matches_per_signature;
        if self.set.is_match(text) {
            for i in self.set.matches(text).iter() {
                let (Some(id), Some(&slot)) = (self.ids.get(i), self.slot.get(i)) else {
                    continue;
                };
                match node.log_match_counts.get_mut(id) {
                    Some(count) => *count += 1,
                    None => {
                        node.log_match_counts.insert(id.clone(), 1);
                    }
                }
                if let Some(kept) = log.kept.get_mut(slot)
                    && *kept < max_keep
                {
                    *kept += 1;
                    node.log_matches.push(LogMatch {
                        signature: id.clone(),
                        file: file.to_string(),
                        line_no,
                        line: cut(text, self.policy.logs.max_line_chars),
                    });
                }
            }
        }
        if STARTUP_LABELS.iter().any(|l| text.contains(l)) {
            let put = |re: &regex::Regex, into: &mut Vec<(String, String)>| {
                for c in re.captures_iter(text) {
                    if let Some(m) = c.get(1) {
                        let pair = (file.to_string(), m.as_str().to_string());
                        if !into.contains(&pair) && into.len() < 1000 {
                            into.push(pair);
                        }
                    }
                }
            };
            put(&self.rc_version, &mut node.startup_versions);
            put(&self.mongo_version, &mut node.startup_mongo_versions);
            put(&self.mongo_engine, &mut node.startup_mongo_engines);
            put(&self.oplog, &mut node.startup_oplog);
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

/// Whether a signature pattern can go into the block search (see [`LogScanner`]).
/// Conservative: it looks at the text of the pattern, so a literal `\\A` counts too.
fn block_searchable(pattern: &str) -> bool {
    if pattern.contains(r"\A") || pattern.contains(r"\z") {
        return false;
    }
    // Inline flags: `(?flags)` or `(?flags:...)`.
    pattern.match_indices("(?").all(|(i, _)| {
        let rest = &pattern[i + 2..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '-'))
            .unwrap_or(rest.len());
        let flags = &rest[..len];
        let unset_m = flags
            .split_once('-')
            .is_some_and(|(_, off)| off.contains('m'));
        !matches!(rest[len..].chars().next(), Some(':' | ')')) || !(flags.contains('x') || unset_m)
    })
}

/// Splits whole lines into the longest leading run the block search can judge (UTF-8,
/// no line longer than `MAX_SCAN_LINE`) and the line after it (with its '\n'), which
/// is judged alone; both are empty only when `bytes` is.
fn split_searchable(bytes: &[u8]) -> (&str, &[u8]) {
    let (valid, invalid_at) = match std::str::from_utf8(bytes) {
        Ok(s) => (s, None),
        Err(e) => (
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
            Some(e.valid_up_to()),
        ),
    };
    let mut odd = invalid_at.map(|i| line_start(bytes, i));
    let limit = odd.unwrap_or(bytes.len());
    let mut w = 0;
    while w + LONG_LINE_WINDOW <= limit {
        if !bytes[w..w + LONG_LINE_WINDOW].contains(&b'\n') {
            let start = line_start(bytes, w);
            if line_end(bytes, w) - start > MAX_SCAN_LINE {
                odd = Some(start);
                break;
            }
        }
        w += LONG_LINE_WINDOW;
    }
    match odd {
        None => (valid, &[]),
        Some(start) => {
            let end = (line_end(bytes, start) + 1).min(bytes.len());
            (
                valid.get(..start).unwrap_or_default(),
                bytes.get(start..end).unwrap_or_default(),
            )
        }
    }
}

/// Start of the line holding `bytes[at]`.
fn line_start(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// Position of the '\n' ending the line holding `bytes[at]`, or the length of `bytes`.
fn line_end(bytes: &[u8], at: usize) -> usize {
    let from = at.min(bytes.len());
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| from + i)
}

/// Number of '\n' in `bytes`. Counted 255 bytes at a time into a byte, which cannot
/// overflow, so the compiler counts 16 bytes per vector instruction (about 4x the
/// speed of counting into a `usize`).
fn count_newlines(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(255);
    let mut total = 0u64;
    for chunk in &mut chunks {
        let n = chunk
            .iter()
            .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n')));
        total += u64::from(n);
    }
    total + chunks.remainder().iter().filter(|&&b| b == b'\n').count() as u64
}

fn never_matches() -> regex::Regex {
    // `[^\s\S]` matches no character; it always compiles.
    regex::Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("constant regex"))
}

#[cfg(test)]
mod tests {
    //! The block search against the scanner it replaced, kept here as the reference:
    //! every line read and judged on its own.

    use std::collections::BTreeMap;

    use rcdiag_bundle::Manifest;

    use super::*;

    /// The log scanner before block search, verbatim but for names (the reference).
    struct LineByLine<'p> {
        policy: &'p Policy,
        ids: Vec<String>,
        set: regex::RegexSet,
        rc_version: regex::Regex,
        mongo_version: regex::Regex,
        mongo_engine: regex::Regex,
        oplog: regex::Regex,
    }

    impl<'p> LineByLine<'p> {
        fn new(policy: &'p Policy) -> Self {
            let re = |p: &str| regex::Regex::new(p).unwrap_or_else(|_| never_matches());
            let valid: Vec<&crate::policy::Signature> = policy
                .logs
                .signatures
                .iter()
                .filter(|s| regex::Regex::new(&s.pattern).is_ok())
                .collect();
            LineByLine {
                policy,
                ids: valid.iter().map(|s| s.id.clone()).collect(),
                set: regex::RegexSet::new(valid.iter().map(|s| s.pattern.as_str()))
                    .unwrap_or_else(|_| regex::RegexSet::empty()),
                rc_version: re(
                    r"Rocket\.Chat Version:\s*v?([0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*)",
                ),
                mongo_version: re(r"MongoDB Version:\s*v?([0-9]+\.[0-9]+(?:\.[0-9]+)?)"),
                mongo_engine: re(r"MongoDB Engine:\s*([A-Za-z][A-Za-z0-9_-]*)"),
                oplog: re(r"ReplicaSet OpLog:\s*(Enabled|Disabled)"),
            }
        }

        fn scan(
            &self,
            node: &mut NodeData,
            file: &str,
            reader: impl std::io::Read,
        ) -> std::io::Result<()> {
            use std::io::BufRead;
            let mut r = std::io::BufReader::with_capacity(64 * 1024, reader);
            let mut line: Vec<u8> = Vec::with_capacity(1024);
            let mut line_no: u64 = 0;
            let mut overflow = false;
            if !node.log_files.iter().any(|f| f == file) {
                node.log_files.push(file.to_string());
            }
            loop {
                let buf = r.fill_buf()?;
                if buf.is_empty() {
                    if !line.is_empty() || overflow {
                        line_no += 1;
                        self.line(node, file, line_no, &line);
                    }
                    break;
                }
                let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (&buf[..i], Some(i)),
                    None => (buf, None),
                };
                if !overflow {
                    let room = MAX_SCAN_LINE.saturating_sub(line.len());
                    line.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    overflow = chunk.len() > room;
                }
                let used = found.map_or(buf.len(), |i| i + 1);
                r.consume(used);
                if found.is_some() {
                    line_no += 1;
                    self.line(node, file, line_no, &line);
                    line.clear();
                    overflow = false;
                }
            }
            Ok(())
        }

        fn line(&self, node: &mut NodeData, file: &str, line_no: u64, raw: &[u8]) {
            let text = String::from_utf8_lossy(raw);
            let text = text.trim_end_matches('\r');
            let max_keep = self.policy.logs.max_matches_per_signature;
            for i in self.set.matches(text).iter() {
                let Some(id) = self.ids.get(i) else { continue };
                let count = node.log_match_counts.entry(id.clone()).or_insert(0);
                *count += 1;
                let kept = node
                    .log_matches
                    .iter()
                    .filter(|m| &m.signature == id)
                    .count();
                if kept < max_keep {
                    node.log_matches.push(LogMatch {
                        signature: id.clone(),
                        file: file.to_string(),
                        line_no,
                        line: cut(text, self.policy.logs.max_line_chars),
                    });
                }
            }
            if text.contains("Version:") || text.contains("Engine:") || text.contains("OpLog:") {
                let put = |re: &regex::Regex, into: &mut Vec<(String, String)>| {
                    for c in re.captures_iter(text) {
                        if let Some(m) = c.get(1) {
                            let pair = (file.to_string(), m.as_str().to_string());
                            if !into.contains(&pair) && into.len() < 1000 {
                                into.push(pair);
                            }
                        }
                    }
                };
                put(&self.rc_version, &mut node.startup_versions);
                put(&self.mongo_version, &mut node.startup_mongo_versions);
                put(&self.mongo_engine, &mut node.startup_mongo_engines);
                put(&self.oplog, &mut node.startup_oplog);
            }
        }
    }

    fn node() -> NodeData {
        NodeData::new(
            "b",
            Manifest {
                format: "rcdiag-bundle".into(),
                format_version: 1,
                bundle_id: "id".into(),
                created_at: "2026-11-26T05:00:00Z".into(),
                agent: rcdiag_bundle::AgentInfo {
                    name: "t".into(),
                    version: "1".into(),
                },
                node: rcdiag_bundle::NodeInfo {
                    hostname: "n1".into(),
                    machine_id_hash: None,
                    labels: Default::default(),
                },
                collectors: vec![],
                files: vec![],
                redaction: Default::default(),
                signer: rcdiag_bundle::Signer {
                    algorithm: String::new(),
                    public_key: String::new(),
                    fingerprint: String::new(),
                },
            },
        )
    }

    type Pairs = Vec<(String, String)>;

    /// Everything a scan leaves in a node.
    fn outcome(
        n: &NodeData,
    ) -> (
        Vec<LogMatch>,
        BTreeMap<String, u64>,
        [Pairs; 4],
        Vec<String>,
    ) {
        (
            n.log_matches.clone(),
            n.log_match_counts.clone(),
            [
                n.startup_versions.clone(),
                n.startup_mongo_versions.clone(),
                n.startup_mongo_engines.clone(),
                n.startup_oplog.clone(),
            ],
            n.log_files.clone(),
        )
    }

    /// The built-in policy with these signatures, keeping every match.
    fn policy(signatures: &[(&str, &str)]) -> Policy {
        let mut p = Policy::builtin();
        let template = p.logs.signatures[0].clone();
        p.logs.signatures = signatures
            .iter()
            .map(|(id, pattern)| crate::policy::Signature {
                id: id.to_string(),
                pattern: pattern.to_string(),
                ..template.clone()
            })
            .collect();
        p.logs.max_matches_per_signature = usize::MAX;
        p
    }

    /// Signatures the block search takes, one of them using `$`.
    const SEARCHABLE: &[(&str, &str)] = &[
        ("span", r"foo\s+bar"),
        ("start", "^start"),
        ("end", "end$"),
        ("dot", "a.b"),
        ("word", r"\bword\b"),
        ("nocase", "(?i)server error"),
        ("unicode", "é+ ü"),
        ("not-x", "[^x]{2}zz"),
        ("dup", "foo"),
        ("dup", "bar"),
        ("digits", r"timed out after \d+ ms"),
    ];

    /// xorshift64*: a fixed sequence, so a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A log of `lines` random lines built from signature fragments, CRLF and CR,
    /// invalid UTF-8, empty lines and, one time in `long_every`, a line of 32 to 70 KiB
    /// with a signature before, across or after the 64 KiB cut.
    fn random_log(rng: &mut Rng, lines: usize, long_every: usize) -> Vec<u8> {
        const PARTS: &[&[u8]] = &[
            b"2026-11-26T05:00:00.000Z stdout {\"level\":30,\"msg\":\"method call took 12ms\"}",
            b"MongoServerSelectionError: Server selection timed out after 30000 ms",
            b"SERVER ERROR",
            b"server Error",
            b"|  Rocket.Chat Version: 8.5.1  |",
            b"MongoDB Version: 6.0.13",
            b"MongoDB Engine: wiredTiger",
            b"ReplicaSet OpLog: Enabled",
            b"foo",
            b"bar",
            b" foo ",
            b"  bar",
            b"foo \t bar",
            b"start here",
            b"the end",
            b"end",
            b"a\rb",
            b"a.b",
            b"word",
            b"swords",
            b"\xc3\xa9\xc3\xa9 \xc3\xbc",
            b"\xff\xfe",
            b"\xe2\x82",
            b"zz",
            b"x",
            b"\r",
            b"",
        ];
        const ENDS: &[&[u8]] = &[b"\n", b"\n", b"\n", b"\n", b"\r\n", b"\r\r\n", b"\n\n"];
        let mut out = Vec::new();
        for _ in 0..lines {
            if rng.below(long_every) == 0 {
                let len = [32 * 1024, MAX_SCAN_LINE - 5, MAX_SCAN_LINE, 70 * 1024][rng.below(4)];
                let mut long = vec![b'y'; len];
                let at = rng.below(len);
                let n = (len - at).min(20);
                long[at..at + n].copy_from_slice(&b"SERVER ERROR foo bar"[..n]);
                out.extend_from_slice(&long);
            }
            for _ in 0..rng.below(4) {
                out.extend_from_slice(PARTS[rng.below(PARTS.len())]);
            }
            out.extend_from_slice(ENDS[rng.below(ENDS.len())]);
        }
        if rng.below(2) == 0 {
            out.extend_from_slice(b"start without a newline: Rocket.Chat Version: 9.0.0 end");
        }
        out
    }

    /// Scans `data` with `feed` in pieces cut at the given lengths (cycled).
    fn scan_in_pieces(
        scanner: &LogScanner<'_>,
        n: &mut NodeData,
        file: &str,
        data: &[u8],
        cuts: &[usize],
    ) {
        let mut log = scanner.start(n, file);
        let mut rest = data;
        for &len in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, next) = rest.split_at(len.clamp(1, rest.len()));
            scanner.feed(n, &mut log, piece);
            rest = next;
        }
        scanner.finish(n, log);
    }

    /// Scans `data` line by line (the reference) and with the block search, read
    /// whole and fed in pieces of several sizes, and asserts the same outcome.
    fn assert_same(policy: &Policy, data: &[u8], rng: &mut Rng) {
        let mut expected = node();
        LineByLine::new(policy)
            .scan(&mut expected, "logs/a.log", data)
            .unwrap();
        let expected = outcome(&expected);
        let scanner = LogScanner::new(policy);
        let mut whole = node();
        scanner.scan(&mut whole, "logs/a.log", data).unwrap();
        assert_eq!(outcome(&whole), expected, "read whole");
        let random: Vec<usize> = (0..64).map(|_| 1 + rng.below(3 * MAX_SCAN_LINE)).collect();
        for cuts in [
            &[1][..],
            &[7, 1, 300],
            &[4096],
            &[MAX_SCAN_LINE + 3],
            &random,
        ] {
            if cuts == [1] && data.len() > 200_000 {
                continue;
            }
            let mut n = node();
            scan_in_pieces(&scanner, &mut n, "logs/a.log", data, cuts);
            assert_eq!(outcome(&n), expected, "fed in pieces of {cuts:?}");
        }
    }

    #[test]
    fn block_search_finds_what_line_by_line_finds() {
        let with_empty_match: Vec<(&str, &str)> =
            SEARCHABLE.iter().copied().chain([("any", "x*")]).collect();
        let without_dollar: Vec<(&str, &str)> = SEARCHABLE
            .iter()
            .copied()
            .filter(|(_, p)| !p.contains('$'))
            .collect();
        let not_searchable: Vec<(&str, &str)> = SEARCHABLE
            .iter()
            .copied()
            .chain([("text-start", r"\Astart"), ("no-m", "(?-m)end$")])
            .collect();
        let policies = [
            Policy::builtin(),
            policy(SEARCHABLE),
            policy(&without_dollar),
            policy(&with_empty_match),
            policy(&not_searchable),
        ];
        let s = |p: &Policy| {
            let s = LogScanner::new(p);
            (s.block.is_some(), s.block_cr_sensitive)
        };
        assert_eq!(s(&policies[0]), (true, false));
        assert_eq!(s(&policies[1]), (true, true));
        assert_eq!(s(&policies[2]), (true, false));
        assert!(!s(&policies[4]).0);
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..8 {
            let data = random_log(&mut rng, 300, 60);
            for p in &policies {
                assert_same(p, &data, &mut rng);
            }
        }
        // Longer logs, over several read blocks: matches kept are capped, as the
        // reference counts them again for every hit.
        for _ in 0..2 {
            let data = random_log(&mut rng, 40_000, 8000);
            assert!(data.len() > SCAN_BLOCK);
            for p in &policies {
                let mut p = p.clone();
                p.logs.max_matches_per_signature = p.logs.max_matches_per_signature.min(20);
                assert_same(&p, &data, &mut rng);
            }
        }
    }

    /// Lines of `data` where `scan_log` finds signature `id`.
    fn hits(policy: &Policy, data: &[u8], id: &str) -> Vec<u64> {
        let mut n = node();
        n.scan_log("logs/a.log", data, policy).unwrap();
        let mut reference = node();
        LineByLine::new(policy)
            .scan(&mut reference, "logs/a.log", data)
            .unwrap();
        assert_eq!(outcome(&n), outcome(&reference));
        n.log_matches
            .iter()
            .filter(|m| m.signature == id)
            .map(|m| m.line_no)
            .collect()
    }

    #[test]
    fn only_the_first_64_kib_of_a_line_is_examined() {
        let p = Policy::builtin();
        let mut data = Vec::new();
        // 1: before the cut, 2: across it, 3: after it, 4: short.
        for at in [100, MAX_SCAN_LINE - 6, MAX_SCAN_LINE + 10] {
            let mut line = vec![b'a'; 70 * 1024];
            line[at..at + 12].copy_from_slice(b"SERVER ERROR");
            data.extend_from_slice(&line);
            data.push(b'\n');
        }
        data.extend_from_slice(b"SERVER ERROR\n");
        assert_eq!(hits(&p, &data, "server-error-box"), vec![1, 4]);
        // The same lines at the end of a read block and across two.
        for shift in [1, 1000, SCAN_BLOCK - 80_000, SCAN_BLOCK - 40] {
            let mut shifted = b"x\n".repeat(shift / 2);
            shifted.extend_from_slice(&data);
            let first = (shift / 2) as u64;
            assert_eq!(
                hits(&p, &shifted, "server-error-box"),
                vec![first + 1, first + 4],
                "shifted by {shift}"
            );
        }
    }

    #[test]
    fn signatures_at_block_boundaries_are_found_with_their_line_numbers() {
        let p = Policy::builtin();
        let line = b"2026-11-26T05:00:00.000Z stdout {\"msg\":\"ok\"}\n";
        let sig = b"2026-11-26T05:00:00.000Z stderr SERVER ERROR\n";
        for offset in 0..sig.len() + 2 {
            // The signature line begins `offset` bytes before the end of the first block.
            let mut data = Vec::new();
            while data.len() + line.len() <= SCAN_BLOCK - offset {
                data.extend_from_slice(line);
            }
            data.extend(std::iter::repeat_n(b'z', SCAN_BLOCK - offset - data.len()));
            data.push(b'\n');
            let before = count_newlines(&data);
            data.extend_from_slice(sig);
            data.extend_from_slice(line);
            data.extend_from_slice(&sig[..sig.len() - 1]);
            assert_eq!(
                hits(&p, &data, "server-error-box"),
                vec![before + 1, before + 3],
                "offset {offset}"
            );
        }
    }

    #[test]
    fn invalid_utf8_crlf_and_spans_across_lines() {
        let p = policy(SEARCHABLE);
        // Invalid UTF-8 is replaced, as line by line.
        let data = b"ok\n\xff SERVER ERROR \xe2\x82\nserver error\n";
        assert_eq!(hits(&p, data, "nocase"), vec![2, 3]);
        let mut n = node();
        n.scan_log("logs/a.log", &data[..], &p).unwrap();
        assert_eq!(n.log_matches[0].line, "\u{fffd} SERVER ERROR \u{fffd}");
        // A CRLF line ends before its '\r', for `$` too.
        let data = b"the end\r\nthe end \r\nthe end\r\r\nend\nthe end";
        assert_eq!(hits(&p, data, "end"), vec![1, 3, 4, 5]);
        let without_dollar: Vec<(&str, &str)> = SEARCHABLE
            .iter()
            .copied()
            .filter(|(_, p)| !p.contains('$'))
            .collect();
        let data = b"SERVER ERROR\r\nx\r\nserver error\r\n";
        assert_eq!(hits(&policy(&without_dollar), data, "nocase"), vec![1, 3]);
        // `\s+` and `[^x]` match '\n' in a block, but a line is judged alone.
        let data = b"x foo\nbar\nfoo   bar\nfoo\r\n bar\nfoo\n\nbar foo bar\n";
        assert_eq!(hits(&p, data, "span"), vec![3, 8]);
        let data = b"ab\nzz\nabzz\na\nbbzz\n";
        assert_eq!(hits(&p, data, "not-x"), vec![3, 5]);
        // `^` at the start of each line; '\r' inside a line is matched by `.`.
        let data = b"start\nx start\nstart\r\na\rb\n";
        assert_eq!(hits(&p, data, "start"), vec![1, 3]);
        assert_eq!(hits(&p, data, "dot"), vec![4]);
    }

    #[test]
    fn kept_matches_are_capped_per_node_across_logs_and_shared_by_ids() {
        let mut p = policy(&[("dup", "foo"), ("dup", "bar"), ("other", "baz")]);
        p.logs.max_matches_per_signature = 3;
        let data = b"foo\nbar\nfoo bar\nbaz\nfoo\n";
        let mut n = node();
        let mut reference = node();
        for file in ["logs/a.log", "logs/b.log"] {
            n.scan_log(file, &data[..], &p).unwrap();
            LineByLine::new(&p)
                .scan(&mut reference, file, &data[..])
                .unwrap();
        }
        assert_eq!(outcome(&n), outcome(&reference));
        assert_eq!(n.log_match_counts.get("dup"), Some(&10));
        assert_eq!(
            n.log_matches
                .iter()
                .filter(|m| m.signature == "dup")
                .count(),
            3
        );
        assert_eq!(
            n.log_matches
                .iter()
                .filter(|m| m.signature == "other")
                .count(),
            2
        );
    }

    #[test]
    fn patterns_anchored_to_the_whole_text_are_not_block_searched() {
        for p in [
            r"\Afoo",
            r"foo\z",
            "(?-m)^foo",
            "(?i-m:foo$)",
            "(?x) foo # c",
        ] {
            assert!(!block_searchable(p), "{p}");
        }
        for p in [
            "foo", "^foo$", "(?i)foo", "(?P<n>x)", "(?m-i:x)", r"\(?-m", "(?s:.)",
        ] {
            assert!(block_searchable(p) || p == r"\(?-m", "{p}");
        }
    }

    #[test]
    fn counts_newlines_like_a_filter() {
        let mut rng = Rng(7);
        let data: Vec<u8> = (0..5000)
            .map(|_| if rng.below(5) == 0 { b'\n' } else { b'a' })
            .collect();
        for start in [0, 1, 17, 254, 255, 256] {
            for end in [
                start,
                start + 1,
                start + 255,
                start + 511,
                start + 4000,
                data.len(),
            ] {
                let s = &data[start..end.min(data.len())];
                let naive = s.iter().filter(|&&b| b == b'\n').count() as u64;
                assert_eq!(count_newlines(s), naive);
            }
        }
        assert_eq!(count_newlines(&[b'\n'; 1000]), 1000);
    }
}
