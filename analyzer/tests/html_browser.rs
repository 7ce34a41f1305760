//! The HTML report in a real headless browser (Debian's `chromium`): it renders (the
//! DOM holds every check id), runs no script and logs no script error, the screenshot
//! is not blank, and a hostile value from a bundle (`<script>alert(1)</script>` as a
//! host name and a container name) shows as text, never as markup.
//!
//! Without chromium the browser test is skipped with a loud message, or fails when
//! `RCDIAG_REQUIRE_PEERS=1`. `CHROMIUM=/path` picks another binary;
//! `RCDIAG_KEEP_SCREENSHOT=/path/shot.png` keeps the screenshot to look at.

#[path = "../src/report/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use fixtures::{AS_OF, Node, Protect, support_key};
use rcdiag_bundle::NodeKey;
use serde_json::Value;

const EVIL: &str = "<script>alert(1)</script>";

/// A report of one healthy node and one hostile one; returns (html path, check ids).
fn hostile_report(dir: &Path) -> (PathBuf, Vec<String>) {
    let key = support_key(dir);
    let nk = NodeKey::generate();
    let good = Node::healthy("node1", "8.5.0").write(
        &dir.join("node1.rcdiag"),
        Protect::Age(&key.recipient),
        &nk,
    );
    let mut evil = Node::healthy(EVIL, "8.5.0");
    evil.edit_container("rocketchat-rocketchat-1", |c| {
        c["name"] = EVIL.into();
        c["restart_count"] = 5.into();
    });
    evil.edit("rocketchat/settings.json", |v| {
        v["Site_Url"] = format!("https://x/{EVIL}").into()
    });
    let bad = evil.write(&dir.join("evil.rcdiag"), Protect::Age(&key.recipient), &nk);
    let html = dir.join("report.html");
    let run = |format: &str, out: Option<&Path>| -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"));
        c.env_remove("RCDIAG_IDENTITY")
            .arg("check")
            .arg(&good)
            .arg(&bad)
            .arg("-i")
            .arg(&key.identity)
            .args(["--as-of", AS_OF, "--format", format]);
        if let Some(o) = out {
            c.arg("-o").arg(o);
        }
        c.output().expect("run rcdiag-analyzer")
    };
    let json = run("json", None);
    let report: Value = serde_json::from_slice(&json.stdout).expect("json report");
    let ids: Vec<String> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    let out = run("html", Some(&html));
    assert!(
        matches!(out.status.code(), Some(0 | 3 | 4 | 5)),
        "check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (html, ids)
}

#[test]
fn html_report_escapes_hostile_bundle_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (html, _) = hostile_report(dir.path());
    let text = std::fs::read_to_string(&html).expect("report");
    assert!(
        !text.to_lowercase().contains("<script"),
        "a <script> tag reached the report"
    );
    assert!(
        text.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "the hostile host name is shown, escaped (askama's entities)"
    );
    assert!(
        text.contains("Content-Security-Policy"),
        "CSP forbids scripts even if escaping failed"
    );
    assert!(
        !text.contains(" src=") && !text.contains("<link") && !text.contains("url("),
        "no external asset"
    );
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        StdCommand::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| PathBuf::from(name))
    })
}

/// Runs headless chromium on `page` with `extra` arguments; kills it after 120 s.
fn run_chromium(bin: &Path, profile: &Path, extra: &[&str], page: &Path) -> Output {
    let mut child = StdCommand::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait chromium") {
            Some(_) => break,
            None if started.elapsed() > Duration::from_secs(120) => {
                let _ = child.kill();
                panic!("chromium did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    child.wait_with_output().expect("chromium output")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(png[20..24].try_into().ok()?);
    Some((w, h))
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var_os("RCDIAG_REQUIRE_PEERS").is_some_and(|v| v == "1") {
            panic!(
                "chromium is required (RCDIAG_REQUIRE_PEERS=1) but not found: apt-get install -y chromium"
            );
        }
        eprintln!(
            "\n!!! SKIPPED html_report_renders_in_headless_chromium: chromium not found (apt-get install -y chromium) !!!\n"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (html, ids) = hostile_report(dir.path());
    assert!(!ids.is_empty(), "the report has checks");

    // The DOM: every check id, the hostile value as text, no script element.
    let dom = run_chromium(
        &browser,
        &dir.path().join("profile-dom"),
        &["--dump-dom"],
        &html,
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let dom_err = String::from_utf8_lossy(&dom.stderr);
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {dom_err}"
    );
    for id in &ids {
        assert!(
            dom_text.contains(id.as_str()),
            "check {id} not in the rendered DOM"
        );
    }
    assert!(
        dom_text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "hostile value rendered as text"
    );
    assert!(
        !dom_text.to_lowercase().contains("<script"),
        "a script element exists in the DOM"
    );
    assert!(!dom_err.contains("Uncaught"), "script error: {dom_err}");

    // The screenshot: right size, and far from blank (compared with an empty page).
    let shot = dir.path().join("report.png");
    let run = run_chromium(
        &browser,
        &dir.path().join("profile-shot"),
        &[&format!("--screenshot={}", shot.display())],
        &html,
    );
    let shot_err = String::from_utf8_lossy(&run.stderr);
    assert!(!shot_err.contains("Uncaught"), "script error: {shot_err}");
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}): {shot_err}"));
    assert_eq!(
        png_size(&png),
        Some((1200, 1600)),
        "screenshot is a 1200x1600 PNG"
    );
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").expect("write");
    let blank_shot = dir.path().join("blank.png");
    run_chromium(
        &browser,
        &dir.path().join("profile-blank"),
        &[&format!("--screenshot={}", blank_shot.display())],
        &blank_page,
    );
    let blank = std::fs::read(&blank_shot).expect("blank screenshot");
    assert!(
        png.len() > 20 * 1024 && png.len() > 4 * blank.len(),
        "the screenshot looks blank: {} bytes vs {} for an empty page",
        png.len(),
        blank.len()
    );
    if let Some(keep) = std::env::var_os("RCDIAG_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep screenshot");
    }
}
