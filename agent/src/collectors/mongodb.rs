//! The mongodb collector: what the MongoDB server behind Rocket.Chat says about itself.
//!
//! It runs, one at a time and each under its own time limit, `hello`, `buildInfo`,
//! `serverStatus` (a typed subset), `hostInfo`, `getCmdLineOpts` (redacted),
//! `replSetGetStatus`, the oplog window (`local.oplog.rs` first/last entry and
//! `$collStats`), `listDatabases`, `dbStats` and `$collStats` of the Rocket.Chat
//! database, and writes one `mongodb/<command>.json` per command plus
//! `mongodb/summary.json` (see `docs/collector-outputs.md`).
//!
//! Findings are not failures: a standalone server (error 76 on `replSetGetStatus`)
//! or a server too old for the driver (wire version < 9, MongoDB < 4.4) is recorded in
//! the summary for the analyzer. A permission error names the role to grant.
//!
//! Time: the collector keeps inside `ctx.options.timeout` on its own. Connecting and
//! server selection get about a quarter of it (0.5 s to 5 s), each command at most a
//! third (1 s to 20 s), and a margin of a tenth (0.2 s to 3 s) is kept at the end to write
//! the summary. A server that accepts TCP and never answers makes the collector return
//! `failed` after the server-selection timeout.
//!
//! Credentials: the URI's password is registered with the redactor before anything
//! else, and every driver error message goes through `redact_text` (driver errors can
//! quote the URI). The connection helper [`connect`] is shared with the rocketchat
//! collector.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, ServerAddress};
use mongodb::{Client, Database};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{CollectorSink, Context, DiscoveredContainer, Outcome};
use crate::redact::{Redactor, marker};

/// Why the collectors that need MongoDB are skipped when no URI can be found.
pub const NO_URI: &str =
    "no MongoDB URI: pass --mongodb-uri or run where the Rocket.Chat containers are visible";

/// The database Rocket.Chat uses when the URI names none.
pub const DEFAULT_DATABASE: &str = "rocketchat";

/// Application name the agent announces to the server (shows in its logs and `currentOp`).
pub const APP_NAME: &str = "rcdiag-agent";

/// Most collections of the Rocket.Chat database whose `$collStats` are read.
const MAX_COLLECTIONS: usize = 400;

// ------------------------------------------------------------------------------------
// Time budget
// ------------------------------------------------------------------------------------

/// How the collector divides `ctx.options.timeout`: see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    start: Instant,
    deadline: Instant,
    connect: Duration,
    op_cap: Duration,
}

impl Budget {
    /// The budget for a collector allowed `total`.
    pub fn new(total: Duration) -> Self {
        let start = Instant::now();
        let margin = (total / 10).clamp(Duration::from_millis(200), Duration::from_secs(3));
        let usable = total.saturating_sub(margin).max(Duration::from_millis(300));
        Self {
            start,
            deadline: start + usable,
            connect: (total / 4).clamp(Duration::from_millis(500), Duration::from_secs(5)),
            op_cap: (total / 3).clamp(Duration::from_secs(1), Duration::from_secs(20)),
        }
    }

    /// Connect and server-selection timeout for the driver.
    pub fn connect_timeout(&self) -> Duration {
        self.connect
    }

    /// Time left before the collector must stop starting work.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Time since the collector started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The limit of the next operation, or `None` when the budget is spent.
    pub fn op_timeout(&self) -> Option<Duration> {
        let left = self.remaining();
        (left >= Duration::from_millis(50)).then(|| left.min(self.op_cap))
    }

    /// Runs `fut` under the next operation's limit.
    pub async fn run<T>(
        &self,
        fut: impl std::future::IntoFuture<Output = T>,
    ) -> Result<T, CmdError> {
        let Some(limit) = self.op_timeout() else {
            return Err(CmdError::budget_spent());
        };
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| CmdError::timed_out(limit))
    }
}

// ------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------

/// A failed command as recorded in `mongodb/<command>.json` (`error`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CmdError {
    /// Server error code (13, 76, ...), when the server sent one.
    pub code: Option<i32>,
    /// Server error name (`Unauthorized`, ...) or the agent's own kind (`Timeout`, `UnexpectedReply`).
    pub code_name: Option<String>,
    /// What happened (redacted).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl CmdError {
    fn timed_out(limit: Duration) -> Self {
        Self {
            code: None,
            code_name: Some("Timeout".into()),
            message: format!("no reply within {:.1} s", limit.as_secs_f64()),
            hint: Some("the server is slow or does not answer this command; rerun with a longer --timeout or check the server's load".into()),
        }
    }

    fn budget_spent() -> Self {
        Self {
            code: None,
            code_name: Some("NotRun".into()),
            message: "not run: the collector's time limit was reached".into(),
            hint: Some("rerun with a longer --timeout".into()),
        }
    }

    /// A reply that said ok but lacks what every real MongoDB sends.
    pub fn unexpected(command: &str, missing: &str, reply: &Document) -> Self {
        let keys: Vec<&str> = reply.keys().map(String::as_str).take(12).collect();
        Self {
            code: None,
            code_name: Some("UnexpectedReply".into()),
            message: format!(
                "unexpected reply shape: {command} answered without `{missing}` (keys: {})",
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
            ),
            hint: Some("the server is probably not a genuine MongoDB (a wire-compatible server or proxy); check what listens at this address".into()),
        }
    }

    /// From a driver error (message redacted).
    pub fn from_driver(e: &mongodb::error::Error, red: &Redactor) -> Self {
        match e.kind.as_ref() {
            ErrorKind::Command(c) => Self {
                code: Some(c.code),
                code_name: Some(c.code_name.clone()).filter(|s| !s.is_empty()),
                message: red.redact_text(&c.message),
                hint: None,
            },
            ErrorKind::Authentication { .. } => Self {
                code: Some(18),
                code_name: Some("AuthenticationFailed".into()),
                message: red.redact_text(&e.to_string()),
                hint: Some("check the user name, password and authSource in the MongoDB URI".into()),
            },
            ErrorKind::ServerSelection { .. } => Self {
                code: None,
                code_name: Some("ServerSelection".into()),
                message: red.redact_text(&e.to_string()),
                hint: Some("the server could not be reached: check the host, port and replicaSet of the URI and that this machine can reach it".into()),
            },
            ErrorKind::Io(_) => Self {
                code: None,
                code_name: Some("Io".into()),
                message: red.redact_text(&e.to_string()),
                hint: Some("the connection broke; check the network between this machine and MongoDB".into()),
            },
            _ => Self { code: None, code_name: None, message: red.redact_text(&e.to_string()), hint: None },
        }
    }

    /// Adds the hint that fits `code` for an operation needing `access`, unless one is set.
    pub fn with_hint(mut self, access: &Access) -> Self {
        if self.hint.is_none() {
            self.hint = hint_for(self.code, access);
        }
        self
    }

    /// `error 13 Unauthorized` for server errors (the message names the command), else the status line.
    pub fn short(&self) -> String {
        match (self.code, &self.code_name) {
            (Some(c), Some(n)) => format!("error {c} {n}"),
            _ => self.status_line(),
        }
    }

    /// One line for `summary.json` `commands`: `error 13 Unauthorized: ...`.
    pub fn status_line(&self) -> String {
        match (self.code, &self.code_name) {
            (Some(c), Some(n)) => format!("error {c} {n}: {}", self.message),
            (Some(c), None) => format!("error {c}: {}", self.message),
            (None, Some(n)) if n == "UnexpectedReply" || n == "NotRun" => self.message.clone(),
            (None, Some(n)) => format!("{n}: {}", self.message),
            (None, None) => self.message.clone(),
        }
    }
}

