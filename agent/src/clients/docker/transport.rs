//! The Docker Engine transport: one HTTP/1 connection per request over a unix socket or
//! TCP, every read charged to the run's [`ReplyBudget`] through [`Capped`], and JSON
//! replies parsed as they stream in (a container list or an inspect reply is never held
//! whole beside what is kept of it).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bollard::Docker;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::clients::budget::{Capped, ReplyBudget};

/// hyper's read buffer for Docker Engine connections.
const READ_BUF: usize = 64 << 10;

/// Most bytes of an error reply read (its JSON `message`).
const ERROR_REPLY_MAX: usize = 64 << 10;

/// Where a Docker Engine listens.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// `host:port` over plain TCP.
    Tcp(String),
}

impl Endpoint {
    /// Parses `unix:///path`, `tcp://host:port` or `http://host:port`.
    pub fn parse(uri: &str) -> Option<Self> {
        if let Some(p) = uri.strip_prefix("unix://") {
            return Some(Self::Unix(PathBuf::from(p)));
        }
        let rest = uri
            .strip_prefix("tcp://")
            .or_else(|| uri.strip_prefix("http://"))?;
        let hostport = rest.split('/').next().unwrap_or(rest);
        Some(Self::Tcp(if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:2375")
        }))
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn io_error(e: impl std::fmt::Display) -> bollard::errors::Error {
    bollard::errors::Error::IOError {
        err: io::Error::other(e.to_string()),
    }
}

/// Sends one request on a new connection to `ep` whose reads are charged to `budget`
/// (`None`: not capped, for streams their reader bounds).
pub(crate) async fn send<B>(
    ep: &Endpoint,
    mut req: hyper::Request<B>,
    budget: Option<Arc<ReplyBudget>>,
) -> Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream: Box<dyn Io> = match ep {
        Endpoint::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
        Endpoint::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a).await?),
    };
    // A small read buffer: the body's chunks are cut from it, so the memory a reply
    // holds stays close to its bytes.
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(READ_BUF)
        .handshake(TokioIo::new(Capped::new(stream, budget)))
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    // Origin-form request line and a Host header, as the docker CLI sends.
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    *req.uri_mut() = pq
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| io_error(e))?;
    req.headers_mut()
        .entry(hyper::header::HOST)
        .or_insert(hyper::header::HeaderValue::from_static("localhost"));
    Ok(sender.send_request(req).await?)
}

/// A bollard client for `endpoint` whose replies are charged to `budget` (a log request
/// is not: [`super::logs`] bounds it). `None` for an endpoint scheme it cannot use.
pub(crate) fn bollard_client(
    endpoint: &str,
    timeout_secs: u64,
    budget: Arc<ReplyBudget>,
) -> Option<Docker> {
    let ep = Endpoint::parse(endpoint)?;
    Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let ep = ep.clone();
            let budget = budget.clone();
            async move { send(&ep, req, Some(budget)).await }
        },
        Some("http://localhost"),
        timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )
    .ok()
}

/// Sends a GET of `path` and returns the body of a 2xx reply; any other status becomes
/// the engine's error (its `message`, read up to 64 KiB), as bollard reports it.
pub(crate) async fn get(
    ep: &Endpoint,
    path: &str,
    budget: Option<Arc<ReplyBudget>>,
) -> Result<hyper::body::Incoming, bollard::errors::Error> {
    let req = hyper::Request::get(path)
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(io_error)?;
    let res = send(ep, req, budget).await?;
    let status = res.status();
    if status.is_success() {
        return Ok(res.into_body());
    }
    let mut body = res.into_body();
    let mut buf = Vec::new();
    while buf.len() < ERROR_REPLY_MAX {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    buf.extend_from_slice(d);
                }
            }
            _ => break,
        }
    }
    let message = serde_json::from_slice::<serde_json::Value>(&buf)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&buf).into_owned());
    Err(bollard::errors::Error::DockerResponseServerError {
        status_code: status.as_u16(),
        message,
    })
}

/// A blocking reader over the chunks of a body sent from the async side.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>,
    chunk: Bytes,
}

impl io::Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

