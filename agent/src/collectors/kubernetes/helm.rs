//! Helm releases (`--kube-helm-release NAME`, opt-in): the release Secret Helm 3 stores
//! each revision in (`sh.helm.release.v1.NAME.vN`, type `helm.sh/release.v1`, labels
//! `owner=helm`, `name`, `status`, `version`), decoded as Helm's storage driver does
//! (`pkg/storage/driver/util.go` `decodeRelease`: base64, then gunzip when the bytes start
//! with the gzip magic `1f 8b 08`, then JSON), for `kubernetes/helm.json`.
//!
//! The latest revision (highest `version` label) is decoded; the others are listed by
//! revision and status only. What is kept: the release name, namespace, revision, status,
//! deploy times and description, the chart's metadata, and the user-supplied values
//! (Helm's `config`, what `helm get values` shows) redacted: every value under a key that
//! names a password, secret, token, key, license, credential, auth or certificate is
//! replaced (rule `values-secret`) and remembered for the exact-value pass, and the rest
//! goes through the pattern rules like every string. Never kept: the rendered manifest,
//! the hooks, the chart's templates, files and default values, the notes.
//!
//! Bounded: the Secret is read under the client's reply cap, and the decoded JSON is read
//! as a stream through a counter that stops at [`DECODED_MAX`] (a gzip bomb, or a release
//! larger than any real one, is refused with an error saying so); the manifest and
//! templates are skipped as they stream past, never held.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use rcdiag_contract::kubernetes::{HelmChart, HelmDependency, HelmFile, HelmRelease, HelmRevision};
use serde::Deserialize;
use serde_json::Value;

use crate::redact::Redactor;

/// Most bytes a release may decode to (its JSON). A release Secret holds at most about
/// 1 MiB (the API server's object limit); real releases decode to a few MiB.
pub const DECODED_MAX: u64 = 32 << 20;

/// The rule id of a redacted value.
pub const RULE: &str = "values-secret";

/// A chart's metadata (`Chart.yaml`) as Helm's release JSON holds it (camelCase), read
/// into the contract's [`HelmChart`]; its other fields are skipped.
#[derive(Deserialize)]
struct RawChartMeta {
    /// Chart name.
    #[serde(default)]
    pub name: Option<String>,
    /// Chart version.
    #[serde(default)]
    pub version: Option<String>,
    /// The app version it ships.
    #[serde(default, rename(deserialize = "appVersion"))]
    pub app_version: Option<String>,
    /// `v1` or `v2`.
    #[serde(default, rename(deserialize = "apiVersion"))]
    pub api_version: Option<String>,
    /// Kubernetes versions it supports.
    #[serde(default, rename(deserialize = "kubeVersion"))]
    pub kube_version: Option<String>,
    /// `application` or `library`.
    #[serde(default, rename(deserialize = "type"))]
    pub chart_type: Option<String>,
    /// Whether the chart is deprecated.
    #[serde(default)]
    pub deprecated: Option<bool>,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Subcharts.
    #[serde(default, deserialize_with = "null_vec")]
    pub dependencies: Vec<RawDependency>,
}

impl From<RawChartMeta> for HelmChart {
    fn from(c: RawChartMeta) -> Self {
        HelmChart {
            name: c.name,
            version: c.version,
            app_version: c.app_version,
            api_version: c.api_version,
            kube_version: c.kube_version,
            chart_type: c.chart_type,
            deprecated: c.deprecated,
            description: c.description,
            dependencies: c
                .dependencies
                .into_iter()
                .map(|d| HelmDependency {
                    name: d.name,
                    version: d.version,
                    repository: d.repository,
                    condition: d.condition,
                    alias: d.alias,
                    extra: Default::default(),
                })
                .collect(),
            extra: Default::default(),
        }
    }
}

/// A subchart of a chart, as Helm's release JSON holds it.
#[derive(Deserialize)]
struct RawDependency {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Version range.
    #[serde(default)]
    pub version: Option<String>,
    /// Chart repository.
    #[serde(default)]
    pub repository: Option<String>,
    /// The values key that enables it.
    #[serde(default)]
    pub condition: Option<String>,
    /// Its alias.
    #[serde(default)]
    pub alias: Option<String>,
}

