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

use std::path::PathBuf;
use std::time::Duration;

use http_body_util::BodyExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, ListMeta, Status};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde::Deserialize;
use serde::de::DeserializeOwned;

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

/// What went wrong talking to the API server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KubeError {
    /// No kubeconfig and not in a pod: nothing to collect.
    #[error(
        "no Kubernetes cluster to reach: {0} (pass --kubeconfig FILE, set KUBECONFIG, or run the agent in a pod with a service account)"
    )]
    NoCluster(String),
    /// A kubeconfig that cannot be used.
    #[error("the kubeconfig cannot be used: {0}")]
    Config(String),
    /// 401: the credentials were refused.
    #[error(
        "the API server refused the credentials (401) on {path}: {message} (renew the token or the kubeconfig's user)"
    )]
    Unauthorized {
        /// Request path.
        path: String,
        /// The server's message.
        message: String,
    },
    /// 403: RBAC does not allow the call.
    #[error(
        "forbidden (403): {subject} cannot {verb} {resource} {scope}: grant it with the read-only ClusterRole in packaging/kubernetes/ (check with `kubectl auth can-i {verb} {resource}{can_i_scope}`)"
    )]
    Forbidden {
        /// Who asked, per the server (`system:serviceaccount:ns:name`), or "the agent".
        subject: String,
        /// `list`, `get`, ...
        verb: String,
        /// `pods`, `deployments.apps`, ...
        resource: String,
        /// `in namespace X` or `cluster-wide`.
        scope: String,
        /// ` -n X` or ` -A`, for the `kubectl auth can-i` hint.
        can_i_scope: String,
    },
    /// 404: the resource or API group does not exist on this cluster.
    #[error("not found (404) on {path}: {message}")]
    NotFound {
        /// Request path.
        path: String,
        /// The server's message.
        message: String,
    },
    /// 410 again after the list was restarted unpaged.
    #[error(
        "the list of {path} expired while being read, and again when read whole (410 Gone): retry the collect"
    )]
    Gone {
        /// Request path.
        path: String,
    },
    /// Any other status.
    #[error("the API server answered {code} on {path}: {message}")]
    Status {
        /// HTTP status.
        code: u16,
        /// Request path.
        path: String,
        /// The server's message.
        message: String,
    },
    /// A reply over the byte cap.
    #[error(
        "the reply to {path} is larger than {max} bytes: not read further (lower the page size with --kube-page-limit, or raise --kube-reply-max)"
    )]
    TooLarge {
        /// Request path.
        path: String,
        /// The cap.
        max: u64,
    },
    /// More objects than the list cap.
    #[error("{path} holds more than {max} objects: the first {max} were kept")]
    TooMany {
        /// Request path.
        path: String,
        /// The cap.
        max: usize,
    },
    /// No reply within the deadline.
    #[error(
        "the API server did not answer {path} within {secs} s (is it reachable from this node? raise --timeout if it is slow)"
    )]
    Timeout {
        /// Request path.
        path: String,
        /// The deadline.
        secs: u64,
    },
    /// Connection, TLS or protocol failure.
    #[error("cannot reach the API server for {path}: {message}")]
    Transport {
        /// Request path.
        path: String,
        /// What failed.
        message: String,
    },
    /// A reply that is not what the API sends.
    #[error("the reply to {path} is not a Kubernetes object of the expected kind: {message}")]
    Decode {
        /// Request path.
        path: String,
        /// The parser's message.
        message: String,
    },
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
        Ok(LogBody {
            body,
            path: shown,
            buf: Vec::new(),
            skip: 0,
            done: false,
            read: 0,
        })
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

/// Longest log line kept; the rest of a longer line is left out with a marker.
pub const LOG_LINE_MAX: usize = 64 << 10;

/// The body of a pod log being read ([`Kube::open_log`]): at most one line
/// ([`LOG_LINE_MAX`]) and one network frame are held at a time.
pub struct LogBody {
    body: kube::client::Body,
    path: String,
    buf: Vec<u8>,
    /// Bytes of the current line left out past [`LOG_LINE_MAX`].
    skip: u64,
    done: bool,
    /// Bytes read from the server so far.
    pub read: u64,
}

