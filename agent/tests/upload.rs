//! `rcdiag-agent upload` and `collect --upload` against the real upload peer of
//! `scripts/test-env` (Debian's nginx over HTTPS with a test CA, its DAV PUT folder and a
//! small Python backend that fails twice): the uploaded file is byte-identical, the
//! checksum headers are right, 5xx are retried, a refused link keeps the file and says to
//! ask support for a new one, a stalled server is cut, plain bundles are refused, and the
//! link's query string (its signature) never appears in the agent's output.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{age_file, for_upload_peers, require_peer, sha256_hex};

/// What the tests put in each link's query string: it must never be printed.
const SECRET: &str = "X-Amz-Signature=f00dfeedSECRETc0ffee";

struct Peer {
    base: String,
    ca: String,
    root: PathBuf,
}

fn peer() -> Option<Peer> {
    let base = require_peer("RCDIAG_TEST_UPLOAD_URL")?;
    let ca = require_peer("RCDIAG_TEST_UPLOAD_CA")?;
    let root = PathBuf::from(require_peer("RCDIAG_TEST_UPLOAD_ROOT")?);
    Some(Peer { base, ca, root })
}

impl Peer {
    /// `upload FILE --to TO --ca-file <the peer's CA>`.
    fn upload_args<'a>(&'a self, file: &'a Path, to: &'a str) -> Vec<&'a str> {
        vec![
            "upload",
            file.to_str().unwrap(),
            "--to",
            to,
            "--ca-file",
            &self.ca,
        ]
    }

    /// `rcdiag-agent upload FILE --to TO --ca-file <the peer's CA> EXTRA...`.
    fn upload(&self, file: &Path, to: &str, extra: &[&str]) -> Output {
        let mut args = self.upload_args(file, to);
        args.extend_from_slice(extra);
        agent(&args)
    }

    /// [`Peer::upload`], and how long it took.
    fn upload_timed(&self, file: &Path, to: &str, extra: &[&str]) -> (Output, Duration) {
        let t = Instant::now();
        let out = self.upload(file, to, extra);
        (out, t.elapsed())
    }

    /// A link to `path` (under the peer), with the secret query string.
    fn link(&self, path: &str) -> String {
        format!("{}/{path}?{SECRET}", self.base)
    }
}

/// The agent, with short retry delays and no proxy from the caller's environment.
fn agent_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"));
    for_upload_peers(c.args(args));
    c
}

fn agent(args: &[&str]) -> Output {
    agent_cmd(args).output().expect("run rcdiag-agent")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Stdout and stderr, after checking the secret is in neither.
/// [`outputs`] of a run that must succeed (both shown if not).
fn succeeds(out: &Output) -> (String, String) {
    let (o, e) = outputs(out);
    assert!(out.status.success(), "{o}{e}");
    (o, e)
}

/// [`outputs`] of a run that must exit with `code` (both shown if not).
fn exits(out: &Output, code: i32) -> (String, String) {
    let (o, e) = outputs(out);
    assert_eq!(out.status.code(), Some(code), "{o}{e}");
    (o, e)
}

fn outputs(out: &Output) -> (String, String) {
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    for s in [&o, &e] {
        assert!(
            !s.contains("f00dfeedSECRET") && !s.contains("X-Amz-Signature"),
            "the query string was printed:\n{s}"
        );
    }
    (o, e)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

#[test]
fn upload_is_byte_identical_and_says_what_went_where() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "node1.rcdiag", 300 * 1024 + 17);
    let folder = unique("same");
    let out = p.upload(&f, &p.link(&format!("upload/{folder}/")), &[]);
    let (o, e) = succeeds(&out);
    let local = std::fs::read(&f).unwrap();
    let remote = std::fs::read(p.root.join("upload").join(&folder).join("node1.rcdiag"))
        .expect("the peer stored the file");
    assert!(
        remote == local,
        "the uploaded file differs from the local one"
    );
    let want = format!(
        "to {}/upload/{folder}/node1.rcdiag ({} bytes, sha256 {})",
        p.base,
        local.len(),
        sha256_hex(&local)
    );
    assert!(o.contains(&want), "stdout lacks {want:?}:\n{o}");
    assert!(e.contains("first try"), "{e}");
    assert_eq!(
        std::fs::read(&f).unwrap(),
        local,
        "the local file is unchanged"
    );
}

