//! Upload of finished bundles (issue #14): `rcdiag-agent upload FILE... --to TARGET`,
//! `collect --upload TARGET` and `schedule --upload TARGET`. A target is an HTTPS upload
//! link from support or an `s3://bucket/prefix/` ([`s3`]). To a link: one HTTP PUT per
//! file to a presigned URL (what S3, GCS, Azure SAS links and support portals accept),
//! streamed from disk with `Content-Length` and `Content-MD5` (and
//! `x-amz-checksum-sha256` when the link signs it), retried with backoff on 5xx and
//! network errors, cut by a per-attempt limit and a stall timeout. The query string of
//! a link is its signature, a credential: it is never printed nor put in an error.
//!
//! `link` checks a link and hides its query string, `prepare` checks and hashes a
//! file, `send` makes the PUTs with their retries, `s3` sends to a bucket (with
//! `aws_profile` for the shared profile files); this module runs them in order.

mod aws_profile;
mod link;
mod prepare;
pub mod s3;
mod send;
#[cfg(test)]
mod tests;

pub use link::Link;
pub use s3::S3Target;

/// Where bundles go: an HTTPS upload link or an S3 bucket and prefix.
#[derive(Debug, Clone)]
pub enum Target {
    /// A presigned (or portal) HTTPS PUT link.
    Https(Link),
    /// `s3://bucket/prefix/`.
    S3(S3Target),
}

impl Target {
    /// Parses `https://...` or `s3://bucket/prefix/`.
    pub fn parse(s: &str) -> Result<Self, UploadError> {
        if s.trim_start().starts_with("s3://") {
            S3Target::parse(s).map(Self::S3)
        } else {
            Link::parse(s).map(Self::Https)
        }
    }

    /// Safe to print and record: no query string.
    pub fn shown(&self) -> String {
        match self {
            Self::Https(l) => l.shown.clone(),
            Self::S3(t) => t.shown(),
        }
    }

    /// Takes several files, each under its own name (a folder link, or a bucket prefix).
    pub fn is_folder(&self) -> bool {
        match self {
            Self::Https(l) => l.is_folder(),
            Self::S3(_) => true,
        }
    }

    /// The target for one node of a fleet: `s3://bucket/prefix/NODE/`. A link is kept as
    /// it is (the link names its own place).
    pub fn for_node(&self, node: &str) -> Self {
        match self {
            Self::Https(l) => Self::Https(l.clone()),
            Self::S3(t) => Self::S3(t.with_sub_prefix(node)),
        }
    }
}

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::config;
use prepare::prepare;
use send::{client, interrupted, send_one};

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
pub(crate) const CHUNK: usize = 64 << 10;
/// Most bytes of a `--ca-file` read.
const MAX_CA_FILE: u64 = 1 << 20;
/// Most bytes of an error reply read (for S3's `<Code>`).
pub(crate) const MAX_ERROR_BODY: usize = 4 << 10;

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

pub(crate) fn usage(msg: impl Into<String>) -> UploadError {
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

/// Where progress and the result lines go.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// The "uploaded ..." lines go to stdout (else stderr).
    pub result_on_stdout: bool,
    /// A live progress line (stderr is a terminal).
    pub live: bool,
    /// No progress: neither the live line nor the "sent" summary (`collect -q`).
    pub quiet: bool,
    /// Not even the result line (the scheduler logs its own).
    pub silent: bool,
}

impl Output {
    /// Results on stdout or stderr; live progress when stderr is a terminal and not `quiet`.
    pub fn auto(result_on_stdout: bool, quiet: bool) -> Self {
        Self {
            result_on_stdout,
            live: !quiet && std::io::stderr().is_terminal(),
            quiet,
            silent: false,
        }
    }

