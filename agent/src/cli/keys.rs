//! `key show`, `key new` and `pseudonyms lookup`: the node's own key material.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use rcdiag_agent::key_change;
use rcdiag_bundle::NodeKey;

pub fn key_show(state_dir: Option<PathBuf>, new: bool) -> Result<()> {
    let dir = state_dir.unwrap_or_else(rcdiag_bundle::default_state_dir);
    let key = if new {
        let (key, replaced) = NodeKey::replace(&dir)?;
        let replaced = key_change::from_key_new(replaced);
        // No bundle is written now: the next one records the change.
        if let Err(e) = key_change::record(&dir, &replaced, &key.fingerprint()) {
            eprintln!("rcdiag-agent: warning: {e}");
        }
        eprintln!(
            "new node key made{}; give support the new key to pin (below)",
            replaced
                .previous_fingerprint
                .map(|f| format!(" (replacing {f})"))
                .unwrap_or_default()
        );
        key
    } else {
        NodeKey::load_or_create(&dir)?
    };
    println!("{}", key.public_key_openssh());
    println!("{}", key.fingerprint());
    if let Some(p) = key.path() {
        eprintln!("key file: {}", p.display());
    }
    eprintln!("support pins this key with a line in an allowed_signers file:");
    // Named as the bundles name the node (RCDIAG_NODE_NAME, else the host name, the
    // node's when its root is mounted at /host).
    let root =
        rcdiag_agent::collectors::host::default_host_root().unwrap_or_else(|| PathBuf::from("/"));
    eprintln!(
        "  {} {}",
        rcdiag_agent::run::node_name(&root),
        key.public_key_openssh()
    );
    Ok(())
}

pub fn pseudonym_lookup(token: &str, state_dir: Option<PathBuf>) -> Result<ExitCode> {
    let dir = state_dir.unwrap_or_else(rcdiag_bundle::default_state_dir);
    match rcdiag_agent::redact::pseudonym::lookup(&dir, token)? {
        Some(e) => {
            println!("{}", e.value);
            eprintln!("{token}: {:?}", e.kind);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "rcdiag-agent: {token} is not in the pseudonym map of {} (was the bundle made on this node, with this --state-dir?)",
                dir.display()
            );
            Ok(ExitCode::from(1))
        }
    }
}
