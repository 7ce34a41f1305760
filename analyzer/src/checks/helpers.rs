//! Helpers the check modules share: the as-of date, a node's Rocket.Chat containers,
//! pods, processes and version, the users that size an installation, and small text
//! helpers.

use serde_json::Value;

use super::{CheckInput, Evidence};
use crate::model::{Container, ContainerKind, NodeData, PodCtr};
use crate::policy::{Policy, Version};
use rcdiag_contract::host::Process;

/// The date support is judged at for `node`: `--as-of`, else the bundle's creation date.
pub(crate) fn as_of(input: &CheckInput, node: &NodeData) -> Option<jiff::civil::Date> {
    input.as_of.or_else(|| {
        node.created_at()
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
    })
}

/// The containers of a node the checks judge as its own: its Docker containers and
/// its CRI containers, less the CRI containers that are a pod's container in a cluster
/// bundle given too ([`crate::model::pod_twin`]): the pod view reports those, once.
/// `None` when neither Docker nor CRI containers were collected.
pub(crate) fn node_containers<'a>(
    input: &CheckInput<'a>,
    node: &'a NodeData,
) -> Option<Vec<Container<'a>>> {
    node.containers(input.policy).map(|cs| {
        cs.into_iter()
            .filter(|c| crate::model::pod_twin(input.nodes, node, c).is_none())
            .collect()
    })
}

/// Rocket.Chat containers of a node, as [`node_containers`] gives them (`None` when
/// neither Docker nor CRI containers were collected).
pub(crate) fn rc_containers<'a>(
    input: &CheckInput<'a>,
    node: &'a NodeData,
) -> Option<Vec<Container<'a>>> {
    node_containers(input, node).map(|cs| {
        cs.into_iter()
            .filter(|c| c.kind == ContainerKind::RocketChat)
            .collect()
    })
}

/// Every Rocket.Chat container of a node, a pod's twin included: for what the node
/// runs or sets, not for counting or judging containers (see [`rc_containers`]).
pub(crate) fn rc_containers_on<'a>(
    node: &'a NodeData,
    policy: &Policy,
) -> Option<Vec<Container<'a>>> {
    node.containers(policy).map(|cs| {
        cs.into_iter()
            .filter(|c| c.kind == ContainerKind::RocketChat)
            .collect()
    })
}

/// Evidence that pod container `p` of cluster bundle `cluster` is seen in a node
/// bundle too: its entry in that bundle's `cri/containers.json` at `field` (named as
/// in `docker/containers.json`), valued `v`. `None` without such a twin.
pub(crate) fn cri_twin_evidence(
    input: &CheckInput,
    cluster: &NodeData,
    p: &PodCtr<'_>,
    field: &str,
    v: impl FnOnce(&rcdiag_contract::docker::Container) -> String,
) -> Option<Evidence> {
    let (node, i, raw) = crate::model::cri_twin(input.nodes, cluster, p)?;
    let field = crate::model::cri::cri_pointer(field);
    Some(
        Evidence::file(node, crate::model::cri::CRI_CONTAINERS)
            .at(format!("/containers/{i}/{field}"))
            .val(v(raw)),
    )
}

/// The Rocket.Chat server containers of the pods of every cluster (one cluster bundle
/// each), with the bundle they are in.
pub(crate) fn rc_pod_servers<'a>(input: &CheckInput<'a>) -> Vec<(&'a NodeData, PodCtr<'a>)> {
    crate::model::cluster_bundles(input.nodes)
        .into_iter()
        .flat_map(|n| {
            n.kube
                .rc_servers(input.policy)
                .into_iter()
                .map(move |c| (n, c))
        })
        .collect()
}

/// Whether `node`'s Rocket.Chat is seen through a cluster view given too (see
/// [`crate::model::in_cluster`]): its missing Docker data is then no gap.
pub(crate) fn in_cluster(input: &CheckInput, node: &NodeData) -> bool {
    crate::model::in_cluster(input.nodes, node)
}

/// Host processes of kind `kind` (`rocketchat`, `mongod`) with their index.
pub(crate) fn processes_of<'a>(node: &'a NodeData, kind: &str) -> Vec<(usize, &'a Process)> {
    node.processes()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind.as_deref() == Some(kind))
        .collect()
}

