//! The collectors and what they share. One module per collector; each exports its
//! [`Collector`] descriptor (`DESCRIPTOR`: name, what it reads, what it needs, the files
//! it writes, and its `collect` function), and [`ALL`] lists them in the order they are
//! reported. The run's options and shared state are in [`context`], the sink that
//! redacts and writes into the bundle in [`sink`]; the peers' clients are in
//! [`crate::clients`], the file readers in [`crate::sources`].

/// Declares the collector module's `DESCRIPTOR`: its [`Collector`], whose `collect`
/// boxes the module's own `async fn collect(ctx, out)`.
macro_rules! descriptor {
    (
        name: $name:literal,
        reads: $reads:literal,
        permissions: $permissions:literal,
        files: $files:literal,
        isolated: $isolated:literal $(,)?
    ) => {
        /// This collector, for [`crate::collectors::ALL`].
        pub const DESCRIPTOR: crate::collectors::Collector = crate::collectors::Collector {
            name: $name,
            reads: $reads,
            permissions: $permissions,
            files: $files,
            collect: |ctx, out| Box::pin(collect(ctx, out)),
            isolated: $isolated,
        };
    };
}

pub mod context;
pub mod cri;
pub mod docker;
pub mod host;
pub mod kubernetes;
pub mod logs;
pub mod mongo_uri;
pub mod mongodb;
pub mod rocketchat;
pub mod sink;

use futures_util::future::BoxFuture;
use rcdiag_bundle::CollectorStatus;
use serde::Serialize;

pub use self::context::{Context, LogSource, Options};
pub use self::sink::{CollectorSink, LineStream, Sink};
pub use crate::clients::docker::{DiscoveredContainer, Discovery};

/// A collector's `collect` function: reads its peer or files and writes into `out`.
pub type CollectFn = for<'a> fn(&'a Context, &'a CollectorSink) -> BoxFuture<'a, Outcome>;

/// One collector: its static description (for `list-collectors` and `--dry-run`; only
/// these four fields are serialized) and how the run starts it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Collector {
    /// Stable name (used by `--only` / `--skip` and in the manifest).
    pub name: &'static str,
    /// What it reads.
    pub reads: &'static str,
    /// What it needs to work fully.
    pub permissions: &'static str,
    /// Files it writes.
    pub files: &'static str,
    /// Collects into the sink.
    #[serde(skip)]
    pub collect: CollectFn,
    /// Run in a child process under a memory limit, because its peer cannot be bounded
    /// in process (see [`crate::isolate`]).
    #[serde(skip)]
    pub isolated: bool,
}

/// The former name of [`Collector`].
pub type CollectorInfo = Collector;

/// Every collector, in the order they are reported.
pub const ALL: &[Collector] = &[
    host::DESCRIPTOR,
    docker::DESCRIPTOR,
    logs::DESCRIPTOR,
    mongodb::DESCRIPTOR,
    rocketchat::DESCRIPTOR,
    kubernetes::DESCRIPTOR,
    cri::DESCRIPTOR,
];

/// Names of all collectors.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|c| c.name).collect()
}

/// The collector named `name`.
pub fn by_name(name: &str) -> Option<&'static Collector> {
    ALL.iter().find(|c| c.name == name)
}

impl From<&crate::clients::docker::ConnectError> for Outcome {
    /// The outcome a collector reports when the Docker Engine cannot be used: skipped
    /// when nothing answers there, timed out, or failed.
    fn from(e: &crate::clients::docker::ConnectError) -> Self {
        use crate::clients::docker::ConnectError as E;
        match e {
            E::Unreachable(m) => Outcome::skipped(m.clone()),
            E::Failed(m) => Outcome::failed(m.clone()),
            E::TimedOut(m) => Outcome::timed_out(m.clone()),
        }
    }
}

/// The outcome a collector reports; the orchestrator adds timing and files.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Status.
    pub status: CollectorStatus,
    /// Error or skip reason (will be redacted before it is recorded).
    pub message: Option<String>,
}

impl Outcome {
    /// Everything collected.
    pub fn ok() -> Self {
        Self {
            status: CollectorStatus::Ok,
            message: None,
        }
    }
    /// Some of it collected.
    pub fn partial(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Partial,
            message: Some(msg.into()),
        }
    }
    /// Nothing usable.
    pub fn failed(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Failed,
            message: Some(msg.into()),
        }
    }
    /// Stopped by its own time limit (the orchestrator's is the hard one).
    pub fn timed_out(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Timeout,
            message: Some(msg.into()),
        }
    }
    /// Stopped by the orchestrator's time limit `limit` (`--timeout`): what the
    /// collector wrote until then is kept.
    pub fn over_time_limit(limit: std::time::Duration) -> Self {
        Self::timed_out(format!(
            "did not finish within {}; files written until then are kept; raise --timeout if the node is slow",
            crate::run::humantime(limit)
        ))
    }
    /// Not applicable here.
    pub fn skipped(msg: impl Into<String>) -> Self {
        Self {
            status: CollectorStatus::Skipped,
            message: Some(msg.into()),
        }
    }
}
