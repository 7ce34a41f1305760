//! `rcdiag-agent schedule` and `rcdiag-agent snapshots list`, driven as a user (or
//! systemd) drives them: the real binary, short intervals, real signals, the folder
//! inspected afterwards. Snapshots against the test peers (the private Docker Engine and
//! the mockupdb replay server) check N snapshots, retention, status.json, rcdiag.prom
//! (parsed by a strict parser of the Prometheus text format written here) and the
//! bundles themselves (opened, decrypted, signature pinned). A Docker socket that
//! accepts and never answers makes snapshots slow on purpose: SIGTERM during one, and
//! ticks that come while one runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rcdiag_bundle::{Bundle, Identity, NodeKey, OpenOptions, TrustStatus, TrustedSigners};
use serde_json::Value;

use common::{HungSocket, bundle_host};

const AGENT: &str = env!("CARGO_BIN_EXE_rcdiag-agent");

// ------------------------------------------------------------------- helpers

/// A running `rcdiag-agent schedule`, its stderr read line by line (every line must be
/// a JSON object: stderr is a pipe, so the log format is JSON).
struct Sched {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    raw: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Sched {
    /// Waits up to `secs` for the exit, which must be `code` (its stderr shown if not).
    fn expect_exit(&mut self, secs: u64, code: i32) {
        let st = self.wait(Duration::from_secs(secs));
        assert_eq!(st.code(), Some(code), "{}", self.stderr());
    }

    /// `schedule` with [`plain`] folders and `args`.
    fn plain(dir: &Path, state: &Path, args: &[&str]) -> Self {
        Self::start(&[&plain(dir, state)[..], args].concat())
    }

    /// One `--once --only host` snapshot, which must exit 0.
    fn once_host(dir: &Path, state: &Path) -> Self {
        let mut s = Self::plain(dir, state, &["--once", "--only", "host"]);
        s.expect_exit(30, 0);
        s
    }