fn null_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The fields of Helm's release JSON that are kept; every other field (`manifest`,
/// `hooks`, `chart.templates`, `chart.values`, `chart.files`, `info.notes`) is skipped
/// as it is read.
#[derive(Deserialize)]
struct RawRelease {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    info: Option<RawInfo>,
    #[serde(default)]
    chart: Option<RawChart>,
    #[serde(default)]
    config: Option<Value>,
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(default)]
    first_deployed: Option<String>,
    #[serde(default)]
    last_deployed: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct RawChart {
    #[serde(default)]
    metadata: Option<RawChartMeta>,
}

/// Why a release could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HelmError {
    /// No `release` key in the Secret's data.
    #[error("the Secret {0} has no data.release: not a Helm 3 release Secret")]
    NoData(String),
    /// Not base64.
    #[error("data.release of {secret} is not base64 as Helm writes it: {message}")]
    Base64 {
        /// The Secret.
        secret: String,
        /// The decoder's message.
        message: String,
    },
    /// Decodes to more than the cap.
    #[error(
        "the release in {secret} decodes to more than {max} MiB: refused (a gzip bomb, or a release larger than any real one); read it by hand with `helm get values`",
        max = max >> 20
    )]
    TooLarge {
        /// The Secret.
        secret: String,
        /// The cap in bytes.
        max: u64,
    },
    /// Not gzip or not JSON.
    #[error("the release in {secret} is not Helm's gzip of JSON: {message}")]
    Decode {
        /// The Secret.
        secret: String,
        /// What failed.
        message: String,
    },
}

/// A reader that fails once more than `left` bytes went through it.
struct Capped<R> {
    inner: R,
    left: u64,
    read: u64,
    over: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One more byte tells a release of exactly the cap from a larger one.
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => {
                    self.over = true;
                    Err(std::io::Error::other("decoded size cap reached"))
                }
            };
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        self.read += n as u64;
        Ok(n)
    }
}

/// Helm's encoding of one release Secret's `data.release` (the bytes the API's base64
/// decodes to), decoded and summarised into `out` (name, revision, status, chart,
/// values redacted with `red`), reading at most `max` decoded bytes.
pub fn decode_into(
    secret: &str,
    data: &[u8],
    max: u64,
    red: &Redactor,
    out: &mut HelmRelease,
) -> Result<(), HelmError> {
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| HelmError::Base64 {
            secret: secret.to_string(),
            message: e.to_string(),
        })?;
    drop(text);
    let gz = raw.starts_with(&[0x1f, 0x8b, 0x08]);
    let reader: Box<dyn Read + '_> = if gz {
        Box::new(flate2::read::GzDecoder::new(raw.as_slice()))
    } else {
        // Releases stored before Helm compressed them: plain JSON.
        Box::new(raw.as_slice())
    };
    let mut capped = Capped {
        inner: reader,
        left: max,
        read: 0,
        over: false,
    };
    let parsed: Result<RawRelease, _> =
        serde_json::from_reader(std::io::BufReader::new(&mut capped));
    if capped.over {
        return Err(HelmError::TooLarge {
            secret: secret.to_string(),
            max,
        });
    }
    let rel = parsed.map_err(|e| HelmError::Decode {
        secret: secret.to_string(),
        message: e.to_string(),
    })?;
    out.decoded_bytes = Some(capped.read);
    if let Some(n) = rel.name {
        out.name = Some(n);
    }
    if rel.namespace.is_some() {
        out.namespace = rel.namespace;
    }
    out.revision = rel.version.or(out.revision);
    if let Some(info) = rel.info {
        out.status = info.status;
        out.first_deployed = info.first_deployed;
        out.last_deployed = info.last_deployed;
        out.description = info.description;
    }
    out.chart = rel.chart.and_then(|c| c.metadata).map(HelmChart::from);
    out.values = rel.config.map(|mut v| {
        redact_values(&mut v, red);
        v
    });
    Ok(())
}

