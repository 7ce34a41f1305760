//! `mongodb/*.json`: what the `mongodb` collector read over the wire
//! (docs/collector-outputs.md, "mongodb"). Each command file is `{"ok": true, "reply":
//! ...}` or `{"ok": false, "error": ...}`; a reply is the server's own document (its
//! names), kept as JSON except where the agent shapes it (`oplog.json`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::lenient::{opt, vec};
use crate::{BundleFile, Extra};

/// `mongodb/summary.json`: what the analyzer reads first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SummaryFile {
    /// Where the URI came from: `option`, `config`, `container:<name>`.
    #[serde(default, deserialize_with = "opt")]
    pub uri_source: Option<String>,
    /// The URI, redacted.
    #[serde(default, deserialize_with = "opt")]
    pub uri: Option<String>,
    /// Set when a container's host name did not resolve and its IP was used.
    #[serde(default, deserialize_with = "opt")]
    pub uri_rewrite: Option<String>,
    /// `host:port` talked to.
    #[serde(default, deserialize_with = "opt")]
    pub server: Option<String>,
    /// Server version.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// Storage engine.
    #[serde(default, deserialize_with = "opt")]
    pub storage_engine: Option<String>,
    /// The server's maxWireVersion.
    #[serde(default, deserialize_with = "opt")]
    pub wire_version: Option<i64>,
    /// Replica set view.
    #[serde(default, deserialize_with = "opt")]
    pub replica_set: Option<ReplicaSet>,
    /// Set when the server is older than the driver supports (MongoDB < 4.4).
    #[serde(default, deserialize_with = "opt")]
    pub too_old: Option<TooOld>,
    /// Outcome per command (`ok`, or `error <code> <name>: ...`).
    #[serde(default, deserialize_with = "opt")]
    pub commands: Option<BTreeMap<String, String>>,
    /// The Rocket.Chat database.
    #[serde(default, deserialize_with = "opt")]
    pub database: Option<String>,
    /// Whether it exists.
    #[serde(default, deserialize_with = "opt")]
    pub database_found: Option<bool>,
    /// Time taken.
    #[serde(default, deserialize_with = "opt")]
    pub collected_in_seconds: Option<f64>,
    /// Why the collection could not start.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl BundleFile for SummaryFile {
    const PATH: &'static str = "mongodb/summary.json";
    const SCHEMA: &'static str = "mongodb-summary.schema.json";
}

