//! The bundle reader: decrypts (age, binary or armored) or opens the signed-plain zip,
//! checks entry names and limits, verifies the manifest signature and every file's
//! size and SHA-256, and gives typed access to entries read from inside the bundle
//! (the age stream is seekable: nothing is extracted to disk first).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};
use ssh_key::{HashAlg, PublicKey, SshSig};
use zip::ZipArchive;
use zip::result::ZipError;

use crate::error::{Error, Result};
use crate::keys::{Identity, TrustedSigners};
use crate::manifest::{FORMAT_NAME, FORMAT_VERSION, FileRecord, Manifest, ManifestProbe};
use crate::names::check_entry_name;
use crate::writer::HINT_STANZA_TAG;
use crate::{MANIFEST_NAME, SIG_NAMESPACE, SIGNATURE_NAME};

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 20_000,
            max_entry_size: 1 << 30,
            max_total_size: 8 << 30,
            max_ratio: 200,
            max_manifest_size: 32 << 20,
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
                let recipients = header_recipients(&mut source);
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
            manifest: placeholder_manifest(),
            manifest_bytes: Vec::new(),
            signature: Vec::new(),
            trust: TrustStatus::NotChecked,
            encrypted,
            by_path: HashMap::new(),
            verified: HashSet::new(),
            limits: opts.limits,
        };
        bundle.check_structure()?;
        bundle.load_manifest()?;
        bundle.verify_signature(opts)?;
        bundle.check_file_set()?;
        if !opts.skip_content_check {
            bundle.verify_contents()?;
        }
        Ok(bundle)
    }

    /// Entry names, types and sizes, from the zip's central directory, before anything is read.
    fn check_structure(&mut self) -> Result<()> {
        let limits = self.limits;
        if self.archive.len() > limits.max_entries {
            return Err(Error::LimitExceeded(format!(
                "{} entries, more than the limit of {}",
                self.archive.len(),
                limits.max_entries
            )));
        }
        if self.archive.has_duplicate_names() {
            return Err(Error::UnsafeEntryName {
                name: "(several)".into(),
                reason: "duplicate entry names".into(),
            });
        }
        let mut total: u64 = 0;
        for i in 0..self.archive.len() {
            let entry = self
                .archive
                .by_index_data(i)
                .map_err(|e| zip_error(e, self.encrypted))?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            if std::str::from_utf8(entry.name_raw()).is_err() {
                return Err(Error::UnsafeEntryName {
                    name,
                    reason: "not valid UTF-8".into(),
                });
            }
            check_entry_name(&name).map_err(|reason| Error::UnsafeEntryName {
                name: name.clone(),
                reason,
            })?;
            if entry.is_symlink() {
                return Err(Error::UnsafeEntryName {
                    name,
                    reason: "is a symbolic link".into(),
                });
            }
            if entry.is_dir() {
                continue;
            }
            let size = entry.size();
            let compressed = entry.compressed_size().max(1);
            if size > limits.max_entry_size {
                return Err(Error::LimitExceeded(format!(
                    "entry {name} is {size} bytes uncompressed, more than the limit of {}",
                    limits.max_entry_size
                )));
            }
            if size > (1 << 20) && size / compressed > limits.max_ratio {
                return Err(Error::LimitExceeded(format!(
                    "entry {name} expands {}x (compression bomb?), more than the limit of {}x",
                    size / compressed,
                    limits.max_ratio
                )));
            }
            total = total.saturating_add(size);
            if total > limits.max_total_size {
                return Err(Error::LimitExceeded(format!(
                    "entries add up to more than {} bytes uncompressed",
                    limits.max_total_size
                )));
            }
        }
        Ok(())
    }

    fn read_small(&mut self, name: &str, max: u64) -> Result<Vec<u8>> {
        let encrypted = self.encrypted;
        let file = match self.archive.by_name(name) {
            Ok(f) => f,
            Err(ZipError::FileNotFound) => return Err(Error::NoSuchEntry(name.into())),
            Err(e) => return Err(zip_error(e, encrypted)),
        };
        if file.size() > max {
            return Err(Error::LimitExceeded(format!(
                "{name} is {} bytes, more than {max}",
                file.size()
            )));
        }
        let mut buf = Vec::with_capacity(file.size() as usize);
        file.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| io_error(e, encrypted))?;
        if buf.len() as u64 > max {
            return Err(Error::LimitExceeded(format!(
                "{name} is more than {max} bytes"
            )));
        }
        Ok(buf)
    }

    fn load_manifest(&mut self) -> Result<()> {
        let bytes = match self.read_small(MANIFEST_NAME, self.limits.max_manifest_size) {
            Err(Error::NoSuchEntry(_)) => {
                return Err(Error::NotABundle {
                    reason: "the zip has no manifest.json".into(),
                });
            }
            other => other?,
        };
        let probe: ManifestProbe = serde_json::from_slice(&bytes)
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
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| Error::InvalidManifest(e.to_string()))?;
        self.manifest = manifest;
        self.manifest_bytes = bytes;
        Ok(())
    }

    fn verify_signature(&mut self, opts: &OpenOptions<'_>) -> Result<()> {
        let sig_bytes = match self.read_small(SIGNATURE_NAME, 64 * 1024) {
            Err(Error::NoSuchEntry(_)) => {
                return Err(Error::SignatureInvalid(
                    "manifest.json.sig is missing".into(),
                ));
            }
            other => other?,
        };
        let sig = SshSig::from_pem(&sig_bytes).map_err(|e| {
            Error::SignatureInvalid(format!("manifest.json.sig does not parse: {e}"))
        })?;
        let signer =
            PublicKey::from_openssh(self.manifest.signer.public_key.trim()).map_err(|e| {
                Error::SignatureInvalid(format!("the manifest's signer key does not parse: {e}"))
            })?;
        if sig.public_key() != signer.key_data() {
            return Err(Error::SignatureInvalid(
                "the signature is by another key than the manifest's signer".into(),
            ));
        }
        if sig.namespace() != SIG_NAMESPACE {
            return Err(Error::SignatureInvalid(format!(
                "namespace {:?}, expected {SIG_NAMESPACE:?}",
                sig.namespace()
            )));
        }
        signer
            .verify(SIG_NAMESPACE, &self.manifest_bytes, &sig)
            .map_err(|e| Error::SignatureInvalid(e.to_string()))?;
        let fingerprint = signer.fingerprint(HashAlg::Sha256).to_string();
        if fingerprint != self.manifest.signer.fingerprint {
            return Err(Error::InvalidManifest(format!(
                "signer fingerprint {} does not match its key ({fingerprint})",
                self.manifest.signer.fingerprint
            )));
        }
        self.trust = match opts.trusted {
            None => TrustStatus::NotChecked,
            Some(t) => match t.find(&signer) {
                Some(s) => TrustStatus::Trusted {
                    principals: s.principals.clone(),
                },
                None if opts.require_trusted => return Err(Error::SignerUntrusted { fingerprint }),
                None => TrustStatus::Untrusted,
            },
        };
        self.signature = sig_bytes;
        Ok(())
    }

    fn check_file_set(&mut self) -> Result<()> {
        let mut by_path = HashMap::new();
        for (i, f) in self.manifest.files.iter().enumerate() {
            check_entry_name(&f.path).map_err(|reason| Error::UnsafeEntryName {
                name: f.path.clone(),
                reason,
            })?;
            if f.path == MANIFEST_NAME
                || f.path == SIGNATURE_NAME
                || by_path.insert(f.path.clone(), i).is_some()
            {
                return Err(Error::InvalidManifest(format!(
                    "file {} is listed twice or under a reserved name",
                    f.path
                )));
            }
        }
        let mut present = HashSet::new();
        for i in 0..self.archive.len() {
            let entry = self
                .archive
                .by_index_data(i)
                .map_err(|e| zip_error(e, self.encrypted))?;
            if entry.is_dir() {
                continue;
            }
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            if name == MANIFEST_NAME || name == SIGNATURE_NAME {
                continue;
            }
            let Some(&idx) = by_path.get(&name) else {
                return Err(Error::UnlistedFile { path: name });
            };
            let expected = self.manifest.files[idx].size;
            if entry.size() != expected {
                return Err(Error::SizeMismatch {
                    path: name,
                    expected,
                    actual: entry.size(),
                });
            }
            present.insert(name);
        }
        if let Some(missing) = self
            .manifest
            .files
            .iter()
            .find(|f| !present.contains(&f.path))
        {
            return Err(Error::MissingFile {
                path: missing.path.clone(),
            });
        }
        self.by_path = by_path;
        Ok(())
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

/// A file of the bundle being read: capped at its manifest size, hash-checked at the end.
pub struct EntryReader<'a> {
    inner: zip::read::ZipFile<'a, Source>,
    hasher: EntryHasher,
    read: u64,
    record: FileRecord,
    encrypted: bool,
    done: bool,
    verified: &'a mut HashSet<String>,
}

