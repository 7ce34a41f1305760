//! `s3://bucket/prefix/` targets: the object key is the prefix and the bundle's standard
//! file name; credentials from the standard AWS environment (`AWS_ACCESS_KEY_ID`, ...),
//! else the shared profile (`AWS_PROFILE`, `~/.aws/credentials`), else web identity,
//! the container's or the instance's role (`object_store`'s chain). Files up to
//! [`SINGLE_PUT_MAX`] go in one PUT, larger ones as a multipart upload; every request
//! carries `x-amz-checksum-sha256`, and the object's size is read back after it.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, Checksum};
use object_store::path::Path as ObjPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig, WriteMultipart,
};

use super::prepare::Prepared;
use super::send::{chain, s3_code};
use super::{Output, Sent, Settings, UploadError, aws_profile, usage};
use crate::config::human_bytes;

/// Files up to this size are sent in one PUT; larger ones in parts of this size (or
/// more, to stay within S3's 10,000 parts).
pub const SINGLE_PUT_MAX: u64 = 8 << 20;
/// Parts sent at once in a multipart upload.
const PART_CONCURRENCY: usize = 2;

/// An `s3://bucket/prefix/` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Target {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix: empty, or ending in `/` (a prefix given without one gets it).
    pub prefix: String,
}

