//! End-to-end tests of the `rcdiag-analyzer` command line on real bundles written by
//! `rcdiag_bundle::BundleWriter`: keygen, verify, extract, check (exit codes and
//! formats), policy, ls, cat and grep.

#[path = "../src/report/fixtures.rs"]
mod fixtures;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use fixtures::{AS_OF, Node, Protect, allowed_signers, support_key};
use predicates::prelude::*;
use rcdiag_bundle::NodeKey;
use serde_json::Value;

/// The binary, with no identity or colour settings inherited from the environment.
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"));
    c.env_remove("RCDIAG_IDENTITY").env_remove("NO_COLOR");
    c
}

/// A temp dir with a support key and one healthy encrypted bundle of `node1`.
struct Setup {
    dir: tempfile::TempDir,
    key: fixtures::SupportKey,
    node_key: NodeKey,
    bundle: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = support_key(dir.path());
    let node_key = NodeKey::generate();
    let bundle = Node::healthy("node1", "8.5.0").write(
        &dir.path().join("node1.rcdiag"),
        Protect::Age(&key.recipient),
        &node_key,
    );
    Setup {
        dir,
        key,
        node_key,
        bundle,
    }
}

impl Setup {
    /// `rcdiag-analyzer verify BUNDLE -i KEY` of the setup's bundle.
    fn verify(&self) -> Command {
        let mut c = bin();
        c.arg("verify").arg(&self.bundle).args(["-i", self.id()]);
        c
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn id(&self) -> &str {
        self.key.identity.to_str().expect("utf-8 path")
    }

    fn trust_file(&self) -> PathBuf {
        allowed_signers(self.dir.path(), "allowed_signers", &[&self.node_key])
    }

    fn write(&self, node: &Node, name: &str) -> PathBuf {
        node.write(
            &self.path(name),
            Protect::Age(&self.key.recipient),
            &self.node_key,
        )
    }
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn flip_byte(path: &Path, at_fraction: f64) {
    let mut data = fs::read(path).expect("read bundle");
    let i = ((data.len() as f64) * at_fraction) as usize;
    data[i] ^= 0x40;
    fs::write(path, data).expect("write bundle");
}

// ---------------------------------------------------------------------------------
// help

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    bin()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"))
        .stdout(predicate::str::contains("rcdiag-analyzer check"))
        .stdout(predicate::str::contains("Exit status"))
        .stdout(predicate::str::contains("RCDIAG_IDENTITY"));
    for sub in [
        "keygen", "verify", "extract", "check", "ls", "cat", "grep", "diff",
    ] {
        bin().args([sub, "--help"]).assert().success().stdout(
            predicate::str::contains("Examples:")
                .and(predicate::str::contains(format!("rcdiag-analyzer {sub}"))),
        );
    }
}

// ---------------------------------------------------------------------------------
// keygen

#[test]
fn keygen_writes_a_0600_identity_and_prints_only_the_recipient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .current_dir(dir.path())
        .arg("keygen")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    let recipient = stdout.trim_end_matches('\n');
    assert_eq!(
        stdout,
        format!("{recipient}\n"),
        "stdout must be exactly the recipient line"
    );
    assert!(
        recipient.starts_with("age1") && !recipient.contains(char::is_whitespace),
        "{stdout:?}"
    );
    let key = dir.path().join("rcdiag-support.key");
    let mode = fs::metadata(&key)
        .expect("key written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&key).expect("read key");
    assert!(
        text.contains(&format!("# public key: {recipient}")) && text.contains("AGE-SECRET-KEY-1")
    );
    assert!(
        stderr_of(&out).contains("rcdiag-support.key"),
        "stderr says where the key is"
    );

    // A bundle encrypted to the printed recipient opens with the written identity.
    let bundle = Node::healthy("node1", "8.5.0").write(
        &dir.path().join("b.rcdiag"),
        Protect::Age(recipient),
        &NodeKey::generate(),
    );
    bin()
        .arg("verify")
        .arg(&bundle)
        .arg("-i")
        .arg(&key)
        .assert()
        .success();
}

#[test]
fn keygen_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("support.key");
    bin().args(["keygen", "-o"]).arg(&key).assert().success();
    let before = fs::read(&key).expect("key");
    bin()
        .args(["keygen", "-o"])
        .arg(&key)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("never overwrites"));
    assert_eq!(
        fs::read(&key).expect("key"),
        before,
        "the existing key is untouched"
    );
}