    /// The files of the `snapshot_deleted` events, in order.
    fn deleted(&self) -> Vec<String> {
        self.events("snapshot_deleted")
            .iter()
            .map(|d| d["file"].as_str().expect("file").to_string())
            .collect()
    }

    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(AGENT)
            .arg("schedule")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rcdiag-agent schedule");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (l, r) = (lines.clone(), raw.clone());
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                r.lock().expect("lock").push(line.clone());
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    l.lock().expect("lock").push(v);
                }
            }
        });
        Self {
            child,
            lines,
            raw,
            reader: Some(reader),
        }
    }

    fn events(&self, event: &str) -> Vec<Value> {
        self.lines
            .lock()
            .expect("lock")
            .iter()
            .filter(|v| v["event"] == event)
            .cloned()
            .collect()
    }

    fn wait_event(&self, event: &str, timeout: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            if let Some(v) = self.events(event).into_iter().next() {
                return v;
            }
            assert!(
                t0.elapsed() < timeout,
                "no {event} event within {timeout:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{sig} failed");
    }

    /// Waits for the exit; checks that every stderr line is a structured JSON log line.
    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                if let Some(r) = self.reader.take() {
                    r.join().expect("reader thread");
                }
                let raw = self.raw.lock().expect("lock").clone();
                for line in &raw {
                    let v: Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
                    for key in ["timestamp", "level", "event", "message"] {
                        assert!(v[key].is_string(), "log line without {key}: {line}");
                    }
                    assert!(
                        v["timestamp"]
                            .as_str()
                            .and_then(|t| t.parse::<Timestamp>().ok())
                            .is_some(),
                        "{line}"
                    );
                }
                return st;
            }
            if t0.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "rcdiag-agent schedule did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        self.raw.lock().expect("lock").join("\n")
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--dir DIR --state-dir STATE --config /dev/null`: a scheduler of its own folders.
fn folders<'a>(dir: &'a Path, state: &'a Path) -> [&'a str; 6] {
    [
        "--dir",
        dir.to_str().expect("utf-8"),
        "--state-dir",
        state.to_str().expect("utf-8"),
        "--config",
        "/dev/null",
    ]
}

/// `folders` and `--no-encrypt`: a plain scheduler of its own folders.
fn plain<'a>(dir: &'a Path, state: &'a Path) -> Vec<&'a str> {
    [&folders(dir, state)[..], &["--no-encrypt"]].concat()
}

/// A temporary folder, and the paths (not created) of its `snapshots` (or `name`)
/// and `state` folders.
fn temp_folders(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join(name);
    let state = tmp.path().join("state");
    (tmp, dir, state)
}

/// `--only host,docker --docker-host URI --timeout T`: a Docker collector that waits on
/// `uri` (a [`HungSocket`]) until the timeout.
fn hung_docker<'a>(uri: &'a str, timeout: &'a str) -> [&'a str; 6] {
    [
        "--only",
        "host,docker",
        "--docker-host",
        uri,
        "--timeout",
        timeout,
    ]
}

/// The file name of a `snapshot_written` event's bundle.
fn bundle_name(written: &Value) -> String {
    name_of(written["bundle"].as_str().expect("bundle"))
}

/// The files in `dir` whose names end with `suffix`, sorted.
fn files_ending(dir: &Path, suffix: &str) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|f| f.ends_with(suffix))
        .collect()
}

/// Runs `rcdiag-agent ARGS` to its end.
fn agent<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(AGENT).args(args).output().expect("run")
}

/// Runs `rcdiag-agent ARGS`, which must succeed (its stderr shown if not).
fn agent_ok<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = agent(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `rcdiag-agent ARGS`, which must exit with `code`; returns its stderr.
fn agent_fails<I, S>(args: I, code: i32) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = agent(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn name_of(path: &str) -> String {
    Path::new(path)
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

fn ts(v: &Value) -> Timestamp {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

fn snapshots_list(dir: &Path, json: bool) -> String {
    let mut cmd = Command::new(AGENT);
    cmd.args(["snapshots", "list"]).arg(dir);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("run snapshots list");
    assert!(
        out.status.success(),
        "snapshots list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

// ------------------------------------------- a strict Prometheus text-format parser

/// One metric family of the text exposition format 0.0.4.
#[derive(Debug, Default)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<(BTreeMap<String, String>, f64)>,
}

fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) && !s.is_empty() => s
            .parse::<f64>()
            .map_err(|e| format!("bad value {s:?}: {e}")),
        _ => Err(format!("bad value {s:?}")),
    }
}

/// Parses `text` strictly: HELP and TYPE at most once per family and before its
/// samples, families contiguous, valid metric and label names, quoted label values
/// with only `\\`, `\"` and `\n` escapes, float values, no duplicate series, a final
/// newline. Also requires (stricter than the format) a HELP and a TYPE for every family.
fn parse_prometheus(text: &str) -> Result<BTreeMap<String, Family>, String> {
    if !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let mut fams: BTreeMap<String, Family> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut series = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, tail) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next(),
            );
            if kw != "HELP" && kw != "TYPE" {
                continue;
            }
            if !valid_metric_name(name) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            let fam = fams.entry(name.to_string()).or_default();
            if !fam.samples.is_empty() {
                return Err(at(format!("{kw} after samples of {name}")));
            }
            if kw == "HELP" {
                if fam.help.replace(tail.unwrap_or("").to_string()).is_some() {
                    return Err(at("second HELP".into()));
                }
            } else {
                let t = tail.unwrap_or("");
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                    return Err(at(format!("bad TYPE {t:?}")));
                }
                if fam.kind.replace(t.to_string()).is_some() {
                    return Err(at("second TYPE".into()));
                }
            }
            continue;
        }
        let c: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < c.len() && c[i] != '{' && c[i] != ' ' {
            i += 1;
        }
        let name: String = c[..i].iter().collect();
        if !valid_metric_name(&name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let mut labels = BTreeMap::new();
        if c.get(i) == Some(&'{') {
            i += 1;
            loop {
                if c.get(i) == Some(&'}') {
                    i += 1;
                    break;
                }
                let start = i;
                while i < c.len() && c[i] != '=' {
                    i += 1;
                }
                let lname: String = c[start..i].iter().collect();
                if !valid_label_name(&lname) {
                    return Err(at(format!("bad label name {lname:?}")));
                }
                if c.get(i) != Some(&'=') || c.get(i + 1) != Some(&'"') {
                    return Err(at("expected =\"".into()));
                }
                i += 2;
                let mut value = String::new();
                loop {
                    match c.get(i) {
                        Some('\\') => {
                            match c.get(i + 1) {
                                Some('\\') => value.push('\\'),
                                Some('"') => value.push('"'),
                                Some('n') => value.push('\n'),
                                other => return Err(at(format!("bad escape {other:?}"))),
                            }
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        None => return Err(at("unterminated label value".into())),
                        Some(ch) => {
                            value.push(*ch);
                            i += 1;
                        }
                    }
                }
                if labels.insert(lname.clone(), value).is_some() {
                    return Err(at(format!("label {lname} twice")));
                }
                match c.get(i) {
                    Some(',') => i += 1,
                    Some('}') => {}
                    other => {
                        return Err(at(format!("expected , or }} after a label, got {other:?}")));
                    }
                }
            }
        }
        let rest: String = c[i..].iter().collect();
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("expected a space before the value".into()))?;
        let name = name.as_str();
        let mut parts = rest.split(' ');
        let value = parse_value(parts.next().unwrap_or("")).map_err(at)?;
        if let Some(tsv) = parts.next() {
            tsv.parse::<i64>()
                .map_err(|_| at(format!("bad timestamp {tsv:?}")))?;
        }
        if parts.next().is_some() {
            return Err(at("trailing text".into()));
        }
        let family = fams
            .get(name)
            .map(|_| name.to_string())
            .ok_or_else(|| at(format!("sample of {name} without HELP/TYPE")))?;
        if order.last() != Some(&family) {
            if order.contains(&family) {
                return Err(at(format!("samples of {family} are not contiguous")));
            }
            order.push(family.clone());
        }
        if !series.insert(format!("{name}{labels:?}")) {
            return Err(at("duplicate series".into()));
        }
        let fam = fams.get_mut(&family).ok_or_else(|| at("family".into()))?;
        if fam.kind.is_none() {
            return Err(at(format!("sample of {name} before its TYPE")));
        }
        fam.samples.push((labels, value));
    }
    for (name, f) in &fams {
        if f.help.is_none() || f.kind.is_none() {
            return Err(format!("family {name} lacks HELP or TYPE"));
        }
    }
    Ok(fams)
}

