//! The Kubernetes API client: connect (in-cluster service account, or a kubeconfig and
//! context), and read under a budget. Every reply is read with a byte cap, every call
//! has a deadline, lists are paginated (`limit` + `continue`, restarted once when the
//! server says the continue token expired), and every failure is classified into a
//! [`KubeError`] whose message says what to do (a 403 names the verb, resource and
//! scope the service account lacks).
//!
//! Objects are decoded into the `k8s-openapi` types where they exist
//! ([`Kube::list`]), or kept as JSON for API groups that may be absent from a cluster
//! (OpenShift routes, Prometheus Operator monitors: [`Kube::list_json`]).
//! Errors are in `error.rs`, a pod log being read in `log.rs`.

use std::path::PathBuf;
use std::time::Duration;

use http_body_util::BodyExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, ListMeta};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde::Deserialize;
use serde::de::DeserializeOwned;

mod error;
mod log;

pub use error::KubeError;
use error::classify;
pub use log::{LOG_LINE_MAX, LogBody};

/// Default cap on one reply (one page of a list, one object, one log).
pub const DEFAULT_REPLY_MAX: u64 = 64 << 20;
/// Default page size of lists (what `kubectl` uses).
pub const DEFAULT_PAGE_LIMIT: u32 = 500;
/// Default cap on the objects of one list, all pages together.
pub const DEFAULT_MAX_ITEMS: usize = 20_000;

/// How to reach the cluster and how much to read.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// A kubeconfig file (`--kubeconfig`); else `KUBECONFIG`, `~/.kube/config`, then the
    /// in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (`--kube-context`); else its current context.
    pub context: Option<String>,
    /// Deadline of each call.
    pub timeout: Duration,
    /// Cap on one reply, in bytes.
    pub reply_max: u64,
    /// Objects per page.
    pub page_limit: u32,
    /// Objects per list, all pages together.
    pub max_items: usize,
}

impl Default for KubeOptions {
    fn default() -> Self {
        KubeOptions {
            kubeconfig: None,
            context: None,
            timeout: Duration::from_secs(30),
            reply_max: DEFAULT_REPLY_MAX,
            page_limit: DEFAULT_PAGE_LIMIT,
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

/// A connected client.
#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
    opts: KubeOptions,
    /// Where the connection came from: `in-cluster`, or `kubeconfig FILE (context C)`.
    pub source: String,
    /// The API server URL.
    pub server: String,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("source", &self.source)
            .field("server", &self.server)
            .finish()
    }
}

/// The objects of a list, all pages together.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    /// The objects.
    pub items: Vec<T>,
    /// Pages read.
    pub pages: u32,
    /// Whether the list was read again whole (one unpaged request) after an expired
    /// continue token.
    pub restarted: bool,
    /// Set when the list cap cut it.
    pub truncated: Option<KubeError>,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    metadata: ListMeta,
}

