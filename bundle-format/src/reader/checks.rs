//! The checks a bundle passes before anything in it is trusted: the zip's structure and
//! layout (entries the readers could disagree on are refused), the manifest and its
//! limits, the signature, and the file set against the manifest.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use ssh_key::{HashAlg, PublicKey, SshSig};
use zip::result::ZipError;

use crate::error::{Error, Result};
use crate::names::check_entry_name;
use crate::{MANIFEST_NAME, SIG_NAMESPACE, SIGNATURE_NAME};

use super::*;

impl Bundle {
    /// Entry names, types and sizes, from the zip's central directory, before anything is read.
    pub(super) fn check_structure(&mut self) -> Result<()> {
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
    pub(super) fn check_layout(&mut self) -> Result<()> {
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

    pub(super) fn read_small(&mut self, name: &str, max: u64) -> Result<Vec<u8>> {
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

    pub(super) fn load_manifest(&mut self) -> Result<()> {
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

    pub(super) fn verify_signature(&mut self, opts: &OpenOptions<'_>) -> Result<()> {
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

    pub(super) fn check_file_set(&mut self) -> Result<()> {
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
}
