//! The progress of `collect` on stderr: a plain line per finished collector when stderr
//! is not a terminal, live lines (indicatif spinners, then a mark, status and time per
//! collector) when it is; the terminal is a real pty from util-linux's `script`.

use std::path::Path;
use std::process::{Command, Stdio};

const AGENT: &str = env!("CARGO_BIN_EXE_rcdiag-agent");

fn collect_args(dir: &Path) -> Vec<String> {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("mkdir out");
    [
        "collect",
        "--no-encrypt",
        "--only",
        "host",
        "--state-dir",
        dir.join("state").to_str().expect("utf-8 path"),
        "-o",
        out.to_str().expect("utf-8 path"),
    ]
    .map(str::to_string)
    .to_vec()
}

#[test]
fn plain_lines_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(AGENT)
        .args(collect_args(dir.path()))
        .env_remove("RCDIAG_MONGODB_URI")
        .stdin(Stdio::null())
        .output()
        .expect("run rcdiag-agent");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("rcdiag-agent: collector host: ok in "))
        .unwrap_or_else(|| panic!("no plain progress line:\n{err}"));
    assert!(line.contains("file(s)"), "{line}");
    assert!(
        !err.contains('\x1b'),
        "escape sequences on a pipe:\n{err:?}"
    );
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn live_lines_on_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cmd: Vec<String> = std::iter::once(AGENT.to_string())
        .chain(collect_args(dir.path()))
        .map(|a| sh_quote(&a))
        .collect();
    // `script` runs the command on a new pty and copies what it writes to its stdout.
    let out = match Command::new("script")
        .args(["-q", "-e", "-c", &cmd.join(" "), "/dev/null"])
        .env_remove("RCDIAG_MONGODB_URI")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) => o,
        Err(e) if std::env::var_os("RCDIAG_REQUIRE_PEERS").is_none() => {
            eprintln!("skipped: no `script` (util-linux) for a pty: {e}");
            return;
        }
        Err(e) => panic!("script (util-linux): {e} (RCDIAG_REQUIRE_PEERS is set)"),
    };
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{tty}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The finished line: mark, name, status, seconds.
    let done = regex::Regex::new(r"✔ host {8}ok {7}\s*\d+\.\ds").expect("regex");
    assert!(done.is_match(&tty), "no finished live line:\n{tty:?}");
    // Drawn in place (escape sequences), and no plain line on the terminal.
    assert!(tty.contains('\x1b'), "{tty:?}");
    assert!(!tty.contains("rcdiag-agent: collector host:"), "{tty:?}");
}
