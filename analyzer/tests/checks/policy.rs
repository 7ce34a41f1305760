//! The policy: validation, parsing, lookups.

use super::*;

#[test]
fn policy_builtin_validates() {
    let p = Policy::builtin();
    assert!(
        p.validate(CheckId::NAMES).is_empty(),
        "{:?}",
        p.validate(CheckId::NAMES)
    );
    assert_eq!(p.name, "rocketchat");
    assert_eq!(p.as_of, date("2026-11-26"));
    assert_eq!(p.releases.table.len(), 36, "every row of facts §4");
    for info in CHECKS {
        assert!(
            p.checks.contains_key(info.id.as_str()),
            "{} has remediation and source",
            info.id
        );
    }
}

#[test]
fn policy_roundtrips_through_toml() {
    let p = Policy::builtin();
    let again = Policy::from_toml(&p.to_toml(), CheckId::NAMES).expect("to_toml parses back");
    assert_eq!(p, again);
}

#[test]
fn policy_broken_is_rejected_with_clear_messages() {
    let text = rcdiag_analyzer::policy::BUILTIN
        .replace("version = \"6.1\"", "version = \"6.0\"")
        .replace("'(^|/)prom/prometheus$'", "'(unclosed'")
        .replace(
            "disk_free_fail_percent = 10.0",
            "disk_free_fail_percent = 25.0",
        )
        .replace("eol = \"2027-06-30\"", "eol = \"2027-06-15\"")
        .replace("source = \"monitoring\"\n", "source = \"nowhere\"\n");
    let err = Policy::from_toml(&text, CheckId::NAMES).expect_err("broken policy");
    let msg = err.to_string();
    for needle in [
        "policy is invalid",
        "releases.table \"6.0\": versions must be sorted ascending and unique",
        "monitoring.prometheus_images: pattern \"(unclosed\" does not compile",
        "disk_free_fail_percent (25) < disk_free_warn_percent (20)",
        "eol 2027-06-15 is not the last day of its month",
        "source \"nowhere\" is not defined in [sources]",
    ] {
        assert!(msg.contains(needle), "message lacks {needle:?}:\n{msg}");
    }
}

#[test]
fn policy_parse_errors_are_clear() {
    let err = Policy::from_toml("name = 5", CheckId::NAMES).expect_err("wrong type");
    assert!(
        err.to_string()
            .starts_with("policy does not parse at line 1, column 8:"),
        "{err}"
    );
    // Real newlines: where and what, the policy's line, a caret under the column;
    // a control character of the file is escaped.
    let err = Policy::from_toml("name = \"x\"\nversion = = 1 # \u{1b}[2J\n", CheckId::NAMES)
        .expect_err("syntax");
    let lines: Vec<String> = err.to_string().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("policy does not parse at line 2, column 11: "),
        "{lines:?}"
    );
    assert!(!lines[0].contains("\\u{a}"), "{lines:?}");
    assert_eq!(lines[1], " 2 | version = = 1 # \\u{1b}[2J");
    assert_eq!(lines[2], "   |           ^");
    assert!(!err.to_string().contains('\u{1b}'));
    let text =
        rcdiag_analyzer::policy::BUILTIN.replace("as_of = \"2026-11-26\"", "as_of = \"yesterday\"");
    assert!(Policy::from_toml(&text, CheckId::NAMES).is_err());
    let text = format!(
        "{}\nunexpected_key = 1\n",
        rcdiag_analyzer::policy::BUILTIN.replacen(
            "name = \"rocketchat\"",
            "name = \"rocketchat\"\nbogus = true",
            1
        )
    );
    let err = Policy::from_toml(&text, CheckId::NAMES).expect_err("unknown field");
    assert!(err.to_string().contains("bogus"), "{err}");
    let err = Policy::load(
        std::path::Path::new("/nonexistent/policy.toml"),
        CheckId::NAMES,
    )
    .expect_err("missing file");
    assert!(
        err.to_string().contains("/nonexistent/policy.toml"),
        "{err}"
    );
}

#[test]
fn policy_load_from_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, Policy::builtin().to_toml()).unwrap();
    assert_eq!(
        Policy::load(&path, CheckId::NAMES).unwrap(),
        Policy::builtin()
    );
}

#[test]
fn policy_support_status_around_eol_boundaries() {
    let p = Policy::builtin();
    let v = |s: &str| Version::parse(s).unwrap();
    // 8.0: EOL 2026-06-30, warn 30 days before.
    assert!(matches!(
        p.support_status(&v("8.0.0"), date("2026-05-30")),
        SupportStatus::Supported { .. }
    ));
    // Exactly 30 days left is not yet "ending soon".
    assert!(matches!(
        p.support_status(&v("8.0.0"), date("2026-05-31")),
        SupportStatus::Supported { .. }
    ));
    assert!(matches!(
        p.support_status(&v("8.0.0"), date("2026-06-01")),
        SupportStatus::EndingSoon { days_left: 29, .. }
    ));
    assert!(matches!(
        p.support_status(&v("8.0.9"), date("2026-06-30")),
        SupportStatus::EndingSoon { days_left: 0, .. }
    ));
    assert_eq!(
        p.support_status(&v("8.0.9"), date("2026-07-01")),
        SupportStatus::Ended {
            eol: date("2026-06-30"),
            lts: false
        }
    );
    // LTS lines get twelve months.
    assert_eq!(
        p.support_status(&v("7.10.0"), date("2026-10-01")),
        SupportStatus::Ended {
            eol: date("2026-09-30"),
            lts: true
        }
    );
    assert_eq!(
        p.support_status(&v("8.5.1"), date("2026-11-26")),
        SupportStatus::Supported {
            eol: date("2027-06-30"),
            lts: true
        }
    );
    // 8.7 as listed (January, not February).
    assert_eq!(
        p.support_status(&v("8.7.0"), date("2027-02-01")),
        SupportStatus::Ended {
            eol: date("2027-01-31"),
            lts: false
        }
    );
    // Leap year end of February.
    assert_eq!(
        p.support_status(&v("6.3.0"), date("2024-03-01")),
        SupportStatus::Ended {
            eol: date("2024-02-29"),
            lts: false
        }
    );
}

