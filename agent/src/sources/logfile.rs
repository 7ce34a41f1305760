//! Direct reader of the Docker `json-file` logging driver's files, the fast path of
//! the logs collector.
//!
//! Reading a log back through the Engine API costs the engine about 18 µs per line
//! (it decodes every JSON line and re-frames it), which made the engine, not the agent,
//! the bottleneck of a collection. When the agent runs on the engine's host with the
//! right to read `<data-root>/containers/<id>/<id>-json.log` (root), it reads that file
//! and its uncompressed rotations (`<file>.1`, `<file>.2`, ...) itself and produces the
//! exact lines the Engine API would (`<RFC 3339 nano timestamp> <stream> <text>`).
//!
//! Two passes, both bounded in memory whatever the file size: a backward pass from the
//! end parses only the lines of the window (the newest `--log-lines`, newer than
//! `--since`, fitting `--log-bytes`) to find where the window starts; a forward pass
//! then yields those lines in order. The files are opened once and read up to the
//! length they had when opened, so a rotation or a line being appended meanwhile
//! changes nothing. Anything unexpected (a compressed rotation inside the window, a
//! line that is not json-file JSON, a file replaced while opening) returns
//! [`Unusable`], and the collector reads that log through the Engine API instead.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Bytes read per step, backward and forward.
const BLOCK: usize = 256 * 1024;

/// Longest json-file line accepted (the driver splits log messages at 16 KiB, so a
/// real line, escaped, stays far below this).
pub const MAX_LINE: usize = 1 << 20;

/// Most rotated files looked at.
const MAX_PARTS: usize = 1000;

/// Why a log cannot be read from its file (the Engine API is used instead).
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// The file cannot be opened (not on this host, or no permission).
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Reading failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The path does not name the json-file log of this container.
    #[error("{0} is not the json-file log of this container")]
    NotThisContainer(PathBuf),
    /// The window reaches into a gzip-compressed rotation.
    #[error("the log window reaches into the compressed rotation {0}")]
    Compressed(PathBuf),
    /// The files were rotated while being opened.
    #[error("the log files were rotated while being opened")]
    Rotating,
    /// A line is not a json-file record.
    #[error("{path} at byte {offset}: not a json-file log record")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the line starts.
        offset: u64,
    },
    /// A line is longer than [`MAX_LINE`].
    #[error("{path} holds a line longer than {MAX_LINE} bytes")]
    LineTooLong {
        /// The file.
        path: PathBuf,
    },
}

/// One record of a json-file log.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    log: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    stream: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
}

/// One output line: what the Engine API sends for a record, split the same way.
pub struct Line<'a> {
    /// RFC 3339 timestamp with nine fractional digits, UTC.
    pub timestamp: &'a str,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The text, without line terminator.
    pub text: &'a str,
}

impl Line<'_> {
    /// Length of the written line (before redaction) plus the newline.
    pub fn rendered_len(&self) -> u64 {
        (self.timestamp.len() + self.stream.len() + self.text.len() + 3) as u64
    }
}

/// A parsed record: normalized timestamp, stream and the raw log text.
struct Parsed<'a> {
    timestamp: String,
    stream: &'static str,
    log: std::borrow::Cow<'a, str>,
}

impl Parsed<'_> {
    /// The output lines of this record (a TTY record may hold several).
    fn lines(&self, f: &mut impl FnMut(Line<'_>) -> bool) -> bool {
        let text = self.log.strip_suffix('\n').unwrap_or(&self.log);
        for piece in text.split('\n') {
            let piece = piece.strip_suffix('\r').unwrap_or(piece);
            if !f(Line {
                timestamp: &self.timestamp,
                stream: self.stream,
                text: piece,
            }) {
                return false;
            }
        }
        true
    }

    fn rendered_len(&self) -> u64 {
        let mut n = 0;
        self.lines(&mut |l| {
            n += l.rendered_len();
            true
        });
        n
    }
}

/// Parses one json-file line; `None` when it is not a record.
fn parse(raw: &[u8]) -> Option<Parsed<'_>> {
    let r: Record<'_> = serde_json::from_slice(raw).ok()?;
    let stream = match r.stream.as_ref() {
        "stderr" => "stderr",
        _ => "stdout",
    };
    Some(Parsed {
        timestamp: fixed_timestamp(&r.time)?,
        stream,
        log: r.log,
    })
}

