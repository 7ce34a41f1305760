//! Test support shared by the workspace's tests (never shipped): requiring a real peer
//! (a missing peer fails under `RCDIAG_REQUIRE_PEERS=1`, CI's setting, and is skipped
//! loudly otherwise), a unix socket that accepts and never answers (a hung engine or
//! runtime), support keys, digests, the names in a folder, and the built binaries.
//!
//! The integration tests of each crate use it directly or through their own helpers
//! (`agent/tests/common`, `tests/src/lib.rs`), which only add what is theirs.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

/// How to get the peers, for messages.
pub const HOW_TO_START_PEERS: &str = "start them with `scripts/test-env start` then `source /tmp/rcdp/env` \
     (or run the tests under `scripts/test-env run -- cargo test ...`)";

/// The value of `var` (a peer's address, e.g. `RCDIAG_TEST_DOCKER_HOST`). When it is
/// unset: with `RCDIAG_REQUIRE_PEERS=1` the test fails, naming the variable and how to
/// set it; otherwise it prints a loud `SKIPPED` line and returns `None`.
pub fn require_peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!(
                    "{var} is not set but RCDIAG_REQUIRE_PEERS=1 requires the test peers: {HOW_TO_START_PEERS}"
                );
            }
            eprintln!(
                "\n*** SKIPPED: {var} is not set, this test needs a real peer: {HOW_TO_START_PEERS} ***\n"
            );
            None
        }
    }
}

/// A unix socket that accepts every connection and never answers: a hung Docker Engine
/// (or CRI runtime). Connections are held open by a background thread until the test ends.
pub struct HungSocket {
    /// The socket path.
    pub path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl HungSocket {
    /// Listens in a fresh folder under `/tmp` (short, so the path fits a socket address).
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rch")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let mut s = Self::in_dir(dir.path());
        s._dir = Some(dir);
        s
    }

    /// Listens at `dir/hung.sock`; `dir` outlives the socket.
    pub fn in_dir(dir: &Path) -> Self {
        let path = dir.join("hung.sock");
        let listener = UnixListener::bind(&path).expect("bind the hung socket");
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming() {
                match s {
                    Ok(s) => held.push(s),
                    Err(_) => break,
                }
            }
        });
        Self { path, _dir: None }
    }

    /// `unix://...` URI of the socket.
    pub fn uri(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Default for HungSocket {
    fn default() -> Self {
        Self::new()
    }
}

/// A support key pair: the identity file and its `age1...` recipient.
pub struct SupportKey {
    /// The identity file (written 0600).
    pub file: PathBuf,
    /// The recipient, to encrypt to.
    pub recipient: String,
}

/// A fresh support key pair, its identity written to `dir/support.key` (0600; an
/// earlier one there is replaced).
pub fn support_key(dir: &Path) -> SupportKey {
    let k = rcdiag_bundle::generate_support_key();
    let file = dir.join("support.key");
    std::fs::write(&file, &k.identity_file).expect("write support.key");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod support.key");
    SupportKey {
        file,
        recipient: k.recipient,
    }
}

/// The SHA-256 of `b`, in lower-case hex.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

/// The names of the entries of `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// The host part of bundle names on this machine, cleaned as the writer cleans it.
pub fn bundle_host() -> String {
    rcdiag_bundle::clean_name_part(&rcdiag_bundle::hostname())
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Path of a workspace binary (`rcdiag-agent`, `rcdiag-analyzer`), built first with
/// `cargo build` unless `RCDIAG_BINS_BUILT=1` says the run that built this test also
/// built them (`scripts/test` sets it: a `--workspace` test build puts the binaries in
/// `target/<profile>/`, and a second `cargo build -p` of them resolves features apart and
/// rebuilds the workspace crates, once per test process under nextest).
pub fn bin(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    let path = dir.join(name);
    BUILD.call_once(|| {
        if std::env::var("RCDIAG_BINS_BUILT").as_deref() == Ok("1") {
            return;
        }
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args(["build", "-q", "-p", "rcdiag-agent", "-p", "rcdiag-analyzer"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
    });
    assert!(
        path.exists(),
        "{} was not built: run the tests with scripts/test, or unset RCDIAG_BINS_BUILT",
        path.display()
    );
    path
}

/// A manifest listing `files` (their sizes and SHA-256 as a writer would record them),
/// changed by `tweak`, then signed by `key` the way a bundle is: returns (manifest
/// bytes, signature bytes). For crafting bundles no writer would make.
pub fn signed_manifest(
    key: &rcdiag_bundle::NodeKey,
    files: &[(&str, &[u8])],
    tweak: impl FnOnce(&mut rcdiag_bundle::Manifest),
) -> (Vec<u8>, Vec<u8>) {
    use rcdiag_bundle::{AgentInfo, FileRecord, Manifest, NodeInfo, Signer};
    let mut m = Manifest {
        format: "rcdiag-bundle".into(),
        format_version: 1,
        bundle_id: "0192f3a0-0000-7000-8000-000000000000".into(),
        created_at: "2026-11-26T05:00:00Z".into(),
        agent: AgentInfo {
            name: "crafted".into(),
            version: "0".into(),
        },
        node: NodeInfo {
            hostname: "node1".into(),
            ..Default::default()
        },
        collectors: vec![],
        files: files
            .iter()
            .map(|(p, d)| FileRecord {
                path: p.to_string(),
                size: d.len() as u64,
                sha256: sha256_hex(d),
                truncated: false,
            })
            .collect(),
        redaction: Default::default(),
        signer: Signer {
            algorithm: "sshsig-ed25519".into(),
            public_key: key.public_key_openssh(),
            fingerprint: key.fingerprint(),
        },
    };
    tweak(&mut m);
    let mut bytes = serde_json::to_vec_pretty(&m).expect("manifest json");
    bytes.push(b'\n');
    sign_manifest(key, bytes)
}

/// Signs manifest `bytes` with `key` as a bundle writer does: (bytes, signature).
pub fn sign_manifest(key: &rcdiag_bundle::NodeKey, bytes: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let sig = key
        .sign("rcdiag-bundle", &bytes)
        .expect("sign the manifest")
        .into_bytes();
    (bytes, sig)
}
