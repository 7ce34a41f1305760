//! Upload of finished bundles to an HTTPS upload link from support (issue #14):
//! `rcdiag-agent upload FILE... --to URL` and `collect --upload URL`. One HTTP PUT per
//! file to a presigned URL (what S3, GCS, Azure SAS links and support portals accept),
//! streamed from disk with `Content-Length` and `Content-MD5` (and
//! `x-amz-checksum-sha256` when the link signs it), retried with backoff on 5xx and
//! network errors, cut by a per-attempt limit and a stall timeout. The query string of
//! a link is its signature, a credential: it is never printed nor put in an error.
//!
//! [`link`] checks a link and hides its query string, [`prepare`] checks and hashes a
//! file, [`send`] makes the PUTs with their retries; this module runs them in order.

mod link;
mod prepare;
mod send;
#[cfg(test)]
mod tests;

pub use link::Link;

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
