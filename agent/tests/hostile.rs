//! The agent on hostile ground, driven as an attacker would: the real binary, as root
//! (CI is root; cases that need it skip loudly otherwise), beside another user's
//! planted links and files, with a forged tool early in `PATH`, options that overflow,
//! a secret only readable from a file, a scheduler killed mid-snapshot and collects
//! started in the same second. Each case asserts the exit code, what was (not) written
//! and the message that says what to do.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rcdiag_bundle::{Bundle, OpenOptions};
use serde_json::Value;

const AGENT: &str = env!("CARGO_BIN_EXE_rcdiag-agent");
/// Another user of the node (`nobody`).
const OTHER_UID: u32 = 65534;

fn is_root() -> bool {
    rcdiag_bundle::safefs::euid() == 0
}

/// `true` when the test can run; a loud SKIPPED line (or a failure under
/// `RCDIAG_REQUIRE_PEERS=1`, as in CI, which runs as root) when not root.
fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{test} needs root (CI runs as root)"
    );
    eprintln!("\n*** SKIPPED {test}: needs root ***\n");
    false
}

fn agent(args: &[&str]) -> Command {
    let mut c = Command::new(AGENT);
    c.args(args)
        .env_remove("RCDIAG_MONGODB_URI")
        .stdin(Stdio::null());
    c
}

