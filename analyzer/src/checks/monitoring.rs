//! `monitoring.prometheus` and `monitoring.grafana`: production deployments should
//! collect metrics with Prometheus and show them in Grafana (facts §1, §6). These are
//! recommendations: a gap warns, it never fails.

use serde_json::Value;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, rc_containers,
    result, truthy,
};
use crate::model::NodeData;
use crate::policy::Policy;

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::MonitoringPrometheus,
        title: "Prometheus metrics collected",
        area: "monitoring",
        description: "Rocket.Chat's Prometheus exporter is enabled and something scrapes it (a Prometheus-like container or prometheus.io/scrape labels).",
        run: prometheus,
    },
    Check {
        id: CheckId::MonitoringGrafana,
        title: "Grafana dashboards",
        area: "monitoring",
        description: "A Grafana container runs to show the metrics.",
        run: grafana,
    },
];

/// Containers on any node whose image matches one of `patterns`; `None` when no
/// match and some node's containers are unknown.
fn find_images(input: &CheckInput, patterns: &[String]) -> (Vec<Evidence>, Vec<String>) {
    let res: Vec<std::sync::Arc<regex::Regex>> = patterns
        .iter()
        .filter_map(|p| crate::policy::cached_regex(p))
        .collect();
    let mut hits = Vec::new();
    let mut gaps = Vec::new();
    for node in input.nodes {
        let Some(cs) = node.containers(input.policy) else {
            gaps.push(node.why_missing("docker/containers.json", "docker"));
            continue;
        };
        for c in cs {
            if res.iter().any(|r| r.is_match(&c.image_ref.repository)) {
                let state = c.status().unwrap_or_else(|| "state unknown".into());
                hits.push(
                    Evidence::file(node, "docker/containers.json")
                        .at(c.pointer("image"))
                        .val(format!("{} ({}, {state})", c.image, c.name)),
                );
            }
        }
    }
    (hits, gaps)
}

/// Whether the exporter is on, with evidence: env override, else the setting or the
/// summary, else a working metrics endpoint.
fn exporter_enabled(node: &NodeData, policy: &Policy) -> Option<(bool, Evidence)> {
    let m = &policy.monitoring;
    if let Some(cs) = rc_containers(node, policy) {
        for c in cs {
            if let Some(v) = c.env_value(&m.env)
                && let Some(b) = truthy(&Value::String(v.clone()))
            {
                return Some((
                    b,
                    Evidence::file(node, "docker/containers.json")
                        .at(c.pointer("env"))
                        .val(format!("{}={v}", m.env)),
                ));
            }
        }
    }
    if let Some(v) = node.rc_settings.as_ref().and_then(|s| s.0.get(&m.setting))
        && let Some(b) = truthy(v)
    {
        return Some((
            b,
            Evidence::file(node, "rocketchat/settings.json")
                .at(format!("/{}", m.setting))
                .val(v),
        ));
    }
    let summary = node.rocketchat.as_ref()?;
    if let Some(b) = summary.prometheus.as_ref().and_then(|p| p.enabled) {
        return Some((
            b,
            Evidence::file(node, "rocketchat/summary.json")
                .at("/prometheus/enabled")
                .val(b),
        ));
    }
    summary.endpoints.iter().enumerate().find_map(|(i, e)| {
        (e.metrics.as_ref().and_then(|m| m.ok) == Some(true)).then(|| {
            (
                true,
                Evidence::file(node, "rocketchat/summary.json")
                    .at(format!("/endpoints/{i}/metrics/ok"))
                    .val(true),
            )
        })
    })
}

/// Runs `monitoring.prometheus`.
pub(crate) fn prometheus(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::MonitoringPrometheus;
    let policy = input.policy;
    let mut enabled: Option<(bool, Evidence)> = None;
    for node in input.nodes {
        if let Some(e) = exporter_enabled(node, policy) {
            // Any node saying "off" is what matters (one node not exporting is a gap).
            if enabled.as_ref().is_none_or(|(b, _)| *b) {
                enabled = Some(e);
            }
        }
    }
    let (mut scrapers, gaps) = find_images(input, &policy.monitoring.prometheus_images);
    // Scrape labels on Rocket.Chat containers (rocketchat-compose adds them).
    for node in input.nodes {
        for c in rc_containers(node, policy).unwrap_or_default() {
            let labels = c.labels();
            for kv in &policy.monitoring.scrape_labels {
                if let Some((k, v)) = kv.split_once('=')
                    && labels
                        .get(k)
                        .is_some_and(|have| have.eq_ignore_ascii_case(v))
                {
                    scrapers.push(
                        Evidence::file(node, "docker/containers.json")
                            .at(c.pointer("labels"))
                            .val(format!("{}: {kv}", c.name)),
                    );
                }
            }
        }
    }
    match enabled {
        Some((false, ev)) => result(
            input,
            ID,
            Outcome::Warn,
            format!(
                "Rocket.Chat's Prometheus exporter is disabled ({} false): no metrics are collected",
                policy.monitoring.setting
            ),
            vec![ev],
        ),
        None => result(
            input,
            ID,
            Outcome::Unknown,
            format!(
                "whether the Prometheus exporter is enabled is unknown: {}; rerun rcdiag-agent collect with read access to the Rocket.Chat database",
                input
                    .nodes
                    .iter()
                    .map(|n| n.why_missing("rocketchat/settings.json", "rocketchat"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            scrapers,
        ),
        Some((true, ev)) => {
            let mut evidence = vec![ev];
            if !scrapers.is_empty() {
                evidence.extend(scrapers);
                return result(
                    input,
                    ID,
                    Outcome::Pass,
                    "the Prometheus exporter is enabled and a scraper was found".into(),
                    evidence,
                );
            }
            if gaps.is_empty() {
                result(
                    input,
                    ID,
                    Outcome::Warn,
                    "the Prometheus exporter is enabled but nothing on these nodes scrapes it (no Prometheus-like container, no prometheus.io/scrape label); fine if Prometheus runs elsewhere".into(),
                    evidence,
                )
            } else {
                let f = vec![Finding::new(
                    Outcome::Unknown,
                    format!(
                        "exporter enabled; no scraper found, but {}",
                        gaps.join("; ")
                    ),
                    evidence,
                )];
                conclude(input, ID, f, "")
            }
        }
    }
}

/// Runs `monitoring.grafana`.
pub(crate) fn grafana(input: &CheckInput) -> CheckResult {
    const ID: CheckId = CheckId::MonitoringGrafana;
    let (hits, gaps) = find_images(input, &input.policy.monitoring.grafana_images);
    if !hits.is_empty() {
        return result(
            input,
            ID,
            Outcome::Pass,
            "a Grafana container was found".into(),
            hits,
        );
    }
    if !gaps.is_empty() {
        return result(
            input,
            ID,
            Outcome::Unknown,
            format!(
                "no Grafana container found, and {}; rerun rcdiag-agent collect with access to the Docker socket",
                gaps.join("; ")
            ),
            Vec::new(),
        );
    }
    if input.nodes.is_empty() {
        return result(
            input,
            ID,
            Outcome::Unknown,
            "no bundle to check".into(),
            Vec::new(),
        );
    }
    result(
        input,
        ID,
        Outcome::Warn,
        "no Grafana container on these nodes: metrics are not visualized (fine if Grafana runs elsewhere)".into(),
        input.nodes.iter().map(|n| Evidence::file(n, "docker/containers.json")).collect(),
    )
}
