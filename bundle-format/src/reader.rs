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
        if self.archive.offset() != 0 {
            return Err(Error::ZipInconsistent {
                entry: "(the first entry)".into(),
                reason: format!(
                    "is preceded by {} bytes that are not part of the zip",
                    self.archive.offset()
                ),
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
                // An empty Deflate stream is 2 bytes; anything more is hidden data.
                if entry.size() > 0 || entry.compressed_size() > 2 {
                    return Err(Error::ZipInconsistent {
                        entry: name,
                        reason: format!(
                            "is a directory entry carrying {} bytes of data ({} stored); directory entries must be empty",
                            entry.size(),
                            entry.compressed_size()
                        ),
                    });
                }
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

    /// Where each entry's bytes lie, checked against its local header: zip readers
    /// (rcdiag, `unzip`, Python's `zipfile`, streaming readers) must all see the same
    /// entries with the same names and contents, and no byte may belong to two entries
    /// (overlapping entries would defeat the size and ratio limits).
    fn check_layout(&mut self) -> Result<()> {
        let encrypted = self.encrypted;
        let dir_start = self.archive.central_directory_start();
        let mut order: Vec<(u64, usize)> = Vec::with_capacity(self.archive.len());
        for i in 0..self.archive.len() {
            let e = self
                .archive
                .by_index_data(i)
                .map_err(|e| zip_error(e, encrypted))?;
            order.push((e.header_start(), i));
        }
        // In header order, so the reads of local headers go forward through the stream.
        order.sort_unstable();
        let mut ranges: Vec<(u64, u64, String)> = Vec::with_capacity(order.len());
        let mut stored_total: u64 = 0;
        let mut uncompressed_total: u64 = 0;
        for &(header_start, i) in &order {
            let name = String::from_utf8_lossy(
                self.archive
                    .by_index_data(i)
                    .map_err(|e| zip_error(e, encrypted))?
                    .name_raw(),
            )
            .into_owned();
            let inconsistent = |reason: String| Error::ZipInconsistent {
                entry: name.clone(),
                reason,
            };
            let options = zip::read::ZipReadOptions::new()
                .enforce_header_consistency(true)
                .ignore_crc32(true);
            let file = match self.archive.by_index_with_options(i, options) {
                Ok(f) => f,
                Err(ZipError::Io(e)) => return Err(io_error(e, encrypted)),
                Err(ZipError::InvalidArchive(msg)) => {
                    return Err(inconsistent(format!(
                        "has a local header that disagrees with the central directory ({msg})"
                    )));
                }
                Err(e) => return Err(inconsistent(e.to_string())),
            };
            for field in file.extra_data_fields() {
                if let zip::extra_fields::ExtraField::UnicodePath(u) = field {
                    let same = u
                        .clone()
                        .unwrap_valid(file.name_raw())
                        .is_ok_and(|content| *content == *file.name_raw());
                    if !same {
                        return Err(inconsistent(
                            "has a Unicode Path extra field (0x7075) naming another file than its header: readers that follow the field and readers that do not would see different names"
                                .into(),
                        ));
                    }
                }
            }
            if file.encrypted() {
                return Err(inconsistent("is encrypted with zip encryption".into()));
            }
            if !matches!(
                file.compression(),
                zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
            ) {
                return Err(inconsistent(format!(
                    "uses compression method {}; bundles use Deflate or Stored",
                    file.compression()
                )));
            }
            let data_start = file.data_start().unwrap_or(header_start);
            let end = data_start.saturating_add(file.compressed_size());
            stored_total = stored_total.saturating_add(file.compressed_size());
            uncompressed_total = uncompressed_total.saturating_add(file.size());
            drop(file);
            ranges.push((header_start, end, name));
        }
        if stored_total > dir_start {
            return Err(Error::ZipInconsistent {
                entry: "(all entries)".into(),
                reason: format!(
                    "declare {stored_total} stored bytes together, more than the {dir_start} bytes of the archive before its central directory"
                ),
            });
        }
        for w in ranges.windows(2) {
            if w[0].1 > w[1].0 {
                return Err(Error::ZipInconsistent {
                    entry: w[1].2.clone(),
                    reason: format!(
                        "overlaps the bytes of entry {:?} (overlapping entries let a small file expand without bound)",
                        w[0].2
                    ),
                });
            }
        }
        if let Some(last) = ranges.last()
            && last.1 > dir_start
        {
            return Err(Error::ZipInconsistent {
                entry: last.2.clone(),
                reason: "runs into the central directory".into(),
            });
        }
        // With no byte shared, the ratio of the whole archive is bounded too.
        let max_ratio = self.limits.max_ratio;
        if uncompressed_total > (16 << 20) && uncompressed_total / dir_start.max(1) > max_ratio {
            return Err(Error::LimitExceeded(format!(
                "the entries expand {}x in all (compression bomb?), more than the limit of {max_ratio}x",
                uncompressed_total / dir_start.max(1)
            )));
        }
        // The zip crate's own check also finds local headers the central directory
        // does not list (which streaming readers such as bsdtar would extract).
        self.archive
            .validate_header_consistency()
            .map_err(|e| match e {
                ZipError::Io(e) => io_error(e, encrypted),
                other => Error::ZipInconsistent {
                    entry: "(unknown)".into(),
                    reason: other.to_string(),
                },
            })?;
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
        self.manifest = parse_manifest(&bytes, self.limits.max_entries)?;
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
                EntryError::Size(actual) if *actual > self.record.size => Error::EntryTooLarge {
                    path: self.record.path.clone(),
                },
                EntryError::Size(actual) => Error::SizeMismatch {
                    path: self.record.path.clone(),
                    expected: self.record.size,
                    actual: *actual,
                },
            };
        }
        // The zip crate stops an entry at its declared size (which matched the manifest).
        if e.kind() == io::ErrorKind::InvalidData
            && !is_age_error(&e)
            && e.to_string().contains("larger than its declared")
        {
            return Error::EntryTooLarge {
                path: self.record.path.clone(),
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
        Ok(reader) => Ok(Box::new(AgeLayer(reader))),
        Err(age::DecryptError::NoMatchingKeys) => Err(Error::NoMatchingIdentity {
            recipients: Vec::new(),
        }),
        Err(age::DecryptError::InvalidMac) => {
            Err(Error::Corrupt("the age header MAC does not verify".into()))
        }
        Err(e) => Err(Error::Corrupt(format!("age: {e}"))),
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

/// The age payload reader, marking its errors so they are told apart from errors of
/// the zip inside it (only the age layer's failures mean "failed authentication").
struct AgeLayer<R>(R);

/// An error of the age payload (decryption, authentication, truncation).
#[derive(Debug)]
struct AgeLayerError(io::Error);

impl std::fmt::Display for AgeLayerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AgeLayerError {}

fn age_err(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), AgeLayerError(e))
}

fn is_age_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<AgeLayerError>())
}