// ---------------------------------------------------------------------------------
// verify

#[test]
fn verify_prints_what_the_bundle_holds() {
    let s = setup();
    let out = s.verify().output().expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    for want in [
        "node       node1",
        "protection encrypted",
        &format!("signer {}", s.node_key.fingerprint()),
        "trust      not checked",
        "mongodb",
        "docker/containers.json",
        "sha256:",
        "result     OK",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn verify_signed_plain_needs_no_identity_and_says_so() {
    let s = setup();
    let plain =
        Node::healthy("node1", "8.5.0").write(&s.path("p.rcdiag.zip"), Protect::Plain, &s.node_key);
    bin()
        .arg("verify")
        .arg(&plain)
        .assert()
        .success()
        .stdout(predicate::str::contains("signed-plain"));
}

#[test]
fn verify_json_reports_validity_collectors_and_files() {
    let s = setup();
    let out = s.verify().args(["--format", "json"]).output().expect("run");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["valid"], true);
    assert_eq!(v["node"]["hostname"], "node1");
    assert_eq!(v["protection"], "encrypted");
    assert_eq!(v["trust"], "not_checked");
    assert_eq!(v["signer_fingerprint"], s.node_key.fingerprint());
    assert_eq!(v["collectors"].as_array().map(Vec::len), Some(5));
    assert!(
        v["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["path"] == "host/host.json"))
    );
}

#[test]
fn verify_rejects_a_tampered_encrypted_bundle() {
    let s = setup();
    flip_byte(&s.bundle, 0.5);
    let out = s.verify().output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!("error: {}: ", s.bundle.display())),
        "{err}"
    );
    assert!(
        err.contains("corrupt") || err.contains("modified") || err.contains("truncated"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one-line reason: {err}");
}

#[test]
fn verify_rejects_a_tampered_plain_bundle_with_json_too() {
    let s = setup();
    let plain =
        Node::healthy("node1", "8.5.0").write(&s.path("p.rcdiag.zip"), Protect::Plain, &s.node_key);
    flip_byte(&plain, 0.3);
    let out = bin()
        .arg("verify")
        .arg(&plain)
        .args(["--format", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json even when invalid");
    assert_eq!(v["valid"], false);
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(stderr_of(&out).starts_with(&format!("error: {}: ", plain.display())));
}

#[test]
fn verify_with_the_wrong_identity_names_the_recipient() {
    let s = setup();
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = support_key(other_dir.path());
    bin()
        .arg("verify")
        .arg(&s.bundle)
        .arg("-i")
        .arg(&other.identity)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(&s.key.recipient))
        .stderr(predicate::str::contains("-i FILE"));
    // No identity at all: same message.
    bin()
        .arg("verify")
        .arg(&s.bundle)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(&s.key.recipient));
}

#[test]
fn identities_come_from_rcdiag_identity_colon_separated() {
    let s = setup();
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = support_key(other_dir.path());
    bin()
        .env(
            "RCDIAG_IDENTITY",
            format!("{}:{}", other.identity.display(), s.key.identity.display()),
        )
        .arg("verify")
        .arg(&s.bundle)
        .assert()
        .success();
}

#[test]
fn verify_with_trust_accepts_the_pinned_signer_and_refuses_others() {
    let s = setup();
    let trust = s.trust_file();
    bin()
        .arg("verify")
        .arg(&s.bundle)
        .args(["-i", s.id(), "--trust"])
        .arg(&trust)
        .assert()
        .success()
        .stdout(predicate::str::contains("trust      trusted (node)"));
    let stranger = allowed_signers(s.dir.path(), "others", &[&NodeKey::generate()]);
    bin()
        .arg("verify")
        .arg(&s.bundle)
        .args(["-i", s.id(), "--trust"])
        .arg(&stranger)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not trusted"))
        .stderr(predicate::str::contains(s.node_key.fingerprint()));
}

// ---------------------------------------------------------------------------------
// extract

#[test]
fn extract_writes_every_file_and_refuses_a_non_empty_folder() {
    let s = setup();
    let dir = s.path("out");
    let extract = || {
        let mut c = bin();
        c.arg("extract")
            .arg(&s.bundle)
            .arg(&dir)
            .args(["-i", s.id()]);
        c
    };
    extract()
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("to {}", dir.display())))
        .stdout(predicate::str::is_match(r"extracted \d+ files").expect("regex"));
    assert!(dir.join("manifest.json").is_file() && dir.join("host/host.json").is_file());
    assert!(dir.join("logs/rocketchat-rocketchat-1.log").is_file());
    extract()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not empty"));
}