impl EntryReader<'_> {
    /// The manifest record of this file.
    pub fn record(&self) -> &FileRecord {
        &self.record
    }

    /// Turns an error from `read` into the typed error it stands for.
    pub fn into_error(self, e: io::Error) -> Error {
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<EntryError>()) {
            return match inner {
                EntryError::Hash => Error::HashMismatch {
                    path: self.record.path.clone(),
                },
                EntryError::Size(actual) => Error::SizeMismatch {
                    path: self.record.path.clone(),
                    expected: self.record.size,
                    actual: *actual,
                },
            };
        }
        io_error(e, self.encrypted)
    }
}

#[derive(Debug)]
enum EntryError {
    Hash,
    Size(u64),
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hash => f.write_str("content does not match its sha256 in the manifest"),
            Self::Size(n) => write!(f, "content size {n} differs from the manifest"),
        }
    }
}

impl std::error::Error for EntryError {}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        // Never read more than one byte past the declared size.
        let left = self.record.size.saturating_sub(self.read) + 1;
        let want = buf.len().min(left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.record.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                EntryError::Size(self.read),
            ));
        }
        self.hasher.update(&buf[..n]);
        if n == 0 {
            self.done = true;
            if self.read != self.record.size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    EntryError::Size(self.read),
                ));
            }
            let digest = std::mem::replace(&mut self.hasher, EntryHasher::new(0)).finish();
            if digest != self.record.sha256 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, EntryError::Hash));
            }
            self.verified.insert(self.record.path.clone());
        }
        Ok(n)
    }
}