/// The Engine's `RFC3339NanoFixed` form (`2026-11-26T05:00:00.120000000Z`) of a
/// json-file time (Go's `RFC3339Nano`, which drops trailing zeros).
pub fn fixed_timestamp(t: &str) -> Option<String> {
    let b = t.as_bytes();
    // Fast path: `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`.
    if b.len() >= 20 && b.get(19).is_some_and(|c| *c == b'.' || *c == b'Z') && t.ends_with('Z') {
        let head = t.get(..19)?;
        let frac = t.get(19..t.len() - 1)?;
        let digits = frac.strip_prefix('.').unwrap_or(frac);
        if digits.len() <= 9 && digits.bytes().all(|c| c.is_ascii_digit()) && head.is_ascii() {
            let mut s = String::with_capacity(30);
            s.push_str(head);
            s.push('.');
            s.push_str(digits);
            s.extend(std::iter::repeat_n('0', 9 - digits.len()));
            s.push('Z');
            return Some(s);
        }
    }
    // Any other RFC 3339 form (an offset): convert to UTC.
    let ts: jiff::Timestamp = t.parse().ok()?;
    Some(format!(
        "{}.{:09}Z",
        ts.strftime("%Y-%m-%dT%H:%M:%S"),
        ts.subsec_nanosecond()
    ))
}

/// One file of the log: the current one or a rotation.
struct Part {
    path: PathBuf,
    file: File,
    /// Length when opened; nothing after it is read.
    len: u64,
}

/// Where the window starts, and why it starts there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index into the parts (0 = current file, higher = older).
    part: usize,
    /// Byte offset of the first line in that part.
    offset: u64,
    /// Records in the window.
    pub records: u64,
    /// `Some("lines")` or `Some("bytes")` when older lines were left out for a cap.
    pub truncated_by: Option<&'static str>,
}

/// An opened json-file log (the current file and its uncompressed rotations).
pub struct JsonLog {
    /// Newest first.
    parts: Vec<Part>,
    /// The next older rotation exists only compressed.
    older_compressed: Option<PathBuf>,
}

impl JsonLog {
    /// Opens the log of container `id` at `log_path` and its rotations.
    pub fn open(log_path: &Path, id: &str) -> Result<JsonLog, Unusable> {
        let file_name = log_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if id.len() < 12 || !file_name.starts_with(id) || !file_name.ends_with("-json.log") {
            return Err(Unusable::NotThisContainer(log_path.to_path_buf()));
        }
        for _ in 0..3 {
            if let Some(log) = Self::open_once(log_path)? {
                return Ok(log);
            }
        }
        Err(Unusable::Rotating)
    }

    /// One attempt; `None` when a rotation happened meanwhile.
    fn open_once(log_path: &Path) -> Result<Option<JsonLog>, Unusable> {
        let open = |path: &Path| -> Result<Part, Unusable> {
            let file = File::open(path).map_err(|source| Unusable::Open {
                path: path.to_path_buf(),
                source,
            })?;
            let meta = file.metadata().map_err(|source| Unusable::Read {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(Part {
                path: path.to_path_buf(),
                file,
                len: meta.len(),
            })
        };
        let mut parts = vec![open(log_path)?];
        let mut older_compressed = None;
        for n in 1..=MAX_PARTS {
            let rotated = PathBuf::from(format!("{}.{n}", log_path.display()));
            if rotated.exists() {
                parts.push(open(&rotated)?);
                continue;
            }
            let gz = PathBuf::from(format!("{}.{n}.gz", log_path.display()));
            if gz.exists() {
                older_compressed = Some(gz);
            }
            break;
        }
        // A rotation between the opens would show one file twice, or a new current file.
        let ids: Vec<(u64, u64)> = parts
            .iter()
            .filter_map(|p| p.file.metadata().ok().map(|m| (m.dev(), m.ino())))
            .collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let current_now = std::fs::metadata(log_path).ok().map(|m| (m.dev(), m.ino()));
        if unique.len() != parts.len() || current_now != ids.first().copied() {
            return Ok(None);
        }
        Ok(Some(JsonLog {
            parts,
            older_compressed,
        }))
    }

    /// Total bytes of the opened files.
    pub fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.len).sum()
    }

