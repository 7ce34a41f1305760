//! Keys: the node's ed25519 signing key (OpenSSH format), recipients (age X25519 or
//! SSH public keys), identities that decrypt (age identity files, SSH private keys),
//! support keys made by `keygen`, and OpenSSH `allowed_signers` files for trust.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};

use crate::error::{Error, Result};
use crate::safefs;

/// File name of the node signing key inside the state dir.
pub const NODE_KEY_FILE: &str = "node_ed25519";

/// The default state dir: `/var/lib/rcdiag` as root, else `$XDG_STATE_HOME/rcdiag`
/// (or `~/.local/state/rcdiag`).
pub fn default_state_dir() -> PathBuf {
    if safefs::euid() == 0 {
        return PathBuf::from("/var/lib/rcdiag");
    }
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("rcdiag");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/state/rcdiag")
}

/// The reason `store` gives when the key file appeared meanwhile.
const KEY_EXISTS: &str = "the key file exists";

/// What [`NodeKey::replace`] replaced: recorded in the bundle as a key change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReplaced {
    /// The fingerprint of the key replaced, when it could be read.
    pub previous_fingerprint: Option<String>,
    /// Why a new key was made.
    pub reason: String,
}

/// The node's signing key: ed25519, stored as an OpenSSH private key (mode 0600).
#[derive(Clone)]
pub struct NodeKey {
    key: PrivateKey,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("fingerprint", &self.fingerprint())
            .field("path", &self.path)
            .finish()
    }
}