/// Whether a values key names a secret: the environment-name rule (`*PASS*`, `*SECRET*`,
/// `*TOKEN*`, `*KEY*`, `*LICENSE*`, `*CREDENTIAL*`, `*AUTH*`, `*PRIVATE*`, `*CERT*`) or
/// the label-key rule (segments such as `password`, `apikey`, `access-key`).
pub fn is_secret_key(key: &str) -> bool {
    crate::redact::is_secret_env_name(key) || crate::redact::is_secret_label_key(key)
}

/// Replaces every string and number under a secret-looking key (at any depth) with the
/// rule's marker and remembers the strings for the exact-value pass. Booleans and nulls
/// stay (`auth.enabled: true` says how the chart is set up, not a secret).
pub fn redact_values(v: &mut Value, red: &Redactor) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if is_secret_key(k) {
                    blank(child, red);
                } else {
                    redact_values(child, red);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| redact_values(c, red)),
        _ => {}
    }
}

fn blank(v: &mut Value, red: &Redactor) {
    match v {
        Value::String(s) if !s.is_empty() => {
            red.register_secret(s);
            red.add_count(RULE, 1);
            *s = crate::redact::marker(RULE);
        }
        Value::Number(_) => {
            red.add_count(RULE, 1);
            *v = Value::String(crate::redact::marker(RULE));
        }
        Value::Array(items) => items.iter_mut().for_each(|c| blank(c, red)),
        Value::Object(map) => map.values_mut().for_each(|c| blank(c, red)),
        _ => {}
    }
}

/// `NAME` or `NAMESPACE/NAME`.
pub fn split_request(req: &str) -> (Option<&str>, &str) {
    match req.split_once('/') {
        Some((ns, name)) if !ns.is_empty() => (Some(ns), name),
        _ => (None, req.trim_start_matches('/')),
    }
}

/// The label selector of a release's Secrets (Helm's own query: `owner=helm,name=NAME`).
pub fn selector(name: &str) -> String {
    let enc: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("labelSelector=owner%3Dhelm%2Cname%3D{enc}")
}

/// A release Secret seen in a list: its revision, status, name and `data.release`.
pub struct Seen {
    /// `version` label (or the name's `.vN`).
    pub revision: i64,
    /// `status` label.
    pub status: Option<String>,
    /// Secret name.
    pub secret: String,
    /// `data.release`.
    pub data: Option<Vec<u8>>,
}

/// What a listed Secret is, when it is one of release `name`'s (type `helm.sh/release.v1`).
pub fn seen(s: Secret, name: &str) -> Option<Seen> {
    if s.type_.as_deref() != Some("helm.sh/release.v1") {
        return None;
    }
    let labels: BTreeMap<String, String> = s.metadata.labels.unwrap_or_default();
    if labels.get("name").map(String::as_str) != Some(name) {
        return None;
    }
    let secret = s.metadata.name.unwrap_or_default();
    let revision = labels
        .get("version")
        .and_then(|v| v.parse().ok())
        .or_else(|| secret.rsplit_once(".v").and_then(|(_, n)| n.parse().ok()))?;
    let data = s.data.and_then(|mut d| d.remove("release")).map(|b| b.0);
    Some(Seen {
        revision,
        status: labels.get("status").cloned(),
        secret,
        data,
    })
}

