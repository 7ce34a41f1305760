//! The node model: one verified bundle read into memory once.
//!
//! Each collector file is held as its type from the typed contract `rcdiag-contract`
//! (`host/host.json` as [`rcdiag_contract::host::HostFile`], `docker/containers.json`
//! as [`rcdiag_contract::docker::ContainersFile`], ...), so checks, the container view,
//! `diff` and `explore` read fields, not pointer strings. The contract reads leniently
//! (bundles are untrusted): a field of the wrong type reads as absent, and every check
//! says `unknown` with a reason when a field it needs is absent; a top level of the
//! wrong shape is recorded in `load_problems` with the contract's message. Only the
//! raw server replies `mongodb/<command>.json` stay `serde_json::Value` (the server's
//! own documents, read by pointer into them). Evidence pointers in reports are the
//! JSON pointers of the fields in the files, as before.
//!
//! Memory is bounded per bundle whatever it holds: each file is read only up to
//! [`MAX_JSON_BYTES`], parsed under a budget of [`MAX_FILE_VALUE_BYTES`] of values
//! (a file past it is recorded in `load_problems` and left out, so its checks say
//! `unknown` with the reason), then converted into its type (the `Value` is dropped;
//! the structs its list elements become are charged to the budget too), all files of
//! one bundle together under [`MAX_NODE_VALUE_BYTES`], and only the `mongodb/*.json`
//! files a check reads are kept. Logs are never held whole: they are streamed through
//! the log scanner (`crate::logscan`), and only the lines matching a policy signature
//! (capped) and the versions announced in startup boxes are kept.

use std::collections::BTreeMap;

use rcdiag_bundle::{Bundle, Manifest, TrustStatus};
use rcdiag_contract as contract;
use serde_json::Value;

pub use crate::image_ref::ImageRef;
pub use crate::logscan::LogMatch;
use crate::logscan::{LogFindings, LogScanner};
use crate::policy::Policy;
pub use crate::text::cut;

mod cause;
mod container;
pub mod cri;
mod kube;
mod read;
mod twin;

pub use cause::{CauseKind, CauseRef};
pub use container::{Container, ContainerKind};
pub use kube::{
    KUBE_FILES, Kube, PodCtr, RC_ROLES, cluster_bundles, cluster_of, cpu_cores, in_cluster,
    node_bundle, ns_name, quantity_bytes, selects,
};
pub use read::{
    MAX_FILE_VALUE_BYTES, MAX_JSON_BYTES, MAX_NODE_VALUE_BYTES, MONGODB_COMMANDS_READ,
    parse_bounded,
};
use read::{read_json, read_typed};
pub use twin::{cri_key, cri_twin, pod_twin};

