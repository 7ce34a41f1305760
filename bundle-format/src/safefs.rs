//! Safe files for a program that runs as root beside other users: folders are checked
//! the way OpenSSH's StrictModes checks `~/.ssh` (not a symlink, owned by us or root,
//! neither it nor a parent writable by others without the sticky bit); secret files are
//! opened without following symlinks and checked on the open file; every write goes to
//! an unpredictable `O_EXCL` temp file in the target folder and is renamed into place;
//! reads of files named by the user are capped. Temp files carry the writer's pid (and
//! pid namespace) so a later run can remove those of a process that died.
//!
//! The atomic write itself is `tempfile`'s (issue 10 item 5): [`temp_file_in`] is a
//! `tempfile::Builder` temp file (`O_EXCL`, random name, mode 0600) and
//! [`write_atomic`] ends in `NamedTempFile::persist` (a rename). What stays here is
//! what `tempfile` does not do: the StrictModes checks of the folder before it is
//! written to, the mode set on the open file before the rename, an fsync of the file
//! before and of the folder after it (`persist` does neither, so a crash could leave
//! an empty file under the final name), and the pid in the temp name that lets
//! [`remove_stale_temp_files`] tell a dead writer's leftovers from a live one's.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use crate::error::{Error, Result};

/// Prefix of every temp file this crate writes (`.rcdiag-<pidns>-<pid>-<random>.tmp`).
pub const TEMP_PREFIX: &str = ".rcdiag-";
/// Suffix of every temp file this crate writes.
pub const TEMP_SUFFIX: &str = ".tmp";

/// The effective uid of this process.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The inode of this process's pid namespace (0 when `/proc` is not mounted).
fn pid_namespace() -> u64 {
    static NS: LazyLock<u64> = LazyLock::new(|| {
        fs::metadata("/proc/self/ns/pid")
            .map(|m| m.ino())
            .unwrap_or(0)
    });
    *NS
}

/// The prefix of this process's temp files: `.rcdiag-<pidns>-<pid>-`.
pub fn temp_prefix() -> String {
    temp_prefix_of(std::process::id())
}

/// The prefix of the temp files of process `pid` of this pid namespace (a child).
pub fn temp_prefix_of(pid: u32) -> String {
    format!("{TEMP_PREFIX}{}-{pid}-", pid_namespace())
}

/// A new temp file in `dir` (`O_CREAT|O_EXCL`, unpredictable name, mode 0600).
pub fn temp_file_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&temp_prefix())
        .suffix(TEMP_SUFFIX)
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
}

fn unsafe_path(path: &Path, reason: impl Into<String>, fix: impl Into<String>) -> Error {
    Error::UnsafePath {
        path: path.display().to_string(),
        reason: reason.into(),
        fix: fix.into(),
    }
}

/// Shell-quotes a path for a command shown to the user.
pub fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Whether a folder lets users other than its owner add or replace entries in it: it
/// is writable by everyone, or by a group this process is not in, without the sticky
/// bit. (A folder writable by one of our own groups, such as a Kubernetes `fsGroup`
/// volume, is shared on purpose.)
fn writable_by_others(m: &fs::Metadata) -> bool {
    let mode = m.mode();
    if mode & 0o1000 != 0 {
        return false;
    }
    mode & 0o002 != 0 || (mode & 0o020 != 0 && !in_group(m.gid()))
}

/// Whether `gid` is this process's effective group or one of its supplementary groups.
fn in_group(gid: u32) -> bool {
    rustix::process::getegid().as_raw() == gid
        || rustix::process::getgroups()
            .map(|g| g.iter().any(|g| g.as_raw() == gid))
            .unwrap_or(false)
}