// ---------------------------------------------------------------------------------
// check: exit codes

fn check(s: &Setup, bundles: &[&Path]) -> Command {
    let mut c = bin();
    c.arg("check")
        .args(bundles)
        .args(["-i", s.id(), "--as-of", AS_OF]);
    c
}

/// `check ARGS` of the setup's bundle, run to its end.
fn check_bundle(s: &Setup, args: &[&str]) -> std::process::Output {
    check(s, &[&s.bundle]).args(args).output().expect("run")
}

/// `check` of `bundles` with `--trust` (this node's key pinned), run to its end.
fn check_trusted(s: &Setup, bundles: &[&Path]) -> std::process::Output {
    check(s, bundles)
        .arg("--trust")
        .arg(s.trust_file())
        .output()
        .expect("run")
}

/// `check --trust` of `node` (written as `name`) exits `code`, its report saying `word`.
fn check_node_exits(s: &Setup, node: &Node, name: &str, code: i32, word: &str) {
    let b = s.write(node, name);
    let out = check_trusted(s, &[&b]);
    assert_eq!(out.status.code(), Some(code), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains(word));
}

#[test]
fn check_exits_0_when_everything_passes() {
    let s = setup();
    let out = check_trusted(&s, &[&s.bundle]);
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr_of(&out));
    assert!(
        text.contains("summary:") && text.contains("0 warn, 0 fail, 0 unknown"),
        "{text}"
    );
}

#[test]
fn check_exits_3_on_a_failure() {
    let s = setup();
    // Rocket.Chat 7.4 reached end of life on 2025-08-31.
    let mut node = Node::healthy("node1", "7.4.0");
    node.edit("mongodb/summary.json", |v| v["version"] = "7.0.14".into());
    check_node_exits(&s, &node, "old.rcdiag", 3, "FAIL");
}

#[test]
fn an_unpinned_signer_is_said_first_and_in_the_summary_and_exits_5() {
    let s = setup();
    // The same healthy bundle: 0 with --trust, 5 without (anyone can sign a bundle).
    let fp = s.node_key.fingerprint();
    let trusted = check_trusted(&s, &[&s.bundle]);
    assert_eq!(trusted.status.code(), Some(0));
    assert!(!stdout_of(&trusted).contains("not verified"));
    for format in ["text", "markdown", "html", "json"] {
        let out = check_bundle(&s, &["--format", format]);
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(5), "{format}: {text}");
        let notice = format!("signed by {fp}, not verified");
        match format {
            "text" => {
                let first = text.lines().next().unwrap_or("");
                assert!(first.contains(&notice), "{first}");
                let last = text.lines().last().unwrap_or("");
                assert!(last.contains("signer not verified: pass --trust"), "{last}");
            }
            "markdown" => {
                let first = text.lines().next().unwrap_or("");
                assert!(
                    first.starts_with("## rcdiag check:") && first.contains("not verified"),
                    "{first}"
                );
                assert!(text.contains("signer not verified"), "{text}");
            }
            "html" => {
                let header = text.find("<header>").expect("header");
                let alert = text.find("role=\"alert\"").expect("notice");
                assert!(alert > header && alert < text.find("</header>").expect("end"));
                assert!(text.contains(&notice));
                assert!(
                    text.contains("signer not verified: pass --trust"),
                    "footer summary"
                );
            }
            _ => {
                let v: Value = serde_json::from_str(&text).expect("json");
                assert!(
                    v["signer_notice"].as_str().unwrap_or("").contains(&notice),
                    "{v}"
                );
                assert_eq!(v["summary"]["unverified_signers"], 1);
            }
        }
    }
}

#[test]
fn check_exits_4_on_a_warning() {
    let s = setup();
    let mut node = Node::healthy("node1", "8.5.0");
    node.edit_container("rocketchat-rocketchat-1", |c| c["restart_count"] = 5.into());
    check_node_exits(&s, &node, "restarts.rcdiag", 4, "WARN");
}

