//! Looking inside bundles without extracting them: `ls` (the signed file list with
//! sizes, truncation and the collector that wrote each file), `cat` (one file
//! streamed to a writer) and `grep` (a regex over log or text files of several
//! bundles, ripgrep-like output). Everything is read from inside the (possibly
//! encrypted) bundle; no plaintext touches the disk. Each file's SHA-256 is checked
//! as it is read to its end.

use std::io::{self, BufRead, BufReader, Read, Write};

use rcdiag_bundle::{Bundle, Manifest};
use regex::bytes::Regex;
use serde::Serialize;

/// What can stop `cat` or `grep`.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    /// Reading from the bundle failed (integrity, missing entry, ...).
    #[error(transparent)]
    Bundle(#[from] rcdiag_bundle::Error),
    /// Writing the output failed (a closed pipe is reported as this too).
    #[error("cannot write the output: {0}")]
    Output(io::Error),
}

impl ExploreError {
    /// True when the reader of our output went away (`| head`): not worth an error message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// One row of `ls`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LsRow {
    /// Path inside the bundle.
    pub path: String,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// Whether the collector cut the content (caps, time limit).
    pub truncated: bool,
    /// The collector that wrote it, when the manifest says.
    pub collector: Option<String>,
    /// SHA-256 from the signed manifest.
    pub sha256: String,
}

/// The files of a bundle, with the collector that wrote each one (the first collector
/// that names it; else its folder). Linear in the size of the manifest.
pub fn ls_rows(manifest: &Manifest) -> Vec<LsRow> {
    let mut writer: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for c in &manifest.collectors {
        for p in &c.files {
            writer.entry(p.as_str()).or_insert(c.name.as_str());
        }
    }
    manifest
        .files
        .iter()
        .map(|f| LsRow {
            path: f.path.clone(),
            size: f.size,
            truncated: f.truncated,
            collector: writer
                .get(f.path.as_str())
                .map(|c| c.to_string())
                .or_else(|| f.path.split_once('/').map(|(dir, _)| dir.to_string())),
            sha256: f.sha256.clone(),
        })
        .collect()
}

/// Renders `ls` rows as aligned text: size, collector, path and a truncation mark.
/// Names come from the bundle: control characters are shown escaped (`\u{1b}`),
/// whether the output is a terminal or a pipe.
pub fn render_ls(rows: &[LsRow]) -> String {
    use crate::report::sanitize_line;
    let names: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                sanitize_line(r.collector.as_deref().unwrap_or("-")),
                sanitize_line(&r.path),
            )
        })
        .collect();
    let cw = names
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = String::new();
    for (r, (collector, path)) in rows.iter().zip(&names) {
        out.push_str(&format!(
            "{:>10}  {:<cw$}  {}{}\n",
            human_size(r.size),
            collector,
            path,
            if r.truncated { "  (truncated)" } else { "" },
        ));
    }
    out
}

/// `1.2 MiB`, `830 B`: sizes as people read them.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Streams the file `path` of the bundle to `out`; returns the bytes written. The
/// SHA-256 is checked at the end: on a mismatch the bytes are already out and an
/// error is returned.
pub fn cat(bundle: &mut Bundle, path: &str, out: &mut dyn Write) -> Result<u64, ExploreError> {
    cat_with(bundle, path, out, false)
}

/// [`cat`], with `escape` showing control characters escaped (`\u{1b}`) line by line,
/// as `grep` shows matched lines: for reading a file from a bundle on a terminal.
pub fn cat_with(
    bundle: &mut Bundle,
    path: &str,
    out: &mut dyn Write,
    escape: bool,
) -> Result<u64, ExploreError> {
    if escape {
        return cat_escaped(bundle, path, out);
    }
    let mut r = bundle.open_entry(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ExploreError::Bundle(r.into_error(e))),
        };
        out.write_all(&buf[..n]).map_err(ExploreError::Output)?;
        total += n as u64;
    }
    out.flush().map_err(ExploreError::Output)?;
    Ok(total)
}

fn cat_escaped(bundle: &mut Bundle, path: &str, out: &mut dyn Write) -> Result<u64, ExploreError> {
    let mut reader = BufReader::with_capacity(64 * 1024, bundle.open_entry(path)?);
    let mut line = Vec::with_capacity(4096);
    let mut total = 0u64;
    loop {
        line.clear();
        // Lines are cut at MAX_LINE here too: an escaped view is for reading.
        match read_line_capped(&mut reader, &mut line, MAX_LINE) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let inner = reader.into_inner();
                return Err(ExploreError::Bundle(inner.into_error(e)));
            }
        }
        let ended = line.last() == Some(&b'\n');
        if ended {
            line.pop();
        }
        let text = crate::report::sanitize_line(&String::from_utf8_lossy(&line));
        out.write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(ExploreError::Output)?;
        total += text.len() as u64 + 1;
    }
    out.flush().map_err(ExploreError::Output)?;
    Ok(total)
}

/// A shell-style file pattern: `*` matches within one path component, `**` across
/// components, `?` one character; everything else literally. `logs/*.log`, `**/*.json`.
#[derive(Debug, Clone)]
pub struct Glob {
    source: String,
    re: regex::Regex,
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let mut re = String::from("^");
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    // `**/` also matches no folder at all.
                    if chars.get(i + 2) == Some(&'/') {
                        re.push_str("(?:.*/)?");
                        i += 3;
                    } else {
                        re.push_str(".*");
                        i += 2;
                    }
                    continue;
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
            i += 1;
        }
        re.push('$');
        Ok(Self {
            source: pattern.to_string(),
            re: regex::Regex::new(&re)?,
        })
    }

    /// True when `path` matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        self.re.is_match(path)
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// The files `grep` searches by default.
pub const DEFAULT_GREP_GLOB: &str = "logs/*.log";