/// Checks one folder on the way: owned by us or root, not writable by others (sticky
/// folders such as /tmp are fine as parents).
fn check_component(path: &Path, m: &fs::Metadata, me: u32) -> Result<()> {
    if m.uid() != 0 && m.uid() != me {
        return Err(unsafe_path(
            path,
            format!(
                "it is owned by uid {}, not by root or by this user (uid {me})",
                m.uid()
            ),
            format!(
                "chown {me} {}  (or use a folder of your own)",
                shell_quote(path)
            ),
        ));
    }
    if writable_by_others(m) {
        return Err(unsafe_path(
            path,
            format!(
                "it is writable by other users (mode {:04o}), who could plant files or links in it",
                m.mode() & 0o7777
            ),
            format!("chmod go-w {}", shell_quote(path)),
        ));
    }
    Ok(())
}

/// Checks a folder the agent keeps its key or writes its files into, as OpenSSH's
/// StrictModes does: it must exist, not be a symlink, be owned by this user or root,
/// and neither it nor any parent may be writable by other users unless it has the
/// sticky bit (such as `/tmp`). `what` names it in errors (`--state-dir`).
pub fn check_dir(path: &Path, what: &str) -> Result<()> {
    let me = euid();
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let m = fs::symlink_metadata(&abs).map_err(|e| {
        unsafe_path(
            path,
            format!("cannot use {what}: {e}"),
            format!("mkdir -p -m 700 {}", shell_quote(path)),
        )
    })?;
    // A link is followed only when others cannot have planted or changed it: it is
    // root's or ours, in a folder others cannot write (systemd's DynamicUser state
    // folders are such links); a link planted by another user is refused.
    if m.file_type().is_symlink() {
        let real = fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone());
        let parent_open = abs
            .parent()
            .and_then(|p| fs::metadata(p).ok())
            .is_none_or(|pm| writable_by_others(&pm));
        if (m.uid() != 0 && m.uid() != me) || parent_open {
            return Err(unsafe_path(
                path,
                format!(
                    "{what} is a symlink (to {}) that {}",
                    real.display(),
                    if parent_open {
                        "sits in a folder other users can write".to_string()
                    } else {
                        format!("belongs to uid {}, not to root or this user", m.uid())
                    }
                ),
                format!(
                    "pass the real folder instead: {what} {}",
                    shell_quote(&real)
                ),
            ));
        }
    }
    let m = &fs::metadata(&abs)?;
    if !m.is_dir() {
        return Err(unsafe_path(
            path,
            format!("{what} is not a folder"),
            format!("pass a folder with {what}"),
        ));
    }
    if m.uid() != 0 && m.uid() != me {
        return Err(unsafe_path(
            path,
            format!(
                "{what} is owned by uid {}, not by root or by this user (uid {me})",
                m.uid()
            ),
            format!("chown {me} {}", shell_quote(path)),
        ));
    }
    if writable_by_others(m) {
        return Err(unsafe_path(
            path,
            format!(
                "{what} is writable by other users without the sticky bit (mode {:04o}): they could plant files or links in it",
                m.mode() & 0o7777
            ),
            format!("chmod go-w {}", shell_quote(path)),
        ));
    }
    // Links on the way must not be replaceable by others either.
    let mut prefix = PathBuf::new();
    for c in abs.components() {
        prefix.push(c);
        if prefix == abs || matches!(c, Component::RootDir) {
            continue;
        }
        if let Ok(l) = fs::symlink_metadata(&prefix)
            && l.file_type().is_symlink()
        {
            if l.uid() != 0 && l.uid() != me {
                let real = fs::canonicalize(&abs).unwrap_or_else(|_| abs.clone());
                return Err(unsafe_path(
                    &prefix,
                    format!("this link on the way to {what} belongs to uid {}", l.uid()),
                    format!("pass the real folder: {what} {}", shell_quote(&real)),
                ));
            }
            if let Some(parent) = prefix.parent() {
                check_component(parent, &fs::metadata(parent)?, me)?;
            }
        }
    }
    // Every real parent: owned by us or root, not writable by others unless sticky.
    let real = fs::canonicalize(&abs)?;
    let mut cur = real.parent();
    while let Some(p) = cur {
        let pm = fs::metadata(p)?;
        check_component(p, &pm, me)?;
        cur = p.parent();
    }
    Ok(())
}