fn metric(fams: &BTreeMap<String, Family>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let f = fams.get(name).unwrap_or_else(|| panic!("no metric {name}"));
    f.samples
        .iter()
        .find(|(l, _)| *l == want)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no {name}{want:?}"))
}

fn read_metrics(dir: &Path) -> BTreeMap<String, Family> {
    let text = std::fs::read_to_string(dir.join("rcdiag.prom")).expect("rcdiag.prom");
    parse_prometheus(&text).unwrap_or_else(|e| panic!("rcdiag.prom does not parse: {e}\n{text}"))
}

#[test]
fn the_prometheus_parser_is_strict() {
    let good = "# HELP a_b x\n# TYPE a_b gauge\na_b{l=\"v\\\"q\\\\\\n\",m=\"2\"} 1.5\na_b 2 1700000000000\n";
    let f = parse_prometheus(good).expect("parses");
    assert_eq!(metric(&f, "a_b", &[("l", "v\"q\\\n"), ("m", "2")]), 1.5);
    assert_eq!(metric(&f, "a_b", &[]), 2.0);
    for bad in [
        "# TYPE a gauge\na 1",                                 // no final newline
        "a 1\n",                                               // no HELP/TYPE
        "# HELP a x\n# TYPE a gauge\na one\n",                 // value
        "# HELP a x\n# TYPE a gauge\na{l=\"x} 1\n",            // unterminated
        "# HELP a x\n# TYPE a gauge\na{1l=\"x\"} 1\n",         // label name
        "# HELP a x\n# TYPE a gauge\na{l=\"\\t\"} 1\n",        // escape
        "# HELP a x\n# TYPE a gauge\na 1\na 2\n",              // duplicate series
        "# HELP a x\n# TYPE a gauge\n# TYPE a counter\na 1\n", // TYPE twice
        "# HELP a x\n# TYPE a bogus\na 1\n",                   // TYPE
        "# HELP a x\n# TYPE a gauge\na 1\n# HELP a y\n",       // HELP after samples
        "# HELP 1a x\n# TYPE 1a gauge\n1a 1\n",                // metric name
        "# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\na{x=\"1\"} 1\nb 1\na 2\n", // not contiguous
        "# HELP a x\n# TYPE a gauge\na 1 2 3\n", // trailing
    ] {
        assert!(parse_prometheus(bad).is_err(), "accepted: {bad:?}");
    }
}

// ----------------------------------------------------------------------- tests

