//! The HTML report in a real headless browser (Debian's `chromium`): it renders (the
//! DOM holds every check id), runs no script and logs no script error, the screenshot
//! is not blank, and a hostile value from a bundle (`<script>alert(1)</script>` as a
//! host name and a container name) shows as text, never as markup.
//!
//! The layout at 1280 px (a laptop) and 390 px (a phone) wide, for the hostile report
//! and the committed samples' reports (`samples/*/expected-report.html`): no text
//! overflows its box or the page (outside the tables' own scroll boxes), no table
//! header wraps (the header once broke "protectio/n"), and a report with causes has
//! its causes section, each cause with its anchor. The layout is measured by a
//! script added to a copy of the page (the report itself runs none: its CSP forbids
//! scripts), which writes what it found into the DOM that `--dump-dom` prints.
//!
//! Without chromium the browser tests are skipped with a loud message, or fail when
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
    run_chromium_sized(bin, profile, extra, page, (1200, 1600))
}

/// [`run_chromium`] with a window of `size` (width, height) CSS pixels.
fn run_chromium_sized(
    bin: &Path,
    profile: &Path,
    extra: &[&str],
    page: &Path,
    size: (u32, u32),
) -> Output {
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
        ])
        .arg(format!("--window-size={},{}", size.0, size.1))
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

/// The browser, or `None` after a loud message (a panic under RCDIAG_REQUIRE_PEERS=1).
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        if std::env::var_os("RCDIAG_REQUIRE_PEERS").is_some_and(|v| v == "1") {
            panic!(
                "chromium is required (RCDIAG_REQUIRE_PEERS=1) but not found: apt-get install -y chromium"
            );
        }
        eprintln!("\n!!! SKIPPED {test}: chromium not found (apt-get install -y chromium) !!!\n");
    }
    found
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(browser) = chromium_or_skip("html_report_renders_in_headless_chromium") else {
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

/// Measures the layout once the page has loaded and posts the findings as JSON to the
/// page framing it ([`frame_page`]): boxes whose content is wider than they are (outside
/// the `.scroll` wrappers, which scroll on purpose), boxes reaching past the window,
/// a page wider than the window, table headers on more than one line, and the
/// causes section's anchors.
const LAYOUT_PROBE: &str = r#"<script>
addEventListener('load', () => {
  const W = document.documentElement.clientWidth;
  const bad = [];
  const say = (e, what) => bad.push(what + ': <' + e.tagName.toLowerCase() + ' class="' + e.className + '"> ' + (e.textContent || '').trim().slice(0, 80));
  if (document.documentElement.scrollWidth > W + 1) bad.push('page is ' + document.documentElement.scrollWidth + ' px wide in a ' + W + ' px window');
  for (const e of document.body.querySelectorAll('*')) {
    if (e.closest('.scroll')) continue;
    const cs = getComputedStyle(e);
    if (cs.display === 'none' || cs.display === 'inline') continue;
    if (cs.overflowX === 'visible' && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1) say(e, 'content ' + e.scrollWidth + ' px in a ' + e.clientWidth + ' px box');
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > W + 1) say(e, 'box ends at ' + Math.round(r.right) + ' px');
  }
  for (const th of document.querySelectorAll('th')) {
    const rg = document.createRange();
    rg.selectNodeContents(th);
    const tops = new Set([...rg.getClientRects()].map(r => Math.round(r.top)));
    if (tops.size > 1) say(th, 'header on ' + tops.size + ' lines');
  }
  const causes = document.getElementById('causes');
  parent.postMessage(JSON.stringify({
    width: W,
    bad: bad,
    causes: causes ? [...causes.querySelectorAll('li[id^="cause-"]')].map(li => li.id) : null,
  }), '*');
});
</script>"#;

/// The page that holds the report in a frame of the width measured (headless
/// chromium's window is at least 500 px wide; a frame can be a phone's 390) and
/// writes what the probe posts into `<pre id="rcdiag-layout">`.
fn frame_page(report: &str, width: u32) -> String {
    format!(
        r#"<!DOCTYPE html><html><body style="margin:0">
<iframe src="{report}" style="width:{width}px;height:900px;border:0"></iframe>
<script>
addEventListener('message', e => {{
  const p = document.createElement('pre');
  p.id = 'rcdiag-layout';
  p.textContent = e.data;
  document.body.appendChild(p);
}});
</script></body></html>"#
    )
}

