//! The Docker Engine client: the endpoint (`--docker-host`, else `DOCKER_HOST`, else
//! the local socket), connecting with version negotiation (never pinned: engines 20.10
//! to 29 all answer), the classification of errors into what to tell the user, and the
//! calls whose replies can be large, parsed as they stream in. Every reply is charged
//! to the run's [`ReplyBudget`]; the log stream is bounded by [`logs`]' decoder.
//!
//! `transport` is the capped connection, `logs` the log stream, `discovery` the
//! containers listed once per run for every collector.

pub mod discovery;
pub mod logs;
mod transport;

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerInspectResponse;
use futures_util::Stream;
use serde::Deserialize;

pub use discovery::{DiscoveredContainer, Discovery, discover};
pub use logs::{LogDecoder, LogsRequest};
pub use transport::Endpoint;

use crate::clients::budget::ReplyBudget;

/// The endpoint used when neither `--docker-host` nor `DOCKER_HOST` is set.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// Every "engine not reachable" message starts with this (see [`is_unreachable`]).
const UNREACHABLE_PREFIX: &str = "no Docker Engine at ";

/// True when a discovery or connection error means "no engine here" (the collectors
/// that need Docker report themselves *skipped*), false for an engine that answered
/// with an error (*failed*).
pub fn is_unreachable(message: &str) -> bool {
    message.starts_with(UNREACHABLE_PREFIX)
}

/// Why the engine could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// Nothing answers at the endpoint: not applicable on this node (or wrong endpoint).
    #[error("{0}")]
    Unreachable(String),
    /// Something answered, or the endpoint cannot be used as given.
    #[error("{0}")]
    Failed(String),
    /// The endpoint accepted the connection but did not answer within the time limit.
    #[error("{0}")]
    TimedOut(String),
}

impl ConnectError {
    /// The human message.
    pub fn message(&self) -> &str {
        match self {
            Self::Unreachable(m) | Self::Failed(m) | Self::TimedOut(m) => m,
        }
    }
}

/// A connected, version-negotiated engine.
#[derive(Clone)]
pub struct Engine {
    /// The bollard client (replies capped), for the calls whose replies stay small.
    pub docker: Docker,
    /// The endpoint, as the user would write it (`unix:///...`, `tcp://...`).
    pub endpoint: String,
    ep: Endpoint,
    budget: Arc<ReplyBudget>,
    /// Limit of each streamed call, as bollard's own calls have.
    timeout: Duration,
}

/// One entry of the container list: only the fields the agent uses are kept (the
/// others, labels included, are skipped as the reply streams in).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerListEntry {
    /// Full id.
    #[serde(rename = "Id", default)]
    pub id: Option<String>,
    /// Names, each with a leading `/`.
    #[serde(rename = "Names", default)]
    pub names: Option<Vec<String>>,
    /// Image reference.
    #[serde(rename = "Image", default)]
    pub image: Option<String>,
}

impl ContainerListEntry {
    /// The first name without its leading `/`.
    pub fn name(&self) -> Option<String> {
        self.names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
    }
}

impl Engine {
    /// The negotiated API version (`1.41`).
    pub fn api_version(&self) -> String {
        let v = self.docker.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    /// Every container (`GET /containers/json?all=true`), parsed as the reply streams
    /// in: a huge list costs its bytes in flight (capped), not a copy of them.
    pub async fn list_containers(&self) -> Result<Vec<ContainerListEntry>, bollard::errors::Error> {
        let path = format!("/v{}/containers/json?all=true", self.api_version());
        self.streamed(&path).await
    }

    /// One container's inspect reply, parsed as it streams in (the reply is never held
    /// whole beside the parsed value).
    pub async fn inspect_container(
        &self,
        id: &str,
    ) -> Result<ContainerInspectResponse, bollard::errors::Error> {
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        let path = format!("/v{}/containers/{id}/json", self.api_version());
        self.streamed(&path).await
    }

    /// A streamed JSON call under the same per-request limit as bollard's calls.
    async fn streamed<T>(&self, path: &str) -> Result<T, bollard::errors::Error>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        tokio::time::timeout(
            self.timeout,
            transport::get_json(&self.ep, path, self.budget.clone()),
        )
        .await
        .unwrap_or(Err(bollard::errors::Error::RequestTimeoutError))
    }

    /// A container's log stream (stdout and stderr, timestamps, not followed), decoded
    /// in bounded chunks (see [`LogDecoder`]).
    pub fn logs(
        &self,
        id: &str,
        opts: &LogsRequest,
    ) -> std::pin::Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>
    {
        logs::logs(&self.endpoint, &self.api_version(), id, opts)
    }
}

