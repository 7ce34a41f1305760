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
//! The window (the newest `--log-lines`, newer than `--since`, fitting `--log-bytes`) is
//! found and read by [`super::logwindow`], bounded in memory whatever the file size.
//! Anything unexpected (a compressed rotation inside the window, a line that is not
//! json-file JSON, a file replaced while opening) returns [`Unusable`], and the
//! collector reads that log through the Engine API instead.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::logwindow::{Format, Log, Parsed, Part, rotated_meanwhile};
pub use super::logwindow::{Line, MAX_LINE, Unusable, Window};

/// Most rotated files looked at.
const MAX_PARTS: usize = 1000;

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

/// Docker's `json-file` format: one JSON record a line.
pub struct JsonFile;

impl Format for JsonFile {
    const NAME: &'static str = "json-file";

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
            partial: false,
        })
    }
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

/// An opened json-file log (the current file and its uncompressed rotations).
pub type JsonLog = Log<JsonFile>;

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
        let open = |path: &Path| Part::open(path, false);
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
        if rotated_meanwhile(&parts, log_path) {
            return Ok(None);
        }
        Ok(Some(JsonLog::new(parts, older_compressed)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::logwindow::{BLOCK, lines_of};
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
        let lines = lines_of(&log, w);
        assert_eq!(lines.len(), 120);
        assert_eq!(lines[0], "2026-11-26T05:02:10.500000000Z stdout line 130");
        assert_eq!(lines[119], "2026-11-26T05:04:09.500000000Z stderr line 249");

        let w = log.window(1000, u64::MAX, None).expect("window");
        assert_eq!((w.records, w.truncated_by), (250, None));
        let lines = lines_of(&log, w);
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
        assert_eq!(lines_of(&log, w).len(), 10);
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
            lines_of(&log, w),
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
        let lines = lines_of(&log, w);
        for (i, l) in lines.iter().enumerate() {
            assert!(
                l.ends_with(&format!(" {i} {}", "y".repeat(i % 700))),
                "line {i}"
            );
        }
    }
}
