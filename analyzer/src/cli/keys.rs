//! Keys: loading identities and trusted signers once per run, opening bundles with
//! them, and `keygen`.

use std::fs;
use std::io::{self};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use rcdiag_analyzer::report::sanitize_line;
use rcdiag_bundle::{Bundle, Identity, OpenOptions, TrustedSigners};

use super::args::KeygenArgs;
use super::{Reported, Status, UsageError, print_stdout};

/// Identities and trusted signers, loaded once per run.
pub(crate) struct Keys {
    pub(crate) identities: Vec<Identity>,
    pub(crate) trusted: Option<TrustedSigners>,
}

impl Keys {
    pub(crate) fn load(identity: &[PathBuf], trust: Option<&Path>) -> anyhow::Result<Self> {
        let paths: Vec<PathBuf> = if identity.is_empty() {
            std::env::var_os("RCDIAG_IDENTITY")
                .map(|v| {
                    v.to_string_lossy()
                        .split(':')
                        .filter(|p| !p.trim().is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            identity.to_vec()
        };
        let mut identities = Vec::new();
        for p in &paths {
            identities.extend(Identity::load_file(p)?);
        }
        let trusted = match trust {
            None => None,
            Some(p) => {
                let t = TrustedSigners::load(p)?;
                if t.is_empty() {
                    return Err(UsageError(format!(
                        "allowed signers {}: no key applies to rcdiag bundles, so every bundle would be refused; \
                         add lines like `node1 ssh-ed25519 AAAA...` (the node's node_ed25519.pub)",
                        p.display()
                    ))
                    .into());
                }
                Some(t)
            }
        };
        Ok(Self {
            identities,
            trusted,
        })
    }

    pub(crate) fn options(&self) -> OpenOptions<'_> {
        OpenOptions {
            identities: &self.identities,
            trusted: self.trusted.as_ref(),
            require_trusted: self.trusted.is_some(),
            ..Default::default()
        }
    }

    pub(crate) fn open(&self, path: &Path) -> Result<Bundle, rcdiag_bundle::Error> {
        Bundle::open(path, &self.options())
    }

    /// Opens a bundle for loading into the model: names, limits, signature and file set
    /// are checked now; each file's hash is checked as the model reads it, and whatever
    /// it did not read is checked by `verify_contents` afterwards: every byte is verified
    /// and read once.
    pub(crate) fn open_for_model(&self, path: &Path) -> Result<Bundle, rcdiag_bundle::Error> {
        Bundle::open(
            path,
            &OpenOptions {
                skip_content_check: true,
                ..self.options()
            },
        )
    }
}

/// `error: <bundle>: <reason>` on standard error.
pub(crate) fn report_bundle_error(path: &Path, e: &dyn std::fmt::Display) {
    eprintln!(
        "error: {}: {}",
        sanitize_line(&path.display().to_string()),
        sanitize_line(&e.to_string())
    );
}

/// Opens one bundle or reports why not (status 1).
pub(crate) fn open_or_report(keys: &Keys, path: &Path) -> anyhow::Result<Bundle> {
    keys.open(path).map_err(|e| {
        report_bundle_error(path, &e);
        Reported(Status::Error).into()
    })
}

pub(crate) fn keygen(a: &KeygenArgs) -> anyhow::Result<Status> {
    let key = rcdiag_bundle::generate_support_key();
    if let Err(e) = rcdiag_bundle::write_new_secret_file(&a.output, key.identity_file.as_bytes()) {
        let hint = match e.kind() {
            io::ErrorKind::AlreadyExists => {
                "it already exists and rcdiag never overwrites a key: choose another -o FILE, or move the old key away first"
                    .to_string()
            }
            io::ErrorKind::NotFound => "its folder does not exist: create it first".to_string(),
            _ => e.to_string(),
        };
        return Err(anyhow!(
            "cannot write the identity to {}: {hint}",
            a.output.display()
        ));
    }
    eprintln!(
        "wrote the support identity (private key) to {} (mode 0600): keep it secret and backed up;\n\
         decrypt bundles with `-i {}` or RCDIAG_IDENTITY={}.\n\
         Give customers this recipient (rcdiag-agent --recipient ...):",
        a.output.display(),
        a.output.display(),
        a.output.display()
    );
    print_stdout(&format!("{}\n", key.recipient))?;
    Ok(Status::Ok)
}

/// True when `path` starts like an age identity or an SSH private key.
pub(crate) fn looks_like_identity(path: &Path) -> bool {
    let mut head = [0u8; 64];
    let n = fs::File::open(path)
        .and_then(|mut f| io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    head.starts_with("AGE-SECRET-KEY-")
        || head.starts_with("# created:")
        || head.starts_with("-----BEGIN OPENSSH PRIVATE KEY")
}
