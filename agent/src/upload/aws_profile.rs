//! AWS shared credentials and config files (`~/.aws/credentials`, `~/.aws/config`):
//! the keys and region of one profile, read the way the AWS CLI reads them. The S3
//! client of `object_store` reads the environment, web identity and instance roles but
//! not these files.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Most bytes read of either file.
const MAX_FILE: u64 = 1 << 20;

/// What a profile gives.
#[derive(Default, Clone, PartialEq, Eq)]
pub(super) struct Profile {
    pub(super) name: String,
    pub(super) key_id: Option<String>,
    pub(super) secret: Option<String>,
    pub(super) token: Option<String>,
    pub(super) region: Option<String>,
    /// The file the keys came from.
    pub(super) source: Option<PathBuf>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The sections of an INI file: `(section, key, value)`, keys lowercased.
fn ini(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            out.push((
                section.clone(),
                k.trim().to_ascii_lowercase(),
                v.trim().to_string(),
            ));
        }
    }
    out
}

/// Reads a file of at most 1 MiB; `Ok(None)` when it does not exist.
fn read_small(path: &Path) -> Result<Option<String>, String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
        Ok(m) if !m.is_file() => return Err(format!("{}: not a regular file", path.display())),
        Ok(_) => {}
    }
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(format!("{}: larger than 1 MiB", path.display()));
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn env_path(var: &str, home_rel: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(home_rel)),
    }
}

/// The profile named by `AWS_PROFILE` (else `default`) from `AWS_SHARED_CREDENTIALS_FILE`
/// (else `~/.aws/credentials`) and `AWS_CONFIG_FILE` (else `~/.aws/config`). `Ok(None)`
/// when neither file has it and no `AWS_PROFILE` was given; an error when `AWS_PROFILE`
/// names a profile found nowhere, or a file cannot be read.
pub(super) fn load() -> Result<Option<Profile>, String> {
    let asked = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.trim().is_empty());
    let name = asked.clone().unwrap_or_else(|| "default".into());
    let creds = env_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config = env_path("AWS_CONFIG_FILE", ".aws/config");
    let mut p = Profile {
        name: name.clone(),
        ..Profile::default()
    };
    let mut found = false;
    // In the config file a profile is `[profile NAME]`, except `[default]`.
    for (path, section) in [
        (config.as_deref(), format!("profile {name}")),
        (config.as_deref(), name.clone()),
        (creds.as_deref(), name.clone()),
    ] {
        let Some(path) = path else { continue };
        let Some(text) = read_small(path)? else {
            continue;
        };
        let is_config = Some(path) == config.as_deref();
        if is_config && section == name && name != "default" {
            continue;
        }
        for (s, k, v) in ini(&text) {
            if s != section {
                continue;
            }
            found = true;
            let slot = match k.as_str() {
                "aws_access_key_id" => &mut p.key_id,
                "aws_secret_access_key" => &mut p.secret,
                "aws_session_token" => &mut p.token,
                "region" => &mut p.region,
                _ => continue,
            };
            // The credentials file wins over the config file for keys.
            if k != "region" || slot.is_none() {
                *slot = Some(v);
                if k == "aws_access_key_id" {
                    p.source = Some(path.to_path_buf());
                }
            }
        }
    }
    if !found {
        return match asked {
            Some(n) => Err(format!(
                "AWS_PROFILE={n}: no such profile in {} or {}: add it (aws configure --profile {n}) or unset AWS_PROFILE",
                creds
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "~/.aws/credentials".into()),
                config
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "~/.aws/config".into())
            )),
            None => Ok(None),
        };
    }
    if p.key_id.is_some() != p.secret.is_some() {
        return Err(format!(
            "AWS profile {name}: aws_access_key_id and aws_secret_access_key must be given together"
        ));
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_and_comments() {
        let t = "# c\n[default]\naws_access_key_id = A\n\n[profile x]\nREGION=eu-west-1\n; c\n";
        assert_eq!(
            ini(t),
            vec![
                ("default".into(), "aws_access_key_id".into(), "A".into()),
                ("profile x".into(), "region".into(), "eu-west-1".into()),
            ]
        );
    }
}