#[test]
fn policy_version_outside_table() {
    let p = Policy::builtin();
    let v = |s: &str| Version::parse(s).unwrap();
    assert_eq!(
        p.support_status(&v("8.8.0"), date("2026-11-26")),
        SupportStatus::NewerThanPolicy {
            newest: "8.7".into()
        }
    );
    assert_eq!(
        p.support_status(&v("9.0.0"), date("2026-11-26")),
        SupportStatus::NewerThanPolicy {
            newest: "8.7".into()
        }
    );
    assert!(matches!(
        p.support_status(&v("5.4.0"), date("2026-11-26")),
        SupportStatus::OlderThanPolicy { ended_by: Some(_) }
    ));
    assert_eq!(
        p.support_status(&v("5.4.0"), date("2023-10-01")),
        SupportStatus::OlderThanPolicy { ended_by: None }
    );
    assert_eq!(
        p.support_status(&v("6.14.0"), date("2026-11-26")),
        SupportStatus::NotInTable
    );
}

#[test]
fn policy_mongodb_matrix() {
    let p = Policy::builtin();
    let v = |s: &str| Version::parse(s).unwrap();
    let c = |rc: &str, m: &str| p.mongo_compat(&v(rc), &v(m)).0;
    assert_eq!(c("8.5.1", "8.0.4"), MongoCompat::Supported);
    assert_eq!(c("8.5.1", "8.2.1"), MongoCompat::Supported);
    assert_eq!(c("8.5.1", "7.0.12"), MongoCompat::Unsupported);
    assert_eq!(c("8.1.0", "8.2.0"), MongoCompat::Supported);
    assert_eq!(c("8.1.0", "8.0.4"), MongoCompat::Disputed);
    assert_eq!(c("8.0.0", "7.0.4"), MongoCompat::Unsupported);
    assert_eq!(c("7.13.0", "7.0.4"), MongoCompat::Supported);
    assert_eq!(c("7.4.0", "5.0.4"), MongoCompat::Deprecated);
    assert_eq!(c("7.4.0", "4.4.4"), MongoCompat::Unsupported);
    assert_eq!(c("6.5.0", "4.4.4"), MongoCompat::Deprecated);
    assert_eq!(c("6.2.0", "4.4.4"), MongoCompat::Supported);
    assert_eq!(c("5.4.0", "4.2.1"), MongoCompat::Deprecated);
    assert_eq!(c("4.8.0", "4.4.0"), MongoCompat::NoRow);
}

#[test]
fn version_and_image_parsing() {
    assert_eq!(
        Version::parse("v8.5.0").map(|v| v.to_string()),
        Some("8.5.0".into())
    );
    assert_eq!(
        Version::parse("8.6.0-rc.1").and_then(|v| v.pre),
        Some("rc.1".into())
    );
    assert_eq!(Version::parse("8.5").map(|v| v.line()), Some("8.5".into()));
    for bad in [
        "latest",
        "develop",
        "",
        "8",
        "8.x",
        "1.2.3.4",
        "sha-abc1234",
    ] {
        assert_eq!(Version::parse(bad), None, "{bad}");
    }
    let r = |s: &str| ImageRef::parse(s);
    assert_eq!(
        r("rocket.chat:8.5.0").repository,
        "docker.io/library/rocket.chat"
    );
    assert_eq!(
        r("rocketchat/rocket.chat").repository,
        "docker.io/rocketchat/rocket.chat"
    );
    assert_eq!(r("rocketchat/rocket.chat").tag, None);
    let full = r("registry.rocket.chat/rocketchat/rocket.chat:8.5.0@sha256:abc");
    assert_eq!(
        (
            full.repository.as_str(),
            full.tag.as_deref(),
            full.digest.as_deref()
        ),
        (
            "registry.rocket.chat/rocketchat/rocket.chat",
            Some("8.5.0"),
            Some("sha256:abc")
        )
    );
    assert_eq!(
        r("localhost:5000/acme/chat:1").repository,
        "localhost:5000/acme/chat"
    );
    assert_eq!(
        r("docker.io/RocketChat/Rocket.Chat:1").repository,
        "docker.io/rocketchat/rocket.chat"
    );
    assert_eq!(r("sha256:0123").repository, "");
}