/// Everything the checks need from one bundle (one node).
#[derive(Debug, Clone)]
pub struct NodeData {
    /// Bundle file name.
    pub label: String,
    /// The verified manifest, without its file lists (`files`, `collectors[].files`):
    /// no check reads them, and at 20,000 names they are most of a manifest's memory.
    pub manifest: Manifest,
    /// Whether the signer is trusted.
    pub trust: TrustStatus,
    /// `host/host.json`.
    pub host: Option<contract::host::HostFile>,
    /// `docker/containers.json`.
    pub docker_containers: Option<contract::docker::ContainersFile>,
    /// `docker/info.json`.
    pub docker_info: Option<contract::docker::InfoFile>,
    /// `docker/images.json`.
    pub docker_images: Option<contract::docker::ImagesFile>,
    /// `mongodb/summary.json`.
    pub mongodb_summary: Option<contract::mongodb::SummaryFile>,
    /// `mongodb/<command>.json` by command name (`buildInfo`, `serverStatus`, ...).
    pub mongodb: BTreeMap<String, Value>,
    /// `rocketchat/summary.json`.
    pub rocketchat: Option<contract::rocketchat::SummaryFile>,
    /// `rocketchat/settings.json`.
    pub rc_settings: Option<contract::rocketchat::SettingsFile>,
    /// `rocketchat/statistics.json`.
    pub rc_statistics: Option<contract::rocketchat::StatisticsFile>,
    /// `kubernetes/*.json`: the cluster view, when the bundle has one.
    pub kube: Kube,
    /// `cri/runtime.json`: the node's CRI runtime (a Kubernetes node).
    pub cri_runtime: Option<contract::cri::RuntimeFile>,
    /// `cri/pods.json`.
    pub cri_pods: Option<contract::cri::PodsFile>,
    /// `cri/containers.json`.
    pub cri_containers: Option<contract::cri::ContainersFile>,
    /// `cri/images.json`.
    pub cri_images: Option<contract::cri::ImagesFile>,
    /// `cri_containers` as Docker containers ([`cri::as_docker`]), for
    /// [`NodeData::containers`].
    cri_as_docker: Vec<contract::docker::Container>,
    /// Signature hits found while loading (capped per signature).
    pub log_matches: Vec<LogMatch>,
    /// Log files scanned (bundle paths).
    pub log_files: Vec<String>,
    /// `(file, version)` from `Rocket.Chat Version:` lines of startup boxes.
    pub startup_versions: Vec<(String, String)>,
    /// `logs/index.json`.
    pub logs_index: Option<contract::logs::IndexFile>,
    /// Hits per signature id, including those beyond the cap.
    pub log_match_counts: BTreeMap<String, u64>,
    /// `(file, version)` from `MongoDB Version:` lines of startup boxes.
    pub startup_mongo_versions: Vec<(String, String)>,
    /// `(file, engine)` from `MongoDB Engine:` lines of startup boxes.
    pub startup_mongo_engines: Vec<(String, String)>,
    /// `(file, Enabled|Disabled)` from `ReplicaSet OpLog:` lines of startup boxes.
    pub startup_oplog: Vec<(String, String)>,
    /// Files present but unusable (not JSON, too large): path -> reason.
    pub load_problems: BTreeMap<String, String>,
    /// Index of `docker/images.json` by image id, built on first use (a lookup per
    /// container must not scan every image).
    image_index: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
    /// Root causes [`NodeData::why_missing`] cited since the last
    /// [`NodeData::take_cited`] (the check runner takes them after each check).
    cited: cause::CauseLog,
}

impl NodeData {
    /// An empty node with only a manifest (every collector output missing); tests and
    /// callers fill in what they have.
    pub fn new(label: &str, manifest: Manifest) -> NodeData {
        NodeData {
            label: label.to_string(),
            manifest,
            trust: TrustStatus::NotChecked,
            host: None,
            docker_containers: None,
            docker_info: None,
            docker_images: None,
            mongodb_summary: None,
            mongodb: BTreeMap::new(),
            rocketchat: None,
            rc_settings: None,
            rc_statistics: None,
            kube: Kube::default(),
            cri_runtime: None,
            cri_pods: None,
            cri_containers: None,
            cri_images: None,
            cri_as_docker: Vec::new(),
            log_matches: Vec::new(),
            log_files: Vec::new(),
            startup_versions: Vec::new(),
            logs_index: None,
            log_match_counts: BTreeMap::new(),
            startup_mongo_versions: Vec::new(),
            startup_mongo_engines: Vec::new(),
            startup_oplog: Vec::new(),
            load_problems: BTreeMap::new(),
            image_index: std::sync::OnceLock::new(),
            cited: cause::CauseLog::default(),
        }
    }

