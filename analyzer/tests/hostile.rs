//! Hostile bundles against the `rcdiag-analyzer` command line: each one (from
//! `hostile_gen`, validly signed by a test key) is refused or shown safely, with the
//! exit code and a message naming what is wrong, in bounded time and memory (every run
//! is under `prlimit --as`). The zip cases are also read with `unzip` and Python's
//! `zipfile`, to show why they are refused and that what rcdiag accepts, they read the
//! same way.

#[path = "../src/report/fixtures.rs"]
mod fixtures;
mod hostile_gen;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fixtures::{Node, Protect, support_key};
use hostile_gen::*;
use rcdiag_bundle::NodeKey;

/// Address-space limit of every analyzer run here. It bounds what the analyzer may
/// map, threads' stacks included, so it is above the RSS targets.
const AS_LIMIT: &str = "1073741824";

/// Runs the analyzer under `prlimit --as`, with no inherited identity or colour;
/// returns its output and how long it took.
fn analyzer(args: &[&str]) -> (Output, Duration) {
    let t = Instant::now();
    let out = Command::new("prlimit")
        .arg(format!("--as={AS_LIMIT}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_rcdiag-analyzer"))
        .args(args)
        .env_remove("RCDIAG_IDENTITY")
        .env("NO_COLOR", "1")
        .output()
        .expect("run prlimit rcdiag-analyzer");
    (out, t.elapsed())
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write bundle");
    p
}

/// `verify` refuses `bundle` with exit 1, quickly, with every one of `needles` in the message.
fn refused(bundle: &Path, extra: &[&str], needles: &[&str]) -> String {
    let mut args = vec!["verify", bundle.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let (out, took) = analyzer(&args);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{}: {err}", bundle.display());
    for n in needles {
        assert!(err.contains(n), "{}: {n:?} not in: {err}", bundle.display());
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
    err
}

fn tool(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("`{name}` is missing and RCDIAG_REQUIRE_PEERS=1: run `scripts/test-env install`");
    }
    eprintln!("\n*** SKIPPED part of the test: `{name}` is not installed ***\n");
    None
}

/// What Python's `zipfile` sees: `Ok(names)` or `Err(message)`.
fn python_view(zip: &Path) -> Option<Result<Vec<String>, String>> {
    let py = tool("python3")?;
    let out = Command::new(py)
        .arg("-c")
        .arg(
            "import sys, zipfile\n\
             try:\n\
             \x20   z = zipfile.ZipFile(sys.argv[1])\n\
             \x20   for i in z.infolist():\n\
             \x20       z.read(i)\n\
             \x20       print(i.filename)\n\
             except Exception as e:\n\
             \x20   print('ERROR', e)\n",
        )
        .arg(zip)
        .output()
        .expect("run python3");
    let text = stdout_of(&out);
    Some(match text.lines().find(|l| l.starts_with("ERROR")) {
        Some(e) => Err(e.to_string()),
        None => Ok(text.lines().map(str::to_string).collect()),
    })
}

/// What `unzip -Z1` lists, and whether `unzip -t` warned or failed.
fn unzip_view(zip: &Path) -> Option<(Vec<String>, bool)> {
    let unzip = tool("unzip")?;
    let list = Command::new(&unzip)
        .arg("-Z1")
        .arg(zip)
        .output()
        .expect("run unzip");
    let test = Command::new(&unzip)
        .arg("-t")
        .arg(zip)
        .output()
        .expect("run unzip -t");
    let complaints = !test.status.success() || !stderr_of(&test).trim().is_empty();
    Some((
        stdout_of(&list).lines().map(str::to_string).collect(),
        complaints,
    ))
}

#[test]
fn an_age_header_of_10000_stanzas_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = support_key(dir.path());
    let file = write(dir.path(), "stanzas.rcdiag", &age_with_stanzas(10_000));
    let t = Instant::now();
    refused(
        &file,
        &["-i", key.identity.to_str().expect("utf-8")],
        &["age header", "limit", "not made by rcdiag-agent"],
    );
    let ours = t.elapsed();
    // Stock age on the same file, for comparison (it refuses it too: no stanza is ours).
    if let Some(age) = tool("age") {
        let t = Instant::now();
        let out = Command::new(age)
            .args(["-d", "-i"])
            .arg(&key.identity)
            .arg(&file)
            .output()
            .expect("run age");
        let theirs = t.elapsed();
        assert!(!out.status.success());
        eprintln!(
            "10,000 stanzas: rcdiag-analyzer refused it in {ours:?}, stock age took {theirs:?}"
        );
        assert!(
            ours < theirs * 2 + Duration::from_millis(200),
            "rcdiag {ours:?} vs age {theirs:?}"
        );
    }
    // A header just past the byte limit (few stanzas, one huge line) is refused too.
    let mut big = b"age-encryption.org/v1\n-> X25519 ".to_vec();
    big.extend(std::iter::repeat_n(b'A', 70 << 10));
    big.extend_from_slice(b"\n--- AAAA\n");
    let file = write(dir.path(), "big-header.rcdiag", &big);
    refused(
        &file,
        &["-i", key.identity.to_str().expect("utf-8")],
        &["age header is larger than 65536 bytes"],
    );
}

