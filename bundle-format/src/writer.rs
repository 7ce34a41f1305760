//! The streaming bundle writer: entries go through SHA-256, Deflate and (unless the
//! signed-plain variant is asked for) age encryption straight into a hidden temp file
//! in the target folder. `finish()` adds the signed manifest, fsyncs and renames the
//! temp file into place; dropping the writer unfinished removes the temp file.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Error, Result};
use crate::keys::{NodeKey, Recipient};
use crate::manifest::{
    AgentInfo, CollectorRecord, FORMAT_NAME, FORMAT_VERSION, FileRecord, Manifest, NodeInfo,
    RedactionSummary, Signer,
};
use crate::names::check_entry_name;
use crate::{MANIFEST_NAME, SIG_NAMESPACE, SIGNATURE_NAME};

/// Stanza tag of the plaintext recipient hints written into the age header.
pub const HINT_STANZA_TAG: &str = "rcdiag-recipient";

/// How the bundle is protected.
#[derive(Debug, Clone)]
pub enum Encryption {
    /// age v1 to these recipients; `armor` writes the ASCII-armored form.
    Age {
        recipients: Vec<Recipient>,
        armor: bool,
    },
    /// The signed, unencrypted variant (`.rcdiag.zip`), for a customer who wants to look first.
    None,
}

/// What the writer needs besides the entries.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Where to write: an existing folder (a standard file name is chosen) or a file path.
    pub out: PathBuf,
    /// Encryption of the outer layer.
    pub encryption: Encryption,
    /// The node key that signs the manifest.
    pub signer: NodeKey,
    /// The program writing the bundle.
    pub agent: AgentInfo,
    /// The node described.
    pub node: NodeInfo,
    /// Deflate level (zlib 0-9); `None` is the default level (6).
    pub compression_level: Option<i64>,
}

/// A host or case name as it stands in a bundle file name: every character but ASCII
/// letters, digits, `.`, `_` and `-` becomes `_`.
pub fn clean_name_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The standard bundle file name: `rcdiag-<host>-<yyyymmddThhmmssZ>[-<case>].rcdiag[.zip]`.
pub fn bundle_file_name(
    host: &str,
    created: jiff::Timestamp,
    case: Option<&str>,
    encrypted: bool,
) -> String {
    let clean = clean_name_part;
    let mut name = format!(
        "rcdiag-{}-{}",
        clean(host),
        created.strftime("%Y%m%dT%H%M%SZ")
    );
    if let Some(case) = case.filter(|c| !c.is_empty()) {
        name.push('-');
        name.push_str(&clean(case));
    }
    name.push_str(if encrypted { ".rcdiag" } else { ".rcdiag.zip" });
    name
}

/// Counts the bytes that reach the file.
struct CountingFile {
    inner: BufWriter<File>,
    count: u64,
}

impl Write for CountingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The outer layer: age (binary or armored) or plain.
enum Outer {
    Age(age::stream::StreamWriter<age::armor::ArmoredWriter<CountingFile>>),
    Plain(CountingFile),
}

impl Write for Outer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Age(w) => w.write(buf),
            Self::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Age(w) => w.flush(),
            Self::Plain(w) => w.flush(),
        }
    }
}

impl Outer {
    fn finish(self) -> io::Result<CountingFile> {
        match self {
            Self::Age(w) => w.finish()?.finish(),
            Self::Plain(w) => Ok(w),
        }
    }
}

/// The age encryptor of a bundle: `recipients`, a `rcdiag-recipient` hint stanza for
/// each, and an `extra` plain stanza (the sealed mark) if given.
pub(crate) fn encryptor(
    recipients: &[Recipient],
    extra: Option<&dyn age::Recipient>,
) -> Result<age::Encryptor> {
    let hints: Vec<HintRecipient> = recipients
        .iter()
        .map(|r| HintRecipient(r.fingerprint()))
        .collect();
    let all = recipients
        .iter()
        .map(|r| r.as_age())
        .chain(hints.iter().map(|h| h as &dyn age::Recipient))
        .chain(extra);
    age::Encryptor::with_recipients(all).map_err(|e| Error::InvalidRecipient {
        recipient: String::new(),
        reason: e.to_string(),
    })
}

/// A recipient that adds a plaintext `rcdiag-recipient <fingerprint>` stanza to the
/// age header, so a reader without the right key can say which keys would open it.
/// age implementations ignore stanzas of types they do not know.
struct HintRecipient(String);