#[test]
fn check_exits_1_naming_an_unreadable_bundle() {
    let s = setup();
    let bad = s.path("bad.rcdiag");
    fs::write(&bad, b"this is not a bundle").expect("write");
    let out = check(&s, &[&s.bundle, &bad]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("error: {}: not an rcdiag bundle", bad.display())),
        "{err}"
    );
    assert!(err.contains("--keep-going"), "says what to do next: {err}");
    assert!(out.stdout.is_empty(), "no report without --keep-going");
}

#[test]
fn check_keep_going_reports_the_others_and_lists_the_unreadable_one() {
    let s = setup();
    let bad = s.path("bad.rcdiag");
    fs::write(&bad, b"this is not a bundle").expect("write");
    let out = check(&s, &[&s.bundle, &bad])
        .args(["--keep-going", "--format", "json", "--trust"])
        .arg(s.trust_file())
        .output()
        .expect("run");
    // Every check may pass, but a skipped bundle never gives 0.
    assert!(matches!(out.status.code(), Some(3 | 4)), "{:?}", out.status);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let bundles = v["bundles"].as_array().expect("bundles");
    assert_eq!(bundles.len(), 2);
    assert_eq!(bundles[0]["verified"], true);
    assert_eq!(bundles[1]["verified"], false);
    assert!(
        bundles[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not an rcdiag bundle"))
    );
    assert!(v["notes"].as_array().is_some_and(|n| {
        n.iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("bad.rcdiag")))
    }));
}

#[test]
fn check_of_many_bundles_keeps_their_order_and_stops_at_the_first_bad_one() {
    // Bundles are loaded side by side; the report and the errors follow the order given.
    let s = setup();
    let mut paths = Vec::new();
    for i in 0..6 {
        let p = if i == 2 || i == 4 {
            let bad = s.path(&format!("bad{i}.rcdiag"));
            fs::write(&bad, b"this is not a bundle").expect("write");
            bad
        } else {
            s.write(
                &Node::healthy(&format!("node{i}"), "8.5.0"),
                &format!("n{i}.rcdiag"),
            )
        };
        paths.push(p);
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let out = check(&s, &refs).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(
        errors.len(),
        1,
        "only the first bad bundle is reported: {err}"
    );
    assert!(errors[0].contains("bad2.rcdiag"), "{err}");
    assert!(out.stdout.is_empty());

    let out = check(&s, &refs)
        .args(["--keep-going", "--format", "json"])
        .output()
        .expect("run");
    // At least 4 for the skipped bundles; 5 as no signer is pinned (no --trust).
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert!(errors[0].contains("bad2.rcdiag") && errors[1].contains("bad4.rcdiag"));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let files: Vec<(String, bool)> = v["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .map(|b| {
            (
                b["file"].as_str().unwrap_or("").to_string(),
                b["verified"] == true,
            )
        })
        .collect();
    let expected: Vec<(String, bool)> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.display().to_string(), i != 2 && i != 4))
        .collect();
    assert_eq!(files, expected);
}

#[test]
fn check_exits_1_on_a_tampered_bundle_and_on_an_untrusted_signer() {
    let s = setup();
    let stranger = allowed_signers(s.dir.path(), "others", &[&NodeKey::generate()]);
    check(&s, &[&s.bundle])
        .arg("--trust")
        .arg(&stranger)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not trusted"));
    flip_byte(&s.bundle, 0.5);
    check(&s, &[&s.bundle])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "error: {}: ",
            s.bundle.display()
        )));
}

#[test]
fn check_exits_2_on_usage_errors() {
    let s = setup();
    check(&s, &[&s.bundle])
        .args(["--format", "pdf"])
        .assert()
        .code(2);
    bin()
        .args(["check", "--as-of", "yesterday"])
        .arg(&s.bundle)
        .assert()
        .code(2);
    bin()
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("BUNDLE"));
    let policy = s.path("broken.toml");
    fs::write(&policy, "name = 1\n").expect("write");
    check(&s, &[&s.bundle])
        .arg("--policy")
        .arg(&policy)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.toml"));
}

// ---------------------------------------------------------------------------------
// check: formats

#[test]
fn check_text_groups_by_area_with_evidence_and_a_summary() {
    let s = setup();
    let mut node = Node::healthy("node1", "8.5.0");
    node.edit_container("rocketchat-rocketchat-1", |c| c["restart_count"] = 5.into());
    let b = s.write(&node, "restarts.rcdiag");
    let out = check(&s, &[&b]).output().expect("run");
    let text = stdout_of(&out);
    assert!(!text.contains('\u{1b}'), "no colour into a pipe");
    assert!(text.contains("== containers =="), "{text}");
    assert!(text.contains("evidence: node1"), "{text}");
    assert!(text.contains("fix: https://"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("summary: ")),
        "{text}"
    );
}

