//! The committed samples (`samples/`, made by `scripts/make-samples`; see
//! `samples/README.md`): they verify with the DEMO support key and the committed
//! `allowed_signers`, the analyzer's reports of them equal the committed expected
//! reports (golden files), and the verdicts that make each sample what it is hold.
//! They are committed files: no peer is needed.
//!
//! When a change of the analyzer changes a report on purpose, rewrite the expected
//! files with `RCDIAG_UPDATE_SAMPLES=1 cargo test -p rcdiag-e2e --test samples` and
//! review the diff (and `samples/README.md`, which quotes the verdicts).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcdiag_e2e::{bin, root};
use serde_json::Value;

/// The date the expected reports judge support at (bundles were made on it).
const AS_OF: &str = "2026-11-26";

/// One expected report: the bundles checked together, from inside `dir`.
struct Report {
    dir: &'static str,
    name: &'static str,
    bundles: &'static [&'static str],
}

const REPORTS: &[Report] = &[
    Report {
        dir: "compose-2node",
        name: "expected-report",
        bundles: &["node1.rcdiag", "node2.rcdiag"],
    },
    Report {
        dir: "noncompliant-single",
        name: "expected-report",
        bundles: &["rc-legacy.rcdiag"],
    },
    Report {
        dir: "snapshots",
        name: "expected-report-old",
        bundles: &["chat-01-old.rcdiag"],
    },
    Report {
        dir: "snapshots",
        name: "expected-report-new",
        bundles: &["chat-01-new.rcdiag"],
    },
    Report {
        dir: "kubernetes-helm",
        name: "expected-report",
        bundles: &["cluster.rcdiag"],
    },
    Report {
        dir: "kubernetes-noncompliant",
        name: "expected-report",
        bundles: &["cluster.rcdiag"],
    },
    Report {
        dir: "kubernetes-helm",
        name: "expected-report-nodes",
        bundles: &[
            "cluster.rcdiag",
            "worker-1.rcdiag",
            "worker-2.rcdiag",
            "worker-3.rcdiag",
        ],
    },
    Report {
        dir: "host-only",
        name: "expected-report",
        bundles: &["bare-host.rcdiag"],
    },
];

/// Every bundle of the samples, with the node name it was made as.
const BUNDLES: &[(&str, &str)] = &[
    ("compose-2node/node1.rcdiag", "node1"),
    ("compose-2node/node2.rcdiag", "node2"),
    ("noncompliant-single/rc-legacy.rcdiag", "rc-legacy"),
    ("snapshots/chat-01-old.rcdiag", "chat-01"),
    ("snapshots/chat-01-new.rcdiag", "chat-01"),
    ("kubernetes-helm/cluster.rcdiag", "k8s-helm"),
    ("kubernetes-noncompliant/cluster.rcdiag", "k8s-legacy"),
    ("kubernetes-helm/worker-1.rcdiag", "worker-1"),
    ("kubernetes-helm/worker-2.rcdiag", "worker-2"),
    ("kubernetes-helm/worker-3.rcdiag", "worker-3"),
    ("host-only/bare-host.rcdiag", "bare-host"),
];

/// The DEMO secrets scripts/make-samples gives the containers and the seeds hold
/// (scripts/seeds/*.json): the agent must have kept every one of them out.
const DEMO_SECRETS: &str = "Demo-Mongo-Pass-7f3a9c|demo-reg-token-1d2c3b4a5f6e7d8c|Demo-Grafana-Admin-Pw-42|Demo-Mongo-Root-Pw-0b9e|must-not-leak";

fn samples() -> PathBuf {
    root().join("samples")
}

fn updating() -> bool {
    std::env::var("RCDIAG_UPDATE_SAMPLES").as_deref() == Ok("1")
}

/// Runs the analyzer in `samples/<dir>` (reports name bundles as given), with no
/// identity from the environment and no colour.
fn analyzer(dir: &str, args: &[&str]) -> Output {
    Command::new(bin("rcdiag-analyzer"))
        .current_dir(samples().join(dir))
        .args(args)
        .env_remove("RCDIAG_IDENTITY")
        .env("NO_COLOR", "1")
        .output()
        .expect("run rcdiag-analyzer")
}

