//! Feeds the writer one container's log: from its json-file when allowed and possible
//! ([`crate::sources::logfile`]), else through the Engine API, through the [`Emitter`](super::emit::Emitter)
//! that applies the line and byte caps (keeping the newest lines that fit).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc::Sender;

use super::emit::Emitter;
use super::engine::produce_from_engine;
use super::{BYTES_MARGIN, DiscoveredContainer, Ending, Limits, Msg};
use crate::clients::docker::Engine;
use crate::collectors::host::{is_rooted, resolve_under};
use crate::redact::Redactor;
use crate::sources::logfile::{self, JsonLog, Unusable};
use crate::sources::logwindow::{Format, Log};

/// Reads one container's log for the writer: from its json-file when allowed and
/// possible, else through the Engine API.
pub(super) async fn produce(
    engine: Engine,
    c: DiscoveredContainer,
    limits: Limits,
    redactor: Arc<Redactor>,
    tx: Sender<Msg>,
) {
    if let Some(ending) = limits.nothing_to_read() {
        let _ = tx.send(Msg::Done(ending)).await;
        return;
    }
    if limits.files
        && c.log_driver.as_deref() == Some("json-file")
        && let Some(log_path) = c.log_path.clone()
    {
        let (id, limits2, redactor2, tx2) =
            (c.id.clone(), limits.clone(), redactor.clone(), tx.clone());
        let from_file = tokio::task::spawn_blocking(move || {
            let log = open_json_log(&limits2.host_root, &log_path, &id)?;
            produce_from_file(&log, "file", &limits2, &redactor2, &tx2)
        })
        .await;
        match from_file {
            Ok(Ok(())) => return,
            // Not readable here (no permission, not this host, a compressed rotation in
            // the window, ...): the engine can still send it.
            Ok(Err(_unusable)) => {}
            Err(e) => {
                let _ = tx
                    .send(Msg::Done(Ending {
                        source: Some("file"),
                        error: Some(format!("reading the log file failed: {e}")),
                        ..Ending::default()
                    }))
                    .await;
                return;
            }
        }
    }
    produce_from_engine(&engine, &c, &limits, &redactor, &tx).await;
}

/// Where the Engine's `log_path` (a path of the node) is read: under `--host-root` first
/// (the image's `-v /:/host:ro` shows the Engine's data root there), then at its own path
/// (the containers folder mounted where the Engine has it).
fn log_file_candidates(root: &Path, log_path: &str) -> Vec<PathBuf> {
    let own = PathBuf::from(log_path);
    if !is_rooted(root) {
        return vec![own];
    }
    let under = resolve_under(root, log_path);
    if under == own {
        vec![own]
    } else {
        vec![under, own]
    }
}

/// The json-file log of container `id` at the first of [`log_file_candidates`] that opens.
fn open_json_log(root: &Path, log_path: &str, id: &str) -> Result<JsonLog, Unusable> {
    let mut last = Unusable::NotThisContainer(PathBuf::from(log_path));
    for path in log_file_candidates(root, log_path) {
        match JsonLog::open(&path, id) {
            Ok(log) => return Ok(log),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Reads a log from its files (blocking), recorded with `source`. `Err` before anything
/// was sent: the caller falls back to the engine, or records why.
pub(super) fn produce_from_file<F: Format>(
    log: &Log<F>,
    source: &'static str,
    limits: &Limits,
    redactor: &Redactor,
    tx: &Sender<Msg>,
) -> Result<(), Unusable> {
    let since = limits.since.and_then(|t| {
        // The engine's `since` has whole seconds.
        let t = jiff::Timestamp::from_second(t.as_second()).ok()?;
        logfile::fixed_timestamp(&t.to_string())
    });
    let budget = (limits.bytes as f64 * BYTES_MARGIN) as u64;
    let window = log.window(limits.lines, budget, since.as_deref())?;
    let deadline = limits.deadline.into_std();
    let mut em = Emitter::new(limits, false);
    let mut gone = false;
    let mut n = 0u32;
    let read = log.read(window, |line| {
        n = n.wrapping_add(1);
        if n.is_multiple_of(1024) && std::time::Instant::now() >= deadline {
            em.stop = Some("timeout");
            return false;
        }
        if !em.push(redactor, line.timestamp, line.stream, line.text) {
            return false;
        }
        if let Some(batch) = em.full_batch()
            && tx.blocking_send(batch).is_err()
        {
            gone = true;
            return false;
        }
        true
    });
    if gone {
        return Ok(());
    }
    let mut ending = em.ending(Some(source));
    ending.exists = true;
    if ending.truncated_by.is_none() && ending.error.is_none() {
        ending.truncated_by = window.truncated_by;
    }
    if let Err(e) = read {
        ending.error = Some(format!("reading the log file stopped: {e}"));
    }
    for msg in em.drain().into_iter().chain([Msg::Done(ending)]) {
        if tx.blocking_send(msg).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_log_path_is_looked_up_under_the_host_root_first() {
        let p = "/var/lib/docker/containers/abc/abc-json.log";
        assert_eq!(log_file_candidates(Path::new("/"), p), [PathBuf::from(p)]);
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            log_file_candidates(root.path(), p),
            [root.path().join(&p[1..]), PathBuf::from(p)]
        );
    }

    #[test]
    fn a_log_file_found_only_under_the_host_root_or_only_at_its_own_path_opens() {
        let id = "0123456789abcdef";
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let line = "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-01T00:00:00.000000001Z\"}\n";
        // Under the root only: the node path does not exist on this machine.
        let node_path = format!("/rcdiag-no-such-dir/{id}/{id}-json.log");
        let under = root.path().join(&node_path[1..]);
        std::fs::create_dir_all(under.parent().unwrap()).unwrap();
        std::fs::write(&under, line).unwrap();
        assert!(open_json_log(root.path(), &node_path, id).is_ok());
        assert!(open_json_log(Path::new("/"), &node_path, id).is_err());
        // At its own path only (the containers folder mounted where the Engine has it).
        let own = elsewhere.path().join(format!("{id}-json.log"));
        std::fs::write(&own, line).unwrap();
        let own = own.to_str().unwrap();
        assert!(open_json_log(root.path(), own, id).is_ok());
        // Neither: an error, and the caller falls back to the engine.
        let gone = format!("/rcdiag-no-such-dir/x/{id}-json.log");
        assert!(matches!(
            open_json_log(root.path(), &gone, id),
            Err(Unusable::Open { .. })
        ));
    }
}
