//! The bundle reader: decrypts (age, binary or armored) or opens the signed-plain zip,
//! checks entry names and limits, verifies the manifest signature and every file's
//! size and SHA-256, and gives typed access to entries read from inside the bundle
//! (the age stream is seekable: nothing is extracted to disk first).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zip::ZipArchive;
use zip::result::ZipError;

use crate::error::{Error, Result};
use crate::keys::{Identity, TrustedSigners};
use crate::manifest::{FORMAT_NAME, FORMAT_VERSION, FileRecord, Manifest, ManifestProbe};
use crate::names::check_entry_name;
use crate::{MANIFEST_NAME, SIGNATURE_NAME};

mod age_layer;
mod checks;
mod entry;

pub use age_layer::header_recipients;
use age_layer::{decrypt, is_age_error, scan_age_header};
use entry::EntryHasher;
pub use entry::EntryReader;

/// A seekable byte source the reader can use.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

type Source = Box<dyn ReadSeek>;

/// Limits that keep a hostile bundle (zip bomb, entry flood) from costing more than a
/// bounded amount of time and memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most entries a bundle may have.
    pub max_entries: usize,
    /// Largest uncompressed size of one entry.
    pub max_entry_size: u64,
    /// Largest uncompressed size of all entries together.
    pub max_total_size: u64,
    /// Highest uncompressed/compressed ratio of an entry larger than 1 MiB.
    pub max_ratio: u64,
    /// Largest `manifest.json`.
    pub max_manifest_size: u64,
    /// Largest age header, in bytes up to and including its `---` MAC line.
    pub max_age_header: usize,
    /// Most stanzas (`-> ...` lines) in the age header.
    pub max_age_stanzas: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 20_000,
            max_entry_size: 1 << 30,
            max_total_size: 8 << 30,
            max_ratio: 200,
            max_manifest_size: 32 << 20,
            max_age_header: 64 << 10,
            max_age_stanzas: 256,
        }
    }
}

/// How to open a bundle.
#[derive(Debug, Default)]
pub struct OpenOptions<'a> {
    /// Identities to try on an encrypted bundle.
    pub identities: &'a [Identity],
    /// Trusted node keys (`--trust allowed_signers`).
    pub trusted: Option<&'a TrustedSigners>,
    /// With `trusted` set: refuse a signer not in it (else only report it).
    pub require_trusted: bool,
    /// Limits; the defaults suit bundles of any realistic node.
    pub limits: Limits,
    /// Skip hashing every file at open (entries are still checked when read).
    pub skip_content_check: bool,
}

/// Whether the signer is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustStatus {
    /// The signer's key is in the allowed signers file, under these principals.
    Trusted { principals: Vec<String> },
    /// An allowed signers file was given and the key is not in it.
    Untrusted,
    /// No allowed signers file was given: the signature is valid, the key is not pinned.
    NotChecked,
}

impl std::fmt::Display for TrustStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Trusted { principals } => write!(f, "trusted ({})", principals.join(",")),
            Self::Untrusted => f.write_str("NOT trusted (key not in the allowed signers file)"),
            Self::NotChecked => {
                f.write_str("not checked (pass --trust allowed_signers to pin node keys)")
            }
        }
    }
}

/// An opened, verified bundle.
pub struct Bundle {
    archive: ZipArchive<Source>,
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    signature: Vec<u8>,
    trust: TrustStatus,
    encrypted: bool,
    by_path: HashMap<String, usize>,
    /// Files already read to the end with their size and SHA-256 checked.
    verified: HashSet<String>,
    limits: Limits,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("bundle_id", &self.manifest.bundle_id)
            .finish()
    }
}

const AGE_MAGIC: &[u8] = b"age-encryption.org/";
const ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

impl Bundle {
    /// Opens and verifies the bundle at `path`.
    pub fn open(path: &Path, opts: &OpenOptions<'_>) -> Result<Self> {
        let file = File::open(path)?;
        Self::from_reader(Box::new(file), opts)
    }

