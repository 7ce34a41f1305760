//! Workload summaries (`kubernetes/workloads.json`): Deployments, StatefulSets (with
//! their volumeClaimTemplates), DaemonSets, the ReplicaSets that own the chosen pods,
//! HPAs (autoscaling/v2) and PDBs. Helm is recognised from the workload's own labels
//! (`helm.sh/chart`, `app.kubernetes.io/managed-by=Helm`): the chart puts them on the
//! Deployment, not on its pods' template.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rcdiag_contract::kubernetes::{ClaimTemplate, Helm, Hpa, Pdb, TemplateContainer, Workload};

use super::nodes::quantities;

/// `rocketchat-7.0.2` → (`rocketchat`, `7.0.2`): split at the first `-` followed by a digit.
pub fn parse_chart(chart: &str) -> (Option<String>, Option<String>) {
    let b = chart.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit) && i > 0 {
            return (
                Some(chart[..i].to_string()),
                Some(chart[i + 1..].to_string()),
            );
        }
    }
    (Some(chart.to_string()), None)
}

/// The Helm release of an object, from its labels and annotations.
pub fn helm_of(meta: &ObjectMeta) -> Option<Helm> {
    let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k)).cloned();
    let chart = label("helm.sh/chart");
    let managed_by = label("app.kubernetes.io/managed-by");
    if chart.is_none() && managed_by.as_deref() != Some("Helm") {
        return None;
    }
    let (chart_name, chart_version) = match chart.as_deref() {
        Some(c) => parse_chart(c),
        None => (None, None),
    };
    Some(Helm {
        chart,
        chart_name,
        chart_version,
        release: label("app.kubernetes.io/instance").or_else(|| {
            meta.annotations
                .as_ref()
                .and_then(|a| a.get("meta.helm.sh/release-name"))
                .cloned()
        }),
        managed_by,
        app_version: label("app.kubernetes.io/version"),
        extra: Default::default(),
    })
}

fn base(
    meta: &ObjectMeta,
    template: Option<&PodTemplateSpec>,
    sel: Option<&LabelSelector>,
) -> Workload {
    // The containers of the pod template (no env: that is in `pods.json`).
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| {
            s.containers
                .iter()
                .map(|c| TemplateContainer {
                    name: Some(c.name.clone()),
                    image: c.image.clone(),
                    requests: Some(quantities(
                        c.resources.as_ref().and_then(|r| r.requests.as_ref()),
                    )),
                    limits: Some(quantities(
                        c.resources.as_ref().and_then(|r| r.limits.as_ref()),
                    )),
                    extra: Default::default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Workload {
        namespace: Some(meta.namespace.clone().unwrap_or_default()),
        name: Some(meta.name.clone().unwrap_or_default()),
        replicas: None,
        ready_replicas: None,
        available_replicas: None,
        updated_replicas: None,
        strategy: None,
        owner: meta
            .owner_references
            .as_ref()
            .and_then(|o| o.first())
            .map(|o| format!("{}/{}", o.kind, o.name)),
        helm: helm_of(meta),
        labels: Some(meta.labels.clone().unwrap_or_default()),
        selector: Some(sel.and_then(|s| s.match_labels.clone()).unwrap_or_default()),
        containers,
        service_name: None,
        volume_claim_templates: Vec::new(),
        conditions: Vec::new(),
        extra: Default::default(),
    }
}

fn cond(type_: &str, status: &str, reason: Option<&String>) -> String {
    match reason {
        Some(r) => format!("{type_}={status} ({r})"),
        None => format!("{type_}={status}"),
    }
}

/// A Deployment.
pub fn deployment(d: &Deployment) -> Workload {
    let spec = d.spec.as_ref();
    let mut w = base(
        &d.metadata,
        spec.map(|s| &s.template),
        spec.map(|s| &s.selector),
    );
    let st = d.status.as_ref();
    w.replicas = spec.and_then(|s| s.replicas).or(Some(1)).map(i64::from);
    w.ready_replicas = st.and_then(|s| s.ready_replicas).or(Some(0)).map(i64::from);
    w.available_replicas = st
        .and_then(|s| s.available_replicas)
        .or(Some(0))
        .map(i64::from);
    w.updated_replicas = st.and_then(|s| s.updated_replicas).map(i64::from);
    w.strategy = spec
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.clone());
    w.conditions = st
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| cond(&c.type_, &c.status, c.reason.as_ref()))
        .collect();
    w
}

/// A StatefulSet, with its volumeClaimTemplates.
pub fn statefulset(s: &StatefulSet) -> Workload {
    let spec = s.spec.as_ref();
    let mut w = base(
        &s.metadata,
        spec.map(|s| &s.template),
        spec.map(|s| &s.selector),
    );
    let st = s.status.as_ref();
    w.replicas = spec.and_then(|s| s.replicas).or(Some(1)).map(i64::from);
    w.ready_replicas = st.and_then(|s| s.ready_replicas).or(Some(0)).map(i64::from);
    w.available_replicas = st.and_then(|s| s.available_replicas).map(i64::from);
    w.updated_replicas = st.and_then(|s| s.updated_replicas).map(i64::from);
    w.strategy = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.clone());
    w.service_name = spec.and_then(|s| s.service_name.clone());
    w.volume_claim_templates = spec
        .and_then(|s| s.volume_claim_templates.as_ref())
        .into_iter()
        .flatten()
        .map(|t| {
            let ps = t.spec.as_ref();
            ClaimTemplate {
                name: Some(t.metadata.name.clone().unwrap_or_default()),
                storage_class: ps.and_then(|p| p.storage_class_name.clone()),
                storage: ps
                    .and_then(|p| p.resources.as_ref())
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get("storage"))
                    .map(|q| q.0.clone()),
                access_modes: ps.and_then(|p| p.access_modes.clone()).unwrap_or_default(),
                extra: Default::default(),
            }
        })
        .collect();
    w.conditions = st
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| cond(&c.type_, &c.status, c.reason.as_ref()))
        .collect();
    w
}

