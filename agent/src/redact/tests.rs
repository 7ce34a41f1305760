//! Unit tests of the redactor: each rule, the field-aware rules, the exact-value pass.

use super::*;

fn r() -> Redactor {
    Redactor::new(&[]).unwrap()
}

#[test]
fn env_names_that_look_secret_are_redacted_and_remembered() {
    let red = r();
    assert_eq!(
        red.redact_env_entry("ADMIN_PASS=hunter22X"),
        "ADMIN_PASS=***REDACTED:env-secret***"
    );
    assert_eq!(
        red.redact_env_entry("OVERWRITE_SETTING_SMTP_Password=abcd1234"),
        "OVERWRITE_SETTING_SMTP_Password=***REDACTED:env-secret***"
    );
    assert_eq!(
        red.redact_env_entry("ROOT_URL=http://chat.example.com"),
        "ROOT_URL=http://chat.example.com"
    );
    assert_eq!(
        red.redact_env_entry("DEPLOY_METHOD=docker"),
        "DEPLOY_METHOD=docker"
    );
    assert_eq!(
        red.redact_line("xx hunter22X yy"),
        "xx ***REDACTED:exact-secret*** yy"
    );
    assert_eq!(red.counts()["env-secret"], 2);
}

#[test]
fn switches_and_commonplace_values_are_not_secrets() {
    let red = r();
    assert_eq!(
        red.redact_env_entry("BYPASS_OPLOG_VALIDATION=true"),
        "BYPASS_OPLOG_VALIDATION=true"
    );
    assert_eq!(
        red.redact_env_entry("SKIP_MONGODEPRECATION_CHECK=yes"),
        "SKIP_MONGODEPRECATION_CHECK=yes"
    );
    // A secret-named variable holding `true` is redacted but not searched for afterwards.
    assert_eq!(
        red.redact_env_entry("LDAP_AUTH_ENABLED=true"),
        "LDAP_AUTH_ENABLED=***REDACTED:env-secret***"
    );
    assert!(!red.has_exact("\"enabled\": true"));
    assert_eq!(
        red.redact_env_value("MONGO_URL", "mongodb://u:pw123456@db/x"),
        "mongodb://u:***REDACTED:uri-userinfo***@db/x"
    );
    assert_eq!(red.counts().get("uri-userinfo"), Some(&1));
}

#[test]
fn mongo_url_keeps_topology_but_not_credentials() {
    let red = r();
    let out = red.redact_env_value(
        "MONGO_URL",
        "mongodb://rc:S3cr%40t!x@mongo1:27017,mongo2:27017/rocketchat?replicaSet=rs0&tlsCertificateKeyFilePassword=pw9999",
    );
    assert_eq!(
        out,
        "mongodb://rc:***REDACTED:uri-userinfo***@mongo1:27017,mongo2:27017/rocketchat?replicaSet=rs0&tlsCertificateKeyFilePassword=***REDACTED:uri-query***"
    );
    assert!(
        red.has_exact("pw S3cr@t!x here"),
        "decoded password is remembered"
    );
    assert!(
        red.has_exact("S3cr%40t!x"),
        "encoded password is remembered"
    );
}

#[test]
fn common_word_passwords_are_redacted_where_they_stand_only() {
    for pass in ["rocketchat", "mongo", "docker", "host", "admin", "12345678"] {
        let red = r();
        let uri = format!("mongodb://rocketchat:{pass}@127.0.0.1:9/rocketchat?authSource=admin");
        red.register_uri_secrets(&uri);
        assert_eq!(
            red.redact_uri(&uri),
            "mongodb://rocketchat:***REDACTED:uri-userinfo***@127.0.0.1:9/rocketchat?authSource=admin"
        );
        assert_eq!(red.secret_count(), 0, "{pass} is not searched for");
        let text =
            "image rocketchat/rocket.chat on host docker with mongo, authSource=admin 12345678";
        assert_eq!(red.redact_line(text), text, "{pass}");
    }
}

