//! The report contract: the published JSON Schema (`analyzer/schema/report.schema.json`)
//! is generated from the report types and must be current; a report produced by
//! `check --format json` must validate against it; every renderer escapes hostile
//! bundle values.
//!
//! Regenerate the schema with `RCDIAG_UPDATE_SCHEMA=1 cargo test -p rcdiag-analyzer --test report`.

#[path = "../src/report/fixtures.rs"]
mod fixtures;

use std::path::PathBuf;

use assert_cmd::Command;
use fixtures::{AS_OF, Node, Protect, support_key};
use rcdiag_analyzer::report::{
    self, BundleInfo, CheckEntry, PolicyRef, Report, ReportEvidence, ReportOutcome, Summary,
    TextStyle, TrustLevel,
};
use rcdiag_bundle::NodeKey;
use serde_json::Value;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json")
}

#[test]
fn published_schema_is_current() {
    let generated = report::report_schema_json();
    let path = schema_path();
    if std::env::var_os("RCDIAG_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir schema");
        // Atomically, so a test reading it meanwhile never sees a half-written file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &generated).expect("write schema");
        std::fs::rename(&tmp, &path).expect("move schema into place");
        return;
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "{} is stale or missing: regenerate it with\n  RCDIAG_UPDATE_SCHEMA=1 cargo test -p rcdiag-analyzer --test report\nand commit it",
        path.display()
    );
}

/// A minimal JSON Schema (2020-12 subset that schemars emits) validator: `$ref` to
/// `#/$defs/...`, `type` (one or several), `properties`, `required`,
/// `additionalProperties: false`, `items`, `enum`, `const`, `oneOf`/`anyOf`, `minimum`.
/// Returns every violation with its JSON Pointer.
fn validate(schema: &Value, root: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r.strip_prefix('#').and_then(|p| root.pointer(p));
        match target {
            Some(t) => validate(t, root, value, at, errors),
            None => errors.push(format!("{at}: unresolvable $ref {r}")),
        }
        return;
    }
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = names.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: expected {names:?}, found {value}"));
            return;
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: expected const {c}, found {value}"));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        errors.push(format!("{at}: {value} not in enum {e:?}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        errors.push(format!("{at}: {n} below minimum {min}"));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let passing = alts
                .iter()
                .filter(|alt| {
                    let mut e = Vec::new();
                    validate(alt, root, value, at, &mut e);
                    e.is_empty()
                })
                .count();
            let ok = if key == "oneOf" {
                passing == 1
            } else {
                passing >= 1
            };
            if !ok {
                errors.push(format!(
                    "{at}: {passing} of the {key} alternatives match {value}"
                ));
            }
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: missing required {r:?}"));
                }
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root, v, &format!("{at}/{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected property {k:?}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(items, root, v, &format!("{at}/{i}"), errors);
        }
    }
}

fn schema() -> Value {
    serde_json::from_str(&report::report_schema_json()).expect("schema is JSON")
}

#[test]
fn the_validator_catches_shape_errors() {
    let schema = schema();
    let mut errors = Vec::new();
    let bad = serde_json::json!({"schema": "rcdiag.report/v1", "checks": [{"outcome": "maybe"}], "extra": 1});
    validate(&schema, &schema, &bad, "", &mut errors);
    let all = errors.join("\n");
    for want in [
        "missing required \"summary\"",
        "unexpected property \"extra\"",
        "/checks/0",
        "maybe",
    ] {
        assert!(all.contains(want), "validator missed {want:?}:\n{all}");
    }
}

