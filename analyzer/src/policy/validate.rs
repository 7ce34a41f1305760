//! Validation of a policy: every table sorted, unique, sourced, its patterns
//! compiling, and its `[checks]` table covering exactly the checks the caller knows.

use super::{Policy, parse_major_minor, parse_release_date};

impl Policy {
    /// Problems that make the policy unusable; empty when valid. Each names the
    /// table and entry at fault. `known_checks` are the ids of the checks that exist.
    pub fn validate(&self, known_checks: &[&str]) -> Vec<String> {
        let mut p = Vec::new();
        self.validate_head(known_checks, &mut p);
        self.validate_images(&mut p);
        self.validate_orchestrators(&mut p);
        self.validate_hardware(&mut p);
        self.validate_releases(&mut p);
        self.validate_mongodb(&mut p);
        self.validate_monitoring_logs(&mut p);
        self.validate_thresholds(&mut p);
        p
    }

    fn check_source(&self, what: &str, source: &str, p: &mut Vec<String>) {
        if !self.sources.contains_key(source) {
            p.push(format!(
                "{what}: source {source:?} is not defined in [sources]"
            ));
        }
    }

    fn validate_head(&self, known_checks: &[&str], p: &mut Vec<String>) {
        if self.name.trim().is_empty() {
            p.push("name is empty".into());
        }
        if self.version == 0 {
            p.push("version must be 1 or more".into());
        }
        if self.sources.is_empty() {
            p.push("[sources] is empty: every fact needs a source".into());
        }
        for (key, s) in &self.sources {
            if s.url.trim().is_empty() || s.title.trim().is_empty() {
                p.push(format!("sources.{key}: title and url are required"));
            }
        }
        for known in known_checks {
            if !self.checks.contains_key(*known) {
                p.push(format!(
                    "[checks.\"{known}\"] is missing (remediation link and source)"
                ));
            }
        }
        for (id, c) in &self.checks {
            if !known_checks.contains(&id.as_str()) {
                p.push(format!("[checks.\"{id}\"]: no such check"));
            }
            if !c.remediation.starts_with("https://") && !is_repo_doc(&c.remediation) {
                p.push(format!(
                    "checks.\"{id}\".remediation must be an https:// link or a document of the rcdiag source tree (`analyzer/CHECKS.md#anchor`), not {:?}",
                    c.remediation
                ));
            }
            self.check_source(&format!("checks.\"{id}\""), &c.source, p);
        }
    }

