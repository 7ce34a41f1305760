//! `kubernetes/helm.json` (only with `--kube-helm-release`): the Helm releases decoded
//! from their release Secrets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

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