    /// Reads every file the checks use from a verified bundle; logs are scanned line
    /// by line against the policy's signatures (on a second thread, while this one
    /// decrypts, inflates and hashes the next block). Files that are missing are left
    /// `None`; files that are present but unusable (not JSON, too large) are recorded
    /// in `load_problems`. Only integrity errors (content not matching the signed
    /// manifest, a corrupt or truncated bundle) are returned as errors.
    pub fn load(
        bundle: &mut Bundle,
        label: &str,
        policy: &Policy,
    ) -> Result<NodeData, rcdiag_bundle::Error> {
        let mut node = NodeData::new(label, manifest_for_checks(bundle.manifest()));
        node.trust = bundle.trust().clone();
        let paths: Vec<String> = bundle.entries().iter().map(|f| f.path.clone()).collect();
        let mut budget = MAX_NODE_VALUE_BYTES;
        let b = &mut budget;
        node.host = read_typed(bundle, &mut node, "host/host.json", b)?;
        node.docker_containers = read_typed(bundle, &mut node, "docker/containers.json", b)?;
        node.docker_info = read_typed(bundle, &mut node, "docker/info.json", b)?;
        node.docker_images = read_typed(bundle, &mut node, "docker/images.json", b)?;
        node.mongodb_summary = read_typed(bundle, &mut node, "mongodb/summary.json", b)?;
        node.rocketchat = read_typed(bundle, &mut node, "rocketchat/summary.json", b)?;
        node.rc_settings = read_typed(bundle, &mut node, "rocketchat/settings.json", b)?;
        node.rc_statistics = read_typed(bundle, &mut node, "rocketchat/statistics.json", b)?;
        node.logs_index = read_typed(bundle, &mut node, "logs/index.json", b)?;
        node.kube.cluster = read_typed(bundle, &mut node, "kubernetes/cluster.json", b)?;
        node.kube.nodes = read_typed(bundle, &mut node, "kubernetes/nodes.json", b)?;
        node.kube.pods = read_typed(bundle, &mut node, "kubernetes/pods.json", b)?;
        node.kube.workloads = read_typed(bundle, &mut node, "kubernetes/workloads.json", b)?;
        node.kube.network = read_typed(bundle, &mut node, "kubernetes/network.json", b)?;
        node.kube.storage = read_typed(bundle, &mut node, "kubernetes/storage.json", b)?;
        node.kube.events = read_typed(bundle, &mut node, "kubernetes/events.json", b)?;
        node.kube.monitoring = read_typed(bundle, &mut node, "kubernetes/monitoring.json", b)?;
        node.kube.calls = read_typed(bundle, &mut node, "kubernetes/calls.json", b)?;
        node.cri_runtime = read_typed(bundle, &mut node, "cri/runtime.json", b)?;
        node.cri_pods = read_typed(bundle, &mut node, "cri/pods.json", b)?;
        node.cri_containers = read_typed(bundle, &mut node, "cri/containers.json", b)?;
        node.cri_images = read_typed(bundle, &mut node, "cri/images.json", b)?;
        node.refresh_cri_view();
        for path in &paths {
            if let Some(name) = path
                .strip_prefix("mongodb/")
                .and_then(|n| n.strip_suffix(".json"))
                && MONGODB_COMMANDS_READ.contains(&name)
                && let Some(v) = read_json(bundle, &mut node, path, b)?
            {
                node.mongodb.insert(name.to_string(), v);
            }
        }
        let logs: Vec<&str> = paths
            .iter()
            .map(String::as_str)
            .filter(|p| p.starts_with("logs/") && p.ends_with(".log"))
            .collect();
        let found = LogScanner::new(policy).scan_entries(bundle, &logs)?;
        node.set_log_findings(found);
        Ok(node)
    }

    /// Converts a parsed file into its contract type; a top level of the wrong shape
    /// is recorded in `load_problems` (with the contract's message) and gives `None`.
    fn typed<T: contract::BundleFile>(&mut self, path: &str, v: Value) -> Option<T> {
        match contract::from_value::<T>(path, v) {
            Ok(t) => {
                self.load_problems.remove(path);
                Some(t)
            }
            Err(e) => {
                self.load_problems.insert(
                    path.to_string(),
                    crate::report::sanitize_line(&e.to_string()),
                );
                None
            }
        }
    }

