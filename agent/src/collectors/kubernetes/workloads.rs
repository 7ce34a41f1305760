//! Workload summaries (`kubernetes/workloads.json`): Deployments, StatefulSets (with
//! their volumeClaimTemplates), DaemonSets, the ReplicaSets that own the chosen pods,
//! HPAs (autoscaling/v2) and PDBs. Helm is recognised from the workload's own labels
//! (`helm.sh/chart`, `app.kubernetes.io/managed-by=Helm`): the chart puts them on the
//! Deployment, not on its pods' template.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::nodes::quantities;

/// Everything of `workloads.json`.
#[derive(Debug, Default, Serialize)]
pub struct Workloads {
    /// Deployments.
    pub deployments: Vec<WorkloadSummary>,
    /// StatefulSets.
    pub statefulsets: Vec<WorkloadSummary>,
    /// DaemonSets.
    pub daemonsets: Vec<WorkloadSummary>,
    /// ReplicaSets owning the chosen pods.
    pub replicasets: Vec<WorkloadSummary>,
    /// HorizontalPodAutoscalers.
    pub hpas: Vec<HpaSummary>,
    /// PodDisruptionBudgets.
    pub pdbs: Vec<PdbSummary>,
}

/// A Helm release as the workload's labels say.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Helm {
    /// `helm.sh/chart` as written (`rocketchat-7.0.2`).
    pub chart: Option<String>,
    /// Chart name parsed from it.
    pub chart_name: Option<String>,
    /// Chart version parsed from it.
    pub chart_version: Option<String>,
    /// `app.kubernetes.io/instance` or `meta.helm.sh/release-name`.
    pub release: Option<String>,
    /// `app.kubernetes.io/managed-by`.
    pub managed_by: Option<String>,
    /// `app.kubernetes.io/version`.
    pub app_version: Option<String>,
}

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
    })
}

/// The containers of a pod template (no env: that is in `pods.json`).
#[derive(Debug, Clone, Serialize)]
pub struct TemplateContainer {
    /// Name.
    pub name: String,
    /// Image.
    pub image: Option<String>,
    /// Requests.
    pub requests: BTreeMap<String, String>,
    /// Limits.
    pub limits: BTreeMap<String, String>,
}

/// A volumeClaimTemplate of a StatefulSet.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimTemplate {
    /// Name.
    pub name: String,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Requested storage.
    pub storage: Option<String>,
    /// Access modes.
    pub access_modes: Vec<String>,
}

/// A Deployment, StatefulSet, DaemonSet or ReplicaSet.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSummary {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Desired replicas (DaemonSets: desired scheduled).
    pub replicas: Option<i32>,
    /// Ready replicas.
    pub ready_replicas: Option<i32>,
    /// Available replicas.
    pub available_replicas: Option<i32>,
    /// Updated replicas.
    pub updated_replicas: Option<i32>,
    /// Deployment strategy / StatefulSet update strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// The controlling owner (`Deployment/name` of a ReplicaSet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The Helm release, from the workload's labels.
    pub helm: Option<Helm>,
    /// Labels of the workload.
    pub labels: BTreeMap<String, String>,
    /// Selector `matchLabels`.
    pub selector: BTreeMap<String, String>,
    /// The pod template's containers.
    pub containers: Vec<TemplateContainer>,
    /// StatefulSet `serviceName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// StatefulSet `volumeClaimTemplates`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_claim_templates: Vec<ClaimTemplate>,
    /// Status conditions, `Type=Status (reason)`.
    pub conditions: Vec<String>,
}

fn base(
    meta: &ObjectMeta,
    template: Option<&PodTemplateSpec>,
    sel: Option<&LabelSelector>,
) -> WorkloadSummary {
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| {
            s.containers
                .iter()
                .map(|c| TemplateContainer {
                    name: c.name.clone(),
                    image: c.image.clone(),
                    requests: quantities(c.resources.as_ref().and_then(|r| r.requests.as_ref())),
                    limits: quantities(c.resources.as_ref().and_then(|r| r.limits.as_ref())),
                })
                .collect()
        })
        .unwrap_or_default();
    WorkloadSummary {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
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
        labels: meta.labels.clone().unwrap_or_default(),
        selector: sel.and_then(|s| s.match_labels.clone()).unwrap_or_default(),
        containers,
        service_name: None,
        volume_claim_templates: Vec::new(),
        conditions: Vec::new(),
    }
}

fn cond(type_: &str, status: &str, reason: Option<&String>) -> String {
    match reason {
        Some(r) => format!("{type_}={status} ({r})"),
        None => format!("{type_}={status}"),
    }
}