/// The replica set, as the member talked to sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicaSet {
    /// `replica-set`, `standalone` or `unknown`.
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<String>,
    /// Set name.
    #[serde(default, deserialize_with = "opt")]
    pub set_name: Option<String>,
    /// The PRIMARY member.
    #[serde(default, deserialize_with = "opt")]
    pub primary: Option<String>,
    /// The members.
    #[serde(default, deserialize_with = "vec")]
    pub members: Vec<Member>,
    /// This member's state.
    #[serde(default, deserialize_with = "opt")]
    pub my_state: Option<String>,
    /// `replSetGetStatus` or `hello`.
    #[serde(default, deserialize_with = "opt")]
    pub source: Option<String>,
    /// Why the view is incomplete.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One replica set member.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Member {
    /// `host:port`.
    #[serde(default, deserialize_with = "opt")]
    pub name: Option<String>,
    /// `PRIMARY`, `SECONDARY`, `ARBITER`, `(not reachable/healthy)`, ...
    #[serde(default, deserialize_with = "opt")]
    pub state: Option<String>,
    /// 1 = up, 0 = down.
    #[serde(default, deserialize_with = "opt")]
    pub health: Option<f64>,
    /// How far its optime is behind the primary's.
    #[serde(default, deserialize_with = "opt")]
    pub lag_seconds: Option<f64>,
    /// Whether this is the member the agent talks to.
    #[serde(default, rename = "self", deserialize_with = "opt")]
    pub is_self: Option<bool>,
    /// Last optime (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub optime: Option<String>,
    /// Seconds up.
    #[serde(default, deserialize_with = "opt")]
    pub uptime: Option<f64>,
    /// Why a member is unreachable.
    #[serde(default, deserialize_with = "opt")]
    pub last_heartbeat_message: Option<String>,
    /// Where it replicates from.
    #[serde(default, deserialize_with = "opt")]
    pub sync_source: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A server older than the driver supports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TooOld {
    /// What to tell the user.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// MongoDB major.minor from the wire version.
    #[serde(default, deserialize_with = "opt")]
    pub version: Option<String>,
    /// The server's maxWireVersion.
    #[serde(default, deserialize_with = "opt")]
    pub wire_version: Option<i64>,
    /// The driver's error text.
    #[serde(default, deserialize_with = "opt")]
    pub driver_error: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `mongodb/<command>.json`: one command's outcome. `R` is the reply's type: a JSON
/// document for the server's own replies, [`OplogReply`] for `oplog.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(bound(deserialize = "R: DeserializeOwned"))]
pub struct CommandFile<R = Value> {
    /// Whether the command succeeded.
    #[serde(default, deserialize_with = "opt")]
    pub ok: Option<bool>,
    /// The reply, when it succeeded.
    #[serde(default, deserialize_with = "opt")]
    pub reply: Option<R>,
    /// Why it failed.
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<CommandError>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl<R> CommandFile<R> {
    /// A command that answered: `{"ok": true, "reply": ...}`.
    pub fn replied(reply: R) -> Self {
        CommandFile {
            ok: Some(true),
            reply: Some(reply),
            ..Default::default()
        }
    }

    /// A command that failed: `{"ok": false, "error": ...}`.
    pub fn failed(error: CommandError) -> Self {
        CommandFile {
            ok: Some(false),
            error: Some(error),
            ..Default::default()
        }
    }
}

impl<R> Default for CommandFile<R> {
    fn default() -> Self {
        CommandFile {
            ok: None,
            reply: None,
            error: None,
            extra: Extra::new(),
        }
    }
}

impl BundleFile for CommandFile {
    const PATH: &'static str = "mongodb/<command>.json";
    const SCHEMA: &'static str = "mongodb-command.schema.json";
}

/// `mongodb/oplog.json`.
pub type OplogFile = CommandFile<OplogReply>;

impl BundleFile for CommandFile<OplogReply> {
    const PATH: &'static str = "mongodb/oplog.json";
    const SCHEMA: &'static str = "mongodb-oplog.schema.json";
}

/// A failed command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandError {
    /// Server error code (13, 76, ...).
    #[serde(default, deserialize_with = "opt")]
    pub code: Option<i64>,
    /// Server error name, or the agent's own kind (`Timeout`, `NotRun`, `UnexpectedReply`, `ServerSelection`, `Io`).
    #[serde(default, deserialize_with = "opt")]
    pub code_name: Option<String>,
    /// What happened (redacted).
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
    /// What to do about it.
    #[serde(default, deserialize_with = "opt")]
    pub hint: Option<String>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The oplog window (`oplog.json`'s reply). Sizes are the server's numbers, as it sent them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OplogReply {
    /// Oldest entry (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub first: Option<String>,
    /// Newest entry (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub last: Option<String>,
    /// Hours between them.
    #[serde(default, deserialize_with = "opt")]
    pub window_hours: Option<f64>,
    /// Data size.
    #[serde(default, deserialize_with = "opt")]
    pub size_bytes: Option<Number>,
    /// Configured maximum.
    #[serde(default, deserialize_with = "opt")]
    pub max_size_bytes: Option<Number>,
    /// Entries.
    #[serde(default, deserialize_with = "opt")]
    pub count: Option<Number>,
    /// Size on disk.
    #[serde(default, deserialize_with = "opt")]
    pub storage_size_bytes: Option<Number>,
    /// What could not be read.
    #[serde(default, deserialize_with = "opt")]
    pub errors: Option<Value>,
    /// Fields this version does not name.
    #[serde(flatten)]
    pub extra: Extra,
}
