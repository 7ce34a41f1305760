//! The newest-lines window of a log kept in several files (the current one and its
//! rotations, newest first), shared by the direct log readers: [`super::logfile`]
//! (Docker's `json-file`) and [`super::crilog`] (the kubelet's CRI log files). A
//! [`Format`] turns one line of a file into a record; a record may be a partial piece
//! that the next ones complete (CRI's `P` tag), and pieces are joined into one line. A
//! record of the other stream between pieces ends the pieces before it as a line of their
//! own (the runtime writes stdout and stderr from two tasks into one file, so a stderr
//! line can land inside a long stdout line): nothing of either stream is lost or mixed,
//! and every pass below applies the same rule, so they count the same lines.
//!
//! Two passes, both bounded in memory whatever the file sizes: a backward pass from the
//! end parses only the lines of the window (the newest `max_records`, newer than
//! `since`, fitting `max_bytes`) to find where it starts; a forward pass then yields
//! those lines in order. A gzip-compressed rotation cannot be read backward: it is
//! decompressed forward twice (once to count what it adds to the window, keeping only
//! the lengths of the lines that fit, once to yield them), at most [`MAX_GZ_BYTES`] of
//! it. Files are opened once and read up to the length they had when opened, so a
//! rotation or a line appended meanwhile changes nothing.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::marker::PhantomData;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

mod lines;
pub(crate) use lines::At;
use lines::{Got, RevLines, read_line_capped};

/// Bytes read per step, backward and forward.
pub const BLOCK: usize = 256 * 1024;

/// Longest line accepted (the json-file driver and the CRI runtimes split messages at
/// 16 KiB, so a real line stays far below this). Joined partial pieces are cut here.
pub const MAX_LINE: usize = 1 << 20;

/// Most bytes decompressed from one gzip-compressed rotation (the kubelet rotates at
/// 10 MiB by default).
pub const MAX_GZ_BYTES: u64 = 1 << 30;

/// Why a log cannot be read from its files.
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
    /// The window reaches into a gzip-compressed rotation (json-file: the engine reads it).
    #[error("the log window reaches into the compressed rotation {0}")]
    Compressed(PathBuf),
    /// The files were rotated while being opened.
    #[error("the log files were rotated while being opened")]
    Rotating,
    /// A line is not a record of the format.
    #[error("{path} at byte {offset}: not a {format} log record")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the line starts (for a compressed file: in its decompressed text).
        offset: u64,
        /// The format's name.
        format: &'static str,
    },
    /// A line is longer than [`MAX_LINE`].
    #[error("{path} holds a line longer than {MAX_LINE} bytes")]
    LineTooLong {
        /// The file.
        path: PathBuf,
    },
    /// A compressed rotation decompresses to more than [`MAX_GZ_BYTES`].
    #[error("{path} decompresses to more than {MAX_GZ_BYTES} bytes; left out")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
}

/// One output line: `<timestamp> <stream> <text>`.
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

/// One record of a log file.
pub struct Parsed<'a> {
    /// Fixed timestamp (nine digits, UTC).
    pub timestamp: String,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The text (a json-file TTY record may hold several lines).
    pub log: Cow<'a, str>,
    /// A piece that the next records complete (CRI `P`).
    pub partial: bool,
}

impl Parsed<'_> {
    /// The output lines of this record (a TTY record may hold several).
    pub fn lines(&self, f: &mut impl FnMut(Line<'_>) -> bool) -> bool {
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

    /// Length of its output lines.
    pub fn rendered_len(&self) -> u64 {
        let mut n = 0;
        self.lines(&mut |l| {
            n += l.rendered_len();
            true
        });
        n
    }
}

/// A log file format.
pub trait Format {
    /// Its name, for errors (`json-file`, `CRI`).
    const NAME: &'static str;
    /// One line of a file (without `\n`); `None` when it is not a record.
    fn parse(raw: &[u8]) -> Option<Parsed<'_>>;
}

/// One file of the log: the current one or a rotation.
pub struct Part {
    /// Its path.
    pub path: PathBuf,
    /// Opened once.
    pub file: File,
    /// Length when opened; nothing after it is read.
    pub len: u64,
    /// gzip-compressed (read forward only).
    pub gz: bool,
}

impl Part {
    /// Opens `path` and notes its length.
    pub fn open(path: &Path, gz: bool) -> Result<Part, Unusable> {
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
            gz,
        })
    }

    fn read_err(&self) -> impl Fn(io::Error) -> Unusable + '_ {
        |source| Unusable::Read {
            path: self.path.clone(),
            source,
        }
    }

    /// A forward reader of its (decompressed) text.
    fn forward(&self, from: u64) -> Box<dyn BufRead + '_> {
        let at = At {
            file: &self.file,
            pos: if self.gz { 0 } else { from },
            end: self.len,
        };
        if self.gz {
            let gz = flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(BLOCK, at));
            Box::new(io::BufReader::with_capacity(
                BLOCK,
                gz.take(MAX_GZ_BYTES + 1),
            ))
        } else {
            Box::new(io::BufReader::with_capacity(BLOCK, at))
        }
    }
}