/// Index of a process in `host.json`'s `processes` array (for JSON pointers).
pub(crate) fn process_pointer(idx: usize, field: &str) -> String {
    if field.is_empty() {
        format!("/processes/{idx}")
    } else {
        format!("/processes/{idx}/{field}")
    }
}

/// The Rocket.Chat version a node reports, most authoritative source first, with evidence.
pub(crate) fn node_rc_version(node: &NodeData, policy: &Policy) -> Option<(Version, Evidence)> {
    if let Some(s) = node
        .rocketchat
        .as_ref()
        .and_then(|r| r.version.as_ref())
        .and_then(|v| v.value.as_deref())
        && let Some(v) = Version::parse(s)
    {
        return Some((
            v,
            Evidence::file(node, "rocketchat/summary.json")
                .at("/version/value")
                .val(s),
        ));
    }
    if let Some(s) = node
        .rc_statistics
        .as_ref()
        .and_then(|r| r.version.as_deref())
        && let Some(v) = Version::parse(s)
    {
        return Some((
            v,
            Evidence::file(node, "rocketchat/statistics.json")
                .at("/version")
                .val(s),
        ));
    }
    if let Some(cs) = node.containers(policy) {
        for c in cs.iter().filter(|c| c.kind == ContainerKind::RocketChat) {
            if let Some(tag) = &c.image_ref.tag
                && let Some(v) = Version::parse(tag)
                && tag.matches('.').count() == 2
            {
                return Some((
                    v,
                    Evidence::file(node, c.file)
                        .at(c.pointer("image"))
                        .val(&c.image),
                ));
            }
        }
    }
    for c in node.kube.rc_servers(policy) {
        if let Some(tag) = &c.image_ref.tag
            && let Some(v) = Version::parse(tag)
            && tag.matches('.').count() == 2
        {
            return Some((
                v,
                Evidence::file(node, "kubernetes/pods.json")
                    .at(c.pointer("image"))
                    .val(c.image()),
            ));
        }
    }
    if let Some((file, s)) = node.startup_versions.last()
        && let Some(v) = Version::parse(s)
    {
        return Some((
            v,
            Evidence::file(node, file).val(format!("Rocket.Chat Version: {s}")),
        ));
    }
    None
}

/// Users that size the installation: concurrent users (else active users), the
/// largest figure over the nodes (they share one database), with its basis.
pub(crate) fn cluster_users(nodes: &[NodeData]) -> Option<(u64, &'static str, Evidence)> {
    type Read = fn(&NodeData) -> Option<u64>;
    let concurrent: Read = |n| n.rocketchat.as_ref()?.users.as_ref()?.concurrent;
    let connected: Read = |n| n.rc_statistics.as_ref()?.total_connected_users;
    let active_humans: Read = |n| n.rocketchat.as_ref()?.users.as_ref()?.active_humans;
    let active: Read = |n| n.rc_statistics.as_ref()?.active_users;
    let pick =
        |sources: &[(&str, &str, &'static str, Read)]| -> Option<(u64, &'static str, Evidence)> {
            let mut best: Option<(u64, &'static str, Evidence)> = None;
            for n in nodes {
                for (file, pointer, basis, read) in sources {
                    if let Some(v) = read(n) {
                        if best.as_ref().is_none_or(|b| v > b.0) {
                            best = Some((v, basis, Evidence::file(n, file).at(*pointer).val(v)));
                        }
                        break;
                    }
                }
            }
            best
        };
    pick(&[
        (
            "rocketchat/summary.json",
            "/users/concurrent",
            "concurrent users",
            concurrent,
        ),
        (
            "rocketchat/statistics.json",
            "/totalConnectedUsers",
            "concurrent users",
            connected,
        ),
    ])
    .or_else(|| {
        pick(&[
            (
                "rocketchat/summary.json",
                "/users/active_humans",
                "active users",
                active_humans,
            ),
            (
                "rocketchat/statistics.json",
                "/activeUsers",
                "active users",
                active,
            ),
        ])
    })
}

/// A stable key for "the same node" across bundles.
pub(crate) fn node_key(node: &NodeData) -> String {
    node.manifest
        .node
        .machine_id_hash
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("host:{}", node.hostname()))
}

/// Whether a setting/env value means "on" (`true`, `"true"`, `1`, `{"value": true}`).
pub(crate) fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::Object(o) => o.get("value").and_then(truthy),
        _ => None,
    }
}

/// A short list for a message: `a, b, c and 2 more`.
pub(crate) fn list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}
