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

/// The analyzer binary: this build's, or `RCDIAG_ANALYZER_BIN` (e.g. the release
/// build, for the figures of the README).
fn exe() -> PathBuf {
    std::env::var_os("RCDIAG_ANALYZER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rcdiag-analyzer")))
}

/// A temp folder with a support key, and a node key: what the bundles of a test are
/// encrypted to and signed by.
struct Keys {
    dir: tempfile::TempDir,
    key: fixtures::SupportKey,
    node_key: NodeKey,
}

impl Keys {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = support_key(dir.path());
        Self {
            dir,
            key,
            node_key: NodeKey::generate(),
        }
    }

    /// Writes `node` as `name` in the folder, encrypted to the support key and signed.
    fn write(&self, node: &Node, name: &str) -> PathBuf {
        node.write(
            &self.dir.path().join(name),
            Protect::Age(&self.key.recipient),
            &self.node_key,
        )
    }

    /// The support key's identity file, for `-i`.
    fn id(&self) -> &str {
        self.key.identity.to_str().expect("utf-8")
    }
}

/// `c` (`prlimit`, or a command line ending in it) with `--as=AS_LIMIT --
/// rcdiag-analyzer ARGS`, with no inherited identity or colour.
fn prlimit_analyzer<'a>(c: &'a mut Command, args: &[&str]) -> &'a mut Command {
    c.arg(format!("--as={AS_LIMIT}"))
        .arg("--")
        .arg(exe())
        .args(args)
        .env_remove("RCDIAG_IDENTITY")
        .env("NO_COLOR", "1")
}

/// A manifest's record of collector `name` (started 2026-11-26T05:00:00Z, 1 ms).
fn record(
    name: &str,
    status: rcdiag_bundle::CollectorStatus,
    error: Option<String>,
    files: Vec<String>,
) -> rcdiag_bundle::CollectorRecord {
    rcdiag_bundle::CollectorRecord {
        name: name.into(),
        status,
        started_at: "2026-11-26T05:00:00Z".into(),
        duration_ms: 1,
        error,
        files,
    }
}

/// Runs the analyzer under `prlimit --as`, with no inherited identity or colour;
/// returns its output and how long it took.
fn analyzer(args: &[&str]) -> (Output, Duration) {
    let t = Instant::now();
    let out = prlimit_analyzer(&mut Command::new("prlimit"), args)
        .output()
        .expect("run prlimit rcdiag-analyzer");
    (out, t.elapsed())
}

/// [`analyzer`] under GNU time too: also returns the peak RSS in MiB (None without
/// /usr/bin/time).
fn analyzer_rss(args: &[&str]) -> (Output, Duration, Option<u64>) {
    let Some(time) = tool("time") else {
        let (o, d) = analyzer(args);
        return (o, d, None);
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rss_file = dir.path().join("rss");
    let t = Instant::now();
    let out = prlimit_analyzer(
        Command::new(time)
            .args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg("prlimit"),
        args,
    )
    .output()
    .expect("run time prlimit rcdiag-analyzer");
    let took = t.elapsed();
    let kib: Option<u64> = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()));
    (out, took, kib.map(|k| k / 1024))
}