/// Four snapshots every 2 s against the test peers (every collector: host, the private
/// Docker Engine, its logs, the mockupdb MongoDB 8.0 replica set and the Rocket.Chat
/// collections on it), encrypted to a generated support key, `--keep 2`.
#[test]
fn snapshots_retention_status_and_metrics_against_the_peers() {
    let Some(docker) = common::require_peer("RCDIAG_TEST_DOCKER_HOST") else {
        return;
    };
    let Some(mongo) = common::require_peer("RCDIAG_TEST_MOCKUPDB_URI_V8_0_REPLSET") else {
        return;
    };
    let (tmp, dir, state) = temp_folders("snapshots");
    std::fs::create_dir(&dir).expect("mkdir");
    let key = rcdiag_bundle::generate_support_key();
    let idfile = tmp.path().join("support.key");
    std::fs::write(&idfile, &key.identity_file).expect("write identity");
    // Files the scheduler did not write: never deleted, whatever their names.
    let decoys = [
        (
            "rcdiag-otherhost-20200101T000000Z.rcdiag".to_string(),
            "another node's bundle",
        ),
        (
            format!("rcdiag-{}-20200101T000000Z.rcdiag.zip", bundle_host()),
            "a bundle from `collect -o DIR`",
        ),
        ("notes.txt".to_string(), "notes"),
    ];
    for (name, body) in &decoys {
        std::fs::write(dir.join(name), body).expect("write decoy");
    }
    let t0 = Instant::now();
    let mut s = Sched::start(
        &[
            &folders(&dir, &state)[..],
            &[
                "--every",
                "2s",
                "--count",
                "4",
                "--keep",
                "2",
                "-r",
                &key.recipient,
                "--only",
                "host,docker,logs,mongodb,rocketchat",
                "--docker-host",
                &docker,
                "--mongodb-uri",
                &mongo,
                "--timeout",
                "20s",
            ],
        ]
        .concat(),
    );
    let st = s.wait(Duration::from_secs(90));
    let elapsed = t0.elapsed();
    assert_eq!(st.code(), Some(0), "stderr:\n{}", s.stderr());
    eprintln!("4 snapshots every 2s took {elapsed:?}");

    let written = s.events("snapshot_written");
    assert_eq!(written.len(), 4, "{}", s.stderr());
    let paths: Vec<String> = written
        .iter()
        .map(|w| w["bundle"].as_str().expect("bundle").to_string())
        .collect();
    for w in &written {
        assert_eq!(w["outcome"], "ok", "{w}");
        assert_eq!(w["failed_collectors"], serde_json::json!([]));
    }
    let names: Vec<String> = paths.iter().map(|p| name_of(p)).collect();
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>().len(),
        4,
        "four distinct bundles: {names:?}"
    );
    for n in &names {
        let parsed = rcdiag_agent::snapshots::parse_bundle_name(n)
            .unwrap_or_else(|| panic!("standard name: {n}"));
        assert!(parsed.encrypted && parsed.host == bundle_host(), "{n}");
    }
    // Ticks 2 s apart: the snapshots started about 2 s apart.
    let starts: Vec<Timestamp> = written.iter().map(|w| ts(&w["started_at"])).collect();
    for pair in starts.windows(2) {
        let gap = pair[0].duration_until(pair[1]).as_secs_f64();
        assert!((1.5..3.5).contains(&gap), "snapshots {gap} s apart");
    }

    // Exactly the two newest remain, plus every file it did not write.
    let mut want: BTreeSet<String> = [".rcdiag-snapshots.json", "status.json", "rcdiag.prom"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.extend(names[2..].iter().cloned());
    want.extend(decoys.iter().map(|d| d.0.clone()));
    assert_eq!(files(&dir), want);
    for (name, body) in &decoys {
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).expect("decoy"),
            *body,
            "{name} was changed"
        );
    }
    assert_eq!(s.deleted(), names[..2], "the two oldest, in order");

    let ledger = read_json(&dir.join(".rcdiag-snapshots.json"));
    let in_ledger: Vec<&str> = ledger["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|e| e["file"].as_str().expect("file"))
        .collect();
    assert_eq!(
        in_ledger,
        names[2..].iter().map(String::as_str).collect::<Vec<_>>()
    );

    // status.json
    let sizes: Vec<u64> = names[2..]
        .iter()
        .map(|n| std::fs::metadata(dir.join(n)).expect("stat").len())
        .collect();
    let status = read_json(&dir.join("status.json"));
    assert_eq!(status["format"], "rcdiag-schedule-status/1");
    assert_eq!(status["state"], "stopped");
    assert_eq!(status["stopped_by"], "count reached");
    assert_eq!(status["schedule"], "every 2s");
    let last = &status["last_run"];
    assert_eq!(last["outcome"], "ok");
    assert_eq!(last["bundle"]["path"], paths[3].as_str());
    assert_eq!(last["bundle"]["bytes"], sizes[1]);
    assert_eq!(last["bundle"]["encrypted"], true);
    let outcomes: BTreeMap<&str, &str> = last["collectors"]
        .as_array()
        .expect("collectors")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name"),
                c["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ("host", "ok"),
            ("docker", "ok"),
            ("logs", "ok"),
            ("mongodb", "ok"),
            ("rocketchat", "ok"),
            // Deselected by --only (and there is no cluster nor CRI runtime here):
            // recorded as skipped.
            ("kubernetes", "skipped"),
            ("cri", "skipped"),
        ])
    );
    assert_eq!(status["last_success"]["bundle"], paths[3].as_str());
    assert_eq!(status["retention"]["kept"], 2);
    assert_eq!(status["retention"]["kept_bytes"], sizes.iter().sum::<u64>());
    assert_eq!(status["retention"]["keep"], 2);
    assert_eq!(status["counters"]["started"], 4);
    assert_eq!(status["counters"]["ok"], 4);
    assert_eq!(status["counters"]["ticks_skipped"], 0);

    // rcdiag.prom
    let m = read_metrics(&dir);
    assert_eq!(metric(&m, "rcdiag_bundles_kept", &[]), 2.0);
    assert_eq!(
        metric(&m, "rcdiag_bundle_bytes", &[]),
        sizes.iter().sum::<u64>() as f64
    );
    let last_success = metric(&m, "rcdiag_last_success_timestamp_seconds", &[]);
    assert_eq!(
        last_success,
        status["last_success"]["timestamp_seconds"]
            .as_f64()
            .expect("seconds")
    );
    let finished = ts(&written[3]["finished_at"]).as_millisecond() as f64 / 1000.0;
    assert!(
        (last_success - finished).abs() < 0.01,
        "{last_success} vs {finished}"
    );
    let dur = metric(&m, "rcdiag_last_duration_seconds", &[]);
    assert!(
        dur > 0.0 && dur == last["duration_seconds"].as_f64().expect("duration"),
        "{dur}"
    );
    for c in ["host", "docker", "logs", "mongodb", "rocketchat"] {
        assert_eq!(
            metric(&m, "rcdiag_collector_failures", &[("collector", c)]),
            0.0,
            "{c}"
        );
    }
    assert_eq!(metric(&m, "rcdiag_last_run_success", &[]), 1.0);
    assert_eq!(
        m["rcdiag_ticks_skipped_total"].kind.as_deref(),
        Some("counter")
    );
    for g in [
        "rcdiag_last_success_timestamp_seconds",
        "rcdiag_last_duration_seconds",
        "rcdiag_collector_failures",
        "rcdiag_bundles_kept",
        "rcdiag_bundle_bytes",
    ] {
        assert_eq!(m[g].kind.as_deref(), Some("gauge"), "{g}");
    }

    // The bundles open with the support key, and are signed by this node's key.
    let node = NodeKey::load(&state.join(rcdiag_bundle::NODE_KEY_FILE)).expect("node key");
    let trusted = TrustedSigners::parse(
        &format!("{} {}\n", bundle_host(), node.public_key_openssh()),
        "test",
    )
    .expect("allowed signers");
    let ids = Identity::load_file(&idfile).expect("identity");
    for n in &names[2..] {
        let opts = OpenOptions {
            identities: &ids,
            trusted: Some(&trusted),
            require_trusted: true,
            ..OpenOptions::default()
        };
        let mut b = Bundle::open(&dir.join(n), &opts).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert!(b.is_encrypted());
        assert!(
            matches!(b.trust(), TrustStatus::Trusted { .. }),
            "{:?}",
            b.trust()
        );
        b.verify_contents().unwrap_or_else(|e| panic!("{n}: {e}"));
        assert!(
            b.manifest().collectors.iter().all(|c| c.status.as_str()
                == if c.name == "kubernetes" || c.name == "cri" {
                    "skipped"
                } else {
                    "ok"
                }),
            "{n}"
        );
    }

    // snapshots list: both kept, ok, collectors; the files it did not write marked so.
    let text = snapshots_list(&dir, false);
    for n in &names[2..] {
        let line = text
            .lines()
            .find(|l| l.ends_with(n.as_str()))
            .unwrap_or_else(|| panic!("{n} not listed:\n{text}"));
        assert!(
            line.contains(" ok ") && line.contains("docker=ok") && line.contains("mongodb=ok"),
            "{line}"
        );
    }
    for n in &names[..2] {
        assert!(!text.contains(n.as_str()), "deleted {n} listed:\n{text}");
    }
    for (d, _) in &decoys[..2] {
        let line = text
            .lines()
            .find(|l| l.ends_with(d.as_str()))
            .unwrap_or_else(|| panic!("{d} not listed:\n{text}"));
        assert!(line.contains("not written by schedule"), "{line}");
    }
    assert!(!text.contains("notes.txt"));
    assert!(text.contains("scheduler: stopped (every 2s"), "{text}");
    let json: Value = serde_json::from_str(&snapshots_list(&dir, true)).expect("json");
    let rows = json["snapshots"].as_array().expect("rows");
    assert_eq!(rows.len(), 4);
    let managed: Vec<&str> = rows
        .iter()
        .filter(|r| r["managed"] == true)
        .map(|r| r["file"].as_str().expect("file"))
        .collect();
    assert_eq!(
        managed,
        names[2..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        rows.iter()
            .filter(|r| r["managed"] == true)
            .all(|r| r["outcome"] == "ok"
                && r["collectors"].as_array().is_some_and(|c| c.len() == 7))
    );
}

