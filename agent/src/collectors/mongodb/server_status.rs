//! `serverStatus`: the documented subset the agent keeps (like vector's mongodb source:
//! only what is read), typed, written back as `mongodb/serverStatus.json`.

use mongodb::Database;
use mongodb::bson::{self, Document, doc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clients::mongodb::{Access, Budget, CmdError, run_raw, to_json};
use crate::redact::Redactor;

/// Any BSON number (int32, int64 or double), written back as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Num {
    /// An integer.
    Int(i64),
    /// A double.
    Float(f64),
}

/// The documented subset of `serverStatus` (like vector's mongodb source: only what is read).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    /// Host name the server reports.
    pub host: Option<String>,
    /// Server version.
    pub version: Option<String>,
    /// `mongod` or `mongos`.
    pub process: Option<String>,
    /// Seconds since start.
    pub uptime: Option<Num>,
    /// Connections.
    pub connections: Option<Connections>,
    /// Storage engine.
    pub storage_engine: Option<StorageEngine>,
    /// WiredTiger (cache only).
    pub wired_tiger: Option<WiredTiger>,
    /// Operation counters since start.
    pub opcounters: Option<Opcounters>,
    /// Memory (MiB on a real mongod).
    pub mem: Option<Mem>,
    /// Replication, as `hello` would say.
    pub repl: Option<Repl>,
}

/// `serverStatus.connections`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Connections {
    /// Open now.
    pub current: Option<Num>,
    /// Still available.
    pub available: Option<Num>,
    /// Created since start.
    pub total_created: Option<Num>,
    /// Running an operation now.
    pub active: Option<Num>,
    /// Refused since start (`net.maxIncomingConnections`).
    pub rejected: Option<Num>,
}

/// `serverStatus.storageEngine`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageEngine {
    /// `wiredTiger`, `inMemory`, `mmapv1`, ...
    pub name: Option<String>,
    /// Whether data persists.
    pub persistent: Option<bool>,
    /// Read-only mode.
    pub read_only: Option<bool>,
}

/// `serverStatus.wiredTiger` (cache only).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct WiredTiger {
    /// `serverStatus.wiredTiger.cache`.
    pub cache: Option<WiredTigerCache>,
}

/// The cache counters that tell whether the working set fits.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct WiredTigerCache {
    /// Configured cache size.
    #[serde(rename = "maximum bytes configured")]
    pub maximum_bytes_configured: Option<Num>,
    /// Bytes in the cache now.
    #[serde(rename = "bytes currently in the cache")]
    pub bytes_currently_in_the_cache: Option<Num>,
    /// Dirty bytes.
    #[serde(rename = "tracked dirty bytes in the cache")]
    pub tracked_dirty_bytes_in_the_cache: Option<Num>,
    /// Bytes read into the cache since start.
    #[serde(rename = "bytes read into cache")]
    pub bytes_read_into_cache: Option<Num>,
    /// Bytes written from the cache since start.
    #[serde(rename = "bytes written from cache")]
    pub bytes_written_from_cache: Option<Num>,
    /// Pages read into the cache since start.
    #[serde(rename = "pages read into cache")]
    pub pages_read_into_cache: Option<Num>,
    /// Pages written from the cache since start.
    #[serde(rename = "pages written from cache")]
    pub pages_written_from_cache: Option<Num>,
    /// Application threads forced to evict (cache pressure).
    #[serde(rename = "pages evicted by application threads")]
    pub pages_evicted_by_application_threads: Option<Num>,
}

/// `serverStatus.opcounters`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Opcounters {
    /// Inserts.
    pub insert: Option<Num>,
    /// Queries.
    pub query: Option<Num>,
    /// Updates.
    pub update: Option<Num>,
    /// Deletes.
    pub delete: Option<Num>,
    /// getMores.
    pub getmore: Option<Num>,
    /// Commands.
    pub command: Option<Num>,
}

/// `serverStatus.mem`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mem {
    /// 32 or 64.
    pub bits: Option<Num>,
    /// Resident memory, MiB.
    pub resident: Option<Num>,
    /// Virtual memory, MiB.
    pub r#virtual: Option<Num>,
    /// Whether the figures are supported here.
    pub supported: Option<bool>,
}

/// `serverStatus.repl`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Repl {
    /// Replica set name.
    pub set_name: Option<String>,
    /// Members (data bearing, electable).
    pub hosts: Option<Vec<String>>,
    /// Arbiters.
    pub arbiters: Option<Vec<String>>,
    /// Passive members.
    pub passives: Option<Vec<String>>,
    /// Current primary.
    pub primary: Option<String>,
    /// This member.
    pub me: Option<String>,
    /// This member is primary (4.4.2+).
    pub is_writable_primary: Option<bool>,
    /// This member is primary (older name).
    pub ismaster: Option<bool>,
    /// This member is secondary.
    pub secondary: Option<bool>,
}

impl ServerStatus {
    /// The subset of a `serverStatus` reply; an error when the reply lacks `version`/`uptime`.
    pub fn from_reply(reply: &Document) -> Result<Self, CmdError> {
        for key in ["version", "uptime"] {
            if !reply.contains_key(key) {
                return Err(CmdError::unexpected("serverStatus", key, reply));
            }
        }
        bson::from_document::<Self>(reply.clone()).map_err(|e| CmdError {
            code: None,
            code_name: Some("UnexpectedReply".into()),
            message: format!("unexpected reply shape: serverStatus could not be read: {e}"),
            hint: Some("the server is probably not a genuine MongoDB".into()),
        })
    }
}

/// Runs `serverStatus` (without the bulky sections) and keeps the typed subset, plus
/// the server's `localTime`: the subset, and the JSON written.
pub(super) async fn read(
    admin: &Database,
    budget: &Budget,
    red: &Redactor,
) -> Result<(ServerStatus, Value), CmdError> {
    run_raw(
        admin,
        doc! {"serverStatus": 1, "metrics": 0, "locks": 0, "tcmalloc": 0},
        budget,
        red,
    )
    .await
    .map_err(|e| e.with_hint(&Access::Server))
    .and_then(|d| {
        let subset = ServerStatus::from_reply(&d)?;
        let mut v = serde_json::to_value(&subset).unwrap_or(Value::Null);
        if let (Value::Object(map), Some(t)) = (&mut v, d.get("localTime")) {
            map.insert("localTime".into(), to_json(t));
        }
        Ok((subset, v))
    })
}
