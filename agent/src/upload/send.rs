//! The PUTs of one file: the HTTPS client, one attempt with its stall watchdog and
//! limit, the retries with backoff, and what a failure means in words.

use std::fmt::Write as _;
use std::io::{SeekFrom, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;

use super::link::Link;
use super::prepare::Prepared;
use super::{CHUNK, MAX_ERROR_BODY, Output, Sent, Settings, UploadError, usage};
use crate::config::human_bytes;

/// How one attempt ended, when it did not succeed.
enum Failure {
    /// Worth another try.
    Transient(String),
    /// Not: the message says what to do.
    Fatal(String),
}

/// Progress shared between the body stream and the watchdog.
struct Activity {
    start: Instant,
    sent: AtomicU64,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            sent: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
        }
    }
    fn note(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// Builds the HTTPS client: rustls, the system's roots plus the CA file, proxies from
/// the environment, no redirects followed (a redirect would send the body elsewhere).
pub(super) fn client(s: &Settings) -> Result<reqwest::Client, UploadError> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_native_certs(true)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(s.stall.min(Duration::from_secs(30)))
        .user_agent(concat!("rcdiag-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &s.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| usage(format!("--ca-file: {e}")))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| {
        usage(format!(
            "cannot set up HTTPS ({}): check the system's CA certificates (SSL_CERT_FILE) or give --ca-file",
            chain(&e.without_url())
        ))
    })
}

/// An error and its sources, joined, each source once (reqwest callers pass
/// `without_url()` errors, so no signed link is shown; the S3 target uses it too).
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            let _ = write!(out, ": {t}");
        }
        src = s.source();
    }
    out
}

/// Why a request failed, in words, and whether to try again.
fn classify_error(e: reqwest::Error, link: &Link, ca_given: bool) -> Failure {
    let timeout = e.is_timeout();
    let connect = e.is_connect();
    let text = link.scrub(&chain(&e.without_url()));
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        return Failure::Fatal(format!(
            "the server's TLS certificate is not trusted ({text}): if your network inspects TLS, give its CA with --ca-file PEM{}",
            if ca_given {
                " (the --ca-file given does not vouch for it)"
            } else {
                ""
            }
        ));
    }
    if connect && lower.contains("tunnel") {
        Failure::Transient(format!(
            "could not connect through the proxy of HTTPS_PROXY ({text}): check the proxy, or set NO_PROXY for this host"
        ))
    } else if connect {
        Failure::Transient(format!("could not connect ({text})"))
    } else if timeout {
        Failure::Transient(format!("timed out ({text})"))
    } else {
        Failure::Transient(format!("network error ({text})"))
    }
}

/// What a refusal means, and what to do.
pub(super) fn refusal(status: StatusCode, code: Option<&str>, size: u64) -> String {
    let s = status.as_u16();
    let code = code.map(|c| format!(", {c}")).unwrap_or_default();
    match s {
        401 | 403 => format!(
            "the upload link was refused (HTTP {s}{code}: expired or wrong): ask support for a new upload link"
        ),
        404 => format!(
            "the upload location does not exist (HTTP 404{code}): check that the whole link was copied, or ask support for a new upload link"
        ),
        413 => format!(
            "the server refused the file as too large (HTTP 413{code}, {}): ask support for a link that accepts larger files, or collect less (--since, --log-bytes)",
            human_bytes(size)
        ),
        300..=399 => format!(
            "the upload link redirects (HTTP {s}), which rcdiag does not follow: ask support for a direct upload link"
        ),
        _ => format!(
            "the server refused the upload (HTTP {s}{code}): ask support for a new upload link, quoting this error"
        ),
    }
}