impl LogBody {
    /// The next line, without its `\n` (a line longer than [`LOG_LINE_MAX`] is cut and
    /// ends with `[rcdiag: line cut at 64 KiB, N more bytes left out]`); `None` at the end.
    pub async fn next_line(&mut self) -> Result<Option<String>, KubeError> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let rest = self.buf.split_off(i + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.pop();
                return Ok(Some(self.finish_line(line)));
            }
            if self.buf.len() > LOG_LINE_MAX {
                self.skip += (self.buf.len() - LOG_LINE_MAX) as u64;
                self.buf.truncate(LOG_LINE_MAX);
            }
            if self.done {
                if self.buf.is_empty() && self.skip == 0 {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.buf);
                return Ok(Some(self.finish_line(line)));
            }
            match self.body.frame().await {
                None => self.done = true,
                Some(Err(e)) => {
                    return Err(KubeError::Transport {
                        path: self.path.clone(),
                        message: e.to_string(),
                    });
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.read += data.len() as u64;
                        if self.skip > 0 && self.buf.len() >= LOG_LINE_MAX {
                            // Still inside a cut line: keep only what follows its end.
                            match data.iter().position(|b| *b == b'\n') {
                                Some(i) => {
                                    self.skip += i as u64;
                                    self.buf.extend_from_slice(&data[i..]);
                                }
                                None => self.skip += data.len() as u64,
                            }
                        } else {
                            self.buf.extend_from_slice(&data);
                        }
                    }
                }
            }
        }
    }

    fn finish_line(&mut self, mut line: Vec<u8>) -> String {
        if line.len() > LOG_LINE_MAX {
            self.skip += (line.len() - LOG_LINE_MAX) as u64;
            line.truncate(LOG_LINE_MAX);
        }
        let mut s = String::from_utf8_lossy(&line).into_owned();
        if s.ends_with('\r') {
            s.pop();
        }
        let skipped = std::mem::take(&mut self.skip);
        if skipped > 0 {
            s.push_str(&format!(
                " [rcdiag: line cut at 64 KiB, {skipped} more bytes left out]"
            ));
        }
        s
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

/// Turns an error status and its `Status` body into a [`KubeError`].
fn classify(code: u16, path: &str, body: &[u8]) -> KubeError {
    let status: Option<Status> = serde_json::from_slice(body).ok();
    let message = status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    // Cut like every string the agent writes (4 KiB, with a marker).
    let message = crate::bound::bound_str(&message).unwrap_or(message);
    match code {
        401 => KubeError::Unauthorized {
            path: path.to_string(),
            message,
        },
        403 => forbidden(path, &message),
        404 => KubeError::NotFound {
            path: path.to_string(),
            message,
        },
        _ => KubeError::Status {
            code,
            path: path.to_string(),
            message,
        },
    }
}

/// A 403: the verb and resource come from the path (a GET of a list is `list`), the
/// subject from the server's message (`User "system:serviceaccount:ns:sa" cannot ...`).
fn forbidden(path: &str, message: &str) -> KubeError {
    let subject = message
        .split("User \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|s| format!("user {s}"))
        .unwrap_or_else(|| "the agent's credentials".to_string());
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // api/v1/... or apis/GROUP/VERSION/...
    let (group, rest) = match parts.first() {
        Some(&"api") => ("", parts.get(2..).unwrap_or(&[])),
        Some(&"apis") => (
            parts.get(1).copied().unwrap_or(""),
            parts.get(3..).unwrap_or(&[]),
        ),
        _ => ("", &[][..]),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(*ns), tail),
        _ => (None, rest),
    };
    let (verb, resource) = match rest {
        [plural] => ("list", plural.to_string()),
        [plural, _name] => ("get", plural.to_string()),
        [plural, _name, sub] => ("get", format!("{plural}/{sub}")),
        _ => ("get", path.to_string()),
    };
    let resource = if group.is_empty() {
        resource
    } else {
        format!("{resource}.{group}")
    };
    let (scope, can_i_scope) = match namespace {
        Some(ns) => (format!("in namespace {ns}"), format!(" -n {ns}")),
        None if verb == "list" => ("cluster-wide".to_string(), " -A".to_string()),
        None => ("cluster-wide".to_string(), String::new()),
    };
    KubeError::Forbidden {
        subject,
        verb: verb.to_string(),
        resource,
        scope,
        can_i_scope,
    }
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

    #[test]
    fn a_403_names_the_verb_resource_and_scope() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"deployments.apps is forbidden: User \"system:serviceaccount:rc:rcdiag\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"rc\"","reason":"Forbidden","code":403}"#;
        let e = classify(403, "/apis/apps/v1/namespaces/rc/deployments", body);
        let text = e.to_string();
        assert!(
            text.contains(
                "user system:serviceaccount:rc:rcdiag cannot list deployments.apps in namespace rc"
            ),
            "{text}"
        );
        assert!(
            text.contains("kubectl auth can-i list deployments.apps -n rc"),
            "{text}"
        );
        let e = classify(403, "/api/v1/nodes", b"not json");
        assert!(
            e.to_string()
                .contains("the agent's credentials cannot list nodes cluster-wide"),
            "{e}"
        );
        assert!(e.to_string().contains("can-i list nodes -A"), "{e}");
        let e = classify(403, "/api/v1/namespaces/rc/pods/rc-0/log", b"{}");
        assert!(
            e.to_string()
                .contains("cannot get pods/log in namespace rc"),
            "{e}"
        );
    }

    #[test]
    fn other_statuses_keep_the_server_message() {
        let body = br#"{"kind":"Status","message":"the server could not find the requested resource","reason":"NotFound","code":404}"#;
        let e = classify(404, "/apis/route.openshift.io/v1/routes", body);
        assert!(matches!(e, KubeError::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("could not find the requested resource")
        );
        let e = classify(500, "/api/v1/pods", &vec![b'x'; 10_000]);
        assert!(
            e.to_string().len() < 1400,
            "a long body is cut: {}",
            e.to_string().len()
        );
    }
}