/// `--max-age` and `--max-total`: after each run, what is kept is exactly what the rules
/// give for the times and sizes the scheduler logged.
#[test]
fn retention_by_age_and_by_total_size_keeps_exactly_what_the_rules_say() {
    // By age: snapshots 2 s apart, --max-age 3s: at the last retention the two oldest
    // are 4 and 6 s old.
    let (tmp, dir, state) = temp_folders("by-age");
    let mut s = Sched::plain(
        &dir,
        &state,
        &[
            "--every",
            "2s",
            "--count",
            "4",
            "--max-age",
            "3s",
            "--jitter",
            "400ms",
            "--only",
            "host",
        ],
    );
    s.expect_exit(60, 0);
    let written = s.events("snapshot_written");
    assert_eq!(written.len(), 4);
    // --jitter 400ms: each snapshot starts 0-400 ms after its scheduled time.
    let delays: Vec<f64> = s
        .events("snapshot_started")
        .iter()
        .map(|e| {
            ts(&e["scheduled_for"])
                .duration_until(ts(&e["timestamp"]))
                .as_secs_f64()
        })
        .collect();
    assert_eq!(delays.len(), 4);
    // The bound itself is a unit test (random_jitter); here: applied, never early.
    assert!(
        delays.iter().all(|d| *d >= -0.01),
        "a tick fired early: {delays:?}"
    );
    assert!(
        delays.iter().any(|d| *d > 0.001),
        "no jitter at all: {delays:?}"
    );
    let retention = s.events("retention");
    let at = ts(&retention.last().expect("retention event")["timestamp"]);
    // The rule: kept when (retention time - snapshot start) <= 3 s. The event is logged
    // a few ms after the time retention used; the snapshots are 2 s +- 0.4 s apart.
    let mut expected: Vec<String> = written
        .iter()
        .filter(|w| ts(&w["started_at"]).duration_until(at).as_secs_f64() <= 3.0)
        .map(bundle_name)
        .collect();
    expected.sort();
    let kept = files_ending(&dir, ".rcdiag.zip");
    assert_eq!(kept, expected, "{}", s.stderr());
    // 2 s apart (+ jitter): the first is 6 s old at the last retention, the newest new.
    let first = bundle_name(&written[0]);
    let newest = bundle_name(&written[3]);
    assert!(!kept.contains(&first) && kept.contains(&newest), "{kept:?}");
    for d in s.events("snapshot_deleted") {
        assert_eq!(d["reason"], "older than --max-age 3s");
    }
    assert_eq!(
        read_json(&dir.join("status.json"))["retention"]["kept"],
        kept.len()
    );

    // By total size: the newest whose sizes add up to at most 7000 bytes.
    let dir = tmp.path().join("by-size");
    let textfile = tmp.path().join("textfile");
    std::fs::create_dir(&textfile).expect("mkdir");
    let mut s = Sched::plain(
        &dir,
        &state,
        &[
            "--every",
            "1s",
            "--count",
            "4",
            "--max-total",
            "7000",
            "--textfile-dir",
            textfile.to_str().expect("utf-8"),
            "--only",
            "host",
        ],
    );
    s.expect_exit(60, 0);
    let written = s.events("snapshot_written");
    assert_eq!(written.len(), 4);
    let mut expected = Vec::new();
    let mut total = 0;
    for w in written.iter().rev() {
        let b = w["bytes"].as_u64().expect("bytes");
        if total + b > 7000 && !expected.is_empty() {
            break;
        }
        total += b;
        expected.push(bundle_name(w));
    }
    expected.sort();
    let kept = files_ending(&dir, ".rcdiag.zip");
    assert_eq!(kept, expected, "{}", s.stderr());
    assert!(
        kept.len() < 4,
        "four host bundles are more than 7000 bytes: {}",
        s.stderr()
    );
    let m = read_metrics(&dir);
    assert_eq!(metric(&m, "rcdiag_bundles_kept", &[]), kept.len() as f64);
    let on_disk: u64 = kept
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).expect("stat").len())
        .sum();
    assert_eq!(metric(&m, "rcdiag_bundle_bytes", &[]), on_disk as f64);
    assert!(on_disk <= 7000 || kept.len() == 1);
    // --textfile-dir: the same metrics, for node_exporter.
    assert_eq!(
        std::fs::read(textfile.join("rcdiag.prom")).expect("textfile copy"),
        std::fs::read(dir.join("rcdiag.prom")).expect("rcdiag.prom")
    );
    assert_eq!(
        files(&textfile).len(),
        1,
        "no temp file left in the textfile folder"
    );
}