/// The `<Code>` of an S3-style XML error body, when it is a plain word.
pub(super) fn s3_code(body: &[u8]) -> Option<String> {
    // Lossy: the body may be cut inside a character.
    let t = String::from_utf8_lossy(body);
    let start = t.find("<Code>")? + "<Code>".len();
    let end = t[start..].find("</Code>")? + start;
    let c = t[start..end].trim();
    (!c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric()))
        .then(|| c.to_string())
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of a reply, within `limit`.
async fn error_body(mut resp: reqwest::Response, limit: Duration) -> Vec<u8> {
    let mut body = Vec::new();
    let read = async {
        while body.len() < MAX_ERROR_BODY {
            match resp.chunk().await {
                Ok(Some(c)) => body.extend_from_slice(&c),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(limit, read).await;
    body.truncate(MAX_ERROR_BODY);
    body
}

/// One PUT of `p` to `link`.
async fn attempt(
    client: &reqwest::Client,
    p: &Prepared,
    link: &Link,
    s: &Settings,
    out: Output,
) -> Result<(), Failure> {
    let std_file = p
        .file
        .try_clone()
        .map_err(|e| Failure::Fatal(format!("{}: {e}", p.path.display())))?;
    let mut file = tokio::fs::File::from_std(std_file);
    tokio::io::AsyncSeekExt::seek(&mut file, SeekFrom::Start(0))
        .await
        .map_err(|e| Failure::Fatal(format!("{}: {e}", p.path.display())))?;
    let act = Arc::new(Activity::new());
    let stream_act = act.clone();
    let body = futures_util::stream::try_unfold(
        (file, p.size, stream_act),
        |(mut f, left, act)| async move {
            if left == 0 {
                return Ok(None);
            }
            let mut buf = vec![0u8; left.min(CHUNK as u64) as usize];
            let n = f.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file got shorter while it was sent",
                ));
            }
            buf.truncate(n);
            act.note(n);
            Ok::<_, std::io::Error>(Some((Bytes::from(buf), (f, left - n as u64, act))))
        },
    );
    let mut req = client
        .put(link.url.clone())
        .header(reqwest::header::CONTENT_LENGTH, p.size)
        .header("Content-MD5", &p.md5_b64)
        .body(reqwest::Body::wrap_stream(body));
    if link.sha256_header {
        req = req.header(
            "x-amz-checksum-sha256",
            base64::engine::general_purpose::STANDARD.encode(p.sha256),
        );
    }
    let send = req.send();
    tokio::pin!(send);
    let deadline = tokio::time::sleep(s.attempt);
    tokio::pin!(deadline);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let result = loop {
        tokio::select! {
            r = &mut send => break r,
            _ = &mut deadline => {
                return Err(Failure::Transient(format!(
                    "the attempt took longer than its limit of {} (--attempt-timeout)",
                    crate::run::humantime(s.attempt)
                )));
            }
            _ = tick.tick() => {
                if out.live {
                    live_line(&p.name, act.sent.load(Ordering::Relaxed), p.size);
                }
                if act.idle() >= s.stall {
                    return Err(Failure::Transient(format!(
                        "the server stopped reading or answering for {} after {} of {} (--stall-timeout)",
                        crate::run::humantime(s.stall),
                        human_bytes(act.sent.load(Ordering::Relaxed)),
                        human_bytes(p.size)
                    )));
                }
            }
        }
    };
    let resp = result.map_err(|e| classify_error(e, link, s.ca_pem.is_some()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        return Err(Failure::Transient(format!(
            "server error HTTP {}{}",
            status.as_u16(),
            status
                .canonical_reason()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )));
    }
    let body = error_body(resp, s.stall.min(Duration::from_secs(5))).await;
    Err(Failure::Fatal(refusal(
        status,
        s3_code(&body).as_deref(),
        p.size,
    )))
}

fn live_line(name: &str, sent: u64, size: u64) {
    let pct = (sent.saturating_mul(100)).checked_div(size).unwrap_or(100);
    let mut e = std::io::stderr().lock();
    let _ = write!(
        e,
        "\r\x1b[2Kupload: {name}  {} of {}  {pct}%",
        human_bytes(sent),
        human_bytes(size)
    );
    let _ = e.flush();
}

/// Sends one prepared file, with retries.
pub(super) async fn send_one(
    client: &reqwest::Client,
    p: &Prepared,
    link: &Link,
    s: &Settings,
    out: Output,
) -> Result<Sent, UploadError> {
    let started = Instant::now();
    let mut delay = s.backoff;
    for n in 1..=s.tries {
        let r = attempt(client, p, link, s, out).await;
        if out.live {
            eprint!("\r\x1b[2K");
        }
        match r {
            Ok(()) if out.quiet => {
                return Ok(Sent {
                    to: link.shown.clone(),
                    size: p.size,
                    sha256: hex::encode(p.sha256),
                });
            }
            Ok(()) => {
                eprintln!(
                    "upload: {}: sent {} in {:.1} s ({})",
                    p.name,
                    human_bytes(p.size),
                    started.elapsed().as_secs_f64(),
                    if n == 1 {
                        "first try".to_string()
                    } else {
                        format!("try {n} of {}", s.tries)
                    }
                );
                return Ok(Sent {
                    to: link.shown.clone(),
                    size: p.size,
                    sha256: hex::encode(p.sha256),
                });
            }
            Err(Failure::Fatal(m)) => {
                return Err(UploadError::Failed(link.scrub(&format!(
                    "upload of {} to {} failed: {m}; the file is kept",
                    p.path.display(),
                    link.shown
                ))));
            }
            Err(Failure::Transient(m)) if n < s.tries => {
                if !out.silent {
                    eprintln!(
                        "upload: {}: try {n} of {} failed: {}; retrying in {}",
                        p.name,
                        s.tries,
                        link.scrub(&m),
                        crate::run::humantime(delay)
                    );
                }
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            Err(Failure::Transient(m)) => {
                return Err(UploadError::Failed(link.scrub(&format!(
                    "upload of {} to {} failed after {} {}: {m}; the file is kept. Try again later with \
                     `rcdiag-agent upload {} --to '<the upload link>'`, or ask support for a new link",
                    p.path.display(),
                    link.shown,
                    s.tries,
                    if s.tries == 1 { "try" } else { "tries" },
                    p.path.display()
                ))));
            }
        }
    }
    Err(UploadError::Failed(format!(
        "upload of {}: no try was made (--tries must be at least 1)",
        p.path.display()
    )))
}

/// Resolves on SIGTERM or SIGINT (never, when they cannot be listened to). The agent's
/// collect run has replaced their default action already, so the upload listens itself.
pub(super) async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return "a signal";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