    /// Nothing printed: the scheduler logs the outcome itself.
    pub fn silent() -> Self {
        Self {
            result_on_stdout: false,
            live: false,
            quiet: true,
            silent: true,
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

/// Checks every file first (nothing is sent if one is refused), then sends them in order.
/// Returns what was sent; the first failure stops the run. Makes its own runtime: call
/// it outside one (see [`upload_files_async`]).
pub fn upload_files(
    files: &[PathBuf],
    target: &Target,
    s: &Settings,
    out: Output,
) -> Result<Vec<Sent>, UploadError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UploadError::Failed(format!("cannot start the upload: {e}")))?;
    rt.block_on(async {
        tokio::select! {
            r = upload_files_async(files, target, s, out) => r,
            sig = interrupted() => {
                if out.live {
                    eprint!("\r\x1b[2K");
                }
                Err(UploadError::Failed(format!(
                    "interrupted by {sig} before the upload to {} was confirmed: {}",
                    target.shown(),
                    if files.len() == 1 { "the file is kept; upload it again" } else { "the files are kept; upload them again" }
                )))
            }
        }
    })
}

/// [`upload_files`] inside a runtime, without listening to signals (the caller does).
pub async fn upload_files_async(
    files: &[PathBuf],
    target: &Target,
    s: &Settings,
    out: Output,
) -> Result<Vec<Sent>, UploadError> {
    if files.len() > 1 && !target.is_folder() {
        return Err(usage(format!(
            "{}: a presigned link names one object: give one FILE per link (or a folder link ending in /)",
            target.shown()
        )));
    }
    let prepared = files
        .iter()
        .map(|f| prepare(f, s.allow_plain, true))
        .collect::<Result<Vec<_>, _>>()?;
    let sender = Sender::new(target, s)?;
    let mut sent = Vec::new();
    for p in &prepared {
        let r = sender.send(p, s, out).await?;
        let line = format!(
            "uploaded {} to {} ({} bytes, sha256 {})",
            p.path.display(),
            r.to,
            r.size,
            r.sha256
        );
        if out.result_on_stdout {
            println!("{line}");
        } else if !out.silent {
            eprintln!("{line}");
        }
        sent.push(r);
    }
    Ok(sent)
}

/// The client of one target, made once for several files.
pub(crate) enum Sender {
    Https(reqwest::Client, Link),
    S3(s3::Store),
}

impl Sender {
    /// Sets up the client (usage errors only).
    pub(crate) fn new(target: &Target, s: &Settings) -> Result<Self, UploadError> {
        Ok(match target {
            Target::Https(l) => Self::Https(client(s)?, l.clone()),
            Target::S3(t) => Self::S3(s3::Store::new(t, s)?),
        })
    }

    async fn send(
        &self,
        p: &prepare::Prepared,
        s: &Settings,
        out: Output,
    ) -> Result<Sent, UploadError> {
        match self {
            Self::Https(c, l) => send_one(c, p, &l.for_file(&p.name), s, out).await,
            Self::S3(st) => st.send(p, out).await,
        }
    }

    /// Checks and sends one file (for the scheduler, which holds one `Sender`).
    pub(crate) async fn send_file(
        &self,
        path: &Path,
        s: &Settings,
        out: Output,
    ) -> Result<Sent, UploadError> {
        let p = prepare(path, s.allow_plain, !out.silent)?;
        self.send(&p, s, out).await
    }
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
    target: Target,
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
        let target = Target::parse(url)?;
        if no_encrypt && !opts.allow_plain {
            return Err(usage(
                "--upload with --no-encrypt would send a plain bundle: only encrypted bundles are uploaded. \
                 Drop --no-encrypt (and give support's key with -r), or add --allow-plain if anyone who can \
                 read the storage behind the link may read the bundle",
            ));
        }
        let settings = Settings::new(opts)?;
        Ok(Some(Self { target, settings }))
    }

    /// Where it goes (no query string), for `--dry-run`.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Https(l) => format!("upload: PUT to {}", l.shown),
            Target::S3(t) => format!(
                "upload: to {} (object key: the bundle's file name)",
                t.shown()
            ),
        }
    }

    /// Uploads the bundle just written; `code` is collect's exit status otherwise. A
    /// failed upload keeps the bundle and makes the status [`EXIT_UPLOAD_FAILED`].
    /// `quiet` (`-q`) drops the progress, not the result line nor retries and errors.
    pub fn run(&self, bundle: &Path, code: ExitCode, quiet: bool) -> ExitCode {
        let files = [bundle.to_path_buf()];
        let out = Output::auto(false, quiet);
        match upload_files(&files, &self.target, &self.settings, out) {
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