/// Whether the files were rotated while `parts` were opened: one file shows twice, or
/// `current` (the path of `parts[0]`) is now another file.
pub fn rotated_meanwhile(parts: &[Part], current: &Path) -> bool {
    let ids: Vec<(u64, u64)> = parts
        .iter()
        .filter_map(|p| p.file.metadata().ok().map(|m| (m.dev(), m.ino())))
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    let current_now = std::fs::metadata(current).ok().map(|m| (m.dev(), m.ino()));
    unique.len() != parts.len() || current_now != ids.first().copied()
}

/// Where the window starts, and why it starts there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index into the parts (0 = current file, higher = older).
    part: usize,
    /// Byte offset of the first line in that part; for a compressed part, how many
    /// of its lines come before the window.
    offset: u64,
    /// Lines in the window (joined pieces count once).
    pub records: u64,
    /// `Some("lines")` or `Some("bytes")` when older lines were left out for a cap.
    pub truncated_by: Option<&'static str>,
}

/// An opened log: its files, newest first.
pub struct Log<F> {
    /// Newest first.
    pub(crate) parts: Vec<Part>,
    /// The next older rotation, compressed, when the reader does not read those.
    pub(crate) older_compressed: Option<PathBuf>,
    format: PhantomData<F>,
}

/// A line seen from its end backward: the pieces read so far.
struct Pending {
    /// Offset of its earliest piece read.
    offset: u64,
    /// Timestamp of that piece.
    timestamp: String,
    /// Its stream: a piece of the other stream is not part of it.
    stream: &'static str,
    /// Output length so far.
    len: u64,
}

impl<F: Format> Log<F> {
    /// A log of these parts (newest first).
    pub fn new(parts: Vec<Part>, older_compressed: Option<PathBuf>) -> Self {
        Log {
            parts,
            older_compressed,
            format: PhantomData,
        }
    }