/// The stderr of a run that must exit with `code` (shown if not).
fn exits(out: &std::process::Output, code: i32) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn chown(p: &Path, uid: u32) {
    rustix::fs::chownat(
        rustix::fs::CWD,
        p,
        Some(rustix::fs::Uid::from_raw(uid)),
        None,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A root-only file an attacker would like root to overwrite or chmod.
fn victim(dir: &Path) -> PathBuf {
    let v = dir.join("victim");
    std::fs::write(&v, b"root only\n").expect("victim");
    chmod(&v, 0o600);
    v
}

fn assert_untouched(v: &Path) {
    assert_eq!(
        std::fs::read(v).expect("victim"),
        b"root only\n",
        "victim overwritten"
    );
    assert_eq!(
        std::fs::metadata(v).expect("victim").mode() & 0o7777,
        0o600,
        "victim chmod-ed"
    );
}

fn host_only(state: &Path) -> Vec<String> {
    [
        "--config",
        "/dev/null",
        "--no-encrypt",
        "--only",
        "host",
        "-q",
        "--state-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([state.display().to_string()])
    .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn open(path: &Path) -> Bundle {
    Bundle::open(path, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn entry_json(b: &mut Bundle, name: &str) -> Value {
    b.read_json(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn bundles(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".rcdiag.zip"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn options_out_of_range_are_usage_errors_never_panics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().to_str().expect("utf-8");
    let state = tmp.path().join("state");
    let key = rcdiag_bundle::generate_support_key();
    let cases: &[(&[&str], &str)] = &[
        (
            &["collect", "--timeout", "0"],
            "--timeout 0: must be between 1s and 7d",
        ),
        (&["collect", "--timeout", "8d"], "must be between 1s and 7d"),
        (&["collect", "--timeout", "300000000000000d"], "too long"),
        (
            &["collect", "--since", "367d"],
            "--since 367d: must be between 1s and 366d",
        ),
        (
            &["collect", "--log-bytes", "99999999999999999999G"],
            "too large",
        ),
        (
            &["collect", "--log-bytes", "10"],
            "--log-bytes 10: must be between",
        ),
        (&["collect", "--log-lines", "0"], "--log-lines"),
        (&["collect", "-R", "/dev/zero"], "not a regular file"),
        (
            &["schedule", "--dir", d, "--every", "200000000000000d"],
            "too long",
        ),
        (
            &["schedule", "--dir", d, "--every", "367d"],
            "--every 367d: must be between 1s and 366d",
        ),
        (
            &[
                "schedule",
                "--dir",
                d,
                "--every",
                "1h",
                "--max-age",
                "300000000000000d",
            ],
            "too long",
        ),
        (
            &[
                "schedule",
                "--dir",
                d,
                "--every",
                "1h",
                "--max-total",
                "999999999999999999999G",
            ],
            "too large",
        ),
    ];
    for (args, want) in cases {
        let t0 = Instant::now();
        let out = agent(args)
            .args(["--config", "/dev/null", "-r", &key.recipient])
            .arg("--state-dir")
            .arg(&state)
            .output()
            .expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in {err}");
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            t0.elapsed()
        );
    }
    assert!(!state.exists(), "a usage error writes nothing");
}

#[test]
fn planted_links_in_the_snapshot_and_textfile_folders_do_not_redirect_root_writes() {
    if !require_root("planted_links_in_the_snapshot_and_textfile_folders") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let v = victim(tmp.path());
    let dir = tmp.path().join("snapshots");
    let textfile = tmp.path().join("textfile");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::create_dir(&textfile).expect("mkdir");
    chmod(&dir, 0o750);
    chmod(&textfile, 0o755);
    // Links planted at every name the scheduler writes, and at pid-named temp names.
    for name in ["status.json", "rcdiag.prom", ".rcdiag-snapshots.json"] {
        symlink(&v, dir.join(name)).expect("plant");
        chown(&dir.join(name), OTHER_UID);
    }
    symlink(&v, textfile.join("rcdiag.prom")).expect("plant");
    for pid in 1..2000 {
        let _ = symlink(&v, dir.join(format!(".status.json.{pid}.tmp")));
    }
    let state = tmp.path().join("state");
    let mut args = vec!["schedule", "--once", "--dir"];
    let (d, t) = (dir.display().to_string(), textfile.display().to_string());
    args.extend([d.as_str(), "--textfile-dir", t.as_str()]);
    let extra = host_only(&state);
    args.extend(strs(&extra));
    let out = agent(&args).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_untouched(&v);
    for p in [
        dir.join("status.json"),
        dir.join("rcdiag.prom"),
        dir.join(".rcdiag-snapshots.json"),
        textfile.join("rcdiag.prom"),
    ] {
        let m = std::fs::symlink_metadata(&p).expect("written");
        assert!(m.is_file(), "{} is a regular file now", p.display());
    }
    assert_eq!(bundles(&dir).len(), 1);

    // A textfile folder others can write is refused, with the fix, before any write.
    chmod(&textfile, 0o777);
    let out = agent(&args).output().expect("run");
    let err = exits(&out, 1);
    assert!(
        err.contains("writable by other users") && err.contains(&format!("chmod go-w {t}")),
        "{err}"
    );
    assert_eq!(bundles(&dir).len(), 1, "no snapshot taken");
}

#[test]
fn a_planted_or_foreign_state_dir_is_refused_and_never_chmod_ed() {
    if !require_root("a_planted_or_foreign_state_dir_is_refused") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    chmod(&shared, 0o1777);
    let target = tmp.path().join("target");
    std::fs::create_dir(&target).expect("mkdir");
    chmod(&target, 0o755);
    // Another user's link in a sticky shared folder, pointing at a root folder.
    let link = shared.join("state");
    symlink(&target, &link).expect("link");
    chown(&link, OTHER_UID);
    let out = agent(&["key", "show", "--state-dir", link.to_str().expect("utf-8")])
        .output()
        .expect("run");
    let err = exits(&out, 1);
    assert!(
        err.contains("is a symlink") && err.contains("uid 65534"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&target).expect("stat").mode() & 0o7777,
        0o755
    );
    assert_eq!(
        std::fs::read_dir(&target).expect("ls").count(),
        0,
        "no key written"
    );
    // A state dir owned by another user.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).expect("mkdir");
    chmod(&foreign, 0o755);
    chown(&foreign, OTHER_UID);
    let out = agent(&[
        "key",
        "show",
        "--state-dir",
        foreign.to_str().expect("utf-8"),
    ])
    .output()
    .expect("run");
    let err = exits(&out, 1);
    assert!(
        err.contains("owned by uid 65534") && err.contains("chown 0"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&foreign).expect("ls").count(), 0);
    // Another user's key, 0644, reached through their link: refused, never used.
    let own = tmp.path().join("own");
    std::fs::create_dir(&own).expect("mkdir");
    chmod(&own, 0o700);
    let theirs = tmp.path().join("their_key");
    let k = agent(&["key", "show", "--state-dir", own.to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert!(k.status.success(), "{}", text(&k.stderr));
    std::fs::rename(own.join("node_ed25519"), &theirs).expect("move");
    chown(&theirs, OTHER_UID);
    chmod(&theirs, 0o644);
    symlink(&theirs, own.join("node_ed25519")).expect("link");
    let out = agent(&["key", "show", "--state-dir", own.to_str().expect("utf-8")])
        .output()
        .expect("run");
    let err = exits(&out, 1);
    assert!(err.contains("symlink") && out.stdout.is_empty(), "{err}");
}

#[test]
fn external_tools_never_come_from_the_callers_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    let marker = tmp.path().join("ran");
    for tool in ["chronyc", "timedatectl"] {
        let p = bin.join(tool);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho {tool} >> {}\necho '4F524745,forged.example,1,0,0.0,0.0,0,0,0,0,0,0,0,Normal'\n",
                marker.display()
            ),
        )
        .expect("fake tool");
        chmod(&p, 0o755);
    }
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let state = tmp.path().join("state");
    let mut args = vec!["collect", "-o", out_dir.to_str().expect("utf-8")];
    let extra = host_only(&state);
    args.extend(strs(&extra));
    let out = agent(&args).env("PATH", &path).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !marker.exists(),
        "a tool from PATH ran: {:?}",
        std::fs::read_to_string(&marker)
    );
    let b = bundles(&out_dir);
    assert_eq!(b.len(), 1);
    let host = entry_json(&mut open(&b[0]), "host/host.json");
    let clock = host["clock"].to_string();
    assert!(!clock.contains("forged"), "{clock}");
}

#[test]
fn the_mongodb_password_is_read_from_a_private_file_or_the_environment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let f = tmp.path().join("uri");
    std::fs::write(&f, "mongodb://rc:s3cret-pw@db.internal:27017/rocketchat\n").expect("write");
    chmod(&f, 0o644);
    let base = [
        "collect",
        "--dry-run",
        "--config",
        "/dev/null",
        "--no-encrypt",
    ];
    let run = |extra: &[&str], env: Option<&str>| -> Output {
        let mut c = agent(&base);
        c.args(extra).arg("--state-dir").arg(&state);
        if let Some(v) = env {
            c.env("RCDIAG_MONGODB_URI", v);
        }
        c.output().expect("run")
    };
    let fs = f.to_str().expect("utf-8");
    let out = run(&["--mongodb-uri-file", fs], None);
    let err = exits(&out, 2);
    assert!(
        err.contains(&format!("chmod 640 {fs}")) || err.contains(&format!("chmod 600 {fs}")),
        "{err}"
    );
    chmod(&f, 0o600);
    let out = run(&["--mongodb-uri-file", fs], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("db.internal:27017") && !stdout.contains("s3cret-pw"),
        "{stdout}"
    );
    let out = run(&[], Some("mongodb://rc:env-pw@envdb.internal:27017/rc"));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("envdb.internal") && !stdout.contains("env-pw"),
        "{stdout}"
    );
    // A config file holding the password must not be readable by others.
    let cfg = tmp.path().join("agent.toml");
    std::fs::write(&cfg, "mongodb_uri = \"mongodb://rc:cfg-pw@cfgdb/rc\"\n").expect("write");
    chmod(&cfg, 0o644);
    let out = agent(&[
        "collect",
        "--dry-run",
        "--no-encrypt",
        "--config",
        cfg.to_str().expect("utf-8"),
    ])
    .arg("--state-dir")
    .arg(&state)
    .output()
    .expect("run");
    let err = exits(&out, 2);
    assert!(
        err.contains("MongoDB password") && err.contains("chmod 640"),
        "{err}"
    );
    // --help says to prefer them.
    let help = text(&agent(&["collect", "--help"]).output().expect("run").stdout);
    assert!(
        help.contains("--mongodb-uri-file") && help.contains("RCDIAG_MONGODB_URI"),
        "{help}"
    );
}

#[test]
fn collects_started_in_the_same_second_get_distinct_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let state = tmp.path().join("state");
    // The key first, so the runs race only on the bundle name.
    assert!(
        agent(&["key", "show", "--state-dir", state.to_str().expect("utf-8")])
            .output()
            .expect("run")
            .status
            .success()
    );
    let mut args = vec!["collect", "-o", out_dir.to_str().expect("utf-8")];
    let extra = host_only(&state);
    args.extend(strs(&extra));
    let children: Vec<_> = (0..4)
        .map(|_| {
            agent(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let b = bundles(&out_dir);
    assert_eq!(b.len(), 4, "{b:?}");
    for p in &b {
        open(p)
            .verify_contents()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

#[test]
fn an_empty_key_says_what_to_do_and_a_new_key_is_recorded_in_the_bundle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let s = state.to_str().expect("utf-8");
    assert!(
        agent(&["key", "show", "--state-dir", s])
            .output()
            .expect("run")
            .status
            .success()
    );
    std::fs::write(state.join("node_ed25519"), b"").expect("truncate");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let mut args = vec!["collect", "-o", out_dir.to_str().expect("utf-8")];
    let extra = host_only(&state);
    args.extend(strs(&extra));
    let out = agent(&args).output().expect("run");
    let err = exits(&out, 1);
    assert!(
        err.contains("empty") && err.contains("rcdiag-agent key new"),
        "{err}"
    );
    args.push("--new-node-key");
    let out = agent(&args).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let b = bundles(&out_dir);
    assert_eq!(b.len(), 1);
    let mut bundle = open(&b[0]);
    let label = bundle
        .manifest()
        .node
        .labels
        .get("node_key_change")
        .cloned();
    assert!(
        label.is_some_and(|l| l.contains("unusable")),
        "{:?}",
        bundle.manifest().node.labels
    );
    let run = entry_json(&mut bundle, "agent/run.json");
    assert_eq!(run["node_key"]["changed"], true);
    assert!(
        run["node_key"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("empty"),
        "{run}"
    );
}

// ------------------------------------------------------------ hostile Docker Engine

/// What the fake Docker Engine does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Answers like a small engine: one container with a short log.
    Normal,
    /// The container list is 1 GB of JSON (streamed, never buffered by the fake).
    HugeList,
    /// The log is one frame whose header claims 4 GiB, then bytes without end.
    HugeFrame,
    /// The log is one 300 MB line.
    LongLine,
    /// The container list is garbage.
    Garbage,
    /// The log comes a line every 300 ms and never ends.
    Drip,
    /// The log is an endless stream of lines, as fast as the agent reads them.
    Endless,
    /// The container list comes one byte every 100 ms.
    DripList,
    /// The first stats request gets an empty body (as a busy engine sometimes sends),
    /// the next ones a sample.
    EmptyStatsOnce,
    /// Every stats request gets an empty body.
    EmptyStats,
}

const CID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A fake Docker Engine on a unix socket, one thread per connection.
struct FakeEngine {
    uri: String,
    _dir: tempfile::TempDir,
}

impl FakeEngine {
    fn start(mode: Mode) -> Self {
        use std::io::{BufRead, BufReader, Write};
        let dir = tempfile::Builder::new()
            .prefix("rcf")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let path = dir.path().join("docker.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let stats_calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let stats_calls = stats_calls.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(conn.try_clone().expect("clone"));
                    let mut line = String::new();
                    if r.read_line(&mut line).is_err() {
                        return;
                    }
                    let target = line.split(' ').nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let mut w = conn;
                    let path = target.split('?').next().unwrap_or("").to_string();
                    let json = |w: &mut std::os::unix::net::UnixStream, body: &str| {
                        let _ = write!(
                            w,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    };
                    let stream_head = |w: &mut std::os::unix::net::UnixStream, ct: &str| {
                        let _ = write!(
                            w,
                            "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nApi-Version: 1.41\r\nConnection: close\r\n\r\n"
                        );
                    };
                    if path.ends_with("/_ping") {
                        json(&mut w, "OK");
                    } else if path.ends_with("/version") {
                        json(
                            &mut w,
                            r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}"#,
                        );
                    } else if path.ends_with("/containers/json") {
                        match mode {
                            Mode::HugeList => {
                                stream_head(&mut w, "application/json");
                                let item = format!(
                                    r#"{{"Id":"{CID}","Names":["/pad"],"Image":"busybox","State":"running","Labels":{{"pad":"{}"}}}},"#,
                                    "p".repeat(4000)
                                );
                                let _ = w.write_all(b"[");
                                let mut sent = 0usize;
                                while sent < 1 << 30 && w.write_all(item.as_bytes()).is_ok() {
                                    sent += item.len();
                                }
                            }
                            Mode::DripList => {
                                stream_head(&mut w, "application/json");
                                let t0 = Instant::now();
                                while t0.elapsed() < Duration::from_secs(30)
                                    && w.write_all(b" ").is_ok()
                                {
                                    std::thread::sleep(Duration::from_millis(100));
                                }
                            }
                            Mode::Garbage => {
                                stream_head(&mut w, "application/json");
                                let _ = w.write_all(b"\x00\xff{[[not json at all");
                            }
                            _ => json(
                                &mut w,
                                &format!(
                                    r#"[{{"Id":"{CID}","Names":["/app"],"Image":"busybox","State":"running","Labels":{{}}}}]"#
                                ),
                            ),
                        }
                    } else if path.ends_with(&format!("/containers/{CID}/json")) {
                        json(
                            &mut w,
                            &format!(
                                r#"{{"Id":"{CID}","Name":"/app","State":{{"Status":"running","Running":true,"Pid":0}},"Config":{{"Image":"busybox","Env":["A=1"],"Labels":{{}}}},"HostConfig":{{"LogConfig":{{"Type":"local"}}}},"Mounts":[],"NetworkSettings":{{"Networks":{{}}}}}}"#
                            ),
                        );
                    } else if path.ends_with("/logs") {
                        stream_head(&mut w, "application/vnd.docker.raw-stream");
                        let frame = |len: u32| {
                            let mut v = vec![1u8, 0, 0, 0];
                            v.extend_from_slice(&len.to_be_bytes());
                            v
                        };
                        match mode {
                            Mode::HugeFrame => {
                                let _ = w.write_all(&frame(u32::MAX));
                                let chunk = vec![b'x'; 1 << 20];
                                let t0 = Instant::now();
                                while t0.elapsed() < Duration::from_secs(30)
                                    && w.write_all(&chunk).is_ok()
                                {}
                            }
                            Mode::Endless => {
                                let mut block = Vec::new();
                                for i in 0..1000 {
                                    let body = format!(
                                        "2026-01-01T00:00:00.000000000Z endless line {i:04} {}\n",
                                        "z".repeat(150)
                                    );
                                    block.extend_from_slice(&frame(body.len() as u32));
                                    block.extend_from_slice(body.as_bytes());
                                }
                                let t0 = Instant::now();
                                while t0.elapsed() < Duration::from_secs(30)
                                    && w.write_all(&block).is_ok()
                                {}
                            }
                            Mode::Drip => {
                                let t0 = Instant::now();
                                let mut i = 0;
                                while t0.elapsed() < Duration::from_secs(30) {
                                    let body = format!(
                                        "2026-01-01T00:00:{:02}.000000000Z drip {i}\n",
                                        i % 60
                                    );
                                    if w.write_all(&frame(body.len() as u32)).is_err()
                                        || w.write_all(body.as_bytes()).is_err()
                                    {
                                        break;
                                    }
                                    i += 1;
                                    std::thread::sleep(Duration::from_millis(300));
                                }
                            }
                            Mode::LongLine => {
                                let len = 300u32 << 20;
                                let _ = w.write_all(&frame(len + 31));
                                let _ = w.write_all(b"2026-01-01T00:00:00.000000000Z ");
                                let chunk = vec![b'y'; 1 << 20];
                                for _ in 0..300 {
                                    if w.write_all(&chunk).is_err() {
                                        break;
                                    }
                                }
                            }
                            _ => {
                                let body = b"2026-01-01T00:00:00.000000000Z hello from app\n";
                                let _ = w.write_all(&frame(body.len() as u32));
                                let _ = w.write_all(body);
                            }
                        }
                    } else if path.contains("/stats") {
                        let n = stats_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let empty =
                            mode == Mode::EmptyStats || (mode == Mode::EmptyStatsOnce && n == 0);
                        json(&mut w, if empty { "" } else { "{}" });
                    } else if path.ends_with("/info") {
                        json(&mut w, "{}");
                    } else {
                        json(&mut w, "[]");
                    }
                });
            }
        });
        Self {
            uri: format!("unix://{}", path.display()),
            _dir: dir,
        }
    }
}

/// Runs `collect --only ONLY --timeout TIMEOUT --docker-host DOCKER_HOST` (with
/// `RCDIAG_MONGODB_URI` set to `mongodb_uri`, or removed) under `/usr/bin/time` and
/// `prlimit --as` (so a regression fails instead of swapping): exit code, the bundle
/// (opened: exactly one, and nothing else left in the output folder), the peak RSS in
/// KiB and stderr.
fn collect_limited(
    only: &str,
    timeout: &str,
    docker_host: &str,
    mongodb_uri: Option<&str>,
    as_limit: u64,
) -> (Option<i32>, Bundle, u64, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let rss = tmp.path().join("rss");
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={as_limit}"))
        .args(["/usr/bin/time", "-f", "%M", "-o"])
        .arg(&rss)
        .arg(AGENT)
        .args([
            "collect",
            "--config",
            "/dev/null",
            "--no-encrypt",
            "-q",
            "--only",
            only,
            "--timeout",
            timeout,
            "--docker-host",
            docker_host,
            "--state-dir",
        ])
        .arg(tmp.path().join("state"))
        .arg("-o")
        .arg(&out_dir)
        .stdin(Stdio::null());
    match mongodb_uri {
        Some(uri) => cmd.env("RCDIAG_MONGODB_URI", uri),
        None => cmd.env_remove("RCDIAG_MONGODB_URI"),
    };
    let out = cmd.output().expect("run");
    let err = text(&out.stderr);
    let peak: u64 = std::fs::read_to_string(&rss)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no RSS figure; stderr: {err}"));
    let b = bundles(&out_dir);
    assert_eq!(b.len(), 1, "exactly one bundle; stderr: {err}");
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        left.len(),
        1,
        "only the bundle is left (no child file): {left:?}"
    );
    (out.status.code(), open(&b[0]), peak, err)
}

/// `collect --only docker,logs` against `engine`, see [`collect_limited`].
fn collect_against(engine: &FakeEngine, as_limit: u64) -> (Option<i32>, Bundle, u64, String) {
    collect_limited("docker,logs", "6s", &engine.uri, None, as_limit)
}

fn have_time_and_prlimit() -> bool {
    let ok = Path::new("/usr/bin/time").exists()
        && Command::new("prlimit")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() != Ok("1"),
            "the hostile-peer tests need /usr/bin/time (Debian `time`) and prlimit (util-linux): scripts/test-env install"
        );
        eprintln!(
            "\n*** SKIPPED: /usr/bin/time or prlimit missing (scripts/test-env install) ***\n"
        );
    }
    ok
}