/// Reads every release of `requests` through `calls` (each list recorded there; a 403
/// names `list secrets` in that namespace). A release given without its namespace is
/// looked for where a workload says Helm installed it (`meta.helm.sh/release-name`
/// annotation, `app.kubernetes.io/instance` label with `managed-by: Helm`), else in each
/// of `chosen`. Returns the file and the problems that make the collector partial.
pub async fn read_releases(
    calls: &mut super::calls::Calls,
    requests: &[String],
    workloads: &[&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta],
    chosen: &[String],
    red: &Redactor,
) -> (HelmFile, Vec<String>) {
    let mut file = HelmFile::default();
    let mut problems = Vec::new();
    for req in requests {
        let (ns, name) = split_request(req);
        let mut rel = HelmRelease {
            requested: Some(req.clone()),
            name: Some(name.to_string()),
            ..HelmRelease::default()
        };
        if name.is_empty() {
            rel.error = Some("an empty release name: give NAME or NAMESPACE/NAME".into());
            problems.push(format!(
                "helm release {req:?}: {}",
                rel.error.as_deref().unwrap_or("")
            ));
            file.releases.push(rel);
            continue;
        }
        let candidates: Vec<String> = match ns {
            Some(n) => vec![n.to_string()],
            None => {
                let mut found: Vec<String> = workloads
                    .iter()
                    .filter(|m| installed_by(m, name))
                    .filter_map(|m| {
                        m.annotations
                            .as_ref()
                            .and_then(|a| a.get("meta.helm.sh/release-namespace").cloned())
                            .or_else(|| m.namespace.clone())
                    })
                    .collect();
                found.sort();
                found.dedup();
                if found.is_empty() {
                    chosen.to_vec()
                } else {
                    found
                }
            }
        };
        let mut best: Option<Seen> = None;
        let mut history: Vec<HelmRevision> = Vec::new();
        let mut refused = false;
        for n in &candidates {
            let query = selector(name);
            let mut none: Vec<()> = Vec::new();
            let mut keep = |s: Secret| {
                let seen = seen(s, name)?;
                history.push(HelmRevision {
                    revision: Some(seen.revision),
                    status: seen.status.clone(),
                    extra: Default::default(),
                });
                if best.as_ref().is_none_or(|b| seen.revision > b.revision) {
                    best = Some(seen);
                }
                None::<()>
            };
            if !calls
                .pages::<Secret, _>(Some(n), &query, &mut none, &mut keep)
                .await
            {
                refused = true;
                continue;
            }
            if best.is_some() {
                rel.namespace = Some(n.clone());
                break;
            }
        }
        history.sort_by_key(|r| r.revision);
        history.dedup();
        rel.history = history;
        match best {
            None => {
                let msg = if refused {
                    format!(
                        "not read: the Secrets of {} could not be listed (see kubernetes/calls.json)",
                        candidates.join(", ")
                    )
                } else if candidates.is_empty() {
                    "no namespace to look in: give NAMESPACE/NAME".to_string()
                } else {
                    format!(
                        "no Secret of type helm.sh/release.v1 with labels owner=helm, name={name} in {} (the release may use another storage driver, or give NAMESPACE/NAME)",
                        candidates.join(", ")
                    )
                };
                if rel.namespace.is_none() && candidates.len() == 1 {
                    rel.namespace = candidates.first().cloned();
                }
                // A refusal is already a problem of the calls (it names the verb).
                if !refused {
                    problems.push(format!("helm release {req}: {msg}"));
                }
                rel.error = Some(msg);
            }
            Some(b) => {
                rel.secret = Some(b.secret.clone());
                rel.revision = Some(b.revision);
                rel.status = b.status.clone();
                match &b.data {
                    None => rel.error = Some(HelmError::NoData(b.secret.clone()).to_string()),
                    Some(data) => {
                        if let Err(e) = decode_into(&b.secret, data, DECODED_MAX, red, &mut rel) {
                            rel.error = Some(e.to_string());
                        }
                    }
                }
                if let Some(e) = &rel.error {
                    problems.push(format!("helm release {req}: {e}"));
                }
            }
        }
        file.releases.push(rel);
    }
    (file, problems)
}