#[test]
fn overlapping_entries_are_refused_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let zip = write(dir.path(), "overlap.rcdiag.zip", &overlapping(&key));
    refused(
        &zip,
        &[],
        &[
            "logs/inner.log",
            "overlaps",
            "logs/outer.log",
            "would not agree",
        ],
    );
    // unzip and Python both read the two entries (Python from the same bytes): an
    // archive of N such entries expands N times past its size.
    if let Some(Ok(names)) = python_view(&zip) {
        assert!(names.contains(&"logs/inner.log".to_string()), "{names:?}");
    }
}

#[test]
fn a_local_name_other_than_the_central_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let data = br#"[{"name":"rc1","image":"rocketchat/rocket.chat:8.5.0"}]"#;
    let mut e = Raw::new("docker/containers.json", data);
    e.local_name = Some(b"docker/decoy.json".to_vec());
    let zip = write(
        dir.path(),
        "local-name.rcdiag.zip",
        &signed_zip(&key, vec![e], &[("docker/containers.json", data)]),
    );
    refused(
        &zip,
        &[],
        &["docker/containers.json", "local header", "would not agree"],
    );
    // Python refuses such a file outright; unzip warns.
    if let Some(view) = python_view(&zip) {
        assert!(view.is_err(), "python read it: {view:?}");
    }
    if let Some((_, complaints)) = unzip_view(&zip) {
        assert!(complaints, "unzip -t said nothing");
    }
}

#[test]
fn a_unicode_path_field_that_renames_the_entry_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let data = br#"[{"name":"rc1","image":"rocketchat/rocket.chat:8.5.0"}]"#;
    for flags in [UTF8_FLAG, 0] {
        let mut e = Raw::new("docker/decoy.json", data);
        e.flags = flags;
        e.extra = unicode_path_field(b"docker/decoy.json", b"docker/containers.json");
        let zip = write(
            dir.path(),
            &format!("upath-{flags}.rcdiag.zip"),
            &signed_zip(&key, vec![e], &[("docker/containers.json", data)]),
        );
        refused(&zip, &[], &["0x7075", "would not agree"]);
        // Python (3.11) ignores the field: it sees the decoy name, where the zip
        // crate alone would have seen docker/containers.json.
        if let Some(Ok(names)) = python_view(&zip) {
            assert!(
                names.contains(&"docker/decoy.json".to_string()),
                "{names:?}"
            );
        }
    }
}

#[test]
fn a_directory_entry_with_data_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let hidden = vec![b'x'; 64 << 10];
    let zip = write(
        dir.path(),
        "dir-data.rcdiag.zip",
        &signed_zip(&key, vec![Raw::new("logs/", &hidden)], &[]),
    );
    refused(&zip, &[], &["\"logs/\"", "directory entry", "65536 bytes"]);
}

#[test]
fn stored_sizes_past_the_archive_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let data = b"hello\n";
    let mut e = Raw::new("logs/a.log", data);
    // A data descriptor lets the local header say nothing; the central directory
    // claims 100 MB stored in a file of a few KB.
    e.flags = DESCRIPTOR_FLAG;
    e.declared_compressed = Some(100 << 20);
    e.declared = Some((100 << 20, crc32(data)));
    let zip = write(
        dir.path(),
        "sizes.rcdiag.zip",
        &signed_zip(&key, vec![e], &[("logs/a.log", data)]),
    );
    let err = refused(&zip, &[], &["would not agree"]);
    assert!(
        err.contains("stored bytes") || err.contains("runs into") || err.contains("overlaps"),
        "{err}"
    );
}