/// `[{"a":0},...]` of about `bytes` bytes, with enough variety to pass the 200x ratio.
fn object_flood(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 64);
    out.push(b'[');
    let mut i: u64 = 0x2545_f491_4f6c_dd1d;
    while out.len() < bytes {
        i ^= i << 13;
        i ^= i >> 7;
        i ^= i << 17;
        if i.is_multiple_of(16) {
            out.extend_from_slice(format!("{{\"a\":{}}},", i % 1_000_000).as_bytes());
        } else {
            out.extend_from_slice(b"{\"a\":0},");
        }
    }
    out.extend_from_slice(b"{\"a\":0}]");
    out
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Writes a hostile bundle into `dir` (and into `RCDIAG_KEEP_HOSTILE`, when set, to
/// try it by hand).
fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write bundle");
    if let Some(keep) = std::env::var_os("RCDIAG_KEEP_HOSTILE") {
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::write(Path::new(&keep).join(name), data);
    }
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
    let k = Keys::new();
    let (dir, key) = (&k.dir, &k.key);
    let file = write(dir.path(), "stanzas.rcdiag", &age_with_stanzas(10_000));
    let t = Instant::now();
    refused(
        &file,
        &["-i", k.id()],
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
        &["-i", k.id()],
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
    // extract writes nothing (the folder is not even created).
    let out_dir = dir.path().join("x");
    let (out, _) = analyzer(&[
        "extract",
        zip.to_str().expect("utf-8"),
        out_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(!out_dir.exists(), "extract created {}", out_dir.display());
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
                m.collectors.push(record(
                    "logs",
                    rcdiag_bundle::CollectorStatus::Ok,
                    None,
                    (0..20_001).map(|i| format!("logs/{i}.log")).collect(),
                ))
            }),
            "more than 20000 names in collectors[].files",
        ),
        (
            "collector-error",
            Box::new(|m| {
                m.collectors.push(record(
                    "logs\u{1b}[2J",
                    rcdiag_bundle::CollectorStatus::Failed,
                    Some("e".repeat(20_000)),
                    vec![],
                ))
            }),
            "collectors[].error is 20000 bytes",
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
    let k = Keys::new();
    let b = k.write(&Node::healthy("node1", "8.5.0"), "n.rcdiag");
    let (out, _) = analyzer(&["verify", b.to_str().expect("utf-8"), "-i", k.id()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn json_files_full_of_tiny_values_cost_bounded_memory_and_the_batch_is_reported() {
    // Four files of 15 MiB of `{"a":0},` each: as Value trees they would take
    // gigabytes. They are left out with a reason; the batch is still reported.
    let k = Keys::new();
    let good = k.write(&Node::healthy("good1", "8.5.0"), "good.rcdiag");
    let mut evil = Node::healthy("evil1", "8.5.0");
    let flood = object_flood(15 << 20);
    for path in [
        "docker/containers.json",
        "host/host.json",
        "mongodb/serverStatus.json",
        "rocketchat/summary.json",
    ] {
        evil.files.insert(path.to_string(), flood.clone());
    }
    let evil = k.write(&evil, "evil.rcdiag");
    let on_disk = std::fs::metadata(&evil).expect("stat").len();
    eprintln!("hostile JSON bundle: {} KiB on disk", on_disk >> 10);
    for cmd in [&["check", "--keep-going"][..], &["diff"][..]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend([
            good.to_str().expect("utf-8"),
            evil.to_str().expect("utf-8"),
            "-i",
            k.id(),
        ]);
        let (out, took, rss) = analyzer_rss(&args);
        let text = stdout_of(&out);
        eprintln!("{cmd:?}: {took:?}, peak RSS {rss:?} MiB");
        assert!(
            matches!(out.status.code(), Some(0 | 3 | 4 | 5)),
            "{cmd:?}: {}\n{text}",
            stderr_of(&out)
        );
        if cmd[0] == "check" {
            assert!(text.contains("too large to analyze"), "{text}");
            assert!(text.contains("good1") && text.contains("evil1"), "{text}");
        }
        if let Some(mib) = rss {
            assert!(mib < 256, "{cmd:?}: peak RSS {mib} MiB");
        }
        assert!(took < Duration::from_secs(60), "{cmd:?} took {took:?}");
    }
}

#[test]
fn a_keep_going_batch_names_the_hostile_bundles_and_reports_every_other() {
    // RCDIAG_BATCH_BUNDLES=1000 for the benchmark of the README; 40 in CI.
    let n: usize = std::env::var("RCDIAG_BATCH_BUNDLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let k = Keys::new();
    let (dir, node_key) = (&k.dir, &k.node_key);
    let mut paths = Vec::new();
    for i in 0..n {
        paths.push(k.write(
            &Node::healthy(&format!("node{i}"), "8.5.0"),
            &format!("node{i}.rcdiag"),
        ));
    }
    // Hostile ones, spread through the batch: refused ones must be named UNREADABLE.
    let refused_ones = [
        write(dir.path(), "h-stanzas.rcdiag", &age_with_stanzas(10_000)),
        write(dir.path(), "h-overlap.rcdiag.zip", &overlapping(node_key)),
        {
            let data = b"[]";
            let mut e = Raw::new("docker/containers.json", data);
            e.local_name = Some(b"docker/decoy.json".to_vec());
            write(
                dir.path(),
                "h-local-name.rcdiag.zip",
                &signed_zip(node_key, vec![e], &[("docker/containers.json", data)]),
            )
        },
        {
            let (m, s) = signed_manifest(node_key, &[], |m| m.node.hostname = "h".repeat(100_000));
            write(
                dir.path(),
                "h-hostname.rcdiag.zip",
                &zip(&[
                    Raw::new("manifest.json", &m),
                    Raw::new("manifest.json.sig", &s),
                ]),
            )
        },
    ];
    let mut flood = Node::healthy("flood", "8.5.0");
    flood
        .files
        .insert("docker/containers.json".into(), object_flood(15 << 20));
    let flood = k.write(&flood, "h-flood.rcdiag");
    let step = (n / (refused_ones.len() + 1)).max(1);
    for (k, h) in refused_ones.iter().chain([&flood]).enumerate() {
        paths.insert(((k + 1) * step).min(paths.len()), h.clone());
    }
    let mut args = vec!["check", "--keep-going", "--format", "json", "-i"];
    args.push(k.id());
    args.extend(paths.iter().map(|p| p.to_str().expect("utf-8")));
    let (out, took, rss) = analyzer_rss(&args);
    eprintln!(
        "check --keep-going of {} bundles ({} hostile): {took:?}, peak RSS {rss:?} MiB",
        paths.len(),
        refused_ones.len() + 1
    );
    assert!(
        matches!(out.status.code(), Some(3..=5)),
        "{}",
        stderr_of(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let bundles = report["bundles"].as_array().expect("bundles");
    assert_eq!(bundles.len(), paths.len(), "every bundle is in the report");
    for b in bundles {
        let file = b["file"].as_str().unwrap_or("");
        let hostile = refused_ones.iter().any(|h| h.to_str() == Some(file));
        assert_eq!(b["verified"], !hostile, "{b}");
        if hostile {
            assert!(!b["error"].as_str().unwrap_or("").is_empty(), "{b}");
        }
    }
    if let Some(mib) = rss {
        assert!(mib < 512, "peak RSS {mib} MiB");
    }
}

/// `n` entry names `logs/NNNNN-` padded to 500 bytes with letters from a xorshift
/// generator seeded with `seed`, so that compression cannot shrink them away.
fn random_log_names(n: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            let mut name = format!("logs/{i:05}-");
            while name.len() < 500 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                name.push(char::from(b'a' + (state % 26) as u8));
            }
            name
        })
        .collect()
}

#[test]
fn ls_and_verify_of_20000_entries_and_a_manifest_at_its_limit_are_fast() {
    // 20,000 entries (the entry limit) with 500-byte names, each listed in `files`
    // and in one collector's `files`, in a manifest padded to its 32 MiB limit, with
    // names and padding that cannot be compressed away (so the ratio limit holds).
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let names = random_log_names(19_998, 0x1234_5678_9abc_def1u64);
    let entries: Vec<Raw> = names.iter().map(|n| Raw::new(n, b"x")).collect();
    let listed: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let (m, _) = signed_manifest(&key, &listed, |m| {
        m.collectors.push(record(
            "logs",
            rcdiag_bundle::CollectorStatus::Ok,
            None,
            names.clone(),
        ))
    });
    // Grown to the manifest size limit, 32 MiB, exactly.
    let (m, s) = padded_manifest(&key, &m, 32 << 20);
    eprintln!("manifest: {} bytes", m.len());
    assert_eq!(m.len(), 32 << 20);
    let mut all = entries;
    all.push(Raw::new("manifest.json", &m));
    all.push(Raw::new("manifest.json.sig", &s));
    let zip = write(dir.path(), "many.rcdiag.zip", &zip(&all));
    for cmd in ["ls", "verify"] {
        let (out, took, rss) = analyzer_rss(&[cmd, zip.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", stderr_of(&out));
        eprintln!("{cmd} of 20,000 entries: {took:?}, peak RSS {rss:?} MiB");
        let rows = stdout_of(&out)
            .lines()
            .filter(|l| l.contains("logs/"))
            .count();
        assert!(rows >= 19_998, "{cmd}: {rows} rows");
        // A debug build; the release figures are in the README.
        assert!(took < Duration::from_secs(10), "{cmd} took {took:?}");
        if let Some(mib) = rss {
            assert!(mib < 256, "{cmd}: peak RSS {mib} MiB");
        }
    }
}

#[test]
fn bundle_strings_reach_no_terminal_or_pipe_raw() {
    // OSC 52 (clipboard write), a screen clear, an OSC 8 link and BEL in the host
    // name (the grep label) and in a collector name (the ls column); piped output.
    let k = Keys::new();
    let evil =
        "n\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{1b}]8;;https://evil.example\u{1b}\\\u{9b}31mx";
    let mut node = Node::healthy(evil, "8.5.0");
    for c in &mut node.collectors {
        if c.name == "logs" {
            c.name = format!("logs{evil}");
        }
    }
    node.append_log(&[
        "2026-11-25T06:00:00.000000000Z stderr MongoServerSelectionError: \u{1b}[31mboom",
    ]);
    let b = k.write(&node, "n.rcdiag");
    let b = b.to_str().expect("utf-8");
    let id = k.id();
    let runs: Vec<Vec<&str>> = vec![
        vec!["grep", "MongoServerSelectionError", b, "--identity", id],
        vec!["ls", b, "-i", id],
        vec!["verify", b, "-i", id],
        vec!["check", b, "-i", id],
        vec!["diff", b, b, "-i", id],
        vec![
            "cat",
            b,
            "logs/rocketchat-rocketchat-1.log",
            "--escape",
            "-i",
            id,
        ],
        vec!["ls", b, "-i", id, "--format", "json"],
        vec!["verify", b, "-i", id, "--format", "json"],
        vec!["check", b, "-i", id, "--format", "json"],
        vec!["diff", b, b, "-i", id, "--format", "json"],
        vec!["check", b, "-i", id, "--format", "markdown"],
    ];
    for args in runs {
        let (out, _) = analyzer(&args);
        for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.iter().any(|&c| c == 0x1b || c == 0x07)
                    && !bytes.windows(2).any(|w| w == [0xc2, 0x9b]),
                "{args:?} {what} has a raw escape: {}",
                String::from_utf8_lossy(bytes)
            );
        }
        let shown = stdout_of(&out);
        assert!(
            shown.contains("\\u{1b}") || shown.contains("\\u001b"),
            "{args:?} shows it escaped: {shown}"
        );
    }
    // cat without --escape is raw by design (and says so in --help).
    let (out, _) = analyzer(&["cat", b, "logs/rocketchat-rocketchat-1.log", "-i", id]);
    assert!(out.stdout.contains(&0x1b));
    let (help, _) = analyzer(&["cat", "--help"]);
    assert!(stdout_of(&help).contains("RAW") && stdout_of(&help).contains("--escape"));
}

#[test]
fn many_containers_and_images_are_checked_in_bounded_time() {
    // 20,000 containers whose image ids match none of 20,000 images: every lookup of
    // an image by id must not scan all images (that was minutes of checks).
    let k = Keys::new();
    let key = &k.key;
    let mut node = Node::healthy("many", "8.5.0");
    let containers: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            serde_json::json!({
                "name": format!("c{i}"),
                // All Rocket.Chat, each of another version.
                "image": format!("rocketchat/rocket.chat:{}.{}.{}", i / 1000, i % 1000, i % 7),
                "image_id": format!("sha256:{i:064}"),
                "state": "running",
            })
        })
        .collect();
    let images: Vec<serde_json::Value> = (0..20_000)
        .map(|i| serde_json::json!({"id": format!("sha256:x{i:063}"), "repo_tags": []}))
        .collect();
    node.files.insert(
        "docker/containers.json".into(),
        serde_json::to_vec(&containers).expect("json"),
    );
    node.files.insert(
        "docker/images.json".into(),
        serde_json::to_vec(&images).expect("json"),
    );
    let b = k.write(&node, "many.rcdiag");
    if let Some(keep) = std::env::var_os("RCDIAG_KEEP_HOSTILE") {
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::copy(&b, Path::new(&keep).join("many.rcdiag"));
        let _ = std::fs::copy(&key.identity, Path::new(&keep).join("many.key"));
    }
    let (out, took, rss) = analyzer_rss(&["check", b.to_str().expect("utf-8"), "-i", k.id()]);
    eprintln!("check of 20,000 containers and images: {took:?}, peak RSS {rss:?} MiB");
    assert!(
        matches!(out.status.code(), Some(3..=5)),
        "{}",
        stderr_of(&out)
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let text = stdout_of(&out);
    assert!(text.len() < 4 << 20, "report of {} bytes", text.len());
}

#[test]
fn a_local_header_the_central_directory_does_not_list_is_refused() {
    // A streaming reader (bsdtar, `unzip` reading a pipe) would see logs/hidden.log;
    // readers of the central directory would not.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let data = b"a line\n";
    let listed = Raw::new("logs/a.log", data);
    let hidden = Raw::new("logs/hidden.log", b"not in the central directory\n");
    let (m, s) = signed_manifest(&key, &[("logs/a.log", data)], |_| {});
    let (m, s) = (
        Raw::new("manifest.json", &m),
        Raw::new("manifest.json.sig", &s),
    );
    let mut body = Vec::new();
    let a_off = append(&mut body, &listed);
    append(&mut body, &hidden);
    let m_off = append(&mut body, &m);
    let s_off = append(&mut body, &s);
    let zip = write(
        dir.path(),
        "hidden.rcdiag.zip",
        &finish(body, &[(listed, a_off), (m, m_off), (s, s_off)]),
    );
    refused(&zip, &[], &["would not agree", "local file header missing"]);
}

#[test]
fn the_worst_case_within_the_format_limits_stays_under_256_mib() {
    // Everything at once, each near its limit: 20,000 entries with 500-byte names, a
    // manifest of exactly 32 MiB, and four JSON files of 15 MiB of `{"a":0},` (what
    // costs most as values), checked in one run.
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NodeKey::generate();
    let flood = object_flood(15 << 20);
    let floods = [
        "docker/containers.json",
        "host/host.json",
        "mongodb/serverStatus.json",
        "rocketchat/summary.json",
    ];
    let names = random_log_names(19_990, 0x5151_2323_7777_0001u64);
    let mut listed: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    listed.extend(floods.iter().map(|f| (*f, &flood[..])));
    let (m, _) = signed_manifest(&key, &listed, |_| {});
    let (m, s) = padded_manifest(&key, &m, 32 << 20);
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for n in &names {
        zw.start_file(n.as_str(), stored).expect("entry");
        zw.write_all(b"x").expect("write");
    }
    for f in floods {
        zw.start_file(f, deflated).expect("entry");
        zw.write_all(&flood).expect("write");
    }
    zw.start_file("manifest.json", deflated).expect("entry");
    zw.write_all(&m).expect("write");
    zw.start_file("manifest.json.sig", stored).expect("entry");
    zw.write_all(&s).expect("write");
    let bytes = zw.finish().expect("zip").into_inner();
    let zip = write(dir.path(), "worst.rcdiag.zip", &bytes);
    eprintln!("worst case: {} MB on disk", bytes.len() / 1_000_000);
    for cmd in [&["check"][..], &["verify"][..], &["ls"][..]] {
        let mut args = cmd.to_vec();
        args.push(zip.to_str().expect("utf-8"));
        let (out, took, rss) = analyzer_rss(&args);
        eprintln!("{cmd:?} of the worst case: {took:?}, peak RSS {rss:?} MiB");
        assert!(
            matches!(out.status.code(), Some(0 | 3..=5)),
            "{cmd:?}: {}",
            stderr_of(&out)
        );
        if let Some(mib) = rss {
            assert!(mib < 256, "{cmd:?}: peak RSS {mib} MiB");
        }
        assert!(took < Duration::from_secs(30), "{cmd:?} took {took:?}");
    }
}

#[test]
fn many_mounts_and_disks_are_checked_in_bounded_time() {
    // 5,000 Rocket.Chat containers with a mount each, against 20,000 disks.
    let k = Keys::new();
    let mut node = Node::healthy("mounts", "8.5.0");
    let containers: Vec<serde_json::Value> = (0..5_000)
        .map(|i| {
            serde_json::json!({
                "name": format!("rc{i}"),
                "image": "rocketchat/rocket.chat:8.5.0",
                "state": "running",
                "mounts": [{"source": format!("/data/rc{i}/uploads"), "destination": "/app/uploads"}],
            })
        })
        .collect();
    let disks: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            serde_json::json!({
                "mount_point": format!("/mnt/disk{i}"),
                "total_bytes": 1u64 << 40,
                "available_bytes": 1u64 << 39,
            })
        })
        .collect();
    node.files.insert(
        "docker/containers.json".into(),
        serde_json::to_vec(&containers).expect("json"),
    );
    node.edit("host/host.json", |h| {
        h["disks"] = serde_json::Value::Array(disks)
    });
    let b = k.write(&node, "mounts.rcdiag");
    for cmd in ["check", "diff"] {
        let mut args = vec![cmd, b.to_str().expect("utf-8")];
        if cmd == "diff" {
            args.push(b.to_str().expect("utf-8"));
        }
        args.extend(["-i", k.id()]);
        let (out, took, rss) = analyzer_rss(&args);
        eprintln!("{cmd} of 5,000 mounts and 20,000 disks: {took:?}, peak RSS {rss:?} MiB");
        assert!(
            matches!(out.status.code(), Some(0 | 3..=5)),
            "{}",
            stderr_of(&out)
        );
        assert!(took < Duration::from_secs(15), "{cmd} took {took:?}");
    }
}

#[test]
fn list_files_of_tiny_records_cost_bounded_memory_as_typed_structs() {
    // Lists of `{"a":0}` small enough as values but not as the contract's structs
    // (a `docker::Container` is over a kilobyte): the typed form is charged to the
    // same budget, so the larger ones are left out with a reason, the smaller ones
    // read, and the run stays under 256 MiB.
    let k = Keys::new();
    let mut evil = Node::healthy("evil2", "8.5.0");
    let big = object_flood(400 << 10);
    let small = object_flood(40 << 10);
    let mut host = b"{\"processes\":".to_vec();
    host.extend_from_slice(&small);
    host.push(b'}');
    for (path, data) in [
        ("docker/containers.json", &big),
        ("docker/images.json", &big),
        ("logs/index.json", &small),
        ("host/host.json", &host),
    ] {
        evil.files.insert(path.to_string(), data.clone());
    }
    let evil = k.write(&evil, "evil2.rcdiag");
    let (out, took, rss) = analyzer_rss(&[
        "check",
        "--format",
        "json",
        evil.to_str().expect("utf-8"),
        "-i",
        k.id(),
    ]);
    let text = stdout_of(&out);
    eprintln!("typed flood: {took:?}, peak RSS {rss:?} MiB");
    assert!(
        matches!(out.status.code(), Some(0 | 3 | 4 | 5)),
        "{}\n{text}",
        stderr_of(&out)
    );
    assert!(text.contains("docker/containers.json"), "{text}");
    assert!(text.contains("its records take more than"), "{text}");
    if let Some(mib) = rss {
        assert!(mib < 256, "peak RSS {mib} MiB");
    }
    assert!(took < Duration::from_secs(60), "took {took:?}");
}