    /// Finds the start of the window: the newest `max_records` records, none older
    /// than `since` (a fixed timestamp), whose output fits `max_bytes`.
    pub fn window(
        &self,
        max_records: u64,
        max_bytes: u64,
        since: Option<&str>,
    ) -> Result<Window, Unusable> {
        let mut records = 0u64;
        let mut bytes = 0u64;
        let mut line = Vec::new();
        let mut start = Window {
            part: 0,
            offset: self.parts.first().map_or(0, |p| p.len),
            records: 0,
            truncated_by: None,
        };
        for (i, part) in self.parts.iter().enumerate() {
            // Only the current file can end in a line still being written.
            let mut rev = RevLines::new(part, i == 0);
            while let Some(offset) = rev.prev(&mut line)? {
                if records >= max_records {
                    start.truncated_by = Some("lines");
                    return Ok(start);
                }
                let rec = parse(&line).ok_or_else(|| Unusable::Corrupt {
                    path: part.path.clone(),
                    offset,
                })?;
                if since.is_some_and(|s| rec.timestamp.as_str() < s) {
                    return Ok(start);
                }
                let n = rec.rendered_len();
                if bytes + n > max_bytes {
                    start.truncated_by = Some("bytes");
                    return Ok(start);
                }
                bytes += n;
                records += 1;
                start = Window {
                    part: i,
                    offset,
                    records,
                    truncated_by: None,
                };
            }
        }
        match &self.older_compressed {
            // The window is full: the compressed rotation is older than it.
            Some(_) if records >= max_records => {
                start.truncated_by = Some("lines");
                Ok(start)
            }
            Some(gz) => Err(Unusable::Compressed(gz.clone())),
            None => Ok(start),
        }
    }