/// A good snapshot, then (after a restart, so the ledger carries over) two degraded ones
/// with `--keep 1`: the newest and the newest good survive; the failure streak shows in
/// the metrics.
#[test]
fn the_newest_good_snapshot_survives_retention_across_a_restart() {
    let (_tmp, dir, state) = temp_folders("snapshots");
    let s = Sched::once_host(&dir, &state);
    let good = bundle_name(&s.events("snapshot_written")[0]);

    let hung = HungSocket::new();
    let uri = hung.uri();
    let mut s = Sched::plain(
        &dir,
        &state,
        &[
            &["--every", "1s", "--count", "2", "--keep", "1"][..],
            &hung_docker(&uri, "1s"),
        ]
        .concat(),
    );
    assert_eq!(
        s.wait(Duration::from_secs(30)).code(),
        Some(3),
        "degraded snapshots exit 3: {}",
        s.stderr()
    );
    let written = s.events("snapshot_written");
    assert_eq!(written.len(), 2);
    assert!(
        written.iter().all(|w| w["outcome"] == "degraded"
            && w["failed_collectors"] == serde_json::json!(["docker"])),
        "{written:?}"
    );
    let newest = bundle_name(&written[1]);
    let middle = bundle_name(&written[0]);
    let kept: BTreeSet<String> = files_ending(&dir, ".zip").into_iter().collect();
    assert_eq!(kept, BTreeSet::from([good.clone(), newest.clone()]));
    assert_eq!(s.deleted(), [middle]);
    let status = read_json(&dir.join("status.json"));
    assert_eq!(status["retention"]["protected"], good.as_str());
    assert_eq!(status["last_run"]["outcome"], "degraded");
    assert_eq!(status["consecutive_failures"]["docker"], 2);
    let m = read_metrics(&dir);
    assert_eq!(
        metric(&m, "rcdiag_collector_failures", &[("collector", "docker")]),
        2.0
    );
    assert_eq!(
        metric(&m, "rcdiag_collector_failures", &[("collector", "host")]),
        0.0
    );
    assert_eq!(metric(&m, "rcdiag_bundles_kept", &[]), 2.0);
    let list = snapshots_list(&dir, false);
    assert!(
        list.lines()
            .any(|l| l.ends_with(&good) && l.contains(" ok ")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.ends_with(&newest) && l.contains("degraded") && l.contains("docker=")),
        "{list}"
    );
}

/// SIGTERM while a snapshot hangs on a Docker Engine that never answers: the scheduler
/// stops at once, exit 0, and the folder holds only what was there plus status files.
#[test]
fn sigterm_during_a_snapshot_leaves_a_clean_folder() {
    let (_tmp, dir, state) = temp_folders("snapshots");
    Sched::once_host(&dir, &state);
    let before = files(&dir);
    let hung = HungSocket::new();
    let uri = hung.uri();
    let mut s = Sched::plain(
        &dir,
        &state,
        &[&["--every", "1h"][..], &hung_docker(&uri, "60s")].concat(),
    );
    s.wait_event("snapshot_started", Duration::from_secs(10));
    // The bundle writer's temp file exists while the snapshot runs.
    let t0 = Instant::now();
    while !files(&dir)
        .iter()
        .any(|f| f.starts_with(".rcdiag-") && f.ends_with(".tmp"))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no temp file appeared: {:?}",
            files(&dir)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let t_kill = Instant::now();
    s.signal("TERM");
    let st = s.wait(Duration::from_secs(15));
    let stop = t_kill.elapsed();
    eprintln!("stopped {stop:?} after SIGTERM");
    assert_eq!(st.code(), Some(0), "{}", s.stderr());
    // run::run waits up to 5 s for the aborted collectors to let go of the bundle
    // writer before it returns (the temp file is gone either way, see the folder below).
    assert!(stop < Duration::from_secs(2), "took {stop:?} to stop");
    assert_eq!(
        files(&dir),
        before,
        "the folder is as before the interrupted snapshot"
    );
    assert!(s.events("snapshot_written").is_empty());
    assert_eq!(s.events("snapshot_interrupted").len(), 1, "{}", s.stderr());
    assert_eq!(s.events("schedule_stopped")[0]["stopped_by"], "SIGTERM");
    let status = read_json(&dir.join("status.json"));
    assert_eq!(status["state"], "stopped");
    assert_eq!(status["stopped_by"], "SIGTERM");
    assert_eq!(status["last_run"]["outcome"], "interrupted");
    assert_eq!(status["retention"]["kept"], 1);
    let m = read_metrics(&dir);
    assert_eq!(metric(&m, "rcdiag_last_run_success", &[]), 0.0);
    assert_eq!(metric(&m, "rcdiag_bundles_kept", &[]), 1.0);
}

