//! `kubernetes/network.json` (Services, Ingresses, OpenShift Routes) and
//! `kubernetes/storage.json` (PersistentVolumeClaims).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

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