#[test]
fn server_errors_are_retried_and_checksums_sent() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "b.rcdiag", 70 * 1024);
    let local = std::fs::read(&f).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = {
        use md5::Digest as _;
        b64.encode(md5::Md5::digest(&local))
    };
    let sha = {
        use sha2::Digest as _;
        b64.encode(sha2::Sha256::digest(&local))
    };
    // The link signs x-amz-checksum-sha256: the header must be sent.
    let signed = unique("signed");
    let link = format!(
        "{}&X-Amz-SignedHeaders=host%3Bx-amz-checksum-sha256",
        p.link(&format!("flaky/{signed}"))
    );
    let out = p.upload(&f, &link, &[]);
    let (_, e) = succeeds(&out);
    assert!(
        e.contains("try 1 of 4 failed: server error HTTP 500"),
        "{e}"
    );
    assert!(e.contains("try 2 of 4 failed"), "{e}");
    assert!(e.contains("(try 3 of 4)"), "{e}");
    let dir = p.root.join("flaky");
    assert!(std::fs::read(dir.join(&signed)).unwrap() == local);
    let h: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{signed}.headers.json"))).unwrap())
            .unwrap();
    assert_eq!(h["content-length"], local.len().to_string(), "{h}");
    assert_eq!(h["content-md5"], md5.as_str(), "{h}");
    assert_eq!(h["x-amz-checksum-sha256"], sha.as_str(), "{h}");
    assert!(h.get("transfer-encoding").is_none(), "not chunked: {h}");

    // Without it in X-Amz-SignedHeaders the header is left out (S3 would refuse an
    // unsigned one only if signed; some servers refuse unknown ones).
    let plain_link = unique("unsigned");
    let out = p.upload(&f, &p.link(&format!("flaky/{plain_link}")), &[]);
    succeeds(&out);
    let h: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(format!("{plain_link}.headers.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(h["content-md5"], md5.as_str(), "{h}");
    assert!(h.get("x-amz-checksum-sha256").is_none(), "{h}");
}

#[test]
fn refused_link_keeps_the_file_and_asks_for_a_new_link() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "b.rcdiag", 5000);
    let before = std::fs::read(&f).unwrap();
    let out = p.upload(&f, &p.link("denied/b.rcdiag"), &[]);
    let (_, e) = exits(&out, 1);
    assert!(
        e.contains("the upload link was refused (HTTP 403")
            && e.contains("ask support for a new upload link")
            && e.contains("the file is kept"),
        "{e}"
    );
    assert!(!e.contains("retrying"), "a 403 is not retried: {e}");
    assert_eq!(
        std::fs::read(&f).unwrap(),
        before,
        "the file is kept as it was"
    );

    for (path, want) in [
        ("missing/b.rcdiag", "does not exist (HTTP 404"),
        ("small/b.rcdiag", "too large (HTTP 413"),
        // An S3-style error reply: its Code is quoted.
        (
            "expired/b.rcdiag",
            "the upload link was refused (HTTP 403, AccessDenied: expired or wrong)",
        ),
        // Not followed: a redirect would send the bundle elsewhere.
        (
            "moved/b.rcdiag",
            "redirects (HTTP 307), which rcdiag does not follow",
        ),
    ] {
        let out = p.upload(&f, &p.link(path), &[]);
        let (o, e) = outputs(&out);
        assert_eq!(out.status.code(), Some(1), "{path}: {o}{e}");
        assert!(e.contains(want), "{path}: {e}");
        assert!(!e.contains("retrying"), "{path} is not retried: {e}");
    }
    assert!(
        !p.root.join("upload/moved").exists(),
        "the redirect was not followed"
    );
}

