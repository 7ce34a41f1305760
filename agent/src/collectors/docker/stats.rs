//! One stats sample per running container: from its cgroup files beside a local engine
//! when readable ([`crate::sources::cgroup`]), else through the Engine API, and the
//! `stats.json` record with the CPU percentage computed as `docker stats` does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::StreamExt;
use rcdiag_contract::docker::Stats;

use super::records::as_string;
use crate::clients::docker::{call_error, http_status};
use crate::collectors::host::{is_rooted, read_mountinfo};
use crate::sources::cgroup;

/// One stats sample of each running container, all at once: `Ok(None)` for a container
/// stopped or removed since it was listed.
pub(super) async fn stats_round(
    docker: &Docker,
    running: &[(String, String, Option<i64>)],
    timeout: Duration,
) -> Vec<Sample> {
    futures_util::future::join_all(running.iter().map(|(id, name, _)| async move {
        let deadline = tokio::time::Instant::now() + timeout;
        // A busy engine now and then answers a one-sample request with an empty body
        // (its stats collector had no sample ready); one more request usually has one.
        let mut attempts = 0;
        let res = loop {
            attempts += 1;
            let opts = StatsOptionsBuilder::default()
                .stream(false)
                .one_shot(false)
                .build();
            let mut stream = docker.stats(id, Some(opts));
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => break Err(format!("no stats sample within {} s", timeout.as_secs())),
                Ok(None) if attempts < 2 => continue,
                Ok(None) => break Err("the engine sent no stats sample, twice".to_string()),
                Ok(Some(Err(e))) if matches!(http_status(&e), Some(404 | 409)) => break Ok(None),
                Ok(Some(Err(e))) => break Err(call_error("GET /containers/{id}/stats", &e)),
                Ok(Some(Ok(s))) => break Ok(Some(s)),
            }
        };
        (id.clone(), name.clone(), res, "engine")
    }))
    .await
}

/// One container's stats: id, name, the sample (`Ok(None)`: stopped meanwhile) and
/// where it was read (`cgroup` or `engine`).
pub(super) type Sample = (
    String,
    String,
    Result<Option<ContainerStatsResponse>, String>,
    &'static str,
);

/// A running container: id, name, main process id.
pub(super) type Running = (String, String, Option<i64>);

/// Where the containers' cgroups are looked up: the `/proc` their pids are in, the mount
/// table that places the cgroup hierarchies, and the root those mount points are under.
struct CgroupView {
    proc_dir: PathBuf,
    mountinfo: String,
    /// `Some(--host-root)` when the mount table is the node's, read under that root.
    root: Option<PathBuf>,
}

/// Under `--host-root` (the agent in a container, the host's `/` mounted there) the
/// node's `/proc` and its init's mount table, as the Engine's pids are the node's; else
/// this machine's own.
fn cgroup_view(root: &Path) -> CgroupView {
    if is_rooted(root) {
        let proc_dir = root.join("proc");
        if let Ok(mountinfo) = read_mountinfo(&proc_dir) {
            return CgroupView {
                proc_dir,
                mountinfo,
                root: Some(root.to_path_buf()),
            };
        }
    }
    CgroupView {
        proc_dir: PathBuf::from("/proc"),
        mountinfo: std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
        root: None,
    }
}

impl CgroupView {
    /// Container `id`'s cgroup from its `/proc/<pid>/cgroup` text, under the root when
    /// the view is the node's. With a cgroup namespace of the agent's own that text is
    /// relative to it (`0::/../docker-<id>.scope`): then the cgroup is found by id in the
    /// node's cgroup2 tree, searched once for all of `ids` into `by_id`.
    fn locate(
        &self,
        id: &str,
        proc_cgroup: &str,
        ids: &[&str],
        by_id: &mut Option<HashMap<String, PathBuf>>,
    ) -> Option<cgroup::Location> {
        let loc = cgroup::locate(id, proc_cgroup, &self.mountinfo);
        let Some(root) = &self.root else {
            return loc;
        };
        if let Some(loc) = loc {
            return Some(loc.under_root(root));
        }
        if !proc_cgroup.contains("0::/..") {
            return None;
        }
        let found = by_id.get_or_insert_with(|| {
            cgroup::v2_mount_point(&self.mountinfo)
                .map(|p| cgroup::find_by_id(&cgroup::rebased(root, &p), ids))
                .unwrap_or_default()
        });
        found.get(id).cloned().map(cgroup::Location::V2)
    }
}

