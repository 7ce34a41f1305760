//! What the collectors of one run share: the run's options, the Docker discovery
//! (listed once, whoever asks first), the run's Docker reply budget, and where the
//! MongoDB URI comes from.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::CollectorSink;
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
        }
    }

    /// A context with a given discovery (tests; callers that listed containers themselves).
    pub fn with_discovery(options: Options, redactor: Arc<Redactor>, discovery: Discovery) -> Self {
        Self {
            docker_budget: ReplyBudget::new(options.docker_reply_max),
            options,
            redactor,
            discovery: OnceCell::from(discovery),
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

    /// The MongoDB URI to use and where it came from: `--mongodb-uri`, else the first
    /// (running) Rocket.Chat container's `MONGO_URL`.
    pub async fn mongodb_uri(&self) -> Option<(String, String, Option<DiscoveredContainer>)> {
        if let Some(uri) = self
            .options
            .mongodb_uri
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            return Some((uri.to_string(), "option".to_string(), None));
        }
        let containers = self.discovery().await.as_ref().ok()?;
        let mut rc: Vec<&DiscoveredContainer> =
            containers.iter().filter(|c| c.is_rocketchat()).collect();
        rc.sort_by_key(|c| !c.running);
        rc.into_iter().find_map(|c| {
            c.env_value("MONGO_URL")
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| {
                    (
                        u.to_string(),
                        format!("container:{}", c.name),
                        Some(c.clone()),
                    )
                })
        })
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