/// What an operation needs, to say which role is missing.
#[derive(Debug, Clone)]
pub enum Access {
    /// A server command covered by `clusterMonitor` on admin.
    Server,
    /// Reading the oplog (`local.oplog.rs`).
    Oplog,
    /// Reading collections of this database.
    Read(String),
}

fn hint_for(code: Option<i32>, access: &Access) -> Option<String> {
    let code = code?;
    let hint = match (code, access) {
        (13 | 11 | 8000, Access::Server) => {
            "grant the clusterMonitor role on admin to the user of the URI: db.getSiblingDB(\"admin\").grantRolesToUser(\"<user>\", [{role: \"clusterMonitor\", db: \"admin\"}])".to_string()
        }
        (13 | 11 | 8000, Access::Oplog) => {
            "grant clusterMonitor on admin and read on the local database to the user of the URI (the oplog is local.oplog.rs)".to_string()
        }
        (13 | 11 | 8000, Access::Read(db)) => {
            format!("grant the read role on the {db} database to the user of the URI: db.getSiblingDB(\"admin\").grantRolesToUser(\"<user>\", [{{role: \"read\", db: \"{db}\"}}])")
        }
        (18, _) => "check the user name, password and authSource in the MongoDB URI".to_string(),
        (26, Access::Oplog) => "there is no oplog: the server is not a replica set member (Rocket.Chat needs a replica set)".to_string(),
        (59, _) => "the server does not know this command: it may be a mongos, an old or a wire-compatible server".to_string(),
        (76, _) => "MongoDB runs standalone: Rocket.Chat needs a replica set (even of one member) for its oplog; start mongod with --replSet and run rs.initiate()".to_string(),
        (94, _) => "mongod runs with --replSet but the replica set was never initiated: run rs.initiate()".to_string(),
        (91, _) => "the server is shutting down: collect again once it runs".to_string(),
        (10107 | 13435 | 11602, _) => "this member is not primary; collect again or point the URI at the primary".to_string(),
        _ => return None,
    };
    Some(hint)
}

/// Why [`connect`] failed.
#[derive(Debug, Clone)]
pub enum ConnectError {
    /// No URI given and none found on a Rocket.Chat container.
    NoUri,
    /// The URI could not be parsed (message redacted).
    BadUri(String),
    /// The server is older than the driver supports.
    TooOld(TooOld),
    /// The credentials were refused.
    AuthFailed(String),
    /// No server could be reached (message redacted).
    Unreachable(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoUri => f.write_str(NO_URI),
            Self::BadUri(m) => write!(
                f,
                "the MongoDB URI is not valid: {m}; fix --mongodb-uri (or MONGO_URL of the Rocket.Chat container)"
            ),
            Self::TooOld(t) => f.write_str(&t.message),
            Self::AuthFailed(m) => write!(
                f,
                "MongoDB refused the credentials of the URI: {m}; check user, password and authSource"
            ),
            Self::Unreachable(m) => write!(
                f,
                "MongoDB could not be reached: {m}; check that the URI's hosts are reachable from this machine (or pass --mongodb-uri)"
            ),
        }
    }
}

/// A server older than MongoDB 4.4, as `summary.json` `too_old` records it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TooOld {
    /// What to tell the user (redacted).
    pub message: String,
    /// MongoDB major.minor derived from the wire version, when known.
    pub version: Option<String>,
    /// The server's maxWireVersion from its handshake.
    pub wire_version: Option<i32>,
    /// The driver's error text (redacted).
    pub driver_error: String,
}

/// The MongoDB release (major.minor) of a maxWireVersion below 9.
pub fn version_of_wire(wire: i32) -> Option<&'static str> {
    Some(match wire {
        2 => "2.6",
        3 => "3.0",
        4 => "3.2",
        5 => "3.4",
        6 => "3.6",
        7 => "4.0",
        8 => "4.2",
        _ => return None,
    })
}

/// Recognizes the driver's "wire version too old" server-selection error.
pub fn too_old_from_error(text: &str, server: &str) -> Option<TooOld> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("wire version")
        || !(lower.contains("requires at least") || lower.contains("reports wire version"))
    {
        return None;
    }
    let wire = regex::Regex::new(r"reports wire version (\d+)")
        .ok()
        .and_then(|re| {
            re.captures(text)
                .and_then(|c| c.get(1))
                .and_then(|m| m.as_str().parse::<i32>().ok())
        });
    let version = wire.and_then(version_of_wire).map(str::to_string);
    let what = match (&version, wire) {
        (Some(v), Some(w)) => format!("MongoDB {v} (wire version {w})"),
        (None, Some(w)) => format!("wire version {w}"),
        _ => "an unknown old version".to_string(),
    };
    Some(TooOld {
        message: format!(
            "MongoDB at {server} is too old to be read: it runs {what}, the agent needs MongoDB 4.4 or later and current Rocket.Chat releases need 7.0 or later; upgrade MongoDB (its exact version is in the Rocket.Chat startup log)"
        ),
        version,
        wire_version: wire,
        driver_error: text.to_string(),
    })
}

// ------------------------------------------------------------------------------------
// Connection
// ------------------------------------------------------------------------------------

/// A connected client and where its URI came from.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The driver client (lazy; [`connect`] already ran `hello` through it).
    pub client: Client,
    /// The Rocket.Chat database: the URI's, else `rocketchat`.
    pub database: String,
    /// `option` or `container:<name>`.
    pub uri_source: String,
    /// `host:port` of the first server of the URI (after any rewrite).
    pub server: String,
    /// The URI with credentials and unsafe query values redacted.
    pub redacted_uri: String,
    /// How the URI's hosts were rewritten to container IPs, if they were.
    pub rewrite: Option<String>,
    /// The server's `hello` (or `isMaster`) reply.
    pub hello: Document,
}

