//! The node's CRI containers (`cri/containers.json`, `cri/images.json`, written by the
//! agent's `cri` collector on a Kubernetes node) seen as Docker containers, so that the
//! checks that read a node's containers (images, restarts, OOM kills, versions, scale)
//! see them too. Each becomes a [`docker::Container`] with what CRI says: name
//! `NAMESPACE/POD/CONTAINER`, image and digests (from the image list), env and labels,
//! state, exit code, `OOMKilled`, restart count, memory and CPU limits. Evidence points
//! into `cri/containers.json` ([`cri_pointer`]).

use rcdiag_contract::{cri, docker};

/// The bundle file of CRI containers.
pub const CRI_CONTAINERS: &str = "cri/containers.json";

/// `containers` as Docker containers, in the same order (the index of each is its
/// index in `cri/containers.json`).
pub fn as_docker(
    containers: &cri::ContainersFile,
    images: Option<&cri::ImagesFile>,
) -> Vec<docker::Container> {
    containers
        .containers
        .iter()
        .map(|c| one(c, images))
        .collect()
}

fn one(c: &cri::Container, images: Option<&cri::ImagesFile>) -> docker::Container {
    // The image: by id (`image_ref` is the image id, or a repo digest on some runtimes).
    let image = images.and_then(|imgs| {
        let r = c.image_ref.as_deref()?;
        imgs.images
            .iter()
            .find(|i| i.id.as_deref() == Some(r) || i.repo_digests.iter().any(|d| d == r))
    });
    let name = match (&c.pod_namespace, &c.pod_name, &c.name) {
        (Some(ns), Some(pod), Some(n)) => Some(format!("{ns}/{pod}/{n}")),
        (_, _, n) => n.clone(),
    };
    let state = c.state.as_deref().map(|s| {
        let status = match s {
            "CONTAINER_RUNNING" => "running",
            "CONTAINER_EXITED" => "exited",
            "CONTAINER_CREATED" => "created",
            _ => "unknown",
        };
        docker::ContainerState {
            status: Some(status.to_string()),
            running: Some(status == "running"),
            restarting: Some(false),
            oom_killed: Some(c.reason.as_deref() == Some("OOMKilled")),
            pid: c.pid,
            exit_code: (status == "exited").then_some(c.exit_code).flatten(),
            error: c
                .message
                .clone()
                .filter(|m| !m.is_empty() && status == "exited"),
            started_at: c.started_at.clone(),
            finished_at: c.finished_at.clone(),
            ..Default::default()
        }
    });
    let res = c.resources.as_ref();
    let positive = |v: Option<i64>| v.filter(|n| *n > 0);
    let mut repo_digests = image.map(|i| i.repo_digests.clone()).unwrap_or_default();
    if repo_digests.is_empty()
        && let Some(r) = c.image_ref.as_deref().filter(|r| r.contains("@sha256:"))
    {
        repo_digests.push(r.to_string());
    }
    docker::Container {
        id: c.id.clone(),
        name,
        image: c.image.clone(),
        image_id: image.and_then(|i| i.id.clone()).or(c.image_ref.clone()),
        repo_digests,
        image_repo_tags: image.map(|i| i.repo_tags.clone()).unwrap_or_default(),
        created: c.created_at.clone(),
        labels: c.labels.clone(),
        env: c.env.clone(),
        cmd: c.args.clone(),
        state,
        restart_count: c.restart_count,
        memory_limit_bytes: positive(res.and_then(|r| r.memory_limit_in_bytes))
            .and_then(|n| u64::try_from(n).ok()),
        cpu_quota: positive(res.and_then(|r| r.cpu_quota)),
        cpu_period: positive(res.and_then(|r| r.cpu_period)),
        cpuset_cpus: res
            .and_then(|r| r.cpuset_cpus.clone())
            .filter(|s| !s.is_empty()),
        ..Default::default()
    }
}

/// The field of `cri/containers.json` that holds what `field` of a Docker container
/// entry holds (`state/status` is `state`, `state/oom_killed` is `reason`, ...).
pub fn cri_pointer(field: &str) -> &str {
    match field {
        "state" | "state/status" | "state/running" | "state/restarting" => "state",
        "state/oom_killed" | "state/error" => "reason",
        "state/exit_code" => "exit_code",
        "state/started_at" => "started_at",
        "state/finished_at" => "finished_at",
        "state/pid" => "pid",
        "image_id" | "repo_digests" | "image_repo_tags" => "image_ref",
        "created" => "created_at",
        "cmd" => "args",
        "memory_limit_bytes" => "resources/memory_limit_in_bytes",
        "cpu_quota" => "resources/cpu_quota",
        "cpu_period" => "resources/cpu_period",
        "cpuset_cpus" => "resources/cpuset_cpus",
        f => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cri_container_reads_as_a_docker_one() {
        let cs: cri::ContainersFile = serde_json::from_value(json!({"containers": [{
            "id": "c1", "name": "rocketchat", "pod_name": "rc-0", "pod_namespace": "chat",
            "image": "docker.io/rocketchat/rocket.chat:8.5.0", "image_ref": "sha256:abc",
            "state": "CONTAINER_EXITED", "exit_code": 137, "reason": "OOMKilled",
            "restart_count": 7, "env": ["ROOT_URL=https://x"],
            "resources": {"memory_limit_in_bytes": 1073741824, "cpu_quota": 0}
        }]}))
        .unwrap();
        let imgs: cri::ImagesFile = serde_json::from_value(json!({"images": [{
            "id": "sha256:abc", "repo_tags": ["docker.io/rocketchat/rocket.chat:8.5.0"],
            "repo_digests": ["docker.io/rocketchat/rocket.chat@sha256:def"]
        }]}))
        .unwrap();
        let d = &as_docker(&cs, Some(&imgs))[0];
        assert_eq!(d.name.as_deref(), Some("chat/rc-0/rocketchat"));
        assert_eq!(
            d.repo_digests,
            ["docker.io/rocketchat/rocket.chat@sha256:def"]
        );
        let st = d.state.as_ref().unwrap();
        assert_eq!(st.status.as_deref(), Some("exited"));
        assert_eq!(st.oom_killed, Some(true));
        assert_eq!(st.exit_code, Some(137));
        assert_eq!(d.restart_count, Some(7));
        assert_eq!(d.memory_limit_bytes, Some(1 << 30));
        assert_eq!(d.cpu_quota, None, "0 is no limit");
        // Without the image list the digest is unknown, the id is the runtime's.
        let d = &as_docker(&cs, None)[0];
        assert!(d.repo_digests.is_empty());
        assert_eq!(d.image_id.as_deref(), Some("sha256:abc"));
        assert_eq!(cri_pointer("state/oom_killed"), "reason");
    }
}
