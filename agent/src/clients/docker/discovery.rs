//! The containers of the Docker endpoint, listed and inspected once per run and shared
//! by every collector that needs them (docker, logs, mongodb, rocketchat).

use std::sync::Arc;
use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use futures_util::StreamExt;

use super::{Engine, call_error, connect, short_id};
use crate::clients::budget::ReplyBudget;

/// How many containers are inspected at once.
pub const CONCURRENCY: usize = 8;

/// A container as discovered once and shared by the docker, logs, mongodb and rocketchat collectors.
#[derive(Debug, Clone, Default)]
pub struct DiscoveredContainer {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Image reference as configured.
    pub image: String,
    /// Whether it is running.
    pub running: bool,
    /// Raw environment (`NAME=value`, NOT redacted: never write it).
    pub env: Vec<String>,
    /// IP addresses on its networks.
    pub ips: Vec<String>,
    /// Logging driver.
    pub log_driver: Option<String>,
    /// The engine's file of a `json-file` log (`LogPath`), on the engine's host.
    pub log_path: Option<String>,
    /// Entrypoint and command (NOT redacted: never write it).
    pub cmd: Vec<String>,
    /// Labels (NOT redacted: never write them).
    pub labels: Vec<(String, String)>,
}

impl DiscoveredContainer {
    /// True for a Rocket.Chat server container (by image name or its env).
    pub fn is_rocketchat(&self) -> bool {
        let image = self.image.to_ascii_lowercase();
        image.contains("rocket.chat")
            || image.contains("rocketchat/rocket")
            || image.contains("rc-custom")
            || (self.env_value("ROOT_URL").is_some() && self.env_value("MONGO_URL").is_some())
    }

    /// The value of env variable `name`.
    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    }
}

/// The Docker discovery result: containers, or why there are none.
pub type Discovery = Result<Vec<DiscoveredContainer>, String>;

/// Lists the containers of the engine at `endpoint` once, for every collector that
/// needs them; replies are charged to `budget`.
pub async fn discover(endpoint: &str, timeout: Duration, budget: Arc<ReplyBudget>) -> Discovery {
    let engine = connect(endpoint, timeout, budget)
        .await
        .map_err(|e| e.message().to_string())?;
    discover_with(&engine).await
}

/// [`discover`] on an engine already connected.
pub async fn discover_with(engine: &Engine) -> Discovery {
    let list = engine.list_containers().await.map_err(|e| {
        call_error(
            &format!("listing the containers of {}", engine.endpoint),
            &e,
        )
    })?;
    let ids: Vec<(String, Option<String>, Option<String>)> = list
        .into_iter()
        .filter_map(|c| {
            let name = c.name();
            c.id.map(|id| (id, name, c.image))
        })
        .collect();
    let mut found: Vec<DiscoveredContainer> = futures_util::stream::iter(ids)
        .map(|(id, name, image)| async move {
            match engine.inspect_container(&id).await {
                Ok(inspect) => discovered_from(&inspect),
                // Removed between list and inspect, or not inspectable: keep what the list said.
                Err(_) => DiscoveredContainer {
                    name: name.unwrap_or_else(|| short_id(&id).to_string()),
                    id,
                    image: image.unwrap_or_default(),
                    ..Default::default()
                },
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// A discovered container from its inspect reply.
fn discovered_from(c: &ContainerInspectResponse) -> DiscoveredContainer {
    let id = c.id.clone().unwrap_or_default();
    let config = c.config.as_ref();
    let ips = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|nets| {
            let mut ips: Vec<String> = nets
                .values()
                .filter_map(|n| n.ip_address.clone())
                .filter(|ip| !ip.is_empty())
                .collect();
            ips.sort();
            ips
        })
        .unwrap_or_default();
    DiscoveredContainer {
        name: c
            .name
            .as_deref()
            .map(|n| n.trim_start_matches('/').to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| short_id(&id).to_string()),
        image: config
            .and_then(|c| c.image.clone())
            .or_else(|| c.image.clone())
            .unwrap_or_default(),
        running: c.state.as_ref().and_then(|s| s.running).unwrap_or(false),
        env: config.and_then(|c| c.env.clone()).unwrap_or_default(),
        ips,
        log_driver: c
            .host_config
            .as_ref()
            .and_then(|h| h.log_config.as_ref())
            .and_then(|l| l.typ.clone()),
        log_path: c.log_path.clone().filter(|p| !p.is_empty()),
        labels: config
            .and_then(|c| c.labels.as_ref())
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        cmd: config
            .and_then(|c| c.entrypoint.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(config.and_then(|c| c.cmd.clone()).unwrap_or_default())
            .collect(),
        id,
    }
}