    /// Total bytes of the opened files (compressed size for compressed ones).
    pub fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.len).sum()
    }

    /// The paths of its files, newest first.
    pub fn paths(&self) -> Vec<&Path> {
        self.parts.iter().map(|p| p.path.as_path()).collect()
    }

    /// Finds the start of the window: the newest `max_records` lines, none older
    /// than `since` (a fixed timestamp), whose output fits `max_bytes`.
    pub fn window(
        &self,
        max_records: u64,
        max_bytes: u64,
        since: Option<&str>,
    ) -> Result<Window, Unusable> {
        let mut w = Walk {
            max_records,
            max_bytes,
            since,
            records: 0,
            bytes: 0,
            start: Window {
                part: 0,
                offset: self.parts.first().map_or(0, |p| p.len),
                records: 0,
                truncated_by: None,
            },
        };
        for (i, part) in self.parts.iter().enumerate() {
            let done = if part.gz {
                // A full window needs nothing from a file that is only read whole.
                if w.records >= max_records {
                    w.start.truncated_by = Some("lines");
                    return Ok(w.start);
                }
                w.gz_part::<F>(i, part)?
            } else {
                w.plain_part::<F>(i, part)?
            };
            if done {
                return Ok(w.start);
            }
        }
        match &self.older_compressed {
            // The window is full: the compressed rotation is older than it.
            Some(_) if w.records >= max_records => {
                w.start.truncated_by = Some("lines");
                Ok(w.start)
            }
            Some(gz) => Err(Unusable::Compressed(gz.clone())),
            None => Ok(w.start),
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
            let mut r = part.forward(offset);
            let mut skip = if part.gz { offset } else { 0 };
            let mut joined: Joined = None;
            loop {
                let got = read_line_capped(&mut r, &mut buf, MAX_LINE).map_err(part.read_err())?;
                match got {
                    // The end, or a last line still being written: not in the snapshot.
                    Got::End | Got::Unterminated => break,
                    Got::TooLong => continue,
                    Got::Line => {}
                }
                let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
                // A line that changed since the backward pass is left out.
                let Some(rec) = F::parse(raw) else { continue };
                let (ended, line) = join(rec, &mut joined);
                for line in [ended, line].into_iter().flatten() {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    if !line.lines(&mut f) {
                        return Ok(());
                    }
                }
            }
            // Pieces at the end of a file with nothing completing them: a line of their own.
            if let Some((timestamp, stream, text)) = joined.take() {
                let line = Parsed {
                    timestamp,
                    stream,
                    log: Cow::Owned(text),
                    partial: false,
                };
                if skip == 0 && !line.lines(&mut f) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Pieces of a line being joined: timestamp and stream of the first, the text so far.
type Joined = Option<(String, &'static str, String)>;

/// Adds `rec` to the pieces being joined: the pieces of the other stream that `rec`
/// ends (a line of their own), and the whole line when `rec` completes one.
fn join<'a>(rec: Parsed<'a>, joined: &mut Joined) -> (Option<Parsed<'a>>, Option<Parsed<'a>>) {
    let ended = joined
        .take_if(|j| j.1 != rec.stream)
        .map(|(timestamp, stream, text)| Parsed {
            timestamp,
            stream,
            log: Cow::Owned(text),
            partial: false,
        });
    (ended, join_same(rec, joined))
}

/// Adds `rec` to the pieces of its own stream being joined (see [`join`]).
fn join_same<'a>(rec: Parsed<'a>, joined: &mut Joined) -> Option<Parsed<'a>> {
    if rec.partial {
        let j = joined.get_or_insert_with(|| (rec.timestamp.clone(), rec.stream, String::new()));
        push_capped(&mut j.2, &rec.log);
        return None;
    }
    Some(match joined.take() {
        Some((timestamp, stream, mut text)) => {
            push_capped(&mut text, &rec.log);
            Parsed {
                timestamp,
                stream,
                log: Cow::Owned(text),
                partial: false,
            }
        }
        None => rec,
    })
}

/// Output length of a record's line without its text.
fn header_len(rec: &Parsed<'_>) -> u64 {
    (rec.timestamp.len() + rec.stream.len() + 3) as u64
}

/// Appends `s` to `text` up to [`MAX_LINE`] bytes.
fn push_capped(text: &mut String, s: &str) {
    let room = MAX_LINE.saturating_sub(text.len());
    if s.len() <= room {
        text.push_str(s);
    } else {
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        text.push_str(&s[..end]);
    }
}

/// The backward walk of [`Log::window`]: what the window holds so far.
struct Walk<'s> {
    max_records: u64,
    max_bytes: u64,
    since: Option<&'s str>,
    records: u64,
    bytes: u64,
    start: Window,
}