/// The URI to use and where it came from: `--mongodb-uri`, else the first (running)
/// Rocket.Chat container's `MONGO_URL`.
async fn find_uri(ctx: &Context) -> Option<(String, String, Option<DiscoveredContainer>)> {
    if let Some(uri) = ctx
        .options
        .mongodb_uri
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        return Some((uri.to_string(), "option".to_string(), None));
    }
    let containers = ctx.discovery().await.as_ref().ok()?;
    let mut rc: Vec<&DiscoveredContainer> =
        containers.iter().filter(|c| c.is_rocketchat()).collect();
    rc.sort_by_key(|c| !c.running);
    rc.into_iter().find_map(|c| {
        c.env_value("MONGO_URL")
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                (
                    u.to_string(),
                    format!("container:{}", c.name),
                    Some(c.clone()),
                )
            })
    })
}

/// The container a host name of a container's URI most likely means: the same name, or
/// the compose service (`<project>-<service>-<n>` / `<project>_<service>_<n>`).
fn container_for_host<'a>(
    containers: &'a [DiscoveredContainer],
    host: &str,
) -> Option<&'a DiscoveredContainer> {
    let host = host.to_ascii_lowercase();
    let matches = |c: &DiscoveredContainer| {
        let name = c.name.to_ascii_lowercase();
        if name == host {
            return true;
        }
        let parts: Vec<&str> = name.split(['-', '_']).collect();
        let host_parts: Vec<&str> = host.split(['-', '_']).collect();
        parts.len() >= host_parts.len() + 2
            && parts
                .last()
                .is_some_and(|n| n.chars().all(|ch| ch.is_ascii_digit()))
            && parts[parts.len() - 1 - host_parts.len()..parts.len() - 1] == host_parts[..]
    };
    containers
        .iter()
        .filter(|c| c.running && !c.ips.is_empty())
        .find(|c| matches(c))
}

/// For a URI taken from a container: host names that only resolve inside the Docker
/// network are replaced by the matching container's IP, with a direct connection
/// (replica set members announce the same unresolvable names).
async fn rewrite_container_hosts(opts: &mut ClientOptions, ctx: &Context) -> Option<String> {
    let containers = ctx.discovery().await.as_ref().ok()?;
    let mut rewritten = Vec::new();
    for addr in opts.hosts.clone() {
        let ServerAddress::Tcp { host, port } = &addr else {
            return None;
        };
        if host.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        let lookup = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::lookup_host((host.as_str(), port.unwrap_or(27017))),
        )
        .await;
        if lookup
            .ok()
            .and_then(Result::ok)
            .is_some_and(|mut it| it.next().is_some())
        {
            return None;
        }
        let c = container_for_host(containers, host)?;
        let ip = c.ips.first()?.clone();
        rewritten.push((host.clone(), ip, *port, c.name.clone()));
    }
    let (host, ip, port, name) = rewritten.into_iter().next()?;
    opts.hosts = vec![ServerAddress::Tcp {
        host: ip.clone(),
        port,
    }];
    opts.direct_connection = Some(true);
    opts.repl_set_name = None;
    Some(format!(
        "host {host} does not resolve here: connected directly to container {name} at {ip} instead"
    ))
}

/// Finds the URI, registers its secrets, connects and runs `hello`.
///
/// Shared by the mongodb and rocketchat collectors. The URI's password is given to the
/// redactor before anything else; errors are redacted.
pub async fn connect(
    ctx: &Context,
    out: &CollectorSink,
    budget: &Budget,
) -> Result<Connection, ConnectError> {
    let Some((uri, uri_source, _container)) = find_uri(ctx).await else {
        return Err(ConnectError::NoUri);
    };
    let red = out.redactor();
    red.register_uri_secrets(&uri);
    ctx.redactor.register_uri_secrets(&uri);
    let redacted_uri = red.redact_uri(&uri);

    let parse = tokio::time::timeout(
        budget.connect_timeout().max(Duration::from_secs(1)),
        ClientOptions::parse(&uri),
    )
    .await;
    let mut opts = match parse {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(ConnectError::BadUri(red.redact_text(&e.to_string()))),
        Err(_) => {
            return Err(ConnectError::Unreachable(
                "resolving the URI (DNS SRV/TXT) timed out".into(),
            ));
        }
    };
    let rewrite = if uri_source.starts_with("container:") {
        rewrite_container_hosts(&mut opts, ctx).await
    } else {
        None
    };
    let database = opts
        .default_database
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let server = opts
        .hosts
        .first()
        .map(|h| h.to_string())
        .unwrap_or_default();
    opts.app_name = Some(APP_NAME.to_string());
    opts.connect_timeout = Some(budget.connect_timeout());
    opts.server_selection_timeout = Some(budget.connect_timeout());
    opts.max_pool_size = Some(2);
    let client = Client::with_options(opts)
        .map_err(|e| ConnectError::BadUri(red.redact_text(&e.to_string())))?;

    let admin = client.database("admin");
    let hello = match run_raw(&admin, doc! {"hello": 1}, budget, red).await {
        Err(e) if e.code == Some(59) => run_raw(&admin, doc! {"isMaster": 1}, budget, red).await,
        other => other,
    };
    match hello {
        Ok(hello) => Ok(Connection {
            client,
            database,
            uri_source,
            server,
            redacted_uri,
            rewrite,
            hello,
        }),
        Err(e) => {
            if let Some(t) = too_old_from_error(&e.message, &server) {
                return Err(ConnectError::TooOld(t));
            }
            if e.code == Some(18) {
                return Err(ConnectError::AuthFailed(e.message));
            }
            Err(ConnectError::Unreachable(e.message))
        }
    }
}

/// Runs one command with the budget's limit; errors are classified and redacted.
async fn run_raw(
    db: &Database,
    cmd: Document,
    budget: &Budget,
    red: &Redactor,
) -> Result<Document, CmdError> {
    match budget.run(db.run_command(cmd)).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(CmdError::from_driver(&e, red)),
        Err(e) => Err(e),
    }
}

// ------------------------------------------------------------------------------------
// BSON to JSON
// ------------------------------------------------------------------------------------

/// An RFC 3339 UTC string for a BSON date (milliseconds kept when present).
pub fn rfc3339(dt: bson::DateTime) -> Value {
    match jiff::Timestamp::from_millisecond(dt.timestamp_millis()) {
        Ok(t) => Value::String(t.to_string()),
        Err(_) => json!(dt.timestamp_millis()),
    }
}