/// Samples the running containers whose cgroup this agent can read (blocking: two
/// readings `cgroup::INTERVAL` apart), looked up under `host_root` when it is not `/`;
/// returns them and the containers left over.
pub(super) fn sample_cgroups(
    running: Vec<Running>,
    host_root: &Path,
) -> (Vec<Sample>, Vec<Running>) {
    let view = cgroup_view(host_root);
    let proc_file = |f: &str| std::fs::read_to_string(view.proc_dir.join(f)).unwrap_or_default();
    let host_memory = cgroup::host_memory(&proc_file("meminfo"));
    let mut found = Vec::new();
    let mut rest = Vec::new();
    // Under --host-root with a cgroup namespace of the agent's own, the node's
    // /proc/<pid>/cgroup is relative to it: those cgroups are found by id, once.
    let mut by_id = None;
    let ids: Vec<&str> = running.iter().map(|r| r.0.as_str()).collect();
    // One host CPU reading per round, as the engine takes one per collection tick.
    let proc_stat = proc_file("stat");
    for (id, name, pid) in running.iter().cloned() {
        let first = pid.and_then(|pid| {
            let proc_cgroup =
                std::fs::read_to_string(view.proc_dir.join(format!("{pid}/cgroup"))).ok()?;
            let loc = view.locate(&id, &proc_cgroup, &ids, &mut by_id)?;
            let first = cgroup::read(&loc, &proc_stat, host_memory).ok()?;
            Some((loc, first))
        });
        match first {
            Some((loc, first)) => found.push((id, name, pid, loc, first)),
            None => rest.push((id, name, pid)),
        }
    }
    if found.is_empty() {
        return (Vec::new(), rest);
    }
    std::thread::sleep(cgroup::INTERVAL);
    let mut samples = Vec::new();
    let proc_stat = proc_file("stat");
    for (id, name, pid, loc, first) in found {
        match cgroup::read(&loc, &proc_stat, host_memory) {
            Ok(now) => samples.push((id, name, Ok(Some(cgroup::to_stats(&first, &now))), "cgroup")),
            // Stopped meanwhile (its cgroup is gone), or unreadable now: ask the engine.
            Err(_) => rest.push((id, name, pid)),
        }
    }
    (samples, rest)
}

/// One `stats.json` record, with the CPU percentage computed as `docker stats` does.
pub fn stats_record(id: &str, name: &str, s: &ContainerStatsResponse) -> Stats {
    let cpu = s.cpu_stats.as_ref();
    let pre = s.precpu_stats.as_ref();
    let total = cpu
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage);
    let pre_total = pre
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage);
    let system = cpu.and_then(|c| c.system_cpu_usage);
    let pre_system = pre.and_then(|c| c.system_cpu_usage).filter(|v| *v > 0);
    let online = cpu
        .and_then(|c| c.online_cpus)
        .filter(|n| *n > 0)
        .map(u64::from)
        .or_else(|| {
            cpu.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as u64)
        })
        .filter(|n| *n > 0);
    let cpu_percent = match (total, pre_total, system, pre_system, online) {
        (Some(t), Some(pt), Some(sy), Some(psy), Some(n)) if sy > psy => {
            let cpu_delta = t.saturating_sub(pt) as f64;
            let sys_delta = (sy - psy) as f64;
            Some(((cpu_delta / sys_delta) * n as f64 * 100.0 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    let mem = s.memory_stats.as_ref();
    let usage = mem.and_then(|m| m.usage);
    // As the docker CLI: page cache that can be dropped does not count as used.
    let inactive = mem.and_then(|m| m.stats.as_ref()).and_then(|st| {
        st.get("total_inactive_file")
            .or_else(|| st.get("inactive_file"))
            .copied()
    });
    let used = usage.map(|u| match inactive {
        Some(i) if i < u => u - i,
        _ => u,
    });
    let limit = mem.and_then(|m| m.limit);
    let mem_percent = match (used, limit) {
        (Some(u), Some(l)) if l > 0 => {
            Some(((u as f64 / l as f64) * 100.0 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    Stats {
        id: Some(id.to_string()),
        name: Some(name.to_string()),
        read: s.read.as_ref().and_then(as_string),
        cpu_percent,
        online_cpus: online,
        memory_usage_bytes: used,
        memory_raw_usage_bytes: usage,
        memory_limit_bytes: limit,
        memory_percent: mem_percent,
        pids: s.pids_stats.as_ref().and_then(|p| p.current),
        note: cpu_percent
            .is_none()
            .then(|| "no previous CPU sample: cpu_percent unknown".to_string()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cpu_percent_uses_the_previous_sample() {
        let s: ContainerStatsResponse = serde_json::from_value(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 400_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 200_000_000u64}, "system_cpu_usage": 18_000_000_000u64},
            "memory_stats": {"usage": 1000, "limit": 4000, "stats": {"inactive_file": 200}}
        }))
        .expect("valid stats");
        let r = stats_record("id", "n", &s);
        assert_eq!(r.cpu_percent, Some(20.0));
        assert_eq!(r.memory_usage_bytes, Some(800));
        assert_eq!(r.memory_percent, Some(20.0));
    }

    #[test]
    fn cpu_percent_is_null_without_precpu() {
        let s: ContainerStatsResponse = serde_json::from_value(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 400u64}, "system_cpu_usage": 2000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 0u64}}
        }))
        .expect("valid stats");
        assert_eq!(stats_record("id", "n", &s).cpu_percent, None);
    }
}
