//! Direct reader of the pod log files the container runtime writes on a Kubernetes node
//! for the kubelet: `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restartCount>.log`
//! (`kuberuntime/helpers.go`), one line per record in the CRI log format
//! (`kuberuntime/logs/logs.go`): `<RFC 3339 nano timestamp> <stdout|stderr> <tags>
//! <content>`, where the first tag `P` marks a partial piece that the next records
//! complete up to one tagged `F`; pieces are joined into one line, with the first
//! piece's timestamp.
//!
//! The kubelet rotates a file by renaming it `<N>.log.<YYYYMMDD-hhmmss>` and asking the
//! runtime to reopen `<N>.log`; older rotations are gzip-compressed
//! (`<N>.log.<time>.gz`, made through a `.tmp` file) (`pkg/kubelet/logs/container_log_manager.go`).
//! The current file and every rotation, compressed ones included, are read newest first
//! through [`super::logwindow`], bounded in memory like the json-file reader. A piece left
//! open at the end of a file is a line of its own (pieces are not joined across files).

use std::path::{Path, PathBuf};

use super::logfile::fixed_timestamp;
use super::logwindow::{Format, Log, Parsed, Part, rotated_meanwhile};
pub use super::logwindow::{Line, Unusable, Window};

/// Most rotated files looked at (the kubelet keeps 5 by default).
const MAX_PARTS: usize = 100;

/// The CRI log format.
pub struct CriFormat;

impl Format for CriFormat {
    const NAME: &'static str = "CRI";

    fn parse(raw: &[u8]) -> Option<Parsed<'_>> {
        let mut fields = raw.splitn(4, |b| *b == b' ');
        let time = std::str::from_utf8(fields.next()?).ok()?;
        let stream = match fields.next()? {
            b"stdout" => "stdout",
            b"stderr" => "stderr",
            _ => return None,
        };
        let tags = fields.next()?;
        let partial = tags.split(|b| *b == b':').next() == Some(b"P");
        let content = fields.next().unwrap_or_default();
        Some(Parsed {
            timestamp: fixed_timestamp(time)?,
            stream,
            log: String::from_utf8_lossy(content),
            partial,
        })
    }
}

/// An opened CRI pod log: the current file and its rotations.
pub type CriLog = Log<CriFormat>;

impl CriLog {
    /// Opens the log at `log_path` (`.../<container>/<N>.log`) and its rotations beside it.
    pub fn open(log_path: &Path) -> Result<CriLog, Unusable> {
        for _ in 0..3 {
            if let Some(log) = open_once(log_path)? {
                return Ok(log);
            }
        }
        Err(Unusable::Rotating)
    }
}

/// The rotations of `log_path`, newest first: `(path, gzip-compressed)`.
pub fn rotations(log_path: &Path) -> Vec<(PathBuf, bool)> {
    let (Some(dir), Some(name)) = (
        log_path.parent(),
        log_path.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut found: Vec<(String, PathBuf, bool)> = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    for e in entries.flatten().take(10 * MAX_PARTS) {
        let file = e.file_name();
        let Some(f) = file.to_str() else { continue };
        let Some(stamp) = f.strip_prefix(&prefix) else {
            continue;
        };
        // `<time>` or `<time>.gz`; `.tmp` is a compression under way.
        let (stamp, gz) = match stamp.strip_suffix(".gz") {
            Some(s) => (s, true),
            None => (stamp, false),
        };
        if stamp.is_empty() || !stamp.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            continue;
        }
        found.push((stamp.to_string(), e.path(), gz));
    }
    // Newest first; a rotation present both plain and compressed (being compressed) once.
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.2.cmp(&b.2)));
    found.dedup_by(|b, a| a.0 == b.0);
    found
        .into_iter()
        .take(MAX_PARTS)
        .map(|(_, p, gz)| (p, gz))
        .collect()
}

