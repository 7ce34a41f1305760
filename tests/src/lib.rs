//! Helpers for the end-to-end tests: finding the built binaries, requiring real peers
//! (a missing peer fails under RCDIAG_REQUIRE_PEERS=1 and is skipped loudly otherwise),
//! and a unix socket that accepts connections and never answers.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

/// A fresh support key pair: the identity written to `dir/support.key`, and its
/// `age1...` recipient.
pub fn support_key(dir: &Path) -> (PathBuf, String) {
    let k = rcdiag_bundle::generate_support_key();
    let path = dir.join("support.key");
    std::fs::write(&path, &k.identity_file).expect("write support.key");
    (path, k.recipient)
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

/// The value of a peer's environment variable, or None (skipped loudly), or a panic
/// when RCDIAG_REQUIRE_PEERS=1.
pub fn require_peer(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") => {
            panic!(
                "peer {var} is not set and RCDIAG_REQUIRE_PEERS=1: start the peers with `scripts/test-env start` and `source /tmp/rcdp/env`"
            )
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED: {var} is not set; start the peers with `scripts/test-env start` ***\n"
            );
            None
        }
    }
}

/// A unix socket that accepts every connection and never answers: a hung Docker Engine.
pub struct HungSocket {
    /// The socket path.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl HungSocket {
    /// Starts listening; connections are held open in a background thread.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rch")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let path = dir.path().join("hung.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming() {
                match s {
                    Ok(s) => held.push(s),
                    Err(_) => break,
                }
            }
        });
        Self { path, _dir: dir }
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