/// BSON to JSON as the bundle wants it: dates as RFC 3339 strings, ObjectIds as hex,
/// timestamps as `{t, i}`, numbers as numbers; other types as relaxed Extended JSON.
pub fn to_json(b: &Bson) -> Value {
    match b {
        Bson::Double(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        Bson::String(s) => Value::String(s.clone()),
        Bson::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Bson::Document(d) => doc_to_json(d),
        Bson::Boolean(v) => Value::Bool(*v),
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Int32(i) => json!(i),
        Bson::Int64(i) => json!(i),
        Bson::DateTime(dt) => rfc3339(*dt),
        Bson::Timestamp(ts) => json!({"t": ts.time, "i": ts.increment}),
        Bson::ObjectId(o) => Value::String(o.to_hex()),
        Bson::Decimal128(d) => Value::String(d.to_string()),
        other => other.clone().into_relaxed_extjson(),
    }
}

/// A document as a JSON object.
pub fn doc_to_json(d: &Document) -> Value {
    Value::Object(d.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
}

/// A reply without the envelope fields (`ok`, `$clusterTime`, `operationTime`, ...).
fn strip_envelope(d: &Document) -> Document {
    d.iter()
        .filter(|(k, _)| {
            !(k.starts_with('$')
                || *k == "ok"
                || *k == "operationTime"
                || *k == "lastCommittedOpTime")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A number of any BSON numeric type.
pub fn num(b: Option<&Bson>) -> Option<f64> {
    match b? {
        Bson::Double(f) => Some(*f),
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Decimal128(d) => d.to_string().parse().ok(),
        _ => None,
    }
}

/// Milliseconds since the epoch of a date, or of a timestamp's seconds.
fn millis(b: Option<&Bson>) -> Option<i64> {
    match b? {
        Bson::DateTime(dt) => Some(dt.timestamp_millis()),
        Bson::Timestamp(ts) => Some(i64::from(ts.time) * 1000),
        Bson::Document(d) => millis(d.get("ts")),
        _ => None,
    }
}

// ------------------------------------------------------------------------------------
// serverStatus subset
// ------------------------------------------------------------------------------------

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

// ------------------------------------------------------------------------------------
// getCmdLineOpts redaction
// ------------------------------------------------------------------------------------

/// Option names (lower case fragments) whose values are withheld from `getCmdLineOpts`.
const CMDLINE_SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "keyfile",
    "credential",
    "privatekey",
];
/// Fragments whose values are real secrets (also remembered for the fail-closed scan).
const CMDLINE_PASSWORD_PARTS: &[&str] = &["password", "passwd", "pwd", "secret", "token"];

fn is_secret_option(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    CMDLINE_SECRET_PARTS.iter().any(|p| l.contains(p))
}

fn is_password_option(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    CMDLINE_PASSWORD_PARTS.iter().any(|p| l.contains(p))
}

/// Redacts `getCmdLineOpts`: every `setParameter` value, and values of options whose
/// name looks like a password, secret, token or key file, in `argv` and `parsed`.
/// Password-like values are also given to the redactor for the fail-closed scan.
pub fn redact_cmdline(reply: &Document, red: &Redactor) -> Document {
    let m = marker("cmdline");
    let mut out = reply.clone();
    if let Some(Bson::Array(argv)) = reply.get("argv") {
        let mut new = Vec::with_capacity(argv.len());
        let mut redact_next: Option<String> = None;
        for arg in argv {
            let Bson::String(s) = arg else {
                new.push(arg.clone());
                continue;
            };
            if let Some(opt) = redact_next.take() {
                if opt.eq_ignore_ascii_case("setparameter") {
                    let (name, value) = s.split_once('=').unwrap_or((s.as_str(), ""));
                    if is_password_option(name) {
                        red.register_secret(value);
                    }
                    new.push(Bson::String(format!("{name}={m}")));
                } else {
                    if is_password_option(&opt) {
                        red.register_secret(s);
                    }
                    new.push(Bson::String(m.clone()));
                }
                continue;
            }
            if let Some(opt) = s.strip_prefix("--").or_else(|| s.strip_prefix('-')) {
                if let Some((name, value)) = opt.split_once('=') {
                    if name.eq_ignore_ascii_case("setparameter") {
                        let pname = value.split_once('=').map(|(n, _)| n).unwrap_or(value);
                        if is_password_option(pname) {
                            red.register_secret(
                                value.split_once('=').map(|(_, v)| v).unwrap_or(""),
                            );
                        }
                        new.push(Bson::String(format!("--{name}={pname}={m}")));
                        continue;
                    }
                    if is_secret_option(name) {
                        if is_password_option(name) {
                            red.register_secret(value);
                        }
                        new.push(Bson::String(format!("--{name}={m}")));
                        continue;
                    }
                } else if opt.eq_ignore_ascii_case("setparameter") || is_secret_option(opt) {
                    redact_next = Some(opt.to_string());
                }
            }
            new.push(arg.clone());
        }
        out.insert("argv", Bson::Array(new));
    }
    if let Some(Bson::Document(parsed)) = reply.get("parsed") {
        out.insert(
            "parsed",
            Bson::Document(redact_parsed(parsed, false, red, &m)),
        );
    }
    out
}

fn redact_parsed(d: &Document, all: bool, red: &Redactor, m: &str) -> Document {
    d.iter()
        .map(|(k, v)| {
            let under_set_parameter = all || k.eq_ignore_ascii_case("setParameter");
            let v = match v {
                Bson::Document(sub) => {
                    Bson::Document(redact_parsed(sub, under_set_parameter, red, m))
                }
                _ if under_set_parameter || is_secret_option(k) => {
                    if is_password_option(k)
                        && let Bson::String(s) = v
                    {
                        red.register_secret(s);
                    }
                    Bson::String(m.to_string())
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

// ------------------------------------------------------------------------------------
// Replica set
// ------------------------------------------------------------------------------------

/// The replica set as `summary.json` records it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReplicaSet {
    /// `replica-set`, `standalone` or `unknown`.
    pub state: String,
    /// Set name.
    pub set_name: Option<String>,
    /// The member that is PRIMARY, per this member's view.
    pub primary: Option<String>,
    /// The members.
    pub members: Vec<Member>,
    /// This member's state (`PRIMARY`, `SECONDARY`, ...).
    pub my_state: Option<String>,
    /// Where the state comes from: `replSetGetStatus` or `hello`.
    pub source: Option<String>,
    /// Why the view is incomplete, if it is.
    pub error: Option<String>,
}

/// One replica set member.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Member {
    /// `host:port`.
    pub name: String,
    /// `PRIMARY`, `SECONDARY`, `ARBITER`, `(not reachable/healthy)`, ...
    pub state: String,
    /// 1 = up, 0 = down.
    pub health: Option<f64>,
    /// How far its optime is behind the primary's (seconds); null for the unhealthy or without a primary.
    pub lag_seconds: Option<f64>,
    /// Whether this is the member the agent talks to.
    #[serde(rename = "self")]
    pub is_self: bool,
    /// Last optime (RFC 3339).
    pub optime: Option<String>,
    /// Seconds up.
    pub uptime: Option<f64>,
    /// Last heartbeat message (why a member is unreachable).
    pub last_heartbeat_message: Option<String>,
    /// Where it replicates from.
    pub sync_source: Option<String>,
}

/// The replica set from a `replSetGetStatus` reply.
pub fn replica_set_from_status(reply: &Document) -> Result<ReplicaSet, CmdError> {
    let Ok(members) = reply.get_array("members") else {
        return Err(CmdError::unexpected("replSetGetStatus", "members", reply));
    };
    let members: Vec<&Document> = members.iter().filter_map(Bson::as_document).collect();
    let state_of = |m: &Document| -> String {
        m.get_str("stateStr")
            .map(str::to_string)
            .unwrap_or_else(|_| match num(m.get("state")).map(|s| s as i64) {
                Some(1) => "PRIMARY".into(),
                Some(2) => "SECONDARY".into(),
                Some(7) => "ARBITER".into(),
                Some(s) => format!("state {s}"),
                None => "unknown".into(),
            })
    };
    let primary = members.iter().find(|m| state_of(m) == "PRIMARY");
    let primary_optime =
        primary.and_then(|p| millis(p.get("optimeDate")).or_else(|| millis(p.get("optime"))));
    let list = members
        .iter()
        .map(|m| {
            let state = state_of(m);
            let health = num(m.get("health"));
            let optime = millis(m.get("optimeDate"))
                .or_else(|| millis(m.get("optime")))
                .filter(|ms| *ms > 0);
            let healthy = health.is_none_or(|h| h > 0.0);
            let lag = match (primary_optime, optime) {
                (Some(p), Some(o)) if healthy && state != "ARBITER" => {
                    Some(((p - o).max(0) as f64) / 1000.0)
                }
                _ => None,
            };
            Member {
                name: m.get_str("name").unwrap_or_default().to_string(),
                state,
                health,
                lag_seconds: lag,
                is_self: m.get_bool("self").unwrap_or(false),
                optime: optime
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_string()),
                uptime: num(m.get("uptime")),
                last_heartbeat_message: m
                    .get_str("lastHeartbeatMessage")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                sync_source: m
                    .get_str("syncSourceHost")
                    .or_else(|_| m.get_str("syncingTo"))
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            }
        })
        .collect();
    let my_state = members
        .iter()
        .find(|m| m.get_bool("self").unwrap_or(false))
        .map(|m| state_of(m));
    Ok(ReplicaSet {
        state: "replica-set".into(),
        set_name: reply.get_str("set").ok().map(str::to_string),
        primary: primary
            .and_then(|p| p.get_str("name").ok())
            .map(str::to_string),
        members: list,
        my_state,
        source: Some("replSetGetStatus".into()),
        error: if primary.is_none() {
            Some("no member is PRIMARY in this member's view".into())
        } else {
            None
        },
    })
}

/// A fallback from `hello` when `replSetGetStatus` could not be read.
fn replica_set_from_hello(hello: &Document, error: String) -> ReplicaSet {
    let set_name = hello.get_str("setName").ok().map(str::to_string);
    let state = if set_name.is_some() {
        "replica-set"
    } else if hello.is_empty() || hello.get_str("msg").ok() == Some("isdbgrid") {
        // No handshake, or a mongos: not a topology this collector can name.
        "unknown"
    } else {
        "standalone"
    };
    let my_state = if set_name.is_none() {
        None
    } else if hello
        .get_bool("isWritablePrimary")
        .or_else(|_| hello.get_bool("ismaster"))
        .unwrap_or(false)
    {
        Some("PRIMARY".to_string())
    } else if hello.get_bool("secondary").unwrap_or(false) {
        Some("SECONDARY".to_string())
    } else {
        None
    };
    ReplicaSet {
        state: state.into(),
        set_name,
        primary: hello.get_str("primary").ok().map(str::to_string),
        members: Vec::new(),
        my_state,
        source: Some("hello".into()),
        error: Some(error),
    }
}

// ------------------------------------------------------------------------------------
// The collector
// ------------------------------------------------------------------------------------

/// One command's result while collecting.
struct Run<'a> {
    out: &'a CollectorSink,
    commands: BTreeMap<String, String>,
    /// `(command, short error, hint)` of the reads that failed.
    failed: Vec<(String, String, Option<String>)>,
    write_errors: Vec<String>,
}

impl Run<'_> {
    async fn write(&mut self, file: &str, value: &Value) {
        if let Err(e) = self
            .out
            .put_json(&format!("mongodb/{file}.json"), value)
            .await
        {
            self.write_errors.push(format!("mongodb/{file}.json: {e}"));
        }
    }

    /// Records a command: its file, its line in `commands`, and whether it counts as a failure.
    async fn record(&mut self, name: &str, result: Result<Value, CmdError>, finding: bool) {
        match result {
            Ok(reply) => {
                self.write(name, &json!({"ok": true, "reply": reply})).await;
                self.commands.insert(name.to_string(), "ok".into());
            }
            Err(e) => {
                self.write(name, &json!({"ok": false, "error": e})).await;
                let line = e.status_line();
                if !finding {
                    self.failed
                        .push((name.to_string(), e.short(), e.hint.clone()));
                }
                self.commands.insert(name.to_string(), line);
            }
        }
    }
}

/// Collects mongodb data into the bundle. See the module documentation.
pub async fn collect(ctx: &Context, out: &CollectorSink) -> Outcome {
    let budget = Budget::new(ctx.options.timeout);
    let red = out.redactor();
    let conn = match connect(ctx, out, &budget).await {
        Ok(c) => c,
        Err(ConnectError::NoUri) => return Outcome::skipped(NO_URI),
        Err(e) => return connection_failed(ctx, out, e).await,
    };
    let mut run = Run {
        out,
        commands: BTreeMap::new(),
        failed: Vec::new(),
        write_errors: Vec::new(),
    };
    let admin = conn.client.database("admin");
    let rcdb = conn.client.database(&conn.database);
    let server_access = Access::Server;

    // buildInfo
    let build = run_raw(&admin, doc! {"buildInfo": 1}, &budget, red)
        .await
        .map_err(|e| e.with_hint(&server_access));
    let build = build.and_then(|d| match d.get("version") {
        Some(Bson::String(_)) => Ok(d),
        _ => Err(CmdError::unexpected("buildInfo", "version", &d)),
    });
    let version = build
        .as_ref()
        .ok()
        .and_then(|d| d.get_str("version").ok())
        .map(str::to_string);
    run.record(
        "buildInfo",
        build.map(|d| doc_to_json(&strip_envelope(&d))),
        false,
    )
    .await;

    // serverStatus (typed subset)
    let status = run_raw(
        &admin,
        doc! {"serverStatus": 1, "metrics": 0, "locks": 0, "tcmalloc": 0},
        &budget,
        red,
    )
    .await
    .map_err(|e| e.with_hint(&server_access))
    .and_then(|d| {
        let subset = ServerStatus::from_reply(&d)?;
        let mut v = serde_json::to_value(&subset).unwrap_or(Value::Null);
        if let (Value::Object(map), Some(t)) = (&mut v, d.get("localTime")) {
            map.insert("localTime".into(), to_json(t));
        }
        Ok((subset, v))
    });
    let storage_engine = status
        .as_ref()
        .ok()
        .and_then(|(s, _)| s.storage_engine.as_ref())
        .and_then(|e| e.name.clone());
    let version = version.or_else(|| status.as_ref().ok().and_then(|(s, _)| s.version.clone()));
    run.record("serverStatus", status.map(|(_, v)| v), false)
        .await;

    // hostInfo
    let host = run_raw(&admin, doc! {"hostInfo": 1}, &budget, red)
        .await
        .map_err(|e| e.with_hint(&server_access))
        .and_then(|d| {
            if d.get_document("system").is_ok() {
                Ok(doc_to_json(&strip_envelope(&d)))
            } else {
                Err(CmdError::unexpected("hostInfo", "system", &d))
            }
        });
    run.record("hostInfo", host, false).await;

    // getCmdLineOpts (redacted)
    let opts = run_raw(&admin, doc! {"getCmdLineOpts": 1}, &budget, red)
        .await
        .map_err(|e| e.with_hint(&server_access))
        .and_then(|d| {
            if d.get_array("argv").is_ok() {
                Ok(doc_to_json(&strip_envelope(&redact_cmdline(&d, red))))
            } else {
                Err(CmdError::unexpected("getCmdLineOpts", "argv", &d))
            }
        });
    run.record("getCmdLineOpts", opts, false).await;

    // replSetGetStatus
    let rs_reply = run_raw(&admin, doc! {"replSetGetStatus": 1}, &budget, red)
        .await
        .map_err(|e| e.with_hint(&server_access));
    let (replica_set, rs_result, rs_finding) = match rs_reply {
        Ok(d) => match replica_set_from_status(&d) {
            Ok(rs) => (rs, Ok(doc_to_json(&strip_envelope(&d))), false),
            Err(e) => {
                let rs = replica_set_from_hello(&conn.hello, e.status_line());
                (rs, Err(e), false)
            }
        },
        Err(e) if e.code == Some(76) => {
            let rs = ReplicaSet {
                state: "standalone".into(),
                set_name: None,
                primary: None,
                members: Vec::new(),
                my_state: None,
                source: Some("replSetGetStatus".into()),
                error: Some(format!("not a replica set ({})", e.status_line())),
            };
            (rs, Err(e), true)
        }
        Err(e) => {
            let rs = replica_set_from_hello(
                &conn.hello,
                format!(
                    "replSetGetStatus failed ({}); state from hello",
                    e.status_line()
                ),
            );
            (rs, Err(e), false)
        }
    };
    run.record("replSetGetStatus", rs_result, rs_finding).await;
    let standalone = replica_set.state == "standalone";

    // oplog window
    let oplog = oplog_window(&conn.client, &budget, red).await;
    run.record("oplog", oplog, standalone).await;

    // listDatabases
    let dbs = run_raw(
        &admin,
        doc! {"listDatabases": 1, "nameOnly": false},
        &budget,
        red,
    )
    .await
    .map_err(|e| e.with_hint(&server_access))
    .and_then(|d| {
        if d.get_array("databases").is_ok() {
            Ok(d)
        } else {
            Err(CmdError::unexpected("listDatabases", "databases", &d))
        }
    });
    let database_found = dbs
        .as_ref()
        .ok()
        .and_then(|d| d.get_array("databases").ok())
        .map(|list| {
            list.iter()
                .filter_map(Bson::as_document)
                .any(|d| d.get_str("name").ok() == Some(conn.database.as_str()))
        });
    run.record(
        "listDatabases",
        dbs.map(|d| doc_to_json(&strip_envelope(&d))),
        false,
    )
    .await;

    // dbStats of the Rocket.Chat database
    let read_access = Access::Read(conn.database.clone());
    let db_stats = run_raw(&rcdb, doc! {"dbStats": 1, "scale": 1}, &budget, red)
        .await
        .map_err(|e| e.with_hint(&server_access))
        .and_then(|d| {
            if d.contains_key("collections") || d.contains_key("objects") {
                Ok(doc_to_json(&strip_envelope(&d)))
            } else {
                Err(CmdError::unexpected("dbStats", "collections", &d))
            }
        });
    run.record("dbStats", db_stats, false).await;

    // $collStats of its collections
    let (coll_stats, coll_errors) = collection_stats(&rcdb, &budget, red, &read_access).await;
    match coll_stats {
        Ok(stats) => {
            let n_err = coll_errors.len();
            let total = stats.len() + n_err;
            let mut v = json!({"ok": true, "reply": stats});
            if n_err > 0 {
                v["errors"] = Value::Object(
                    coll_errors
                        .iter()
                        .map(|(k, e)| (k.clone(), json!(e)))
                        .collect(),
                );
            }
            run.write("collStats", &v).await;
            if n_err == 0 {
                run.commands.insert("collStats".into(), "ok".into());
            } else {
                let (first, e) = coll_errors
                    .iter()
                    .next()
                    .map(|(k, e)| (k.clone(), e.status_line()))
                    .unwrap_or_default();
                let line = format!("{n_err} of {total} collections failed, first {first}: {e}");
                run.failed.push(("collStats".into(), line.clone(), None));
                run.commands.insert("collStats".into(), line);
            }
        }
        Err(e) => run.record("collStats", Err(e), false).await,
    }

    // summary
    let summary = json!({
        "uri_source": conn.uri_source,
        "uri": conn.redacted_uri,
        "uri_rewrite": conn.rewrite,
        "server": conn.server,
        "version": version,
        "storage_engine": storage_engine,
        "wire_version": num(conn.hello.get("maxWireVersion")).map(|w| w as i64),
        "replica_set": replica_set,
        "too_old": Value::Null,
        "commands": run.commands,
        "database": conn.database,
        "database_found": database_found,
        "collected_in_seconds": (budget.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "error": Value::Null,
    });
    run.write("summary", &summary).await;

    if run.failed.is_empty() && run.write_errors.is_empty() {
        return Outcome::ok();
    }
    let mut message = String::new();
    if !run.failed.is_empty() {
        message = format!(
            "{} of {} MongoDB reads failed: {}",
            run.failed.len(),
            run.commands.len(),
            group_failures(&run.failed)
        );
    }
    if !run.write_errors.is_empty() {
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&format!("could not write {}", run.write_errors.join(", ")));
    }
    Outcome::partial(message)
}

/// `a, b: error 13 Unauthorized (grant ...); c: ...`: commands that failed alike share one line.
fn group_failures(failed: &[(String, String, Option<String>)]) -> String {
    let mut groups: Vec<(Vec<&str>, &str, Option<&str>)> = Vec::new();
    for (name, short, hint) in failed {
        match groups
            .iter_mut()
            .find(|g| g.1 == short.as_str() && g.2 == hint.as_deref())
        {
            Some(g) => g.0.push(name),
            None => groups.push((vec![name.as_str()], short.as_str(), hint.as_deref())),
        }
    }
    groups
        .iter()
        .map(|(names, short, hint)| match hint {
            Some(h) => format!("{}: {short} ({h})", names.join(", ")),
            None => format!("{}: {short}", names.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes the summary of a collection that could not start, and the outcome.
async fn connection_failed(ctx: &Context, out: &CollectorSink, e: ConnectError) -> Outcome {
    let (uri_source, uri) = match find_uri(ctx).await {
        Some((uri, src, _)) => (Some(src), Some(out.redactor().redact_uri(&uri))),
        None => (None, None),
    };
    let too_old = match &e {
        ConnectError::TooOld(t) => serde_json::to_value(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let message = e.to_string();
    let summary = json!({
        "uri_source": uri_source,
        "uri": uri,
        "server": Value::Null,
        "version": match &e { ConnectError::TooOld(t) => json!(t.version), _ => Value::Null },
        "storage_engine": Value::Null,
        "replica_set": {"state": "unknown", "set_name": null, "primary": null, "members": [], "error": "not connected"},
        "too_old": too_old,
        "commands": {},
        "database": Value::Null,
        "error": message,
    });
    let mut message = message;
    if let Err(w) = out.put_json("mongodb/summary.json", &summary).await {
        message.push_str(&format!(
            " (and mongodb/summary.json could not be written: {w})"
        ));
    }
    Outcome::failed(message)
}

/// `oplog.json`: first and last entry of `local.oplog.rs` (by `$natural`), the window
/// between them, and the collection's size and maximum size.
async fn oplog_window(client: &Client, budget: &Budget, red: &Redactor) -> Result<Value, CmdError> {
    let access = Access::Oplog;
    let coll = client.database("local").collection::<Document>("oplog.rs");
    let projection = doc! {"ts": 1, "wall": 1, "_id": 0};
    let first = budget
        .run(
            coll.find_one(doc! {})
                .sort(doc! {"$natural": 1})
                .projection(projection.clone()),
        )
        .await
        .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
        .map_err(|e| e.with_hint(&access));
    let last = match &first {
        Ok(Some(_)) => budget
            .run(
                coll.find_one(doc! {})
                    .sort(doc! {"$natural": -1})
                    .projection(projection),
            )
            .await
            .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
            .map_err(|e| e.with_hint(&access)),
        Ok(None) => Ok(None),
        Err(e) => Err(e.clone()),
    };
    let stats = budget
        .run(async {
            let cursor = coll
                .aggregate(vec![doc! {"$collStats": {"storageStats": {}}}])
                .await?;
            cursor.try_collect::<Vec<Document>>().await
        })
        .await
        .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
        .map_err(|e| e.with_hint(&access));

    let storage = match &stats {
        Ok(docs) => docs
            .first()
            .and_then(|d| d.get_document("storageStats").ok())
            .cloned(),
        Err(_) => None,
    };
    // A missing oplog is an error (26), whether the server said so or just had nothing.
    if let Err(e) = &stats
        && e.code == Some(26)
    {
        return Err(e.clone());
    }
    if let Err(e) = &first
        && storage.is_none()
    {
        return Err(e.clone());
    }
    if storage.is_none() && matches!(first, Ok(None)) {
        let mut e = stats.err().unwrap_or_else(|| CmdError {
            code: Some(26),
            code_name: Some("NamespaceNotFound".into()),
            message: "local.oplog.rs is empty or missing and its $collStats returned nothing"
                .into(),
            hint: None,
        });
        e.hint = e.hint.or_else(|| hint_for(Some(26), &access));
        return Err(e);
    }

    let pick =
        |r: &Result<Option<Document>, CmdError>| r.as_ref().ok().and_then(Option::as_ref).cloned();
    let mut reply = oplog_reply(
        pick(&first).as_ref(),
        pick(&last).as_ref(),
        storage.as_ref(),
    );
    let mut partial = Map::new();
    if let Err(e) = &first {
        partial.insert("entries".into(), json!(e));
    }
    if let Err(e) = &last {
        partial.insert("last".into(), json!(e));
    }
    if let Err(e) = &stats {
        partial.insert("size".into(), json!(e));
    } else if storage.is_none() {
        partial.insert("size".into(), json!("$collStats returned no storageStats"));
    }
    if !partial.is_empty() {
        reply["errors"] = Value::Object(partial);
    }
    Ok(reply)
}

/// The `oplog.json` reply from the first and last entries (`ts`, else `wall`) and the
/// `$collStats` storage stats.
pub fn oplog_reply(
    first: Option<&Document>,
    last: Option<&Document>,
    storage: Option<&Document>,
) -> Value {
    let ts = |d: Option<&Document>| {
        d.and_then(|d| millis(d.get("ts")).or_else(|| millis(d.get("wall"))))
    };
    let (first_ms, last_ms) = (ts(first), ts(last));
    let as_time = |ms: Option<i64>| {
        ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_string())
    };
    let window = match (first_ms, last_ms) {
        (Some(a), Some(b)) => Some((((b - a) as f64) / 3_600_000.0 * 1000.0).round() / 1000.0),
        _ => None,
    };
    let stat = |k: &str| storage.and_then(|s| s.get(k)).map(to_json);
    json!({
        "first": as_time(first_ms),
        "last": as_time(last_ms),
        "window_hours": window,
        "size_bytes": stat("size"),
        "max_size_bytes": stat("maxSize"),
        "count": stat("count"),
        "storage_size_bytes": stat("storageSize"),
    })
}

/// `collStats.json`: `{size, count, storageSize, totalIndexSize, nindexes}` per collection
/// of the Rocket.Chat database, plus per-collection errors.
async fn collection_stats(
    db: &Database,
    budget: &Budget,
    red: &Redactor,
    access: &Access,
) -> (
    Result<BTreeMap<String, Value>, CmdError>,
    BTreeMap<String, CmdError>,
) {
    let mut errors = BTreeMap::new();
    let names = budget
        .run(db.list_collection_names())
        .await
        .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
        .map_err(|e| e.with_hint(access));
    let mut names = match names {
        Ok(n) => n,
        Err(e) => return (Err(e), errors),
    };
    names.retain(|n| !n.starts_with("system."));
    names.sort();
    let mut stats = BTreeMap::new();
    for name in names.into_iter().take(MAX_COLLECTIONS) {
        let coll = db.collection::<Document>(&name);
        let r = budget
            .run(async {
                let cursor = coll
                    .aggregate(vec![doc! {"$collStats": {"storageStats": {}}}])
                    .await?;
                cursor.try_collect::<Vec<Document>>().await
            })
            .await
            .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)));
        match r {
            Ok(docs) => match docs
                .first()
                .and_then(|d| d.get_document("storageStats").ok())
            {
                Some(s) => {
                    let pick = |k: &str| s.get(k).map(to_json).unwrap_or(Value::Null);
                    stats.insert(
                        name,
                        json!({
                            "size": pick("size"),
                            "count": pick("count"),
                            "storageSize": pick("storageSize"),
                            "totalIndexSize": pick("totalIndexSize"),
                            "nindexes": pick("nindexes"),
                        }),
                    );
                }
                None => {
                    let empty = Document::new();
                    let d = docs.first().unwrap_or(&empty);
                    errors.insert(name, CmdError::unexpected("$collStats", "storageStats", d));
                }
            },
            Err(e) => {
                let stop = e.code_name.as_deref() == Some("NotRun");
                errors.insert(name, e.with_hint(&Access::Server));
                if stop {
                    break;
                }
            }
        }
    }
    (Ok(stats), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red() -> Redactor {
        Redactor::new(&[]).expect("redactor")
    }

    #[test]
    fn wire_version_errors_become_too_old_findings() {
        let msg = "Server at 127.0.0.1:40169 reports wire version 6, but this version of the MongoDB Rust driver requires at least 9 (MongoDB 4.4).";
        let t = too_old_from_error(msg, "127.0.0.1:40169").expect("recognized");
        assert_eq!(t.version.as_deref(), Some("3.6"));
        assert_eq!(t.wire_version, Some(6));
        assert!(t.message.contains("4.4"), "{}", t.message);
        assert!(
            too_old_from_error("Server selection timeout: No available servers", "x").is_none()
        );
    }

    #[test]
    fn cmdline_hides_set_parameters_key_files_and_passwords() {
        let r = red();
        let reply = doc! {
            "argv": ["mongod", "--setParameter", "ldapQueryPassword=Hunter2Hunter2", "--keyFile", "/etc/key", "--tlsCertificateKeyFilePassword=PemPass99", "--replSet", "rs0"],
            "parsed": {
                "replication": {"replSetName": "rs0"},
                "security": {"keyFile": "/etc/key", "authorization": "enabled"},
                "setParameter": {"enableLocalhostAuthBypass": "false", "ldapQueryPassword": "Hunter2Hunter2"},
                "net": {"tls": {"certificateKeyFilePassword": "PemPass99"}}
            },
            "ok": 1.0,
        };
        let out = redact_cmdline(&reply, &r);
        let text = serde_json::to_string(&doc_to_json(&out)).expect("json");
        for secret in ["Hunter2Hunter2", "/etc/key", "PemPass99", "\"false\""] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert!(
            text.contains("ldapQueryPassword=***REDACTED:cmdline***"),
            "{text}"
        );
        assert!(text.contains("rs0"), "{text}");
        assert!(r.has_exact("x Hunter2Hunter2 y"), "password remembered");
        assert!(
            !r.has_exact("/etc/key"),
            "key file paths are not scanned for"
        );
    }

    #[test]
    fn unknown_command_placeholder_is_not_success() {
        let reply = doc! {"ok": 1, "result": []};
        assert!(replica_set_from_status(&reply).is_err());
        assert!(ServerStatus::from_reply(&reply).is_err());
        let e = CmdError::unexpected("hostInfo", "system", &reply);
        assert!(
            e.status_line().starts_with("unexpected reply shape"),
            "{}",
            e.status_line()
        );
    }

    #[test]
    fn lag_is_relative_to_the_primary_and_null_for_the_unreachable() {
        let t = |ms: i64| Bson::DateTime(bson::DateTime::from_millis(ms));
        let reply = doc! {"set": "rs0", "members": [
            {"name": "a:1", "stateStr": "PRIMARY", "health": 1.0, "optimeDate": t(100_000), "self": true},
            {"name": "b:1", "stateStr": "SECONDARY", "health": 1.0, "optimeDate": t(89_000)},
            {"name": "c:1", "stateStr": "(not reachable/healthy)", "health": 0.0, "optimeDate": t(0)},
        ]};
        let rs = replica_set_from_status(&reply).expect("parsed");
        assert_eq!(rs.primary.as_deref(), Some("a:1"));
        let lags: Vec<Option<f64>> = rs.members.iter().map(|m| m.lag_seconds).collect();
        assert_eq!(lags, vec![Some(0.0), Some(11.0), None]);
        assert_eq!(rs.my_state.as_deref(), Some("PRIMARY"));
    }

    #[test]
    fn oplog_window_is_last_minus_first() {
        let ts = |t: u32| doc! {"ts": bson::Timestamp { time: t, increment: 1 }};
        let storage = doc! {"size": 1024_i64, "maxSize": 990_000_000_i64, "count": 7};
        let v = oplog_reply(
            Some(&ts(1_700_000_000)),
            Some(&ts(1_700_000_000 + 5400)),
            Some(&storage),
        );
        assert_eq!(v["window_hours"], json!(1.5));
        assert_eq!(v["first"], json!("2023-11-14T22:13:20Z"));
        assert_eq!(v["size_bytes"], json!(1024));
        assert_eq!(v["max_size_bytes"], json!(990_000_000));
        let none = oplog_reply(None, None, None);
        assert_eq!(none["window_hours"], Value::Null);
    }

    #[test]
    fn failures_with_the_same_cause_share_a_line() {
        let hint = Some("grant clusterMonitor".to_string());
        let f = vec![
            (
                "serverStatus".to_string(),
                "error 13 Unauthorized".to_string(),
                hint.clone(),
            ),
            (
                "hostInfo".to_string(),
                "error 13 Unauthorized".to_string(),
                hint,
            ),
            (
                "collStats".to_string(),
                "error 13 Unauthorized".to_string(),
                Some("grant read".to_string()),
            ),
        ];
        assert_eq!(
            group_failures(&f),
            "serverStatus, hostInfo: error 13 Unauthorized (grant clusterMonitor); collStats: error 13 Unauthorized (grant read)"
        );
    }

    #[test]
    fn compose_service_names_map_to_containers() {
        let c = |name: &str| DiscoveredContainer {
            name: name.into(),
            running: true,
            ips: vec!["172.18.0.2".into()],
            ..Default::default()
        };
        let list = vec![c("rocketchat-rocketchat-1"), c("rocketchat-mongodb-1")];
        assert_eq!(
            container_for_host(&list, "mongodb").map(|c| c.name.as_str()),
            Some("rocketchat-mongodb-1")
        );
        assert!(container_for_host(&list, "mongo").is_none());
        let list = vec![c("mongo")];
        assert_eq!(
            container_for_host(&list, "mongo").map(|c| c.name.as_str()),
            Some("mongo")
        );
    }

    #[test]
    fn budget_keeps_a_margin() {
        let b = Budget::new(Duration::from_secs(2));
        assert!(b.remaining() <= Duration::from_millis(1800));
        assert_eq!(b.connect_timeout(), Duration::from_millis(500));
        let b = Budget::new(Duration::from_secs(60));
        assert_eq!(b.connect_timeout(), Duration::from_secs(5));
        assert!(b.op_timeout().expect("time left") <= Duration::from_secs(20));
    }
}