/// Creates `path` (and missing parents) with `mode` when it is missing, then checks it
/// with [`check_dir`]. An existing folder's mode is never changed.
pub fn ensure_dir(path: &Path, mode: u32, what: &str) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(path)
                .map_err(|e| {
                    unsafe_path(
                        path,
                        format!("cannot create {what}: {e}"),
                        format!("pass a folder this user can write with {what}"),
                    )
                })?;
        }
        Err(e) => {
            return Err(unsafe_path(
                path,
                format!("cannot use {what}: {e}"),
                format!("pass another folder with {what}"),
            ));
        }
    }
    check_dir(path, what)
}

/// Writes `data` to `dir/name` atomically: an `O_EXCL` temp file with an unpredictable
/// name in `dir`, its mode set on the open file, fsync, then a rename over `name` (a
/// link planted at `name` is replaced, never followed), then an fsync of the folder.
pub fn write_atomic(dir: &Path, name: &OsStr, data: &[u8], mode: u32) -> io::Result<()> {
    let mut tmp = temp_file_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `data` to `dir/name` like [`write_atomic`], but never replaces an existing
/// file: `ErrorKind::AlreadyExists` when `name` is taken (the other writer won).
pub fn write_new_atomic(dir: &Path, name: &OsStr, data: &[u8], mode: u32) -> io::Result<()> {
    let mut tmp = temp_file_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(dir.join(name)).map_err(|e| e.error)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a file named by the user (recipients, config, a secret), at most `cap` bytes:
/// only regular files (a FIFO or device such as `/dev/zero` is refused without
/// blocking), and a longer file is an error rather than a huge allocation.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let (f, m) = open_regular(path, false)?;
    read_opened(f, &m, path, cap)
}

/// [`read_capped`], also returning the metadata of the file read (from the open file).
pub fn read_capped_meta(path: &Path, cap: u64) -> io::Result<(Vec<u8>, fs::Metadata)> {
    let (f, m) = open_regular(path, false)?;
    let data = read_opened(f, &m, path, cap)?;
    Ok((data, m))
}

fn read_opened(f: File, m: &fs::Metadata, path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    if m.len() > cap {
        return Err(too_large(path, cap));
    }
    let mut buf = Vec::with_capacity(m.len() as usize);
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(too_large(path, cap));
    }
    Ok(buf)
}

fn too_large(path: &Path, cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is larger than {} KiB, the most rcdiag reads from such a file; is it the right file?",
            path.display(),
            cap / 1024
        ),
    )
}

/// Opens `path` read-only without blocking (FIFOs, devices), optionally without
/// following a symlink at the last component, and checks it is a regular file.
fn open_regular(path: &Path, nofollow: bool) -> io::Result<(File, fs::Metadata)> {
    let mut flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC;
    if nofollow {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            if nofollow && e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is a symlink; rcdiag does not follow links to secret files",
                        path.display()
                    ),
                )
            } else {
                e
            }
        })?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok((f, m))
}

/// Why a secret file must not be used, and the command that fixes it.
#[derive(Debug)]
pub struct SecretFileError {
    /// What is wrong.
    pub reason: String,
    /// The command that fixes it.
    pub fix: String,
}

/// How [`read_secret_file`] checks a file.
#[derive(Debug, Clone, Copy)]
pub struct SecretRules {
    /// The most bytes read.
    pub cap: u64,
    /// Permission bits allowed (`0o600`: none for group or others; `0o640`: the group may read).
    pub allowed_mode: u32,
    /// Root may own it too (a config file under /etc), not only this user.
    pub allow_root: bool,
    /// Follow a symlink at the last component (Kubernetes mounts secrets as links; the
    /// file reached is what is checked). A node key is never read through a link.
    pub follow_links: bool,
}

