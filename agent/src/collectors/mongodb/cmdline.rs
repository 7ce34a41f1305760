//! `getCmdLineOpts`, redacted: every `setParameter` value and the values of options that
//! look like a password, secret, token or key file are withheld, in `argv` and `parsed`.

use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};
use serde_json::Value;

use crate::clients::mongodb::{Access, Budget, CmdError, doc_to_json, run_raw, strip_envelope};
use crate::redact::{Redactor, marker};

/// Option names (lower case fragments) whose values are withheld from `getCmdLineOpts`.
const CMDLINE_SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "keyfile",
    "credential",
    "privatekey",
];
/// Fragments whose values are real secrets (also remembered for the fail-closed scan).
const CMDLINE_PASSWORD_PARTS: &[&str] = &["password", "passwd", "pwd", "secret", "token"];

fn is_secret_option(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    CMDLINE_SECRET_PARTS.iter().any(|p| l.contains(p))
}

fn is_password_option(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    CMDLINE_PASSWORD_PARTS.iter().any(|p| l.contains(p))
}

/// Redacts `getCmdLineOpts`: every `setParameter` value, and values of options whose
/// name looks like a password, secret, token or key file, in `argv` and `parsed`.
/// Password-like values are also given to the redactor for the fail-closed scan.
pub fn redact_cmdline(reply: &Document, red: &Redactor) -> Document {
    let m = marker("cmdline");
    let mut out = reply.clone();
    if let Some(Bson::Array(argv)) = reply.get("argv") {
        let mut new = Vec::with_capacity(argv.len());
        let mut redact_next: Option<String> = None;
        for arg in argv {
            let Bson::String(s) = arg else {
                new.push(arg.clone());
                continue;
            };
            if let Some(opt) = redact_next.take() {
                if opt.eq_ignore_ascii_case("setparameter") {
                    let (name, value) = s.split_once('=').unwrap_or((s.as_str(), ""));
                    if is_password_option(name) {
                        red.register_secret(value);
                    }
                    new.push(Bson::String(format!("{name}={m}")));
                } else {
                    if is_password_option(&opt) {
                        red.register_secret(s);
                    }
                    new.push(Bson::String(m.clone()));
                }
                continue;
            }
            if let Some(opt) = s.strip_prefix("--").or_else(|| s.strip_prefix('-')) {
                if let Some((name, value)) = opt.split_once('=') {
                    if name.eq_ignore_ascii_case("setparameter") {
                        let pname = value.split_once('=').map(|(n, _)| n).unwrap_or(value);
                        if is_password_option(pname) {
                            red.register_secret(
                                value.split_once('=').map(|(_, v)| v).unwrap_or(""),
                            );
                        }
                        new.push(Bson::String(format!("--{name}={pname}={m}")));
                        continue;
                    }
                    if is_secret_option(name) {
                        if is_password_option(name) {
                            red.register_secret(value);
                        }
                        new.push(Bson::String(format!("--{name}={m}")));
                        continue;
                    }
                } else if opt.eq_ignore_ascii_case("setparameter") || is_secret_option(opt) {
                    redact_next = Some(opt.to_string());
                }
            }
            new.push(arg.clone());
        }
        out.insert("argv", Bson::Array(new));
    }
    if let Some(Bson::Document(parsed)) = reply.get("parsed") {
        out.insert(
            "parsed",
            Bson::Document(redact_parsed(parsed, false, red, &m)),
        );
    }
    out
}

fn redact_parsed(d: &Document, all: bool, red: &Redactor, m: &str) -> Document {
    d.iter()
        .map(|(k, v)| {
            let under_set_parameter = all || k.eq_ignore_ascii_case("setParameter");
            let v = match v {
                Bson::Document(sub) => {
                    Bson::Document(redact_parsed(sub, under_set_parameter, red, m))
                }
                _ if under_set_parameter || is_secret_option(k) => {
                    if is_password_option(k)
                        && let Bson::String(s) = v
                    {
                        red.register_secret(s);
                    }
                    Bson::String(m.to_string())
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Runs `getCmdLineOpts` and redacts it: the JSON written.
pub(super) async fn read(
    admin: &Database,
    budget: &Budget,
    red: &Redactor,
) -> Result<Value, CmdError> {
    run_raw(admin, doc! {"getCmdLineOpts": 1}, budget, red)
        .await
        .map_err(|e| e.with_hint(&Access::Server))
        .and_then(|d| {
            if d.get_array("argv").is_ok() {
                Ok(doc_to_json(&strip_envelope(&redact_cmdline(&d, red))))
            } else {
                Err(CmdError::unexpected("getCmdLineOpts", "argv", &d))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    fn red() -> Redactor {
        Redactor::new(&[]).expect("redactor")
    }
    #[test]
    fn cmdline_hides_set_parameters_key_files_and_passwords() {
        let r = red();
        let reply = doc! {
            "argv": ["mongod", "--setParameter", "ldapQueryPassword=Hunter2Hunter2", "--keyFile", "/etc/key", "--tlsCertificateKeyFilePassword=PemPass99", "--replSet", "rs0"],
            "parsed": {
                "replication": {"replSetName": "rs0"},
                "security": {"keyFile": "/etc/key", "authorization": "enabled"},
                "setParameter": {"enableLocalhostAuthBypass": "false", "ldapQueryPassword": "Hunter2Hunter2"},
                "net": {"tls": {"certificateKeyFilePassword": "PemPass99"}}
            },
            "ok": 1.0,
        };
        let out = redact_cmdline(&reply, &r);
        let text = serde_json::to_string(&doc_to_json(&out)).expect("json");
        for secret in ["Hunter2Hunter2", "/etc/key", "PemPass99", "\"false\""] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert!(
            text.contains("ldapQueryPassword=***REDACTED:cmdline***"),
            "{text}"
        );
        assert!(text.contains("rs0"), "{text}");
        assert!(r.has_exact("x Hunter2Hunter2 y"), "password remembered");
        assert!(
            !r.has_exact("/etc/key"),
            "key file paths are not scanned for"
        );
    }
}
