//! Shell completions (`completions SHELL`) and man pages (`man-pages DIR`,
//! `scripts/make-man`) of both binaries: non-empty, naming the public subcommands and
//! never the hidden ones; bash's script parses, and the man pages render.

use std::path::Path;
use std::process::Command;

use rcdiag_e2e::{bin, root};

fn run(name: &str, args: &[&str]) -> std::process::Output {
    Command::new(bin(name)).args(args).output().expect("run")
}

/// (binary, subcommands the scripts must name, hidden ones they must not)
const BINARIES: &[(&str, &[&str], &[&str])] = &[
    (
        "rcdiag-agent",
        &[
            "collect",
            "seal",
            "redact",
            "schedule",
            "upload",
            "completions",
        ],
        &["internal-collector", "man-pages"],
    ),
    (
        "rcdiag-analyzer",
        &["check", "verify", "grep", "diff", "completions"],
        &["man-pages"],
    ),
];

#[test]
fn completions_of_every_shell_name_the_public_subcommands_only() {
    for (name, public, hidden) in BINARIES {
        for shell in ["bash", "zsh", "fish", "powershell"] {
            let out = run(name, &["completions", shell]);
            assert!(out.status.success(), "{name} completions {shell}: {out:?}");
            let script = String::from_utf8(out.stdout).expect("utf-8 script");
            assert!(script.len() > 500, "{name} {shell}: script too short");
            for s in *public {
                assert!(script.contains(s), "{name} {shell}: {s} missing");
            }
            for s in *hidden {
                assert!(!script.contains(s), "{name} {shell}: hidden {s} offered");
            }
        }
    }
}

#[test]
fn bash_completion_scripts_parse() {
    for (name, _, _) in BINARIES {
        let out = run(name, &["completions", "bash"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("script.bash");
        std::fs::write(&file, &out.stdout).expect("write");
        let check = Command::new("bash")
            .arg("-n")
            .arg(&file)
            .output()
            .expect("bash");
        assert!(check.status.success(), "{name}: bash -n: {check:?}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = run("rcdiag-agent", &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bash"));
}

fn renders(page: &Path) {
    let text = std::fs::read_to_string(page).expect("read page");
    assert!(
        text.starts_with(".ie") || text.contains("\n.TH "),
        "{}: no .TH",
        page.display()
    );
    let groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page)
        .output();
    match groff {
        Ok(o) => {
            assert!(o.status.success(), "{}: groff: {o:?}", page.display());
            let warnings = String::from_utf8_lossy(&o.stderr);
            assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
        }
        Err(_) => eprintln!("*** groff not installed: man pages only checked for .TH ***"),
    }
}

#[test]
fn make_man_writes_a_page_per_public_command_of_both_binaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(root().join("scripts/make-man"))
        .arg(dir.path())
        .env(
            "RCDIAG_BIN_DIR",
            bin("rcdiag-agent").parent().expect("bin dir"),
        )
        .output()
        .expect("run scripts/make-man");
    assert!(out.status.success(), "make-man: {out:?}");
    for page in [
        "rcdiag-agent.1",
        "rcdiag-agent-collect.1",
        "rcdiag-agent-seal.1",
        "rcdiag-agent-key-show.1",
        "rcdiag-analyzer.1",
        "rcdiag-analyzer-check.1",
        "rcdiag-analyzer-policy-show.1",
    ] {
        let p = dir.path().join(page);
        assert!(p.is_file(), "{page} missing");
        renders(&p);
    }
    for hidden in [
        "rcdiag-agent-internal-collector.1",
        "rcdiag-agent-man-pages.1",
        "rcdiag-analyzer-man-pages.1",
    ] {
        assert!(!dir.path().join(hidden).exists(), "{hidden} written");
    }
    let collect = std::fs::read_to_string(dir.path().join("rcdiag-agent-collect.1")).expect("read");
    assert!(
        collect.contains("recipient"),
        "collect page lacks its options"
    );
}

#[test]
fn man_pages_into_a_missing_folder_is_a_usage_error() {
    for (name, _, _) in BINARIES {
        let out = run(name, &["man-pages", "/nonexistent/rcdiag-man"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("mkdir -p /nonexistent/rcdiag-man"));
    }
}