#[test]
fn stalled_server_is_cut_by_the_stall_timeout() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "b.rcdiag", 5000);
    let (out, took) = p.upload_timed(
        &f,
        &p.link("stall/b.rcdiag"),
        &["--stall-timeout", "1s", "--tries", "2"],
    );
    let (_, e) = exits(&out, 1);
    assert!(
        e.contains("stopped reading or answering for 1s") && e.contains("failed after 2 tries"),
        "{e}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "two 1 s stalls took {took:?}"
    );
    assert!(f.exists());

    // A server that stops reading halfway through the body (nginx passes it on
    // unbuffered to a backend that reads nothing): cut too, partway.
    let big = age_file(tmp.path(), "big.rcdiag", 32 << 20);
    let (out, took) = p.upload_timed(
        &big,
        &p.link("stall-read/big.rcdiag"),
        &["--stall-timeout", "1s", "--tries", "1"],
    );
    let (_, e) = exits(&out, 1);
    assert!(
        e.contains("stopped reading or answering for 1s after")
            && e.contains("of 32.0 MiB")
            && !e.contains("32.0 MiB of 32.0 MiB")
            && e.contains("failed after 1 try"),
        "{e}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");

    // The time limit of an attempt holds even while the stall timeout would wait.
    let (out, took) = p.upload_timed(
        &f,
        &p.link("stall/b.rcdiag"),
        &["--attempt-timeout", "1s", "--tries", "1"],
    );
    let (_, e) = exits(&out, 1);
    assert!(
        e.contains("took longer than its limit of 1s (--attempt-timeout)"),
        "{e}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn untrusted_certificate_and_closed_port_fail_clearly() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "b.rcdiag", 5000);
    let out = agent(&["upload", f.to_str().unwrap(), "--to", &p.link("upload/x/")]);
    let (_, e) = exits(&out, 1);
    assert!(e.contains("not trusted") && e.contains("--ca-file"), "{e}");
    assert!(
        !e.contains("retrying"),
        "a bad certificate is not retried: {e}"
    );

    // A port nothing listens on: connection errors are retried, then reported.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = agent(&[
        "upload",
        f.to_str().unwrap(),
        "--to",
        &format!("https://127.0.0.1:{port}/x.rcdiag?{SECRET}"),
        "--tries",
        "2",
    ]);
    let (_, e) = exits(&out, 1);
    assert!(
        e.contains("could not connect") && e.contains("failed after 2 tries"),
        "{e}"
    );
}

#[test]
fn plain_bundle_needs_allow_plain() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("b.rcdiag.zip");
    std::fs::write(&f, b"PK\x03\x04 not really a zip but it starts like one").unwrap();
    let folder = unique("plain");
    let link = p.link(&format!("upload/{folder}/"));
    let out = p.upload(&f, &link, &[]);
    let (_, e) = exits(&out, 2);
    assert!(
        e.contains("is not encrypted") && e.contains("--allow-plain") && e.contains("seal"),
        "{e}"
    );
    let remote = p.root.join("upload").join(&folder).join("b.rcdiag.zip");
    assert!(!remote.exists(), "nothing is sent");

    let out = p.upload(&f, &link, &["--allow-plain"]);
    let (_, e) = succeeds(&out);
    assert!(
        e.contains("warning") && e.contains("anyone who can read the storage"),
        "{e}"
    );
    assert_eq!(std::fs::read(&remote).unwrap(), std::fs::read(&f).unwrap());
}