/// Snapshots of ~3 s with a 1 s interval: the ticks in between are skipped and logged,
/// and no two snapshots ever run at once.
#[test]
fn ticks_never_overlap_and_skipped_ticks_are_logged() {
    let (_tmp, dir, state) = temp_folders("snapshots");
    let hung = HungSocket::new();
    let uri = hung.uri();
    let mut s = Sched::plain(
        &dir,
        &state,
        &[
            &["--every", "1s", "--count", "3"][..],
            &hung_docker(&uri, "3s"),
        ]
        .concat(),
    );
    s.expect_exit(60, 3);
    let written = s.events("snapshot_written");
    assert_eq!(written.len(), 3, "{}", s.stderr());
    assert_eq!(s.events("snapshot_started").len(), 3);
    let spans: Vec<(Timestamp, Timestamp)> = written
        .iter()
        .map(|w| (ts(&w["started_at"]), ts(&w["finished_at"])))
        .collect();
    for (a, b) in spans.iter().zip(spans.iter().skip(1)) {
        assert!(
            b.0 >= a.1,
            "a snapshot started at {} while the previous ran until {}",
            b.0,
            a.1
        );
    }
    for (a, b) in &spans {
        assert!(
            a.duration_until(*b).as_secs_f64() > 0.9,
            "the hung Docker Engine makes each snapshot slow"
        );
    }
    let skipped = s.events("tick_skipped");
    assert!(
        skipped.len() >= 2,
        "ticks during ~3 s snapshots must be skipped: {}",
        s.stderr()
    );
    for k in &skipped {
        let at = ts(&k["timestamp"]);
        let since = ts(&k["running_since"]);
        assert!(
            spans
                .iter()
                .any(|(a, b)| since <= *a && at >= *a && at <= *b),
            "skipped tick at {at} outside any snapshot"
        );
    }
    let status = read_json(&dir.join("status.json"));
    assert_eq!(status["counters"]["ticks_skipped"], skipped.len() as u64);
    let m = read_metrics(&dir);
    assert_eq!(
        metric(&m, "rcdiag_ticks_skipped_total", &[]),
        skipped.len() as f64
    );
    assert_eq!(
        metric(&m, "rcdiag_collector_failures", &[("collector", "docker")]),
        3.0
    );
    // The manifests agree: each bundle was created after the previous one finished.
    let mut created: Vec<Timestamp> = Vec::new();
    for w in &written {
        let b = Bundle::open(
            Path::new(w["bundle"].as_str().expect("bundle")),
            &OpenOptions::default(),
        )
        .expect("open");
        created.push(b.manifest().created_at.parse().expect("created_at"));
    }
    // created_at has whole seconds, finished_at milliseconds: compare whole seconds.
    for (i, c) in created.iter().enumerate().skip(1) {
        assert!(
            c.as_second() >= spans[i - 1].1.as_second(),
            "bundle {i} created before the previous snapshot finished"
        );
    }
}

#[test]
fn a_second_scheduler_on_the_same_folder_is_refused() {
    let (_tmp, dir, state) = temp_folders("snapshots");
    let args = [&plain(&dir, &state)[..], &["--only", "host"]].concat();
    let mut a = Sched::start(&[&["--cron", "CRON_TZ=UTC 0 0 1 1 *"][..], &args].concat());
    let started = a.wait_event("schedule_started", Duration::from_secs(10));
    assert!(
        started["next_run"]
            .as_str()
            .is_some_and(|t| t.ends_with("-01-01T00:00:00Z")),
        "{started}"
    );
    let err = agent_fails([&["schedule", "--once"][..], &args].concat(), 1);
    assert!(
        err.contains("another rcdiag-agent schedule is already writing into")
            && err.contains("--dir"),
        "{err}"
    );
    a.signal("INT");
    let t0 = Instant::now();
    assert_eq!(a.wait(Duration::from_secs(10)).code(), Some(0));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "a waiting scheduler stops at once"
    );
    let status = read_json(&dir.join("status.json"));
    assert_eq!(
        (status["state"].as_str(), status["stopped_by"].as_str()),
        (Some("stopped"), Some("SIGINT"))
    );
    assert!(status["last_run"].is_null());
    assert_eq!(
        files(&dir),
        BTreeSet::from(["status.json".to_string(), "rcdiag.prom".to_string()])
    );
    let m = read_metrics(&dir);
    assert_eq!(
        metric(&m, "rcdiag_last_success_timestamp_seconds", &[]),
        0.0
    );
}

