//! External commands (`chronyc`, `timedatectl`): found by absolute path in a fixed list
//! of system folders, never through the caller's `PATH` (a root agent must not run a
//! program another user put early in it), and run with a clean environment.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where external commands are looked up, in this order.
pub const SYSTEM_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/bin", "/sbin"];

/// The whole environment an external command gets.
pub const CLEAN_ENV: &[(&str, &str)] =
    &[("PATH", "/usr/bin:/usr/sbin:/bin:/sbin"), ("LC_ALL", "C")];

/// The absolute path of `program` in [`SYSTEM_DIRS`]: an executable regular file that,
/// when the agent runs as root, is owned by root and not writable by group or others.
pub fn find(program: &str) -> Result<PathBuf, String> {
    find_in(program, SYSTEM_DIRS, rcdiag_bundle::safefs::euid() == 0)
}

/// [`find`] over `dirs` (tests).
pub fn find_in(program: &str, dirs: &[&str], strict: bool) -> Result<PathBuf, String> {
    if program.contains('/') {
        return Err(format!(
            "{program}: external commands are named without a path"
        ));
    }
    for d in dirs {
        let p = Path::new(d).join(program);
        let Ok(m) = std::fs::metadata(&p) else {
            continue;
        };
        if !m.is_file() || m.mode() & 0o111 == 0 {
            continue;
        }
        if strict && (m.uid() != 0 || m.mode() & 0o022 != 0) {
            return Err(format!(
                "{} is not used: it is {}; reinstall it from the distribution's package",
                p.display(),
                if m.uid() != 0 {
                    format!("owned by uid {}, not root", m.uid())
                } else {
                    format!("writable by other users (mode {:04o})", m.mode() & 0o7777)
                }
            ));
        }
        return Ok(p);
    }
    Err(format!(
        "{program} is not installed (looked in {})",
        dirs.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn tools_come_from_the_system_folders_only() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_str().unwrap();
        let fake = tmp.path().join("chronyc");
        std::fs::write(&fake, "#!/bin/sh\necho forged\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Only the listed folders are searched, whatever PATH says.
        assert!(
            find_in("chronyc", &["/nonexistent"], false)
                .unwrap_err()
                .contains("not installed")
        );
        assert_eq!(find_in("chronyc", &[d], false).unwrap(), fake);
        assert!(find("../chronyc").is_err());
        // Found in a system folder: an absolute path.
        let sh = find("sh").expect("sh is in /usr/bin or /bin");
        assert!(
            sh.is_absolute() && SYSTEM_DIRS.iter().any(|d| sh.starts_with(d)),
            "{sh:?}"
        );
        if rcdiag_bundle::safefs::euid() == 0 {
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o777)).unwrap();
            assert!(
                find_in("chronyc", &[d], true)
                    .unwrap_err()
                    .contains("writable by other users")
            );
        }
    }
}