/// SHA-256 of an entry being read. Large entries are hashed on a second thread, fed in
/// batches, so hashing overlaps with decryption and inflation instead of adding to them.
enum EntryHasher {
    Inline(Sha256),
    Threaded {
        pending: Vec<u8>,
        tx: std::sync::mpsc::SyncSender<Vec<u8>>,
        /// Batches come back once hashed, so their memory is reused (no page faults).
        recycled: std::sync::mpsc::Receiver<Vec<u8>>,
        handle: std::thread::JoinHandle<String>,
    },
}

/// Entries at least this large are hashed on a second thread.
const THREADED_HASH_MIN: u64 = 4 << 20;
/// Bytes handed to the hashing thread at a time (at most 4 batches are in flight).
const HASH_BATCH: usize = 256 << 10;

impl EntryHasher {
    fn new(size: u64) -> Self {
        if size >= THREADED_HASH_MIN {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
            let (back_tx, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
            let spawned = std::thread::Builder::new()
                .name("rcdiag-sha256".into())
                .spawn(move || {
                    let mut h = Sha256::new();
                    for mut batch in rx {
                        h.update(&batch);
                        batch.clear();
                        let _ = back_tx.send(batch);
                    }
                    hex::encode(h.finalize())
                });
            if let Ok(handle) = spawned {
                return Self::Threaded {
                    pending: Vec::with_capacity(HASH_BATCH),
                    tx,
                    recycled,
                    handle,
                };
            }
        }
        Self::Inline(Sha256::new())
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Inline(h) => h.update(data),
            Self::Threaded {
                pending,
                tx,
                recycled,
                ..
            } => {
                pending.extend_from_slice(data);
                if pending.len() >= HASH_BATCH {
                    let fresh = recycled
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(HASH_BATCH));
                    let batch = std::mem::replace(pending, fresh);
                    // A send fails only if the thread is gone; finish() then reports a mismatch.
                    let _ = tx.send(batch);
                }
            }
        }
    }

    /// The lowercase hex digest (empty if the hashing thread failed, which never matches).
    fn finish(self) -> String {
        match self {
            Self::Inline(h) => hex::encode(h.finalize()),
            Self::Threaded {
                pending,
                tx,
                handle,
                ..
            } => {
                let _ = tx.send(pending);
                drop(tx);
                handle.join().unwrap_or_default()
            }
        }
    }
}

