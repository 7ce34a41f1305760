//! What the collectors of one run share: the run's options, the Docker discovery and
//! the CRI runtime's view (each read once, whoever asks first), the run's Docker reply
//! budget, and where the MongoDB URI comes from ([`super::mongo_uri`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::CollectorSink;
use super::cri::discover as cri;
use super::mongo_uri::{self, Found, FromKube};
use crate::clients::budget::ReplyBudget;
use crate::clients::docker::{self, DiscoveredContainer, Discovery};
use crate::clients::mongodb as mongodb_client;
use crate::redact::Redactor;

/// Options every collector may read.
#[derive(Debug, Clone)]
pub struct Options {
    /// Docker endpoint (`unix:///var/run/docker.sock`, `tcp://...`); `None` = `DOCKER_HOST` or the local socket.
    pub docker_host: Option<String>,
    /// MongoDB URI; `None` = the `MONGO_URL` of the Rocket.Chat containers, else skipped.
    pub mongodb_uri: Option<String>,
    /// Log window.
    pub since: Duration,
    /// Most log lines per container.
    pub log_lines: u64,
    /// Most log bytes per container.
    pub log_bytes: u64,
    /// Per-collector time limit.
    pub timeout: Duration,
    /// Where json-file logs are read from.
    pub log_source: LogSource,
    /// Most bytes of Docker Engine replies read at a time (`--docker-reply-max`);
    /// `None`: [`crate::clients::budget::DEFAULT_REPLY_MAX`].
    pub docker_reply_max: Option<u64>,
    /// Kubeconfig file (`--kubeconfig`); `None` = `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (`--kube-context`); `None` = its current context.
    pub kube_context: Option<String>,
    /// Namespaces the kubernetes collector reads (`--namespace`); empty = those holding
    /// Rocket.Chat, MongoDB or monitoring pods.
    pub kube_namespaces: Vec<String>,
    /// Helm releases whose release Secret the kubernetes collector decodes
    /// (`--kube-helm-release`, `NAME` or `NAMESPACE/NAME`); empty = none (no Secret is read).
    pub kube_helm_releases: Vec<String>,
    /// CRI runtime socket (`unix:///PATH`) the `cri` collector reads; `None` = the first of
    /// containerd's, CRI-O's and k3s's default sockets that exists.
    pub cri_endpoint: Option<String>,
    /// The node's root file system as the agent sees it (`--host-root`): `/`, or where
    /// the node's `/` is mounted when the agent runs in a container (e.g. `/host`). The
    /// host facts, the CRI socket and the pod log files are read under it; the paths
    /// written to the bundle are the node's (without this prefix).
    pub host_root: PathBuf,
    /// Most container logs the `cri` collector reads from the node's files
    /// (`--cri-logs-max`; [`crate::collectors::logs::node::MAX_NODE_LOGS`]).
    pub cri_logs_max: usize,
    /// Where `mongodb_uri` came from when the run found it (a collector's child process
    /// is handed the URI its parent found); `None` = given (`option`).
    pub mongodb_uri_source: Option<String>,
}

/// Where the logs collector reads `json-file` logs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// From the log files when the engine is local and they are readable (root),
    /// else through the Engine API.
    #[default]
    Auto,
    /// Always through the Engine API.
    Engine,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            docker_host: None,
            mongodb_uri: None,
            since: Duration::from_secs(24 * 3600),
            log_lines: 10_000,
            log_bytes: 5 << 20,
            timeout: Duration::from_secs(60),
            log_source: LogSource::Auto,
            docker_reply_max: None,
            kubeconfig: None,
            kube_context: None,
            kube_namespaces: Vec::new(),
            kube_helm_releases: Vec::new(),
            cri_endpoint: None,
            host_root: PathBuf::from("/"),
            cri_logs_max: crate::collectors::logs::node::MAX_NODE_LOGS,
            mongodb_uri_source: None,
        }
    }
}

/// Shared state of one run.
pub struct Context {
    /// The run's options.
    pub options: Options,
    /// The run's redactor.
    pub redactor: Arc<Redactor>,
    discovery: OnceCell<Discovery>,
    cri: OnceCell<cri::Discovery>,
    uri: OnceCell<(Option<Found>, Option<String>)>,
    docker_budget: Arc<ReplyBudget>,
}

impl Context {
    /// A context for one run.
    pub fn new(options: Options, redactor: Arc<Redactor>) -> Self {
        Self {
            docker_budget: ReplyBudget::new(options.docker_reply_max),
            options,
            redactor,
            discovery: OnceCell::new(),
            cri: OnceCell::new(),
            uri: OnceCell::new(),
        }
    }

    /// A context with a given discovery (tests; callers that listed containers themselves).
    pub fn with_discovery(options: Options, redactor: Arc<Redactor>, discovery: Discovery) -> Self {
        Self {
            docker_budget: ReplyBudget::new(options.docker_reply_max),
            options,
            redactor,
            discovery: OnceCell::from(discovery),
            cri: OnceCell::new(),
            uri: OnceCell::new(),
        }
    }

