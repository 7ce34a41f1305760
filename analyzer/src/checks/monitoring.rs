//! `monitoring.prometheus` and `monitoring.grafana`: production deployments should
//! collect metrics with Prometheus and show them in Grafana (facts §1, §6). These are
//! recommendations: a gap warns, it never fails. On Kubernetes the cluster view counts
//! too: `OVERWRITE_SETTING_Prometheus_Enabled` in a Rocket.Chat pod's env, Prometheus
//! and Grafana pods (by image), a PodMonitor or ServiceMonitor selecting the
//! Rocket.Chat pods' labels, and `prometheus.io/scrape` annotations on those pods.

use serde_json::Value;

use super::{
    Check, CheckId, CheckInput, CheckResult, Evidence, Finding, Outcome, conclude, in_cluster,
    node_containers, rc_containers, rc_containers_on, rc_pod_servers, result, truthy,
};
use crate::model::{NodeData, cluster_bundles, ns_name};
use crate::policy::Policy;

/// The checks of this area, in report order.
pub(super) const CHECKS: &[Check] = &[
    Check {
        id: CheckId::MonitoringPrometheus,
        title: "Prometheus metrics collected",
        area: "monitoring",
        description: "Rocket.Chat's Prometheus exporter is enabled and something scrapes it (a Prometheus-like container or pod, a PodMonitor or ServiceMonitor selecting Rocket.Chat, or prometheus.io/scrape labels or annotations).",
        run: prometheus,
    },
    Check {
        id: CheckId::MonitoringGrafana,
        title: "Grafana dashboards",
        area: "monitoring",
        description: "A Grafana container or pod runs to show the metrics.",
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
    for node in cluster_bundles(input.nodes) {
        for c in node.kube.all_containers() {
            if res.iter().any(|r| r.is_match(&c.image_ref.repository)) {
                let phase = c.pod.phase.as_deref().unwrap_or("phase unknown");
                hits.push(
                    Evidence::file(node, "kubernetes/pods.json")
                        .at(c.pointer("image"))
                        .val(format!(
                            "{} (pod {}, {phase})",
                            c.image(),
                            ns_name(&c.pod.namespace, &c.pod.name)
                        )),
                );
            }
        }
    }
    for node in input.nodes {
        let Some(cs) = node_containers(input, node) else {
            if !in_cluster(input, node) {
                gaps.push(node.why_missing("docker/containers.json", "docker"));
            }
            continue;
        };
        for c in cs {
            if res.iter().any(|r| r.is_match(&c.image_ref.repository)) {
                let state = c.status().unwrap_or_else(|| "state unknown".into());
                hits.push(
                    Evidence::file(node, c.file)
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
    for c in node.kube.rc_servers(policy) {
        if let Some(v) = c.env_value(&m.env)
            && let Some(b) = truthy(&Value::String(v.to_string()))
        {
            return Some((
                b,
                Evidence::file(node, "kubernetes/pods.json")
                    .at(c.pointer("env"))
                    .val(format!("{}={v}", m.env)),
            ));
        }
    }
    if let Some(cs) = rc_containers_on(node, policy) {
        for c in cs {
            if let Some(v) = c.env_value(&m.env)
                && let Some(b) = truthy(&Value::String(v.clone()))
            {
                return Some((
                    b,
                    Evidence::file(node, c.file)
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
        for c in rc_containers(input, node).unwrap_or_default() {
            let labels = c.labels();
            for kv in &policy.monitoring.scrape_labels {
                if let Some((k, v)) = kv.split_once('=')
                    && labels
                        .get(k)
                        .is_some_and(|have| have.eq_ignore_ascii_case(v))
                {
                    scrapers.push(
                        Evidence::file(node, c.file)
                            .at(c.pointer("labels"))
                            .val(format!("{}: {kv}", c.name)),
                    );
                }
            }
        }
    }
    scrapers.extend(kube_scrapers(input));
    let cluster = !cluster_bundles(input.nodes).is_empty();
    match enabled {
        None if cluster && scrapers.is_empty() && gaps.is_empty() => result(
            input,
            ID,
            Outcome::Warn,
            "nothing scrapes Rocket.Chat: no Prometheus-like pod or container, no PodMonitor or ServiceMonitor selecting its pods, no prometheus.io/scrape annotation (whether its exporter is on is unknown: the Rocket.Chat settings were not collected); fine if Prometheus runs outside the namespaces read".into(),
            cluster_bundles(input.nodes)
                .into_iter()
                .flat_map(|n| {
                    let m = n.kube.monitoring.as_ref();
                    [
                        Evidence::file(n, "kubernetes/monitoring.json")
                            .at("/podmonitors")
                            .val(m.map_or(0, |m| m.podmonitors.len())),
                        Evidence::file(n, "kubernetes/monitoring.json")
                            .at("/servicemonitors")
                            .val(m.map_or(0, |m| m.servicemonitors.len())),
                        Evidence::file(n, "kubernetes/pods.json")
                            .at("/pods")
                            .val(format!("{} pods read", n.kube.pods().count())),
                    ]
                })
                .collect(),
        ),
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

/// What scrapes the Rocket.Chat pods of the cluster views: a PodMonitor or
/// ServiceMonitor in their namespace (or naming it) whose selector's labels are all on
/// a Rocket.Chat pod (the chart labels its Services and pods alike), and
/// `prometheus.io/scrape` annotations on those pods.
fn kube_scrapers(input: &CheckInput) -> Vec<Evidence> {
    let mut out = Vec::new();
    let servers = rc_pod_servers(input);
    for node in cluster_bundles(input.nodes) {
        let pods: Vec<&rcdiag_contract::kubernetes::Pod> = servers
            .iter()
            .filter(|(n, _)| std::ptr::eq(*n, node))
            .map(|(_, c)| c.pod)
            .collect();
        if let Some(m) = &node.kube.monitoring {
            for (list, monitors) in [
                ("podmonitors", &m.podmonitors),
                ("servicemonitors", &m.servicemonitors),
            ] {
                for (i, mon) in monitors.iter().enumerate() {
                    let hit = pods.iter().any(|p| {
                        let ns_ok = mon.namespace == p.namespace
                            || p.namespace
                                .as_ref()
                                .is_some_and(|ns| mon.namespaces.contains(ns));
                        ns_ok && crate::model::selects(mon.selector.as_ref(), p)
                    });
                    if hit {
                        out.push(
                            Evidence::file(node, "kubernetes/monitoring.json")
                                .at(format!("/{list}/{i}/selector"))
                                .val(format!(
                                    "{} {} selects the Rocket.Chat pods",
                                    &list[..list.len() - 1],
                                    ns_name(&mon.namespace, &mon.name)
                                )),
                        );
                    }
                }
            }
        }
    }
    for (node, c) in &servers {
        let ann = c.pod.annotations.clone().unwrap_or_default();
        for kv in &input.policy.monitoring.scrape_labels {
            if let Some((k, v)) = kv.split_once('=')
                && ann.get(k).is_some_and(|have| have.eq_ignore_ascii_case(v))
            {
                out.push(
                    Evidence::file(node, "kubernetes/pods.json")
                        .at(c.pod_pointer("annotations"))
                        .val(format!(
                            "pod {}: {kv}",
                            ns_name(&c.pod.namespace, &c.pod.name)
                        )),
                );
            }
        }
    }
    out
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
            if hits
                .iter()
                .all(|e| e.file.as_deref() == Some("kubernetes/pods.json"))
            {
                "a Grafana pod was found".into()
            } else {
                "a Grafana container was found".into()
            },
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
        if cluster_bundles(input.nodes).is_empty() {
            "no Grafana container on these nodes: metrics are not visualized (fine if Grafana runs elsewhere)".into()
        } else {
            "no Grafana container or pod on these nodes or in the cluster's namespaces read: metrics are not visualized (fine if Grafana runs elsewhere)".into()
        },
        input
            .nodes
            .iter()
            .map(|n| {
                if n.kube.pods.is_some() {
                    Evidence::file(n, "kubernetes/pods.json")
                        .at("/pods")
                        .val(format!("{} pods read", n.kube.pods().count()))
                } else {
                    Evidence::file(n, "docker/containers.json")
                }
            })
            .collect(),
    )
}