    /// Yields the lines of the window in order until `f` returns false.
    pub fn read(&self, from: Window, mut f: impl FnMut(Line<'_>) -> bool) -> Result<(), Unusable> {
        let mut buf = Vec::new();
        for i in (0..=from.part).rev() {
            let Some(part) = self.parts.get(i) else {
                continue;
            };
            let offset = if i == from.part { from.offset } else { 0 };
            let mut r = io::BufReader::with_capacity(
                BLOCK,
                At {
                    file: &part.file,
                    pos: offset,
                    end: part.len,
                },
            );
            loop {
                let got = read_line_capped(&mut r, &mut buf, MAX_LINE).map_err(|source| {
                    Unusable::Read {
                        path: part.path.clone(),
                        source,
                    }
                })?;
                match got {
                    // The end, or a last line still being written: not in the snapshot.
                    Got::End | Got::Unterminated => break,
                    Got::TooLong => continue,
                    Got::Line => {}
                }
                let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
                // A line that changed since the backward pass is left out.
                if let Some(rec) = parse(raw)
                    && !rec.lines(&mut f)
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// A positional reader over `file[pos..end]`.
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// What [`read_line_capped`] found.
enum Got {
    /// A whole line, with its `\n`.
    Line,
    /// A line longer than the cap (only its start is in the buffer).
    TooLong,
    /// Bytes without a final `\n` before the end.
    Unterminated,
    /// Nothing more.
    End,
}

/// Reads one line into `buf`, keeping at most `max` bytes of it.
fn read_line_capped(r: &mut impl io::BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Got> {
    buf.clear();
    let mut whole = true;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if any { Got::Unterminated } else { Got::End });
        }
        any = true;
        let (used, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if used > room {
            whole = false;
        }
        buf.extend_from_slice(&chunk[..used.min(room)]);
        r.consume(used);
        if done {
            return Ok(if whole { Got::Line } else { Got::TooLong });
        }
    }
}

/// Lines of one part, from the end backward.
struct RevLines<'a> {
    part: &'a Part,
    /// File offset of `buf[0]`.
    lo: u64,
    /// Unconsumed bytes `part[lo..lo + buf.len()]`, ending with a line's `\n`.
    buf: Vec<u8>,
    /// The end is not yet trimmed to a complete line.
    untrimmed: bool,
}

impl<'a> RevLines<'a> {
    fn new(part: &'a Part, may_end_mid_line: bool) -> Self {
        RevLines {
            part,
            lo: part.len,
            buf: Vec::new(),
            untrimmed: may_end_mid_line,
        }
    }

    /// Reads the block before `lo` in front of `buf`.
    fn read_before(&mut self) -> Result<(), Unusable> {
        let n = usize::try_from(self.lo).unwrap_or(usize::MAX).min(BLOCK);
        let at = self.lo - n as u64;
        let mut block = vec![0u8; n];
        self.part
            .file
            .read_exact_at(&mut block, at)
            .map_err(|source| Unusable::Read {
                path: self.part.path.clone(),
                source,
            })?;
        block.extend_from_slice(&self.buf);
        self.buf = block;
        self.lo = at;
        if self.buf.len() > MAX_LINE + BLOCK {
            return Err(Unusable::LineTooLong {
                path: self.part.path.clone(),
            });
        }
        Ok(())
    }

    /// The previous line (without `\n`) into `out`, and its offset; `None` at the start.
    fn prev(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>, Unusable> {
        if self.buf.is_empty() && self.lo == self.part.len {
            self.read_before()?;
            if !self.untrimmed && self.buf.last().is_some_and(|b| *b != b'\n') {
                // A rotated file always ends with a complete line; be lenient anyway.
                self.buf.push(b'\n');
            }
        }
        while self.untrimmed {
            match memchr::memrchr(b'\n', &self.buf) {
                Some(i) => {
                    self.buf.truncate(i + 1);
                    self.untrimmed = false;
                }
                None if self.lo == 0 => {
                    self.buf.clear();
                    self.untrimmed = false;
                }
                None => self.read_before()?,
            }
        }
        loop {
            if self.buf.is_empty() {
                if self.lo == 0 {
                    return Ok(None);
                }
                self.read_before()?;
                continue;
            }
            let body_end = self.buf.len() - 1;
            if let Some(i) = memchr::memrchr(b'\n', &self.buf[..body_end]) {
                out.clear();
                out.extend_from_slice(&self.buf[i + 1..body_end]);
                self.buf.truncate(i + 1);
                return Ok(Some(self.lo + i as u64 + 1));
            }
            if self.lo == 0 {
                out.clear();
                out.extend_from_slice(&self.buf[..body_end]);
                self.buf.clear();
                return Ok(Some(0));
            }
            self.read_before()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn record(log: &str, stream: &str, time: &str) -> String {
        format!(
            "{}\n",
            serde_json::json!({"log": log, "stream": stream, "time": time})
        )
    }

    /// A log dir with the current file and rotations, oldest last.
    fn write_log(dir: &Path, parts: &[&str]) -> PathBuf {
        let path = dir.join(format!("{ID}-json.log"));
        for (i, text) in parts.iter().enumerate() {
            let p = if i == 0 {
                path.clone()
            } else {
                PathBuf::from(format!("{}.{i}", path.display()))
            };
            std::fs::write(&p, text).expect("write part");
        }
        path
    }

    fn all_lines(log: &JsonLog, w: Window) -> Vec<String> {
        let mut got = Vec::new();
        log.read(w, |l| {
            got.push(format!("{} {} {}", l.timestamp, l.stream, l.text));
            true
        })
        .expect("read");
        got
    }

    fn numbered(n: usize, from: usize) -> String {
        (from..from + n)
            .map(|i| {
                record(
                    &format!("line {i}\n"),
                    if i % 3 == 0 { "stderr" } else { "stdout" },
                    &format!("2026-11-26T05:{:02}:{:02}.5Z", i / 60 % 60, i % 60),
                )
            })
            .collect()
    }

    #[test]
    fn timestamps_get_nine_fraction_digits_in_utc() {
        assert_eq!(
            fixed_timestamp("2026-11-26T05:00:00.12Z").as_deref(),
            Some("2026-11-26T05:00:00.120000000Z")
        );
        assert_eq!(
            fixed_timestamp("2026-11-26T05:00:00Z").as_deref(),
            Some("2026-11-26T05:00:00.000000000Z")
        );
        assert_eq!(
            fixed_timestamp("2026-11-26T05:00:00.123456789Z").as_deref(),
            Some("2026-11-26T05:00:00.123456789Z")
        );
        assert_eq!(
            fixed_timestamp("2026-11-26T06:00:00.5+01:00").as_deref(),
            Some("2026-11-26T05:00:00.500000000Z")
        );
        assert_eq!(fixed_timestamp("yesterday"), None);
    }

    #[test]
    fn window_spans_rotations_and_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Oldest 0..100 in .2, 100..200 in .1, 200..250 current (+ a half-written line).
        let mut current = numbered(50, 200);
        current.push_str("{\"log\":\"half");
        let path = write_log(
            dir.path(),
            &[&current, &numbered(100, 100), &numbered(100, 0)],
        );
        let log = JsonLog::open(&path, ID).expect("open");

        let w = log.window(120, u64::MAX, None).expect("window");
        assert_eq!(w.records, 120);
        assert_eq!(w.truncated_by, Some("lines"));
        let lines = all_lines(&log, w);
        assert_eq!(lines.len(), 120);
        assert_eq!(lines[0], "2026-11-26T05:02:10.500000000Z stdout line 130");
        assert_eq!(lines[119], "2026-11-26T05:04:09.500000000Z stderr line 249");

        let w = log.window(1000, u64::MAX, None).expect("window");
        assert_eq!((w.records, w.truncated_by), (250, None));
        let lines = all_lines(&log, w);
        assert_eq!(lines.len(), 250);
        assert!(lines[0].ends_with("stderr line 0"), "{}", lines[0]);

        // --since: 05:03:20 keeps lines 200.. (i/60=3, i%60>=20).
        let w = log
            .window(1000, u64::MAX, Some("2026-11-26T05:03:20.000000000Z"))
            .expect("window");
        assert_eq!((w.records, w.truncated_by), (50, None));

        // Bytes: each line renders as 30 + 1 + 6 + 1 + len("line NNN") + 1.
        let w = log.window(1000, 10 * 47, None).expect("window");
        assert_eq!((w.records, w.truncated_by), (10, Some("bytes")));
        assert_eq!(all_lines(&log, w).len(), 10);
    }

    #[test]
    fn tty_records_split_like_the_engine_and_long_lines_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = record("a\r\nb\r\n", "stdout", "2026-11-26T05:00:00.1Z")
            + &record("", "stdout", "2026-11-26T05:00:01Z");
        let path = write_log(dir.path(), &[&text]);
        let log = JsonLog::open(&path, ID).expect("open");
        let w = log.window(10, u64::MAX, None).expect("window");
        assert_eq!(
            all_lines(&log, w),
            [
                "2026-11-26T05:00:00.100000000Z stdout a",
                "2026-11-26T05:00:00.100000000Z stdout b",
                "2026-11-26T05:00:01.000000000Z stdout ",
            ]
        );

        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(&vec![b'x'; MAX_LINE + BLOCK + 10])
            .expect("write");
        f.write_all(b"\n").expect("write");
        drop(f);
        let log = JsonLog::open(&path, ID).expect("open");
        assert!(matches!(
            log.window(10, u64::MAX, None),
            Err(Unusable::LineTooLong { .. })
        ));
    }

    #[test]
    fn unusable_logs_say_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_log(dir.path(), &[&numbered(3, 0), &numbered(3, 10)]);
        std::fs::write(format!("{}.2.gz", path.display()), b"gz").expect("gz");
        let log = JsonLog::open(&path, ID).expect("open");
        // The window fits in the uncompressed files: fine.
        assert_eq!(log.window(6, u64::MAX, None).expect("window").records, 6);
        // It reaches into the compressed rotation: use the engine.
        assert!(matches!(
            log.window(7, u64::MAX, None),
            Err(Unusable::Compressed(_))
        ));
        // Not json-file records.
        std::fs::write(&path, "plain text\n").expect("write");
        let log = JsonLog::open(&path, ID).expect("open");
        assert!(matches!(
            log.window(7, u64::MAX, None),
            Err(Unusable::Corrupt { offset: 0, .. })
        ));
        // Another container's file, and no file.
        assert!(matches!(
            JsonLog::open(&path, &ID.replace('0', "f")),
            Err(Unusable::NotThisContainer(_))
        ));
        assert!(matches!(
            JsonLog::open(&dir.path().join(format!("x/{ID}-json.log")), ID),
            Err(Unusable::Open { .. })
        ));
    }

    #[test]
    fn lines_across_block_boundaries_are_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Lines of varying length so that block edges fall inside lines.
        let text: String = (0..3000)
            .map(|i| {
                record(
                    &format!("{i} {}\n", "y".repeat(i % 700)),
                    "stdout",
                    "2026-11-26T05:00:00Z",
                )
            })
            .collect();
        let path = write_log(dir.path(), &[&text]);
        let log = JsonLog::open(&path, ID).expect("open");
        let w = log.window(u64::MAX, u64::MAX, None).expect("window");
        assert_eq!(w.records, 3000);
        let lines = all_lines(&log, w);
        for (i, l) in lines.iter().enumerate() {
            assert!(
                l.ends_with(&format!(" {i} {}", "y".repeat(i % 700))),
                "line {i}"
            );
        }
    }
}