    /// Sets the file at bundle path `path` from JSON, as [`NodeData::load`] would
    /// read it: into its contract type, a top level of the wrong shape recorded in
    /// `load_problems`; `Value::Null` removes the file. For tests and tools that
    /// build a node by hand (`node.set_json("host/host.json", json!({...}))`).
    pub fn set_json(&mut self, path: &str, value: Value) {
        if value.is_null() {
            self.load_problems.remove(path);
        }
        let v = (!value.is_null()).then_some(value);
        macro_rules! set {
            ($field:ident) => {
                self.$field = v.and_then(|v| self.typed(path, v))
            };
        }
        match path {
            "host/host.json" => set!(host),
            "docker/containers.json" => {
                set!(docker_containers);
                self.image_index = std::sync::OnceLock::new();
            }
            "docker/info.json" => set!(docker_info),
            "mongodb/summary.json" => set!(mongodb_summary),
            "rocketchat/summary.json" => set!(rocketchat),
            "rocketchat/settings.json" => set!(rc_settings),
            "rocketchat/statistics.json" => set!(rc_statistics),
            "logs/index.json" => set!(logs_index),
            "kubernetes/cluster.json" => self.kube.cluster = v.and_then(|v| self.typed(path, v)),
            "kubernetes/nodes.json" => self.kube.nodes = v.and_then(|v| self.typed(path, v)),
            "kubernetes/pods.json" => self.kube.pods = v.and_then(|v| self.typed(path, v)),
            "kubernetes/workloads.json" => {
                self.kube.workloads = v.and_then(|v| self.typed(path, v))
            }
            "kubernetes/network.json" => self.kube.network = v.and_then(|v| self.typed(path, v)),
            "kubernetes/storage.json" => self.kube.storage = v.and_then(|v| self.typed(path, v)),
            "kubernetes/events.json" => self.kube.events = v.and_then(|v| self.typed(path, v)),
            "kubernetes/monitoring.json" => {
                self.kube.monitoring = v.and_then(|v| self.typed(path, v))
            }
            "kubernetes/calls.json" => self.kube.calls = v.and_then(|v| self.typed(path, v)),
            "docker/images.json" => {
                set!(docker_images);
                self.image_index = std::sync::OnceLock::new();
            }
            "cri/runtime.json" => set!(cri_runtime),
            "cri/pods.json" => set!(cri_pods),
            "cri/containers.json" => {
                set!(cri_containers);
                self.refresh_cri_view();
            }
            "cri/images.json" => {
                set!(cri_images);
                self.refresh_cri_view();
            }
            _ => {
                if let Some(name) = path
                    .strip_prefix("mongodb/")
                    .and_then(|n| n.strip_suffix(".json"))
                {
                    match v {
                        Some(v) => self.mongodb.insert(name.to_string(), v),
                        None => self.mongodb.remove(name),
                    };
                } else {
                    panic!("set_json: {path} is not a file the model holds");
                }
            }
        }
    }