#[test]
fn invalid_schedules_are_usage_errors_that_say_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("never-created");
    let d = dir.to_str().expect("utf-8");
    let key = rcdiag_bundle::generate_support_key();
    // (flags, with support's key?, what the error says); every case also gets --dir.
    let cases: &[(&[&str], bool, &str)] = &[
        (&[], true, "--every"),
        (
            &["--every", "1h", "--cron", "0 3 * * *"],
            true,
            "cannot be used with",
        ),
        (&["--every", "500ms"], true, "the shortest interval is 1s"),
        (
            &["--cron", "0 3 * *"],
            true,
            "expected 5 (minute hour day-of-month month day-of-week)",
        ),
        (
            &["--cron", "0 25 * * *"],
            true,
            "hour field: \"25\" is outside 0-23",
        ),
        (
            &["--every", "1h", "--keep", "0"],
            true,
            "--keep 0 would keep nothing",
        ),
        (
            &["--every", "1h", "--max-total", "lots"],
            true,
            "--max-total",
        ),
        (
            &["--every", "1m", "--jitter", "2m"],
            true,
            "must be shorter than --every",
        ),
        (&["--once", "--count", "2"], true, "cannot be used with"),
        (&["--every", "1h"], false, "no recipient"),
        (
            &["--every", "1h", "--only", "hots"],
            true,
            "unknown collector",
        ),
    ];
    for &(flags, with_key, want) in cases {
        let mut args = flags.to_vec();
        args.extend(["--dir", d]);
        if with_key {
            args.extend(["-r", &key.recipient]);
        }
        let out = Command::new(AGENT)
            .arg("schedule")
            .args(&args)
            .args(["--config", "/dev/null"])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in: {err}");
    }
    assert!(!dir.exists(), "a usage error creates nothing");
    // Folders that do not exist: errors that say which and what to do.
    let state = tmp.path().join("state");
    let err = agent_fails(
        [
            "schedule",
            "--once",
            "--config",
            "/dev/null",
            "--no-encrypt",
            "--only",
            "host",
            "--dir",
            d,
            "--textfile-dir",
            "/nonexistent/textfile",
            "--state-dir",
            state.to_str().expect("utf-8"),
        ],
        1,
    );
    assert!(
        err.contains("--textfile-dir /nonexistent/textfile does not exist: create it"),
        "{err}"
    );
    // The folder named is the textfile folder, not the snapshots folder, and only once.
    assert!(!err.contains("snapshots folder"), "{err}");
    assert_eq!(err.matches("does not exist").count(), 1, "{err}");
    let err = agent_fails(["snapshots", "list", "/nonexistent/snapshots"], 1);
    assert!(
        err.contains("is not a folder: pass the --dir given to `rcdiag-agent schedule`"),
        "{err}"
    );
}

#[test]
fn dry_run_shows_the_schedule_and_the_next_cron_times_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("snapshots");
    let key = rcdiag_bundle::generate_support_key();
    let state = tmp.path().join("state");
    let out = agent_ok(
        [
            &["schedule", "--cron", "CRON_TZ=UTC */5 * * * *", "--dry-run"][..],
            &folders(&dir, &state),
            &["-r", &key.recipient],
        ]
        .concat(),
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.starts_with("rcdiag-agent schedule --dry-run: nothing will be written."),
        "{text}"
    );
    assert!(
        text.contains("schedule: cron \"*/5 * * * *\" (UTC)"),
        "{text}"
    );
    assert!(text.contains("retention: keep 24 (default)"), "{text}");
    let next = text
        .lines()
        .find_map(|l| l.strip_prefix("next runs: "))
        .expect("next runs line");
    let times: Vec<Timestamp> = next.split(", ").map(|t| t.parse().expect("time")).collect();
    assert_eq!(times.len(), 3);
    for (i, t) in times.iter().enumerate() {
        assert_eq!(t.as_second() % 300, 0, "{t} is not on a 5-minute boundary");
        if i > 0 {
            assert_eq!(times[i - 1].duration_until(*t).as_secs(), 300);
        }
    }
    assert!(!dir.exists() && !state.exists(), "--dry-run writes nothing");
}

/// `key new` leaves a record of the key change; the scheduler's first snapshot records
/// it (as `collect` does) and removes it, the next snapshot does not repeat it.
#[test]
fn the_first_snapshot_after_key_new_records_the_key_change() {
    let (_tmp, dir, state) = temp_folders("snapshots");
    let old = NodeKey::load_or_create(&state).expect("key").fingerprint();
    agent_ok([
        OsStr::new("key"),
        OsStr::new("new"),
        OsStr::new("--state-dir"),
        state.as_os_str(),
    ]);
    let record = state.join("node_key_change.json");
    assert!(record.exists());
    let mut s = Sched::plain(
        &dir,
        &state,
        &["--every", "1s", "--count", "2", "--only", "host"],
    );
    s.expect_exit(60, 0);
    let written = s.events("snapshot_written");
    assert_eq!(written.len(), 2, "{}", s.stderr());
    let labels: Vec<Option<String>> = written
        .iter()
        .map(|w| {
            let n = bundle_name(w);
            let b = Bundle::open(&dir.join(&n), &OpenOptions::default())
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            b.manifest().node.labels.get("node_key_change").cloned()
        })
        .collect();
    assert_eq!(
        labels,
        vec![Some(format!("new key, replacing {old}")), None],
        "{}",
        s.stderr()
    );
    assert!(!record.exists(), "removed once a bundle has it");
}