/// What [`LAYOUT_PROBE`] found in `page` (a report) at `width` px.
fn layout(browser: &Path, dir: &Path, page: &Path, width: u32) -> Value {
    let html = std::fs::read_to_string(page).expect("read report");
    let csp = "<meta http-equiv=\"Content-Security-Policy\"";
    assert!(html.contains(csp), "{}: no CSP", page.display());
    // The copy allows the probe (and only inline script) instead of no script.
    let probed = html
        .replacen(
            "default-src 'none';",
            "default-src 'none'; script-src 'unsafe-inline';",
            1,
        )
        .replacen("</body>", &format!("{LAYOUT_PROBE}</body>"), 1);
    let name = page
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("page")
        .to_string();
    let copy = format!("{name}-{width}.html");
    std::fs::write(dir.join(&copy), probed).expect("write probed copy");
    let frame = dir.join(format!("frame-{name}-{width}.html"));
    std::fs::write(&frame, frame_page(&copy, width)).expect("write frame page");
    let out = run_chromium_sized(
        browser,
        &dir.join(format!("profile-{name}-{width}")),
        &["--dump-dom", "--virtual-time-budget=5000"],
        &frame,
        (width.max(500) + 40, 1000),
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = dom
        .find("<pre id=\"rcdiag-layout\">")
        .unwrap_or_else(|| panic!("{}: the layout probe did not run:\n{dom}", page.display()));
    let rest = &dom[start + "<pre id=\"rcdiag-layout\">".len()..];
    let end = rest.find("</pre>").expect("end of the probe's output");
    let json = rest[..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("probe output {json}: {e}"))
}

/// The committed samples' HTML reports (`samples/<dir>/expected-report*.html`).
fn sample_reports() -> Vec<PathBuf> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&samples)
        .expect("samples/")
        .filter_map(Result::ok)
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|f| f.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("expected-report") && n.ends_with(".html"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn html_report_fits_a_laptop_and_a_phone_and_shows_its_causes() {
    let Some(browser) =
        chromium_or_skip("html_report_fits_a_laptop_and_a_phone_and_shows_its_causes")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (hostile, _) = hostile_report(dir.path());
    let mut pages = sample_reports();
    assert!(
        pages
            .iter()
            .any(|p| p.ends_with("host-only/expected-report.html")),
        "the host-only sample's HTML report is committed: {pages:?}"
    );
    pages.push(hostile);
    let mut problems = Vec::new();
    for page in &pages {
        let html = std::fs::read_to_string(page).expect("read");
        // Each cause of the report, by its anchor, as the report was written.
        let anchors: Vec<String> = html
            .match_indices("<li id=\"cause-")
            .map(|(i, _)| {
                let rest = &html[i + "<li id=\"".len()..];
                rest[..rest.find('"').unwrap_or(0)].to_string()
            })
            .collect();
        for width in [1280, 390] {
            let found = layout(&browser, dir.path(), page, width);
            let shown = page.display();
            assert_eq!(found["width"], width, "{shown}: the window is {width} px");
            if let Some(bad) = found["bad"].as_array()
                && !bad.is_empty()
            {
                problems.push(format!(
                    "{shown} at {width} px:\n  {}",
                    bad.iter()
                        .map(|b| b.as_str().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ));
            }
            if !anchors.is_empty() {
                let rendered: Vec<String> = found["causes"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if rendered != anchors {
                    problems.push(format!(
                        "{shown} at {width} px: the causes section shows {rendered:?}, the report has {anchors:?}"
                    ));
                }
            }
        }
        // A report with undecided checks for lack of data must have the section.
        if page.ends_with("host-only/expected-report.html") {
            assert!(
                anchors.len() >= 3,
                "{}: the host-only report names its causes: {anchors:?}",
                page.display()
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