    /// The containers of the Docker endpoint, listed once per run (the first caller pays).
    pub async fn discovery(&self) -> &Discovery {
        self.discovery
            .get_or_init(|| async {
                let found = docker::discover(
                    &self.docker_endpoint(),
                    self.options.timeout,
                    self.docker_budget.clone(),
                )
                .await;
                // Every container's secrets (env values, command-line options) are searched
                // for, whichever collector reads them.
                if let Ok(containers) = &found {
                    for c in containers {
                        self.redactor.register_env_secrets(&c.env);
                        self.redactor.register_argv_secrets(&c.cmd);
                        self.redactor.register_label_secrets(&c.labels);
                    }
                }
                found
            })
            .await
    }

    /// The Docker endpoint of this run (see [`docker::endpoint`]).
    pub fn docker_endpoint(&self) -> String {
        docker::endpoint(self.options.docker_host.as_deref())
    }

    /// The run's budget of Docker Engine replies (shared by every connection of the run).
    pub fn docker_budget(&self) -> Arc<ReplyBudget> {
        self.docker_budget.clone()
    }

    /// Connects to the run's Docker Engine, replies charged to the run's budget.
    pub async fn connect_docker(&self) -> Result<docker::Engine, docker::ConnectError> {
        docker::connect(
            &self.docker_endpoint(),
            self.options.timeout,
            self.docker_budget.clone(),
        )
        .await
    }

    /// The node's CRI runtime as read once per run (see [`cri::discover`]): every
    /// container's env values and command-line options are registered as secrets.
    pub async fn cri(&self) -> &cri::Discovery {
        self.cri
            .get_or_init(|| async {
                let found = cri::discover(
                    self.options.cri_endpoint.as_deref(),
                    &self.options.host_root,
                    self.options.timeout,
                )
                .await;
                if let Ok(snap) = &found {
                    for c in &snap.containers {
                        self.redactor.register_env_secrets(&c.env);
                        self.redactor.register_argv_secrets(&c.args);
                    }
                }
                found
            })
            .await
    }

    /// The MongoDB URI to use and where it came from: `--mongodb-uri` (or the one the
    /// parent process found), else the first (running) Rocket.Chat container's
    /// `MONGO_URL` in Docker, else in the CRI runtime, else inline in a Rocket.Chat pod's
    /// spec ([`super::mongo_uri`]). Searched once per run.
    pub async fn mongodb_uri(&self) -> Option<(String, String, Option<DiscoveredContainer>)> {
        if let Some(uri) = self
            .options
            .mongodb_uri
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            let source = self
                .options
                .mongodb_uri_source
                .clone()
                .unwrap_or_else(|| "option".to_string());
            return Some((uri.to_string(), source, None));
        }
        let (found, _) = self.search_uri().await;
        found.clone().map(|f| (f.uri, f.source, f.container))
    }

    /// Why there is no MongoDB URI, for the skip reason of the collectors that need one
    /// (names the Secret the pods take it from, when the cluster says so).
    pub async fn no_mongodb_uri_reason(&self) -> String {
        match &self.search_uri().await.1 {
            Some(why) => format!("{}: {why}", mongodb_client::NO_URI),
            None => mongodb_client::NO_URI.to_string(),
        }
    }

    async fn search_uri(&self) -> &(Option<Found>, Option<String>) {
        self.uri
            .get_or_init(|| async {
                if let Ok(containers) = self.discovery().await
                    && let Some(f) =
                        mongo_uri::from_containers(containers, |c| format!("container:{}", c.name))
                {
                    return (Some(f), None);
                }
                if let Ok(snap) = self.cri().await
                    && let Some(f) = mongo_uri::from_cri(&snap.containers)
                {
                    return (Some(f), None);
                }
                let o = &self.options;
                let limit = (o.timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(15));
                match mongo_uri::from_kube(
                    o.kubeconfig.as_deref(),
                    o.kube_context.as_deref(),
                    &o.kube_namespaces,
                    limit,
                    &self.redactor,
                )
                .await
                {
                    FromKube::Inline(f) => (Some(*f), None),
                    FromKube::Referenced(why) => (None, Some(why)),
                    FromKube::Nothing => (None, None),
                }
            })
            .await
    }

    /// Finds the URI, registers its secrets (with the run's and `out`'s redactor, before
    /// anything else), connects and runs `hello`. Shared by the mongodb and rocketchat
    /// collectors; errors are redacted.
    pub async fn connect_mongodb(
        &self,
        out: &CollectorSink,
        budget: &mongodb_client::Budget,
    ) -> Result<mongodb_client::Connection, mongodb_client::ConnectError> {
        let Some((uri, uri_source, _container)) = self.mongodb_uri().await else {
            return Err(mongodb_client::ConnectError::NoUri);
        };
        let red = out.redactor();
        red.register_uri_secrets(&uri);
        self.redactor.register_uri_secrets(&uri);
        let containers = if uri_source.starts_with("container:") {
            self.discovery().await.as_ref().ok().map(Vec::as_slice)
        } else {
            None
        };
        mongodb_client::connect(&uri, uri_source, containers, red, budget).await
    }
}
