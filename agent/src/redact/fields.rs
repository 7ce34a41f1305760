//! Redaction by where a value stands: which environment names, command-line options
//! and label keys hold secrets, and the argument-by-argument redaction of a command
//! line. Every value redacted here is remembered for the exact-value pass.

use super::{Redactor, marker};

/// Env names redacted whatever their value.
const SECRET_ENV_EXACT: &[&str] = &[
    "MONGO_URL",
    "MONGO_OPLOG_URL",
    "MONGO_OPTIONS",
    "MAIL_URL",
    "TRANSPORTER",
    "REG_TOKEN",
    "ROCKETCHAT_LICENSE",
    "ADMIN_PASS",
];

/// Name fragments that mark a secret env variable.
const SECRET_ENV_PARTS: &[&str] = &[
    "PASS",
    "SECRET",
    "TOKEN",
    "KEY",
    "LICENSE",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
    "CERT",
    "PWD",
];

/// Names that hold a fragment above by accident (the shell's working directories).
const NOT_SECRET_ENV: &[&str] = &["PWD", "OLDPWD"];

/// True when an environment variable of this name holds a secret.
pub fn is_secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    // Switches such as BYPASS_OPLOG_VALIDATION or SKIP_MONGODEPRECATION_CHECK are not
    // secrets (they contain PASS only by accident) and support needs to see them.
    if upper.starts_with("BYPASS_") || upper.starts_with("SKIP_") {
        return false;
    }
    if NOT_SECRET_ENV.contains(&upper.as_str()) {
        return false;
    }
    if SECRET_ENV_EXACT.contains(&upper.as_str()) {
        return true;
    }
    if let Some(setting) = upper.strip_prefix("OVERWRITE_SETTING_") {
        return SECRET_ENV_PARTS.iter().any(|p| setting.contains(p))
            || setting.contains("SMTP_USERNAME");
    }
    SECRET_ENV_PARTS.iter().any(|p| upper.contains(p))
}

/// Fragments of an option name that mark its value as a secret.
const SECRET_FLAG_PARTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credential",
    "auth",
    "key",
];

/// Fragments that make an option's value a location or a choice, not a secret
/// (`--keyFile /etc/key`, `--authenticationDatabase admin`, `--authSource`).
const NOT_SECRET_FLAG_PARTS: &[&str] = &[
    "file",
    "path",
    "dir",
    "mechanism",
    "source",
    "database",
    "enabled",
    "mode",
    "type",
    "method",
    "url",
    "uri",
    "host",
    "port",
    "size",
    "length",
    "timeout",
    "algorithm",
    "enticat",
    "or",
    "board",
    "space",
    "alive",
];

/// True when a command-line option of this name (without dashes, any case) takes a
/// secret value: it names a password, secret, token, key or auth, and not a file,
/// path, mechanism or other setting about the secret.
pub fn is_secret_flag_name(name: &str) -> bool {
    let flat: String = name
        .trim_start_matches('-')
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect();
    if flat.is_empty() {
        return false;
    }
    // What follows the last secret word decides: `tlsCertificateKeyFilePassword` ends
    // in a password, `keyFile` in a file, `authenticationDatabase` in a database.
    let Some(end) = SECRET_FLAG_PARTS
        .iter()
        .filter_map(|p| flat.rfind(p).map(|i| i + p.len()))
        .max()
    else {
        return false;
    };
    let rest = &flat[end..];
    !NOT_SECRET_FLAG_PARTS.iter().any(|p| rest.contains(p))
        && !["id", "name", "user", "ttl", "s"].contains(&rest)
}

/// Segments of a label key that mark a secret value.
const SECRET_LABEL_SEGMENTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "apikey",
    "credential",
    "credentials",
    "auth",
    "basicauth",
    "digestauth",
    "htpasswd",
    "privatekey",
    "accesskey",
    "secretkey",
    "clientsecret",
];

/// Words that, followed by a `key` segment, name a secret key.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "signing",
    "encryption",
    "license",
    "licence",
    "master",
];

/// True when a label or annotation of this key holds a secret (split into segments at
/// `.`, `/`, `-`, `_` and lower-to-upper case changes: `traefik.http.middlewares.x.basicauth.users`,
/// `com.example.apiKey`, `db-password`; `org.opencontainers.image.authors` is not).
pub fn is_secret_label_key(key: &str) -> bool {
    let mut segments: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if matches!(c, '.' | '/' | '-' | '_' | ':' | ' ') {
            if !cur.is_empty() {
                segments.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            segments.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        segments.push(cur);
    }
    let direct = segments
        .iter()
        .any(|s| SECRET_LABEL_SEGMENTS.contains(&s.as_str()));
    let pair = segments
        .windows(2)
        .any(|w| KEY_QUALIFIERS.contains(&w[0].as_str()) && w[1] == "key");
    direct || pair
}

/// True for the value of `-p` that is a port, a port mapping or a path, not a password.
fn is_port_or_path(v: &str) -> bool {
    v.starts_with('/')
        || v.starts_with('.')
        || v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ':' | '.' | '/' | '-'))
}

/// Programs whose `-p VALUE` is a password.
fn p_is_password(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    ["mysql", "mariadb", "mongo"]
        .iter()
        .any(|p| base.starts_with(p))
}

pub(super) fn redact_argv(red: &Redactor, args: &[String], count: bool) -> Vec<String> {
    let note = |n: &str| {
        if count {
            red.add_count(n, 1);
        }
    };
    let text = |a: &str| {
        if count {
            red.redact_text(a)
        } else {
            a.to_string()
        }
    };
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let is_option = a.starts_with('-') && a.len() > 1 && !a.starts_with("---");
        if is_option {
            if let Some((name, value)) = a.split_once('=') {
                if is_secret_flag_name(name) && !value.is_empty() && !value.contains("://") {
                    red.register_secret(value);
                    note("argv-secret");
                    out.push(format!("{name}={}", marker("argv-secret")));
                } else {
                    if value.contains("://") {
                        red.register_uri_secrets(value);
                    }
                    out.push(text(a));
                }
                i += 1;
                continue;
            }
            let next = args.get(i + 1);
            let takes_secret = if a == "-p" {
                // `-p` is a password for MySQL/MariaDB and the MongoDB tools, a port or
                // a package for most others: on a command line that is only searched
                // (another process's, `count == false`), it counts for those tools
                // only, so that `cargo test -p NAME` does not make NAME a secret.
                (count || p_is_password(args.first().map(String::as_str).unwrap_or("")))
                    && next.is_some_and(|v| !v.starts_with('-') && !is_port_or_path(v))
            } else {
                a.starts_with("--")
                    && is_secret_flag_name(a)
                    && next.is_some_and(|v| !v.starts_with('-') && !v.contains("://"))
            };
            out.push(text(a));
            if takes_secret && let Some(v) = next {
                red.register_secret(v);
                note("argv-secret");
                out.push(marker("argv-secret"));
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        if a.contains("://") {
            red.register_uri_secrets(a);
        }
        out.push(text(a));
        i += 1;
    }
    out
}