/// One attempt; `None` when a rotation happened meanwhile.
fn open_once(log_path: &Path) -> Result<Option<CriLog>, Unusable> {
    let current = match Part::open(log_path, false) {
        Ok(p) => Some(p),
        // Between the kubelet's rename and the runtime's reopen, only rotations exist.
        Err(Unusable::Open { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && !rotations(log_path).is_empty() =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    let mut parts: Vec<Part> = current.into_iter().collect();
    let had_current = !parts.is_empty();
    for (path, gz) in rotations(log_path) {
        match Part::open(&path, gz) {
            Ok(p) => parts.push(p),
            // Removed since it was listed (the kubelet keeps a few): older ones are gone too.
            Err(Unusable::Open { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
    if had_current && rotated_meanwhile(&parts, log_path) {
        return Ok(None);
    }
    Ok(Some(CriLog::new(parts, None)))
}

#[cfg(test)]
mod tests {
    //! Files written by the tests in the CRI format (built, not recorded; containerd's own
    //! files are read in `agent/tests/cri.rs`).
    use super::super::logwindow::lines_of;
    use super::*;
    use std::io::Write;

    fn line(i: usize, tag: &str, text: &str) -> String {
        format!(
            "2026-12-04T10:{:02}:{:02}.5Z stdout {tag} {text}\n",
            i / 60,
            i % 60
        )
    }

    /// Lines `from..to`, every third one in two pieces (`P` then `F`).
    fn lines(from: usize, to: usize) -> String {
        (from..to)
            .map(|i| {
                if i.is_multiple_of(3) {
                    line(i, "P", &format!("line {i} ")) + &line(i, "F", "end")
                } else {
                    line(i, "F", &format!("line {i}"))
                }
            })
            .collect()
    }

    fn gzip(path: &Path, text: &str) {
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(path).expect("create"),
            flate2::Compression::fast(),
        );
        e.write_all(text.as_bytes()).expect("gzip");
        e.finish().expect("gzip");
    }

    #[test]
    fn parses_the_kubelet_examples() {
        let p = CriFormat::parse(b"2016-10-06T00:17:09.669794202Z stdout F log content 1")
            .expect("record");
        assert_eq!(p.timestamp, "2016-10-06T00:17:09.669794202Z");
        assert_eq!(
            (p.stream, p.partial, &*p.log),
            ("stdout", false, "log content 1")
        );
        let p = CriFormat::parse(b"2016-10-06T00:17:09.669794203Z stderr P:x log ").expect("P");
        assert_eq!((p.stream, p.partial, &*p.log), ("stderr", true, "log "));
        // An empty line, a time with an offset (converted to UTC), and no record.
        let p = CriFormat::parse(b"2016-10-06T02:17:09.5+02:00 stdout F").expect("empty");
        assert_eq!(
            (p.timestamp.as_str(), &*p.log),
            ("2016-10-06T00:17:09.500000000Z", "")
        );
        assert!(CriFormat::parse(b"2016-10-06T00:17:09Z stdin F x").is_none());
        assert!(CriFormat::parse(b"{\"log\":\"x\"}").is_none());
    }

    #[test]
    fn pieces_join_and_count_once_across_plain_and_gzip_rotations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cur = dir.path().join("0.log");
        // Oldest 0..30 gzipped, 30..60 plain rotation, 60..90 current (+ a half line).
        gzip(&dir.path().join("0.log.20261204-100000.gz"), &lines(0, 30));
        std::fs::write(dir.path().join("0.log.20261204-100100"), lines(30, 60)).expect("w");
        std::fs::write(&cur, lines(60, 90) + "2026-12-04T10:02:00Z stdout F half").expect("w");
        // A compression under way and another container's file are not parts.
        std::fs::write(dir.path().join("0.log.20261204-100000.gz.tmp"), "x").expect("w");
        std::fs::write(dir.path().join("1.log"), lines(0, 1)).expect("w");
        let log = CriLog::open(&cur).expect("open");
        assert_eq!(log.paths().len(), 3);

        let w = log.window(u64::MAX, u64::MAX, None).expect("window");
        assert_eq!((w.records, w.truncated_by), (90, None));
        let all = lines_of(&log, w);
        assert_eq!(all.len(), 90);
        for (i, l) in all.iter().enumerate() {
            let want = if i.is_multiple_of(3) {
                format!("line {i} end")
            } else {
                format!("line {i}")
            };
            assert!(l.ends_with(&format!(" stdout {want}")), "{i}: {l}");
        }

        // The cap lands inside the gzip rotation: its newest 5 lines, then the rest.
        let w = log.window(65, u64::MAX, None).expect("window");
        assert_eq!((w.records, w.truncated_by), (65, Some("lines")));
        let got = lines_of(&log, w);
        assert_eq!(got.len(), 65);
        assert!(got[0].ends_with(" line 25"), "{}", got[0]);

        // A cap landing on a joined line keeps it whole or leaves it out whole.
        let w = log.window(2, u64::MAX, None).expect("window");
        let got = lines_of(&log, w);
        assert_eq!(got.len(), 2);
        assert!(
            got[0].ends_with(" line 88") && got[1].ends_with(" line 89"),
            "{got:?}"
        );
        let w = log.window(3, u64::MAX, None).expect("window");
        assert!(lines_of(&log, w)[0].ends_with(" line 87 end"));

        // --since inside the gzip rotation: 10:00:20 keeps lines 20..
        let w = log
            .window(u64::MAX, u64::MAX, Some("2026-12-04T10:00:20.000000000Z"))
            .expect("window");
        assert_eq!((w.records, w.truncated_by), (70, None));
        assert!(lines_of(&log, w)[0].ends_with(" line 20"));

        // Bytes: each line is 30 + 1 + 6 + 1 + text + 1.
        let n = |i: usize| {
            39 + if i.is_multiple_of(3) {
                format!("line {i} end")
            } else {
                format!("line {i}")
            }
            .len() as u64
        };
        let w = log
            .window(u64::MAX, n(89) + n(88) + n(87), None)
            .expect("window");
        assert_eq!((w.records, w.truncated_by), (3, Some("bytes")));
        let w = log
            .window(u64::MAX, n(89) + n(88) + n(87) - 1, None)
            .expect("window");
        assert_eq!((w.records, w.truncated_by), (2, Some("bytes")));
    }

    #[test]
    fn a_line_of_the_other_stream_between_pieces_is_kept_and_not_mixed() {
        // containerd writes stdout and stderr from two tasks: a stderr line can land
        // between the pieces of a long stdout line. Built, not recorded.
        let rec = |s: u32, stream: &str, tag: &str, text: &str| {
            format!("2026-12-04T10:00:{s:02}.5Z {stream} {tag} {text}\n")
        };
        let interleaved = rec(1, "stdout", "P", "aaa ")
            + &rec(2, "stdout", "P", "bbb ")
            + &rec(3, "stderr", "F", "to stderr")
            + &rec(4, "stdout", "F", "end")
            + &rec(5, "stderr", "P", "err piece ")
            + &rec(6, "stdout", "F", "whole")
            + &rec(7, "stderr", "F", "err end");
        let want = [
            "stdout aaa bbb ",
            "stderr to stderr",
            "stdout end",
            "stderr err piece ",
            "stdout whole",
            "stderr err end",
        ];
        let text_of = |l: &String| l.split_once(' ').map(|(_, t)| t.to_string()).unwrap();
        let dir = tempfile::tempdir().expect("tempdir");
        // Plain: the whole file, then every cap, from the end.
        let cur = dir.path().join("0.log");
        std::fs::write(&cur, &interleaved).expect("w");
        let log = CriLog::open(&cur).expect("open");
        let w = log.window(u64::MAX, u64::MAX, None).expect("window");
        assert_eq!(w.records, 6);
        let all: Vec<String> = lines_of(&log, w).iter().map(text_of).collect();
        assert_eq!(all, want);
        for n in 1..=6u64 {
            let w = log.window(n, u64::MAX, None).expect("window");
            let got: Vec<String> = lines_of(&log, w).iter().map(text_of).collect();
            assert_eq!(got, want[6 - n as usize..], "cap {n}");
        }
        // The same records in a gzip rotation under a current file: counted alike.
        let dir = tempfile::tempdir().expect("tempdir");
        let cur = dir.path().join("0.log");
        gzip(&dir.path().join("0.log.20261204-100000.gz"), &interleaved);
        std::fs::write(&cur, rec(8, "stdout", "F", "newest")).expect("w");
        let log = CriLog::open(&cur).expect("open");
        for n in 2..=7u64 {
            let w = log.window(n, u64::MAX, None).expect("window");
            let got: Vec<String> = lines_of(&log, w).iter().map(text_of).collect();
            let mut expect: Vec<String> = want[7 - n as usize..]
                .iter()
                .map(|s| s.to_string())
                .collect();
            expect.push("stdout newest".into());
            assert_eq!(got, expect, "cap {n}");
        }
    }

    #[test]
    fn bad_files_say_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cur = dir.path().join("0.log");
        std::fs::write(&cur, "not a cri line\n").expect("w");
        let log = CriLog::open(&cur).expect("open");
        let e = log.window(10, u64::MAX, None).expect_err("corrupt");
        assert!(e.to_string().contains("not a CRI log record"), "{e}");
        // A rotation named .gz that is not gzip.
        std::fs::write(&cur, lines(0, 2)).expect("w");
        std::fs::write(dir.path().join("0.log.20261204-100000.gz"), "plain").expect("w");
        let log = CriLog::open(&cur).expect("open");
        assert_eq!(log.window(2, u64::MAX, None).expect("window").records, 2);
        assert!(log.window(3, u64::MAX, None).is_err());
        // No file at all.
        assert!(matches!(
            CriLog::open(&dir.path().join("x/0.log")),
            Err(Unusable::Open { .. })
        ));
    }
}