/// The address-space limit the agent runs under in these tests (virtual memory:
/// thread stacks and malloc arenas count, so it is well above the resident figures).
const AS_LIMIT: u64 = 2 << 30;
/// The budget over the normal run's peak RSS: the replies in flight are capped at
/// 64 MiB (the default --docker-reply-max), plus 4 MiB for the connections' buffers.
const RSS_BUDGET_KIB: u64 = 68 << 10;

fn status_of<'a>(b: &'a Bundle, name: &str) -> &'a rcdiag_bundle::CollectorRecord {
    b.manifest()
        .collectors
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} record"))
}

#[test]
fn hostile_docker_engines_fail_calls_within_the_memory_budget() {
    if !have_time_and_prlimit() {
        return;
    }
    let normal = FakeEngine::start(Mode::Normal);
    let (code, mut b, base, err) = collect_against(&normal, AS_LIMIT);
    assert_eq!(code, Some(0), "{err}");
    let log =
        String::from_utf8_lossy(&b.read_bytes("logs/app.log", 1 << 20).expect("log")).into_owned();
    assert!(log.contains("hello from app"), "{log}");
    eprintln!("normal: peak RSS {base} KiB");

    let mut figures = vec![format!("normal {base} KiB")];
    for mode in [
        Mode::HugeList,
        Mode::Garbage,
        Mode::HugeFrame,
        Mode::LongLine,
        Mode::Endless,
        Mode::DripList,
    ] {
        let engine = FakeEngine::start(mode);
        let t0 = Instant::now();
        let (code, mut b, peak, err) = collect_against(&engine, AS_LIMIT);
        let took = t0.elapsed();
        figures.push(format!("{mode:?} {peak} KiB in {:.1}s", took.as_secs_f64()));
        assert!(
            peak <= base + RSS_BUDGET_KIB,
            "{mode:?}: peak RSS {peak} KiB is over the normal {base} KiB + 68 MiB"
        );
        match mode {
            Mode::HugeList | Mode::Garbage => {
                assert_eq!(code, Some(3), "{mode:?}: {err}");
                let docker = status_of(&b, "docker");
                let e = docker.error.clone().unwrap_or_default();
                assert!(
                    matches!(
                        docker.status,
                        rcdiag_bundle::CollectorStatus::Failed
                            | rcdiag_bundle::CollectorStatus::Partial
                    ),
                    "{mode:?}: {:?} {e}",
                    docker.status
                );
                if mode == Mode::HugeList {
                    assert!(
                        e.contains("reply too large") && e.contains("--docker-reply-max"),
                        "{e}"
                    );
                }
            }
            Mode::HugeFrame => {
                assert!(matches!(code, Some(0) | Some(3)), "{mode:?}: {err}");
                let logs = status_of(&b, "logs");
                assert!(took < Duration::from_secs(20), "{mode:?} took {took:?}");
                assert!(
                    logs.error.is_some() || logs.status == rcdiag_bundle::CollectorStatus::Ok,
                    "{logs:?}"
                );
            }
            Mode::LongLine => {
                assert!(matches!(code, Some(0) | Some(3)), "{mode:?}: {err}");
                let log =
                    String::from_utf8_lossy(&b.read_bytes("logs/app.log", 1 << 20).expect("log"))
                        .into_owned();
                assert!(
                    log.contains("[rcdiag: line cut at 64 KiB, "),
                    "{}",
                    &log[..log.len().min(200)]
                );
                assert!(log.len() < 200 << 10, "{} bytes", log.len());
            }
            Mode::Endless => {
                assert!(matches!(code, Some(0) | Some(3)), "{mode:?}: {err}");
                assert!(took < Duration::from_secs(8), "{mode:?} took {took:?}");
                let index: Value = b.read_json("logs/index.json").expect("index");
                assert_eq!(index[0]["truncated_by"], "timeout", "{index}");
                let log = b.read_bytes("logs/app.log", 8 << 20).expect("log");
                assert!(
                    log.len() <= 5 << 20 && log.len() > 1 << 20,
                    "{} bytes",
                    log.len()
                );
            }
            Mode::DripList => {
                // Bounded by the collectors' time limit (--timeout 6s), recorded.
                assert_eq!(code, Some(3), "{mode:?}: {err}");
                assert!(took < Duration::from_secs(9), "{mode:?} took {took:?}");
                let docker = status_of(&b, "docker");
                assert!(
                    matches!(
                        docker.status,
                        rcdiag_bundle::CollectorStatus::Timeout
                            | rcdiag_bundle::CollectorStatus::Failed
                    ),
                    "{docker:?}"
                );
            }
            Mode::Normal | Mode::Drip | Mode::EmptyStatsOnce | Mode::EmptyStats => {
                unreachable!()
            }
        }
    }
    eprintln!("peak RSS: {}", figures.join("; "));
}

