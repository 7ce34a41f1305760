//! `s3://bucket/prefix/` arguments: the objects under the prefix whose key ends in a
//! standard bundle name (`rcdiag-<host>-<yyyymmddThhmmssZ>[-case].rcdiag[.zip]`) are
//! fetched, each under the same size budget as a bundle file, into a private temporary
//! folder (mode 0700; the bundles stay encrypted there), and checked from there like
//! local files. The listing is capped ([`MAX_LISTED`]); keys that are not bundle names
//! are skipped with a note. Credentials: the standard AWS environment
//! (`AWS_ACCESS_KEY_ID`...), web identity, the container's or the instance's role;
//! `AWS_REGION`, `AWS_ENDPOINT_URL` (https only); the endpoint's CA with `--ca-file`.
//! Profile files (`~/.aws/credentials`) are not read: export a profile's keys first
//! (`aws configure export-credentials --profile NAME --format env`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use tokio::io::AsyncWriteExt;

/// Most objects listed under one prefix.
pub const MAX_LISTED: usize = 10_000;
/// Most bytes of one object: the largest uncompressed bundle the reader accepts
/// (`Limits::max_total_size`), so an object is never read past what its file would be.
pub const MAX_OBJECT: u64 = 8 << 30;
/// Objects fetched at once.
const FETCH_CONCURRENCY: usize = 4;
/// Longest one request may take, its body included (object_store's default is 30 s,
/// too short for a large bundle on a slow link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// How to read a bucket (`check --ca-file`, `--max-object-size`).
#[derive(Debug, Clone)]
pub struct Options {
    /// PEM of the CA that signed the endpoint's certificate, trusted besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Largest object fetched; larger ones are skipped with a note.
    pub max_object: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ca_pem: None,
            max_object: MAX_OBJECT,
        }
    }
}

static BUNDLE_NAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^rcdiag-[A-Za-z0-9._-]+-[0-9]{8}T[0-9]{6}Z(?:-[A-Za-z0-9._-]+)?\.rcdiag(?:\.zip)?$",
    )
    .expect("the bundle name pattern compiles")
});

/// Why bundles could not be had from a bucket.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The argument is not a usable `s3://` location.
    #[error("{0}")]
    Usage(String),
    /// Listing or fetching failed.
    #[error("{0}")]
    Fetch(String),
}

/// `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Bucket.
    pub bucket: String,
    /// Prefix (no leading or trailing `/`), possibly empty.
    pub prefix: String,
}

impl Location {
    /// Parses `s3://bucket[/prefix[/]]`.
    pub fn parse(s: &str) -> Result<Self, S3Error> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| S3Error::Usage(format!("{s}: not an s3:// location")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !ok {
            return Err(S3Error::Usage(format!(
                "s3://{bucket}: not a valid bucket name (3 to 63 of a-z, 0-9, '.', '-'): give s3://BUCKET/PREFIX/"
            )));
        }
        let segs: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
        if segs.iter().any(|p| *p == "." || *p == "..") {
            return Err(S3Error::Usage(format!(
                "s3://{bucket}/{prefix}: '.' and '..' are not allowed in the prefix"
            )));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: segs.join("/"),
        })
    }

    fn shown(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}/", self.bucket)
        } else {
            format!("s3://{}/{}/", self.bucket, self.prefix)
        }
    }
}

/// Whether a command-line argument names a bucket location.
pub fn is_s3(p: &Path) -> bool {
    p.to_str().is_some_and(|s| s.starts_with("s3://"))
}

/// Whether `name` is a standard bundle file name.
pub fn is_bundle_name(name: &str) -> bool {
    BUNDLE_NAME.is_match(name)
}