impl S3Target {
    /// Parses `s3://bucket[/prefix[/]]`.
    pub fn parse(s: &str) -> Result<Self, UploadError> {
        let rest = s
            .trim()
            .strip_prefix("s3://")
            .ok_or_else(|| usage(format!("{s}: not an s3:// target")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules: 3 to 63 of a-z 0-9 . -, starting and ending with a
        // letter or digit.
        let ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && bucket
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(usage(format!(
                "s3://{bucket}: not a valid bucket name (3 to 63 of a-z, 0-9, '.', '-'): give s3://BUCKET/PREFIX/"
            )));
        }
        if prefix.contains('?') || prefix.contains('#') {
            return Err(usage(format!(
                "s3://{bucket}/{prefix}: an s3:// target takes no query string: give s3://BUCKET/PREFIX/"
            )));
        }
        let segments: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
        if segments.iter().any(|p| *p == "." || *p == "..") {
            return Err(usage(format!(
                "s3://{bucket}/{prefix}: '.' and '..' are not allowed in the prefix"
            )));
        }
        let mut prefix = segments.join("/");
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// `s3://bucket/prefix/`.
    pub fn shown(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// The object key of a file named `name`.
    pub fn key_for(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The same target with `sub/` appended to the prefix (a node's own prefix).
    pub fn with_sub_prefix(&self, sub: &str) -> Self {
        let sub = sub.trim_matches('/');
        Self {
            bucket: self.bucket.clone(),
            prefix: if sub.is_empty() {
                self.prefix.clone()
            } else {
                format!("{}{sub}/", self.prefix)
            },
        }
    }
}

/// Where the credentials came from, for messages.
fn credential_source(p: &Option<aws_profile::Profile>) -> String {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty()) {
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the environment".into()
    } else if let Some(p) = p.as_ref().filter(|p| p.key_id.is_some()) {
        format!(
            "profile {} of {}",
            p.name,
            p.source
                .as_ref()
                .map(|s| s.display().to_string())
                .unwrap_or_else(|| "the AWS config".into())
        )
    } else if std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
        "the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)".into()
    } else if std::env::var_os("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || std::env::var_os("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
    {
        "the container's role (AWS_CONTAINER_CREDENTIALS_*)".into()
    } else {
        "the instance role (instance metadata service)".into()
    }
}

/// An S3 client for `t`, set up from the environment and `s`.
pub(crate) struct Store {
    pub(super) store: Arc<AmazonS3>,
    pub(super) target: S3Target,
    creds: String,
}

impl Store {
    /// Builds the client; reads the profile files. Usage errors only.
    pub(super) fn new(t: &S3Target, s: &Settings) -> Result<Self, UploadError> {
        let profile = aws_profile::load().map_err(usage)?;
        let creds = credential_source(&profile);
        let store = build(t, s, profile.as_ref())?;
        Ok(Self {
            store: Arc::new(store),
            target: t.clone(),
            creds,
        })
    }

    /// Sends one prepared file; the object is `prefix + file name`.
    pub(super) async fn send(&self, p: &Prepared, out: Output) -> Result<Sent, UploadError> {
        let key = self.target.key_for(&p.name);
        let shown = format!("s3://{}/{key}", self.target.bucket);
        let started = std::time::Instant::now();
        let fail = |e: object_store::Error| {
            UploadError::Failed(format!(
                "upload of {} to {shown} failed: {}; the file is kept",
                p.path.display(),
                describe(&e, &self.target, &self.creds)
            ))
        };
        let path = ObjPath::from(key.as_str());
        let file = p
            .file
            .try_clone()
            .map_err(|e| UploadError::Failed(format!("{}: {e}", p.path.display())))?;
        let size = p.size;
        if size <= SINGLE_PUT_MAX {
            let data = read_all(file, size, &p.path)?;
            self.store
                .put(&path, PutPayload::from(data))
                .await
                .map_err(fail)?;
        } else {
            let part = part_size(size);
            let upload = self.store.put_multipart(&path).await.map_err(fail)?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, part);
            let mut f = file;
            use std::io::Seek as _;
            f.seek(std::io::SeekFrom::Start(0))
                .map_err(|e| UploadError::Failed(format!("{}: {e}", p.path.display())))?;
            let mut buf = vec![0u8; super::CHUNK];
            let mut sent = 0u64;
            while sent < size {
                if let Err(e) = w.wait_for_capacity(PART_CONCURRENCY).await {
                    return Err(fail(e));
                }
                let want = (size - sent).min(buf.len() as u64) as usize;
                let n = match f.read(&mut buf[..want]) {
                    Ok(0) => {
                        let _ = w.abort().await;
                        return Err(UploadError::Failed(format!(
                            "{}: the file got shorter while it was sent; the file is kept",
                            p.path.display()
                        )));
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = w.abort().await;
                        return Err(UploadError::Failed(format!("{}: {e}", p.path.display())));
                    }
                };
                w.write(&buf[..n]);
                sent += n as u64;
                if out.live {
                    eprint!(
                        "\r\x1b[2Kupload: {}  {} of {} (multipart)",
                        p.name,
                        human_bytes(sent),
                        human_bytes(size)
                    );
                }
            }
            if out.live {
                eprint!("\r\x1b[2K");
            }
            w.finish().await.map_err(fail)?;
        }
        // Read back what the bucket holds: the size must be the file's.
        let meta = self.store.head(&path).await.map_err(fail)?;
        if meta.size != size {
            return Err(UploadError::Failed(format!(
                "upload of {} to {shown}: the bucket holds {} bytes, the file has {size}: upload it again; the file is kept",
                p.path.display(),
                meta.size
            )));
        }
        if !out.quiet {
            eprintln!(
                "upload: {}: sent {} in {:.1} s ({})",
                p.name,
                human_bytes(size),
                started.elapsed().as_secs_f64(),
                if size > SINGLE_PUT_MAX {
                    format!(
                        "multipart, parts of {}",
                        human_bytes(part_size(size) as u64)
                    )
                } else {
                    "one PUT".into()
                }
            );
        }
        Ok(Sent {
            to: shown,
            size,
            sha256: hex::encode(p.sha256),
        })
    }
}

/// Part size of a multipart upload of `size` bytes: 8 MiB, or more to stay within
/// 10,000 parts.
fn part_size(size: u64) -> usize {
    let min = size.div_ceil(9_000);
    (SINGLE_PUT_MAX.max(min)) as usize
}

fn read_all(
    mut f: std::fs::File,
    size: u64,
    path: &std::path::Path,
) -> Result<Vec<u8>, UploadError> {
    use std::io::Seek as _;
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| UploadError::Failed(format!("{}: {e}", path.display())))?;
    let mut data = Vec::with_capacity(size as usize);
    f.take(size)
        .read_to_end(&mut data)
        .map_err(|e| UploadError::Failed(format!("{}: {e}", path.display())))?;
    if data.len() as u64 != size {
        return Err(UploadError::Failed(format!(
            "{}: the file got shorter while it was sent; the file is kept",
            path.display()
        )));
    }
    Ok(data)
}

fn build(
    t: &S3Target,
    s: &Settings,
    profile: Option<&aws_profile::Profile>,
) -> Result<AmazonS3, UploadError> {
    let mut b = AmazonS3Builder::from_env().with_bucket_name(&t.bucket);
    let env_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
    if let Some(p) = profile {
        if !env_keys && let (Some(k), Some(sec)) = (&p.key_id, &p.secret) {
            b = b.with_access_key_id(k).with_secret_access_key(sec);
            if let Some(tok) = &p.token {
                b = b.with_token(tok);
            }
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
            && let Some(r) = &p.region
        {
            b = b.with_region(r);
        }
    }
    if b.get_config_value(&AmazonS3ConfigKey::Region).is_none()
        && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        b = b.with_region("us-east-1");
    }
    if let Some(e) = b.get_config_value(&AmazonS3ConfigKey::Endpoint)
        && !e.starts_with("https://")
    {
        return Err(usage(format!(
            "AWS_ENDPOINT_URL={e}: the S3 endpoint must be https:// (plain http would let anyone on the way see and change the bundle)"
        )));
    }
    let mut opts = ClientOptions::new()
        .with_allow_http(false)
        .with_timeout(s.attempt)
        .with_connect_timeout(s.stall.min(Duration::from_secs(30)))
        .with_user_agent(
            concat!("rcdiag-agent/", env!("CARGO_PKG_VERSION"))
                .parse()
                .map_err(|e| usage(format!("user agent: {e}")))?,
        );
    if let Some(pem) = &s.ca_pem {
        let certs = object_store::Certificate::from_pem_bundle(pem)
            .map_err(|e| usage(format!("--ca-file: {e}")))?;
        for c in certs {
            opts = opts.with_root_certificate(c);
        }
    }
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: s.backoff,
            max_backoff: s.backoff.saturating_mul(16).max(Duration::from_millis(1)),
            base: 2.0,
        },
        max_retries: s.tries.saturating_sub(1) as usize,
        retry_timeout: s.attempt,
    };
    b.with_client_options(opts)
        .with_retry(retry)
        .with_checksum_algorithm(Checksum::SHA256)
        .build()
        .map_err(|e| {
            usage(format!(
                "cannot set up the S3 client for {}: {e}",
                t.shown()
            ))
        })
}

