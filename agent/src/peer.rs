//! The shared client layer: a byte budget at every place peer bytes come in, so a
//! buggy or hostile peer can make a call fail but never make the agent allocate
//! without bound. Docker Engine replies go through a transport whose connections
//! stop reading past the reply cap (`--docker-reply-max`, default 64 MiB: the call
//! fails as "reply too large" and the collector records it); log streams are decoded
//! here in chunks, so a frame never allocates more than [`LOG_LINE_MAX`] whatever its
//! header claims, and longer lines are cut with a marker. The kube and CRI clients are
//! to use the same [`Capped`] reader.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bollard::Docker;
use bollard::container::LogOutput;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Default most bytes of one Docker Engine reply (headers and body).
pub const DEFAULT_REPLY_MAX: u64 = 64 << 20;
/// Range of `--docker-reply-max`.
pub const REPLY_MAX_RANGE: (u64, u64) = (1 << 20, 1 << 30);
/// Most bytes of one log line (one frame) kept; the rest is read, discarded and noted.
pub const LOG_LINE_MAX: usize = 64 << 10;

/// hyper's read buffer for Docker Engine connections.
const READ_BUF: usize = 64 << 10;

static REPLY_MAX: AtomicU64 = AtomicU64::new(DEFAULT_REPLY_MAX);

/// Sets the reply cap of every Docker Engine call that follows (`--docker-reply-max`).
pub fn set_reply_max(bytes: u64) {
    REPLY_MAX.store(
        bytes.clamp(REPLY_MAX_RANGE.0, REPLY_MAX_RANGE.1),
        Ordering::Relaxed,
    );
}

/// The reply cap of Docker Engine calls.
pub fn reply_max() -> u64 {
    REPLY_MAX.load(Ordering::Relaxed)
}

/// The error of a reply over its cap; its text says what happened and what to do.
pub fn too_large(cap: u64) -> io::Error {
    io::Error::other(format!(
        "reply too large: the peer sent more than {} MiB, the most rcdiag reads of its replies \
         at a time (raise --docker-reply-max if the engine really holds that much)",
        cap >> 20
    ))
}

/// Bytes of capped replies being read right now, across every connection: the cap
/// bounds them all together (the docker collector and the shared discovery list the
/// containers at the same time; two huge replies must not cost twice). The bytes of a
/// reply that went over stay counted until the next run ([`reset_budget`]): the memory
/// they took may still be resident, so a second huge reply cannot add to it.
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);

/// Starts a new run's reply budget (called when a collection run starts).
pub fn reset_budget() {
    IN_FLIGHT.store(0, Ordering::Relaxed);
}

/// A connection whose reads fail once more than `cap` bytes came in, or once the
/// capped replies being read at the same time add up to more than `cap` (`None`: no
/// cap, for streams bounded by their reader, such as logs).
pub struct Capped<T> {
    inner: T,
    left: Option<u64>,
    cap: u64,
    charged: u64,
    over: bool,
}

impl<T> Capped<T> {
    /// Wraps `inner` with a budget of `cap` bytes (`None`: unbounded).
    pub fn new(inner: T, cap: Option<u64>) -> Self {
        Self {
            inner,
            left: cap,
            cap: cap.unwrap_or(0),
            charged: 0,
            over: false,
        }
    }
}

impl<T> Drop for Capped<T> {
    fn drop(&mut self) {
        if !self.over {
            let _ = IN_FLIGHT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(self.charged))
            });
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                if let Some(left) = this.left.as_mut() {
                    let all = IN_FLIGHT.fetch_add(n, Ordering::Relaxed) + n;
                    this.charged += n;
                    if n > *left || all > this.cap {
                        this.over = true;
                        buf.set_filled(before);
                        return Poll::Ready(Err(too_large(this.cap)));
                    }
                    *left -= n;
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

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

/// Sends one request on a new connection to `ep` whose reads are capped at `cap`.
async fn send<B>(
    ep: &Endpoint,
    mut req: hyper::Request<B>,
    cap: Option<u64>,
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
        .handshake(TokioIo::new(Capped::new(stream, cap)))
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
    *req.uri_mut() =
        pq.parse().map_err(
            |e: hyper::http::uri::InvalidUri| bollard::errors::Error::IOError {
                err: io::Error::other(e.to_string()),
            },
        )?;
    req.headers_mut()
        .entry(hyper::header::HOST)
        .or_insert(hyper::header::HeaderValue::from_static("localhost"));
    Ok(sender.send_request(req).await?)
}

/// A Docker client for `endpoint` whose replies are capped at [`reply_max`] (a log
/// request is not: [`logs`] bounds it). `None` for an endpoint scheme it cannot use.
pub fn docker_client(endpoint: &str, timeout_secs: u64) -> Option<Docker> {
    let ep = Endpoint::parse(endpoint)?;
    Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let ep = ep.clone();
            async move { send(&ep, req, Some(reply_max())).await }
        },
        Some("http://localhost"),
        timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )
    .ok()
}