impl NodeKey {
    /// A fresh key held in memory only (tests, one-off bundles).
    pub fn generate() -> Self {
        let key = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519)
            .expect("ed25519 key generation cannot fail");
        Self { key, path: None }
    }

    /// Loads `STATE_DIR/node_ed25519`, creating the dir (0700) and the key (0600) on first
    /// use. The state dir is refused when it is a symlink, owned by another user or
    /// writable by others (see [`crate::safefs::check_dir`]); the key when it is a
    /// symlink, owned by another user or readable by others. A new key is written to a
    /// temp file, fsynced and linked into place without replacing: of concurrent first
    /// runs one creates it and the others load it, and a full disk leaves no key at all.
    pub fn load_or_create(state_dir: &Path) -> Result<Self> {
        let path = state_dir.join(NODE_KEY_FILE);
        safefs::ensure_dir(state_dir, 0o700, "--state-dir")?;
        match Self::load(&path) {
            Err(Error::KeyMissing { .. }) => {}
            other => return other,
        }
        let node = Self::generate_for_node();
        match node.store(state_dir, false) {
            Ok(node) => Ok(node),
            // Another run created it meanwhile: use theirs.
            Err(Error::Key { ref reason, .. }) if reason == KEY_EXISTS => Self::load(&path),
            Err(e) => Err(e),
        }
    }

    /// Makes a new node key in `STATE_DIR`, replacing the one there (atomically): for a
    /// key that is lost, empty or unreadable. Returns the new key and what it replaced.
    pub fn replace(state_dir: &Path) -> Result<(Self, KeyReplaced)> {
        let path = state_dir.join(NODE_KEY_FILE);
        safefs::ensure_dir(state_dir, 0o700, "--state-dir")?;
        let replaced = match Self::load(&path) {
            Ok(old) => KeyReplaced {
                previous_fingerprint: Some(old.fingerprint()),
                reason: "a new node key was asked for (--new-node-key)".into(),
            },
            Err(Error::KeyMissing { .. }) => KeyReplaced {
                previous_fingerprint: None,
                reason: "a new node key was asked for (--new-node-key); there was none".into(),
            },
            Err(e) => KeyReplaced {
                previous_fingerprint: None,
                reason: format!(
                    "a new node key was asked for (--new-node-key); the previous one was unusable: {e}"
                ),
            },
        };
        let node = Self::generate_for_node().store(state_dir, true)?;
        Ok((node, replaced))
    }

    fn generate_for_node() -> Self {
        let mut node = Self::generate();
        node.key.set_comment(format!("rcdiag-node@{}", hostname()));
        node
    }

    /// Writes the key (and its `.pub`) into `state_dir`; `replace` allows replacing an
    /// existing key file, else a taken name is the `KEY_EXISTS` error.
    fn store(mut self, state_dir: &Path, replace: bool) -> Result<Self> {
        let path = state_dir.join(NODE_KEY_FILE);
        let key_err = |reason: String| Error::Key {
            path: path.display().to_string(),
            reason,
        };
        let pem = self
            .key
            .to_openssh(LineEnding::LF)
            .map_err(|e| key_err(e.to_string()))?;
        let name = std::ffi::OsStr::new(NODE_KEY_FILE);
        let written = if replace {
            safefs::write_atomic(state_dir, name, pem.as_bytes(), 0o600)
        } else {
            safefs::write_new_atomic(state_dir, name, pem.as_bytes(), 0o600)
        };
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(key_err(KEY_EXISTS.into()));
            }
            Err(e) => {
                return Err(key_err(format!(
                    "cannot create the node key: {e}; free some space or pass a writable --state-dir"
                )));
            }
        }
        let pubkey = format!("{}\n", self.public_key_openssh());
        safefs::write_atomic(
            state_dir,
            std::ffi::OsStr::new(&format!("{NODE_KEY_FILE}.pub")),
            pubkey.as_bytes(),
            0o644,
        )
        .map_err(|e| key_err(format!("cannot write the public key beside it: {e}")))?;
        self.path = Some(path);
        Ok(self)
    }

    /// Loads an existing OpenSSH ed25519 private key: a regular file (not a symlink)
    /// owned by this user with no access for group or others, at most 64 KiB.
    pub fn load(path: &Path) -> Result<Self> {
        let key_err = |reason: String| Error::Key {
            path: path.display().to_string(),
            reason,
        };
        let remake = format!(
            "make a new node key with `rcdiag-agent collect --new-node-key --state-dir {}` (the bundle records the key change) or `rcdiag-agent key new`",
            safefs::shell_quote(path.parent().unwrap_or(Path::new(".")))
        );
        let pem = match safefs::read_secret_file(
            path,
            safefs::SecretRules {
                cap: 64 * 1024,
                allowed_mode: 0o600,
                allow_root: false,
                follow_links: false,
            },
        ) {
            Ok(b) => b,
            Err((e, _)) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::KeyMissing {
                    path: path.display().to_string(),
                });
            }
            Err((_, Some(why))) => {
                return Err(Error::UnsafePath {
                    path: path.display().to_string(),
                    reason: format!("the node key cannot be trusted: {}", why.reason),
                    fix: why.fix,
                });
            }
            Err((e, None)) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(key_err(format!(
                    "cannot read it: {e}; run as the key's owner (e.g. with sudo) or pass a state dir of your own with --state-dir"
                )));
            }
            Err((e, None)) => return Err(key_err(format!("cannot read it: {e}; {remake}"))),
        };
        if pem.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            return Err(key_err(format!(
                "the key file is empty (a run was cut short while creating it, or the disk was full); {remake}"
            )));
        }
        let pem = String::from_utf8_lossy(&pem);
        let key = PrivateKey::from_openssh(pem.trim())
            .map_err(|e| key_err(format!("not a readable OpenSSH key ({e}); {remake}")))?;
        if key.is_encrypted() {
            return Err(key_err(
                "the key is passphrase-protected; rcdiag needs an unencrypted node key".into(),
            ));
        }
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(key_err(format!(
                "expected an ed25519 key, found {}",
                key.algorithm()
            )));
        }
        Ok(Self {
            key,
            path: Some(path.to_path_buf()),
        })
    }

    /// Where the key is stored, if it was loaded from a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The public key as an OpenSSH line without comment (`ssh-ed25519 AAAA...`).
    pub fn public_key_openssh(&self) -> String {
        public_key_line(self.key.public_key())
    }

    /// `SHA256:...` fingerprint of the public key.
    pub fn fingerprint(&self) -> String {
        self.key
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string()
    }

    /// SSHSIG signature (PEM) of `msg` in `namespace`.
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> Result<String> {
        let sig = self
            .key
            .sign(namespace, HashAlg::Sha512, msg)
            .map_err(|e| Error::Key {
                path: "node key".into(),
                reason: e.to_string(),
            })?;
        sig.to_pem(LineEnding::LF).map_err(|e| Error::Key {
            path: "node key".into(),
            reason: e.to_string(),
        })
    }
}

