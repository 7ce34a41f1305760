//! The MongoDB client: the URI and where it came from, connecting with the agent's time
//! budget (connect and server selection get about a quarter of the collector's time,
//! each command at most a third, a margin is kept), error classification into what to
//! tell the user (with the role to grant), and BSON-to-JSON helpers. Used by the
//! mongodb and rocketchat collectors.
//!
//! Credentials: the caller registers the URI's password with the redactor before
//! connecting, and every driver error message goes through `redact_text` (driver errors
//! can quote the URI).
//!
//! Bytes: the driver trusts the `maxMessageSizeBytes` a server announces and allocates a
//! whole reply before reading it; no option lowers that, so its collectors run in a
//! child process under a memory limit (see [`crate::isolate`]).

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, ServerAddress};
use mongodb::{Client, Database};
use serde::Serialize;
use serde_json::{Value, json};

use crate::clients::docker::DiscoveredContainer;
use crate::redact::Redactor;

/// Why the collectors that need MongoDB are skipped when no URI can be found.
pub const NO_URI: &str =
    "no MongoDB URI: pass --mongodb-uri or run where the Rocket.Chat containers are visible";

/// The database Rocket.Chat uses when the URI names none.
pub const DEFAULT_DATABASE: &str = "rocketchat";

/// Application name the agent announces to the server (shows in its logs and `currentOp`).
pub const APP_NAME: &str = "rcdiag-agent";

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

pub(crate) fn hint_for(code: Option<i32>, access: &Access) -> Option<String> {
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
async fn rewrite_container_hosts(
    opts: &mut ClientOptions,
    containers: &[DiscoveredContainer],
) -> Option<String> {
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

/// Connects to `uri` (from `uri_source`: `option` or `container:<name>`) and runs
/// `hello`. `containers`, for a URI taken from a container, are where host names that
/// only resolve inside the Docker network are looked up. The caller registers the
/// URI's secrets with the redactor first; errors are redacted with `red`.
pub async fn connect(
    uri: &str,
    uri_source: String,
    containers: Option<&[DiscoveredContainer]>,
    red: &Redactor,
    budget: &Budget,
) -> Result<Connection, ConnectError> {
    let redacted_uri = red.redact_uri(uri);

    let parse = tokio::time::timeout(
        budget.connect_timeout().max(Duration::from_secs(1)),
        ClientOptions::parse(uri),
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
    let rewrite = match containers {
        Some(c) => rewrite_container_hosts(&mut opts, c).await,
        None => None,
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
pub async fn run_raw(
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

/// The `$collStats` `storageStats` documents of `coll`, under the budget's limit;
/// errors are classified and redacted.
pub async fn storage_stats(
    coll: &mongodb::Collection<Document>,
    budget: &Budget,
    red: &Redactor,
) -> Result<Vec<Document>, CmdError> {
    budget
        .run(async {
            let cursor = coll
                .aggregate(vec![doc! {"$collStats": {"storageStats": {}}}])
                .await?;
            cursor.try_collect::<Vec<Document>>().await
        })
        .await
        .and_then(|r| r.map_err(|e| CmdError::from_driver(&e, red)))
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
pub fn strip_envelope(d: &Document) -> Document {
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
pub fn millis(b: Option<&Bson>) -> Option<i64> {
    match b? {
        Bson::DateTime(dt) => Some(dt.timestamp_millis()),
        Bson::Timestamp(ts) => Some(i64::from(ts.time) * 1000),
        Bson::Document(d) => millis(d.get("ts")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