impl Walk<'_> {
    /// Adds a whole line (older than those already in) to the window; true when the
    /// window is complete (a cap or `since` reached).
    fn commit(&mut self, part: usize, p: Pending) -> bool {
        if self.records >= self.max_records {
            self.start.truncated_by = Some("lines");
            return true;
        }
        if self.since.is_some_and(|s| p.timestamp.as_str() < s) {
            return true;
        }
        if self.bytes + p.len > self.max_bytes {
            self.start.truncated_by = Some("bytes");
            return true;
        }
        self.bytes += p.len;
        self.records += 1;
        self.start = Window {
            part,
            offset: p.offset,
            records: self.records,
            truncated_by: None,
        };
        false
    }

    /// Walks an uncompressed part backward; true when the window is complete.
    fn plain_part<F: Format>(&mut self, i: usize, part: &Part) -> Result<bool, Unusable> {
        let mut line = Vec::new();
        // Only the current file can end in a line still being written.
        let mut rev = RevLines::new(part, i == 0);
        let mut pending: Option<Pending> = None;
        while let Some(offset) = rev.prev(&mut line)? {
            let rec = match F::parse(&line) {
                Some(r) => r,
                // Past a full window, a bad line does not matter.
                None if self.records + u64::from(pending.is_some()) >= self.max_records => {
                    if let Some(p) = pending.take()
                        && self.commit(i, p)
                    {
                        return Ok(true);
                    }
                    self.start.truncated_by = Some("lines");
                    return Ok(true);
                }
                None => {
                    return Err(Unusable::Corrupt {
                        path: part.path.clone(),
                        offset,
                        format: F::NAME,
                    });
                }
            };
            // A piece of the line after it (of the same stream: the other stream's
            // record between pieces ends them).
            if rec.partial
                && let Some(p) = pending.as_mut().filter(|p| p.stream == rec.stream)
            {
                p.offset = offset;
                p.len += rec.log.len() as u64;
                p.timestamp = rec.timestamp;
                continue;
            }
            if let Some(p) = pending.take()
                && self.commit(i, p)
            {
                return Ok(true);
            }
            // A piece at the end of the file counts its header once, like a whole line.
            let len = if rec.partial {
                header_len(&rec) + rec.log.len() as u64
            } else {
                rec.rendered_len()
            };
            pending = Some(Pending {
                offset,
                len,
                stream: rec.stream,
                timestamp: rec.timestamp,
            });
        }
        Ok(pending.is_some_and(|p| self.commit(i, p)))
    }

    /// Counts a compressed part forward: its newest lines that fit what the window
    /// still takes; true when the window is complete.
    fn gz_part<F: Format>(&mut self, i: usize, part: &Part) -> Result<bool, Unusable> {
        let mut r = part.forward(0);
        let mut buf = Vec::new();
        // Output length of each line kept, oldest first; index of the first kept.
        let mut kept: VecDeque<u32> = VecDeque::new();
        let mut kept_bytes = 0u64;
        let mut first = 0u64;
        let mut index = 0u64;
        let mut evicted: Option<&'static str> = None;
        let mut cut_by_since = false;
        let mut read = 0u64;
        let left_records = self.max_records - self.records;
        let left_bytes = self.max_bytes - self.bytes;
        let mut pending: Option<(String, &'static str, u64)> = None;
        let mut finish_line = |ts: String,
                               len: u64,
                               index: &mut u64,
                               kept: &mut VecDeque<u32>,
                               kept_bytes: &mut u64,
                               first: &mut u64| {
            if self.since.is_some_and(|s| ts.as_str() < s) {
                kept.clear();
                *kept_bytes = 0;
                *first = *index + 1;
                cut_by_since = true;
            } else {
                kept.push_back(u32::try_from(len).unwrap_or(u32::MAX));
                *kept_bytes += len;
                while *kept_bytes > left_bytes || kept.len() as u64 > left_records {
                    evicted = Some(if *kept_bytes > left_bytes {
                        "bytes"
                    } else {
                        evicted.unwrap_or("lines")
                    });
                    let Some(old) = kept.pop_front() else { break };
                    *kept_bytes -= u64::from(old);
                    *first += 1;
                }
            }
            *index += 1;
        };
        loop {
            let got = read_line_capped(&mut r, &mut buf, MAX_LINE).map_err(part.read_err())?;
            read += buf.len() as u64;
            if read > MAX_GZ_BYTES {
                return Err(Unusable::TooLarge {
                    path: part.path.clone(),
                });
            }
            match got {
                Got::End | Got::Unterminated => break,
                Got::TooLong => continue,
                Got::Line => {}
            }
            let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let Some(rec) = F::parse(raw) else {
                return Err(Unusable::Corrupt {
                    path: part.path.clone(),
                    offset: read - buf.len() as u64,
                    format: F::NAME,
                });
            };
            // Pieces of the other stream end here: a line of their own.
            if let Some((ts, _, n)) = pending.take_if(|p| p.1 != rec.stream) {
                finish_line(ts, n, &mut index, &mut kept, &mut kept_bytes, &mut first);
            }
            if rec.partial {
                let p = pending
                    .get_or_insert_with(|| (rec.timestamp.clone(), rec.stream, header_len(&rec)));
                p.2 += rec.log.len() as u64;
                continue;
            }
            let (ts, len) = match pending.take() {
                Some((ts, _, n)) => (ts, n + rec.log.len() as u64),
                None => (rec.timestamp.clone(), rec.rendered_len()),
            };
            finish_line(ts, len, &mut index, &mut kept, &mut kept_bytes, &mut first);
        }
        if let Some((ts, _, n)) = pending.take() {
            // Pieces at the end with nothing completing them: a line of their own.
            finish_line(ts, n, &mut index, &mut kept, &mut kept_bytes, &mut first);
        }
        if !kept.is_empty() {
            self.records += kept.len() as u64;
            self.bytes += kept_bytes;
            self.start = Window {
                part: i,
                offset: first,
                records: self.records,
                truncated_by: None,
            };
        }
        if let Some(by) = evicted {
            self.start.truncated_by = Some(by);
            return Ok(true);
        }
        Ok(cut_by_since)
    }
}

/// Every line of `log` in window `w`, as `timestamp stream text` (for the readers' tests).
#[cfg(test)]
pub(crate) fn lines_of<F: Format>(log: &Log<F>, w: Window) -> Vec<String> {
    let mut got = Vec::new();
    log.read(w, |l| {
        got.push(format!("{} {} {}", l.timestamp, l.stream, l.text));
        true
    })
    .expect("read");
    got
}