    fn validate_images(&self, p: &mut Vec<String>) {
        self.check_source("images", &self.images.source, p);
        self.check_source("deploy", &self.deploy.source, p);
        self.check_source("kubernetes", &self.kubernetes.source, p);
        for e in &self.kubernetes.warning_events {
            if !matches!(e.outcome.as_str(), "warn" | "fail") {
                p.push(format!(
                    "kubernetes.warning_events {:?}: outcome must be \"warn\" or \"fail\", not {:?}",
                    e.reason, e.outcome
                ));
            }
        }
        if self.images.official.is_empty() {
            p.push("images.official is empty".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for img in &self.images.official {
            let norm = crate::image_ref::ImageRef::parse(&img.repository).repository;
            if norm != img.repository {
                p.push(format!(
                    "images.official {:?} is not a normalized repository (expected {norm:?}, no tag)",
                    img.repository
                ));
            }
            if !seen.insert(img.repository.clone()) {
                p.push(format!(
                    "images.official {:?} is listed twice",
                    img.repository
                ));
            }
            if img.deploy_method.trim().is_empty() {
                p.push(format!(
                    "images.official {:?}: deploy_method is empty",
                    img.repository
                ));
            }
        }
        for m in &self.images.microservices {
            if crate::image_ref::ImageRef::parse(m).repository != *m {
                p.push(format!(
                    "images.microservices {m:?} is not a normalized repository"
                ));
            }
        }
        check_regexes("images.mongodb_patterns", &self.images.mongodb_patterns, p);
        if self.deploy.supported_methods.is_empty() || self.deploy.failing_methods.is_empty() {
            p.push("deploy.supported_methods and deploy.failing_methods must not be empty".into());
        }
        if let Some(m) = self
            .deploy
            .supported_methods
            .iter()
            .find(|m| self.deploy.failing_methods.contains(m))
        {
            p.push(format!("deploy method {m:?} is both supported and failing"));
        }
    }

    fn validate_orchestrators(&self, p: &mut Vec<String>) {
        let mut ids = std::collections::BTreeSet::new();
        if self.orchestrators.is_empty() {
            p.push("[[orchestrators]] is empty".into());
        }
        for o in &self.orchestrators {
            let what = format!("orchestrators {:?}", o.id);
            if o.id.trim().is_empty() || !ids.insert(o.id.clone()) {
                p.push(format!("{what}: id empty or used twice"));
            }
            self.check_source(&what, &o.source, p);
            check_regexes(
                &format!("{what}.label_key_patterns"),
                &o.label_key_patterns,
                p,
            );
            check_regexes(&format!("{what}.name_patterns"), &o.name_patterns, p);
            for kv in o.labels.iter().chain(&o.env) {
                if !kv.contains('=') {
                    p.push(format!("{what}: {kv:?} must be NAME=value"));
                }
            }
            if o.label_key_patterns.is_empty()
                && o.labels.is_empty()
                && o.env.is_empty()
                && o.name_patterns.is_empty()
                && o.platforms.is_empty()
                && o.distributions.is_empty()
            {
                p.push(format!("{what}: has no fingerprint at all"));
            }
        }
        self.check_source("scale", &self.scale.source, p);
        if self.scale.max_users_unscaled == 0 {
            p.push("scale.max_users_unscaled must be more than 0".into());
        }
    }

    fn validate_hardware(&self, p: &mut Vec<String>) {
        let h = &self.hardware;
        self.check_source("hardware", &h.source, p);
        if h.tiers.is_empty() {
            p.push("hardware.tiers is empty".into());
        }
        let mut last: Option<u64> = None;
        for (i, t) in h.tiers.iter().enumerate() {
            let what = format!("hardware.tiers {:?}", t.name);
            let is_last = i + 1 == h.tiers.len();
            match (t.max_concurrent_users, is_last) {
                (None, false) => p.push(format!(
                    "{what}: only the last tier may omit max_concurrent_users"
                )),
                (Some(m), _) => {
                    if last.is_some_and(|l| m <= l) {
                        p.push(format!(
                            "{what}: max_concurrent_users {m} is not above the previous tier's"
                        ));
                    }
                    last = Some(m);
                }
                (None, true) => {}
            }
            for (part, r) in [("rocketchat", &t.rocketchat), ("mongodb", &t.mongodb)] {
                for (field, v) in [
                    ("vcpu", r.vcpu),
                    ("memory_gib", r.memory_gib),
                    ("disk_gb", r.disk_gb),
                ] {
                    if !(v.is_finite() && v > 0.0) {
                        p.push(format!(
                            "{what}.{part}.{field} must be a positive number, not {v}"
                        ));
                    }
                }
            }
        }
        for (field, v) in [
            ("memory_tolerance_percent", h.memory_tolerance_percent),
            ("disk_tolerance_percent", h.disk_tolerance_percent),
        ] {
            if !(0.0..50.0).contains(&v) {
                p.push(format!("hardware.{field} must be in [0, 50), not {v}"));
            }
        }
    }

    fn validate_releases(&self, p: &mut Vec<String>) {
        let r = &self.releases;
        self.check_source("releases", &r.source, p);
        if r.table.is_empty() {
            p.push("releases.table is empty".into());
        }
        if r.support_months == 0 || r.lts_support_months < r.support_months {
            p.push(
                "releases: support_months must be > 0 and lts_support_months >= support_months"
                    .into(),
            );
        }
        if r.eol_warn_days < 0 {
            p.push("releases.eol_warn_days must not be negative".into());
        }
        let mut prev: Option<(u64, u64)> = None;
        for rel in &r.table {
            let what = format!("releases.table {:?}", rel.version);
            let Some(v) = parse_major_minor(&rel.version) else {
                p.push(format!("{what}: version must be MAJOR.MINOR"));
                continue;
            };
            if let Some(pv) = prev
                && v <= pv
            {
                p.push(format!(
                    "{what}: versions must be sorted ascending and unique (comes after {}.{})",
                    pv.0, pv.1
                ));
            }
            prev = Some(v);
            if rel.eol.last_of_month() != rel.eol {
                p.push(format!(
                    "{what}: eol {} is not the last day of its month",
                    rel.eol
                ));
            }
            match parse_release_date(&rel.released) {
                Some(d) if d > rel.eol => p.push(format!(
                    "{what}: released {} after its eol {}",
                    rel.released, rel.eol
                )),
                Some(_) => {}
                None => p.push(format!(
                    "{what}: released {:?} must be YYYY-MM or YYYY-MM-DD",
                    rel.released
                )),
            }
        }
    }

    fn validate_mongodb(&self, p: &mut Vec<String>) {
        let m = &self.mongodb;
        self.check_source("mongodb", &m.source, p);
        if m.storage_engine.trim().is_empty() {
            p.push("mongodb.storage_engine is empty".into());
        }
        if m.bypass_env.is_empty() {
            p.push("mongodb.bypass_env is empty".into());
        }
        for name in &m.bypass_env {
            if name.is_empty() || name.contains('=') || name.contains(char::is_whitespace) {
                p.push(format!(
                    "mongodb.bypass_env {name:?} is not an environment variable name"
                ));
            }
        }
        if !(m.max_lag_seconds.is_finite() && m.max_lag_seconds > 0.0) {
            p.push("mongodb.max_lag_seconds must be positive".into());
        }
        if m.matrix.is_empty() {
            p.push("mongodb.matrix is empty".into());
        }
        let mut prev_end: Option<Option<(u64, u64)>> = None;
        for (i, row) in m.matrix.iter().enumerate() {
            let what = format!(
                "mongodb.matrix row {} (Rocket.Chat {})",
                i + 1,
                row.rocketchat_from
            );
            self.check_source(&what, &row.source, p);
            let Some(from) = parse_major_minor(&row.rocketchat_from) else {
                p.push(format!("{what}: rocketchat_from must be MAJOR.MINOR"));
                continue;
            };
            let before = match &row.rocketchat_before {
                Some(b) => match parse_major_minor(b) {
                    Some(v) if v > from => Some(v),
                    _ => {
                        p.push(format!("{what}: rocketchat_before {b:?} must be MAJOR.MINOR above rocketchat_from"));
                        continue;
                    }
                },
                None => None,
            };
            match prev_end {
                Some(None) => p.push(format!("{what}: follows an open-ended row; only the last row may omit rocketchat_before")),
                Some(Some(end)) if from < end => p.push(format!("{what}: overlaps the previous row or is out of order")),
                _ => {}
            }
            prev_end = Some(before);
            if row.supported.is_empty() && row.supported_from.is_none() {
                p.push(format!("{what}: needs supported or supported_from"));
            }
            for v in row
                .supported
                .iter()
                .chain(&row.deprecated)
                .chain(row.supported_from.iter())
                .chain(row.disputed_from.iter())
            {
                if parse_major_minor(v).is_none() {
                    p.push(format!("{what}: MongoDB version {v:?} must be MAJOR.MINOR"));
                }
            }
            for d in &row.deprecated {
                if !row.supported.contains(d) {
                    p.push(format!(
                        "{what}: deprecated {d:?} must also be in supported"
                    ));
                }
            }
        }
    }

    fn validate_monitoring_logs(&self, p: &mut Vec<String>) {
        let m = &self.monitoring;
        self.check_source("monitoring", &m.source, p);
        check_regexes("monitoring.prometheus_images", &m.prometheus_images, p);
        check_regexes("monitoring.grafana_images", &m.grafana_images, p);
        if m.prometheus_images.is_empty() || m.grafana_images.is_empty() {
            p.push("monitoring.prometheus_images and grafana_images must not be empty".into());
        }
        for l in &m.scrape_labels {
            if !l.contains('=') {
                p.push(format!("monitoring.scrape_labels {l:?} must be key=value"));
            }
        }
        let l = &self.logs;
        if l.max_matches_per_signature == 0
            || l.max_evidence_per_signature == 0
            || l.max_line_chars < 40
        {
            p.push("logs: max_matches_per_signature and max_evidence_per_signature must be > 0, max_line_chars >= 40".into());
        }
        let mut ids = std::collections::BTreeSet::new();
        for s in &l.signatures {
            let what = format!("logs.signatures {:?}", s.id);
            if s.id.trim().is_empty() || !ids.insert(s.id.clone()) {
                p.push(format!("{what}: id empty or used twice"));
            }
            self.check_source(&what, &s.source, p);
            if let Err(e) = regex::Regex::new(&s.pattern) {
                p.push(format!("{what}: pattern does not compile: {e}"));
            }
        }
    }

    fn validate_thresholds(&self, p: &mut Vec<String>) {
        let t = &self.thresholds;
        if !(t.disk_free_fail_percent > 0.0
            && t.disk_free_fail_percent < t.disk_free_warn_percent
            && t.disk_free_warn_percent < 100.0)
        {
            p.push(format!(
                "thresholds: need 0 < disk_free_fail_percent ({}) < disk_free_warn_percent ({}) < 100",
                t.disk_free_fail_percent, t.disk_free_warn_percent
            ));
        }
        if !(t.clock_skew_warn_seconds > 0.0
            && t.clock_skew_warn_seconds <= t.clock_skew_fail_seconds
            && t.clock_skew_fail_seconds.is_finite())
        {
            p.push(format!(
                "thresholds: need 0 < clock_skew_warn_seconds ({}) <= clock_skew_fail_seconds ({})",
                t.clock_skew_warn_seconds, t.clock_skew_fail_seconds
            ));
        }
        if !(t.clock_max_window_seconds.is_finite() && t.clock_max_window_seconds > 0.0) {
            p.push("thresholds.clock_max_window_seconds must be positive".into());
        }
        if !(t.restart_warn > 0 && t.restart_warn <= t.restart_fail) {
            p.push(format!(
                "thresholds: need 0 < restart_warn ({}) <= restart_fail ({})",
                t.restart_warn, t.restart_fail
            ));
        }
    }
}

fn check_regexes(what: &str, patterns: &[String], p: &mut Vec<String>) {
    for pat in patterns {
        if let Err(e) = regex::Regex::new(pat) {
            p.push(format!("{what}: pattern {pat:?} does not compile: {e}"));
        }
    }
}

/// A document of rcdiag's own source tree, as a relative path (`analyzer/CHECKS.md`,
/// optionally with a `#anchor`): rcdiag has no public home page to link to.
fn is_repo_doc(s: &str) -> bool {
    let (path, anchor) = s.split_once('#').unwrap_or((s, ""));
    path.ends_with(".md")
        && !path.starts_with('/')
        && !path.contains("..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
        && anchor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod repo_doc_tests {
    #[test]
    fn repo_docs_are_relative_paths_of_markdown_files() {
        assert!(super::is_repo_doc("analyzer/CHECKS.md#bundlecomplete"));
        assert!(super::is_repo_doc("SECURITY.md"));
        for bad in [
            "/etc/passwd.md",
            "../x.md",
            "analyzer/CHECKS.txt",
            "a.md#<script>",
            "javascript:x.md",
        ] {
            assert!(!super::is_repo_doc(bad), "{bad}");
        }
    }
}