#[test]
fn a_produced_report_validates_against_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = support_key(dir.path());
    let nk = NodeKey::generate();
    let a = Node::healthy("node1", "8.5.0").write(
        &dir.path().join("a.rcdiag"),
        Protect::Age(&key.recipient),
        &nk,
    );
    let mut n2 = Node::healthy("node2", "7.4.0");
    n2.edit_container("rocketchat-rocketchat-1", |c| {
        c["restart_count"] = 12.into()
    });
    let b = n2.write(&dir.path().join("b.rcdiag.zip"), Protect::Plain, &nk);
    let bad = dir.path().join("c.rcdiag");
    std::fs::write(&bad, b"garbage").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"))
        .env_remove("RCDIAG_IDENTITY")
        .arg("check")
        .args([&a, &b, &bad])
        .arg("-i")
        .arg(&key.identity)
        .args(["--keep-going", "--format", "json", "--as-of", AS_OF])
        .output()
        .expect("run");
    let report: Value = serde_json::from_slice(&out.stdout).expect("report is JSON");
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, &report, "", &mut errors);
    assert!(
        errors.is_empty(),
        "report does not match its schema:\n{}",
        errors.join("\n")
    );
    // It also deserializes into the report types.
    let typed: Report = serde_json::from_value(report).expect("typed report");
    assert_eq!(typed.bundles.len(), 3);
    let counts = Summary {
        unverified_signers: typed.summary.unverified_signers,
        ..Summary::of(&typed.checks)
    };
    assert_eq!(typed.summary, counts);
    // No --trust: every bundle read has an unpinned signer, and the report says so.
    let read = typed.bundles.iter().filter(|b| b.verified).count();
    assert_eq!(typed.summary.unverified_signers, read);
    assert!(typed.signer_notice.is_some());
}

fn hostile_report() -> Report {
    let evil = "<script>alert(1)</script>";
    let checks = vec![
        CheckEntry {
            id: "containers.restarting".into(),
            title: "Containers are not restarting".into(),
            area: "containers".into(),
            outcome: ReportOutcome::Warn,
            message: format!("container {evil} restarted 5 times | *bold* \u{1b}[31mred"),
            evidence: vec![ReportEvidence {
                bundle: "a.rcdiag".into(),
                node: evil.into(),
                file: Some("docker/containers.json".into()),
                pointer: Some("/0/restart_count".into()),
                line: None,
                value: Some(format!("\"{evil}\"")),
            }],
            remediation: "javascript:alert(1)".into(),
            causes: vec![],
            pieces: vec![],
        },
        CheckEntry {
            id: "image.official".into(),
            title: "Official image".into(),
            area: "image".into(),
            outcome: ReportOutcome::Pass,
            message: "ok".into(),
            evidence: vec![],
            remediation: "https://docs.rocket.chat/docs/deploy-with-docker-docker-compose".into(),
            causes: vec![],
            pieces: vec![],
        },
    ];
    Report {
        schema: report::SCHEMA_ID.into(),
        generator: "rcdiag-analyzer test".into(),
        policy: PolicyRef {
            name: "rocketchat".into(),
            version: 1,
            as_of: "2026-11-26".into(),
        },
        as_of: None,
        bundles: vec![BundleInfo {
            file: format!("{evil}.rcdiag"),
            id: Some("id".into()),
            node: Some(evil.into()),
            created_at: Some("2026-11-26T05:00:00Z".into()),
            signer_fingerprint: Some("SHA256:x".into()),
            encrypted: Some(true),
            verified: true,
            trust: TrustLevel::NotChecked,
            trust_principals: vec![],
            error: None,
        }],
        signer_notice: Some("signed by SHA256:x, not verified: pass --trust".into()),
        notes: vec![format!("note {evil}")],
        causes: vec![],
        summary: Summary::of(&checks),
        checks,
        long_values: vec![],
    }
}

#[test]
fn renderers_escape_hostile_bundle_values() {
    let r = hostile_report();
    let html = report::render_html(&r);
    assert!(!html.contains("<script>"), "raw script in HTML");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!html.contains("href=\"javascript:"), "only https links");
    let md = report::render_markdown(&r);
    // Inside code spans only (rendered as text; see the cmark-gfm test).
    assert!(!md.contains(" <script>"), "raw script in Markdown");
    assert!(md.contains("`<script>alert(1)</script>`"), "{md}");
    assert!(md.contains("\\|"), "pipes escaped in tables");
    let text = report::render_text(&r, TextStyle::Plain);
    assert!(!text.contains('\u{1b}'), "terminal escapes neutralized");
    assert!(text.contains("\\u{1b}[31m"));
}