/// A Deployment.
pub fn deployment(d: &Deployment) -> WorkloadSummary {
    let spec = d.spec.as_ref();
    let mut w = base(
        &d.metadata,
        spec.map(|s| &s.template),
        spec.map(|s| &s.selector),
    );
    let st = d.status.as_ref();
    w.replicas = spec.and_then(|s| s.replicas).or(Some(1));
    w.ready_replicas = st.and_then(|s| s.ready_replicas).or(Some(0));
    w.available_replicas = st.and_then(|s| s.available_replicas).or(Some(0));
    w.updated_replicas = st.and_then(|s| s.updated_replicas);
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
pub fn statefulset(s: &StatefulSet) -> WorkloadSummary {
    let spec = s.spec.as_ref();
    let mut w = base(
        &s.metadata,
        spec.map(|s| &s.template),
        spec.map(|s| &s.selector),
    );
    let st = s.status.as_ref();
    w.replicas = spec.and_then(|s| s.replicas).or(Some(1));
    w.ready_replicas = st.and_then(|s| s.ready_replicas).or(Some(0));
    w.available_replicas = st.and_then(|s| s.available_replicas);
    w.updated_replicas = st.and_then(|s| s.updated_replicas);
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
                name: t.metadata.name.clone().unwrap_or_default(),
                storage_class: ps.and_then(|p| p.storage_class_name.clone()),
                storage: ps
                    .and_then(|p| p.resources.as_ref())
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get("storage"))
                    .map(|q| q.0.clone()),
                access_modes: ps.and_then(|p| p.access_modes.clone()).unwrap_or_default(),
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
pub fn daemonset(d: &DaemonSet) -> WorkloadSummary {
    let spec = d.spec.as_ref();
    let mut w = base(
        &d.metadata,
        spec.map(|s| &s.template),
        spec.map(|s| &s.selector),
    );
    if let Some(st) = &d.status {
        w.replicas = Some(st.desired_number_scheduled);
        w.ready_replicas = Some(st.number_ready);
        w.available_replicas = st.number_available;
        w.updated_replicas = st.updated_number_scheduled;
    }
    w.strategy = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.clone());
    w
}

/// A ReplicaSet.
pub fn replicaset(r: &ReplicaSet) -> WorkloadSummary {
    let spec = r.spec.as_ref();
    let mut w = base(
        &r.metadata,
        spec.and_then(|s| s.template.as_ref()),
        spec.map(|s| &s.selector),
    );
    w.replicas = spec.and_then(|s| s.replicas).or(Some(1));
    if let Some(st) = &r.status {
        w.ready_replicas = st.ready_replicas.or(Some(0));
        w.available_replicas = st.available_replicas;
    }
    w
}

/// An HPA.
#[derive(Debug, Clone, Serialize)]
pub struct HpaSummary {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `Kind/name` it scales.
    pub target: String,
    /// minReplicas.
    pub min_replicas: Option<i32>,
    /// maxReplicas.
    pub max_replicas: i32,
    /// Current replicas.
    pub current_replicas: Option<i32>,
    /// Desired replicas.
    pub desired_replicas: Option<i32>,
    /// Metrics, `Resource cpu Utilization 70`.
    pub metrics: Vec<String>,
    /// Helm release, from its labels.
    pub helm: Option<Helm>,
}

/// An HPA's summary.
pub fn hpa(h: &HorizontalPodAutoscaler) -> HpaSummary {
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
    HpaSummary {
        namespace: h.metadata.namespace.clone().unwrap_or_default(),
        name: h.metadata.name.clone().unwrap_or_default(),
        target: spec
            .map(|s| format!("{}/{}", s.scale_target_ref.kind, s.scale_target_ref.name))
            .unwrap_or_default(),
        min_replicas: spec.and_then(|s| s.min_replicas),
        max_replicas: spec.map(|s| s.max_replicas).unwrap_or(0),
        current_replicas: h.status.as_ref().and_then(|s| s.current_replicas),
        desired_replicas: h.status.as_ref().map(|s| s.desired_replicas),
        metrics,
        helm: helm_of(&h.metadata),
    }
}

/// A PDB.
#[derive(Debug, Clone, Serialize)]
pub struct PdbSummary {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// minAvailable.
    pub min_available: Option<String>,
    /// maxUnavailable.
    pub max_unavailable: Option<String>,
    /// Selector `matchLabels`.
    pub selector: BTreeMap<String, String>,
    /// Current healthy pods.
    pub current_healthy: Option<i32>,
    /// Desired healthy pods.
    pub desired_healthy: Option<i32>,
    /// Disruptions allowed now.
    pub disruptions_allowed: Option<i32>,
    /// Pods it counts.
    pub expected_pods: Option<i32>,
}

fn int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// A PDB's summary.
pub fn pdb(p: &PodDisruptionBudget) -> PdbSummary {
    let spec = p.spec.as_ref();
    let st = p.status.as_ref();
    PdbSummary {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        min_available: spec
            .and_then(|s| s.min_available.as_ref())
            .map(int_or_string),
        max_unavailable: spec
            .and_then(|s| s.max_unavailable.as_ref())
            .map(int_or_string),
        selector: spec
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default(),
        current_healthy: st.map(|s| s.current_healthy),
        desired_healthy: st.map(|s| s.desired_healthy),
        disruptions_allowed: st.map(|s| s.disruptions_allowed),
        expected_pods: st.map(|s| s.expected_pods),
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