#[test]
fn check_colours_only_when_asked_or_on_a_terminal() {
    let s = setup();
    let out = check_bundle(&s, &["--color", "always"]);
    assert!(stdout_of(&out).contains("\u{1b}["), "colour when forced");
    let out = check(&s, &[&s.bundle])
        .env("NO_COLOR", "1")
        .args(["--color", "auto"])
        .output()
        .expect("run");
    assert!(!stdout_of(&out).contains('\u{1b}'));
}

#[test]
fn check_json_has_the_report_shape() {
    let s = setup();
    let out = check_bundle(&s, &["--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["schema"], "rcdiag.report/v1");
    assert_eq!(v["as_of"], AS_OF);
    assert!(v["policy"]["name"].is_string() && v["policy"]["as_of"].is_string());
    let b = &v["bundles"][0];
    assert_eq!(b["node"], "node1");
    assert_eq!(b["verified"], true);
    assert_eq!(b["trust"], "not_checked");
    assert_eq!(b["signer_fingerprint"], s.node_key.fingerprint());
    assert_eq!(b["file"], s.bundle.display().to_string());
    let checks = v["checks"].as_array().expect("checks");
    assert!(!checks.is_empty());
    for c in checks {
        for k in [
            "id",
            "title",
            "area",
            "outcome",
            "message",
            "evidence",
            "remediation",
        ] {
            assert!(c.get(k).is_some(), "check lacks {k}: {c}");
        }
    }
    let sum = &v["summary"];
    let total: u64 = ["pass", "warn", "fail", "unknown", "not_applicable"]
        .iter()
        .filter_map(|k| sum[k].as_u64())
        .sum();
    assert_eq!(total as usize, checks.len());
    // A Docker install: the kubernetes.* checks do not apply, shown apart.
    let na = checks
        .iter()
        .filter(|c| c["outcome"] == "not_applicable")
        .count();
    assert_eq!(sum["not_applicable"].as_u64(), Some(na as u64), "{sum}");
    assert!(
        checks
            .iter()
            .filter(|c| c["outcome"] == "not_applicable")
            .all(|c| c["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("kubernetes."))),
        "only kubernetes.* checks are N/A here"
    );
    assert!(
        na > 0,
        "the kubernetes.* checks do not apply to a Docker node"
    );
}

#[test]
fn check_markdown_starts_with_the_summary_table() {
    let s = setup();
    let out = check_bundle(&s, &["--format", "markdown"]);
    let md = stdout_of(&out);
    assert!(md.starts_with("## rcdiag check"), "{md}");
    let table = md.find("| outcome | checks |").expect("summary table");
    let bundles = md.find("### Bundles").expect("bundles");
    assert!(table < bundles, "summary first");
    assert!(md.contains("node1"));
}

#[test]
fn check_html_to_a_file() {
    let s = setup();
    let html = s.path("report.html");
    let out = check(&s, &[&s.bundle])
        .args(["--format", "html", "-o"])
        .arg(&html)
        .output()
        .expect("run");
    assert!(out.stdout.is_empty());
    assert!(stderr_of(&out).contains("wrote the report to"));
    let text = fs::read_to_string(&html).expect("report written");
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(!text.contains("<script") && !text.contains("http-equiv=\"refresh\""));
    assert!(
        !text.contains(" src=") && !text.contains("<link"),
        "self-contained"
    );
    assert!(
        text.find("id=\"summary\"") < text.find("id=\"checks\""),
        "summary first"
    );
}

// ---------------------------------------------------------------------------------
// policy

#[test]
fn policy_show_prints_valid_toml_and_policy_check_validates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin().args(["policy", "show"]).output().expect("run");
    assert!(out.status.success());
    let toml_text = stdout_of(&out);
    assert!(toml_text.contains("name = "), "{toml_text}");
    let file = dir.path().join("p.toml");
    fs::write(&file, &toml_text).expect("write");
    bin()
        .args(["policy", "check"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("valid"));
    bin()
        .args(["policy", "show", "--policy"])
        .arg(&file)
        .assert()
        .success();

    let broken = dir.path().join("broken.toml");
    fs::write(&broken, "this is = = not toml").expect("write");
    bin()
        .args(["policy", "check"])
        .arg(&broken)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken.toml"));
    // A syntax error prints real newlines: where, the line, a caret under the column
    // (in `policy check` and wherever `--policy` is read).
    fs::write(&broken, "name = \"x\"\nversion = = 1\n").expect("write");
    for args in [vec!["policy", "check"], vec!["policy", "show", "--policy"]] {
        let out = bin().args(&args).arg(&broken).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("\\u{a}"), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines[0].contains("broken.toml: policy does not parse at line 2, column 11: "),
            "{args:?}: {err}"
        );
        assert_eq!(lines[1], " 2 | version = = 1", "{args:?}: {err}");
        assert_eq!(lines[2], "   |           ^", "{args:?}: {err}");
    }
    // A policy that parses but is inconsistent lists its problems.
    assert!(
        toml_text.contains("(^|/)prom/prometheus$"),
        "fixture assumption: {toml_text}"
    );
    let inconsistent = dir.path().join("inconsistent.toml");
    fs::write(
        &inconsistent,
        toml_text.replace("(^|/)prom/prometheus$", "(^|/prom/prometheus$"),
    )
    .expect("write");
    bin()
        .args(["policy", "check"])
        .arg(&inconsistent)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("problem(s):").and(predicate::str::contains("  - ")));
    check_usage_with_policy(&inconsistent);
}

fn check_usage_with_policy(policy: &Path) {
    let s = setup();
    check(&s, &[&s.bundle])
        .arg("--policy")
        .arg(policy)
        .assert()
        .code(2);
}

// ---------------------------------------------------------------------------------
// ls, cat, grep: inside the bundle, nothing on disk

/// Runs `f` with the working directory and TMPDIR set to an empty folder, and checks
/// that nothing was written there.
fn leaves_no_file(f: impl FnOnce(&Path)) {
    let scratch = tempfile::tempdir().expect("tempdir");
    f(scratch.path());
    let left: Vec<_> = fs::read_dir(scratch.path()).expect("read").collect();
    assert!(left.is_empty(), "plaintext left on disk: {left:?}");
}

#[test]
fn ls_lists_files_with_size_collector_and_truncation() {
    let s = setup();
    let mut node = Node::healthy("node1", "8.5.0");
    node.files.insert("logs/big.log".into(), b"x\n".to_vec());
    let b = s.write(&node, "n.rcdiag");
    leaves_no_file(|scratch| {
        let out = bin()
            .current_dir(scratch)
            .env("TMPDIR", scratch)
            .arg("ls")
            .arg(&b)
            .args(["-i", s.id()])
            .output()
            .expect("run");
        assert!(out.status.success());
        let text = stdout_of(&out);
        let line = text
            .lines()
            .find(|l| l.ends_with("host/host.json"))
            .expect("host.json listed");
        assert!(line.contains(" host "), "{line}");
        assert!(text.contains("docker/containers.json") && text.contains("logs/index.json"));
    });
    let out = bin()
        .arg("ls")
        .arg(&b)
        .args(["-i", s.id(), "--format", "json"])
        .output()
        .expect("run");
    let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = rows
        .as_array()
        .and_then(|r| r.iter().find(|r| r["path"] == "mongodb/summary.json"))
        .cloned()
        .expect("row");
    assert_eq!(row["collector"], "mongodb");
    assert_eq!(row["truncated"], false);
    assert!(row["size"].as_u64().is_some_and(|n| n > 0));
    // Sorted by path, in JSON and text alike.
    let paths: Vec<&str> = rows
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert!(paths.len() > 3);
    assert_eq!(paths, sorted);
}

#[test]
fn cat_streams_one_file_exactly() {
    let s = setup();
    let node = Node::healthy("node1", "8.5.0");
    leaves_no_file(|scratch| {
        let out = bin()
            .current_dir(scratch)
            .env("TMPDIR", scratch)
            .args(["cat"])
            .arg(&s.bundle)
            .arg("rocketchat/summary.json")
            .args(["-i", s.id()])
            .output()
            .expect("run");
        assert!(out.status.success());
        assert_eq!(out.stdout, node.files["rocketchat/summary.json"]);
    });
    bin()
        .arg("cat")
        .arg(&s.bundle)
        .arg("nope.json")
        .args(["-i", s.id()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no entry").and(predicate::str::contains("ls")));
}

#[test]
fn grep_searches_logs_of_several_bundles_like_ripgrep() {
    let s = setup();
    let mut n2 = Node::healthy("node2", "8.5.0");
    n2.append_log(&["2026-11-25T06:00:00.000000000Z stderr MongoServerSelectionError: Server selection timed out after 10000 ms"]);
    let b2 = s.write(&n2, "node2.rcdiag");
    leaves_no_file(|scratch| {
        let out = bin()
            .current_dir(scratch)
            .env("TMPDIR", scratch)
            .env("RCDIAG_IDENTITY", &s.key.identity)
            .args(["grep", "Rocket.Chat Version"])
            .arg(&s.bundle)
            .arg(&b2)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let text = stdout_of(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with("node1:logs/rocketchat-rocketchat-1.log:5:"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("node2:logs/rocketchat-rocketchat-1.log:5:"),
            "{text}"
        );
    });
    // Case-insensitive, one bundle matches.
    bin()
        .args(["grep", "-i", "mongoserverselectionerror"])
        .arg(&s.bundle)
        .arg(&b2)
        .arg("--identity")
        .arg(&s.key.identity)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "node2:logs/rocketchat-rocketchat-1.log:14:",
        ));
    // No match: 1.
    bin()
        .args(["grep", "no such text anywhere"])
        .arg(&s.bundle)
        .arg("--identity")
        .arg(&s.key.identity)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty());
}

#[test]
fn grep_files_and_all_select_what_is_searched() {
    let s = setup();
    let id = ["--identity", s.id()];
    // Logs only by default: JSON files are not searched.
    bin()
        .args(["grep", "wiredTiger"])
        .arg(&s.bundle)
        .args(id)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("logs/")
                .and(predicate::str::contains("mongodb/summary.json").not()),
        );
    bin()
        .args(["grep", "wiredTiger", "--all"])
        .arg(&s.bundle)
        .args(id)
        .assert()
        .success()
        .stdout(predicate::str::contains("node1:mongodb/summary.json:"));
    bin()
        .args(["grep", "wiredTiger", "--files", "mongodb/*.json"])
        .arg(&s.bundle)
        .args(id)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("mongodb/summary.json")
                .and(predicate::str::contains("logs/").not()),
        );
}

