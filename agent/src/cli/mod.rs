//! The subcommands of `rcdiag-agent`: the flags in [`args`], one module per handler,
//! and what they share (the runtime, the shutdown signal).

pub mod args;
pub mod collect;
pub mod docs;
pub mod error;
pub mod keys;
pub mod out_path;
pub mod plan;
pub mod review;
pub mod schedule;
pub mod snapshots;
pub mod upload;

/// The runtime of a collect or a scheduler: two workers are enough for I/O-bound peers,
/// and a small blocking pool bounds memory ([`rcdiag_agent::threads`]).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(rcdiag_agent::threads::BLOCKING_THREADS)
        .enable_all()
        .build()
}

pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return "signal";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