#[test]
fn password_equal_to_the_user_name_is_not_searched_for() {
    let red = r();
    red.register_uri_secrets("mongodb://RcService2026:RcService2026@db/x");
    assert_eq!(red.secret_count(), 0);
    red.register_uri_secrets("mongodb://rc:RcService2026@db/x");
    assert!(red.secret_count() > 0);
}

#[test]
fn patterns_cover_the_usual_leaks() {
    let red = r();
    let cases = [
        (
            "connect mongodb://admin:pa55word@db:27017/x",
            "uri-userinfo",
            "pa55word",
        ),
        (
            "GET /x Bearer abcdefghijklmnop",
            "bearer-token",
            "abcdefghijklmnop",
        ),
        (
            "X-Auth-Token: Zx9_Rk2LmQw8TtYy",
            "auth-token",
            "Zx9_Rk2LmQw8TtYy",
        ),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
            "dozjgNryP4J3jVmNHl0w5N",
        ),
        (
            "key AKIAIOSFODNN7EXAMPLE used",
            "aws-access-key",
            "AKIAIOSFODNN7EXAMPLE",
        ),
        ("smtp password=Tr0ub4dor&3", "password-pair", "Tr0ub4dor"),
        (
            r#"{"password": "s3cr3tvalue"}"#,
            "password-pair",
            "s3cr3tvalue",
        ),
        (
            r#"msg="{\"password\":\"EscapedPw77\",\"user\":\"bob\"}""#,
            "password-pair",
            "EscapedPw77",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
            "pem-private-key",
            "MIIEabc",
        ),
        (
            "slack xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv",
            "slack-token",
            "AbCdEfGhIjKlMnOpQrStUv",
        ),
        (
            "webhook https://hooks.slack.com/services/T0000AAAA/B0000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
            "slack-webhook",
            "XXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        (
            "push with ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "github-token",
            "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        ),
        (
            "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "stripe-key",
            "4eC39HqLyjWDarjtT1zdp7dc",
        ),
        (
            "aws AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws-key-pair",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net",
            "azure-account-key",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
        ),
        (
            "GET /api/v1/me?access_token=Qm9vM2dKe8 HTTP/1.1",
            "url-query-secret",
            "Qm9vM2dKe8",
        ),
        (
            "Cookie: rc_uid=abc; rc_token=Tk_9f8e7d6c5b4a",
            "http-cookie",
            "Tk_9f8e7d6c5b4a",
        ),
        (
            r#"{"headers":{"authorization":"Token dXNlcjpQYXNzMTIz","x-user-id":"u1"}}"#,
            "http-authorization",
            "dXNlcjpQYXNzMTIz",
        ),
        (
            "X-API-Key: 5f2b9c1e7a3d4f60",
            "api-key-header",
            "5f2b9c1e7a3d4f60",
        ),
        (
            r#"localStorage["Meteor.loginToken"] = "n8K2pQ7rT4vX1zB6""#,
            "meteor-login-token",
            "n8K2pQ7rT4vX1zB6",
        ),
        (
            "ran mongod --tlsCertificateKeyFilePassword Xy7Secret99 --port 27017",
            "cli-secret-flag",
            "Xy7Secret99",
        ),
        (
            "license_key=Lk83hfH2kd9S0qPz1mXv",
            "secret-assignment",
            "Lk83hfH2kd9S0qPz1mXv",
        ),
    ];
    for (input, rule, secret) in cases {
        let out = red.redact_text(input);
        assert!(!out.contains(secret), "{rule}: {out}");
        assert!(out.contains(&marker(rule)), "{rule}: {out}");
    }
}