impl age::Recipient for HintRecipient {
    fn wrap_file_key(
        &self,
        _file_key: &age_core::format::FileKey,
    ) -> std::result::Result<(Vec<age_core::format::Stanza>, HashSet<String>), age::EncryptError>
    {
        Ok((
            vec![age_core::format::Stanza {
                tag: HINT_STANZA_TAG.to_string(),
                args: vec![self.0.clone()],
                body: Vec::new(),
            }],
            HashSet::new(),
        ))
    }
}

struct OpenEntry {
    path: String,
    hasher: Sha256,
    size: u64,
}

/// Writes one bundle. See the module documentation.
pub struct BundleWriter {
    zip: Option<ZipWriter<zip::write::StreamWriter<Outer>>>,
    temp: Option<tempfile::TempPath>,
    target: PathBuf,
    /// For a standard name chosen in a folder: the folder and the base name, so a name
    /// taken meanwhile (another run in the same second) gets the next free `-N`.
    auto_name: Option<(PathBuf, String)>,
    options: SimpleFileOptions,
    signer: NodeKey,
    agent: AgentInfo,
    node: NodeInfo,
    bundle_id: String,
    created: jiff::Timestamp,
    files: Vec<FileRecord>,
    names: HashSet<String>,
    collectors: Vec<CollectorRecord>,
    redaction: RedactionSummary,
    open: Option<OpenEntry>,
    encrypted: bool,
}

/// What `finish()` produced.
#[derive(Debug, Clone)]
pub struct FinishedBundle {
    /// Final path of the bundle.
    pub path: PathBuf,
    /// Size of the bundle file in bytes.
    pub size: u64,
    /// The manifest that was signed.
    pub manifest: Manifest,
    /// Whether the outer layer is age-encrypted.
    pub encrypted: bool,
}