#[test]
fn grep_errors_exit_2_with_a_hint() {
    let s = setup();
    bin()
        .args(["grep", "(unclosed"])
        .arg(&s.bundle)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid regular expression"));
    // `-i KEY` by habit: the key is taken for a bundle; the hint explains.
    bin()
        .args(["grep", "x"])
        .arg(&s.bundle)
        .arg("-i")
        .arg(&s.key.identity)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--identity"));
}

#[test]
fn usage_errors_exit_2_in_every_command() {
    let s = setup();
    let b = s.bundle.to_str().expect("utf-8 path").to_string();
    let empty_trust = s.path("empty_signers");
    fs::write(&empty_trust, "# no keys\n").expect("write");
    let empty_trust = empty_trust.to_str().expect("utf-8 path").to_string();
    let bad_policy = s.path("bad.toml");
    fs::write(&bad_policy, "this is not = = toml").expect("write");
    let bad_policy = bad_policy.to_str().expect("utf-8 path").to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["check", &b, "--as-of", "yesterday"],
        vec!["check", &b, "--policy", &bad_policy],
        vec!["check", &b, "--format", "pdf"],
        vec!["verify", &b, "--trust", &empty_trust],
        vec!["ls", &b, "--trust", &empty_trust],
        vec!["cat", &b],
        vec!["diff", &b, &b, "--policy", &bad_policy],
        vec!["grep", "(unclosed", &b],
        vec!["grep", "x", &b, "--all", "--files", "logs/*"],
        vec!["policy", "show", "--policy", &bad_policy],
        vec!["completions", "tcsh"],
        vec!["man-pages", "/nonexistent/rcdiag-man"],
        vec!["keygen", "--bogus"],
    ];
    for args in cases {
        let out = bin()
            .args(&args)
            .args(["-i", s.id()].iter().filter(|_| {
                !matches!(
                    args[0],
                    "grep" | "policy" | "completions" | "man-pages" | "keygen"
                )
            }))
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
    // A bundle that does not verify is a runtime failure (1), not a usage error.
    fs::write(s.path("junk.rcdiag"), b"junk").expect("write");
    bin()
        .args(["verify", "-i", s.id()])
        .arg(s.path("junk.rcdiag"))
        .assert()
        .code(1);
}
