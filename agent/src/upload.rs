//! Upload of finished bundles to an HTTPS upload link from support (issue #14):
//! `rcdiag-agent upload FILE... --to URL` and `collect --upload URL`. One HTTP PUT per
//! file to a presigned URL (what S3, GCS, Azure SAS links and support portals accept),
//! streamed from disk with `Content-Length` and `Content-MD5` (and
//! `x-amz-checksum-sha256` when the link signs it), retried with backoff on 5xx and
//! network errors, cut by a per-attempt limit and a stall timeout. The query string of
//! a link is its signature, a credential: it is never printed nor put in an error.

use std::fmt::Write as _;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use rcdiag_agent::config::{self, human_bytes};
use reqwest::{StatusCode, Url};
use tokio::io::AsyncReadExt;

/// Tries per file when none is given.
pub const DEFAULT_TRIES: u32 = 4;
/// No byte taken by the server and no answer for this long cuts an attempt.
pub const DEFAULT_STALL: Duration = Duration::from_secs(60);
/// Longest attempt when none is given.
pub const DEFAULT_ATTEMPT: Duration = Duration::from_secs(3600);
/// Delay before the first retry (doubled for each next one); `RCDIAG_UPLOAD_BACKOFF`
/// overrides it (tests use `10ms`).
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
/// Environment variable overriding [`DEFAULT_BACKOFF`].
pub const BACKOFF_ENV: &str = "RCDIAG_UPLOAD_BACKOFF";
/// Bytes read from disk at a time.
const CHUNK: usize = 64 << 10;
/// Most bytes of a `--ca-file` read.
const MAX_CA_FILE: u64 = 1 << 20;
/// Most bytes of an error reply read (for S3's `<Code>`).
const MAX_ERROR_BODY: usize = 4 << 10;

/// Why an upload could not be done. `Usage` errors are found before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Bad options, link or file: nothing was sent (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// An upload was tried and failed (exit status 1; the file is kept).
    #[error("{0}")]
    Failed(String),
}

impl UploadError {
    /// True for errors found before anything was sent.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Usage(_))
    }
}

fn usage(msg: impl Into<String>) -> UploadError {
    UploadError::Usage(msg.into())
}

/// The TLS and plain-bundle options shared by `upload` and `collect --upload`.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct UploadOpts {
    /// Also trust the CA certificates in this PEM file for the upload (a TLS-inspecting
    /// proxy's CA, a private portal); the system's roots are always trusted.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Upload a plain (unencrypted) `.rcdiag.zip` too. Anyone who can read the storage
    /// behind the link can then read the bundle.
    #[arg(long)]
    pub allow_plain: bool,
}

/// `rcdiag-agent upload`.
#[derive(clap::Args, Debug)]
pub struct UploadArgs {
    /// The bundles to send (`.rcdiag`, encrypted).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// The upload link from support, in single quotes (https://...). A link ending in
    /// `/` gets each file's name appended; any other link takes one file.
    #[arg(long = "to", value_name = "URL")]
    pub to: String,
    #[command(flatten)]
    pub opts: UploadOpts,
    /// Tries per file, 1 to 10 (retries on server errors 5xx, 408, 429 and network errors).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TRIES,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub tries: u32,
    /// Cut an attempt when the server takes no byte and sends no answer for DURATION
    /// (1s to 1h).
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub stall_timeout: String,
    /// Time limit of one attempt, 1s to 7d.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub attempt_timeout: String,
}

/// How uploads are made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tries per file.
    pub tries: u32,
    /// Delay before the first retry, doubled for each next one.
    pub backoff: Duration,
    /// No progress for this long cuts an attempt.
    pub stall: Duration,
    /// Time limit of one attempt.
    pub attempt: Duration,
    /// Extra trusted CA certificates (PEM, checked).
    pub ca_pem: Option<Vec<u8>>,
    /// Plain bundles may be sent.
    pub allow_plain: bool,
}