/// The OpenSSH line of a public key, without comment.
pub(crate) fn public_key_line(key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    k.to_openssh()
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The host name of this machine, as the kernel reports it.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Creates `path` with mode 0600, refusing to overwrite an existing file.
pub fn write_new_secret_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// A public key a bundle is encrypted to.
#[derive(Clone)]
pub enum Recipient {
    /// An age X25519 key (`age1...`).
    X25519(age::x25519::Recipient),
    /// An SSH public key (`ssh-ed25519 ...` or `ssh-rsa ...`).
    Ssh(Box<age::ssh::Recipient>, String),
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.fingerprint())
    }
}

impl Recipient {
    /// Parses `age1...` or an OpenSSH public key line.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let invalid = |reason: &str| Error::InvalidRecipient {
            recipient: s.chars().take(80).collect(),
            reason: reason.to_string(),
        };
        if s.starts_with("age1") {
            return age::x25519::Recipient::from_str(s)
                .map(Self::X25519)
                .map_err(&invalid);
        }
        if s.starts_with("ssh-") {
            let parsed =
                age::ssh::Recipient::from_str(s).map_err(|e| invalid(&format!("{e:?}")))?;
            let fp = PublicKey::from_openssh(s)
                .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
                .map_err(|e| invalid(&e.to_string()))?;
            return Ok(Self::Ssh(Box::new(parsed), fp));
        }
        if s.starts_with("AGE-SECRET-KEY-") {
            return Err(invalid(
                "this is a private key; give the public recipient (age1...) that `rcdiag-analyzer keygen` printed",
            ));
        }
        Err(invalid("unknown key type"))
    }

    /// Parses a recipients file: one recipient a line, `#` comments and blank lines
    /// ignored; a regular file of at most 1 MiB.
    pub fn parse_file(path: &Path) -> Result<Vec<Self>> {
        let data = safefs::read_capped(path, 1 << 20).map_err(|e| Error::InvalidRecipient {
            recipient: path.display().to_string(),
            reason: format!("cannot read recipients file: {e}"),
        })?;
        let text = String::from_utf8_lossy(&data);
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(Self::parse)
            .collect()
    }

    /// A stable name for the recipient: the `age1...` key itself, or the SSH key's `SHA256:` fingerprint.
    pub fn fingerprint(&self) -> String {
        match self {
            Self::X25519(r) => r.to_string(),
            Self::Ssh(_, fp) => fp.clone(),
        }
    }

    pub(crate) fn as_age(&self) -> &dyn age::Recipient {
        match self {
            Self::X25519(r) => r,
            Self::Ssh(r, _) => r.as_ref(),
        }
    }
}

/// An identity that can decrypt bundles.
pub struct Identity {
    inner: Box<dyn age::Identity + Send + Sync>,
    source: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.source)
    }
}

impl Identity {
    /// Loads every identity in a file: an age identity file (`AGE-SECRET-KEY-1...` lines,
    /// as written by `age-keygen` or `rcdiag-analyzer keygen`) or an SSH private key.
    pub fn load_file(path: &Path) -> Result<Vec<Self>> {
        let source = path.display().to_string();
        let err = |reason: String| Error::Identity {
            path: source.clone(),
            reason,
        };
        let data = fs::read(path).map_err(|e| err(format!("{e}")))?;
        Self::from_bytes(&data, &source)
    }