/// Whether Helm installed this workload as release `name`.
fn installed_by(
    m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    name: &str,
) -> bool {
    let ann = m
        .annotations
        .as_ref()
        .and_then(|a| a.get("meta.helm.sh/release-name"))
        .is_some_and(|v| v == name);
    let labels = m.labels.as_ref();
    let label = labels.is_some_and(|l| {
        l.get("app.kubernetes.io/instance")
            .is_some_and(|v| v == name)
            && l.get("app.kubernetes.io/managed-by")
                .is_some_and(|v| v == "Helm")
    });
    ann || label
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn helm_encode(json: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(json).unwrap();
        let bytes = gz.finish().unwrap();
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes()
    }

    #[test]
    fn a_release_is_decoded_and_its_values_redacted() {
        let json = br#"{"name":"rc","namespace":"chat","version":4,"info":{"status":"deployed","description":"Upgrade complete","notes":"password is hunter2-notes"},"chart":{"metadata":{"name":"rocketchat","version":"7.0.2","appVersion":"8.6.1","apiVersion":"v2","dependencies":[{"name":"mongodb","version":"13.x.x","condition":"mongodb.enabled"}]},"templates":[{"name":"t","data":"eA=="}],"values":{"x":1}},"config":{"replicaCount":3,"smtp":{"host":"smtp.example.com","password":"Sm7p-Pa55-word-x1"},"mongodb":{"auth":{"enabled":true,"rootPassword":"R00t-pa55-w0rd-x2"}},"license":"L1cense-blob-x3"},"manifest":"kind: Secret\ndata:\n  mongo-uri: c2VjcmV0"}"#;
        let red = Redactor::new(&[]).unwrap();
        let mut out = HelmRelease::default();
        decode_into("s", &helm_encode(json), DECODED_MAX, &red, &mut out).unwrap();
        assert_eq!(out.name.as_deref(), Some("rc"));
        assert_eq!(out.revision, Some(4));
        assert_eq!(out.status.as_deref(), Some("deployed"));
        let chart = out.chart.as_ref().unwrap();
        assert_eq!(chart.app_version.as_deref(), Some("8.6.1"));
        assert_eq!(chart.dependencies[0].name.as_deref(), Some("mongodb"));
        let values = serde_json::to_string(out.values.as_ref().unwrap()).unwrap();
        for secret in ["Sm7p-Pa55-word-x1", "R00t-pa55-w0rd-x2", "L1cense-blob-x3"] {
            assert!(!values.contains(secret), "{values}");
            assert!(red.has_exact(secret), "{secret} is remembered");
        }
        assert!(values.contains("smtp.example.com") && values.contains("\"enabled\":true"));
        assert_eq!(red.counts()[RULE], 3);
        let all = serde_json::to_string(&HelmFile {
            releases: vec![out],
            ..HelmFile::default()
        })
        .unwrap();
        assert!(
            !all.contains("mongo-uri") && !all.contains("hunter2"),
            "{all}"
        );
    }

    #[test]
    fn plain_json_of_old_releases_is_read_too() {
        let json = br#"{"name":"old","version":1,"config":{}}"#;
        let data = base64::engine::general_purpose::STANDARD.encode(json);
        let red = Redactor::new(&[]).unwrap();
        let mut out = HelmRelease::default();
        decode_into("s", data.as_bytes(), DECODED_MAX, &red, &mut out).unwrap();
        assert_eq!((out.name.as_deref(), out.revision), (Some("old"), Some(1)));
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        let mut json = br#"{"name":"b","config":{"p":""#.to_vec();
        json.extend(std::iter::repeat_n(b'A', 8 << 20));
        json.extend(br#""}}"#);
        let data = helm_encode(&json);
        assert!(data.len() < 64 << 10, "{}", data.len());
        let red = Redactor::new(&[]).unwrap();
        let mut out = HelmRelease::default();
        let e = decode_into("sh.helm.release.v1.b.v1", &data, 1 << 20, &red, &mut out).unwrap_err();
        assert!(matches!(e, HelmError::TooLarge { .. }), "{e:?}");
        assert!(e.to_string().contains("more than 1 MiB"), "{e}");
        // Exactly at the cap is not over it.
        let red = Redactor::new(&[]).unwrap();
        decode_into("s", &data, json.len() as u64, &red, &mut out).unwrap();
        assert_eq!(out.decoded_bytes, Some(json.len() as u64));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let red = Redactor::new(&[]).unwrap();
        let mut out = HelmRelease::default();
        for data in [&b"%%%"[..], b"", b"H4sI", b"e30K"] {
            let _ = decode_into("s", data, DECODED_MAX, &red, &mut out);
        }
        let e = decode_into("s", b"%%%", DECODED_MAX, &red, &mut out).unwrap_err();
        assert!(matches!(e, HelmError::Base64 { .. }), "{e:?}");
    }

    #[test]
    fn requests_and_selectors() {
        assert_eq!(split_request("rc"), (None, "rc"));
        assert_eq!(split_request("chat/rc"), (Some("chat"), "rc"));
        assert_eq!(
            selector("rocketchat"),
            "labelSelector=owner%3Dhelm%2Cname%3Drocketchat"
        );
        assert!(is_secret_key("rootPassword") && is_secret_key("license"));
        assert!(!is_secret_key("replicaCount") && !is_secret_key("host"));
    }
}