impl Settings {
    /// Defaults (and `RCDIAG_UPLOAD_BACKOFF`) with `opts`; reads and checks the CA file.
    pub fn new(opts: &UploadOpts) -> Result<Self, UploadError> {
        let backoff = match std::env::var(BACKOFF_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                config::duration_in(BACKOFF_ENV, &v, (Duration::ZERO, Duration::from_secs(600)))
                    .map_err(usage)?
            }
            _ => DEFAULT_BACKOFF,
        };
        let ca_pem = opts.ca_file.as_deref().map(read_ca_file).transpose()?;
        Ok(Self {
            tries: DEFAULT_TRIES,
            backoff,
            stall: DEFAULT_STALL,
            attempt: DEFAULT_ATTEMPT,
            ca_pem,
            allow_plain: opts.allow_plain,
        })
    }
}

/// Reads a `--ca-file` and checks it holds at least one certificate.
fn read_ca_file(path: &Path) -> Result<Vec<u8>, UploadError> {
    let bad = |why: String| {
        usage(format!(
            "--ca-file {}: {why}: give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)",
            path.display()
        ))
    };
    // A FIFO or device would block the open or never end: regular files only.
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(bad("not a regular file".into())),
        Err(e) => return Err(bad(e.to_string())),
    }
    let f = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut pem = Vec::new();
    f.take(MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(bad("larger than 1 MiB".into()));
    }
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        Ok(_) => Err(bad("no certificate in it".into())),
        Err(e) => Err(bad(format!("not readable as PEM ({e})"))),
    }
}

/// An upload link, checked. Its query string is never shown.
#[derive(Clone)]
pub struct Link {
    url: Url,
    /// The link without query string, fragment or user info: safe to print.
    shown: String,
    /// The link signs `x-amz-checksum-sha256`: the header must be sent.
    sha256_header: bool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("shown", &self.shown).finish()
    }
}

impl Link {
    /// Parses and checks an upload link.
    pub fn parse(s: &str) -> Result<Self, UploadError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("s3://") {
            let bucket = rest.split('/').next().unwrap_or("");
            return Err(usage(format!(
                "s3:// links (bucket {bucket}) are not supported yet: ask support for a presigned https:// upload link"
            )));
        }
        let url = Url::parse(s).map_err(|e| {
            usage(format!(
                "the upload link is not a URL ({e}): copy the whole link support sent, in single quotes: --to 'https://...'"
            ))
        })?;
        let mut shown_url = url.clone();
        shown_url.set_query(None);
        shown_url.set_fragment(None);
        let _ = shown_url.set_username("");
        let _ = shown_url.set_password(None);
        let shown = shown_url.to_string();
        match url.scheme() {
            "https" => {}
            "http" => {
                return Err(usage(format!(
                    "{shown}: the upload link must be https:// (plain http would let anyone on the way see and change the bundle): ask support for an https:// link"
                )));
            }
            other => {
                return Err(usage(format!(
                    "{shown}: {other}:// links are not supported: ask support for an https:// upload link"
                )));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(usage(format!("{shown}: the upload link has no host")));
        }
        let keys: Vec<String> = url
            .query_pairs()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        let has = |k: &str| keys.iter().any(|x| x == k);
        let cut = (has("x-amz-algorithm") && !has("x-amz-signature"))
            || (has("x-goog-algorithm") && !has("x-goog-signature"))
            || (has("sv") && has("sr") && !has("sig"));
        if cut {
            return Err(usage(format!(
                "{shown}: the upload link looks cut short (its signature is missing): the shell cuts an unquoted link at the first &; put the whole link in single quotes: --to 'https://...'"
            )));
        }
        let sha256_header = url.query_pairs().any(|(k, v)| {
            k.eq_ignore_ascii_case("x-amz-signedheaders")
                && v.split(';')
                    .any(|h| h.trim().eq_ignore_ascii_case("x-amz-checksum-sha256"))
        });
        Ok(Self {
            url,
            shown,
            sha256_header,
        })
    }