/// Reads a file holding a secret (a key, a URI with a password) under `rules`: a
/// regular file owned by this user (or root), with no permission bits beyond
/// `allowed_mode`, at most `cap` bytes. Checked on the open file, so a file swapped
/// after the check cannot be read instead.
pub fn read_secret_file(
    path: &Path,
    rules: SecretRules,
) -> std::result::Result<Vec<u8>, (io::Error, Option<SecretFileError>)> {
    let SecretRules {
        cap,
        allowed_mode,
        allow_root,
        follow_links,
    } = rules;
    let me = euid();
    let (f, m) = open_regular(path, !follow_links).map_err(|e| {
        let fix = (e.kind() == io::ErrorKind::InvalidInput).then(|| SecretFileError {
            reason: e.to_string(),
            fix: format!(
                "replace the link by the file itself: cp --remove-destination \"$(readlink -f {0})\" {0}",
                shell_quote(path)
            ),
        });
        (e, fix)
    })?;
    if m.uid() != me && !(allow_root && m.uid() == 0) {
        let e = io::Error::new(io::ErrorKind::PermissionDenied, "owned by another user");
        return Err((
            e,
            Some(SecretFileError {
                reason: format!(
                    "it is owned by uid {}, not by {}this user (uid {me})",
                    m.uid(),
                    if allow_root { "root or " } else { "" }
                ),
                fix: format!("chown {me} {}", shell_quote(path)),
            }),
        ));
    }
    let extra = m.mode() & 0o777 & !allowed_mode;
    if extra != 0 {
        let e = io::Error::new(io::ErrorKind::PermissionDenied, "too open");
        return Err((
            e,
            Some(SecretFileError {
                reason: format!(
                    "its mode {:04o} lets other users read or change it",
                    m.mode() & 0o7777
                ),
                fix: format!(
                    "chmod {:o} {}",
                    m.mode() & 0o777 & allowed_mode,
                    shell_quote(path)
                ),
            }),
        ));
    }
    read_opened(f, &m, path, cap).map_err(|e| (e, None))
}

/// Whether process `pid` of this pid namespace is alive.
fn alive(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        None => false,
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
    }
}

/// What [`remove_stale_temp_files`] found.
#[derive(Debug, Default, Clone)]
pub struct StaleTempFiles {
    /// Temp files of dead processes of this pid namespace, removed.
    pub removed: Vec<String>,
    /// Other temp files (a run in progress, another container's, another user's): left alone.
    pub kept: Vec<String>,
}