impl BundleWriter {
    /// Starts a bundle: opens a hidden temp file beside the target and writes the age header.
    pub fn create(opts: WriterOptions) -> Result<Self> {
        // Refuse now what a reader would refuse later (SPEC.md 3.1): a host name or
        // labels past the manifest limits.
        let mut probe = crate::reader::empty_manifest();
        probe.node = opts.node.clone();
        probe.agent = opts.agent.clone();
        crate::manifest::check_manifest_limits(&probe, usize::MAX)
            .map_err(|e| Error::InvalidManifest(format!("{e}; shorten it")))?;
        let created = jiff::Timestamp::now();
        let encrypted = matches!(opts.encryption, Encryption::Age { .. });
        let case = opts.node.labels.get("case").map(String::as_str);
        let auto_name = opts
            .out
            .is_dir()
            .then(|| bundle_file_name(&opts.node.hostname, created, case, encrypted));
        let target = match &auto_name {
            Some(name) => free_name(&opts.out, name, 1)
                .map(|(_, n)| opts.out.join(n))
                .unwrap_or_else(|| opts.out.join(name)),
            None => opts.out.clone(),
        };
        let write_err = |source: io::Error| Error::Write {
            path: target.display().to_string(),
            source,
        };
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(write_err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "folder {} does not exist; create it or pass another with -o",
                    dir.display()
                ),
            )));
        }
        if target.exists() {
            return Err(write_err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the file exists; rcdiag never overwrites a bundle, choose another -o",
            )));
        }
        let temp = crate::safefs::temp_file_in(&dir).map_err(write_err)?;
        let (file, temp_path) = temp.into_parts();
        let sink = CountingFile {
            inner: BufWriter::with_capacity(256 * 1024, file),
            count: 0,
        };
        let outer = match &opts.encryption {
            Encryption::None => Outer::Plain(sink),
            Encryption::Age { recipients, armor } => {
                if recipients.is_empty() {
                    return Err(Error::InvalidRecipient {
                        recipient: String::new(),
                        reason: "no recipient given".into(),
                    });
                }
                let enc = encryptor(recipients, None)?;
                let format = if *armor {
                    age::armor::Format::AsciiArmor
                } else {
                    age::armor::Format::Binary
                };
                let armored =
                    age::armor::ArmoredWriter::wrap_output(sink, format).map_err(write_err)?;
                Outer::Age(enc.wrap_output(armored).map_err(write_err)?)
            }
        };
        let zip = ZipWriter::new_stream(outer);
        let mtime = zip_time(created);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(opts.compression_level)
            .large_file(true)
            .unix_permissions(0o644)
            .last_modified_time(mtime);
        Ok(Self {
            zip: Some(zip),
            temp: Some(temp_path),
            target,
            auto_name: auto_name.map(|n| (dir, n)),
            options,
            signer: opts.signer,
            agent: opts.agent,
            node: opts.node,
            bundle_id: uuid::Uuid::now_v7().to_string(),
            created,
            files: Vec::new(),
            names: HashSet::new(),
            collectors: Vec::new(),
            redaction: RedactionSummary::default(),
            open: None,
            encrypted,
        })
    }

    /// The path the bundle will have once finished.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The bundle id (UUIDv7) that the manifest will carry.
    pub fn bundle_id(&self) -> &str {
        &self.bundle_id
    }

    /// When the bundle was started (the manifest's `created_at`).
    pub fn created_at(&self) -> jiff::Timestamp {
        self.created
    }

    fn zip(&mut self) -> Result<&mut ZipWriter<zip::write::StreamWriter<Outer>>> {
        let target = self.target.display().to_string();
        self.zip.as_mut().ok_or_else(|| Error::Write {
            path: target,
            source: io::Error::other("the writer already failed or finished"),
        })
    }

    fn zip_err(&self, e: impl std::fmt::Display) -> Error {
        Error::Write {
            path: self.target.display().to_string(),
            source: io::Error::other(e.to_string()),
        }
    }

    /// Starts a new entry. An entry still open is closed first and marked truncated.
    pub fn begin_file(&mut self, path: &str) -> Result<()> {
        if self.open.is_some() {
            self.end_file(true)?;
        }
        check_entry_name(path).map_err(|reason| Error::InvalidEntryName {
            name: path.into(),
            reason,
        })?;
        if path == MANIFEST_NAME || path == SIGNATURE_NAME {
            return Err(Error::InvalidEntryName {
                name: path.into(),
                reason: "reserved name".into(),
            });
        }
        if !self.names.insert(path.to_string()) {
            return Err(Error::InvalidEntryName {
                name: path.into(),
                reason: "already written".into(),
            });
        }
        let options = self.options;
        let res = self.zip()?.start_file(path, options);
        res.map_err(|e| self.zip_err(e))?;
        self.open = Some(OpenEntry {
            path: path.to_string(),
            hasher: Sha256::new(),
            size: 0,
        });
        Ok(())
    }

    /// Appends bytes to the open entry.
    pub fn write_chunk(&mut self, buf: &[u8]) -> Result<()> {
        let Some(open) = self.open.as_mut() else {
            return Err(Error::InvalidEntryName {
                name: String::new(),
                reason: "no entry is open; call begin_file first".into(),
            });
        };
        open.hasher.update(buf);
        open.size += buf.len() as u64;
        let target = self.target.display().to_string();
        self.zip()?.write_all(buf).map_err(|source| Error::Write {
            path: target,
            source,
        })
    }

    /// Closes the open entry and records it in the manifest.
    pub fn end_file(&mut self, truncated: bool) -> Result<&FileRecord> {
        let Some(open) = self.open.take() else {
            return Err(Error::InvalidEntryName {
                name: String::new(),
                reason: "no entry is open".into(),
            });
        };
        self.files.push(FileRecord {
            path: open.path,
            size: open.size,
            sha256: hex::encode(open.hasher.finalize()),
            truncated,
        });
        Ok(self.files.last().expect("just pushed"))
    }

    /// Adds a whole entry from a reader (streamed, never held whole in memory).
    pub fn add_reader(&mut self, path: &str, mut reader: impl Read) -> Result<&FileRecord> {
        self.begin_file(path)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.end_file(true)?;
                    return Err(e.into());
                }
            };
            self.write_chunk(&buf[..n])?;
        }
        self.end_file(false)
    }

    /// Adds a whole entry from bytes.
    pub fn add_bytes(&mut self, path: &str, data: &[u8]) -> Result<&FileRecord> {
        self.begin_file(path)?;
        self.write_chunk(data)?;
        self.end_file(false)
    }

    /// Adds an entry holding `value` as pretty JSON.
    pub fn add_json<T: serde::Serialize>(&mut self, path: &str, value: &T) -> Result<&FileRecord> {
        let mut data = serde_json::to_vec_pretty(value).map_err(|e| Error::Json {
            path: path.into(),
            reason: e.to_string(),
        })?;
        data.push(b'\n');
        self.add_bytes(path, &data)
    }

    /// The records of the files written so far.
    pub fn files(&self) -> &[FileRecord] {
        &self.files
    }

    /// Records what a collector did.
    /// An error longer than the manifest allows is cut (with its length noted).
    pub fn record_collector(&mut self, mut record: CollectorRecord) {
        if let Some(e) = &record.error {
            record.error = Some(crate::manifest::cut_to(
                e,
                crate::manifest::limits::COLLECTOR_ERROR,
            ));
        }
        self.collectors.push(record);
    }

    /// Sets the redaction summary.
    pub fn set_redaction(&mut self, summary: RedactionSummary) {
        self.redaction = summary;
    }

    /// The manifest as it would be signed now.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            format: FORMAT_NAME.to_string(),
            format_version: FORMAT_VERSION,
            bundle_id: self.bundle_id.clone(),
            created_at: self.created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            agent: self.agent.clone(),
            node: self.node.clone(),
            collectors: self.collectors.clone(),
            files: self.files.clone(),
            redaction: self.redaction.clone(),
            signer: Signer {
                algorithm: "sshsig-ed25519".to_string(),
                public_key: self.signer.public_key_openssh(),
                fingerprint: self.signer.fingerprint(),
            },
        }
    }

    /// Writes and signs the manifest, closes zip and age, fsyncs and moves the file into place.
    pub fn finish(mut self) -> Result<FinishedBundle> {
        if self.open.is_some() {
            self.end_file(true)?;
        }
        let manifest = self.manifest();
        crate::manifest::check_manifest_limits(&manifest, usize::MAX)
            .map_err(|e| Error::InvalidManifest(format!("{e}; this bundle could not be read")))?;
        let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::InvalidManifest(e.to_string()))?;
        manifest_bytes.push(b'\n');
        let signature = self.signer.sign(SIG_NAMESPACE, &manifest_bytes)?;
        let options = self.options;
        let target = self.target.display().to_string();
        let zip_err = |e: zip::result::ZipError| Error::Write {
            path: target.clone(),
            source: io::Error::other(e.to_string()),
        };
        let io_err = |source: io::Error| Error::Write {
            path: target.clone(),
            source,
        };
        let mut zip = self
            .zip
            .take()
            .ok_or_else(|| io_err(io::Error::other("writer already failed")))?;
        zip.start_file(MANIFEST_NAME, options).map_err(zip_err)?;
        zip.write_all(&manifest_bytes).map_err(io_err)?;
        zip.start_file(SIGNATURE_NAME, options).map_err(zip_err)?;
        zip.write_all(signature.as_bytes()).map_err(io_err)?;
        let outer = zip.finish().map_err(zip_err)?.into_inner();
        let mut sink = outer.finish().map_err(io_err)?;
        sink.flush().map_err(io_err)?;
        let size = sink.count;
        let file = sink
            .inner
            .into_inner()
            .map_err(|e| io_err(e.into_error()))?;
        // The mode is set on the open file (never through a path that may be a link).
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        drop(file);
        let mut temp = self
            .temp
            .take()
            .ok_or_else(|| io_err(io::Error::other("temp file gone")))?;
        // Linked into place without ever replacing a file; a standard name taken
        // meanwhile (another run started in the same second) gets the next `-N`.
        let mut counter = 1;
        loop {
            match temp.persist_noclobber(&self.target) {
                Ok(()) => break,
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                    let next = self
                        .auto_name
                        .as_ref()
                        .and_then(|(dir, name)| free_name(dir, name, counter + 1));
                    let Some((n, name)) = next else {
                        return Err(io_err(io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "the target appeared while writing; rcdiag never overwrites a bundle, choose another -o",
                        )));
                    };
                    counter = n;
                    temp = e.path;
                    if let Some((dir, _)) = &self.auto_name {
                        self.target = dir.join(name);
                    }
                }
                Err(e) => return Err(io_err(e.error)),
            }
        }
        if let Some(dir) = self.target.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(FinishedBundle {
            path: self.target.clone(),
            size,
            manifest,
            encrypted: self.encrypted,
        })
    }
}

/// The first free name from counter `from` on: `name` itself for 1, else `name` with
/// `-N` before its extension (`rcdiag-h-20260101T000000Z-2.rcdiag`); `None` after 999.
fn free_name(dir: &Path, name: &str, from: u32) -> Option<(u32, String)> {
    let (stem, ext) = match name.find(".rcdiag") {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    (from.max(1)..1000).find_map(|n| {
        let candidate = if n == 1 {
            name.to_string()
        } else {
            format!("{stem}-{n}{ext}")
        };
        (!dir.join(&candidate).exists()).then_some((n, candidate))
    })
}

fn zip_time(t: jiff::Timestamp) -> zip::DateTime {
    let dt = t.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    zip::DateTime::from_date_and_time(
        dt.year().clamp(1980, 2107) as u16,
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
    )
    .unwrap_or_default()
}

/// Adds up redaction counts from several sources.
pub fn merge_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}