    /// A folder link (path ending in `/`): each file's name is appended.
    pub fn is_folder(&self) -> bool {
        self.url.path().ends_with('/')
    }

    /// The link for the file named `name` (the same link unless it is a folder).
    fn for_file(&self, name: &str) -> Self {
        if !self.is_folder() {
            return self.clone();
        }
        let mut url = self.url.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push(name);
        }
        let mut shown_url = url.clone();
        shown_url.set_query(None);
        shown_url.set_fragment(None);
        let _ = shown_url.set_username("");
        let _ = shown_url.set_password(None);
        Self {
            shown: shown_url.to_string(),
            url,
            sha256_header: self.sha256_header,
        }
    }

    /// `text` with the link's query string (and the whole link) replaced, in case a
    /// lower layer put it in an error.
    fn scrub(&self, text: &str) -> String {
        let mut t = text.replace(self.url.as_str(), &self.shown);
        if let Some(q) = self.url.query().filter(|q| !q.is_empty()) {
            t = t.replace(q, "<query removed>");
        }
        t
    }
}

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Encrypted,
    Plain,
}

/// A file checked and hashed, ready to send.
struct Prepared {
    path: PathBuf,
    name: String,
    file: std::fs::File,
    size: u64,
    md5_b64: String,
    sha256: [u8; 32],
}

/// Opens `path`, checks it is a bundle that may be sent, and hashes it.
fn prepare(path: &Path, allow_plain: bool) -> Result<Prepared, UploadError> {
    let shown = path.display();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| usage(format!("{shown}: not a file name")))?
        .to_string();
    // Checked before opening: opening a FIFO would block.
    let not_regular = || {
        usage(format!(
            "{shown}: not a regular file: give the path of a bundle (.rcdiag)"
        ))
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(not_regular()),
        Err(e) => {
            return Err(usage(format!(
                "{shown}: {e}: give the path of a bundle to upload"
            )));
        }
    }
    let mut file = std::fs::File::open(path)
        .map_err(|e| usage(format!("{shown}: {e}: give the path of a bundle to upload")))?;
    let meta = file
        .metadata()
        .map_err(|e| usage(format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(usage(format!("{shown}: {e}"))),
        }
    }
    let head = &head[..n];
    let kind = if head.starts_with(b"age-encryption.org/")
        || head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    {
        Kind::Encrypted
    } else if head.starts_with(b"PK\x03\x04") {
        Kind::Plain
    } else {
        return Err(usage(format!(
            "{shown}: not an rcdiag bundle (neither age-encrypted nor a ZIP): upload the .rcdiag file that `rcdiag-agent collect` wrote"
        )));
    };
    if kind == Kind::Plain {
        if !allow_plain {
            return Err(usage(format!(
                "{shown} is not encrypted: only encrypted bundles are uploaded. Encrypt it to support first \
                 (rcdiag-agent seal {shown} -r <support key>) and upload the .rcdiag; or pass --allow-plain \
                 if anyone who can read the storage behind the link may read the bundle"
            )));
        }
        eprintln!(
            "rcdiag-agent: warning: {shown} is not encrypted (--allow-plain): anyone who can read the storage behind the upload link can read the bundle"
        );
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| usage(format!("{shown}: {e}")))?;
    let (size, md5, sha) = hash(&mut file).map_err(|e| usage(format!("{shown}: {e}")))?;
    Ok(Prepared {
        path: path.to_path_buf(),
        name,
        file,
        size,
        md5_b64: base64::engine::general_purpose::STANDARD.encode(md5),
        sha256: sha,
    })
}