#[test]
fn an_entry_inflating_past_its_record_says_the_bundle_was_altered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let content = b"line one\nline two\nline three, not in the manifest\n";
    let declared = 18u32; // "line one\nline two\n"
    let e = Raw::deflated("logs/a.log", content, declared);
    let zip = write(
        dir.path(),
        "inflate.rcdiag.zip",
        &signed_zip(&key, vec![e], &[("logs/a.log", &content[..18])]),
    );
    let err = refused(
        &zip,
        &[],
        &[
            "entry logs/a.log is larger than its manifest record",
            "altered after it was signed",
        ],
    );
    assert!(!err.contains("authentication"), "{err}");
}

#[test]
fn what_rcdiag_accepts_unzip_and_python_read_the_same_way() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let files: Vec<(&str, &[u8])> = vec![
        ("host/host.json", br#"{"hostname":"node1"}"#),
        ("logs/rc1.log", b"a line\nanother\n"),
        ("docker/containers.json", b"[]"),
    ];
    let entries = files.iter().map(|(n, d)| Raw::new(n, d)).collect();
    let zip = write(
        dir.path(),
        "good.rcdiag.zip",
        &signed_zip(&key, entries, &files),
    );
    let (out, _) = analyzer(&["ls", zip.to_str().expect("utf-8"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ls json");
    let mut ours: Vec<String> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["path"].as_str().expect("path").to_string())
        .collect();
    ours.extend(["manifest.json".to_string(), "manifest.json.sig".to_string()]);
    ours.sort();
    if let Some(view) = python_view(&zip) {
        let mut names = view.expect("python reads it");
        names.sort();
        assert_eq!(names, ours);
    }
    if let Some((mut names, complaints)) = unzip_view(&zip) {
        names.sort();
        assert_eq!(names, ours);
        assert!(!complaints);
    }
    for (name, data) in &files {
        let (out, _) = analyzer(&["cat", zip.to_str().expect("utf-8"), name]);
        assert_eq!(&out.stdout, data, "{name}");
    }
}

#[test]
fn manifest_strings_and_lists_past_their_limits_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    type Tweak = Box<dyn Fn(&mut rcdiag_bundle::Manifest)>;
    let cases: Vec<(&str, Tweak, &str)> = vec![
        (
            "hostname",
            Box::new(|m| m.node.hostname = "h".repeat(300)),
            "node.hostname is 300 bytes, more than the limit of 255",
        ),
        (
            "label",
            Box::new(|m| {
                m.node.labels.insert("case".into(), "c".repeat(10_000));
            }),
            "node.labels value is 10000 bytes",
        ),
        (
            "collector-files",
            Box::new(|m| {
                m.collectors.push(rcdiag_bundle::CollectorRecord {
                    name: "logs".into(),
                    status: rcdiag_bundle::CollectorStatus::Ok,
                    started_at: "2026-11-26T05:00:00Z".into(),
                    duration_ms: 1,
                    error: None,
                    files: (0..20_001).map(|i| format!("logs/{i}.log")).collect(),
                })
            }),
            "more than 20000 names in collectors[].files",
        ),
        (
            "collector-error",
            Box::new(|m| {
                m.collectors.push(rcdiag_bundle::CollectorRecord {
                    name: "logs\u{1b}[2J".into(),
                    status: rcdiag_bundle::CollectorStatus::Failed,
                    started_at: "2026-11-26T05:00:00Z".into(),
                    duration_ms: 1,
                    error: Some("e".repeat(5000)),
                    files: vec![],
                })
            }),
            "collectors[].error is 5000 bytes",
        ),
    ];
    for (name, tweak, needle) in cases {
        let (m, s) = signed_manifest(&key, &[], tweak);
        let zip = write(
            dir.path(),
            &format!("{name}.rcdiag.zip"),
            &zip(&[
                Raw::new("manifest.json", &m),
                Raw::new("manifest.json.sig", &s),
            ]),
        );
        refused(&zip, &[], &[needle, "limit"]);
    }
}

#[test]
fn a_bundle_made_by_the_writer_with_realistic_content_still_passes() {
    // The new zip and manifest checks must not refuse what rcdiag-agent writes.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = support_key(dir.path());
    let node_key = NodeKey::generate();
    let b = Node::healthy("node1", "8.5.0").write(
        &dir.path().join("n.rcdiag"),
        Protect::Age(&key.recipient),
        &node_key,
    );
    let (out, _) = analyzer(&[
        "verify",
        b.to_str().expect("utf-8"),
        "-i",
        key.identity.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}
