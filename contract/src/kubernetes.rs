//! `kubernetes/*.json`: what the `kubernetes` collector read from the API server
//! (docs/collector-outputs.md, "kubernetes"). Objects are summaries the agent made, not
//! the API's objects: quantities stay strings (`"7900m"`, `"32Gi"`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `kubernetes/cluster.json`: the cluster, its distribution and the namespaces read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterFile {
    /// How the agent reached the cluster (kubeconfig and context, or in-cluster).
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// The API server's address.
    #[serde(default, deserialize_with = "opt")]
    pub server: Option<String>,
    /// The API server's version.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<ServerVersion>,
    /// API groups and versions served (`apps/v1`, ...).
    #[serde(default, deserialize_with = "vec")]
    pub api_groups: Vec<String>,
    /// Distributions recognised (openshift, rancher, rke2, k3s), each with its signs.
    #[serde(default, deserialize_with = "vec")]
    pub distribution: Vec<Distribution>,
    /// Nodes in the cluster.
    #[serde(default, deserialize_with = "opt")]
    pub node_count: Option<u64>,
    /// Namespaces in the cluster, when they could be listed.
    #[serde(default, deserialize_with = "opt")]
    pub namespace_count: Option<u64>,
    /// The namespaces read and why each was chosen.
    #[serde(default, deserialize_with = "vec")]
    pub namespaces: Vec<ChosenNamespace>,
    /// Pods read.
    #[serde(default, deserialize_with = "opt")]
    pub pod_count: Option<u64>,
    /// Rocket.Chat pods among them.
    #[serde(default, deserialize_with = "opt")]
    pub rocketchat_pods: Option<u64>,
    /// `DEPLOY_PLATFORM` values of the Rocket.Chat pods.
    #[serde(default, deserialize_with = "vec")]
    pub deploy_platforms: Vec<String>,
    /// `namespace/release chart` from the Helm labels of the workloads.
    #[serde(default, deserialize_with = "vec")]
    pub helm_releases: Vec<String>,
    /// Where the Rocket.Chat pods' `MONGO_URL` comes from.
    #[serde(default, deserialize_with = "opt")]
    pub mongodb_hint: Option<MongoHint>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for ClusterFile {
    const PATH: &'static str = "kubernetes/cluster.json";
    const SCHEMA: &'static str = "kubernetes-cluster.schema.json";
}