/// The bundles of the arguments, in order: local paths as given, each `s3://` argument
/// replaced by the bundles fetched from under it (sorted by key).
pub struct Expanded {
    /// Paths to check.
    pub paths: Vec<PathBuf>,
    /// For each path fetched from a bucket, where it came from (`s3://bucket/key`).
    pub origins: Vec<Option<String>>,
    /// Keys skipped that are not bundle names, with why (not escaped: print them
    /// escaped). They do not change the verdict.
    pub notes: Vec<String>,
    /// Bundles skipped (larger than the cap), with why: like a bundle that cannot be
    /// read, they make a pass an unknown.
    pub skipped: Vec<String>,
    /// The temporary folder holding fetched bundles (removed when dropped).
    pub tmp: Option<tempfile::TempDir>,
}

/// Expands the `s3://` arguments of `args`; without one, returns `args` as they are.
pub fn expand(args: &[PathBuf], opts: &Options) -> Result<Expanded, S3Error> {
    let mut out = Expanded {
        paths: Vec::new(),
        origins: Vec::new(),
        notes: Vec::new(),
        skipped: Vec::new(),
        tmp: None,
    };
    if !args.iter().any(|a| is_s3(a)) {
        if opts.ca_pem.is_some() || opts.max_object != MAX_OBJECT {
            return Err(S3Error::Usage(
                "--ca-file and --max-object-size only apply to s3://BUCKET/PREFIX/ bundles".into(),
            ));
        }
        out.paths = args.to_vec();
        out.origins = vec![None; args.len()];
        return Ok(out);
    }
    let tmp = tempfile::Builder::new()
        .prefix("rcdiag-s3-")
        .tempdir()
        .map_err(|e| S3Error::Fetch(format!("cannot make a temporary folder: {e} (TMPDIR)")))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| S3Error::Fetch(format!("cannot start the S3 client: {e}")))?;
    for (n, a) in args.iter().enumerate() {
        let Some(s) = a.to_str().filter(|s| s.starts_with("s3://")) else {
            out.paths.push(a.clone());
            out.origins.push(None);
            continue;
        };
        let loc = Location::parse(s)?;
        let sub = tmp.path().join(n.to_string());
        std::fs::create_dir(&sub)
            .map_err(|e| S3Error::Fetch(format!("cannot make {}: {e}", sub.display())))?;
        let fetched = rt.block_on(fetch_all(
            &loc,
            opts,
            &sub,
            &mut out.notes,
            &mut out.skipped,
        ))?;
        if fetched.is_empty() {
            return Err(S3Error::Usage(format!(
                "{}: no bundle to check under this prefix{} (object names must be rcdiag-<host>-<time>.rcdiag): check the bucket and prefix",
                loc.shown(),
                if out.skipped.is_empty() {
                    ""
                } else {
                    " (the bundles are larger than --max-object-size)"
                }
            )));
        }
        for (key, path) in fetched {
            out.paths.push(path);
            out.origins.push(Some(format!("s3://{}/{key}", loc.bucket)));
        }
    }
    out.tmp = Some(tmp);
    Ok(out)
}

fn store(loc: &Location, opts: &Options) -> Result<AmazonS3, S3Error> {
    let mut b = AmazonS3Builder::from_env().with_bucket_name(&loc.bucket);
    if b.get_config_value(&AmazonS3ConfigKey::Region).is_none()
        && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        b = b.with_region("us-east-1");
    }
    if let Some(e) = b.get_config_value(&AmazonS3ConfigKey::Endpoint)
        && !e.starts_with("https://")
    {
        return Err(S3Error::Usage(format!(
            "AWS_ENDPOINT_URL={e}: the S3 endpoint must be https://"
        )));
    }
    let mut client = ClientOptions::new()
        .with_allow_http(false)
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(Duration::from_secs(10))
        .with_user_agent(
            concat!("rcdiag-analyzer/", env!("CARGO_PKG_VERSION"))
                .parse()
                .map_err(|e| S3Error::Usage(format!("user agent: {e}")))?,
        );
    if let Some(pem) = &opts.ca_pem {
        let certs = object_store::Certificate::from_pem_bundle(pem).map_err(|e| {
            S3Error::Usage(format!("--ca-file: {e}: give a PEM file holding the CA"))
        })?;
        for c in certs {
            client = client.with_root_certificate(c);
        }
    }
    // A few quick retries of 5xx and dropped connections, not object_store's 3 minutes.
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
    };
    b.with_client_options(client)
        .with_retry(retry)
        .build()
        .map_err(|e| {
            S3Error::Usage(format!(
                "cannot set up the S3 client for {}: {e}",
                loc.shown()
            ))
        })
}