    /// Opens and verifies a bundle from any seekable source.
    pub fn from_reader(mut source: Source, opts: &OpenOptions<'_>) -> Result<Self> {
        let mut head = Vec::with_capacity(64);
        (&mut source).take(64).read_to_end(&mut head)?;
        source.rewind()?;
        let (inner, encrypted): (Source, bool) =
            if head.starts_with(AGE_MAGIC) || head.starts_with(ARMOR_MAGIC) {
                // The age crate's header parser takes time quadratic in the number of
                // stanzas: bound the header before it sees it.
                let recipients = scan_age_header(&mut source, &opts.limits)?;
                source.rewind()?;
                let buffered = BufReader::with_capacity(64 * 1024, source);
                match decrypt(buffered, opts.identities) {
                    Err(Error::NoMatchingIdentity { .. }) => {
                        return Err(Error::NoMatchingIdentity { recipients });
                    }
                    other => (other?, true),
                }
            } else if head.starts_with(b"PK") {
                (source, false)
            } else if head.is_empty() {
                return Err(Error::Truncated("the file is empty".into()));
            } else {
                return Err(Error::NotABundle {
                    reason: "it starts with neither an age header nor a zip header".into(),
                });
            };
        let archive = ZipArchive::new(inner).map_err(|e| zip_error(e, encrypted))?;
        let mut bundle = Self {
            archive,
            manifest: empty_manifest(),
            manifest_bytes: Vec::new(),
            signature: Vec::new(),
            trust: TrustStatus::NotChecked,
            encrypted,
            by_path: HashMap::new(),
            verified: HashSet::new(),
            limits: opts.limits,
        };
        bundle.check_structure()?;
        bundle.check_layout()?;
        bundle.load_manifest()?;
        bundle.verify_signature(opts)?;
        bundle.check_file_set()?;
        if !opts.skip_content_check {
            bundle.verify_contents()?;
        }
        Ok(bundle)
    }

    /// Reads every file not yet read to the end and checks its size and SHA-256 against
    /// the manifest. (A file read to the end through [`Bundle::open_entry`] was checked
    /// then, so opening with `skip_content_check`, reading what you need and calling
    /// this afterwards verifies everything with each file read once.)
    pub fn verify_contents(&mut self) -> Result<()> {
        let paths: Vec<String> = self
            .manifest
            .files
            .iter()
            .filter(|f| !self.verified.contains(&f.path))
            .map(|f| f.path.clone())
            .collect();
        let mut buf = vec![0u8; 128 * 1024];
        for path in paths {
            let mut r = self.open_entry(&path)?;
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return Err(r.into_error(e)),
                }
            }
        }
        Ok(())
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The exact bytes of `manifest.json` that were signed.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// The bytes of `manifest.json.sig`.
    pub fn signature_bytes(&self) -> &[u8] {
        &self.signature
    }

    /// Whether the signer is pinned by the allowed signers file.
    pub fn trust(&self) -> &TrustStatus {
        &self.trust
    }

    /// True for an age-encrypted bundle, false for the signed-plain variant.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// The files of the bundle, as the manifest lists them.
    pub fn entries(&self) -> &[FileRecord] {
        &self.manifest.files
    }

    /// The manifest record of `path`, if the bundle has it.
    pub fn entry(&self, path: &str) -> Option<&FileRecord> {
        self.by_path.get(path).map(|&i| &self.manifest.files[i])
    }

    /// Opens one file as a reader capped at its manifest size; reading it to the end
    /// checks its SHA-256 (an error is returned on mismatch).
    pub fn open_entry(&mut self, path: &str) -> Result<EntryReader<'_>> {
        let Some(&idx) = self.by_path.get(path) else {
            return Err(Error::NoSuchEntry(path.into()));
        };
        let record = self.manifest.files[idx].clone();
        let encrypted = self.encrypted;
        // The SHA-256 of the signed manifest is checked at the end of the entry: the
        // zip's own CRC-32 would be a second, weaker pass over every byte.
        let inner = self
            .archive
            .by_name_with_options(path, zip::read::ZipReadOptions::new().ignore_crc32(true))
            .map_err(|e| zip_error(e, encrypted))?;
        Ok(EntryReader {
            inner,
            hasher: EntryHasher::new(record.size),
            read: 0,
            record,
            encrypted,
            done: false,
            verified: &mut self.verified,
        })
    }

    /// Reads a whole file, refusing one larger than `max` bytes.
    pub fn read_bytes(&mut self, path: &str, max: u64) -> Result<Vec<u8>> {
        let size = self
            .entry(path)
            .ok_or_else(|| Error::NoSuchEntry(path.into()))?
            .size;
        if size > max {
            return Err(Error::LimitExceeded(format!(
                "{path} is {size} bytes, more than {max}"
            )));
        }
        let mut r = self.open_entry(path)?;
        let mut buf = Vec::with_capacity(size as usize);
        if let Err(e) = r.read_to_end(&mut buf) {
            return Err(r.into_error(e));
        }
        Ok(buf)
    }

    /// Reads a file as JSON into `T`.
    pub fn read_json<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        let bytes = self.read_bytes(path, self.limits.max_manifest_size.max(256 << 20))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            path: path.into(),
            reason: e.to_string(),
        })
    }

    /// Writes every verified file, the manifest and its signature under `dir`, which
    /// must not exist or be empty. Never follows or overwrites anything.
    pub fn extract_to(&mut self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        if dir.exists() && fs::read_dir(dir)?.next().is_some() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is not empty; extract into a new folder", dir.display()),
            )));
        }
        fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        let create = |rel: &str| -> io::Result<(File, std::path::PathBuf)> {
            let p = dir.join(rel);
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent)?;
            }
            let f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)?;
            Ok((f, p))
        };
        for (name, bytes) in [
            (MANIFEST_NAME, self.manifest_bytes.clone()),
            (SIGNATURE_NAME, self.signature.clone()),
        ] {
            let (mut f, p) = create(name)?;
            f.write_all(&bytes)?;
            written.push(p);
        }
        let paths: Vec<String> = self.manifest.files.iter().map(|f| f.path.clone()).collect();
        for path in paths {
            check_entry_name(&path).map_err(|reason| Error::UnsafeEntryName {
                name: path.clone(),
                reason,
            })?;
            let (mut f, p) = create(&path)?;
            let mut r = self.open_entry(&path)?;
            if let Err(e) = io::copy(&mut r, &mut f) {
                let err = r.into_error(e);
                drop(f);
                let _ = fs::remove_file(&p);
                return Err(err);
            }
            written.push(p);
        }
        Ok(written)
    }
}