#[test]
fn bad_links_and_files_are_refused_before_sending() {
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "a.rcdiag", 100);
    let g = age_file(tmp.path(), "b.rcdiag", 100);
    let junk = tmp.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    // A FIFO nobody writes to: opening it would block.
    let fifo = tmp.path().join("fifo.rcdiag");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_str().unwrap();
    let fs = f.to_str().unwrap();
    for (args, want) in [
        (
            vec![
                "upload",
                fs,
                "--to",
                "http://127.0.0.1:9/x?X-Amz-Signature=s",
            ],
            "must be https://",
        ),
        (
            vec!["upload", fs, "--to", "s3://Bad_Bucket/key"],
            "not a valid bucket name",
        ),
        (
            vec![
                "upload",
                fs,
                g.to_str().unwrap(),
                "--to",
                "https://127.0.0.1:9/one-object?X-Amz-Signature=s",
            ],
            "give one FILE per link",
        ),
        (
            vec![
                "upload",
                junk.to_str().unwrap(),
                "--to",
                "https://127.0.0.1:9/x?X-Amz-Signature=s",
            ],
            "not an rcdiag bundle",
        ),
        (
            vec![
                "upload",
                "/nonexistent/rcdiag-test.rcdiag",
                "--to",
                "https://127.0.0.1:9/x?X-Amz-Signature=s",
            ],
            "No such file",
        ),
        (
            vec![
                "upload",
                fs,
                "--to",
                "https://127.0.0.1:9/x?X-Amz-Signature=s",
                "--ca-file",
                junk.to_str().unwrap(),
            ],
            "--ca-file",
        ),
        (
            vec![
                "upload",
                fs,
                "--to",
                "https://127.0.0.1:9/x?X-Amz-Algorithm=AWS4-HMAC-SHA256",
            ],
            "single quotes",
        ),
        (
            vec!["upload", fifo, "--to", "https://127.0.0.1:9/x?s=1"],
            "not a regular file",
        ),
        (
            vec![
                "upload",
                fs,
                "--to",
                "https://127.0.0.1:9/x?s=1",
                "--ca-file",
                fifo,
            ],
            "--ca-file",
        ),
    ] {
        let out = agent(&args);
        let (o, e) = outputs(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {o}{e}");
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

/// A host-only collect encrypted to a fresh support key, uploaded to `link`.
fn collect_upload(
    dir: &Path,
    recipient: Option<&str>,
    link: &str,
    ca: &str,
    extra: &[&str],
) -> Output {
    let state = dir.join("state");
    let outdir = dir.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    let mut args = vec![
        "collect",
        "--only",
        "host",
        "-q",
        "--state-dir",
        state.to_str().unwrap(),
        "-o",
        outdir.to_str().unwrap(),
        "--upload",
        link,
        "--ca-file",
        ca,
    ];
    if let Some(r) = recipient {
        args.extend_from_slice(&["-r", r]);
    }
    args.extend_from_slice(extra);
    agent(&args)
}

#[test]
fn collect_upload_end_to_end() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = rcdiag_bundle::generate_support_key();
    let folder = unique("collect");
    // A signature parameter the redaction rules do not know: the recorded command line
    // must not carry it either.
    let link = format!(
        "{}&X-Goog-Signature=f00dfeedSECRET2",
        p.link(&format!("upload/{folder}/"))
    );
    let out = collect_upload(tmp.path(), Some(&key.recipient), &link, &p.ca, &[]);
    let (o, e) = succeeds(&out);
    let local = PathBuf::from(o.lines().last().expect("the bundle path").trim());
    assert!(local.exists(), "the bundle is kept after the upload: {o}");
    let name = local.file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with(".rcdiag"), "{name}");
    let remote = p.root.join("upload").join(&folder).join(name);
    assert!(std::fs::read(&remote).unwrap() == std::fs::read(&local).unwrap());
    assert!(
        e.contains(&format!("to {}/upload/{folder}/{name}", p.base)),
        "{e}"
    );
    assert!(
        !e.contains(" sent "),
        "-q drops the upload's progress summary: {e}"
    );
    // Support opens the uploaded copy with its key.
    let idfile = tmp.path().join("support.key");
    std::fs::write(&idfile, &key.identity_file).unwrap();
    let ids = rcdiag_bundle::Identity::load_file(&idfile).unwrap();
    let mut b = rcdiag_bundle::Bundle::open(
        &remote,
        &rcdiag_bundle::OpenOptions {
            identities: &ids,
            ..Default::default()
        },
    )
    .expect("the uploaded bundle opens with the support key");
    assert!(b.is_encrypted());
    assert!(b.entries().iter().any(|e| e.path.starts_with("host/")));
    let names: Vec<String> = b.entries().iter().map(|e| e.path.clone()).collect();
    let run = text(&b.read_bytes("agent/run.json", 1 << 20).unwrap());
    assert!(
        run.contains(&format!("/upload/{folder}/?<query removed>")),
        "{run}"
    );
    for n in names {
        let t = text(&b.read_bytes(&n, 64 << 20).unwrap());
        assert!(
            !t.contains("f00dfeedSECRET"),
            "{n} holds the link's signature"
        );
    }
}

