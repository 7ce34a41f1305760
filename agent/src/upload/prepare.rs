//! A file to upload, checked before anything is sent (a regular file, an encrypted
//! bundle unless plain ones are allowed) and hashed (MD5 and SHA-256) in one read.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::{CHUNK, UploadError, usage};

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Encrypted,
    Plain,
}

/// A file checked and hashed, ready to send.
pub(super) struct Prepared {
    pub(super) path: PathBuf,
    pub(super) name: String,
    pub(super) file: std::fs::File,
    pub(super) size: u64,
    pub(super) md5_b64: String,
    pub(super) sha256: [u8; 32],
}

/// Opens `path`, checks it is a bundle that may be sent, and hashes it.
/// With `warn`, a plain bundle allowed by `allow_plain` is warned about on stderr.
pub(super) fn prepare(path: &Path, allow_plain: bool, warn: bool) -> Result<Prepared, UploadError> {
    let shown = path.display();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| usage(format!("{shown}: not a file name")))?
        .to_string();
    // Checked before opening: opening a FIFO would block.
    let not_regular = || {
        usage(format!(
            "{shown}: not a regular file: give the path of a bundle (.rcdiag)"
        ))
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(not_regular()),
        Err(e) => {
            return Err(usage(format!(
                "{shown}: {e}: give the path of a bundle to upload"
            )));
        }
    }
    let mut file = std::fs::File::open(path)
        .map_err(|e| usage(format!("{shown}: {e}: give the path of a bundle to upload")))?;
    let meta = file
        .metadata()
        .map_err(|e| usage(format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(usage(format!("{shown}: {e}"))),
        }
    }
    let head = &head[..n];
    let kind = if head.starts_with(b"age-encryption.org/")
        || head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    {
        Kind::Encrypted
    } else if head.starts_with(b"PK\x03\x04") {
        Kind::Plain
    } else {
        return Err(usage(format!(
            "{shown}: not an rcdiag bundle (neither age-encrypted nor a ZIP): upload the .rcdiag file that `rcdiag-agent collect` wrote"
        )));
    };
    if kind == Kind::Plain {
        if !allow_plain {
            return Err(usage(format!(
                "{shown} is not encrypted: only encrypted bundles are uploaded. Encrypt it to support first \
                 (rcdiag-agent seal {shown} -r <support key>) and upload the .rcdiag; or pass --allow-plain \
                 if anyone who can read the storage behind the link may read the bundle"
            )));
        }
        if warn {
            eprintln!(
                "rcdiag-agent: warning: {shown} is not encrypted (--allow-plain): anyone who can read the storage behind the upload link can read the bundle"
            );
        }
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| usage(format!("{shown}: {e}")))?;
    let (size, md5, sha) = hash(&mut file).map_err(|e| usage(format!("{shown}: {e}")))?;
    Ok(Prepared {
        path: path.to_path_buf(),
        name,
        file,
        size,
        md5_b64: base64::engine::general_purpose::STANDARD.encode(md5),
        sha256: sha,
    })
}

/// Size, MD5 and SHA-256 of what is left of `f`.
fn hash(f: &mut std::fs::File) -> std::io::Result<(u64, [u8; 16], [u8; 32])> {
    use md5::Digest as _;
    use sha2::Digest as _;
    let mut md5 = md5::Md5::new();
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
        size += n as u64;
    }
    let mut m = [0u8; 16];
    m.copy_from_slice(&md5.finalize());
    Ok((size, m, sha.finalize().into()))
}