    /// The file at bundle path `path` as JSON (its typed form serialized back; fields
    /// absent or of the wrong type are `null`), `None` when the node does not hold it.
    pub fn json_of(&self, path: &str) -> Option<Value> {
        fn j<T: serde::Serialize>(t: &Option<T>) -> Option<Value> {
            t.as_ref()
                .map(|t| serde_json::to_value(t).expect("contract types serialize"))
        }
        match path {
            "host/host.json" => j(&self.host),
            "docker/containers.json" => j(&self.docker_containers),
            "docker/info.json" => j(&self.docker_info),
            "mongodb/summary.json" => j(&self.mongodb_summary),
            "rocketchat/summary.json" => j(&self.rocketchat),
            "rocketchat/settings.json" => j(&self.rc_settings),
            "rocketchat/statistics.json" => j(&self.rc_statistics),
            "logs/index.json" => j(&self.logs_index),
            "docker/images.json" => j(&self.docker_images),
            "kubernetes/cluster.json" => j(&self.kube.cluster),
            "kubernetes/nodes.json" => j(&self.kube.nodes),
            "kubernetes/pods.json" => j(&self.kube.pods),
            "kubernetes/workloads.json" => j(&self.kube.workloads),
            "kubernetes/network.json" => j(&self.kube.network),
            "kubernetes/storage.json" => j(&self.kube.storage),
            "kubernetes/events.json" => j(&self.kube.events),
            "kubernetes/monitoring.json" => j(&self.kube.monitoring),
            "kubernetes/calls.json" => j(&self.kube.calls),
            "cri/runtime.json" => j(&self.cri_runtime),
            "cri/pods.json" => j(&self.cri_pods),
            "cri/containers.json" => j(&self.cri_containers),
            "cri/images.json" => j(&self.cri_images),
            _ => path
                .strip_prefix("mongodb/")
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| self.mongodb.get(n).cloned()),
        }
    }

    /// Edits the file at `path` as JSON and reads it back into its type (see
    /// [`NodeData::set_json`]); a missing file starts as `null`.
    pub fn edit_json(&mut self, path: &str, edit: impl FnOnce(&mut Value)) {
        let mut v = self.json_of(path).unwrap_or(Value::Null);
        edit(&mut v);
        self.set_json(path, v);
    }

    /// Scans one log (any reader) line by line, recording signature hits and startup
    /// box values under `file`. Used by [`NodeData::load`]; public for tests and tools.
    pub fn scan_log(
        &mut self,
        file: &str,
        reader: impl std::io::Read,
        policy: &Policy,
    ) -> std::io::Result<()> {
        let mut found = self.take_log_findings();
        let scanned = LogScanner::new(policy).scan(&mut found, file, reader);
        self.set_log_findings(found);
        scanned
    }

    /// Moves what the log scanner found so far out of the node.
    fn take_log_findings(&mut self) -> LogFindings {
        LogFindings {
            log_matches: std::mem::take(&mut self.log_matches),
            log_match_counts: std::mem::take(&mut self.log_match_counts),
            log_files: std::mem::take(&mut self.log_files),
            startup_versions: std::mem::take(&mut self.startup_versions),
            startup_mongo_versions: std::mem::take(&mut self.startup_mongo_versions),
            startup_mongo_engines: std::mem::take(&mut self.startup_mongo_engines),
            startup_oplog: std::mem::take(&mut self.startup_oplog),
        }
    }

    /// Stores what the log scanner found (replacing what the node held).
    fn set_log_findings(&mut self, found: LogFindings) {
        self.log_matches = found.log_matches;
        self.log_match_counts = found.log_match_counts;
        self.log_files = found.log_files;
        self.startup_versions = found.startup_versions;
        self.startup_mongo_versions = found.startup_mongo_versions;
        self.startup_mongo_engines = found.startup_mongo_engines;
        self.startup_oplog = found.startup_oplog;
    }

    /// The host name of the node (from the manifest).
    pub fn hostname(&self) -> &str {
        &self.manifest.node.hostname
    }

    /// When the bundle was created, if the manifest's `created_at` parses.
    pub fn created_at(&self) -> Option<jiff::Timestamp> {
        self.manifest.created_at.parse().ok()
    }

    /// The collector record named `name`, if the manifest has one.
    pub fn collector(&self, name: &str) -> Option<&rcdiag_bundle::CollectorRecord> {
        self.manifest.collectors.iter().find(|c| c.name == name)
    }

    /// Why `file` (written by `collector`) is missing, for an `unknown` message:
    /// `"no usable docker/containers.json in B: the docker collector was skipped: reason"`.
    /// The root cause is recorded too (see [`NodeData::take_cited`]), so a report can
    /// say it once and the check refer to it.
    pub fn why_missing(&self, file: &str, collector: &str) -> String {
        let (kind, cause, reason) = if let Some(p) = self.load_problems.get(file) {
            (
                CauseKind::FileUnusable,
                format!("it is present but unusable ({p})"),
                Some(p.clone()),
            )
        } else {
            self.gap_of(collector).unwrap_or_else(|| {
                (
                    CauseKind::FileMissing,
                    format!("the {collector} collector ran but did not write it"),
                    None,
                )
            })
        };
        let whole = format!("no usable {file} in {}: {cause}", self.label);
        let file_cause = matches!(kind, CauseKind::FileUnusable | CauseKind::FileMissing);
        self.cited.push(CauseRef {
            id: format!(
                "{}:{}",
                kind.as_str(),
                if file_cause { file } else { collector }
            ),
            kind,
            collector: collector.to_string(),
            file: file_cause.then(|| file.to_string()),
            bundle: self.label.clone(),
            reason,
            phrases: vec![whole.clone(), cause],
        });
        whole
    }

    /// Why the collector `name` did not complete (`the docker collector was skipped:
    /// reason`), recorded as a cause like [`NodeData::why_missing`] does; `None` when
    /// it ran to completion.
    pub fn collector_gap(&self, name: &str) -> Option<String> {
        let (kind, text, reason) = self.gap_of(name)?;
        self.cited.push(CauseRef {
            id: format!("{}:{name}", kind.as_str()),
            kind,
            collector: name.to_string(),
            file: None,
            bundle: self.label.clone(),
            reason,
            phrases: vec![text.clone()],
        });
        Some(text)
    }

    /// How collector `name` fell short, `None` when it ran to completion: the kind of
    /// cause, its phrase (`the docker collector was skipped: reason`) and the reason.
    fn gap_of(&self, name: &str) -> Option<(CauseKind, String, Option<String>)> {
        let Some(c) = self.collector(name) else {
            return Some((
                CauseKind::CollectorAbsent,
                format!("the {name} collector did not run"),
                None,
            ));
        };
        let kind = CauseKind::of_status(c.status)?;
        let reason = c
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        Some((
            kind,
            format!("the {name} collector {}{reason}", status_phrase(c.status)),
            c.error.clone(),
        ))
    }

    /// A file present but unusable, recorded as a cause: `path is unusable: problem`.
    pub fn unusable_file(&self, path: &str, collector: &str) -> Option<String> {
        let problem = self.load_problems.get(path)?;
        let text = format!("{path} is unusable: {problem}");
        self.cited.push(CauseRef {
            id: format!("{}:{path}", CauseKind::FileUnusable.as_str()),
            kind: CauseKind::FileUnusable,
            collector: collector.to_string(),
            file: Some(path.to_string()),
            bundle: self.label.clone(),
            reason: Some(problem.clone()),
            phrases: vec![text.clone()],
        });
        Some(text)
    }

    /// The root causes cited since the last call (by [`NodeData::why_missing`] and
    /// its kin), and forgets them: the check runner calls it after each check.
    pub fn take_cited(&self) -> Vec<CauseRef> {
        self.cited.take()
    }

    /// The containers of `docker/containers.json`, then those of `cri/containers.json`
    /// (a Kubernetes node, [`cri::as_docker`]; each [`Container::file`] says which);
    /// `None` when neither file is there (or usable: entries that are not objects are
    /// left out by the contract).
    pub fn containers(&self, policy: &Policy) -> Option<Vec<Container<'_>>> {
        if self.docker_containers.is_none() && self.cri_containers.is_none() {
            return None;
        }
        let docker = self
            .docker_containers
            .as_ref()
            .map_or(&[][..], |d| &d.0[..]);
        Some(
            docker
                .iter()
                .enumerate()
                .map(|(i, v)| Container::new(i, v, self, policy))
                .chain(self.cri_as_docker.iter().enumerate().map(|(i, v)| {
                    let mut c = Container::new(i, v, self, policy);
                    c.file = cri::CRI_CONTAINERS;
                    c
                }))
                .collect(),
        )
    }

    /// Rebuilds the Docker view of the CRI containers.
    fn refresh_cri_view(&mut self) {
        self.cri_as_docker = self
            .cri_containers
            .as_ref()
            .map(|c| cri::as_docker(c, self.cri_images.as_ref()))
            .unwrap_or_default();
    }

    /// Host processes of `host/host.json` (`processes`), if any.
    pub fn processes(&self) -> &[contract::host::Process] {
        self.host.as_ref().map_or(&[], |h| h.processes.as_slice())
    }

    /// The image `image_id` of `docker/images.json` (the first one with that id).
    fn image_by_id(&self, image_id: &str) -> Option<&contract::docker::Image> {
        self.image_index_by_id(image_id).map(|(_, img)| img)
    }

    /// The image `image_id` of `docker/images.json` and its index there (for JSON
    /// pointers).
    pub fn image_index_by_id(&self, image_id: &str) -> Option<(usize, &contract::docker::Image)> {
        let images = &self.docker_images.as_ref()?.0;
        let index = self.image_index.get_or_init(|| {
            let mut index = std::collections::HashMap::with_capacity(images.len());
            for (i, img) in images.iter().enumerate() {
                if let Some(id) = &img.id {
                    index.entry(id.clone()).or_insert(i);
                }
            }
            index
        });
        let i = *index.get(image_id)?;
        Some((i, images.get(i)?))
    }

    /// Labels of image `image_id` from `docker/images.json`.
    pub fn image_labels_by_id(&self, image_id: &str) -> Option<BTreeMap<String, String>> {
        self.image_by_id(image_id)?.labels.clone()
    }

    /// First repo tag of image `image_id` from `docker/images.json`.
    pub fn image_tag_by_id(&self, image_id: &str) -> Option<String> {
        self.image_by_id(image_id)?.repo_tags.first().cloned()
    }
}