#[test]
fn an_empty_stats_reply_is_asked_again_once_then_recorded() {
    if !have_time_and_prlimit() {
        return;
    }
    let once = FakeEngine::start(Mode::EmptyStatsOnce);
    let (code, b, _, err) = collect_against(&once, AS_LIMIT);
    assert_eq!(code, Some(0), "one empty reply is retried: {err}");
    assert_eq!(
        status_of(&b, "docker").status,
        rcdiag_bundle::CollectorStatus::Ok
    );
    let always = FakeEngine::start(Mode::EmptyStats);
    let (code, b, _, err) = collect_against(&always, AS_LIMIT);
    assert_eq!(code, Some(3), "{err}");
    let docker = status_of(&b, "docker");
    assert_eq!(docker.status, rcdiag_bundle::CollectorStatus::Partial);
    let e = docker.error.clone().unwrap_or_default();
    assert!(e.contains("the engine sent no stats sample, twice"), "{e}");
}

/// A unix socket that accepts every connection and never answers: a hung Docker Engine.
fn hung_socket(dir: &Path) -> String {
    rcdiag_testkit::HungSocket::in_dir(dir).uri()
}

#[test]
fn after_a_sigkill_the_next_run_cleans_up_and_says_the_previous_one_died() {
    let tmp = tempfile::Builder::new()
        .prefix("rck")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let dir = tmp.path().join("snapshots");
    let state = tmp.path().join("state");
    let hung = hung_socket(tmp.path());
    let d = dir.display().to_string();
    let s = state.display().to_string();
    let mut child = agent(&[
        "schedule",
        "--every",
        "1h",
        "--dir",
        &d,
        "--config",
        "/dev/null",
        "--no-encrypt",
        "--only",
        "host,docker",
        "--timeout",
        "60s",
        "--docker-host",
        &hung,
        "--state-dir",
        &s,
        "--log-format",
        "json",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn");
    // Wait until the snapshot runs (status.json says so) and its temp file exists.
    let t0 = Instant::now();
    let temp = loop {
        let running = std::fs::read(dir.join("status.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|v| v["state"] == "running");
        let temp = std::fs::read_dir(&dir).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.starts_with(".rcdiag-") && n.ends_with(".tmp"))
        });
        if let (true, Some(t)) = (running, temp) {
            break t;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the snapshot never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(
        dir.join(&temp).exists(),
        "the killed run left its temp file"
    );

    let out = agent(&[
        "schedule",
        "--once",
        "--dir",
        &d,
        "--config",
        "/dev/null",
        "--no-encrypt",
        "--only",
        "host",
        "--state-dir",
        &s,
        "--log-format",
        "json",
    ])
    .output()
    .expect("run");
    let err = exits(&out, 0);
    assert!(!dir.join(&temp).exists(), "stale temp file {temp} removed");
    let events: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let removed = events
        .iter()
        .find(|e| e["event"] == "stale_temp_files_removed")
        .unwrap_or_else(|| panic!("no stale_temp_files_removed event: {err}"));
    assert_eq!(removed["files"][0], temp.as_str());
    assert!(
        events.iter().any(|e| e["event"] == "previous_run_died"),
        "{err}"
    );
    let status: Value =
        serde_json::from_slice(&std::fs::read(dir.join("status.json")).expect("status"))
            .expect("json");
    let died = status["previous_run_died"].as_str().unwrap_or_default();
    assert!(died.contains("died during a snapshot"), "{status}");
    assert_eq!(status["state"], "stopped");
    assert_eq!(bundles(&dir).len(), 1);
}

// ------------------------------------------------------------ hostile MongoDB server

/// A MongoDB wire server (OP_MSG) on 127.0.0.1: the handshake announces
/// `maxMessageSizeBytes` = 2^31-1; with `huge`, every other command is answered by a
/// message header claiming 2,000,000,000 bytes followed by zeros, else by `{ok: 1}`.
fn fake_mongodb(huge: bool) -> String {
    use mongodb::bson::{Document, doc};
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            std::thread::spawn(move || {
                let mut id = 1i32;
                loop {
                    let mut head = [0u8; 16];
                    if conn.read_exact(&mut head).is_err() {
                        return;
                    }
                    let len = i32::from_le_bytes(head[0..4].try_into().expect("4")) as usize;
                    let req_id = i32::from_le_bytes(head[4..8].try_into().expect("4"));
                    let mut rest = vec![0u8; len.saturating_sub(16)];
                    if conn.read_exact(&mut rest).is_err() {
                        return;
                    }
                    // flags (4), section kind 0 (1), the command document.
                    let cmd = Document::from_reader(&rest[5..]).unwrap_or_default();
                    let name = cmd
                        .keys()
                        .next()
                        .cloned()
                        .unwrap_or_default()
                        .to_lowercase();
                    let reply = if name == "ismaster" || name == "hello" {
                        doc! {
                            "ismaster": true, "isWritablePrimary": true, "helloOk": true,
                            "maxBsonObjectSize": 16_777_216, "maxMessageSizeBytes": i32::MAX,
                            "maxWriteBatchSize": 100_000, "localTime": mongodb::bson::DateTime::now(),
                            "logicalSessionTimeoutMinutes": 30, "connectionId": 1,
                            "minWireVersion": 0, "maxWireVersion": 21, "ok": 1.0,
                        }
                    } else if huge {
                        let mut h = Vec::new();
                        h.extend_from_slice(&2_000_000_000i32.to_le_bytes());
                        h.extend_from_slice(&id.to_le_bytes());
                        h.extend_from_slice(&req_id.to_le_bytes());
                        h.extend_from_slice(&2013i32.to_le_bytes());
                        let _ = conn.write_all(&h);
                        let zeros = vec![0u8; 1 << 20];
                        let t0 = Instant::now();
                        while t0.elapsed() < Duration::from_secs(20)
                            && conn.write_all(&zeros).is_ok()
                        {}
                        return;
                    } else if name == "buildinfo" {
                        doc! {"version": "8.0.1", "note": "password=hunter2-secret", "ok": 1.0}
                    } else {
                        doc! {"ok": 1.0}
                    };
                    let mut body = Vec::new();
                    reply.to_writer(&mut body).expect("bson");
                    let total = 16 + 4 + 1 + body.len();
                    let mut msg = Vec::with_capacity(total);
                    msg.extend_from_slice(&(total as i32).to_le_bytes());
                    msg.extend_from_slice(&id.to_le_bytes());
                    msg.extend_from_slice(&req_id.to_le_bytes());
                    msg.extend_from_slice(&2013i32.to_le_bytes());
                    msg.extend_from_slice(&0u32.to_le_bytes());
                    msg.push(0);
                    msg.extend_from_slice(&body);
                    id += 1;
                    if conn.write_all(&msg).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("mongodb://127.0.0.1:{port}/rocketchat?directConnection=true")
}

/// `collect --only mongodb` against `uri` (no Docker), see [`collect_limited`].
fn collect_mongodb(uri: &str) -> (Option<i32>, Bundle, u64, String) {
    collect_limited(
        "mongodb",
        "10s",
        "unix:///nonexistent/docker.sock",
        Some(uri),
        AS_LIMIT,
    )
}

#[test]
fn a_mongodb_server_raising_the_message_size_cannot_sink_the_bundle() {
    if !have_time_and_prlimit() {
        return;
    }
    let (code, b, base, err) = collect_mongodb(&fake_mongodb(false));
    // What the child redacted reaches the bundle's counts, never the secret itself.
    let rules = &b.manifest().redaction.rules;
    assert!(!rules.is_empty(), "no redaction counted: {rules:?}");
    let mut b = b;
    let all: Vec<String> = b.entries().iter().map(|f| f.path.clone()).collect();
    for name in &all {
        let data = b.read_bytes(name, 16 << 20).expect("entry");
        assert!(
            !String::from_utf8_lossy(&data).contains("hunter2"),
            "{name} holds the secret"
        );
    }
    assert!(all.iter().any(|n| n.starts_with("mongodb/")), "{all:?}");
    let polite = status_of(&b, "mongodb");
    assert!(
        polite
            .error
            .as_deref()
            .is_none_or(|e| !e.contains("process")),
        "{err} {polite:?}"
    );
    assert!(matches!(code, Some(0) | Some(3)), "{err}");
    let t0 = Instant::now();
    let (code, b, peak, err) = collect_mongodb(&fake_mongodb(true));
    let took = t0.elapsed();
    eprintln!(
        "mongodb: normal peak RSS {base} KiB; 2 GB reply {peak} KiB in {:.1}s",
        took.as_secs_f64()
    );
    assert_eq!(code, Some(3), "{err}");
    let m = status_of(&b, "mongodb");
    assert_eq!(m.status, rcdiag_bundle::CollectorStatus::Failed, "{m:?}");
    let e = m.error.clone().unwrap_or_default();
    eprintln!("mongodb error: {e}");
    assert!(
        e.contains("memory limit") && e.contains("48,000,000"),
        "{e}"
    );
    assert!(
        peak <= base + RSS_BUDGET_KIB,
        "peak RSS {peak} KiB over the normal {base} KiB + 68 MiB"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn a_log_still_being_read_at_the_deadline_is_kept_up_to_where_it_got() {
    if !have_time_and_prlimit() {
        return;
    }
    let engine = FakeEngine::start(Mode::Drip);
    let t0 = Instant::now();
    let (code, mut b, _, err) = collect_against(&engine, AS_LIMIT);
    let took = t0.elapsed();
    assert!(matches!(code, Some(0) | Some(3)), "{err}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let index: Value = b.read_json("logs/index.json").expect("index");
    let entry = &index[0];
    assert_eq!(entry["truncated_by"], "timeout", "{index}");
    assert_eq!(entry["file"], "logs/app.log", "{index}");
    let log =
        String::from_utf8_lossy(&b.read_bytes("logs/app.log", 1 << 20).expect("log")).into_owned();
    // --timeout 6s: the deadline is at 85 % (5.1 s), a line every 300 ms.
    let lines = log.lines().filter(|l| l.contains(" drip ")).count();
    assert!(lines >= 10, "{lines} lines kept:\n{log}");
    assert!(log.contains(" drip 0"), "{log}");
}

/// A "MongoDB" on 127.0.0.1 that accepts and then, with `garbage`, sends bytes that are
/// no wire message, else never answers.
fn rude_mongodb(garbage: bool) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            if garbage {
                let _ = conn.write_all(&[0xff; 64]);
            }
            held.push(conn);
        }
    });
    format!("mongodb://127.0.0.1:{port}/rocketchat?directConnection=true")
}

#[test]
fn hung_and_garbage_mongodb_servers_are_recorded_within_the_time_limit() {
    if !have_time_and_prlimit() {
        return;
    }
    for garbage in [false, true] {
        let t0 = Instant::now();
        let (code, b, _, err) = collect_mongodb(&rude_mongodb(garbage));
        let took = t0.elapsed();
        assert_eq!(code, Some(3), "garbage={garbage}: {err}");
        let m = status_of(&b, "mongodb");
        assert!(
            matches!(
                m.status,
                rcdiag_bundle::CollectorStatus::Failed | rcdiag_bundle::CollectorStatus::Timeout
            ),
            "garbage={garbage}: {m:?}"
        );
        assert!(
            !m.error.clone().unwrap_or_default().contains("process"),
            "{m:?}"
        );
        // --timeout 10s: the collector's own budget ends it, not the hard limit.
        assert!(
            took < Duration::from_secs(11),
            "garbage={garbage}: {took:?}"
        );
    }
}

#[test]
fn concurrent_first_key_show_calls_all_print_the_same_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let s = state.to_str().expect("utf-8");
    let children: Vec<_> = (0..60)
        .map(|_| {
            agent(&["key", "show", "--state-dir", s])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut prints = std::collections::BTreeSet::new();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        prints.insert(text(&out.stdout));
    }
    assert_eq!(prints.len(), 1, "{prints:?}");
    let mut names: Vec<String> = std::fs::read_dir(&state)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["node_ed25519", "node_ed25519.pub"]);
}

/// `--docker-reply-max` reaches the run's reply budget: at 1 MiB a huge container list
/// fails naming that cap, while a normal engine still answers within it.
#[test]
fn docker_reply_max_sets_the_runs_reply_budget() {
    let run = |engine: &FakeEngine| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out_dir = tmp.path().join("out");
        std::fs::create_dir(&out_dir).expect("mkdir");
        let out = agent(&[
            "collect",
            "--config",
            "/dev/null",
            "--no-encrypt",
            "-q",
            "--only",
            "docker",
            "--timeout",
            "6s",
            "--docker-reply-max",
            "1MiB",
            "--docker-host",
            &engine.uri,
        ])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .arg("-o")
        .arg(&out_dir)
        .env_remove("RCDIAG_MONGODB_URI")
        .stdin(Stdio::null())
        .output()
        .expect("run");
        let b = bundles(&out_dir);
        assert_eq!(b.len(), 1, "one bundle; stderr: {}", text(&out.stderr));
        (out.status.code(), open(&b[0]), text(&out.stderr))
    };
    let normal = FakeEngine::start(Mode::Normal);
    let (code, b, err) = run(&normal);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        status_of(&b, "docker").status,
        rcdiag_bundle::CollectorStatus::Ok
    );
    let huge = FakeEngine::start(Mode::HugeList);
    let t0 = Instant::now();
    let (code, b, err) = run(&huge);
    assert_eq!(code, Some(3), "{err}");
    let e = status_of(&b, "docker").error.clone().unwrap_or_default();
    assert!(
        e.contains("reply too large: the peer sent more than 1 MiB")
            && e.contains("--docker-reply-max"),
        "{e}"
    );
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
}
