//! Reading one file of a bundle: capped at the size its manifest record gives, and
//! hash-checked against it at the end (on a second thread for large files).

use std::collections::HashSet;
use std::io::{self, Read};

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::manifest::FileRecord;

use super::*;

/// A file of the bundle being read: capped at its manifest size, hash-checked at the end.
pub struct EntryReader<'a> {
    pub(super) inner: zip::read::ZipFile<'a, Source>,
    pub(super) hasher: EntryHasher,
    pub(super) read: u64,
    pub(super) record: FileRecord,
    pub(super) encrypted: bool,
    pub(super) done: bool,
    pub(super) verified: &'a mut HashSet<String>,
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
pub(super) enum EntryHasher {
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
    pub(super) fn new(size: u64) -> Self {
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