/// Size, MD5 and SHA-256 of what is left of `f`.
fn hash(f: &mut std::fs::File) -> std::io::Result<(u64, [u8; 16], [u8; 32])> {
    use md5::Digest as _;
    use sha2::Digest as _;
    let mut md5 = md5::Md5::new();
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
        size += n as u64;
    }
    let mut m = [0u8; 16];
    m.copy_from_slice(&md5.finalize());
    Ok((size, m, sha.finalize().into()))
}

/// Where progress and the result lines go.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// The "uploaded ..." lines go to stdout (else stderr).
    pub result_on_stdout: bool,
    /// A live progress line (stderr is a terminal).
    pub live: bool,
    /// No progress: neither the live line nor the "sent" summary (`collect -q`).
    pub quiet: bool,
}

impl Output {
    /// Results on stdout or stderr; live progress when stderr is a terminal and not `quiet`.
    pub fn auto(result_on_stdout: bool, quiet: bool) -> Self {
        Self {
            result_on_stdout,
            live: !quiet && std::io::stderr().is_terminal(),
            quiet,
        }
    }
}

/// One file sent.
#[derive(Debug)]
pub struct Sent {
    /// Where (without query string).
    pub to: String,
    /// Bytes sent.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

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
fn client(s: &Settings) -> Result<reqwest::Client, UploadError> {
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

/// An error and its sources, joined (no URL: callers pass `without_url()` errors).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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
fn refusal(status: StatusCode, code: Option<&str>, size: u64) -> String {
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
fn s3_code(body: &[u8]) -> Option<String> {
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
                    rcdiag_agent::run::humantime(s.attempt)
                )));
            }
            _ = tick.tick() => {
                if out.live {
                    live_line(&p.name, act.sent.load(Ordering::Relaxed), p.size);
                }
                if act.idle() >= s.stall {
                    return Err(Failure::Transient(format!(
                        "the server stopped reading or answering for {} after {} of {} (--stall-timeout)",
                        rcdiag_agent::run::humantime(s.stall),
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
async fn send_one(
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
                eprintln!(
                    "upload: {}: try {n} of {} failed: {}; retrying in {}",
                    p.name,
                    s.tries,
                    link.scrub(&m),
                    rcdiag_agent::run::humantime(delay)
                );
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
async fn interrupted() -> &'static str {
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

/// Checks every file first (nothing is sent if one is refused), then sends them in order.
/// Returns what was sent; the first failure stops the run.
pub fn upload_files(
    files: &[PathBuf],
    link: &Link,
    s: &Settings,
    out: Output,
) -> Result<Vec<Sent>, UploadError> {
    if files.len() > 1 && !link.is_folder() {
        return Err(usage(format!(
            "{}: a presigned link names one object: give one FILE per link (or a folder link ending in /)",
            link.shown
        )));
    }
    let prepared = files
        .iter()
        .map(|f| prepare(f, s.allow_plain))
        .collect::<Result<Vec<_>, _>>()?;
    let client = client(s)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UploadError::Failed(format!("cannot start the upload: {e}")))?;
    let mut sent = Vec::new();
    for p in &prepared {
        let target = link.for_file(&p.name);
        let r = rt.block_on(async {
            tokio::select! {
                r = send_one(&client, p, &target, s, out) => r,
                sig = interrupted() => {
                    if out.live {
                        eprint!("\r\x1b[2K");
                    }
                    Err(UploadError::Failed(format!(
                        "interrupted by {sig} before the server confirmed the upload of {} to {}: the file is kept; upload it again",
                        p.path.display(),
                        target.shown
                    )))
                }
            }
        })?;
        let line = format!(
            "uploaded {} to {} ({} bytes, sha256 {})",
            p.path.display(),
            r.to,
            r.size,
            r.sha256
        );
        if out.result_on_stdout {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
        sent.push(r);
    }
    Ok(sent)
}

/// `rcdiag-agent upload`: exit 0 every file sent, 1 an upload failed, 2 invalid options
/// or a file refused (nothing sent).
pub fn upload_cmd(a: &UploadArgs) -> ExitCode {
    match upload_cmd_inner(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rcdiag-agent: error: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

fn upload_cmd_inner(a: &UploadArgs) -> Result<(), UploadError> {
    let link = Link::parse(&a.to)?;
    let mut s = Settings::new(&a.opts)?;
    s.tries = a.tries;
    s.stall = config::duration_in(
        "--stall-timeout",
        &a.stall_timeout,
        (Duration::from_secs(1), Duration::from_secs(3600)),
    )
    .map_err(usage)?;
    s.attempt = config::duration_in(
        "--attempt-timeout",
        &a.attempt_timeout,
        config::TIMEOUT_RANGE,
    )
    .map_err(usage)?;
    upload_files(&a.files, &link, &s, Output::auto(true, false)).map(|_| ())
}

/// `argv` with the query string of `--upload URL` (or `--upload=URL`) replaced, for the
/// copy of the command line recorded in the bundle (`agent/run.json`): the redaction
/// rules know common signature parameters, this knows them all.
pub fn scrub_argv(argv: Vec<String>) -> Vec<String> {
    let strip = |v: &str| match v.find(['?', '#']) {
        Some(i) => format!("{}?<query removed>", &v[..i]),
        None => v.to_string(),
    };
    let mut out = Vec::with_capacity(argv.len());
    let mut next_is_link = false;
    for a in argv {
        if next_is_link {
            out.push(strip(&a));
            next_is_link = false;
        } else if let Some(v) = a.strip_prefix("--upload=") {
            out.push(format!("--upload={}", strip(v)));
        } else {
            next_is_link = a == "--upload";
            out.push(a);
        }
    }
    out
}

/// The upload of `collect --upload`, checked before collecting.
#[derive(Debug)]
pub struct AfterCollect {
    link: Link,
    settings: Settings,
}

/// Exit status of `collect` when the bundle was written but its upload failed.
pub const EXIT_UPLOAD_FAILED: u8 = 4;

impl AfterCollect {
    /// Checks `--upload URL` and its options before anything is collected. `None` when
    /// there is nothing to upload; an error is a usage error (exit 2, nothing written).
    pub fn prepare(
        url: Option<&str>,
        opts: &UploadOpts,
        no_encrypt: bool,
    ) -> Result<Option<Self>, UploadError> {
        let Some(url) = url else {
            if opts.ca_file.is_some() || opts.allow_plain {
                return Err(usage(
                    "--ca-file and --allow-plain only apply with --upload URL",
                ));
            }
            return Ok(None);
        };
        let link = Link::parse(url)?;
        if no_encrypt && !opts.allow_plain {
            return Err(usage(
                "--upload with --no-encrypt would send a plain bundle: only encrypted bundles are uploaded. \
                 Drop --no-encrypt (and give support's key with -r), or add --allow-plain if anyone who can \
                 read the storage behind the link may read the bundle",
            ));
        }
        let settings = Settings::new(opts)?;
        Ok(Some(Self { link, settings }))
    }

    /// Where it goes (no query string), for `--dry-run`.
    pub fn describe(&self) -> String {
        format!("upload: PUT to {}", self.link.shown)
    }

    /// Uploads the bundle just written; `code` is collect's exit status otherwise. A
    /// failed upload keeps the bundle and makes the status [`EXIT_UPLOAD_FAILED`].
    /// `quiet` (`-q`) drops the progress, not the result line nor retries and errors.
    pub fn run(&self, bundle: &Path, code: ExitCode, quiet: bool) -> ExitCode {
        let files = [bundle.to_path_buf()];
        let out = Output::auto(false, quiet);
        match upload_files(&files, &self.link, &self.settings, out) {
            Ok(_) => code,
            Err(e) => {
                eprintln!(
                    "rcdiag-agent: error: {e}\nrcdiag-agent: the bundle is kept at {}",
                    bundle.display()
                );
                ExitCode::from(EXIT_UPLOAD_FAILED)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_hides_query_and_user() {
        let l = Link::parse("https://u:pw@h.example/b/k.rcdiag?X-Amz-Signature=SECRET#f").unwrap();
        assert_eq!(l.shown, "https://h.example/b/k.rcdiag");
        assert!(!format!("{l:?}").contains("SECRET"));
        assert_eq!(
            l.scrub("x https://u:pw@h.example/b/k.rcdiag?X-Amz-Signature=SECRET#f y"),
            "x https://h.example/b/k.rcdiag y"
        );
        assert_eq!(l.scrub("q=X-Amz-Signature=SECRET"), "q=<query removed>");
    }

    #[test]
    fn link_refusals() {
        for (u, want) in [
            ("http://h/x", "must be https://"),
            ("s3://bucket/key", "not supported yet"),
            ("ftp://h/x", "not supported"),
            ("not a url", "not a URL"),
            ("https://h/x?X-Amz-Algorithm=AWS4-HMAC-SHA256", "cut short"),
            ("https://h/x?X-Goog-Algorithm=GOOG4", "cut short"),
            ("https://h/x?sv=2022&sr=b", "cut short"),
        ] {
            let e = Link::parse(u).unwrap_err();
            assert!(e.is_usage());
            assert!(e.to_string().contains(want), "{u}: {e}");
        }
        assert!(Link::parse("https://h/x?sv=2022&sr=b&sig=abc").is_ok());
    }

    #[test]
    fn recorded_argv_has_no_query() {
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            scrub_argv(argv(&[
                "rcdiag-agent",
                "collect",
                "--upload",
                "https://h/k?X-Goog-Signature=abc",
                "--upload=https://h/j#frag",
                "-o",
                "https://not/a?link"
            ])),
            argv(&[
                "rcdiag-agent",
                "collect",
                "--upload",
                "https://h/k?<query removed>",
                "--upload=https://h/j?<query removed>",
                "-o",
                "https://not/a?link"
            ])
        );
    }

    #[test]
    fn signed_checksum_header() {
        let l = Link::parse(
            "https://h/x?X-Amz-Algorithm=A&X-Amz-SignedHeaders=host%3Bx-amz-checksum-sha256&X-Amz-Signature=s",
        )
        .unwrap();
        assert!(l.sha256_header);
        let l =
            Link::parse("https://h/x?X-Amz-SignedHeaders=host&X-Amz-Algorithm=A&X-Amz-Signature=s")
                .unwrap();
        assert!(!l.sha256_header);
    }

    #[test]
    fn folder_links_get_the_name() {
        let l = Link::parse("https://h/up/?sig=1").unwrap();
        let f = l.for_file("a b.rcdiag");
        assert_eq!(f.shown, "https://h/up/a%20b.rcdiag");
        assert_eq!(f.url.query(), Some("sig=1"));
        let l = Link::parse("https://h/up/obj?sig=1").unwrap();
        assert_eq!(l.for_file("x").shown, "https://h/up/obj");
    }

    #[test]
    fn s3_error_codes() {
        assert_eq!(
            s3_code(b"<Error><Code>AccessDenied</Code><Message>m</Message></Error>").as_deref(),
            Some("AccessDenied")
        );
        assert_eq!(s3_code(b"<Code>a b<x></Code>"), None);
        assert_eq!(s3_code(b"\xff<Code>"), None);
        assert_eq!(
            s3_code(b"\xff<Code>SlowDown</Code>\xe2\x82").as_deref(),
            Some("SlowDown")
        );
        assert!(
            refusal(StatusCode::FORBIDDEN, Some("AccessDenied"), 1).contains("new upload link")
        );
        assert!(refusal(StatusCode::PAYLOAD_TOO_LARGE, None, 1).contains("too large"));
    }
}