#[test]
fn text_report_groups_by_area_in_first_seen_order() {
    let r = hostile_report();
    let text = report::render_text(&r, TextStyle::Plain);
    let containers = text.find("== containers ==").expect("area");
    let image = text.find("== image ==").expect("area");
    assert!(containers < image);
    assert!(
        text.contains("fix: javascript:alert(1)"),
        "remediation shown for non-passing checks"
    );
    assert!(
        text.ends_with("summary: 1 pass, 1 warn, 0 fail, 0 unknown -> WARN\n"),
        "{text}"
    );
    assert!(
        text.starts_with("rcdiag check: signed by SHA256:x, not verified: pass --trust\n"),
        "{text}"
    );
}

/// Renders Markdown with Debian's `cmark-gfm` and every GitHub extension that can
/// make links or HTML (autolink included), or None when it is not installed.
fn gfm_html(md: &str) -> Option<String> {
    let bin = ["/usr/bin/cmark-gfm", "/usr/local/bin/cmark-gfm"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "cmark-gfm is missing and RCDIAG_REQUIRE_PEERS=1: run `scripts/test-env install`"
            );
        }
        eprintln!("\n*** SKIPPED: cmark-gfm is not installed (apt-get install cmark-gfm) ***\n");
        return None;
    };
    let mut child = std::process::Command::new(bin)
        .args([
            "-e",
            "autolink",
            "-e",
            "table",
            "-e",
            "strikethrough",
            "-e",
            "tagfilter",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run cmark-gfm");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), md.as_bytes())
        .expect("write to cmark-gfm");
    let out = child.wait_with_output().expect("cmark-gfm output");
    assert!(out.status.success());
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every `href="..."` of `html`.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn markdown_rendered_by_gfm_links_nothing_from_the_bundle() {
    // A real report of a bundle full of linkable text: URLs, www. names, e-mails,
    // mentions, issue references and HTML, in the host name, container names,
    // images and log lines.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = support_key(dir.path());
    let node_key = NodeKey::generate();
    let lure = "https://login.evil.example/sso";
    let mut node = Node::healthy("www.evil.example", "7.4.0");
    node.edit_container("rocketchat-rocketchat-1", |c| {
        c["image"] = Value::String("www.evil.example/rocket.chat:7.4.0".into());
        c["status"] = Value::String(format!(
            "restarting, see {lure} or mail admin@evil.example @everyone #1"
        ));
        c["restart_count"] = Value::from(9);
    });
    node.append_log(&[&format!(
        "2026-11-25T06:00:00.000000000Z stderr MongoServerSelectionError: visit {lure}?u=<b>x</b> http://evil.example/a_b_c"
    )]);
    // Past 256 bytes: also in the report's long values table.
    node.append_log(&[&format!(
        "2026-11-25T06:00:01.000000000Z stderr MongoServerSelectionError: {}",
        format!("see {lure} www.evil.example/x admin@evil.example <b>y</b> ").repeat(5)
    )]);
    let b = node.write(
        &dir.path().join("n.rcdiag"),
        Protect::Age(&key.recipient),
        &node_key,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"))
        .env_remove("RCDIAG_IDENTITY")
        .args(["check", "--format", "markdown", "--as-of", AS_OF, "-i"])
        .arg(&key.identity)
        .arg(&b)
        .output()
        .expect("run check");
    let md = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        md.contains("evil.example"),
        "the hostile values are in the report: {md}"
    );
    assert!(md.contains("### Long values"), "{md}");
    let json = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"))
        .env_remove("RCDIAG_IDENTITY")
        .args(["check", "--format", "json", "--as-of", AS_OF, "-i"])
        .arg(&key.identity)
        .arg(&b)
        .output()
        .expect("run check");
    let report: Value = serde_json::from_slice(&json.stdout).expect("json report");
    let remediations: Vec<String> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["remediation"].as_str().map(str::to_string))
        .collect();
    let Some(html) = gfm_html(&md) else { return };
    let links = hrefs(&html);
    assert!(
        !links.is_empty(),
        "the policy's remediation links are there"
    );
    for href in links.iter().filter(|h| !h.starts_with("#cause-")) {
        assert!(
            remediations.iter().any(|r| r == href),
            "a link whose target came from the bundle: {href}\n{html}"
        );
        assert!(!href.contains("evil"), "{href}");
    }
    assert!(
        !html.contains("<b>"),
        "HTML from the bundle rendered: {html}"
    );
    assert!(html.contains("login.evil.example"), "shown as text");
}

/// Runs `check` on `bundle` in `format`; returns stdout.
fn check_report(bundle: &std::path::Path, identity: &std::path::Path, format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rcdiag-analyzer"))
        .env_remove("RCDIAG_IDENTITY")
        .arg("check")
        .arg(bundle)
        .arg("-i")
        .arg(identity)
        .args(["--format", format, "--as-of", AS_OF])
        .output()
        .expect("run");
    assert!(matches!(out.status.code(), Some(3..=5)), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8 report")
}

#[test]
fn a_long_value_is_shown_whole_once_and_the_report_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = support_key(dir.path());
    let nk = NodeKey::generate();
    // A 100 KiB container name with characters every renderer must escape.
    let unit = "rc-<b>*x*</b>\u{1b}[2J|`";
    let long: String = unit.repeat(100 * 1024 / unit.len());
    assert!(long.len() > 100_000);
    let write = |name: &str, file: &str| {
        let mut n = Node::healthy("node1", "8.5.0");
        n.edit_container("rocketchat-rocketchat-1", |c| {
            c["name"] = name.into();
            c["restart_count"] = 12.into();
        });
        n.write(&dir.path().join(file), Protect::Age(&key.recipient), &nk)
    };
    let with_long = write(&long, "long.rcdiag");
    let with_short = write("rocketchat-rocketchat-1", "short.rcdiag");
    type Escape = fn(&str) -> String;
    let formats: [(&str, Escape); 4] = [
        ("text", |s| report::sanitize_line(s)),
        ("markdown", |s| report::escape_markdown_in(s, false)),
        ("html", |s| report::escape_html(s)),
        ("json", |s| {
            report::json_escape_controls(&serde_json::to_string(s).expect("json"))
                .trim_matches('"')
                .to_string()
        }),
    ];
    for (format, escape) in formats {
        let long_report = check_report(&with_long, &key.identity, format);
        let short_report = check_report(&with_short, &key.identity, format);
        let escaped = escape(&long);
        assert_eq!(
            long_report.matches(escaped.as_str()).count(),
            1,
            "{format}: the value appears whole exactly once"
        );
        if format != "json" {
            assert!(!long_report.contains('\u{1b}'), "{format}: raw ESC");
        }
        let refs = long_report.matches(escape("whole as V1]").as_str()).count();
        assert!(
            refs >= 2,
            "{format}: cut with its id where it repeats ({refs})"
        );
        assert!(
            long_report.contains(&escape(&format!(
                "[cut, {} bytes, whole as V1]",
                long.len()
            ))),
            "{format}: the cut says the length"
        );
        // Once: the report grows by the escaped value and the cut references only.
        assert!(
            long_report.len() <= short_report.len() + escaped.len() + refs * 1024,
            "{format}: {} bytes against {} + {}",
            long_report.len(),
            short_report.len(),
            escaped.len()
        );
        assert!(
            long_report.len() <= report::max_report_bytes(1, 0),
            "{format}: under the stated bound"
        );
        if format == "json" {
            let v: Value = serde_json::from_str(&long_report).expect("json");
            let schema = schema();
            let mut errors = Vec::new();
            validate(&schema, &schema, &v, "", &mut errors);
            assert!(errors.is_empty(), "{}", errors.join("\n"));
            let typed: Report = serde_json::from_value(v).expect("typed");
            assert_eq!(typed.long_values.len(), 1);
            assert_eq!(typed.long_values[0].value, long);
            assert_eq!(typed.long_values[0].length, long.len());
            let short: Value = serde_json::from_str(&short_report).expect("json");
            assert!(short.get("long_values").is_none(), "left out when empty");
        }
    }
}