    /// Parses identities from the bytes of an identity file; `source` names it in errors.
    pub fn from_bytes(data: &[u8], source: &str) -> Result<Vec<Self>> {
        let err = |reason: String| Error::Identity {
            path: source.to_string(),
            reason,
        };
        let text = String::from_utf8_lossy(data);
        if text.contains("-----BEGIN") {
            let id =
                age::ssh::Identity::from_buffer(io::Cursor::new(data), Some(source.to_string()))
                    .map_err(|e| err(e.to_string()))?;
            return match id {
                age::ssh::Identity::Unencrypted(_) => Ok(vec![Self {
                    inner: Box::new(id),
                    source: source.to_string(),
                }]),
                age::ssh::Identity::Encrypted(_) => Err(err(
                    "the SSH key is passphrase-protected; decrypt a copy first: cp KEY /tmp/k && ssh-keygen -p -N '' -f /tmp/k".into(),
                )),
                age::ssh::Identity::Unsupported(k) => Err(err(format!("unsupported SSH key: {k:?}"))),
            };
        }
        let file = age::IdentityFile::from_buffer(io::Cursor::new(data)).map_err(|e| {
            err(format!(
                "{e}; expected an age identity file (AGE-SECRET-KEY-1...) or an SSH private key"
            ))
        })?;
        let ids = file.into_identities().map_err(|e| err(e.to_string()))?;
        if ids.is_empty() {
            return Err(err("the file holds no identity".into()));
        }
        Ok(ids
            .into_iter()
            .map(|inner| Self {
                inner,
                source: source.to_string(),
            })
            .collect())
    }

    pub(crate) fn as_age(&self) -> &dyn age::Identity {
        self.inner.as_ref()
    }
}

/// A new support key pair: the identity file text and the recipient to give customers.
pub struct SupportKey {
    /// Identity file contents (`# created: ...`, `# public key: ...`, `AGE-SECRET-KEY-1...`).
    pub identity_file: String,
    /// The `age1...` recipient.
    pub recipient: String,
}

/// Generates an age X25519 support key, in the same file format as `age-keygen`.
pub fn generate_support_key() -> SupportKey {
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    let created = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
    let identity_file = format!(
        "# created: {created}\n# public key: {recipient}\n{}\n",
        id.to_string().expose_secret()
    );
    SupportKey {
        identity_file,
        recipient,
    }
}

/// One entry of an OpenSSH `allowed_signers` file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// Principals (the `-I` names) of the line.
    pub principals: Vec<String>,
    /// The public key.
    pub key: PublicKey,
}

/// The keys trusted to sign bundles, as an OpenSSH `allowed_signers` file lists them.
#[derive(Debug, Clone, Default)]
pub struct TrustedSigners {
    signers: Vec<AllowedSigner>,
}

impl TrustedSigners {
    /// Parses an `allowed_signers` file (`principals [options] keytype base64 [comment]`).
    /// Lines with a `namespaces="..."` option that excludes `rcdiag-bundle` are ignored.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| Error::AllowedSigners {
            path: path.display().to_string(),
            line: 0,
            reason: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the text of an `allowed_signers` file; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let mut signers = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| Error::AllowedSigners {
                path: source.to_string(),
                line: i + 1,
                reason: reason.to_string(),
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(kpos) = fields.iter().position(|f| {
                f.starts_with("ssh-") || f.starts_with("ecdsa-") || f.starts_with("sk-")
            }) else {
                return Err(err("no key type (ssh-ed25519, ssh-rsa, ...) found"));
            };
            if kpos == 0 {
                return Err(err(
                    "the line must start with principals, e.g. `node1 ssh-ed25519 AAAA...`",
                ));
            }
            let options = fields[1..kpos].join(" ");
            if let Some(ns) = options.split("namespaces=\"").nth(1) {
                let list = ns.split('"').next().unwrap_or_default();
                if !list
                    .split(',')
                    .any(|n| n == crate::SIG_NAMESPACE || n == "*")
                {
                    continue;
                }
            }
            let b64 = fields
                .get(kpos + 1)
                .ok_or_else(|| err("key data missing after the key type"))?;
            let key = PublicKey::from_openssh(&format!("{} {}", fields[kpos], b64))
                .map_err(|e| err(&e.to_string()))?;
            let principals = fields[0].split(',').map(str::to_string).collect();
            signers.push(AllowedSigner { principals, key });
        }
        Ok(Self { signers })
    }

    /// The entry whose key equals `key`, if any.
    pub fn find(&self, key: &PublicKey) -> Option<&AllowedSigner> {
        self.signers
            .iter()
            .find(|s| s.key.key_data() == key.key_data())
    }

    /// Number of usable entries.
    pub fn len(&self) -> usize {
        self.signers.len()
    }

    /// True when no entry applies to rcdiag bundles.
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }
}

#[cfg(test)]
mod tests;
