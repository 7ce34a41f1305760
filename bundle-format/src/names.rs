//! Entry-name rules shared by writer and reader: relative, `/`-separated, no `..`,
//! no backslashes, no control characters, no drive letters.

/// Longest entry name accepted.
pub const MAX_NAME_LEN: usize = 512;

/// Checks that `name` is a safe relative entry name. Returns the reason when not.
pub fn check_entry_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("longer than {MAX_NAME_LEN} bytes"));
    }
    if name.starts_with('/') {
        return Err("absolute path".into());
    }
    if name.contains('\\') {
        return Err("contains a backslash".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("contains a control character".into());
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err("looks like a drive letter".into());
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    for part in trimmed.split('/') {
        match part {
            "" => return Err("empty path component".into()),
            "." | ".." => return Err(format!("contains a `{part}` component")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_entry_name;

    #[test]
    fn accepts_plain_relative_names() {
        for ok in [
            "manifest.json",
            "logs/rc-1.log",
            "docker/containers.json",
            "a/b/c.d",
            "dir/",
        ] {
            assert!(check_entry_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_escaping_and_ambiguous_names() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\\b",
            "C:x",
            "a//b",
            "./a",
            "a/\u{0}b",
            "a\nb",
        ] {
            assert!(check_entry_name(bad).is_err(), "{bad:?}");
        }
    }
}
