//! Sealing: age-encrypting a signed-plain bundle (`.rcdiag.zip`) after the customer
//! looked at it, unchanged, so its signature still verifies. The age header carries an
//! `rcdiag-sealed` stanza (ignored by age, like the recipient hints) so that a reader
//! can say the bundle was reviewed in plain form before it was encrypted.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::keys::Recipient;
use crate::reader::{Bundle, OpenOptions};
use crate::writer::encryptor;

/// Stanza tag that marks a bundle sealed after review.
pub const SEALED_STANZA_TAG: &str = "rcdiag-sealed";

/// The plain stanza `rcdiag-sealed`.
struct SealedMark;

impl age::Recipient for SealedMark {
    fn wrap_file_key(
        &self,
        _file_key: &age_core::format::FileKey,
    ) -> std::result::Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        Ok((
            vec![age_core::format::Stanza {
                tag: SEALED_STANZA_TAG.to_string(),
                args: vec!["v1".to_string()],
                body: Vec::new(),
            }],
            Default::default(),
        ))
    }
}

/// What [`seal`] wrote.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The encrypted bundle.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Fingerprint of the node key that signed it (unchanged by sealing).
    pub signer: String,
}

/// Encrypts the signed-plain bundle `input` to `recipients`, byte for byte, into `out`
/// (a folder: the input's name without `.zip`; or a file path). The input is verified
/// first (signature and every file's hash); `out` is never overwritten; a failure leaves
/// no file behind.
pub fn seal(input: &Path, out: &Path, recipients: &[Recipient], armor: bool) -> Result<Sealed> {
    if recipients.is_empty() {
        return Err(Error::InvalidRecipient {
            recipient: String::new(),
            reason: "no recipient given; pass support's key with -r".into(),
        });
    }
    let already = || Error::NotABundle {
        reason: format!(
            "{} is already encrypted; seal takes the signed plain `.rcdiag.zip` that `collect --no-encrypt` wrote",
            input.display()
        ),
    };
    let mut head = [0u8; 40];
    let n = File::open(input)?.read(&mut head)?;
    if head[..n].starts_with(b"age-encryption.org/")
        || head[..n].starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    {
        return Err(already());
    }
    let mut bundle = Bundle::open(input, &OpenOptions::default())?;
    if bundle.is_encrypted() {
        return Err(already());
    }
    bundle.verify_contents()?;
    let signer = bundle.manifest().signer.fingerprint.clone();
    drop(bundle);

    let target = if out.is_dir() {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle.rcdiag.zip".into());
        let name = name.strip_suffix(".zip").unwrap_or(&name).to_string();
        let name = if name.ends_with(".rcdiag") {
            name
        } else {
            format!("{name}.rcdiag")
        };
        out.join(name)
    } else {
        out.to_path_buf()
    };
    let write_err = |source: io::Error| Error::Write {
        path: target.display().to_string(),
        source,
    };
    if target.exists() {
        return Err(write_err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the file exists; rcdiag never overwrites a bundle, choose another -o",
        )));
    }
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".rcdiag-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(write_err)?;
    let enc = encryptor(recipients, Some(&SealedMark))?;
    let format = if armor {
        age::armor::Format::AsciiArmor
    } else {
        age::armor::Format::Binary
    };
    let file = temp.as_file().try_clone().map_err(write_err)?;
    let armored =
        age::armor::ArmoredWriter::wrap_output(BufWriter::new(file), format).map_err(write_err)?;
    let mut w = enc.wrap_output(armored).map_err(write_err)?;
    let mut src = BufReader::new(File::open(input)?);
    io::copy(&mut src, &mut w).map_err(write_err)?;
    let mut inner = w.finish().and_then(|a| a.finish()).map_err(write_err)?;
    inner.flush().map_err(write_err)?;
    drop(inner);
    temp.as_file().sync_all().map_err(write_err)?;
    let size = temp.as_file().metadata().map_err(write_err)?.len();
    temp.persist_noclobber(&target)
        .map_err(|e| write_err(e.error))?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(Sealed {
        path: target,
        size,
        signer,
    })
}

/// True when the age header of the bundle at `path` carries the `rcdiag-sealed` stanza
/// (binary or armored). Reads at most the first 64 KiB.
pub fn is_sealed(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut head = Vec::new();
    let reader = age::armor::ArmoredReader::new(BufReader::new(f));
    if reader.take(64 << 10).read_to_end(&mut head).is_err() && head.is_empty() {
        return false;
    }
    let end = head
        .windows(4)
        .position(|w| w == b"\n---")
        .unwrap_or(head.len());
    head[..end]
        .split(|b| *b == b'\n')
        .any(|l| l.starts_with(format!("-> {SEALED_STANZA_TAG}").as_bytes()))
}