/// What `grep` searches for and where.
#[derive(Debug, Clone)]
pub struct GrepOptions {
    /// The pattern (compiled with case-insensitivity already applied).
    pub regex: Regex,
    /// Files to search; empty means [`DEFAULT_GREP_GLOB`] (or every file with `all`).
    pub files: Vec<Glob>,
    /// Search every text file, not only logs.
    pub all: bool,
    /// Escape control characters of matched lines. Node labels and paths, which come
    /// from the bundle too, are always escaped.
    pub escape_controls: bool,
}

/// Longest line kept for matching and printing; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 1 << 20;

/// What one bundle's `grep` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrepStats {
    /// Lines that matched.
    pub matches: u64,
    /// Files searched.
    pub files: u64,
    /// Files skipped as binary (a NUL byte) under `--all`.
    pub binary_skipped: Vec<String>,
}

/// Searches one bundle, printing `node:file:line_no:line` for every matching line.
pub fn grep(
    bundle: &mut Bundle,
    node: &str,
    opts: &GrepOptions,
    out: &mut dyn Write,
) -> Result<GrepStats, ExploreError> {
    let default = Glob::new(DEFAULT_GREP_GLOB)
        .map_err(|e| ExploreError::Output(io::Error::other(format!("internal glob error: {e}"))))?;
    let paths: Vec<String> = bundle
        .entries()
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| {
            if !opts.files.is_empty() {
                opts.files.iter().any(|g| g.matches(p))
            } else {
                opts.all || default.matches(p)
            }
        })
        .collect();
    let mut stats = GrepStats::default();
    let mut line = Vec::with_capacity(4096);
    let node = crate::report::sanitize_line(node);
    for path in paths {
        let shown_path = crate::report::sanitize_line(&path);
        stats.files += 1;
        let mut reader = BufReader::with_capacity(64 * 1024, bundle.open_entry(&path)?);
        let mut line_no = 0u64;
        let mut binary = false;
        loop {
            line.clear();
            let got = match read_line_capped(&mut reader, &mut line, MAX_LINE) {
                Ok(got) => got,
                Err(e) => {
                    let inner = reader.into_inner();
                    return Err(ExploreError::Bundle(inner.into_error(e)));
                }
            };
            if !got {
                break;
            }
            line_no += 1;
            if binary {
                continue; // keep reading to the end so the hash is still checked
            }
            if line.contains(&0) {
                binary = true;
                stats.binary_skipped.push(path.clone());
                continue;
            }
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if opts.regex.is_match(&line) {
                stats.matches += 1;
                let text = String::from_utf8_lossy(&line);
                let text = if opts.escape_controls {
                    crate::report::sanitize_line(&text)
                } else {
                    text.into_owned()
                };
                writeln!(out, "{node}:{shown_path}:{line_no}:{text}")
                    .map_err(ExploreError::Output)?;
            }
        }
    }
    out.flush().map_err(ExploreError::Output)?;
    Ok(stats)
}

/// Reads one line (up to and including `\n`) into `buf`, keeping at most `cap` bytes
/// and discarding the rest of a longer line. Returns false at the end of input.
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> io::Result<bool> {
    let mut any = false;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any);
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        r.consume(used);
        if done {
            return Ok(true);
        }
    }
}

/// Unique labels for bundles' nodes: the host name, with `#2`, `#3`... added when
/// several bundles come from hosts of the same name.
pub fn node_labels<'a>(hostnames: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let names: Vec<&str> = hostnames.into_iter().collect();
    let mut total: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for n in &names {
        *total.entry(n).or_default() += 1;
    }
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut labels = Vec::with_capacity(names.len());
    for name in &names {
        let base = if name.trim().is_empty() { "node" } else { name };
        let nth = seen.entry(name).or_default();
        *nth += 1;
        if total.get(name).copied().unwrap_or(0) > 1 {
            labels.push(format!("{base}#{nth}"));
        } else {
            labels.push(base.to_string());
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_a_shell() {
        let g = Glob::new("logs/*.log").expect("glob");
        assert!(g.matches("logs/rc-1.log"));
        assert!(!g.matches("logs/sub/rc-1.log"));
        assert!(!g.matches("xlogs/rc.log"));
        let g = Glob::new("**/*.json").expect("glob");
        assert!(g.matches("host.json") && g.matches("docker/containers.json"));
        let g = Glob::new("logs/rc-?.log").expect("glob");
        assert!(g.matches("logs/rc-1.log") && !g.matches("logs/rc-10.log"));
        let g = Glob::new("a.b(c)+").expect("glob");
        assert!(g.matches("a.b(c)+") && !g.matches("aXb(c)+"));
    }

    #[test]
    fn long_lines_are_capped_and_the_rest_skipped() {
        let data = format!("{}\nshort\n", "x".repeat(100));
        let mut r = BufReader::with_capacity(8, data.as_bytes());
        let mut buf = Vec::new();
        assert!(read_line_capped(&mut r, &mut buf, 10).expect("read"));
        assert_eq!(buf, b"xxxxxxxxxx");
        buf.clear();
        assert!(read_line_capped(&mut r, &mut buf, 10).expect("read"));
        assert_eq!(buf, b"short\n");
        buf.clear();
        assert!(!read_line_capped(&mut r, &mut buf, 10).expect("read"));
    }

    #[test]
    fn node_labels_are_unique() {
        assert_eq!(
            node_labels(["a", "b", "a", ""]),
            ["a#1", "b", "a#2", "node"]
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 20), "3.0 MiB");
    }
}
