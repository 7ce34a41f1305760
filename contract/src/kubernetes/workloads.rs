//! `kubernetes/workloads.json`: Deployments, StatefulSets, DaemonSets, ReplicaSets (with
//! the Helm chart their labels name), HPAs and PDBs.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `kubernetes/workloads.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkloadsFile {
    /// Deployments.
    #[serde(default, deserialize_with = "vec")]
    pub deployments: Vec<Workload>,
    /// StatefulSets.
    #[serde(default, deserialize_with = "vec")]
    pub statefulsets: Vec<Workload>,
    /// DaemonSets.
    #[serde(default, deserialize_with = "vec")]
    pub daemonsets: Vec<Workload>,
    /// ReplicaSets owning a pod read.
    #[serde(default, deserialize_with = "vec")]
    pub replicasets: Vec<Workload>,
    /// HorizontalPodAutoscalers.
    #[serde(default, deserialize_with = "vec")]
    pub hpas: Vec<Hpa>,
    /// PodDisruptionBudgets.
    #[serde(default, deserialize_with = "vec")]
    pub pdbs: Vec<Pdb>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for WorkloadsFile {
    const PATH: &'static str = "kubernetes/workloads.json";
    const SCHEMA: &'static str = "kubernetes-workloads.schema.json";
}

/// A Deployment, StatefulSet, DaemonSet or ReplicaSet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Workload {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Desired replicas.
    #[serde(default, deserialize_with = "opt")]
    pub replicas: Option<i64>,
    /// Ready replicas.
    #[serde(default, deserialize_with = "opt")]
    pub ready_replicas: Option<i64>,
    /// Available replicas.
    #[serde(default, deserialize_with = "opt")]
    pub available_replicas: Option<i64>,
    /// Updated replicas.
    #[serde(default, deserialize_with = "opt")]
    pub updated_replicas: Option<i64>,
    /// Update strategy.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub strategy: Option<String>,
    /// Owner (`Deployment/x` for a ReplicaSet).
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub owner: Option<String>,
    /// Its Helm chart, from its own labels.
    #[serde(default, deserialize_with = "opt")]
    pub helm: Option<Helm>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `matchLabels` of its selector.
    #[serde(default, deserialize_with = "opt")]
    pub selector: Option<BTreeMap<String, String>>,
    /// Containers of its pod template.
    #[serde(default, deserialize_with = "vec")]
    pub containers: Vec<TemplateContainer>,
    /// StatefulSets: the governing Service.
    #[serde(
        default,
        deserialize_with = "opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_name: Option<String>,
    /// StatefulSets: their volume claim templates.
    #[serde(
        default,
        deserialize_with = "vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volume_claim_templates: Vec<ClaimTemplate>,
    /// `Available=True (MinimumReplicasAvailable)`.
    #[serde(default, deserialize_with = "vec")]
    pub conditions: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The Helm chart of a workload, from its labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Helm {
    /// `helm.sh/chart` (`rocketchat-7.0.2`).
    #[serde(default, deserialize_with = "opt")]
    pub chart: Option<String>,
    /// Chart name.
    #[serde(default, deserialize_with = "opt")]
    pub chart_name: Option<String>,
    /// Chart version.
    #[serde(default, deserialize_with = "opt")]
    pub chart_version: Option<String>,
    /// Release (`app.kubernetes.io/instance`).
    #[serde(default, deserialize_with = "opt")]
    pub release: Option<String>,
    /// `app.kubernetes.io/managed-by`.
    #[serde(default, deserialize_with = "opt")]
    pub managed_by: Option<String>,
    /// `app.kubernetes.io/version`.
    #[serde(default, deserialize_with = "opt")]
    pub app_version: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A container of a pod template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateContainer {
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Image.
    #[serde(default, deserialize_with = "opt")]
    pub image: Option<String>,
    /// Resource requests.
    #[serde(default, deserialize_with = "opt")]
    pub requests: Option<BTreeMap<String, String>>,
    /// Resource limits.
    #[serde(default, deserialize_with = "opt")]
    pub limits: Option<BTreeMap<String, String>>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A volume claim template of a StatefulSet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClaimTemplate {
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Storage class.
    #[serde(default, deserialize_with = "opt")]
    pub storage_class: Option<String>,
    /// Requested size.
    #[serde(default, deserialize_with = "opt")]
    pub storage: Option<String>,
    /// Access modes.
    #[serde(default, deserialize_with = "vec")]
    pub access_modes: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A HorizontalPodAutoscaler (autoscaling/v2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hpa {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `Deployment/x`.
    #[serde(default, deserialize_with = "opt")]
    pub target: Option<String>,
    /// Minimum replicas.
    #[serde(default, deserialize_with = "opt")]
    pub min_replicas: Option<i64>,
    /// Maximum replicas.
    #[serde(default, deserialize_with = "opt")]
    pub max_replicas: Option<i64>,
    /// Current replicas.
    #[serde(default, deserialize_with = "opt")]
    pub current_replicas: Option<i64>,
    /// Desired replicas.
    #[serde(default, deserialize_with = "opt")]
    pub desired_replicas: Option<i64>,
    /// `Resource cpu Utilization 70`.
    #[serde(default, deserialize_with = "vec")]
    pub metrics: Vec<String>,
    /// Its Helm chart.
    #[serde(default, deserialize_with = "opt")]
    pub helm: Option<Helm>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pdb {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `minAvailable` (a count or a percentage).
    #[serde(default, deserialize_with = "opt")]
    pub min_available: Option<String>,
    /// `maxUnavailable`.
    #[serde(default, deserialize_with = "opt")]
    pub max_unavailable: Option<String>,
    /// `matchLabels` of its selector.
    #[serde(default, deserialize_with = "opt")]
    pub selector: Option<BTreeMap<String, String>>,
    /// Healthy pods.
    #[serde(default, deserialize_with = "opt")]
    pub current_healthy: Option<i64>,
    /// Pods that must stay healthy.
    #[serde(default, deserialize_with = "opt")]
    pub desired_healthy: Option<i64>,
    /// Disruptions allowed now.
    #[serde(default, deserialize_with = "opt")]
    pub disruptions_allowed: Option<i64>,
    /// Pods it covers.
    #[serde(default, deserialize_with = "opt")]
    pub expected_pods: Option<i64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