/// The endpoint to use: `docker_host` (`--docker-host`), else `DOCKER_HOST`, else the
/// local socket; a bare path means a unix socket.
pub fn endpoint(docker_host: Option<&str>) -> String {
    let raw = docker_host
        .map(str::to_string)
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.trim().is_empty())
        })
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let raw = raw.trim().to_string();
    if raw.starts_with('/') {
        format!("unix://{raw}")
    } else {
        raw
    }
}

/// Connects to the engine at `endpoint` (as [`endpoint`] gives it) and negotiates the
/// API version; every reply that follows is charged to `budget`, the run's.
pub async fn connect(
    endpoint: &str,
    timeout: Duration,
    budget: Arc<ReplyBudget>,
) -> Result<Engine, ConnectError> {
    let endpoint = endpoint.to_string();
    let call_limit = Duration::from_secs(timeout.as_secs().max(1));
    let timeout = timeout.as_secs().max(1);
    let client = if let Some(path) = endpoint.strip_prefix("unix://") {
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ConnectError::Unreachable(format!(
                    "{UNREACHABLE_PREFIX}{endpoint}: the socket does not exist. If Docker runs on this node, pass \
                     --docker-host (or set DOCKER_HOST) to its socket, e.g. unix:///run/user/1000/docker.sock for \
                     rootless Docker; if it does not, skip this collector"
                )));
            }
            Err(e) => {
                return Err(ConnectError::Failed(format!(
                    "cannot use the Docker socket {endpoint}: {e}; run the agent as root or as a member of the docker group"
                )));
            }
        }
        transport::bollard_client(&endpoint, timeout, budget.clone())
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        transport::bollard_client(&endpoint, timeout, budget.clone())
    } else {
        return Err(ConnectError::Failed(format!(
            "the Docker endpoint {endpoint} is not supported by this agent (TLS, SSH and named pipes are not built in): \
             run the agent on the Docker node and use its unix socket, or pass --docker-host tcp://HOST:2375"
        )));
    };
    // Every reply is read with a cap (see `crate::clients::budget`).
    let docker = client.ok_or_else(|| {
        ConnectError::Failed(format!("the Docker endpoint {endpoint} cannot be parsed"))
    })?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| classify(&e, &endpoint))?;
    let ep = Endpoint::parse(&endpoint).ok_or_else(|| {
        ConnectError::Failed(format!("the Docker endpoint {endpoint} cannot be parsed"))
    })?;
    Ok(Engine {
        docker,
        endpoint,
        ep,
        budget,
        timeout: call_limit,
    })
}

/// The whole error chain, for messages (`a: b: c`).
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if parts.last().is_none_or(|p| !p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The first I/O error kind in the chain.
fn io_kind(e: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// Turns a bollard error met while connecting into what to tell the user.
fn classify(e: &bollard::errors::Error, endpoint: &str) -> ConnectError {
    use bollard::errors::Error as E;
    let chain = error_chain(e);
    match e {
        E::SocketNotFoundError(path) => ConnectError::Unreachable(format!(
            "{UNREACHABLE_PREFIX}{endpoint}: the socket {path} does not exist; pass --docker-host (or set DOCKER_HOST) \
             to the engine's socket"
        )),
        E::RequestTimeoutError => ConnectError::TimedOut(format!(
            "the Docker Engine at {endpoint} did not answer in time; check `docker -H {endpoint} version` and the \
             dockerd logs, or raise --timeout"
        )),
        E::DockerResponseServerError {
            status_code,
            message,
        } => ConnectError::Failed(format!(
            "the Docker Engine at {endpoint} answered {status_code}: {message}"
        )),
        _ => match io_kind(e) {
            Some(io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => {
                ConnectError::Unreachable(format!(
                    "{UNREACHABLE_PREFIX}{endpoint}: nothing accepts connections there ({chain}); start Docker, or pass \
                 --docker-host (or set DOCKER_HOST) to the engine's endpoint"
                ))
            }
            Some(io::ErrorKind::PermissionDenied) => ConnectError::Failed(format!(
                "permission denied on the Docker endpoint {endpoint} ({chain}): run the agent as root or as a member \
                 of the docker group"
            )),
            _ => ConnectError::Failed(format!(
                "the Docker Engine at {endpoint} could not be queried: {chain}"
            )),
        },
    }
}

/// An engine call failed after connecting: a message naming what was asked.
pub fn call_error(what: &str, e: &bollard::errors::Error) -> String {
    format!("{what}: {}", error_chain(e))
}

/// The HTTP status of an engine error reply.
pub fn http_status(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The first 12 characters of an id (as `docker ps` shows it).
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }
}