impl<R: Read> Read for AgeLayer<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(age_err)
    }
}

impl<R: Seek> Seek for AgeLayer<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos).map_err(age_err)
    }
}

/// Reads the age header (through the armor, if any) up to its `---` MAC line, refusing
/// it when it is larger than `limits.max_age_header` bytes or has more than
/// `limits.max_age_stanzas` stanzas, and returns the recipients it names: the
/// `rcdiag-recipient` hints when present, else the stanza types (X25519 keys carry no
/// public name). A header that ends early is left for the age parser to report.
fn scan_age_header(source: impl Read, limits: &Limits) -> Result<Vec<String>> {
    let max = limits.max_age_header;
    // Armor costs 4/3 plus line breaks: twice the limit is enough input to find the end.
    let budget = (max as u64).saturating_mul(2).saturating_add(4096);
    let mut armored = age::armor::ArmoredReader::new(BufReader::new(source.take(budget)));
    let mut hints = Vec::new();
    let mut others = Vec::new();
    let mut raw = Vec::new();
    let mut total = 0usize;
    let mut stanzas = 0usize;
    let mut byte = [0u8; 1];
    while let Ok(1) = armored.read(&mut byte) {
        total += 1;
        if total > max {
            return Err(Error::LimitExceeded(format!(
                "the age header is larger than {max} bytes (a bundle's header holds a few hundred bytes per recipient); this file was not made by rcdiag-agent: ask the sender for a new bundle"
            )));
        }
        if byte[0] != b'\n' {
            raw.push(byte[0]);
            continue;
        }
        let line = String::from_utf8_lossy(&raw).into_owned();
        raw.clear();
        if line.starts_with("---") {
            break;
        }
        if let Some(rest) = line.strip_prefix("-> ") {
            stanzas += 1;
            if stanzas > limits.max_age_stanzas {
                return Err(Error::LimitExceeded(format!(
                    "the age header has more than {} recipient stanzas, the limit; this file was not made by rcdiag-agent: ask the sender for a new bundle",
                    limits.max_age_stanzas
                )));
            }
            let mut args = rest.split(' ');
            match (args.next(), args.next()) {
                (Some(HINT_STANZA_TAG), Some(fp)) => {
                    hints.push(crate::manifest::cut_to(fp, 128));
                }
                (Some("X25519"), _) => others.push("an age X25519 key".to_string()),
                (Some(tag), Some(t)) if tag.starts_with("ssh-") => others.push(format!(
                    "an {} key (tag {})",
                    crate::manifest::cut_to(tag, 64),
                    crate::manifest::cut_to(t, 64)
                )),
                (Some(tag), _) => {
                    others.push(format!("a {} recipient", crate::manifest::cut_to(tag, 64)));
                }
                _ => {}
            }
        }
    }
    Ok(if hints.is_empty() { others } else { hints })
}

/// Lists the recipients named in an age header: the `rcdiag-recipient` hints when
/// present, else the stanza types (X25519 keys carry no public name). Empty when the
/// header is past the default limits.
pub fn header_recipients(source: impl Read) -> Vec<String> {
    scan_age_header(source, &Limits::default()).unwrap_or_default()
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