/// `m` without its file lists (see [`NodeData::manifest`]), copied field by field so
/// the lists are never copied.
fn manifest_for_checks(m: &Manifest) -> Manifest {
    Manifest {
        format: m.format.clone(),
        format_version: m.format_version,
        bundle_id: m.bundle_id.clone(),
        created_at: m.created_at.clone(),
        agent: m.agent.clone(),
        node: m.node.clone(),
        collectors: m
            .collectors
            .iter()
            .map(|c| rcdiag_bundle::CollectorRecord {
                name: c.name.clone(),
                status: c.status,
                started_at: c.started_at.clone(),
                duration_ms: c.duration_ms,
                error: c.error.clone(),
                files: Vec::new(),
            })
            .collect(),
        files: Vec::new(),
        redaction: m.redaction.clone(),
        signer: m.signer.clone(),
    }
}

fn status_phrase(st: rcdiag_bundle::CollectorStatus) -> &'static str {
    use rcdiag_bundle::CollectorStatus as S;
    match st {
        S::Ok => "ran",
        S::Partial => "was partial",
        S::Failed => "failed",
        S::Timeout => "timed out",
        S::Skipped => "was skipped",
    }
}

/// A JSON object of scalars as a string map (non-string values in their JSON text);
/// anything that is not an object gives an empty map.
pub fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a time as the collectors write it: an RFC 3339 string, or MongoDB extended
/// JSON (`{"$date": "…"}`, `{"$date": {"$numberLong": "ms"}}`, `{"$date": ms}`).
pub fn parse_time(v: &Value) -> Option<jiff::Timestamp> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Object(o) => {
            let d = o.get("$date")?;
            match d {
                Value::String(s) => s.parse().ok(),
                Value::Number(n) => jiff::Timestamp::from_millisecond(n.as_i64()?).ok(),
                Value::Object(inner) => {
                    let ms: i64 = inner.get("$numberLong")?.as_str()?.parse().ok()?;
                    jiff::Timestamp::from_millisecond(ms).ok()
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A number that may be an integer, a float, or MongoDB extended JSON
/// (`{"$numberLong": "…"}`, `{"$numberInt": "…"}`, `{"$numberDouble": "…"}`).
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Object(o) => ["$numberLong", "$numberInt", "$numberDouble"]
            .iter()
            .find_map(|k| o.get(*k))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        _ => None,
    }
}

/// A non-negative integer (see [`as_f64`]).
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f as u64)
        }),
        _ => as_f64(v)
            .filter(|f| *f >= 0.0 && f.is_finite())
            .map(|f| f as u64),
    }
}