/// The API server's version (`/version`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerVersion {
    /// `v1.33.5`, `v1.31.9+rke2r1`.
    #[serde(default, deserialize_with = "opt")]
    pub git_version: Option<String>,
    /// Major version.
    #[serde(default, deserialize_with = "opt")]
    pub major: Option<String>,
    /// Minor version.
    #[serde(default, deserialize_with = "opt")]
    pub minor: Option<String>,
    /// `linux/amd64`.
    #[serde(default, deserialize_with = "opt")]
    pub platform: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A distribution recognised, with its signs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Distribution {
    /// `openshift`, `rancher`, `rke2` or `k3s`.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Its version when known.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// What showed it (at most 8).
    #[serde(default, deserialize_with = "vec")]
    pub evidence: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A namespace read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChosenNamespace {
    /// Its name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Why (`rocketchat`, `mongodb`, `prometheus`, ...).
    #[serde(default, deserialize_with = "vec")]
    pub reasons: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where the Rocket.Chat pods' `MONGO_URL` comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MongoHint {
    /// `inline`, `secret` or `configmap`.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// `namespace/name` of the pod read.
    #[serde(default, deserialize_with = "opt")]
    pub pod: Option<String>,
    /// The Secret or ConfigMap and key named.
    #[serde(default, deserialize_with = "opt")]
    pub reference: Option<String>,
    /// The inline URI without credentials.
    #[serde(default, deserialize_with = "opt")]
    pub uri_redacted: Option<String>,
    /// What to do.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/nodes.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodesFile {
    /// Every node of the cluster.
    #[serde(default, deserialize_with = "vec")]
    pub nodes: Vec<Node>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for NodesFile {
    const PATH: &'static str = "kubernetes/nodes.json";
    const SCHEMA: &'static str = "kubernetes-nodes.schema.json";
}

/// A node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// Node name (the per-node bundles' node name when they match).
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// From `node-role.kubernetes.io/*` labels.
    #[serde(default, deserialize_with = "vec")]
    pub roles: Vec<String>,
    /// Its Ready condition is True.
    #[serde(default, deserialize_with = "opt")]
    pub ready: Option<bool>,
    /// Cordoned.
    #[serde(default, deserialize_with = "opt")]
    pub unschedulable: Option<bool>,
    /// Capacity (`cpu`, `memory`, ...), as quantities.
    #[serde(default, deserialize_with = "opt")]
    pub capacity: Option<BTreeMap<String, String>>,
    /// Allocatable resources, as quantities.
    #[serde(default, deserialize_with = "opt")]
    pub allocatable: Option<BTreeMap<String, String>>,
    /// Node conditions.
    #[serde(default, deserialize_with = "vec")]
    pub conditions: Vec<Condition>,
    /// Kubelet version.
    #[serde(default, deserialize_with = "opt")]
    pub kubelet_version: Option<String>,
    /// `containerd://1.7.27`.
    #[serde(default, deserialize_with = "opt")]
    pub container_runtime: Option<String>,
    /// OS image.
    #[serde(default, deserialize_with = "opt")]
    pub os_image: Option<String>,
    /// Kernel version.
    #[serde(default, deserialize_with = "opt")]
    pub kernel: Option<String>,
    /// CPU architecture.
    #[serde(default, deserialize_with = "opt")]
    pub architecture: Option<String>,
    /// `key=value:Effect`.
    #[serde(default, deserialize_with = "vec")]
    pub taints: Vec<String>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The annotations kept (docs/collector-outputs.md).
    #[serde(default, deserialize_with = "opt")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A condition of a node or pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// Condition type.
    #[serde(default, deserialize_with = "opt", rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False`, `Unknown`.
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<String>,
    /// Reason.
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// Message.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/pods.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodsFile {
    /// The pods of the namespaces read.
    #[serde(default, deserialize_with = "vec")]
    pub pods: Vec<Pod>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for PodsFile {
    const PATH: &'static str = "kubernetes/pods.json";
    const SCHEMA: &'static str = "kubernetes-pods.schema.json";
}

/// A pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pod {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `rocketchat`, `rocketchat-service`, `mongodb`, `prometheus`, `grafana` or `other`.
    #[serde(default, deserialize_with = "opt")]
    pub role: Option<String>,
    /// `Running`, `Pending`, ...
    #[serde(default, deserialize_with = "opt")]
    pub phase: Option<String>,
    /// Why it is in that phase (`Evicted`).
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// The node it runs on.
    #[serde(default, deserialize_with = "opt")]
    pub node: Option<String>,
    /// QoS class.
    #[serde(default, deserialize_with = "opt")]
    pub qos_class: Option<String>,
    /// Start time (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub start_time: Option<String>,
    /// `ReplicaSet/x`, `StatefulSet/x`.
    #[serde(default, deserialize_with = "opt")]
    pub owner: Option<String>,
    /// Its Ready condition is True.
    #[serde(default, deserialize_with = "opt")]
    pub ready: Option<bool>,
    /// Restarts of all its containers.
    #[serde(default, deserialize_with = "opt")]
    pub restarts: Option<i64>,
    /// Pod conditions.
    #[serde(default, deserialize_with = "vec")]
    pub conditions: Vec<Condition>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The annotations kept (prometheus.io/*, ...).
    #[serde(default, deserialize_with = "opt")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Its containers (init containers too).
    #[serde(default, deserialize_with = "vec")]
    pub containers: Vec<PodContainer>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A container of a pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodContainer {
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// An init container (only written when true).
    #[serde(default, deserialize_with = "opt")]
    pub init: Option<bool>,
    /// The image of the spec.
    #[serde(default, deserialize_with = "opt")]
    pub image: Option<String>,
    /// The image the runtime ran (`repo@sha256:...`).
    #[serde(default, deserialize_with = "opt")]
    pub image_id: Option<String>,
    /// `sha256:...` of `image_id`.
    #[serde(default, deserialize_with = "opt")]
    pub digest: Option<String>,
    /// Resource requests.
    #[serde(default, deserialize_with = "opt")]
    pub requests: Option<BTreeMap<String, String>>,
    /// Resource limits.
    #[serde(default, deserialize_with = "opt")]
    pub limits: Option<BTreeMap<String, String>>,
    /// Ready.
    #[serde(default, deserialize_with = "opt")]
    pub ready: Option<bool>,
    /// Restarts.
    #[serde(default, deserialize_with = "opt")]
    pub restart_count: Option<i64>,
    /// `running`, `waiting` or `terminated`.
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<String>,
    /// `ImagePullBackOff`, `CrashLoopBackOff`, ...
    #[serde(default, deserialize_with = "opt")]
    pub state_reason: Option<String>,
    /// How the previous run ended.
    #[serde(default, deserialize_with = "opt")]
    pub last_terminated: Option<Terminated>,
    /// Environment of the spec, redacted.
    #[serde(default, deserialize_with = "vec")]
    pub env: Vec<EnvVar>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a container's previous run ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Terminated {
    /// `OOMKilled`, `Error`, `Completed`.
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// Exit code.
    #[serde(default, deserialize_with = "opt")]
    pub exit_code: Option<i64>,
    /// When.
    #[serde(default, deserialize_with = "opt")]
    pub finished_at: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An environment variable of a pod spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvVar {
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Value, redacted as container env is.
    #[serde(default, deserialize_with = "opt")]
    pub value: Option<String>,
    /// Where the value comes from.
    #[serde(default, deserialize_with = "opt")]
    pub value_from: Option<ValueFrom>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A `valueFrom` reference (names only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValueFrom {
    /// `secretKeyRef`, `configMapKeyRef`, `fieldRef` or `resourceFieldRef`.
    #[serde(default, deserialize_with = "opt")]
    pub kind: Option<String>,
    /// The object or field named.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// The key.
    #[serde(default, deserialize_with = "opt")]
    pub key: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

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
    #[serde(default, deserialize_with = "opt")]
    pub strategy: Option<String>,
    /// Owner (`Deployment/x` for a ReplicaSet).
    #[serde(default, deserialize_with = "opt")]
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
    #[serde(default, deserialize_with = "opt")]
    pub service_name: Option<String>,
    /// StatefulSets: their volume claim templates.
    #[serde(default, deserialize_with = "vec")]
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

/// `kubernetes/network.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkFile {
    /// Services.
    #[serde(default, deserialize_with = "vec")]
    pub services: Vec<Service>,
    /// Ingresses.
    #[serde(default, deserialize_with = "vec")]
    pub ingresses: Vec<Ingress>,
    /// OpenShift Routes; `null` when `route.openshift.io/v1` is not served.
    #[serde(default, deserialize_with = "opt")]
    pub routes: Option<Vec<Route>>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for NetworkFile {
    const PATH: &'static str = "kubernetes/network.json";
    const SCHEMA: &'static str = "kubernetes-network.schema.json";
}

/// A Service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Service {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `ClusterIP`, `NodePort`, `LoadBalancer`.
    #[serde(default, deserialize_with = "opt", rename = "type")]
    pub type_: Option<String>,
    /// Headless (no cluster IP).
    #[serde(default, deserialize_with = "opt")]
    pub headless: Option<bool>,
    /// `http 80→3000/TCP nodePort 30080`.
    #[serde(default, deserialize_with = "vec")]
    pub ports: Vec<String>,
    /// Selector.
    #[serde(default, deserialize_with = "opt")]
    pub selector: Option<BTreeMap<String, String>>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An Ingress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Ingress {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Ingress class.
    #[serde(default, deserialize_with = "opt")]
    pub class: Option<String>,
    /// `host path → service:port`.
    #[serde(default, deserialize_with = "vec")]
    pub rules: Vec<String>,
    /// `host (secret name)`.
    #[serde(default, deserialize_with = "vec")]
    pub tls: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An OpenShift Route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Route {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Host.
    #[serde(default, deserialize_with = "opt")]
    pub host: Option<String>,
    /// Path.
    #[serde(default, deserialize_with = "opt")]
    pub path: Option<String>,
    /// `Service/x`.
    #[serde(default, deserialize_with = "opt")]
    pub to: Option<String>,
    /// Target port.
    #[serde(default, deserialize_with = "opt")]
    pub target_port: Option<String>,
    /// TLS termination.
    #[serde(default, deserialize_with = "opt")]
    pub tls_termination: Option<String>,
    /// Admitted by a router.
    #[serde(default, deserialize_with = "opt")]
    pub admitted: Option<bool>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/storage.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StorageFile {
    /// PersistentVolumeClaims.
    #[serde(default, deserialize_with = "vec")]
    pub pvcs: Vec<Pvc>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for StorageFile {
    const PATH: &'static str = "kubernetes/storage.json";
    const SCHEMA: &'static str = "kubernetes-storage.schema.json";
}

/// A PersistentVolumeClaim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pvc {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Storage class.
    #[serde(default, deserialize_with = "opt")]
    pub storage_class: Option<String>,
    /// `Bound`, `Pending`.
    #[serde(default, deserialize_with = "opt")]
    pub phase: Option<String>,
    /// Requested size.
    #[serde(default, deserialize_with = "opt")]
    pub requested: Option<String>,
    /// Bound capacity.
    #[serde(default, deserialize_with = "opt")]
    pub capacity: Option<String>,
    /// Access modes.
    #[serde(default, deserialize_with = "vec")]
    pub access_modes: Vec<String>,
    /// The PersistentVolume bound.
    #[serde(default, deserialize_with = "opt")]
    pub volume: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/events.json`: Warning events of the last `--since`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventsFile {
    /// The window, in seconds.
    #[serde(default, deserialize_with = "opt")]
    pub since_seconds: Option<u64>,
    /// Warning events listed.
    #[serde(default, deserialize_with = "opt")]
    pub read: Option<u64>,
    /// Those within the window, newest first.
    #[serde(default, deserialize_with = "vec")]
    pub events: Vec<Event>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for EventsFile {
    const PATH: &'static str = "kubernetes/events.json";
    const SCHEMA: &'static str = "kubernetes-events.schema.json";
}

/// A Warning event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// `Warning`.
    #[serde(default, deserialize_with = "opt", rename = "type")]
    pub type_: Option<String>,
    /// `FailedScheduling`, `BackOff`, `Evicted`, ...
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
    /// Message.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// `Pod/x`.
    #[serde(default, deserialize_with = "opt")]
    pub object: Option<String>,
    /// How many times.
    #[serde(default, deserialize_with = "opt")]
    pub count: Option<i64>,
    /// First seen.
    #[serde(default, deserialize_with = "opt")]
    pub first_seen: Option<String>,
    /// Last seen.
    #[serde(default, deserialize_with = "opt")]
    pub last_seen: Option<String>,
    /// Reporting component.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/monitoring.json`: Prometheus Operator objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitoringFile {
    /// `monitoring.coreos.com/v1` is served.
    #[serde(default, deserialize_with = "opt")]
    pub prometheus_operator: Option<bool>,
    /// ServiceMonitors.
    #[serde(default, deserialize_with = "vec")]
    pub servicemonitors: Vec<Monitor>,
    /// PodMonitors.
    #[serde(default, deserialize_with = "vec")]
    pub podmonitors: Vec<Monitor>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for MonitoringFile {
    const PATH: &'static str = "kubernetes/monitoring.json";
    const SCHEMA: &'static str = "kubernetes-monitoring.schema.json";
}

/// A ServiceMonitor or PodMonitor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Monitor {
    /// Namespace.
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Labels.
    #[serde(default, deserialize_with = "opt")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `matchLabels` of its selector.
    #[serde(default, deserialize_with = "opt")]
    pub selector: Option<BTreeMap<String, String>>,
    /// Namespaces it selects in.
    #[serde(default, deserialize_with = "vec")]
    pub namespaces: Vec<String>,
    /// `port path every interval`.
    #[serde(default, deserialize_with = "vec")]
    pub endpoints: Vec<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/calls.json`: every API call and its outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CallsFile {
    /// How the cluster was reached.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// The API server.
    #[serde(default, deserialize_with = "opt")]
    pub server: Option<String>,
    /// The calls.
    #[serde(default, deserialize_with = "vec")]
    pub calls: Vec<Call>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for CallsFile {
    const PATH: &'static str = "kubernetes/calls.json";
    const SCHEMA: &'static str = "kubernetes-calls.schema.json";
}

/// An API call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Call {
    /// API path.
    #[serde(default, deserialize_with = "opt")]
    pub path: Option<String>,
    /// Query (`fieldSelector=...`).
    #[serde(default, deserialize_with = "opt")]
    pub query: Option<String>,
    /// `ok`, `absent`, `forbidden`, `error` or `skipped`.
    #[serde(default, deserialize_with = "opt")]
    pub outcome: Option<String>,
    /// What went wrong and what to grant.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// Items read.
    #[serde(default, deserialize_with = "opt")]
    pub items: Option<u64>,
    /// Pages read.
    #[serde(default, deserialize_with = "opt")]
    pub pages: Option<u64>,
    /// An expired continue token made the list be read again.
    #[serde(default, deserialize_with = "opt")]
    pub restarted: Option<bool>,
    /// The object cap cut it.
    #[serde(default, deserialize_with = "opt")]
    pub truncated: Option<String>,
    /// A refused cluster-wide list was replaced by per-namespace lists.
    #[serde(default, deserialize_with = "opt")]
    pub fell_back: Option<bool>,
    /// Bytes read from the server (pod logs).
    #[serde(default, deserialize_with = "opt")]
    pub bytes: Option<u64>,
    /// Duration.
    #[serde(default, deserialize_with = "opt")]
    pub duration_ms: Option<u64>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `kubernetes/helm.json` (only with `--kube-helm-release`): the Helm releases asked for,
/// decoded from their release Secrets; values redacted, never the rendered manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HelmFile {
    /// One entry per release asked for.
    #[serde(default, deserialize_with = "vec")]
    pub releases: Vec<HelmRelease>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for HelmFile {
    const PATH: &'static str = "kubernetes/helm.json";
    const SCHEMA: &'static str = "kubernetes-helm.schema.json";
}

/// A Helm release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HelmRelease {
    /// As asked (`NAME` or `NAMESPACE/NAME`).
    #[serde(default, deserialize_with = "opt")]
    pub requested: Option<String>,
    /// Release name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Its namespace (or where it was looked for).
    #[serde(default, deserialize_with = "opt")]
    pub namespace: Option<String>,
    /// The Secret decoded (`sh.helm.release.v1.NAME.vN`).
    #[serde(default, deserialize_with = "opt")]
    pub secret: Option<String>,
    /// Revision decoded (the latest).
    #[serde(default, deserialize_with = "opt")]
    pub revision: Option<i64>,
    /// Every revision seen, oldest first.
    #[serde(default, deserialize_with = "vec")]
    pub history: Vec<HelmRevision>,
    /// `deployed`, `superseded`, `failed`, `pending-upgrade`, ...
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<String>,
    /// First deploy (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub first_deployed: Option<String>,
    /// Last deploy (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub last_deployed: Option<String>,
    /// Helm's description of the last operation.
    #[serde(default, deserialize_with = "opt")]
    pub description: Option<String>,
    /// The chart's metadata.
    #[serde(default, deserialize_with = "opt")]
    pub chart: Option<HelmChart>,
    /// User-supplied values (Helm's `config`), redacted.
    #[serde(default)]
    pub values: Option<serde_json::Value>,
    /// Bytes of the decoded release JSON.
    #[serde(default, deserialize_with = "opt")]
    pub decoded_bytes: Option<u64>,
    /// Why it could not be (fully) read.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A revision of a release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HelmRevision {
    /// Revision.
    #[serde(default, deserialize_with = "opt")]
    pub revision: Option<i64>,
    /// Its status.
    #[serde(default, deserialize_with = "opt")]
    pub status: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A chart's metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HelmChart {
    /// Chart name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Chart version.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// App version.
    #[serde(default, deserialize_with = "opt")]
    pub app_version: Option<String>,
    /// `v1` or `v2`.
    #[serde(default, deserialize_with = "opt")]
    pub api_version: Option<String>,
    /// Kubernetes versions it supports.
    #[serde(default, deserialize_with = "opt")]
    pub kube_version: Option<String>,
    /// `application` or `library`.
    #[serde(default, deserialize_with = "opt")]
    pub chart_type: Option<String>,
    /// Deprecated.
    #[serde(default, deserialize_with = "opt")]
    pub deprecated: Option<bool>,
    /// Description.
    #[serde(default, deserialize_with = "opt")]
    pub description: Option<String>,
    /// Subcharts.
    #[serde(default, deserialize_with = "vec")]
    pub dependencies: Vec<HelmDependency>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A subchart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HelmDependency {
    /// Name.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// Version range.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// Repository.
    #[serde(default, deserialize_with = "opt")]
    pub repository: Option<String>,
    /// The values key that enables it.
    #[serde(default, deserialize_with = "opt")]
    pub condition: Option<String>,
    /// Alias.
    #[serde(default, deserialize_with = "opt")]
    pub alias: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