fn decrypt(buffered: BufReader<Source>, identities: &[Identity]) -> Result<Source> {
    let armored = age::armor::ArmoredReader::new(buffered);
    let decryptor = age::Decryptor::new_buffered(armored).map_err(|e| match e {
        age::DecryptError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Error::Truncated("the age header ends early".into())
        }
        age::DecryptError::UnknownFormat => Error::NotABundle {
            reason: "unknown age format version".into(),
        },
        other => Error::Corrupt(format!("age header: {other}")),
    })?;
    // Keep a copy of the header's stanzas to name the recipients if no identity matches.
    match decryptor.decrypt(identities.iter().map(|i| i.as_age())) {
        Ok(reader) => Ok(Box::new(reader)),
        Err(age::DecryptError::NoMatchingKeys) => Err(Error::NoMatchingIdentity {
            recipients: Vec::new(),
        }),
        Err(age::DecryptError::InvalidMac) => {
            Err(Error::Corrupt("the age header MAC does not verify".into()))
        }
        Err(e) => Err(Error::Corrupt(format!("age: {e}"))),
    }
}

/// Lists the recipients named in an age header: the `rcdiag-recipient` hints when
/// present, else the stanza types (X25519 keys carry no public name).
pub fn header_recipients(source: impl Read) -> Vec<String> {
    let mut armored = age::armor::ArmoredReader::new(BufReader::new(source.take(4 << 20)));
    let mut hints = Vec::new();
    let mut others = Vec::new();
    let mut line = String::new();
    let mut raw = Vec::new();
    // The header is text up to the `---` line; read it byte-wise through the armor.
    let mut byte = [0u8; 1];
    while raw.len() < (1 << 20) {
        match armored.read(&mut byte) {
            Ok(1) => {}
            _ => break,
        }
        if byte[0] != b'\n' {
            raw.push(byte[0]);
            continue;
        }
        line.clear();
        line.push_str(&String::from_utf8_lossy(&raw));
        raw.clear();
        if line.starts_with("---") {
            break;
        }
        if let Some(rest) = line.strip_prefix("-> ") {
            let mut args = rest.split(' ');
            match (args.next(), args.next()) {
                (Some(HINT_STANZA_TAG), Some(fp)) => hints.push(fp.to_string()),
                (Some("X25519"), _) => others.push("an age X25519 key".to_string()),
                (Some(tag), Some(t)) if tag.starts_with("ssh-") => {
                    others.push(format!("an {tag} key (tag {t})"))
                }
                (Some(tag), _) => others.push(format!("a {tag} recipient")),
                _ => {}
            }
        }
    }
    if hints.is_empty() { others } else { hints }
}

fn placeholder_manifest() -> Manifest {
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
        io::ErrorKind::InvalidData if encrypted => Error::Corrupt(format!(
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
