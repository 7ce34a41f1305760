//! Judging the lines of a log: the block search over whole lines, the per-line
//! fallback, and what one line yields (signature hits, startup box values).

use super::{
    LONG_LINE_WINDOW, LogFindings, LogMatch, LogScanner, LogState, MAX_SCAN_LINE, STARTUP_LABELS,
};
use crate::text::cut;

impl LogScanner<'_> {
    /// Scans the next bytes of a log: the whole lines among them, and the line begun
    /// in earlier bytes once it ends here.
    pub(super) fn feed(&self, found: &mut LogFindings, log: &mut LogState, mut data: &[u8]) {
        if !log.carry.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            let piece = &data[..newline.unwrap_or(data.len())];
            let room = MAX_SCAN_LINE.saturating_sub(log.carry.len());
            log.carry.extend_from_slice(&piece[..piece.len().min(room)]);
            let Some(i) = newline else { return };
            let line = std::mem::take(&mut log.carry);
            log.line_no += 1;
            let line_no = log.line_no;
            self.line(found, log, line_no, &line);
            log.carry = line;
            log.carry.clear();
            data = &data[i + 1..];
        }
        let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.lines(found, log, &data[..end]);
        let tail = &data[end..];
        log.carry
            .extend_from_slice(&tail[..tail.len().min(MAX_SCAN_LINE)]);
    }

    /// Judges whole lines (the last may lack its '\n'), by the block search where it
    /// can.
    fn lines(&self, found: &mut LogFindings, log: &mut LogState, bytes: &[u8]) {
        let Some(block) = &self.block else {
            self.each_line(found, log, bytes);
            return;
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            let (text, odd) = split_searchable(rest);
            if self.block_cr_sensitive && text.contains('\r') {
                self.each_line(found, log, text.as_bytes());
            } else {
                self.search(found, log, block, text);
            }
            self.each_line(found, log, odd);
            rest = rest.get(text.len() + odd.len()..).unwrap_or_default();
        }
    }

    /// Searches `text` (whole lines, each at most `MAX_SCAN_LINE` bytes) with `block`
    /// and judges each line where a match begins.
    fn search(
        &self,
        found: &mut LogFindings,
        log: &mut LogState,
        block: &regex::Regex,
        text: &str,
    ) {
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
            self.line(found, log, line_no, &bytes[start..end]);
            pos = end + 1;
        }
        log.line_no += count_newlines(bytes.get(counted..).unwrap_or_default());
        if bytes.last().is_some_and(|&b| b != b'\n') {
            // A last line without a '\n'.
            log.line_no += 1;
        }
    }

    /// Judges each line of `bytes` (its first `MAX_SCAN_LINE` bytes).
    fn each_line(&self, found: &mut LogFindings, log: &mut LogState, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            log.line_no += 1;
            let line_no = log.line_no;
            self.line(found, log, line_no, &line[..line.len().min(MAX_SCAN_LINE)]);
            rest = next;
        }
    }

    /// Judges one line: `raw` is at most `MAX_SCAN_LINE` bytes, without its '\n'.
    pub(super) fn line(
        &self,
        found: &mut LogFindings,
        log: &mut LogState,
        line_no: u64,
        raw: &[u8],
    ) {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches('\r');
        let file = log.file.as_str();
        let max_keep = self.policy.logs.max_matches_per_signature;
        if self.set.is_match(text) {
            for i in self.set.matches(text).iter() {
                let (Some(id), Some(&slot)) = (self.ids.get(i), self.slot.get(i)) else {
                    continue;
                };
                match found.log_match_counts.get_mut(id) {
                    Some(count) => *count += 1,
                    None => {
                        found.log_match_counts.insert(id.clone(), 1);
                    }
                }
                if let Some(kept) = log.kept.get_mut(slot)
                    && *kept < max_keep
                {
                    *kept += 1;
                    found.log_matches.push(LogMatch {
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
            put(&self.rc_version, &mut found.startup_versions);
            put(&self.mongo_version, &mut found.startup_mongo_versions);
            put(&self.mongo_engine, &mut found.startup_mongo_engines);
            put(&self.oplog, &mut found.startup_oplog);
        }
    }
}

/// Whether a signature pattern can go into the block search (see [`LogScanner`]).
/// Conservative: it looks at the text of the pattern, so a literal `\\A` counts too.
pub(super) fn block_searchable(pattern: &str) -> bool {
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
pub(super) fn split_searchable(bytes: &[u8]) -> (&str, &[u8]) {
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
pub(super) fn line_start(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// Position of the '\n' ending the line holding `bytes[at]`, or the length of `bytes`.
pub(super) fn line_end(bytes: &[u8], at: usize) -> usize {
    let from = at.min(bytes.len());
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| from + i)
}

/// Number of '\n' in `bytes`. Counted 255 bytes at a time into a byte, which cannot
/// overflow, so the compiler counts 16 bytes per vector instruction (about 4x the
/// speed of counting into a `usize`).
pub(super) fn count_newlines(bytes: &[u8]) -> u64 {
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
