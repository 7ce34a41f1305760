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
    let out = agent(d, &["seal", missing, "-r", &r]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // pseudonyms lookup of an unknown token: 1.
    let out = agent(
        d,
        &[
            "pseudonyms",
            "lookup",
            "host-0000",
            "--state-dir",
            d.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}