/// `(Code, Message)` of the S3 error document quoted in `text`, when there is one.
fn s3_error(text: &str) -> Option<(String, String)> {
    let field = |tag: &str| {
        let start = text.find(&format!("<{tag}>"))? + tag.len() + 2;
        let len = text[start..].find(&format!("</{tag}>"))?;
        Some(text[start..start + len].trim().to_string())
    };
    let code = field("Code").filter(|c| !c.is_empty() && c.len() <= 64)?;
    let message = field("Message").unwrap_or_default();
    Some((code, message.chars().take(300).collect()))
}

/// What a listing or fetch error means, and what to do.
fn describe(e: &object_store::Error, loc: &Location) -> String {
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        src = s.source();
    }
    // An S3 error document: its code and message say it all (the request's URL, the XML
    // and the request ids only bury them).
    let text: String = match s3_error(&text) {
        Some((code, message)) => format!("{code}: {message}"),
        None => text,
    }
    .chars()
    .take(600)
    .collect();
    if matches!(e, object_store::Error::InvalidPath { .. }) || text.contains("invalid path") {
        // object_store refuses a listing page holding a key with control characters
        // (or another character it cannot take as a path): the whole page is lost.
        format!(
            "{}: an object under this prefix has a key that is not a usable path ({text}): \
             remove or rename that object, or give a narrower prefix that leaves it out",
            loc.shown()
        )
    } else if text.contains("NoSuchBucket") {
        format!(
            "the bucket {} does not exist (NoSuchBucket): check the name, and AWS_ENDPOINT_URL / AWS_REGION",
            loc.bucket
        )
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || text.contains("AccessDenied")
        || text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
    {
        format!(
            "access denied to {} ({text}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the role; reading needs s3:ListBucket and s3:GetObject",
            loc.shown()
        )
    } else if text.to_ascii_lowercase().contains("certificate")
        || text.to_ascii_lowercase().contains("unknownissuer")
    {
        format!(
            "the S3 endpoint's TLS certificate is not trusted ({text}): give its CA with --ca-file PEM"
        )
    } else if [
        "credential",
        "metadata",
        "imds",
        "/latest/api/token",
        "/latest/meta-data",
    ]
    .iter()
    .any(|w| text.to_ascii_lowercase().contains(w))
        || text.contains(
            std::env::var("AWS_METADATA_ENDPOINT")
                .as_deref()
                .unwrap_or("169.254.169.254"),
        )
    {
        // No keys in the environment: object_store asked the instance metadata service,
        // which is not there (or gave nothing).
        format!(
            "no AWS credentials could be had for {} ({text}): export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
             (for a profile: eval \"$(aws configure export-credentials --profile NAME --format env)\"), \
             or run with an instance, task or pod role",
            loc.shown()
        )
    } else {
        format!("{}: {text}", loc.shown())
    }
}

/// Lists and fetches the bundles under `loc` into `dir`: `(key, path)` sorted by key.
async fn fetch_all(
    loc: &Location,
    opts: &Options,
    dir: &Path,
    notes: &mut Vec<String>,
    skipped: &mut Vec<String>,
) -> Result<Vec<(String, PathBuf)>, S3Error> {
    let s3 = Arc::new(store(loc, opts)?);
    let max = opts.max_object;
    let prefix = (!loc.prefix.is_empty()).then(|| ObjPath::from(loc.prefix.as_str()));
    let mut listing = s3.list(prefix.as_ref());
    let mut wanted = Vec::new();
    let mut seen = 0usize;
    while let Some(item) = listing.next().await {
        let meta = item.map_err(|e| S3Error::Fetch(describe(&e, loc)))?;
        seen += 1;
        if seen > MAX_LISTED {
            return Err(S3Error::Usage(format!(
                "{}: more than {MAX_LISTED} objects under this prefix: give a narrower one (one node: s3://{}/PREFIX/NODE/)",
                loc.shown(),
                loc.bucket
            )));
        }
        let key = meta.location.to_string();
        let name = meta.location.filename().unwrap_or("").to_string();
        if !is_bundle_name(&name) {
            notes.push(format!(
                "s3://{}/{key}: skipped, not a bundle name (rcdiag-<host>-<time>.rcdiag)",
                loc.bucket
            ));
            continue;
        }
        if meta.size > max {
            skipped.push(format!(
                "s3://{}/{key}: skipped, {} bytes is more than --max-object-size ({max} bytes)",
                loc.bucket, meta.size
            ));
            continue;
        }
        wanted.push((key, name, meta.location));
    }
    // A listing is already sorted by key in S3; sort anyway (other services).
    wanted.sort_by(|a, b| a.0.cmp(&b.0));
    // Two keys with one file name (two prefixes): numbered folders keep both.
    let fetched: Vec<(String, PathBuf)> =
        futures_util::stream::iter(wanted.into_iter().enumerate().map(
            |(i, (key, name, location))| {
                let s3 = s3.clone();
                let path = dir.join(i.to_string()).join(&name);
                async move {
                    fetch_one(&s3, loc, &location, &path, max)
                        .await
                        .map_err(|e| S3Error::Fetch(format!("s3://{}/{key}: {e}", loc.bucket)))?;
                    Ok::<_, S3Error>((key, path))
                }
            },
        ))
        .buffered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(fetched)
}

/// Streams one object into `path`, at most `max` bytes (an object that grew since it
/// was listed is cut there).
async fn fetch_one(
    s3: &AmazonS3,
    loc: &Location,
    location: &ObjPath,
    path: &Path,
    max: u64,
) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| e.to_string())?;
    }
    let got = s3.get(location).await.map_err(|e| describe(&e, loc))?;
    let mut stream = got.into_stream();
    let mut f = tokio::fs::File::create(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut n: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| describe(&e, loc))?;
        n += chunk.len() as u64;
        if n > max {
            return Err(format!(
                "larger than --max-object-size ({max} bytes): not read further"
            ));
        }
        f.write_all(&chunk)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    f.flush().await.map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_error_document_is_cut_to_its_code_and_message() {
        let text = "Error performing GET https://h/b?list-type=2 in 16ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message><RequestId>x</RequestId></Error>";
        assert_eq!(
            s3_error(text),
            Some((
                "SignatureDoesNotMatch".into(),
                "The request signature we calculated does not match.".into()
            ))
        );
        assert_eq!(s3_error("connection refused"), None);
        assert_eq!(s3_error("<Code></Code>"), None);
    }

    #[test]
    fn locations_and_names() {
        let l = Location::parse("s3://rcdiag-fleet/prod/node1/").unwrap();
        assert_eq!(l.prefix, "prod/node1");
        assert_eq!(l.shown(), "s3://rcdiag-fleet/prod/node1/");
        assert_eq!(Location::parse("s3://abc").unwrap().prefix, "");
        assert!(Location::parse("s3://A_b/x").is_err());
        assert!(Location::parse("s3://abc/../x").is_err());
        assert!(is_bundle_name("rcdiag-node1-20261203T080000Z.rcdiag"));
        assert!(is_bundle_name(
            "rcdiag-n.x-20261203T080000Z-case_1.rcdiag.zip"
        ));
        assert!(!is_bundle_name("notes.txt"));
        assert!(!is_bundle_name("rcdiag-node1-20261203T080000Z.rcdiag.part"));
        assert!(!is_bundle_name("rcdiag-\u{1b}[31m-20261203T080000Z.rcdiag"));
    }
}
