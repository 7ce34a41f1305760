//! The node key change that `rcdiag-agent key new` made, kept until a bundle records it.
//! `collect --new-node-key` makes its key and records the change in the same run;
//! `key new` writes no bundle, so it leaves `STATE_DIR/node_key_change.json` (0600,
//! written atomically): the next `collect` or scheduler snapshot reads it into
//! [`crate::run::RunConfig::key_change`] (the node label `node_key_change` and
//! `agent/run.json`'s `node_key`), and removes it once that bundle is written.

use std::io;
use std::path::Path;

use rcdiag_bundle::{KeyReplaced, safefs};
use serde::{Deserialize, Serialize};

/// The record's file name in the state dir.
pub const PENDING_FILE: &str = "node_key_change.json";
/// Format tag of the record.
pub const FORMAT: &str = "rcdiag-node-key-change/1";
/// Most bytes of a record read (a real one is a few hundred).
const MAX_RECORD: u64 = 16 << 10;

/// `STATE_DIR/node_key_change.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    format: String,
    /// When `key new` ran (RFC 3339).
    at: String,
    /// The key made.
    new_fingerprint: String,
    /// The key replaced, when it could be read.
    previous_fingerprint: Option<String>,
    /// Why.
    reason: String,
}

/// Why a record could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyChangeError {
    /// The record cannot be written.
    #[error(
        "the new node key is in place, but the record of the change could not be written to {path}: {source}; the next bundle will not say that the key changed: tell support"
    )]
    Write {
        /// File.
        path: String,
        /// Cause.
        source: io::Error,
    },
}

/// The change of `replaced`, as `key new` reports it (its reason names `key new`).
pub fn from_key_new(replaced: KeyReplaced) -> KeyReplaced {
    KeyReplaced {
        reason: replaced
            .reason
            .replace("(--new-node-key)", "(rcdiag-agent key new)"),
        ..replaced
    }
}

/// Writes the record of `change` to key `new_fingerprint` into `state_dir`. An older
/// record no bundle took yet is replaced, but its previous key is kept: that is the key
/// support pinned.
pub fn record(
    state_dir: &Path,
    change: &KeyReplaced,
    new_fingerprint: &str,
) -> Result<(), KeyChangeError> {
    // A change no bundle recorded yet: support still knows the key before it.
    let previous_fingerprint = match read(state_dir) {
        Ok(Some(older)) => older.previous_fingerprint,
        _ => change.previous_fingerprint.clone(),
    };
    let rec = Record {
        format: FORMAT.into(),
        at: jiff::Timestamp::now().to_string(),
        new_fingerprint: new_fingerprint.into(),
        previous_fingerprint,
        reason: change.reason.clone(),
    };
    let mut text = serde_json::to_vec_pretty(&rec).unwrap_or_default();
    text.push(b'\n');
    safefs::write_atomic(state_dir, PENDING_FILE.as_ref(), &text, 0o600).map_err(|source| {
        KeyChangeError::Write {
            path: state_dir.join(PENDING_FILE).display().to_string(),
            source,
        }
    })
}

fn read(state_dir: &Path) -> io::Result<Option<Record>> {
    let path = state_dir.join(PENDING_FILE);
    match safefs::read_capped(&path, MAX_RECORD) {
        Ok(bytes) => serde_json::from_slice::<Record>(&bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            .and_then(|r| {
                if r.format == FORMAT {
                    Ok(Some(r))
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("unknown format {:?}", r.format),
                    ))
                }
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The key change waiting in `state_dir` for key `fingerprint` (the node key now), and
/// warnings to print. A record of another key is stale (a later `--new-node-key` or a
/// key put back by hand) and ignored; an unreadable one still says that the key changed.
pub fn pending(state_dir: &Path, fingerprint: &str) -> (Option<KeyReplaced>, Vec<String>) {
    let path = state_dir.join(PENDING_FILE);
    match read(state_dir) {
        Ok(None) => (None, Vec::new()),
        Ok(Some(r)) if r.new_fingerprint == fingerprint => (
            Some(KeyReplaced {
                previous_fingerprint: r.previous_fingerprint,
                reason: format!("{} on {}", r.reason, r.at),
            }),
            Vec::new(),
        ),
        Ok(Some(r)) => (
            None,
            vec![format!(
                "{} records a change to key {}, not to this node's key {fingerprint}: ignored (remove it: rm {})",
                path.display(),
                r.new_fingerprint,
                safefs::shell_quote(&path)
            )],
        ),
        Err(e) => (
            Some(KeyReplaced {
                previous_fingerprint: None,
                reason: format!(
                    "a new node key was made with rcdiag-agent key new; its record could not be read ({e})"
                ),
            }),
            vec![format!(
                "{} cannot be read ({e}): the bundle says the key changed, without the previous key",
                path.display()
            )],
        ),
    }
}

/// Removes the record once a bundle recorded it; a record that is already gone is fine.
pub fn clear(state_dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(state_dir.join(PENDING_FILE)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(prev: Option<&str>) -> KeyReplaced {
        from_key_new(KeyReplaced {
            previous_fingerprint: prev.map(str::to_string),
            reason: "a new node key was asked for (--new-node-key)".into(),
        })
    }

    #[test]
    fn a_record_is_read_back_for_its_key_only_then_cleared() {
        let dir = tempfile::tempdir().unwrap();
        assert!(pending(dir.path(), "SHA256:new").0.is_none());
        record(dir.path(), &change(Some("SHA256:old")), "SHA256:new").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(PENDING_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (k, warn) = pending(dir.path(), "SHA256:new");
        let k = k.expect("pending");
        assert!(warn.is_empty());
        assert_eq!(k.previous_fingerprint.as_deref(), Some("SHA256:old"));
        assert!(k.reason.contains("rcdiag-agent key new"), "{}", k.reason);
        let (k, warn) = pending(dir.path(), "SHA256:other");
        assert!(k.is_none());
        assert!(warn[0].contains("ignored"), "{warn:?}");
        clear(dir.path()).unwrap();
        clear(dir.path()).unwrap();
        assert!(pending(dir.path(), "SHA256:new").0.is_none());
    }

    #[test]
    fn a_second_key_new_keeps_the_first_previous_key() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), &change(Some("SHA256:a")), "SHA256:b").unwrap();
        // No bundle in between: the key support pinned is still the first one.
        record(dir.path(), &change(Some("SHA256:b")), "SHA256:c").unwrap();
        let k = pending(dir.path(), "SHA256:c").0.unwrap();
        assert_eq!(k.previous_fingerprint.as_deref(), Some("SHA256:a"));
    }

    #[test]
    fn a_damaged_record_still_says_the_key_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PENDING_FILE), b"{not json").unwrap();
        let (k, warn) = pending(dir.path(), "SHA256:x");
        assert!(k.unwrap().previous_fingerprint.is_none());
        assert!(warn[0].contains("cannot be read"), "{warn:?}");
    }
}
