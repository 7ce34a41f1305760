//! The agent's usage errors and messages: every command exits 2 for invalid options
//! (bad values, a missing recipient, options that do not go together) and keeps its
//! runtime codes otherwise; output names (`-o`), `collect --dry-run` without a
//! recipient, and the messages of missing folders.

use std::path::Path;
use std::process::{Command, Output};

use rcdiag_e2e::bin;

/// Runs the agent with no config file, no Docker or MongoDB from the environment, and
/// its state in `state`.
fn agent(state: &Path, args: &[&str]) -> Output {
    Command::new(bin("rcdiag-agent"))
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("RCDIAG_MONGODB_URI")
        .env("XDG_STATE_HOME", state)
        .output()
        .expect("run rcdiag-agent")
}

/// [`agent`], which must exit with `code` (its stderr shown if not).
fn agent_exits(state: &Path, args: &[&str], code: i32) -> Output {
    let out = agent(state, args);
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    out
}

/// `collect --config /dev/null --docker-host HOST --state-dir STATE` and `extra`.
fn collect_with_docker<'a>(host: &'a str, state: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "collect",
        "--config",
        "/dev/null",
        "--docker-host",
        host,
        "--state-dir",
        state,
    ];
    args.extend_from_slice(extra);
    args
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn recipient() -> String {
    rcdiag_bundle::generate_support_key().recipient
}

#[test]
fn invalid_options_exit_2_in_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let st = d.join("state");
    let st = st.to_str().expect("utf-8");
    let plain = d.join("b.rcdiag.zip");
    std::fs::write(&plain, b"not a bundle").expect("write");
    let plain = plain.to_str().expect("utf-8");
    let snaps = d.join("snaps");
    let snaps = snaps.to_str().expect("utf-8");
    let r = recipient();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "collect",
                "--config",
                "/dev/null",
                "--state-dir",
                st,
                "--only",
                "host",
            ],
            "no recipient",
        ),
        (
            vec!["collect", "--config", "/dev/null", "-r", "age1nope"],
            "age1nope",
        ),
        (
            vec![
                "collect",
                "--config",
                "/dev/null",
                "--no-encrypt",
                "--since",
                "0s",
            ],
            "--since",
        ),
        (
            vec![
                "collect",
                "--config",
                "/dev/null",
                "--no-encrypt",
                "--only",
                "dns",
            ],
            "unknown collector",
        ),
        (
            vec![
                "collect",
                "--config",
                "/dev/null",
                "--no-encrypt",
                "--log-bytes",
                "1",
            ],
            "--log-bytes",
        ),
        (
            vec![
                "collect",
                "--config",
                "/dev/null",
                "-r",
                &r,
                "--upload",
                "http://example.invalid/x",
            ],
            "https",
        ),
        (
            vec![
                "schedule",
                "--once",
                "--dir",
                snaps,
                "--config",
                "/dev/null",
                "--no-encrypt",
                "--keep",
                "0",
            ],
            "--keep 0",
        ),
        (
            vec![
                "schedule",
                "--every",
                "1h",
                "--jitter",
                "2h",
                "--dir",
                snaps,
                "--config",
                "/dev/null",
                "--no-encrypt",
            ],
            "--jitter",
        ),
        (
            vec![
                "schedule",
                "--once",
                "--dir",
                snaps,
                "--config",
                "/dev/null",
            ],
            "no recipient",
        ),
        (vec!["seal", plain], "no recipient"),
        (vec!["seal", plain, "-r", "age1nope"], "age1nope"),
        (
            vec!["redact", plain, "--state-dir", st],
            "nothing to redact",
        ),
        (
            vec!["redact", plain, "--state-dir", st, "--pattern", "(unclosed"],
            "--pattern",
        ),
        (
            vec!["redact", plain, "--state-dir", st, "--literal", ""],
            "--literal",
        ),
        (
            vec!["upload", plain, "--to", "http://example.invalid/x"],
            "https",
        ),
        (vec!["completions", "tcsh"], "tcsh"),
        (vec!["collect", "--no-such-flag"], "--no-such-flag"),
    ];
    for (args, says) in cases {
        let out = agent(d, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert!(
        !d.join("snaps").exists(),
        "no snapshots folder made on a usage error"
    );
}

#[test]
fn runtime_failures_keep_their_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let r = recipient();
    let missing = d.join("missing.rcdiag.zip");
    let missing = missing.to_str().expect("utf-8");
    // seal of a bundle that is not there: a runtime failure (1), not a usage error.
    agent_exits(d, &["seal", missing, "-r", &r], 1);
    // pseudonyms lookup of an unknown token: 1.
    agent_exits(
        d,
        &[
            "pseudonyms",
            "lookup",
            "host-0000",
            "--state-dir",
            d.to_str().expect("utf-8"),
        ],
        1,
    );
}