#[test]
fn controls_next_to_secrets_are_kept() {
    let red = r();
    let line = r#"{"headers":{"x-user-id":"u1xyz","host":"chat.example.com"},"url":"/api/v1/me?userId=u1xyz&count=5","replicaSet":"rs0","authSource":"admin"}"#;
    assert_eq!(red.redact_text(line), line);
    let out = red
        .redact_text("mongodb://rc:Pw0rd!xyz@db1:27017/rocketchat?authSource=admin&replicaSet=rs0");
    assert!(
        out.contains("db1:27017/rocketchat?authSource=admin&replicaSet=rs0"),
        "{out}"
    );
    assert_eq!(red.redact_text("password=null"), "password=null");
}

#[test]
fn plain_text_is_left_alone() {
    let red = r();
    let line = r#"{"level":30,"time":"2026-11-26T05:00:00.000Z","msg":"Server running on port 3000","hostname":"rc1"}"#;
    assert_eq!(red.redact_text(line), line);
    assert!(red.counts().is_empty());
}

#[test]
fn remembered_secrets_are_replaced_not_withheld() {
    let red = r();
    red.register_secret("opaque-value-9z");
    assert_eq!(
        red.redact_line("debug: opaque-value-9z in clear"),
        "debug: ***REDACTED:exact-secret*** in clear"
    );
    let mut value = serde_json::json!({"note": "x opaque-value-9z", "keep": "hello"});
    red.redact_json(&mut value);
    red.replace_exact_json(&mut value);
    let text = value.to_string();
    assert!(!text.contains("opaque-value-9z"));
    assert!(text.contains("x ***REDACTED:exact-secret***"));
    assert!(text.contains("hello"));
    assert_eq!(red.counts()["exact-secret"], 2);
}

#[test]
fn exact_secrets_in_escaped_json_are_found() {
    let red = r();
    red.register_secret("p\"q\\Secret9");
    let line = r#"{"msg":"pw is p\"q\\Secret9"}"#;
    assert!(
        !red.redact_line(line).contains("Secret9"),
        "{}",
        red.redact_line(line)
    );
}

#[test]
fn argv_options_are_redacted_by_name() {
    let red = r();
    let args: Vec<String> = [
        "mongod",
        "--tlsCertificateKeyFilePassword",
        "Xy7Secret99",
        "--keyFile",
        "/etc/mongo/key",
        "--auth",
        "--bind_ip_all",
        "--authenticationDatabase",
        "admin",
        "--api-token=Tok3nValue",
        "-p",
        "Mysql9Pass",
        "-p",
        "3000:3000",
        "mongodb://u:UriPass77@db/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = red.redact_argv(&args).join(" ");
    for secret in ["Xy7Secret99", "Tok3nValue", "Mysql9Pass", "UriPass77"] {
        assert!(!out.contains(secret), "{secret}: {out}");
    }
    for kept in [
        "/etc/mongo/key",
        "--auth --bind_ip_all",
        "--authenticationDatabase admin",
        "3000:3000",
        "@db/x",
    ] {
        assert!(out.contains(kept), "{kept}: {out}");
    }
    assert_eq!(red.counts()["argv-secret"], 3);
    assert!(red.has_exact("Xy7Secret99"), "argv secrets are remembered");
}

#[test]
fn label_keys_are_judged_by_segment() {
    for key in [
        "traefik.http.middlewares.auth.basicauth.users",
        "com.example.apiKey",
        "db-password",
        "io.rancher.secret",
        "vault.token",
        "com.example.private_key",
    ] {
        assert!(is_secret_label_key(key), "{key}");
    }
    for key in [
        "org.opencontainers.image.authors",
        "com.docker.compose.config-hash",
        "maintainer",
        "com.docker.compose.project",
        "io.kubernetes.pod.name",
        "keyboard.layout",
    ] {
        assert!(!is_secret_label_key(key), "{key}");
    }
    let red = r();
    let out = red.redact_labels([
        ("db-password", "L4belSecret!"),
        ("maintainer", "buildmaster@rocket.chat"),
    ]);
    assert_eq!(out["db-password"], marker("label-secret"));
    assert_eq!(out["maintainer"], "buildmaster@rocket.chat");
}

#[test]
fn every_rule_id_is_documented() {
    let doc = include_str!("../../../docs/redaction.md");
    for spec in rules::BUILTIN {
        assert!(
            doc.contains(&format!("`{}`", spec.id)),
            "docs/redaction.md does not document {}",
            spec.id
        );
    }
    for (id, _) in rules::STRUCTURAL {
        assert!(
            doc.contains(&format!("`{id}`")),
            "docs/redaction.md does not document {id}"
        );
    }
    let mut ids: Vec<&str> = rules::BUILTIN
        .iter()
        .map(|r| r.id)
        .chain(rules::STRUCTURAL.iter().map(|r| r.0))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "rule ids are unique");
}