/// Removes the temp files (`.rcdiag-<pidns>-<pid>-*.tmp`) that processes of this pid
/// namespace left in `dir` when they died (SIGKILL, OOM, power loss): regular files
/// owned by this user whose writer is no longer running. Others are listed in `kept`.
pub fn remove_stale_temp_files(dir: &Path) -> StaleTempFiles {
    let mut out = StaleTempFiles::default();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    let me = euid();
    let ns = pid_namespace();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(TEMP_PREFIX)
            .and_then(|r| r.strip_suffix(TEMP_SUFFIX))
        else {
            continue;
        };
        let mut parts = rest.splitn(3, '-');
        let (Some(n), Some(p), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            out.kept.push(name);
            continue;
        };
        let (Ok(n), Ok(p)) = (n.parse::<u64>(), p.parse::<i32>()) else {
            out.kept.push(name);
            continue;
        };
        let ours = fs::symlink_metadata(e.path())
            .map(|m| m.file_type().is_file() && m.uid() == me)
            .unwrap_or(false);
        if ours
            && ns != 0
            && n == ns
            && p != std::process::id() as i32
            && !alive(p)
            && fs::remove_file(e.path()).is_ok()
        {
            out.removed.push(name);
            continue;
        }
        out.kept.push(name);
    }
    out.removed.sort();
    out.kept.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_writable_folders_are_refused_unless_sticky_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("d");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        check_dir(&d, "--dir").expect("a private folder under /tmp (sticky) is fine");
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_dir(&d, "--dir").unwrap_err().to_string();
        assert!(
            e.contains("writable by other users") && e.contains("chmod go-w"),
            "{e}"
        );
        // A private folder inside a world-writable, non-sticky one.
        let inner = d.join("inner");
        fs::create_dir(&inner).unwrap();
        fs::set_permissions(&inner, fs::Permissions::from_mode(0o700)).unwrap();
        let e = check_dir(&inner, "--dir").unwrap_err().to_string();
        assert!(
            e.contains(&d.display().to_string()) && e.contains("chmod go-w"),
            "{e}"
        );
        fs::set_permissions(&d, fs::Permissions::from_mode(0o1777)).unwrap();
        check_dir(&inner, "--dir").expect("a sticky parent is fine");
        // A symlink is refused, naming the real folder.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&inner, &link).unwrap();
        check_dir(&link, "--state-dir").expect("our own link in a private folder is followed");
        if euid() == 0 {
            // The same link planted by another user is refused, naming the real folder.
            rustix::fs::chownat(
                rustix::fs::CWD,
                &link,
                Some(rustix::fs::Uid::from_raw(65534)),
                None,
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .unwrap();
            let e = check_dir(&link, "--state-dir").unwrap_err().to_string();
            assert!(
                e.contains("is a symlink")
                    && e.contains("uid 65534")
                    && e.contains(&inner.display().to_string()),
                "{e}"
            );
        }
    }

    #[test]
    fn atomic_writes_replace_planted_links_instead_of_following_them() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, b"root only").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
        let d = tmp.path().join("d");
        fs::create_dir(&d).unwrap();
        std::os::unix::fs::symlink(&victim, d.join("status.json")).unwrap();
        write_atomic(&d, OsStr::new("status.json"), b"{}\n", 0o644).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"root only");
        assert_eq!(
            fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let m = fs::symlink_metadata(d.join("status.json")).unwrap();
        assert!(m.is_file() && m.permissions().mode() & 0o777 == 0o644);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temp file left");
        let e = write_new_atomic(&d, OsStr::new("status.json"), b"x", 0o600).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(d.join("status.json")).unwrap(), b"{}\n");
    }

    #[test]
    fn capped_reads_refuse_devices_fifos_and_big_files() {
        let e = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("big");
        fs::write(&big, vec![b'a'; 2000]).unwrap();
        let e = read_capped(&big, 1024).unwrap_err();
        assert!(e.to_string().contains("larger than 1 KiB"), "{e}");
        assert_eq!(read_capped(&big, 4096).unwrap().len(), 2000);
    }

    fn rules(allowed_mode: u32, follow_links: bool) -> SecretRules {
        SecretRules {
            cap: 4096,
            allowed_mode,
            allow_root: true,
            follow_links,
        }
    }

    #[test]
    fn secret_files_must_be_private_and_not_links() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("uri");
        fs::write(&f, b"mongodb://u:p@h/").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        let (_, why) = read_secret_file(&f, rules(0o640, true)).unwrap_err();
        let why = why.expect("a reason");
        assert_eq!(why.fix, format!("chmod 640 {}", f.display()));
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_secret_file(&f, rules(0o640, true)).unwrap(),
            b"mongodb://u:p@h/"
        );
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        let (_, why) = read_secret_file(&link, rules(0o600, false)).unwrap_err();
        assert!(why.expect("a reason").reason.contains("symlink"));
        assert_eq!(
            read_secret_file(&link, rules(0o600, true)).unwrap(),
            b"mongodb://u:p@h/"
        );
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let ns = pid_namespace();
        // A pid that is not running: a child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = format!("{TEMP_PREFIX}{ns}-{dead}-abc{TEMP_SUFFIX}");
        let live = format!("{TEMP_PREFIX}{ns}-1-abc{TEMP_SUFFIX}");
        let other_ns = format!("{TEMP_PREFIX}{}-{dead}-abc{TEMP_SUFFIX}", ns + 1);
        for n in [&stale, &live, &other_ns] {
            fs::write(tmp.path().join(n), b"x").unwrap();
        }
        let r = remove_stale_temp_files(tmp.path());
        assert_eq!(r.removed, vec![stale.clone()]);
        assert_eq!(r.kept.len(), 2, "{:?}", r.kept);
        assert!(!tmp.path().join(&stale).exists());
        assert!(tmp.path().join(&live).exists());
    }
}