impl Kube {
    /// Connects as `opts` says. Reads only configuration: the first request is the
    /// first contact with the server.
    pub async fn connect(opts: KubeOptions) -> Result<Kube, KubeError> {
        use kube::config::{KubeConfigOptions, Kubeconfig};
        let kc_opts = KubeConfigOptions {
            context: opts.context.clone(),
            ..Default::default()
        };
        let (mut config, source) = match &opts.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|e| KubeError::Config(format!("{}: {e}", path.display())))?;
                let c = kube::Config::from_custom_kubeconfig(kc, &kc_opts)
                    .await
                    .map_err(|e| KubeError::Config(format!("{}: {e}", path.display())))?;
                (c, format!("kubeconfig {}", path.display()))
            }
            None if opts.context.is_some() => {
                let c = kube::Config::from_kubeconfig(&kc_opts)
                    .await
                    .map_err(|e| KubeError::Config(e.to_string()))?;
                (c, "kubeconfig".to_string())
            }
            None => match kube::Config::incluster() {
                Ok(c) => (c, "in-cluster service account".to_string()),
                Err(in_cluster) => match kube::Config::from_kubeconfig(&kc_opts).await {
                    Ok(c) => (c, "kubeconfig".to_string()),
                    Err(kc) => {
                        return Err(KubeError::NoCluster(format!(
                            "not in a pod ({in_cluster}) and no kubeconfig ({kc})"
                        )));
                    }
                },
            },
        };
        let source = match &opts.context {
            Some(c) => format!("{source} (context {c})"),
            None => source,
        };
        config.connect_timeout = Some(opts.timeout);
        config.read_timeout = Some(opts.timeout);
        config.write_timeout = Some(opts.timeout);
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config)
            .map_err(|e| KubeError::Config(format!("cannot build a client: {e}")))?;
        Ok(Kube {
            client,
            opts,
            source,
            server,
        })
    }

    /// The options this client reads under.
    pub fn options(&self) -> &KubeOptions {
        &self.opts
    }

    /// GET `path` (with its query), the body read up to the reply cap.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, KubeError> {
        let secs = self.opts.timeout.as_secs().max(1);
        match tokio::time::timeout(self.opts.timeout, self.get_bytes_untimed(path)).await {
            Ok(r) => r,
            Err(_) => Err(KubeError::Timeout {
                path: strip_query(path),
                secs,
            }),
        }
    }

    /// Sends `GET path` with `Accept: accept`: the reply's status and its body, unread.
    async fn send_get(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<(http::StatusCode, kube::client::Body), KubeError> {
        let transport = |e: &dyn std::fmt::Display| KubeError::Transport {
            path: strip_query(path),
            message: e.to_string(),
        };
        let req = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(kube::client::Body::from(Vec::new()))
            .map_err(|e| transport(&e))?;
        let resp = self.client.send(req).await.map_err(|e| transport(&e))?;
        Ok((resp.status(), resp.into_body()))
    }

    async fn get_bytes_untimed(&self, path: &str) -> Result<Vec<u8>, KubeError> {
        let shown = strip_query(path);
        let (status, mut body) = self.send_get(path, "application/json").await?;
        let mut out = Vec::new();
        // Error bodies are small Status objects: read them under a smaller cap.
        let max = if status.is_success() {
            self.opts.reply_max
        } else {
            self.opts.reply_max.min(1 << 20)
        };
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| KubeError::Transport {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            if let Ok(data) = frame.into_data() {
                if out.len() as u64 + data.len() as u64 > max {
                    if status.is_success() {
                        return Err(KubeError::TooLarge { path: shown, max });
                    }
                    break;
                }
                out.extend_from_slice(&data);
            }
        }
        if status.is_success() {
            Ok(out)
        } else {
            Err(classify(status.as_u16(), &shown, &out))
        }
    }

    /// Opens a pod's log (`GET .../pods/POD/log?container=C&timestamps=true&...`) and
    /// returns its body to read line by line ([`LogBody::next_line`]); an error status is
    /// read (under 1 MiB) and classified like any other reply. The caller bounds the time.
    pub async fn open_log(
        &self,
        namespace: &str,
        pod: &str,
        query: &str,
    ) -> Result<LogBody, KubeError> {
        let path = format!(
            "{}/{}/log?{query}",
            resource_path("", "v1", "pods", Some(namespace)),
            percent_encode(pod)
        );
        let shown = strip_query(&path);
        let (status, mut body) = self.send_get(&path, "*/*").await?;
        if !status.is_success() {
            let mut out = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > 1 << 20 {
                        break;
                    }
                    out.extend_from_slice(&data);
                }
            }
            return Err(classify(status.as_u16(), &shown, &out));
        }
        Ok(LogBody::new(body, shown))
    }

    /// GET `path` decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, KubeError> {
        let bytes = self.get_bytes(path).await?;
        serde_json::from_slice(&bytes).map_err(|e| KubeError::Decode {
            path: strip_query(path),
            message: e.to_string(),
        })
    }

    /// `/version`.
    pub async fn version(&self) -> Result<Info, KubeError> {
        self.get("/version").await
    }

    /// `/apis`: the API groups the cluster serves.
    pub async fn api_groups(&self) -> Result<APIGroupList, KubeError> {
        self.get("/apis").await
    }

    /// Every object of kind `K` (in `namespace`, or in every namespace), all pages,
    /// filtered by `query` (`labelSelector=...&fieldSelector=...`, already encoded, or
    /// empty).
    pub async fn list<K>(
        &self,
        namespace: Option<&str>,
        query: &str,
    ) -> Result<Listed<K>, KubeError>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let base = resource_path(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT, namespace);
        self.list_at(&base, query).await
    }

    /// Every object at a list path as JSON (for API groups without `k8s-openapi` types,
    /// e.g. `resource_path("route.openshift.io", "v1", "routes", None)`).
    pub async fn list_json(
        &self,
        base: &str,
        query: &str,
    ) -> Result<Listed<serde_json::Value>, KubeError> {
        self.list_at(base, query).await
    }

    async fn list_at<T: DeserializeOwned>(
        &self,
        base: &str,
        query: &str,
    ) -> Result<Listed<T>, KubeError> {
        let mut items = Vec::new();
        let stats = self
            .list_pages_at(base, query, |page: Vec<T>, restarted| {
                if restarted {
                    items.clear();
                }
                items.extend(page);
            })
            .await?;
        Ok(Listed {
            items,
            pages: stats.pages,
            restarted: stats.restarted,
            truncated: stats.truncated,
        })
    }

    /// Every object of kind `K`, as [`Kube::list`] reads them, handed to `on_page` one
    /// page at a time (so a caller that keeps a summary holds one page, not the list).
    /// `on_page(items, restarted)`: when `restarted` is true the list is being read again
    /// whole after an expired continue token, and what earlier pages gave must be dropped.
    /// The returned [`Listed`] has no items, only the counts.
    pub async fn list_pages<K>(
        &self,
        namespace: Option<&str>,
        query: &str,
        on_page: impl FnMut(Vec<K>, bool),
    ) -> Result<Listed<()>, KubeError>
    where
        K: k8s_openapi::Resource + DeserializeOwned,
    {
        let base = resource_path(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT, namespace);
        self.list_pages_at(&base, query, on_page).await
    }

    async fn list_pages_at<T: DeserializeOwned>(
        &self,
        base: &str,
        query: &str,
        mut on_page: impl FnMut(Vec<T>, bool),
    ) -> Result<Listed<()>, KubeError> {
        let mut listed = Listed {
            items: Vec::new(),
            pages: 0,
            restarted: false,
            truncated: None,
        };
        let mut count = 0usize;
        let mut cont: Option<String> = None;
        // After an expired continue token the list is read again in one unpaged
        // request (served whole, at one resourceVersion), under the same byte cap.
        let mut unpaged = false;
        let mut restart_pending = false;
        loop {
            let mut path = base.to_string();
            let mut sep = '?';
            if !unpaged {
                path.push_str(&format!("?limit={}", self.opts.page_limit.max(1)));
                sep = '&';
            }
            if !query.is_empty() {
                path.push(sep);
                path.push_str(query);
            }
            if let Some(c) = &cont {
                path.push_str("&continue=");
                path.push_str(&percent_encode(c));
            }
            let page: Page<T> = match self.get(&path).await {
                Ok(p) => p,
                Err(KubeError::Status { code: 410, .. }) if cont.is_some() && !unpaged => {
                    listed = Listed {
                        items: Vec::new(),
                        pages: 0,
                        restarted: true,
                        truncated: None,
                    };
                    count = 0;
                    cont = None;
                    unpaged = true;
                    restart_pending = true;
                    continue;
                }
                Err(KubeError::Status { code: 410, .. }) => {
                    return Err(KubeError::Gone {
                        path: base.to_string(),
                    });
                }
                Err(e) => return Err(e),
            };
            listed.pages += 1;
            let mut items = page.items;
            let room = self.opts.max_items.saturating_sub(count);
            let cut = items.len() > room;
            items.truncate(room);
            count += items.len();
            on_page(items, std::mem::take(&mut restart_pending));
            if cut {
                listed.truncated = Some(KubeError::TooMany {
                    path: base.to_string(),
                    max: self.opts.max_items,
                });
                return Ok(listed);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                // An unpaged list is whole.
                _ if unpaged => return Ok(listed),
                Some(c) if Some(&c) != cont.as_ref() => cont = Some(c),
                // A server that repeats its continue token would page forever.
                Some(_) => {
                    return Err(KubeError::Decode {
                        path: base.to_string(),
                        message: "the server sent the same continue token twice".into(),
                    });
                }
                None => return Ok(listed),
            }
        }
    }
}

/// The list path of a resource: `/api/v1[/namespaces/NS]/pods` for the core group,
/// `/apis/GROUP/VERSION[/namespaces/NS]/PLURAL` for the others.
pub fn resource_path(group: &str, version: &str, plural: &str, namespace: Option<&str>) -> String {
    let root = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    match namespace {
        Some(ns) => format!("{root}/namespaces/{}/{plural}", percent_encode(ns)),
        None => format!("{root}/{plural}"),
    }
}

fn strip_query(path: &str) -> String {
    path.split('?').next().unwrap_or(path).to_string()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_core_and_group_resources() {
        assert_eq!(resource_path("", "v1", "pods", None), "/api/v1/pods");
        assert_eq!(
            resource_path("apps", "v1", "deployments", Some("rocket chat")),
            "/apis/apps/v1/namespaces/rocket%20chat/deployments"
        );
    }
}
