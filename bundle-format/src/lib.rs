//! `rcdiag-bundle`: the rcdiag diagnostics bundle format, version 1.
//!
//! A bundle is a ZIP (Deflate, zip64) holding collector files, a `manifest.json`
//! listing every file with its size and SHA-256, and `manifest.json.sig`, an SSH
//! signature (SSHSIG, namespace `rcdiag-bundle`) of the manifest by the node's
//! ed25519 key. The ZIP is encrypted with age v1 to one or more recipients (age
//! X25519 or SSH keys), or left plain in the signed-plain variant (`.rcdiag.zip`).
//! `SPEC.md` beside this crate is the normative description.
//!
//! ```no_run
//! use rcdiag_bundle::{BundleWriter, WriterOptions, Encryption, NodeKey, Recipient, AgentInfo, NodeInfo};
//! # fn main() -> rcdiag_bundle::Result<()> {
//! let mut w = BundleWriter::create(WriterOptions {
//!     out: ".".into(),
//!     encryption: Encryption::Age { recipients: vec![Recipient::parse("age1...")?], armor: false },
//!     signer: NodeKey::generate(),
//!     agent: AgentInfo { name: "me".into(), version: "1".into() },
//!     node: NodeInfo { hostname: "node1".into(), ..Default::default() },
//!     compression_level: None,
//! })?;
//! w.add_bytes("host/host.json", b"{}")?;
//! let done = w.finish()?;
//! # Ok(()) }
//! ```

mod error;
mod keys;
mod manifest;
mod names;
mod reader;
pub mod safefs;
mod seal;
mod writer;

pub use error::{Error, Result};
pub use keys::{
    AllowedSigner, Identity, KeyReplaced, NODE_KEY_FILE, NodeKey, Recipient, SupportKey,
    TrustedSigners, default_state_dir, generate_support_key, hostname, write_new_secret_file,
};
pub use manifest::{
    AgentInfo, CollectorRecord, CollectorStatus, FORMAT_NAME, FORMAT_VERSION, FileRecord, Manifest,
    NodeInfo, ReRedaction, RedactionSummary, Signer, check_manifest_limits, cut_to,
    limits as manifest_limits, manifest_schema_json, sorted_json,
};
pub use names::check_entry_name;
pub use reader::{
    Bundle, EntryReader, Limits, OpenOptions, ReadSeek, TrustStatus, header_recipients,
    parse_manifest,
};
pub use seal::{SEALED_STANZA_TAG, Sealed, is_sealed, seal};
pub use writer::{
    BundleWriter, Encryption, FinishedBundle, HINT_STANZA_TAG, WriterOptions, bundle_file_name,
    clean_name_part, merge_counts,
};

/// Name of the manifest entry.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Name of the signature entry.
pub const SIGNATURE_NAME: &str = "manifest.json.sig";
/// SSHSIG namespace of bundle signatures.
pub const SIG_NAMESPACE: &str = "rcdiag-bundle";
