//! Where blocking work runs. Tokio's blocking pool is kept small
//! ([`BLOCKING_THREADS`]): each of its threads keeps a malloc arena of its own, and a
//! pool that grew to one thread per container cost 8 to 13 MiB of peak memory for 20
//! containers. Work that may block without end (reading `/proc` of a process stuck in
//! the kernel) runs on a thread of its own instead ([`on_own_thread`]), so that it can
//! never hold one of the pool's few threads.

/// Threads of the runtime's blocking pool (the streaming JSON parses of Engine API
/// replies, log file reads, cgroup samples): enough for the two cores the agent is
/// meant to use, each task bounded by its peer's reply or its file.
pub const BLOCKING_THREADS: usize = 4;

/// Runs `f` on a new thread named `name`; its result, or why there is none (the thread
/// could not start, or `f` panicked). Dropping the future leaves the thread to finish
/// on its own.
pub async fn on_own_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    rx.await
        .map_err(|_| "its thread stopped unexpectedly".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_result_or_the_reason_there_is_none() {
        assert_eq!(on_own_thread("t", || 41 + 1).await, Ok(42));
        let r: Result<(), String> = on_own_thread("t", || panic!("boom")).await;
        assert_eq!(r, Err("its thread stopped unexpectedly".to_string()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hung_job_on_its_own_thread_leaves_the_pool_free() {
        let (hold, wait) = std::sync::mpsc::channel::<()>();
        let hung = tokio::spawn(on_own_thread("hung", move || {
            let _ = wait.recv();
        }));
        let rt_jobs: Vec<_> = (0..BLOCKING_THREADS * 2)
            .map(|i| tokio::task::spawn_blocking(move || i))
            .collect();
        for (i, j) in rt_jobs.into_iter().enumerate() {
            assert_eq!(j.await.expect("pool job"), i);
        }
        drop(hold);
        assert_eq!(hung.await.expect("join"), Ok(()));
    }
}
