//! The byte-level readers under the log window: a positional reader over part of a
//! file, one line read with a cap on what is kept of it, and the lines of a file read
//! backward from its end in blocks of [`super::BLOCK`].

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::unix::fs::FileExt;

use super::{BLOCK, MAX_LINE, Part, Unusable};

/// A positional reader over `file[pos..end]`.
pub(crate) struct At<'a> {
    pub(crate) file: &'a File,
    pub(crate) pos: u64,
    pub(crate) end: u64,
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
pub(super) enum Got {
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
pub(super) fn read_line_capped(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Got> {
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
pub(super) struct RevLines<'a> {
    part: &'a Part,
    /// File offset of `buf[0]`.
    lo: u64,
    /// Unconsumed bytes `part[lo..lo + buf.len()]`, ending with a line's `\n`.
    buf: Vec<u8>,
    /// The end is not yet trimmed to a complete line.
    untrimmed: bool,
}

impl<'a> RevLines<'a> {
    pub(super) fn new(part: &'a Part, may_end_mid_line: bool) -> Self {
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
            .map_err(self.part.read_err())?;
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
    pub(super) fn prev(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>, Unusable> {
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