/// GETs `path` and parses the JSON reply into `T` as it streams in: the body is never
/// held whole, only the chunks queued for the parser (at most four of hyper's 64 KiB)
/// and what `T` keeps (give `T` only the fields used: serde skips the others without
/// keeping them). A reply past the budget fails as "reply too large"; one that is not
/// `T` fails as a JSON error.
pub(crate) async fn get_json<T>(
    ep: &Endpoint,
    path: &str,
    budget: Arc<ReplyBudget>,
) -> Result<T, bollard::errors::Error>
where
    T: DeserializeOwned + Send + 'static,
{
    let mut body = get(ep, path, Some(budget)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(4);
    let parse = tokio::task::spawn_blocking(move || {
        let reader = io::BufReader::with_capacity(
            16 << 10,
            ChunkReader {
                rx,
                chunk: Bytes::new(),
            },
        );
        let mut de = serde_json::Deserializer::from_reader(reader);
        let value = T::deserialize(&mut de)?;
        de.end()?;
        Ok::<T, serde_json::Error>(value)
    });
    loop {
        let item = match body.frame().await {
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => Ok(d),
                Err(_) => continue,
            },
            Some(Err(e)) => Err(io::Error::other(super::error_chain(&e))),
            None => break,
        };
        let failed = item.is_err();
        // A send fails once the parser stopped (an error, or a complete value).
        if tx.send(item).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    drop(body);
    match parse.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.is_io() => Err(bollard::errors::Error::IOError {
            err: io::Error::other(e.to_string()),
        }),
        Ok(Err(err)) => Err(bollard::errors::Error::JsonSerdeError { err }),
        Err(e) => Err(io_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};

    use super::*;
    use crate::clients::docker::{ContainerListEntry, error_chain};

    /// A fake engine for hostile replies: every connection gets `head` then `body()`
    /// (written in pieces, until the agent hangs up).
    fn serve(
        head: &'static str,
        body: impl Fn(&mut std::os::unix::net::UnixStream) + Send + Sync + 'static,
    ) -> (tempfile::TempDir, Endpoint) {
        let dir = tempfile::Builder::new()
            .prefix("rct")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let path = dir.path().join("d.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let body = Arc::new(body);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let body = body.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(conn.try_clone().expect("clone"));
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let _ = conn.write_all(head.as_bytes());
                    body(&mut conn);
                });
            }
        });
        (dir, Endpoint::Unix(path))
    }

    const OK: &str =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_streamed_list_keeps_only_the_fields_used() {
        let (_d, ep) = serve(OK, |w| {
            let _ = w.write_all(
                br#"[{"Id":"a1","Names":["/app"],"Image":"busybox","Labels":{"k":"v"},"Ports":[{"x":[1,{"y":null}]}]},{"Id":"b2"}]"#,
            );
        });
        let list: Vec<ContainerListEntry> = get_json(
            &ep,
            "/v1.41/containers/json?all=true",
            ReplyBudget::new(None),
        )
        .await
        .expect("list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].id.as_deref(), Some("a1"));
        assert_eq!(list[0].name().as_deref(), Some("app"));
        assert_eq!(list[0].image.as_deref(), Some("busybox"));
        assert_eq!(list[1].id.as_deref(), Some("b2"));
        assert_eq!(list[1].name(), None);
    }

    #[tokio::test]
    async fn a_list_past_the_budget_fails_as_reply_too_large_without_being_held() {
        // 32 MiB of list against a 1 MiB cap.
        let (_d, ep) = serve(OK, |w| {
            let item = format!(r#"{{"Id":"x","Labels":{{"pad":"{}"}}}},"#, "p".repeat(4000));
            let _ = w.write_all(b"[");
            let mut sent = 0;
            while sent < 32 << 20 && w.write_all(item.as_bytes()).is_ok() {
                sent += item.len();
            }
        });
        let budget = ReplyBudget::new(Some(1 << 20));
        let e = get_json::<Vec<ContainerListEntry>>(&ep, "/containers/json", budget.clone())
            .await
            .expect_err("over the cap");
        let text = error_chain(&e);
        assert!(
            text.contains("reply too large") && text.contains("--docker-reply-max"),
            "{text}"
        );
        // What was read before the cap bound stays charged (at most one read over it).
        let charged = budget.in_flight();
        assert!(
            charged > 1 << 20 && charged <= (1 << 20) + (READ_BUF as u64) + (64 << 10),
            "{charged}"
        );
    }

    #[tokio::test]
    async fn garbage_is_a_json_error_and_an_error_status_gives_the_engine_message() {
        let (_d, ep) = serve(OK, |w| {
            let _ = w.write_all(b"\x00\xff{[[not json at all");
        });
        let e =
            get_json::<Vec<ContainerListEntry>>(&ep, "/containers/json", ReplyBudget::new(None))
                .await
                .expect_err("garbage");
        assert!(
            matches!(e, bollard::errors::Error::JsonSerdeError { .. }),
            "{e:?}"
        );
        let (_d2, ep) = serve(
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            |w| {
                let _ = w.write_all(br#"{"message":"No such container: zz"}"#);
            },
        );
        let e =
            get_json::<ContainerInspectProbe>(&ep, "/containers/zz/json", ReplyBudget::new(None))
                .await
                .expect_err("404");
        assert!(
            matches!(&e, bollard::errors::Error::DockerResponseServerError { status_code: 404, message } if message == "No such container: zz"),
            "{e:?}"
        );
    }

    /// Any JSON object (the 404 case never parses one).
    #[derive(Debug, serde::Deserialize)]
    struct ContainerInspectProbe {}
}
