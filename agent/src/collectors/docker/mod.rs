//! The docker collector: what the Docker Engine says about itself, its containers and
//! images, and one stats sample per running container. It writes `docker/version.json`,
//! `docker/info.json`, `docker/containers.json`, `docker/images.json` and
//! `docker/stats.json` (see `docs/collector-outputs.md`); the records are built in
//! [`records`], the stats sample in [`stats`]. Connecting, budgets and the container
//! list are the client's ([`crate::clients::docker`]).
//!
//! Secrets: every container environment entry goes through
//! [`Redactor::redact_env_entry`](crate::redact::Redactor::redact_env_entry), the
//! command line (`Cmd`, `Entrypoint`) through `redact_argv` and labels through
//! `redact_labels`, which remember the values for the exact-value pass; the sink then
//! applies the patterns to every string, and the exact-value pass at the end of the run.
//!
//! An engine that cannot be reached (socket missing, connection refused) makes the
//! collector *skipped* with a reason that says what to pass; an engine that answers
//! with errors makes it *failed* or *partial*.

pub mod records;
pub mod stats;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ImageInspect};
use bollard::query_parameters::ListImagesOptionsBuilder;
use futures_util::StreamExt;
use rcdiag_contract::docker::{Container, Image, Stats};
use serde::Serialize;
use serde_json::{Value, json};

pub use self::stats::stats_record;
pub use crate::clients::docker::{DEFAULT_ENDPOINT, is_unreachable};

use self::records::{container_record, redact_record, select_info, to_json, unix_to_rfc3339};
use self::stats::{sample_cgroups, stats_round};
use super::{CollectorSink, Context, Discovery, Options, Outcome};
use crate::clients::docker::discovery::CONCURRENCY;
use crate::clients::docker::{ContainerListEntry, call_error, http_status, short_id};

/// Longest wait for one stats sample (the engine takes one to two seconds per sample).
const STATS_TIMEOUT: Duration = Duration::from_secs(10);

descriptor! {
    name: "docker",
    reads: "Docker Engine API: version, info, containers (inspect), images; one stats sample per running container (from its cgroup files beside a local engine when readable, else the Engine API)",
    permissions: "read access to the Docker socket (root or the docker group); the host's /proc (or --host-root) and its cgroup files to read stats from cgroups (else the Engine API, 1-2 s)",
    files: "docker/version.json, docker/info.json, docker/containers.json, docker/images.json, docker/stats.json",
    isolated: false,
}

/// The endpoint to use: `--docker-host`, else `DOCKER_HOST`, else the local socket.
pub fn endpoint(options: &Options) -> String {
    crate::clients::docker::endpoint(options.docker_host.as_deref())
}

/// Lists the containers of the endpoint of `options` (a run shares one listing through
/// [`Context::discovery`]).
pub async fn discover(options: &Options) -> Discovery {
    crate::clients::docker::discover(
        &endpoint(options),
        options.timeout,
        crate::clients::budget::ReplyBudget::new(options.docker_reply_max),
    )
    .await
}