#[test]
fn collect_upload_failure_keeps_the_bundle_and_exits_4() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = rcdiag_bundle::generate_support_key();
    let out = collect_upload(
        tmp.path(),
        Some(&key.recipient),
        &p.link("denied/x/"),
        &p.ca,
        &[],
    );
    let (o, e) = exits(&out, 4);
    assert!(e.contains("ask support for a new upload link"), "{e}");
    let local = PathBuf::from(o.lines().last().expect("the bundle path").trim());
    assert!(local.exists(), "a failed upload never deletes the bundle");
    assert!(
        e.contains(&format!("the bundle is kept at {}", local.display())),
        "{e}"
    );
}

#[test]
fn collect_upload_refuses_plain_before_collecting() {
    let tmp = tempfile::tempdir().unwrap();
    let out = collect_upload(
        tmp.path(),
        None,
        "https://127.0.0.1:9/x/?X-Amz-Signature=s",
        "/nonexistent",
        &["--no-encrypt"],
    );
    let (_, e) = exits(&out, 2);
    assert!(
        e.contains("--no-encrypt") && e.contains("--allow-plain"),
        "{e}"
    );
    let written: Vec<_> = std::fs::read_dir(tmp.path().join("out")).unwrap().collect();
    assert!(written.is_empty(), "nothing is collected: {written:?}");

    // --ca-file alone is a mistake, said before collecting.
    let out = agent(&[
        "collect",
        "--only",
        "host",
        "--no-encrypt",
        "--ca-file",
        "/nonexistent",
        "-o",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    let (_, e) = exits(&out, 2);
    assert!(e.contains("only apply with --upload"), "{e}");

    // --dry-run says where the bundle would go, without the query string.
    let out = agent(&[
        "collect",
        "--dry-run",
        "--only",
        "host",
        "--no-encrypt",
        "--allow-plain",
        "--upload",
        &format!("https://127.0.0.1:9/case/?{SECRET}"),
    ]);
    let (o, _) = succeeds(&out);
    assert!(
        o.contains("upload: PUT to https://127.0.0.1:9/case/"),
        "{o}"
    );
    let written: Vec<_> = std::fs::read_dir(tmp.path().join("out")).unwrap().collect();
    assert!(written.is_empty(), "nothing is written: {written:?}");
}

#[test]
fn sigterm_cuts_the_upload_and_keeps_the_file() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "b.rcdiag", 5000);
    let name = unique("sigterm");
    let seen = p.root.join("stall").join(format!("{name}.seen"));
    let to = p.link(&format!("stall/{name}"));
    let child = agent_cmd(&p.upload_args(&f, &to))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the request has reached the server, the agent is uploading.
    let wait = Instant::now();
    while !seen.exists() && wait.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        seen.exists(),
        "the upload never reached the stalling server"
    );
    let t = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stopped {:?} after SIGTERM",
        t.elapsed()
    );
    let (_, e) = exits(&out, 1);
    assert!(
        e.contains("interrupted by SIGTERM") && e.contains("the file is kept"),
        "{e}"
    );
    assert!(f.exists());
}

/// A minimal HTTP CONNECT proxy on 127.0.0.1 (what HTTPS_PROXY points at): tunnels each
/// connection and records the CONNECT request lines.
fn connect_proxy() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(client) = c else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(client.try_clone().unwrap());
                let mut first = String::new();
                r.read_line(&mut first).unwrap();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                        break;
                    }
                }
                log.lock().unwrap().push(first.trim().to_string());
                let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let Ok(upstream) = std::net::TcpStream::connect(&target) else {
                    return;
                };
                let mut w = client.try_clone().unwrap();
                w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let mut up_r = upstream.try_clone().unwrap();
                let mut down_w = client;
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_r, &mut down_w);
                });
                let mut up_w = upstream;
                let _ = std::io::copy(&mut r, &mut up_w);
                let _ = up_w.shutdown(std::net::Shutdown::Write);
                let _ = t.join();
            });
        }
    });
    (port, seen)
}

