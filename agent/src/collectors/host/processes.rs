//! The process table: Rocket.Chat and `mongod` processes with their command line
//! (redacted) and the names of their environment variables, and the secrets on every
//! process's command line, harvested before any collector writes. Every `/proc` file is
//! read non-blocking, regular files only, with a cap.

use std::fs;
use std::path::{Path, PathBuf};

use super::HOST_PROC_ENV;
use super::Process;
use super::system::{container_id_in_cgroup, container_runtime_in_cgroup};

/// The proc file system to read: `RCDIAG_HOST_PROC` when set, else `/proc`.
pub(super) fn proc_root() -> PathBuf {
    std::env::var_os(HOST_PROC_ENV)
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("/proc"))
}

/// The most processes and command-line bytes per process read for secrets.
pub(super) const HARVEST_MAX_PROCESSES: usize = 32_768;
pub(super) const HARVEST_MAX_CMDLINE: u64 = 256 << 10;

/// Remembers the secrets on every process's command line (`--password X`, URIs with a
/// password) before any collector writes, so that the exact-value pass finds them in
/// every file, logs included. Blocking; bounded in processes and bytes; regular files only.
pub fn harvest_argv_secrets(redactor: &crate::redact::Redactor) {
    for (_, dir) in other_processes(&proc_root()) {
        if let Some(args) = read_cmdline(&dir) {
            redactor.register_argv_secrets(&args);
        }
    }
}

/// `(pid, folder)` of every process under `proc_root` but this one, at most
/// `HARVEST_MAX_PROCESSES`.
pub(super) fn other_processes(proc_root: &Path) -> impl Iterator<Item = (u32, PathBuf)> {
    let own = std::process::id();
    fs::read_dir(proc_root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(move |e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            (pid != own).then(|| (pid, e.path()))
        })
        .take(HARVEST_MAX_PROCESSES)
}

/// At most `cap` bytes of a file under a proc root: opened non-blocking and read only
/// when the open file is a regular file, so a FIFO or device planted under a
/// `/proc`-like root (`RCDIAG_HOST_PROC`) neither blocks a thread nor leaks an fd.
pub(super) fn read_proc_file(path: &Path, cap: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut raw = Vec::new();
    f.take(cap).read_to_end(&mut raw).ok()?;
    Some(raw)
}

/// [`read_proc_file`] as text (lossy), empty when unreadable.
pub(super) fn read_proc_text(path: &Path, cap: u64) -> String {
    read_proc_file(path, cap)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The arguments of the process whose `/proc` folder is `dir`: `None` for a kernel
/// thread, a zombie or a `cmdline` that is not a regular file; at most
/// `HARVEST_MAX_CMDLINE` bytes are read.
pub(super) fn read_cmdline(dir: &Path) -> Option<Vec<String>> {
    let raw = read_proc_file(&dir.join("cmdline"), HARVEST_MAX_CMDLINE)?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then_some(args)
}

/// Rocket.Chat and mongod processes, each with its raw arguments (to be redacted into
/// its `cmdline`: never written as they are), and how many candidates' environments
/// were unreadable.
pub(super) fn scan_processes(proc_root: &Path) -> (Vec<(Process, Vec<String>)>, usize) {
    let mut found = Vec::new();
    let mut unreadable = 0;
    for (pid, dir) in other_processes(proc_root) {
        let Some(args) = read_cmdline(&dir) else {
            continue; // kernel thread, zombie, or not a proc file
        };
        let comm = read_proc_text(&dir.join("comm"), 256).trim().to_string();
        let argv0 = args
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .unwrap_or_default();
        let cmdline = args.join(" ");

        let env_names = || -> Option<Vec<String>> {
            let env = read_proc_file(&dir.join("environ"), HARVEST_MAX_CMDLINE)?;
            let mut names: Vec<String> = env
                .split(|b| *b == 0)
                .filter_map(|e| {
                    let name = e.split(|b| *b == b'=').next()?;
                    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
                })
                .collect();
            names.sort();
            names.dedup();
            Some(names)
        };

        let is_mongod = comm == "mongod" || argv0 == "mongod";
        let is_node = comm == "node" || argv0 == "node" || argv0.starts_with("node");
        let runs_main_js = args
            .iter()
            .skip(1)
            .any(|a| a == "main.js" || a.ends_with("/main.js"));
        let names_rocket_chat = cmdline.to_ascii_lowercase().contains("rocket.chat");

        let (kind, matched_by, env) = if is_mongod {
            ("mongod", "process name mongod", env_names())
        } else if is_node && runs_main_js {
            let env = env_names();
            let rc_env = env
                .as_ref()
                .map(|names| names.iter().any(|n| n == "ROOT_URL" || n == "MONGO_URL"));
            match rc_env {
                Some(true) => (
                    "rocketchat",
                    "node main.js with ROOT_URL/MONGO_URL in its environment",
                    env,
                ),
                // Cannot see its environment: still the usual Rocket.Chat command line.
                None => ("rocketchat", "node main.js (environment not readable)", env),
                Some(false) if names_rocket_chat => {
                    ("rocketchat", "command line names rocket.chat", env)
                }
                Some(false) => continue,
            }
        } else if names_rocket_chat {
            ("rocketchat", "command line names rocket.chat", env_names())
        } else {
            continue;
        };
        if env.is_none() {
            unreadable += 1;
        }
        let cgroup = read_proc_text(&dir.join("cgroup"), 64 << 10);
        let process = Process {
            pid: Some(pid),
            kind: Some(kind.to_string()),
            name: Some(if comm.is_empty() { argv0 } else { comm }),
            cmdline: None,
            env_names: env,
            in_container: Some(container_runtime_in_cgroup(&cgroup).is_some()),
            container_id: container_id_in_cgroup(&cgroup),
            matched_by: Some(matched_by.to_string()),
            ..Default::default()
        };
        found.push((process, args));
    }
    found.sort_by_key(|(p, _)| p.pid);
    (found, unreadable)
}