/// `rcdiag-analyzer diff` of the two snapshots of `samples/snapshots`, verified, in `format`.
fn snapshot_diff(format: &str) -> Output {
    analyzer(
        "snapshots",
        &[
            "diff",
            "chat-01-old.rcdiag",
            "chat-01-new.rcdiag",
            "-i",
            "../demo-support.key",
            "--trust",
            "../allowed_signers",
            "--format",
            format,
        ],
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `check` of one expected report in `format`: (exit status, stdout).
fn check(r: &Report, format: &str) -> (i32, String) {
    let mut args = vec!["check"];
    args.extend_from_slice(r.bundles);
    args.extend_from_slice(&[
        "-i",
        "../demo-support.key",
        "--trust",
        "../allowed_signers",
        "--as-of",
        AS_OF,
        "--format",
        format,
    ]);
    let out = analyzer(r.dir, &args);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        matches!(code, 0 | 3 | 4 | 6),
        "check of {}/{:?} ended with {code}:\n{}",
        r.dir,
        r.bundles,
        text(&out.stderr)
    );
    (code, text(&out.stdout))
}

fn check_json(r: &Report) -> (i32, Value) {
    let (code, out) = check(r, "json");
    let v = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{}/{}: report is not JSON ({e}):\n{out}", r.dir, r.name));
    (code, v)
}

fn report(dir: &str, name: &str) -> Value {
    let r = REPORTS
        .iter()
        .find(|r| r.dir == dir && r.name == name)
        .expect("known report");
    check_json(r).1
}

/// The analyzer's version is the only thing that changes with no change of the
/// bundles, the policy or the checks.
fn normalize_json(mut v: Value) -> Value {
    if let Some(g) = v.get_mut("generator") {
        *g = Value::String("rcdiag-analyzer VERSION".into());
    }
    v
}

/// `rcdiag-analyzer X.Y.Z[-pre]` becomes `rcdiag-analyzer VERSION`.
fn normalize_text(s: &str) -> String {
    const KEY: &str = "rcdiag-analyzer ";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len()]);
        rest = &rest[i + KEY.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
            .unwrap_or(rest.len());
        let word = rest[..end].trim_end_matches('.');
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str("VERSION");
            rest = &rest[word.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Where two texts first differ, for a readable failure.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (
            e.get(i).copied().unwrap_or("<end>"),
            a.get(i).copied().unwrap_or("<end>"),
        );
        if x != y {
            return format!(
                "first difference at line {}:\n  expected: {x}\n  actual:   {y}",
                i + 1
            );
        }
    }
    "they differ only in line endings".to_string()
}

const UPDATE_HINT: &str =
    "if the change is intended: RCDIAG_UPDATE_SAMPLES=1 cargo test -p rcdiag-e2e --test samples";

/// Compares `actual` with the committed text file `path` (normalized), or writes it
/// under RCDIAG_UPDATE_SAMPLES=1.
fn golden_text(path: &Path, actual: &str) -> Result<(), String> {
    if updating() {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("updated {}", path.display());
        return Ok(());
    }
    let expected = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} ({UPDATE_HINT})", path.display()))?;
    let (e, a) = (normalize_text(&expected), normalize_text(actual));
    if e == a {
        return Ok(());
    }
    Err(format!(
        "{} is not what the analyzer says now; {}\n({UPDATE_HINT})",
        path.display(),
        first_difference(&e, &a)
    ))
}