#[test]
fn https_proxy_is_used_and_no_proxy_bypasses_it() {
    let Some(p) = peer() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "b.rcdiag", 100 * 1024);
    let (port, seen) = connect_proxy();
    let folder = unique("proxy");
    let to = p.link(&format!("upload/{folder}/"));
    let run = |no_proxy: &str| {
        agent_cmd(&[&p.upload_args(&f, &to)[..], &["--tries", "1"]].concat())
            .env("HTTPS_PROXY", format!("http://127.0.0.1:{port}"))
            .env("NO_PROXY", no_proxy)
            .output()
            .unwrap()
    };
    let out = run("");
    succeeds(&out);
    let hostport = p.base.trim_start_matches("https://").to_string();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![format!("CONNECT {hostport} HTTP/1.1")],
        "the upload went through the proxy"
    );
    let remote = p.root.join("upload").join(&folder).join("b.rcdiag");
    assert!(std::fs::read(&remote).unwrap() == std::fs::read(&f).unwrap());

    let out = run("127.0.0.1");
    succeeds(&out);
    assert_eq!(seen.lock().unwrap().len(), 1, "NO_PROXY bypasses the proxy");
}

/// True when the tool at `path` is there; else a loud skip, or a failure under
/// `RCDIAG_REQUIRE_PEERS=1` (as [`require_peer`]).
fn have_tool(path: &str, package: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    assert!(
        std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{path} is missing but RCDIAG_REQUIRE_PEERS=1: apt-get install {package} (scripts/test-env install)"
    );
    eprintln!("\n*** SKIPPED: {path} is missing (apt-get install {package}) ***\n");
    false
}

#[test]
fn progress_line_on_a_terminal() {
    let Some(p) = peer() else { return };
    if !have_tool("/usr/bin/script", "bsdutils") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = age_file(tmp.path(), "b.rcdiag", 5000);
    // `script` gives the agent a terminal; the stalled location keeps it there for 1 s.
    let cmd = format!(
        "RCDIAG_UPLOAD_BACKOFF=10ms '{}' upload '{}' --to '{}' --ca-file '{}' --stall-timeout 1s --tries 1",
        env!("CARGO_BIN_EXE_rcdiag-agent"),
        f.display(),
        p.link("stall/b.rcdiag"),
        p.ca
    );
    let out = Command::new("/usr/bin/script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let (o, _) = exits(&out, 1);
    assert!(
        o.contains("\r\x1b[2Kupload: b.rcdiag  4.9 KiB of 4.9 KiB  100%"),
        "no live progress line on the terminal:\n{o:?}"
    );
}

#[test]
fn memory_stays_bounded_for_a_large_file() {
    let Some(p) = peer() else { return };
    if !have_tool("/usr/bin/time", "time") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let size = 96 << 20;
    let f = age_file(tmp.path(), "big.rcdiag", size);
    let folder = unique("big");
    let rss = tmp.path().join("rss");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o", rss.to_str().unwrap()])
        .arg(env!("CARGO_BIN_EXE_rcdiag-agent"))
        .args(p.upload_args(&f, &p.link(&format!("upload/{folder}/"))))
        .output()
        .unwrap();
    succeeds(&out);
    let peak_kib: u64 = std::fs::read_to_string(&rss)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's %M");
    let remote = p.root.join("upload").join(&folder).join("big.rcdiag");
    assert_eq!(std::fs::metadata(&remote).unwrap().len(), size as u64);
    assert!(
        std::fs::read(&remote).unwrap() == std::fs::read(&f).unwrap(),
        "the uploaded copy differs"
    );
    let _ = std::fs::remove_file(&remote);
    assert!(
        peak_kib < 48 << 10,
        "a 96 MiB upload peaked at {peak_kib} KiB: the file is not streamed"
    );
}