/// Parses the bytes of a `manifest.json` as a reader must (SPEC.md section 5, step 3):
/// its format and version first, then the whole manifest, refusing it past the limits
/// of SPEC.md 3.1 (`max_entries` bounds the file lists). The signature is not checked.
pub fn parse_manifest(bytes: &[u8], max_entries: usize) -> Result<Manifest> {
    let probe: ManifestProbe = serde_json::from_slice(bytes)
        .map_err(|e| Error::InvalidManifest(format!("manifest.json is not JSON: {e}")))?;
    if probe.format.as_deref() != Some(FORMAT_NAME) {
        return Err(Error::NotABundle {
            reason: format!(
                "manifest.json names format {:?}, not {FORMAT_NAME:?}",
                probe.format.unwrap_or_default()
            ),
        });
    }
    let version = probe
        .format_version
        .as_ref()
        .and_then(|v| v.as_u64())
        .ok_or_else(|| {
            Error::InvalidManifest("format_version is missing or not an integer".into())
        })?;
    if version > FORMAT_VERSION {
        return Err(Error::NewerVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        match msg.strip_prefix(crate::manifest::LIMIT_MARK) {
            Some(rest) => Error::LimitExceeded(format!("manifest.json: {rest}")),
            None => Error::InvalidManifest(msg),
        }
    })?;
    crate::manifest::check_manifest_limits(&manifest, max_entries).map_err(Error::LimitExceeded)?;
    Ok(manifest)
}

/// An empty manifest, to fill in.
pub(crate) fn empty_manifest() -> Manifest {
    Manifest {
        format: String::new(),
        format_version: 0,
        bundle_id: String::new(),
        created_at: String::new(),
        agent: crate::manifest::AgentInfo {
            name: String::new(),
            version: String::new(),
        },
        node: Default::default(),
        collectors: Vec::new(),
        files: Vec::new(),
        redaction: Default::default(),
        signer: crate::manifest::Signer {
            algorithm: String::new(),
            public_key: String::new(),
            fingerprint: String::new(),
        },
    }
}

fn io_error(e: io::Error, encrypted: bool) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::Truncated(e.to_string()),
        io::ErrorKind::InvalidData if encrypted && is_age_error(&e) => Error::Corrupt(format!(
            "{e}: the encrypted data failed authentication (changed or cut short)"
        )),
        _ => Error::Corrupt(e.to_string()),
    }
}

fn zip_error(e: ZipError, encrypted: bool) -> Error {
    match e {
        ZipError::Io(e) => io_error(e, encrypted),
        ZipError::InvalidArchive(msg)
            if msg.to_lowercase().contains("end of central directory") =>
        {
            Error::Truncated(format!("zip: {msg}"))
        }
        ZipError::FileNotFound => Error::NoSuchEntry(String::new()),
        other => Error::Corrupt(format!("zip: {other}")),
    }
}