/// The options of a logs request that [`logs`] uses.
#[derive(Debug, Clone)]
pub struct LogsRequest {
    /// Unix seconds of the window start (0: all).
    pub since: i64,
    /// Most recent lines (`all` or a number).
    pub tail: String,
}

/// Streams a container's log (stdout and stderr, with timestamps, not followed) from
/// the engine at `endpoint` (API `version`, e.g. `1.41`), decoded in bounded chunks:
/// one item per frame (or line, for a TTY container), each at most [`LOG_LINE_MAX`]
/// bytes plus a marker saying how much was cut.
pub fn logs(
    endpoint: &str,
    version: &str,
    id: &str,
    opts: &LogsRequest,
) -> Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>> {
    let path = format!(
        "/v{version}/containers/{id}/logs?stdout=true&stderr=true&timestamps=true&follow=false&since={}&tail={}",
        opts.since,
        if opts.tail.chars().all(|c| c.is_ascii_alphanumeric()) {
            opts.tail.as_str()
        } else {
            "all"
        }
    );
    let ep = Endpoint::parse(endpoint);
    Box::pin(async_stream(ep, path))
}

fn async_stream(
    ep: Option<Endpoint>,
    path: String,
) -> impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send {
    use futures_util::StreamExt as _;
    let start = async move {
        let Some(ep) = ep else {
            return Err(bollard::errors::Error::UnsupportedURISchemeError {
                uri: "the Docker endpoint".into(),
            });
        };
        let req = hyper::Request::get(path)
            .body(http_body_util::Empty::<Bytes>::new())
            .map_err(|e| bollard::errors::Error::IOError {
                err: io::Error::other(e.to_string()),
            })?;
        let res = send(&ep, req, None).await?;
        let status = res.status();
        if !status.is_success() {
            // An error reply is JSON `{"message": ...}`: read at most 64 KiB of it.
            let mut body = res.into_body();
            let mut buf = Vec::new();
            while buf.len() < 64 << 10 {
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
            return Err(bollard::errors::Error::DockerResponseServerError {
                status_code: status.as_u16(),
                message,
            });
        }
        Ok(res.into_body())
    };
    futures_util::stream::once(start).flat_map(|r| match r {
        Err(e) => futures_util::stream::iter(vec![Err(e)]).boxed(),
        Ok(body) => futures_util::stream::unfold(
            (body, LogDecoder::default(), false),
            |(mut body, mut dec, done)| async move {
                loop {
                    if let Some(item) = dec.next_item() {
                        return Some((Ok(item), (body, dec, done)));
                    }
                    if done {
                        return None;
                    }
                    match body.frame().await {
                        Some(Ok(f)) => {
                            if let Some(d) = f.data_ref() {
                                dec.feed(d);
                            }
                        }
                        Some(Err(e)) => {
                            return Some((Err(bollard::errors::Error::from(e)), (body, dec, true)));
                        }
                        None => {
                            dec.finish();
                            return dec.next_item().map(|i| (Ok(i), (body, dec, true)));
                        }
                    }
                }
            },
        )
        .boxed(),
    })
}

/// Decodes the engine's log stream: multiplexed frames (8-byte header: stream, 0, 0, 0,
/// big-endian length) or, for a TTY container, raw lines. Holds at most one header, one
/// kept line of [`LOG_LINE_MAX`] bytes and the items decoded but not yet taken.
#[derive(Default)]
pub struct LogDecoder {
    mode: Option<bool>,
    header: Vec<u8>,
    stream: u8,
    remaining: u64,
    in_frame: bool,
    kept: BytesMut,
    dropped: u64,
    ready: std::collections::VecDeque<LogOutput>,
}

impl LogDecoder {
    /// Feeds bytes of the body.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let multiplexed = *self.mode.get_or_insert_with(|| {
                data.first().is_some_and(|b| *b <= 2) && (data.len() < 4 || data[1..4] == [0, 0, 0])
            });
            if !multiplexed {
                data = self.feed_raw(data);
                continue;
            }
            if !self.in_frame {
                let need = 8 - self.header.len();
                let take = need.min(data.len());
                self.header.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.header.len() < 8 {
                    return;
                }
                self.stream = self.header[0];
                self.remaining = u64::from(u32::from_be_bytes([
                    self.header[4],
                    self.header[5],
                    self.header[6],
                    self.header[7],
                ]));
                self.header.clear();
                self.in_frame = true;
                if self.remaining == 0 {
                    self.end_frame();
                }
                continue;
            }
            let take = (self.remaining as usize).min(data.len());
            self.keep(&data[..take]);
            self.remaining -= take as u64;
            data = &data[take..];
            if self.remaining == 0 {
                self.end_frame();
            }
        }
    }

    fn keep(&mut self, chunk: &[u8]) {
        let room = LOG_LINE_MAX.saturating_sub(self.kept.len());
        let k = room.min(chunk.len());
        self.kept.extend_from_slice(&chunk[..k]);
        self.dropped += (chunk.len() - k) as u64;
    }

    fn feed_raw<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        match memchr::memchr(b'\n', data) {
            Some(i) => {
                self.keep(&data[..=i]);
                self.stream = 1;
                self.end_frame();
                &data[i + 1..]
            }
            None => {
                self.keep(data);
                &[]
            }
        }
    }

    fn end_frame(&mut self) {
        self.in_frame = false;
        let mut line = std::mem::take(&mut self.kept);
        if self.dropped > 0 {
            let ends_nl = line.last() == Some(&b'\n');
            if ends_nl {
                line.truncate(line.len() - 1);
            }
            line.extend_from_slice(
                format!(
                    " [rcdiag: line cut at {} KiB, {} more bytes left out]\n",
                    LOG_LINE_MAX >> 10,
                    self.dropped
                )
                .as_bytes(),
            );
            self.dropped = 0;
        }
        let message = line.freeze();
        self.ready.push_back(match (self.mode, self.stream) {
            (Some(false), _) => LogOutput::Console { message },
            (_, 0) => LogOutput::StdIn { message },
            (_, 2) => LogOutput::StdErr { message },
            _ => LogOutput::StdOut { message },
        });
    }

    /// The end of the body: a partial raw line is emitted.
    pub fn finish(&mut self) {
        if (self.mode == Some(false) && !self.kept.is_empty()) || self.in_frame {
            self.end_frame();
        }
    }

    /// The next decoded item.
    pub fn next_item(&mut self) -> Option<LogOutput> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn frame(stream: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![stream, 0, 0, 0];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn all(d: &mut LogDecoder) -> Vec<LogOutput> {
        std::iter::from_fn(|| d.next_item()).collect()
    }

    #[test]
    fn frames_split_anywhere_decode_the_same() {
        let mut bytes = frame(1, b"2026-01-01T00:00:00Z a\n");
        bytes.extend(frame(2, b"2026-01-01T00:00:01Z b\n"));
        for cut in 0..bytes.len() {
            let mut d = LogDecoder::default();
            d.feed(&bytes[..cut]);
            d.feed(&bytes[cut..]);
            d.finish();
            let items = all(&mut d);
            assert_eq!(items.len(), 2, "cut at {cut}");
            assert!(
                matches!(&items[1], LogOutput::StdErr { message } if message.as_ref() == b"2026-01-01T00:00:01Z b\n")
            );
        }
    }

    #[test]
    fn a_huge_frame_keeps_64_kib_and_says_how_much_was_cut() {
        let mut d = LogDecoder::default();
        // A header claiming 4 GiB, then 10 MiB of it in chunks: memory stays bounded.
        d.feed(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            d.feed(&chunk);
            assert!(d.kept.capacity() <= 2 * LOG_LINE_MAX);
        }
        assert!(d.next_item().is_none(), "the frame is not over");
        d.finish();
        let items = all(&mut d);
        assert_eq!(items.len(), 1);
        let text = String::from_utf8_lossy(items[0].as_ref()).into_owned();
        assert!(text.starts_with("xxxx"));
        assert!(
            text.ends_with(&format!(
                " [rcdiag: line cut at 64 KiB, {} more bytes left out]\n",
                (10 << 20) - LOG_LINE_MAX
            )),
            "{}",
            &text[text.len() - 80..]
        );
        assert!(text.len() < LOG_LINE_MAX + 100);
    }

    #[test]
    fn raw_tty_streams_are_split_into_capped_lines() {
        let mut d = LogDecoder::default();
        d.feed(b"hello\nwor");
        d.feed(b"ld\n");
        let long = vec![b'y'; 200 << 10];
        d.feed(&long);
        d.feed(b"\ntail");
        d.finish();
        let items = all(&mut d);
        assert_eq!(items.len(), 4);
        assert_eq!(items[1].as_ref(), b"world\n");
        assert!(String::from_utf8_lossy(items[2].as_ref()).contains("line cut at 64 KiB"));
        assert_eq!(items[3].as_ref(), b"tail");
    }

    #[tokio::test]
    async fn capped_reads_fail_past_the_budget() {
        let data = vec![7u8; 3000];
        let mut r = Capped::new(&data[..], Some(1000));
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).await.unwrap_err();
        assert!(e.to_string().contains("reply too large"), "{e}");
        assert!(out.len() <= 1000);
        let mut r = Capped::new(&data[..], None);
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out.len(), 3000);
    }
}
