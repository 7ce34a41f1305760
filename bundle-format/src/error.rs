//! Typed errors of the bundle format: one variant per distinct failure, each
//! message saying what went wrong and what to do next.

use std::io;

/// Everything that can go wrong while writing, reading or verifying a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is neither an age-encrypted bundle nor a signed zip bundle.
    #[error(
        "not an rcdiag bundle: {reason} (expected an age-encrypted `.rcdiag` file or a signed `.rcdiag.zip`)"
    )]
    NotABundle { reason: String },

    /// None of the identities given can decrypt the bundle.
    #[error(
        "no identity matches this bundle; it was encrypted to: {}. Pass the matching private key with -i FILE (or RCDIAG_IDENTITY)",
        if .recipients.is_empty() { "unknown recipients".to_string() } else { .recipients.join(", ") }
    )]
    NoMatchingIdentity { recipients: Vec<String> },

    /// The identity file given could not be used.
    #[error("cannot use identity {path}: {reason}")]
    Identity { path: String, reason: String },

    /// A recipient string is not an age X25519 or SSH public key.
    #[error(
        "invalid recipient {recipient:?}: {reason}; use an age key (age1...) or an SSH public key (ssh-ed25519 ... / ssh-rsa ...)"
    )]
    InvalidRecipient { recipient: String, reason: String },

    /// The bundle ends early: it was cut short in transfer or while being written.
    #[error("the bundle is truncated ({0}); ask for the file again and compare its size")]
    Truncated(String),

    /// The encrypted payload or zip structure failed integrity checks.
    #[error("the bundle is corrupt or was modified ({0}); ask for the file again")]
    Corrupt(String),

    /// The SSH signature over `manifest.json` does not verify.
    #[error(
        "signature invalid: {0}; the manifest was changed after signing or the signature is not ours"
    )]
    SignatureInvalid(String),

    /// The signature is valid but the signer is not in the trusted signers list.
    #[error(
        "signer {fingerprint} is not trusted: its key is not in the allowed signers file; add it if you trust this node"
    )]
    SignerUntrusted { fingerprint: String },

    /// A file's content does not hash to the value the manifest records.
    #[error("file {path} does not match its sha256 in the manifest: it was changed after signing")]
    HashMismatch { path: String },

    /// A file's size differs from the size the manifest records.
    #[error("file {path} has {actual} bytes but the manifest says {expected}")]
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },

    /// An entry inflates to more bytes than its (signed) manifest record says.
    #[error(
        "entry {path} is larger than its manifest record: the bundle was altered after it was signed; ask for the file again"
    )]
    EntryTooLarge { path: String },

    /// Zip structures that readers could interpret differently (overlapping entries,
    /// a local header or Unicode Path field naming another file, a directory with data).
    #[error(
        "zip entry {entry:?} {reason}: zip readers would not agree on what this bundle holds, so it is refused; ask the sender for a bundle written by rcdiag-agent"
    )]
    ZipInconsistent { entry: String, reason: String },

    /// An entry is present in the zip but not listed in the manifest.
    #[error("file {path} is in the bundle but not listed in the signed manifest")]
    UnlistedFile { path: String },

    /// A file listed in the manifest is absent from the zip.
    #[error("file {path} is listed in the manifest but missing from the bundle")]
    MissingFile { path: String },

    /// An entry name that could escape an extraction folder or is ambiguous.
    #[error("unsafe entry name {name:?}: {reason}")]
    UnsafeEntryName { name: String, reason: String },

    /// A reader limit (entries, sizes, compression ratio) was exceeded.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),

    /// The manifest declares a newer major format version than this reader knows.
    #[error(
        "bundle format version {found} is newer than this reader supports (version {supported}); update rcdiag to read it"
    )]
    NewerVersion { found: u64, supported: u64 },

    /// The manifest is missing or does not parse.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),

    /// A key file could not be read, created or parsed.
    #[error("key {path}: {reason}")]
    Key { path: String, reason: String },

    /// A folder or file is unsafe to use as root beside other users (a symlink, owned by
    /// another user, writable by others): refused, with the command that fixes it.
    #[error("refusing {path}: {reason}; fix: {fix}")]
    UnsafePath {
        path: String,
        reason: String,
        fix: String,
    },

    /// The node key file does not exist.
    #[error("key {path}: no such file")]
    KeyMissing { path: String },

    /// The allowed signers file could not be parsed.
    #[error("allowed signers {path} line {line}: {reason}")]
    AllowedSigners {
        path: String,
        line: usize,
        reason: String,
    },

    /// The requested entry is not in the bundle.
    #[error("no entry {0:?} in the bundle; list entries with `rcdiag-analyzer ls`")]
    NoSuchEntry(String),

    /// A path given to the writer is not a valid entry name.
    #[error("invalid entry name {name:?} for the writer: {reason}")]
    InvalidEntryName { name: String, reason: String },

    /// Writing the output failed.
    #[error("cannot write bundle {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },

    /// An entry's JSON did not parse.
    #[error("entry {path} is not valid JSON: {reason}")]
    Json { path: String, reason: String },

    /// Any other I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