/// A DaemonSet.
pub fn daemonset(d: &DaemonSet) -> Workload {
    let spec = d.spec.as_ref();
    let mut w = base(
        &d.metadata,
        spec.map(|s| &s.template),
        spec.map(|s| &s.selector),
    );
    if let Some(st) = &d.status {
        w.replicas = Some(st.desired_number_scheduled.into());
        w.ready_replicas = Some(st.number_ready.into());
        w.available_replicas = st.number_available.map(i64::from);
        w.updated_replicas = st.updated_number_scheduled.map(i64::from);
    }
    w.strategy = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.clone());
    w
}

/// A ReplicaSet.
pub fn replicaset(r: &ReplicaSet) -> Workload {
    let spec = r.spec.as_ref();
    let mut w = base(
        &r.metadata,
        spec.and_then(|s| s.template.as_ref()),
        spec.map(|s| &s.selector),
    );
    w.replicas = spec.and_then(|s| s.replicas).or(Some(1)).map(i64::from);
    if let Some(st) = &r.status {
        w.ready_replicas = st.ready_replicas.or(Some(0)).map(i64::from);
        w.available_replicas = st.available_replicas.map(i64::from);
    }
    w
}

/// An HPA's summary.
pub fn hpa(h: &HorizontalPodAutoscaler) -> Hpa {
    let spec = h.spec.as_ref();
    let metrics = spec
        .and_then(|s| s.metrics.as_ref())
        .into_iter()
        .flatten()
        .map(|m| match &m.resource {
            Some(r) => {
                let t = &r.target;
                let v = t
                    .average_utilization
                    .map(|u| u.to_string())
                    .or_else(|| t.average_value.as_ref().map(|q| q.0.clone()))
                    .or_else(|| t.value.as_ref().map(|q| q.0.clone()))
                    .unwrap_or_default();
                format!("{} {} {} {v}", m.type_, r.name, t.type_)
            }
            None => m.type_.clone(),
        })
        .collect();
    Hpa {
        namespace: Some(h.metadata.namespace.clone().unwrap_or_default()),
        name: Some(h.metadata.name.clone().unwrap_or_default()),
        target: Some(
            spec.map(|s| format!("{}/{}", s.scale_target_ref.kind, s.scale_target_ref.name))
                .unwrap_or_default(),
        ),
        min_replicas: spec.and_then(|s| s.min_replicas).map(i64::from),
        max_replicas: Some(spec.map(|s| s.max_replicas).unwrap_or(0).into()),
        current_replicas: h
            .status
            .as_ref()
            .and_then(|s| s.current_replicas)
            .map(i64::from),
        desired_replicas: h.status.as_ref().map(|s| s.desired_replicas.into()),
        metrics,
        helm: helm_of(&h.metadata),
        extra: Default::default(),
    }
}

fn int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// A PDB's summary.
pub fn pdb(p: &PodDisruptionBudget) -> Pdb {
    let spec = p.spec.as_ref();
    let st = p.status.as_ref();
    Pdb {
        namespace: Some(p.metadata.namespace.clone().unwrap_or_default()),
        name: Some(p.metadata.name.clone().unwrap_or_default()),
        min_available: spec
            .and_then(|s| s.min_available.as_ref())
            .map(int_or_string),
        max_unavailable: spec
            .and_then(|s| s.max_unavailable.as_ref())
            .map(int_or_string),
        selector: Some(
            spec.and_then(|s| s.selector.as_ref())
                .and_then(|s| s.match_labels.clone())
                .unwrap_or_default(),
        ),
        current_healthy: st.map(|s| s.current_healthy.into()),
        desired_healthy: st.map(|s| s.desired_healthy.into()),
        disruptions_allowed: st.map(|s| s.disruptions_allowed.into()),
        expected_pods: st.map(|s| s.expected_pods.into()),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_names_and_versions() {
        assert_eq!(
            parse_chart("rocketchat-7.0.2"),
            (Some("rocketchat".into()), Some("7.0.2".into()))
        );
        assert_eq!(
            parse_chart("prometheus-node-exporter-4.39.0"),
            (
                Some("prometheus-node-exporter".into()),
                Some("4.39.0".into())
            )
        );
        assert_eq!(parse_chart("mychart"), (Some("mychart".into()), None));
    }
}