#[test]
fn out_file_names_must_say_what_the_bundle_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let st = d.join("state");
    let st = st.to_str().expect("utf-8");
    let r = recipient();
    let at = |n: &str| d.join(n).to_str().expect("utf-8").to_string();
    let base = [
        "collect",
        "--config",
        "/dev/null",
        "--only",
        "host",
        "-q",
        "--state-dir",
        st,
    ];
    // Refused: a neutral name, or one that says the other protection.
    for (extra, name, want) in [
        (vec!["--no-encrypt"], "out1", "out1.rcdiag.zip"),
        (vec!["--no-encrypt"], "b.rcdiag", "b.rcdiag.zip"),
        (vec!["-r", r.as_str()], "out1", "out1.rcdiag"),
        (vec!["-r", r.as_str()], "c.rcdiag.zip", "c.rcdiag"),
    ] {
        let o = at(name);
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra.iter().copied());
        args.extend(["-o", o.as_str()]);
        let out = agent(d, &args);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("pass -o {}", at(want))),
            "{name}: {}",
            stderr(&out)
        );
        assert!(!d.join(name).exists(), "{name} written");
    }
    // Accepted: the right extension.
    let o = at("plain.rcdiag.zip");
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--no-encrypt", "-o", o.as_str()]);
    agent_exits(d, &args, 0);
    assert!(d.join("plain.rcdiag.zip").is_file());
    // seal -o wants .rcdiag, redact -o wants .rcdiag.zip.
    let neutral = at("sealed");
    let out = agent_exits(
        d,
        &["seal", o.as_str(), "-r", r.as_str(), "-o", neutral.as_str()],
        2,
    );
    assert!(
        stderr(&out).contains("must end in .rcdiag"),
        "{}",
        stderr(&out)
    );
    let looks_encrypted = at("redone.rcdiag");
    let out = agent_exits(
        d,
        &[
            "redact",
            o.as_str(),
            "--literal",
            "x",
            "--state-dir",
            st,
            "-o",
            looks_encrypted.as_str(),
        ],
        2,
    );
    assert!(
        stderr(&out).contains("must end in .rcdiag.zip"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("sealed").exists() && !d.join("redone.rcdiag").exists());
    let sealed = at("sealed.rcdiag");
    agent_exits(
        d,
        &["seal", o.as_str(), "-r", r.as_str(), "-o", sealed.as_str()],
        0,
    );
    assert!(d.join("sealed.rcdiag").is_file());
}

#[test]
fn a_missing_output_folder_is_named_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let st = d.join("state");
    let st = st.to_str().expect("utf-8");
    for (o, folder) in [
        ("/nonexistent/", "/nonexistent/"),
        ("/nonexistent/x.rcdiag.zip", "/nonexistent"),
    ] {
        let out = agent(
            d,
            &[
                "collect",
                "--config",
                "/dev/null",
                "--only",
                "host",
                "--no-encrypt",
                "--state-dir",
                st,
                "-o",
                o,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{o}: {}", stderr(&out));
        let err = stderr(&out);
        let said = format!("folder {folder} does not exist");
        assert_eq!(err.matches(&said).count(), 1, "{o}: {err}");
        assert_eq!(err.matches("does not exist").count(), 1, "{o}: {err}");
    }
}

#[test]
fn dry_run_needs_no_recipient_and_shows_only_sources_that_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let st = d.join("state");
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let sock = d.join("no-docker.sock");
    let host = format!("unix://{}", sock.display());
    let state = st.to_str().expect("utf-8");
    let out = agent_exits(
        d,
        &collect_with_docker(
            &host,
            state,
            &["--dry-run", "-o", out_dir.to_str().expect("utf-8")],
        ),
        0,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "docker:     skipped, no socket at {}",
            sock.display()
        )),
        "{text}"
    );
    assert!(text.contains("logs:       skipped, no socket at"), "{text}");
    assert!(
        text.contains("mongodb:    skipped, no --mongodb-uri"),
        "{text}"
    );
    assert!(text.contains("+ host:"), "{text}");
    assert!(
        text.contains("no recipient given: a real run needs"),
        "{text}"
    );
    assert!(!text.contains("from unix://"), "{text}");
    assert_eq!(
        std::fs::read_dir(&out_dir).expect("read").count(),
        0,
        "nothing written"
    );
    assert!(!st.exists(), "not even the node key");
    // The same run without --dry-run still refuses: a real bundle needs a recipient.
    agent_exits(d, &collect_with_docker(&host, state, &[]), 2);
}

#[test]
fn dry_run_shows_a_docker_socket_that_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let sock = d.join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    let host = format!("unix://{}", sock.display());
    let state = d.join("st");
    let out = agent_exits(
        d,
        &collect_with_docker(&host, state.to_str().expect("utf-8"), &["--dry-run"]),
        0,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("+ docker:     from {host}")),
        "{text}"
    );
    assert!(
        text.contains("from the MONGO_URL of the Rocket.Chat containers"),
        "{text}"
    );
}

#[test]
fn a_closed_stdout_is_no_panic() {
    // `rcdiag-agent collect --dry-run | head -1`: the reader goes away at once.
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["collect", "--dry-run", "--config", "/dev/null"][..],
        &["list-collectors"][..],
    ] {
        let mut child = std::process::Command::new(rcdiag_e2e::bin("rcdiag-agent"))
            .args(args)
            .env("XDG_STATE_HOME", dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_stderr_is_no_panic() {
    // `rcdiag-agent ... 2>&1 | head` or a log pipe whose reader died: every write to
    // stderr fails with EPIPE. `2>&-` alone is no test: std opens /dev/null on a closed
    // fd 2 at start-up. The pipe's reader is dropped before the agent starts.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    for (args, want) in [
        // A key made and shown: its notes ("key file: ...") go to stderr.
        (
            vec!["key", "show", "--state-dir", state.to_str().unwrap()],
            0,
        ),
        // A usage error: the message goes to stderr, the exit status stays 2.
        (
            vec![
                "collect",
                "--config",
                "/dev/null",
                "-o",
                "/nonexistent/x.rcdiag",
            ],
            2,
        ),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(rcdiag_e2e::bin("rcdiag-agent"))
            .args(&args)
            .env("XDG_STATE_HOME", dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(writer)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(want), "{args:?}");
    }
    // The key was made and its public half printed on stdout.
    assert!(state.join(rcdiag_bundle::NODE_KEY_FILE).exists());
}