#[test]
fn custom_patterns_are_applied() {
    let red = Redactor::new(&["ACME-[0-9]{6}".to_string()]).unwrap();
    assert_eq!(
        red.redact_text("id ACME-123456"),
        format!("id {}", marker("custom-1"))
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Random distinctive secrets embedded in random log lines never survive, and
        /// the line count is kept.
        #[test]
        fn random_secrets_never_survive(
            secret in "[A-Za-z][A-Za-z0-9!@#%^*_+=-]{9,30}[0-9]",
            lines in proptest::collection::vec("[ -~]{0,80}", 1..20),
            at in 0usize..20,
        ) {
            prop_assume!(is_distinctive(&secret));
            let red = r();
            red.register_secret(&secret);
            let at = at % lines.len();
            let mut text: Vec<String> = lines.clone();
            text[at] = format!("{} {secret} {}", text[at], text[at].len());
            let out: Vec<String> = text.iter().map(|l| red.redact_line(l)).collect();
            prop_assert_eq!(out.len(), text.len());
            for l in &out {
                prop_assert!(!l.contains(&secret), "{}", l);
            }
        }
    }
}

#[test]
fn a_uri_without_credentials_stays_readable() {
    let red = r();
    red.register_env_secrets(&["TRANSPORTER=nats://rocketchat-nats:4222".to_string()]);
    assert_eq!(
        red.redact_env_entry("MONGO_URL=mongodb://mongo:27017/rocketchat?replicaSet=rs0"),
        "MONGO_URL=mongodb://mongo:27017/rocketchat?replicaSet=rs0"
    );
    for line in [
        "TRANSPORTER=nats://rocketchat-nats:4222",
        "connecting to mongodb://mongo:27017/rocketchat?replicaSet=rs0",
    ] {
        assert_eq!(red.redact_line(line), line);
    }
    // With credentials, the password (and the whole URI) is still found everywhere.
    red.register_env_secrets(&["TRANSPORTER=nats://rc:N4tsPassw0rd@nats:4222".to_string()]);
    let out = red.redact_line("transport nats://rc:N4tsPassw0rd@nats:4222 up");
    assert!(!out.contains("N4tsPassw0rd"), "{out}");
}

#[test]
fn dash_p_of_another_process_is_a_secret_only_for_database_tools() {
    let red = r();
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    red.register_argv_secrets(&argv(&["cargo", "test", "-p", "rcdiag-agent"]));
    red.register_argv_secrets(&argv(&[
        "/usr/bin/mysql",
        "-u",
        "root",
        "-p",
        "Sq1Passw0rdX",
    ]));
    red.register_argv_secrets(&argv(&["mongosh", "-u", "admin", "-p", "M0ngoPassw0rd"]));
    assert_eq!(
        red.redact_line("run rcdiag-agent now"),
        "run rcdiag-agent now"
    );
    let out = red.redact_line("pw Sq1Passw0rdX and M0ngoPassw0rd");
    assert!(
        !out.contains("Sq1Passw0rdX") && !out.contains("M0ngoPassw0rd"),
        "{out}"
    );
    // On a command line the agent writes, `-p VALUE` is still redacted in place.
    assert_eq!(
        red.redact_argv(&argv(&["tool", "-p", "s3cr3tvalue9"]))[2],
        "***REDACTED:argv-secret***"
    );
}
