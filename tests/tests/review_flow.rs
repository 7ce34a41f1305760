//! The customer's review flow seen from support's side: a bundle collected plain,
//! re-redacted and sealed is verified by the analyzer, which says both facts (sealed
//! after review; re-redacted, with the rules and counts), in text and JSON.

use std::process::Command;

use rcdiag_e2e::bin;

fn last_line(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn verify_says_sealed_after_review_and_re_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let plain = last_line(
        &Command::new(bin("rcdiag-agent"))
            .args([
                "collect",
                "--no-encrypt",
                "--only",
                "host",
                "-q",
                "--config",
                "/dev/null",
            ])
            .arg("--state-dir")
            .arg(&state)
            .arg("-o")
            .arg(d)
            .output()
            .unwrap(),
        "collect",
    );
    let redone_dir = d.join("reviewed");
    std::fs::create_dir(&redone_dir).unwrap();
    let redone = last_line(
        &Command::new(bin("rcdiag-agent"))
            .args(["redact", &plain, "--literal", "Linux"])
            .arg("--state-dir")
            .arg(&state)
            .arg("-o")
            .arg(&redone_dir)
            .output()
            .unwrap(),
        "redact",
    );
    let key = rcdiag_bundle::generate_support_key();
    let idfile = d.join("support.key");
    std::fs::write(&idfile, &key.identity_file).unwrap();
    let sealed = last_line(
        &Command::new(bin("rcdiag-agent"))
            .args(["seal", &redone, "-r", &key.recipient])
            .output()
            .unwrap(),
        "seal",
    );
    let verify = Command::new(bin("rcdiag-analyzer"))
        .args(["verify", &sealed, "-i"])
        .arg(&idfile)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(
        text.contains("sealed after the customer reviewed the plain bundle"),
        "{text}"
    );
    assert!(
        text.contains("re-redacted ") && text.contains("literal-1="),
        "{text}"
    );
    let json = Command::new(bin("rcdiag-analyzer"))
        .args(["verify", &sealed, "--format", "json", "-i"])
        .arg(&idfile)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("verify --format json");
    let details = &v;
    assert_eq!(details["sealed_after_review"], true, "{v:#}");
    assert!(
        details["redaction"]["re_redactions"][0]["rules"]["literal-1"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{v:#}"
    );
    // A bundle encrypted at collection is not called sealed.
    let direct = last_line(
        &Command::new(bin("rcdiag-agent"))
            .args([
                "collect",
                "--only",
                "host",
                "-q",
                "--config",
                "/dev/null",
                "-r",
                &key.recipient,
            ])
            .arg("--state-dir")
            .arg(&state)
            .arg("-o")
            .arg(&redone_dir)
            .output()
            .unwrap(),
        "collect encrypted",
    );
    let verify = Command::new(bin("rcdiag-analyzer"))
        .args(["verify", &direct, "-i"])
        .arg(&idfile)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&verify.stdout).contains("sealed after"));
}