/// Collects docker data into the bundle.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let engine = match ctx.connect_docker().await {
        Ok(e) => e,
        Err(e) => return Outcome::from(&e),
    };
    let docker = &engine.docker;
    let mut errors: Vec<String> = Vec::new();
    let mut written = 0usize;

    // version.json
    match docker.version().await {
        Ok(v) => {
            let mut value = to_json(&v);
            if let Value::Object(map) = &mut value {
                map.insert(
                    "negotiated_api_version".into(),
                    json!(docker.client_version().to_string()),
                );
            }
            put(
                out,
                "docker/version.json",
                &value,
                &mut written,
                &mut errors,
            )
            .await;
        }
        Err(e) => errors.push(call_error("GET /version", &e)),
    }

    // info.json
    match docker.info().await {
        Ok(info) => {
            put(
                out,
                "docker/info.json",
                &select_info(&to_json(&info)),
                &mut written,
                &mut errors,
            )
            .await
        }
        Err(e) => errors.push(call_error("GET /info", &e)),
    }

    // containers.json (and the ids of the running ones, for stats)
    let mut running: Vec<(String, String, Option<i64>)> = Vec::new();
    match engine.list_containers().await {
        Ok(list) => {
            let ids: Vec<String> = list.iter().filter_map(|c| c.id.clone()).collect();
            let inspected: Vec<(String, Result<Option<ContainerInspectResponse>, String>)> =
                futures_util::stream::iter(ids)
                    .map(|id| {
                        let engine = &engine;
                        async move {
                            let r = match engine.inspect_container(&id).await {
                                Ok(c) => Ok(Some(c)),
                                // Removed between the list and the inspect: it no longer exists.
                                Err(e) if http_status(&e) == Some(404) => Ok(None),
                                Err(e) => Err(call_error(
                                    &format!("inspecting container {}", short_id(&id)),
                                    &e,
                                )),
                            };
                            (id, r)
                        }
                    })
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
            let image_ids: HashSet<String> = inspected
                .iter()
                .filter_map(|(_, r)| {
                    r.as_ref()
                        .ok()
                        .and_then(Option::as_ref)
                        .and_then(|c| c.image.clone())
                })
                .collect();
            let images: HashMap<String, ImageInspect> = futures_util::stream::iter(image_ids)
                .map(|id| {
                    let docker = docker.clone();
                    async move { docker.inspect_image(&id).await.ok().map(|img| (id, img)) }
                })
                .buffer_unordered(CONCURRENCY)
                .filter_map(|x| async move { x })
                .collect()
                .await;

            // Remember every container's secrets before any record is scrubbed: a secret of one
            // container may show in another's command line.
            let redactor = out.redactor();
            let mut records: Vec<(String, Container)> = Vec::new();
            let mut pending: Vec<(String, ContainerInspectResponse, Vec<String>)> = Vec::new();
            for (id, res) in inspected {
                match res {
                    Ok(None) => {}
                    Ok(Some(c)) => {
                        let env: Vec<String> = c
                            .config
                            .as_ref()
                            .and_then(|cfg| cfg.env.as_ref())
                            .map(|env| env.iter().map(|e| redactor.redact_env_entry(e)).collect())
                            .unwrap_or_default();
                        pending.push((id, c, env));
                    }
                    Err(msg) => {
                        let summary = list.iter().find(|c| c.id.as_deref() == Some(id.as_str()));
                        let name = summary
                            .and_then(ContainerListEntry::name)
                            .unwrap_or_else(|| short_id(&id).to_string());
                        records.push((
                            name.clone(),
                            Container {
                                id: Some(id),
                                name: Some(name),
                                image: summary.and_then(|c| c.image.clone()),
                                error: Some(msg.clone()),
                                ..Default::default()
                            },
                        ));
                        errors.push(msg);
                    }
                }
            }
            for (id, c, env) in pending {
                let image = c.image.as_ref().and_then(|i| images.get(i));
                let mut record = container_record(&c, env, image);
                redact_record(redactor, &mut record);
                let name = record.name.clone().unwrap_or_default();
                if c.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
                    let pid = c.state.as_ref().and_then(|s| s.pid).filter(|p| *p > 0);
                    running.push((id, name.clone(), pid));
                }
                records.push((name, record));
            }
            records.sort_by(|a, b| a.0.cmp(&b.0));
            let records: Vec<Container> = records.into_iter().map(|(_, v)| v).collect();
            put(
                out,
                "docker/containers.json",
                &records,
                &mut written,
                &mut errors,
            )
            .await;
        }
        Err(e) => errors.push(call_error("listing containers (GET /containers/json)", &e)),
    }

    // images.json
    match docker
        .list_images(Some(ListImagesOptionsBuilder::default().all(false).build()))
        .await
    {
        Ok(list) => {
            let mut images: Vec<Image> = list
                .iter()
                .map(|i| Image {
                    id: Some(i.id.clone()),
                    repo_tags: i.repo_tags.clone(),
                    repo_digests: i.repo_digests.clone(),
                    created: unix_to_rfc3339(i.created),
                    size_bytes: Some(i.size),
                    labels: Some(
                        out.redactor()
                            .redact_labels(i.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    ),
                    containers: Some(i.containers),
                    ..Default::default()
                })
                .collect();
            // By the JSON text of the tags, the order of earlier agents.
            images.sort_by_cached_key(|i| to_json(&i.repo_tags).to_string());
            put(
                out,
                "docker/images.json",
                &images,
                &mut written,
                &mut errors,
            )
            .await;
        }
        Err(e) => errors.push(call_error("listing images (GET /images/json)", &e)),
    }

    // stats.json: one sample per running container. Beside a local engine the cgroup
    // files give it in cgroup::INTERVAL; the Engine API publishes samples on a
    // one-second tick and needs two ticks for a CPU share, so the containers left are
    // sampled through it all at once, in one to two seconds.
    let stats_timeout = STATS_TIMEOUT
        .min(ctx.options.timeout / 2)
        .max(Duration::from_secs(1));
    let (mut samples, rest) = if engine.endpoint.starts_with("unix://") {
        let root = ctx.options.host_root.clone();
        tokio::task::spawn_blocking(move || sample_cgroups(running, &root))
            .await
            .unwrap_or_default()
    } else {
        (Vec::new(), running)
    };
    samples.extend(stats_round(docker, &rest, stats_timeout).await);
    let mut stats = Vec::new();
    for (id, name, res, source) in samples {
        match res {
            Ok(None) => {}
            Ok(Some(s)) => {
                let mut record = stats_record(&id, &name, &s);
                record.source = Some(source.to_string());
                stats.push(record);
            }
            Err(msg) => {
                errors.push(format!("stats of {name}: {msg}"));
                stats.push(Stats {
                    id: Some(id),
                    name: Some(name),
                    error: Some(msg),
                    ..Default::default()
                });
            }
        }
    }
    stats.sort_by(|a, b| a.name.cmp(&b.name));
    put(out, "docker/stats.json", &stats, &mut written, &mut errors).await;

    if errors.is_empty() {
        Outcome::ok()
    } else if written == 0 {
        Outcome::failed(format!(
            "the Docker Engine at {} answered with errors: {}",
            engine.endpoint,
            errors.join("; ")
        ))
    } else {
        Outcome::partial(errors.join("; "))
    }
}

/// Writes one JSON file, counting successes and recording failures.
async fn put(
    out: &CollectorSink,
    path: &str,
    value: &impl Serialize,
    written: &mut usize,
    errors: &mut Vec<String>,
) {
    match out.put_json(path, value).await {
        Ok(_) => *written += 1,
        Err(e) => errors.push(format!("writing {path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_prefers_option_and_adds_scheme() {
        let o = Options {
            docker_host: Some("/tmp/x.sock".into()),
            ..Default::default()
        };
        assert_eq!(endpoint(&o), "unix:///tmp/x.sock");
        let o = Options {
            docker_host: Some("tcp://10.0.0.1:2375".into()),
            ..Default::default()
        };
        assert_eq!(endpoint(&o), "tcp://10.0.0.1:2375");
    }
}