/// What an S3 failure means, and what to do.
pub(super) fn describe(e: &object_store::Error, t: &S3Target, creds: &str) -> String {
    let text = chain(e);
    let code = s3_code(text.as_bytes());
    let lower = text.to_ascii_lowercase();
    let first = |t: &str| t.chars().take(600).collect::<String>();
    match code.as_deref() {
        Some("NoSuchBucket") => {
            return format!(
                "the bucket {} does not exist (NoSuchBucket): check the bucket name in {}, and the endpoint or region (AWS_ENDPOINT_URL, AWS_REGION)",
                t.bucket,
                t.shown()
            );
        }
        Some(
            c @ ("InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"),
        ) => {
            return format!(
                "the credentials were refused ({c}); they came from {creds}: check or renew them"
            );
        }
        Some(c @ ("AccessDenied" | "AllAccessDisabled" | "AccountProblem")) => {
            return format!(
                "access denied ({c}) with the credentials from {creds}: they need s3:PutObject on arn:aws:s3:::{}/{}*",
                t.bucket, t.prefix
            );
        }
        _ => {}
    }
    match e {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            return format!(
                "access denied with the credentials from {creds}: check them, and that they may s3:PutObject on arn:aws:s3:::{}/{}* ({})",
                t.bucket,
                t.prefix,
                first(&text)
            );
        }
        object_store::Error::NotFound { .. } => {
            return format!(
                "not found ({}): check the bucket name in {} and the endpoint or region (AWS_ENDPOINT_URL, AWS_REGION)",
                first(&text),
                t.shown()
            );
        }
        _ => {}
    }
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        return format!(
            "the S3 endpoint's TLS certificate is not trusted ({}): give its CA with --ca-file PEM",
            first(&text)
        );
    }
    if lower.contains("credential") || lower.contains("metadata") || lower.contains("imds") {
        return format!(
            "no AWS credentials could be had ({}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile of ~/.aws/credentials), or run with an instance, task or pod role",
            first(&text)
        );
    }
    format!("S3 error: {}", first(&text))
}