/// Compares the JSON `actual` with the committed `path` as values (normalized), or
/// writes it under RCDIAG_UPDATE_SAMPLES=1.
fn golden_json(path: &Path, actual: &str) -> Result<(), String> {
    if updating() {
        return golden_text(path, actual);
    }
    let expected = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} ({UPDATE_HINT})", path.display()))?;
    let parse = |what: &str, t: &str| {
        serde_json::from_str::<Value>(t)
            .map(normalize_json)
            .map_err(|e| format!("{}: {what} is not JSON: {e}", path.display()))
    };
    let (e, a) = (
        parse("the committed file", &expected)?,
        parse("the analyzer's output", actual)?,
    );
    if e == a {
        return Ok(());
    }
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    Err(format!(
        "{} is not what the analyzer says now; {}\n({UPDATE_HINT})",
        path.display(),
        first_difference(&pretty(&e), &pretty(&a))
    ))
}

fn checks_by_id(report: &Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .expect("checks array")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["outcome"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn outcome(report: &Value, id: &str) -> String {
    checks_by_id(report)
        .into_iter()
        .find(|(i, _, _)| i == id)
        .map(|(_, o, _)| o)
        .unwrap_or_else(|| panic!("no check {id} in the report"))
}

fn summary(report: &Value) -> String {
    checks_by_id(report)
        .iter()
        .map(|(i, o, _)| format!("{i}={o}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------------------------

#[test]
fn every_sample_bundle_verifies_with_the_demo_key_and_a_pinned_node_key() {
    for (bundle, node) in BUNDLES {
        let out = analyzer(
            ".",
            &[
                "verify",
                bundle,
                "-i",
                "demo-support.key",
                "--trust",
                "allowed_signers",
                "--format",
                "json",
            ],
        );
        assert!(
            out.status.success(),
            "{bundle}: verify failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{bundle}: verify --format json: {e}"));
        assert_eq!(v["valid"], true, "{bundle}: {v}");
        assert_eq!(
            v["protection"], "encrypted",
            "{bundle}: the samples are encrypted to the DEMO key"
        );
        assert_eq!(v["trust"], "trusted", "{bundle}: {v}");
        assert_eq!(
            v["trust_principals"],
            serde_json::json!([node]),
            "{bundle}: pinned as {node}"
        );
        assert_eq!(
            v["node"]["hostname"], *node,
            "{bundle}: made as node {node}"
        );
        for c in v["collectors"].as_array().expect("collectors") {
            // The node bundles of the cluster are `--only host`.
            if bundle.contains("/worker-") {
                let want = if c["name"] == "host" { "ok" } else { "skipped" };
                assert_eq!(c["status"], want, "{bundle}: {c}");
                continue;
            }
            // The host-only bundle was made with no peer: only the host collector
            // has something to read; every other one is skipped with its reason.
            if bundle.starts_with("host-only/") {
                let want = if c["name"] == "host" { "ok" } else { "skipped" };
                assert_eq!(c["status"], want, "{bundle}: {c}");
                assert!(
                    want == "ok" || c["error"].as_str().is_some_and(|e| !e.is_empty()),
                    "{bundle}: a skip says why: {c}"
                );
                continue;
            }
            // The cluster bundles: the compliant one as the CronJob collects
            // (`--only kubernetes,mongodb,rocketchat`), the other `--only kubernetes`;
            // the others are deselected.
            if bundle.starts_with("kubernetes-") {
                let selected: &[&str] = if bundle.starts_with("kubernetes-helm/") {
                    &["kubernetes", "mongodb", "rocketchat"]
                } else {
                    &["kubernetes"]
                };
                let want = if selected.iter().any(|s| c["name"] == *s) {
                    "ok"
                } else {
                    "skipped"
                };
                assert_eq!(c["status"], want, "{bundle}: {c}");
                continue;
            }
            // Docker nodes, not in a cluster: the kubernetes collector skips with its reason.
            if c["name"] == "kubernetes" && !bundle.starts_with("kubernetes-") {
                assert_eq!(c["status"], "skipped", "{bundle}: not in a cluster: {c}");
                assert!(
                    c["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("no Kubernetes cluster")),
                    "{bundle}: {c}"
                );
                continue;
            }
            assert_eq!(c["status"], "ok", "{bundle}: every collector ran: {c}");
        }
    }
    // The two nodes of one deployment look like two machines; the snapshots like one.
    let mid = |b: &str| {
        let out = analyzer(
            ".",
            &["verify", b, "-i", "demo-support.key", "--format", "json"],
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("json")["node"]["machine_id_hash"]
            .clone()
    };
    assert_ne!(
        mid("compose-2node/node1.rcdiag"),
        mid("compose-2node/node2.rcdiag")
    );
    assert_eq!(
        mid("snapshots/chat-01-old.rcdiag"),
        mid("snapshots/chat-01-new.rcdiag")
    );
}

#[test]
fn sample_bundles_need_the_demo_key_and_refuse_other_signers() {
    // Encrypted to the DEMO key only: there is no default key to fall back on.
    let out = analyzer(".", &["verify", "compose-2node/node1.rcdiag"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "opened without a key:\n{}",
        text(&out.stdout)
    );
    // A signer that is not pinned is refused, even with the right key.
    let dir = tempfile::tempdir().expect("tempdir");
    let only_node1 = dir.path().join("allowed_signers");
    let pub1 =
        std::fs::read_to_string(samples().join("state/node1/node_ed25519.pub")).expect("node1 key");
    std::fs::write(&only_node1, format!("node1 {}\n", pub1.trim())).expect("write");
    let trust = only_node1.to_str().expect("utf-8 path");
    let ok = analyzer(
        ".",
        &[
            "verify",
            "compose-2node/node1.rcdiag",
            "-i",
            "demo-support.key",
            "--trust",
            trust,
        ],
    );
    assert!(
        ok.status.success(),
        "node1 is pinned:\n{}",
        text(&ok.stderr)
    );
    let refused = analyzer(
        ".",
        &[
            "verify",
            "compose-2node/node2.rcdiag",
            "-i",
            "demo-support.key",
            "--trust",
            trust,
        ],
    );
    assert_eq!(
        refused.status.code(),
        Some(1),
        "node2 is not pinned:\n{}",
        text(&refused.stdout)
    );
}

#[test]
fn no_demo_secret_reached_a_sample_bundle() {
    for (bundle, _) in BUNDLES {
        let out = analyzer(
            ".",
            &[
                "grep",
                DEMO_SECRETS,
                bundle,
                "--all",
                "--identity",
                "demo-support.key",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{bundle}: a DEMO secret is in the bundle (or grep failed):\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn sample_reports_equal_the_committed_expected_reports() {
    let mut problems = Vec::new();
    for r in REPORTS {
        let dir = samples().join(r.dir);
        let (_, json) = check(r, "json");
        if let Err(m) = golden_json(&dir.join(format!("{}.json", r.name)), &json) {
            problems.push(m);
        }
        for (format, ext) in [("markdown", "md"), ("text", "txt"), ("html", "html")] {
            let (_, out) = check(r, format);
            if let Err(m) = golden_text(&dir.join(format!("{}.{ext}", r.name)), &out) {
                problems.push(m);
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn snapshot_diff_equals_the_committed_expected_diff() {
    let mut problems = Vec::new();
    for (format, ext) in [("json", "json"), ("text", "txt")] {
        let out = snapshot_diff(format);
        assert!(
            out.status.success(),
            "diff --format {format} failed:\n{}",
            text(&out.stderr)
        );
        let path = samples().join(format!("snapshots/expected-diff.{ext}"));
        let got = text(&out.stdout);
        let result = if format == "json" {
            golden_json(&path, &got)
        } else {
            golden_text(&path, &got)
        };
        if let Err(m) = result {
            problems.push(m);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn compliant_two_node_compose_sample_has_no_failure() {
    let r = REPORTS
        .iter()
        .find(|r| r.dir == "compose-2node")
        .expect("compose-2node");
    let (code, rep) = check_json(r);
    let all = summary(&rep);
    let fails: Vec<_> = checks_by_id(&rep)
        .into_iter()
        .filter(|(_, o, _)| o == "fail")
        .collect();
    assert!(fails.is_empty(), "the compliant sample fails: {fails:?}");
    assert_ne!(code, 3, "exit 3 means a failure: {all}");
    // scripts/make-images pushes the stand-in to the registry mirror of scripts/test-env
    // and pulls it back as rocketchat/rocket.chat: the engine recorded its repo digest,
    // which is the evidence that it was pulled from the official repository.
    assert_eq!(outcome(&rep, "image.official"), "pass", "{all}");
    let official = rep["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "image.official"))
        .expect("image.official");
    let digests: Vec<&str> = official["evidence"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| {
                    e["pointer"]
                        .as_str()
                        .is_some_and(|p| p.ends_with("/repo_digests"))
                })
                .filter_map(|e| e["value"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(digests.len(), 2, "one repo digest per node: {official}");
    for d in &digests {
        assert!(
            d.starts_with("rocketchat/rocket.chat@sha256:") && d.len() == 30 + 64,
            "{d}"
        );
    }
    // No NTP tool where they were made, but both nodes read rs0's clock: compared.
    assert_eq!(outcome(&rep, "host.clock-skew"), "pass", "{all}");
    for id in [
        "deploy.method",
        "scale.orchestrated",
        "monitoring.prometheus",
        "monitoring.grafana",
        "version.supported",
        "version.consistent",
        "mongodb.version",
        "mongodb.replica-set",
        "bundle.complete",
        "bundle.signer-trusted",
    ] {
        assert_eq!(outcome(&rep, id), "pass", "{id}: {all}");
    }
    // Two live instances: a scaled installation, and it is orchestrated by compose.
    let scale = checks_by_id(&rep)
        .into_iter()
        .find(|(i, _, _)| i == "scale.orchestrated")
        .expect("scale")
        .2;
    assert!(
        scale.contains("scaled installation") && scale.contains("docker-compose"),
        "{scale}"
    );
    assert_eq!(
        rep["bundles"].as_array().map(Vec::len),
        Some(2),
        "two nodes"
    );
    assert!(
        rep["notes"].as_array().is_some_and(Vec::is_empty),
        "two distinct nodes, one deployment: {}",
        rep["notes"]
    );
}

#[test]
fn noncompliant_sample_fails_the_requirements_it_breaks() {
    let rep = report("noncompliant-single", "expected-report");
    let all = summary(&rep);
    for id in ["image.official", "scale.orchestrated", "version.supported"] {
        assert_eq!(outcome(&rep, id), "fail", "{id}: {all}");
    }
    for id in ["monitoring.prometheus", "monitoring.grafana"] {
        assert_eq!(outcome(&rep, id), "warn", "{id}: {all}");
    }
    // What else is wrong with it, per the facts: MongoDB 7.0 with Rocket.Chat 6.9, a
    // standalone server, a bypass switch, Rocket.Chat and MongoDB on 2 vCPU.
    for id in [
        "mongodb.version",
        "mongodb.replica-set",
        "mongodb.bypass-flags",
        "hardware.cpu",
    ] {
        assert_eq!(outcome(&rep, id), "fail", "{id}: {all}");
    }
    let msgs = checks_by_id(&rep);
    let msg = |id: &str| {
        msgs.iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, _, m)| m.clone())
            .unwrap_or_default()
    };
    assert!(
        msg("image.official").contains("myregistry.local/rc-custom"),
        "{}",
        msg("image.official")
    );
    assert!(
        msg("version.supported").contains("6.9.0")
            && msg("version.supported").contains("2024-12-31"),
        "{}",
        msg("version.supported")
    );
    assert!(
        msg("scale.orchestrated").contains("3 instance")
            && msg("scale.orchestrated").contains("2500"),
        "{}",
        msg("scale.orchestrated")
    );
}

#[test]
fn snapshot_pair_diff_shows_the_upgrade() {
    let out = snapshot_diff("json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).expect("diff json");
    assert!(
        d["warnings"].as_array().is_some_and(Vec::is_empty),
        "same node, right order: {}",
        d["warnings"]
    );
    let changes = d["changes"].as_array().expect("changes");
    let has = |area: &str, pred: &dyn Fn(&Value) -> bool| {
        changes.iter().any(|c| c["area"] == area && pred(c))
    };
    assert!(
        has("rocketchat", &|c| c["kind"] == "changed"
            && c["old"] == "8.4.0"
            && c["new"] == "8.5.0"),
        "no Rocket.Chat version change 8.4.0 -> 8.5.0 in {changes:#?}"
    );
    assert!(
        has("containers", &|c| c["field"] == "image"
            && c["new"] == "rocketchat/rocket.chat:8.5.0"),
        "no image change in {changes:#?}"
    );
    assert!(
        has("containers", &|c| c["kind"] == "added"
            && c["item"] == "rocketchat-grafana-1"),
        "Grafana not added in {changes:#?}"
    );
    assert!(
        has("users", &|c| c["kind"] == "changed"),
        "no user count change in {changes:#?}"
    );
    // The version change is also what the two reports disagree on.
    assert_eq!(
        outcome(
            &report("snapshots", "expected-report-old"),
            "version.supported"
        ),
        "fail"
    );
    assert_eq!(
        outcome(
            &report("snapshots", "expected-report-new"),
            "version.supported"
        ),
        "pass"
    );
}

#[test]
fn kubernetes_samples_say_what_makes_them_compliant_or_not() {
    let rep = report("kubernetes-helm", "expected-report");
    let all = summary(&rep);
    for id in [
        "kubernetes.resources",
        "kubernetes.pdb",
        "kubernetes.replicas-ready",
        "kubernetes.mongodb",
        "bundle.signer-trusted",
    ] {
        assert_eq!(outcome(&rep, id), "pass", "{id}: {all}");
    }
    // A compliant install: nothing fails; the only warning is the recent Warning
    // events (a FailedScheduling and an image pull error), listed as findings.
    assert_eq!(rep["summary"]["fail"], 0, "{all}");
    for id in [
        "mongodb.version",
        "containers.restarting",
        "bundle.complete",
        "deploy.method",
        "host.clock-skew",
    ] {
        assert_eq!(outcome(&rep, id), "pass", "{id}: {all}");
    }
    assert_eq!(outcome(&rep, "kubernetes.warning-events"), "warn", "{all}");
    let msgs = checks_by_id(&rep);
    let msg = |id: &str| {
        msgs.iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, _, m)| m.clone())
            .unwrap_or_default()
    };
    assert!(
        msg("kubernetes.pdb").contains("rocketchat/rocketchat-rocketchat (3 replicas)"),
        "{}",
        msg("kubernetes.pdb")
    );
    assert!(msg("kubernetes.warning-events").contains("FailedScheduling"));
    // MongoDB 8.0.1 in the pods' image, the logs' startup box and the server read.
    assert!(
        msg("mongodb.version").contains("MongoDB 8.0.1 is supported by Rocket.Chat 8.6.1"),
        "{}",
        msg("mongodb.version")
    );
    // The host, docker and logs collectors were deselected on the cluster bundle on
    // purpose: noted, not a gap.
    assert!(
        msg("bundle.complete")
            .contains("a cluster bundle, so host, docker, logs deselected on purpose"),
        "{}",
        msg("bundle.complete")
    );

    let rep = report("kubernetes-noncompliant", "expected-report");
    let all = summary(&rep);
    for id in ["kubernetes.resources", "kubernetes.mongodb"] {
        assert_eq!(outcome(&rep, id), "fail", "{id}: {all}");
    }
    assert_eq!(outcome(&rep, "kubernetes.warning-events"), "warn", "{all}");
    // `--only kubernetes`: deselected on a cluster bundle is not a gap there either.
    assert_eq!(outcome(&rep, "bundle.complete"), "pass", "{all}");
    let msgs = checks_by_id(&rep);
    let m = msgs
        .iter()
        .find(|(i, _, _)| i == "kubernetes.mongodb")
        .map(|(_, _, m)| m.clone())
        .unwrap_or_default();
    assert!(m.contains("Deployment chat/mongo"), "{m}");
}

#[test]
fn kubernetes_samples_are_judged_on_their_pods_too() {
    let rep = report("kubernetes-helm", "expected-report");
    let all = summary(&rep);
    for id in [
        "image.official",
        "scale.orchestrated",
        "monitoring.prometheus",
        "monitoring.grafana",
        "version.supported",
        "version.consistent",
        "mongodb.replica-set",
        "logs.known-errors",
        "containers.restarting",
        "hardware.cpu",
        "hardware.memory",
        "hardware.disk",
    ] {
        assert_eq!(outcome(&rep, id), "pass", "{id}: {all}");
    }
    let msg = |rep: &Value, id: &str| {
        checks_by_id(rep)
            .into_iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, _, m)| m)
            .unwrap_or_default()
    };
    assert!(msg(&rep, "scale.orchestrated").contains("Kubernetes with Helm"));
    // Pod logs read through the API are scanned.
    assert!(msg(&rep, "logs.known-errors").contains("log file(s)"));
    // The user count comes from the database the cluster bundle read (the CronJob's
    // mongodb and rocketchat collectors): the hardware tier is known.
    assert!(
        msg(&rep, "hardware.cpu").contains("tier Pro for 42 concurrent users"),
        "{}",
        msg(&rep, "hardware.cpu")
    );
    let unknown = |rep: &Value| {
        checks_by_id(rep)
            .iter()
            .filter(|(_, o, _)| o == "unknown")
            .count()
    };
    // Was 18 before the checks read the cluster view, 6 before the cluster bundle read
    // the database; host.disk-free needs the node bundles.
    let alone = unknown(&rep);
    assert!(alone <= 1, "{alone} unknown: {all}");

    let rep = report("kubernetes-noncompliant", "expected-report");
    let all = summary(&rep);
    for id in [
        "image.official",
        "version.supported",
        "version.consistent",
        "containers.restarting",
    ] {
        assert_eq!(outcome(&rep, id), "fail", "{id}: {all}");
    }
    for id in [
        "monitoring.prometheus",
        "monitoring.grafana",
        "mongodb.replica-set",
    ] {
        assert_eq!(outcome(&rep, id), "warn", "{id}: {all}");
    }
    assert!(msg(&rep, "image.official").contains("myregistry.local/rc-custom"));
    // Without the database, the hardware checks say exactly what to add.
    assert_eq!(outcome(&rep, "hardware.memory"), "unknown", "{all}");
    assert!(
        msg(&rep, "hardware.memory").contains(
            "add the mongodb and rocketchat collectors to the cluster bundle: rcdiag-agent collect --only kubernetes,mongodb,rocketchat"
        ),
        "{}",
        msg(&rep, "hardware.memory")
    );

    // The cluster bundle with the node bundles of its three nodes: one cluster, the
    // nodes' host facts attached to the Kubernetes nodes of the same name.
    let rep = report("kubernetes-helm", "expected-report-nodes");
    let all = summary(&rep);
    assert!(unknown(&rep) <= alone, "{all}");
    let cpu = rep["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "hardware.cpu")
        .unwrap()
        .clone();
    for w in ["worker-1", "worker-2", "worker-3"] {
        assert!(
            cpu["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["bundle"] == format!("{w}.rcdiag") && e["file"] == "host/host.json"),
            "{w}: {cpu}"
        );
    }
    // No Kubernetes node is judged on its capacity when its own bundle is given.
    assert!(!cpu.to_string().contains("/capacity/cpu"), "{cpu}");
    for id in ["host.disk-free", "image.official", "version.supported"] {
        assert_ne!(outcome(&rep, id), "unknown", "{id}: {all}");
    }
    assert!(
        rep["notes"].as_array().is_none_or(|n| n.is_empty()),
        "{}",
        rep["notes"]
    );
}

/// The host-only sample (no Docker Engine, no MongoDB, no cluster): INCOMPLETE, and
/// each skip reason is said once at the top, not once per check.
#[test]
fn host_only_sample_is_incomplete_and_says_each_skip_reason_once() {
    let r = REPORTS
        .iter()
        .find(|r| r.dir == "host-only")
        .expect("host-only");
    let (code, rep) = check_json(r);
    let all = summary(&rep);
    assert_eq!(code, 6, "INCOMPLETE exits 6: {all}");
    assert_eq!(rep["summary"]["verdict"], "incomplete", "{all}");
    let unknown = rep["summary"]["unknown"].as_u64().unwrap_or_default();
    let applicable = ["pass", "warn", "fail", "unknown"]
        .iter()
        .map(|k| rep["summary"][k].as_u64().unwrap_or_default())
        .sum::<u64>();
    assert!(unknown * 2 > applicable, "{unknown} of {applicable}: {all}");
    // JSON keeps the full reason on every check that cites it, and the causes list
    // names each once.
    let causes = rep["causes"].as_array().expect("causes");
    let docker = causes
        .iter()
        .find(|c| c["id"] == "collector-skipped:docker")
        .expect("the docker cause");
    assert!(
        docker["checks"]
            .as_array()
            .is_some_and(|c| c.iter().any(|id| id == "image.official")),
        "{docker}"
    );
    let reason = "no Docker Engine at unix:///nonexistent/docker.sock";
    let with_reason = rep["checks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["message"].as_str().is_some_and(|m| m.contains(reason)))
                .count()
        })
        .unwrap_or_default();
    assert!(
        with_reason >= 5,
        "JSON keeps the reason per check: {with_reason}"
    );

    // The text report: the docker skip reason at most twice (the docker cause and
    // the logs cause, which shares it); the MongoDB one too (mongodb, rocketchat).
    let (_, text) = check(r, "text");
    for needle in [
        reason,
        "no MongoDB URI: pass --mongodb-uri",
        "no Kubernetes cluster: no kubeconfig given",
    ] {
        let n = text.matches(needle).count();
        assert!(
            (1..=2).contains(&n),
            "{needle:?} appears {n} times in the text report:\n{text}"
        );
    }
    // Every undecided check refers to its cause instead.
    assert!(text.contains("image.official  Official Rocket.Chat image\n        no Rocket.Chat container found: docker collector skipped [cause 1]"), "{text}");
    assert!(text.contains("verdict: INCOMPLETE"), "{text}");
}

/// The `kubernetes.*` checks do not apply to a Docker install: each report format
/// shows them as N/A with their own count, and they count neither way in the verdict.
#[test]
fn docker_samples_show_the_kubernetes_checks_as_not_applicable() {
    let r = REPORTS
        .iter()
        .find(|r| r.dir == "compose-2node")
        .expect("compose-2node");
    let (_, rep) = check_json(r);
    let na: Vec<String> = checks_by_id(&rep)
        .into_iter()
        .filter(|(_, o, _)| o == "not_applicable")
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(na.len(), 5, "{na:?}");
    assert!(na.iter().all(|id| id.starts_with("kubernetes.")), "{na:?}");
    assert_eq!(rep["summary"]["not_applicable"], 5);
    assert_eq!(rep["summary"]["verdict"], "warn", "{}", rep["summary"]);
    let (_, text) = check(r, "text");
    assert!(
        text.contains("\nN/A     kubernetes.resources  ")
            && text.contains("0 unknown, 5 N/A -> WARN"),
        "{text}"
    );
    let (_, md) = check(r, "markdown");
    assert!(
        md.contains("| ➖ N/A (does not apply) | 5 |") && md.contains("- ➖ N/A `kubernetes.pdb`"),
        "{md}"
    );
    let (_, html) = check(r, "html");
    assert!(
        html.contains(r#"<span class="badge not_applicable">N/A</span>"#)
            && html.contains(r#"<span class="n">5</span><span class="l">n/a</span>"#),
        "N/A badge and card"
    );
}
