//! The pattern rules, as data: one row per rule with its stable id, what it matches
//! and the regular expression. `docs/redaction.md` documents every row (a test checks
//! that it names each id). Rules run in this order over every string the agent writes;
//! a rule never touches text that an earlier rule already replaced.
//!
//! Replacement: the named group `pre` (and `post`) is kept, the rest of the match becomes
//! `***REDACTED:<id>***`, unless the row gives its own template (`$m` is the marker).

/// An optional quote before or after a key, also when JSON is escaped inside a string
/// (`\"password\":\"...\"`, up to two levels of escaping).
macro_rules! q {
    () => {
        r#"(?:\\{0,3}["'])?"#
    };
}

/// One pattern rule.
#[derive(Debug, Clone, Copy)]
pub struct RuleSpec {
    /// Stable id, used in the marker and the manifest's counts.
    pub id: &'static str,
    /// What it matches, for `docs/redaction.md` and `rcdiag-agent list-redactions`.
    pub what: &'static str,
    /// The regular expression (Rust `regex` syntax).
    pub pattern: &'static str,
    /// Replacement template: `$m` is the marker, `${name}` a kept group. `None` keeps
    /// `pre` and `post` around the marker.
    pub template: Option<&'static str>,
    /// A further test of the matched secret (group `s`, else the whole match): the rule
    /// applies only when it returns true.
    pub check: Option<fn(&str) -> bool>,
}

const fn rule(id: &'static str, what: &'static str, pattern: &'static str) -> RuleSpec {
    RuleSpec {
        id,
        what,
        pattern,
        template: None,
        check: None,
    }
}

/// Every built-in rule, in the order they are applied.
pub const BUILTIN: &[RuleSpec] = &[
    rule(
        "pem-private-key",
        "a PEM private key block (`-----BEGIN ... PRIVATE KEY-----` to its END line, over several lines; an unterminated block to the end of the text)",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)",
    ),
    RuleSpec {
        id: "base64-line",
        what: "a line that is nothing but a long base64 run (40+ characters with upper case, lower case and digits): the body lines of a PEM key or certificate logged line by line, whose BEGIN line is on another line",
        pattern: r"^\s*(?P<s>[A-Za-z0-9+/]{40,}={0,2})\s*$",
        template: None,
        check: Some(mixed_base64),
    },
    // --- provider token formats (prefix + charset + length) ---
    rule(
        "slack-token",
        "Slack bot, user, app and refresh tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxo-`, `xapp-`)",
        r"\b(?:xox[abposr]|xapp)-[0-9A-Za-z-]{10,250}",
    ),
    rule(
        "slack-webhook",
        "the secret path of a Slack incoming webhook (`https://hooks.slack.com/services/...`)",
        r"(?P<pre>https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9+/_-]{20,}",
    ),
    rule(
        "discord-webhook",
        "the token of a Discord webhook URL",
        r"(?P<pre>https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/)[A-Za-z0-9_-]{30,}",
    ),
    rule(
        "discord-bot-token",
        "a Discord bot token (base64 user id, timestamp and HMAC separated by dots)",
        r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b",
    ),
    rule(
        "telegram-bot-token",
        "a Telegram bot token (`123456789:AA...`)",
        r"\b[0-9]{8,10}:AA[A-Za-z0-9_-]{32,34}\b",
    ),
    rule(
        "teams-webhook",
        "the secret path of a Microsoft Teams / Office 365 incoming webhook",
        r"(?P<pre>https://[A-Za-z0-9-]+\.webhook\.office\.com/webhookb2/)[^\s\x22'<>]+",
    ),
    rule(
        "github-token",
        "GitHub personal, OAuth, app and refresh tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`)",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b",
    ),
    rule(
        "gitlab-token",
        "GitLab personal, deploy, pipeline-trigger, runner and CI tokens (`glpat-`, `gldt-`, `glptt-`, `glrt-`, `glcbt-`)",
        r"\bgl(?:pat|dt|ptt|rt|cbt|soat)-[A-Za-z0-9_-]{20,}",
    ),
    rule(
        "stripe-key",
        "Stripe secret and restricted keys and webhook secrets (`sk_live_`, `rk_test_`, `whsec_`)",
        r"\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})\b",
    ),
    rule(
        "sendgrid-key",
        "a SendGrid API key (`SG.` + 22 + `.` + 43 characters)",
        r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
    ),
    rule(
        "mailgun-key",
        "a Mailgun API key (`key-` + 32 hex)",
        r"\bkey-[0-9a-f]{32}\b",
    ),
    rule(
        "mailchimp-key",
        "a Mailchimp API key (32 hex + `-us` + data centre)",
        r"\b[0-9a-f]{32}-us[0-9]{1,2}\b",
    ),
    rule(
        "twilio-key",
        "a Twilio API key sid (`SK` + 32 hex)",
        r"\bSK[0-9a-f]{32}\b",
    ),
    rule(
        "google-api-key",
        "a Google API key (`AIza` + 35 characters)",
        r"\bAIza[0-9A-Za-z_-]{35}\b",
    ),
    rule(
        "google-oauth-secret",
        "a Google OAuth client secret (`GOCSPX-`)",
        r"\bGOCSPX-[A-Za-z0-9_-]{28}\b",
    ),
    rule(
        "npm-token",
        "an npm access token (`npm_` + 36)",
        r"\bnpm_[A-Za-z0-9]{36}\b",
    ),
    rule(
        "pypi-token",
        "a PyPI upload token (`pypi-AgEIcHlwaS5vcmc...`)",
        r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
    ),
    rule(
        "docker-hub-token",
        "a Docker Hub personal access token (`dckr_pat_`)",
        r"\bdckr_pat_[A-Za-z0-9_-]{27,}",
    ),
    rule(
        "openai-key",
        "OpenAI and Anthropic API keys (`sk-proj-`, `sk-svcacct-`, `sk-...T3BlbkFJ...`, `sk-ant-`)",
        r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|ant-[A-Za-z0-9_-]{32,})",
    ),
    RuleSpec {
        id: "aws-key-pair",
        what: "an AWS access key id followed within a few characters by its 40-character secret key (both replaced)",
        pattern: r#"\b(?:AKIA|ASIA)[0-9A-Z]{16}(?P<mid>[^A-Za-z0-9/+\n]{1,8}(?:[A-Za-z_]{1,40}[^A-Za-z0-9/+\n]{1,8})?)[A-Za-z0-9/+]{40}\b"#,
        template: Some("$m${mid}$m"),
        check: None,
    },
    rule(
        "aws-access-key",
        "an AWS access key id (`AKIA`, `ASIA` + 16)",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    ),
    rule(
        "aws-secret-key",
        "the value of `aws_secret_access_key` / `AWS_SECRET_ACCESS_KEY` / `secretAccessKey`",
        concat!(
            r#"(?i)(?P<pre>(?:aws_secret_access_key|secret_access_key|secretaccesskey)"#,
            q!(),
            r#"\s*[:=]\s*"#,
            q!(),
            r#")[A-Za-z0-9/+=]{20,}"#
        ),
    ),
    rule(
        "azure-account-key",
        "the key of an Azure connection string (`AccountKey=`, `SharedAccessKey=`, `SharedAccessSignature=`)",
        r"(?i)(?P<pre>\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*)[^;\s\x22'\\]+",
    ),
    // --- credentials in URIs and HTTP ---
    rule(
        "uri-userinfo",
        "the password of `user:password@` in any URI (`mongodb://`, `smtp://`, `https://`, ...); the user name and the hosts stay",
        r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\x22\\]+:)[^@\s/'\x22\\]+@",
    ),
    rule(
        "url-query-secret",
        "the value of a URL query parameter that carries a credential (`access_token`, `token`, `apiKey`, `key`, `secret`, `signature`, `sig`, `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`, `password`, `code`, ...)",
        r"(?i)(?P<pre>[?&](?:access_token|refresh_token|id_token|auth_token|token|api_?key|apikey|key|secret|client_secret|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|password|passwd|pwd|auth|code|rc_token|resume)=)[^&\s\x22'#<>\\]+",
    ),
    rule(
        "bearer-token",
        "the token after `Bearer ` or the base64 `user:password` after `Basic `",
        r"(?i)(?P<pre>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}",
    ),
    rule(
        "http-authorization",
        "the value of an `Authorization` / `Proxy-Authorization` header, in a header line or a JSON object",
        concat!(
            r#"(?i)(?P<pre>\b(?:proxy-)?authorization"#,
            q!(),
            r#"\s*[:=]\s*"#,
            q!(),
            r#")(?P<s>[^\x22'\\\r\n]+)"#
        ),
    ),
    rule(
        "http-cookie",
        "the value of a `Cookie` / `Set-Cookie` header (Rocket.Chat's `rc_token` and `rc_uid` among them)",
        concat!(
            r#"(?i)(?P<pre>\b(?:set-)?cookie"#,
            q!(),
            r#"\s*[:=]\s*"#,
            q!(),
            r#")(?P<s>[^\x22'\\\r\n]*[=][^\x22'\\\r\n]*)"#
        ),
    ),
    rule(
        "api-key-header",
        "the value of an `X-API-Key`, `X-Access-Token`, `X-Amz-Security-Token` or `X-Csrf-Token` header (`X-User-Id` is kept: it is an id, not a credential)",
        concat!(
            r#"(?i)(?P<pre>\bx-(?:api-key|access-token|amz-security-token|csrf-token|goog-api-key)"#,
            q!(),
            r#"\s*[:=]\s*"#,
            q!(),
            r#")[^\x22'\\\s,;]+"#
        ),
    ),
    rule(
        "rc-token-cookie",
        "Rocket.Chat's `rc_token` login cookie outside a Cookie header",
        r"(?P<pre>\brc_token=)[^;\s\x22'&\\]+",
    ),
    rule(
        "meteor-login-token",
        "Rocket.Chat's `Meteor.loginToken` (browser storage key of the login token)",
        concat!(
            r#"(?P<pre>Meteor\.loginToken"#,
            q!(),
            r#"\]?\s*[:=,]\s*"#,
            q!(),
            r#")[A-Za-z0-9_-]{8,}"#
        ),
    ),
    rule(
        "jwt",
        "a JSON Web Token (`eyJ...` header, payload and signature)",
        r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}",
    ),
    rule(
        "auth-token",
        "values of `X-Auth-Token`, `authToken`, `resume`/`resumeToken`, `loginToken`, `hashedToken`, `access_token`, `refresh_token` (Rocket.Chat REST and DDP credentials)",
        concat!(
            r#"(?i)(?P<pre>(?:x-auth-token|x-auth|authToken|auth_token|resume|resumeToken|loginToken|hashedToken|access_token|refresh_token)"#,
            q!(),
            r#"\s*[:=]\s*"#,
            q!(),
            r#")[A-Za-z0-9._~+/=-]{8,}"#
        ),
    ),
    // --- key = value ---
    RuleSpec {
        id: "password-pair",
        what: "the value after a key that names a password or secret (`password=`, `\"passwd\": \"...\"`, `db_pwd:`, `client_secret=`, `api_key=`), also in JSON escaped inside a string",
        pattern: concat!(
            r#"(?i)(?P<pre>\b[A-Za-z0-9_.-]*(?:password|passwd|pwd|passphrase|secret|api_?key|apikey|client_secret)"#,
            q!(),
            r#"\s*[:=]\s*"#,
            q!(),
            r#")(?P<s>[^\s\x22'\\&,;}]+)"#
        ),
        template: None,
        check: Some(not_a_placeholder),
    },
    RuleSpec {
        id: "cli-secret-flag",
        what: "the value of a command-line option that names a password, secret, token or credential, written `--name value` or `--name=value` (in text such as a logged command line)",
        pattern: r#"(?i)(?P<pre>(?:^|\s)--?[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|token|apikey|api-key|credential)[A-Za-z0-9_-]*(?:=|\s+))(?P<s>[^\s\x22'-][^\s\x22']*)"#,
        template: None,
        check: Some(not_a_placeholder),
    },
    RuleSpec {
        id: "secret-assignment",
        what: "a high-entropy value (16+ characters, mixed character classes) after a key that names a token, key, credential or licence (`token=`, `signing_key:`, `license_key=`)",
        pattern: concat!(
            r#"(?i)(?P<pre>\b[A-Za-z0-9_.-]*(?:token|key|credential|licen[cs]e|signature)[A-Za-z0-9_.-]*"#,
            q!(),
            r#"\s*[:=]\s*"#,
            q!(),
            r#")(?P<s>[A-Za-z0-9+/=_.~-]{16,})"#
        ),
        template: None,
        check: Some(high_entropy),
    },
];

/// False for values that are not secrets though they stand after a secret's key:
/// `null`, `true`, an empty or already masked value.
fn not_a_placeholder(v: &str) -> bool {
    let v = v.trim_matches(|c| c == '"' || c == '\'');
    !(v.is_empty()
        || v.starts_with("***")
        || v.starts_with("<redacted")
        || [
            "null",
            "undefined",
            "none",
            "true",
            "false",
            "required",
            "optional",
        ]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(v)))
}

/// True for a base64 run with upper case, lower case and digits (not a hex digest).
fn mixed_base64(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_uppercase())
        && v.bytes().any(|b| b.is_ascii_lowercase())
        && v.bytes().any(|b| b.is_ascii_digit())
}

/// True for a value that looks random: at least two character classes and a Shannon
/// entropy of at least 3 bits per character.
pub fn high_entropy(v: &str) -> bool {
    if !not_a_placeholder(v) {
        return false;
    }
    let classes = super::secrets::char_classes(v);
    classes >= 2 && entropy(v) >= 3.0
}

/// Shannon entropy in bits per byte.
pub fn entropy(v: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in v.bytes() {
        counts[b as usize] += 1;
    }
    let n = v.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Ids of the rules that are not patterns: structural (where a value stands) and the
/// exact-value pass. Documented in `docs/redaction.md` too.
pub const STRUCTURAL: &[(&str, &str)] = &[
    (
        "env-secret",
        "the value of an environment variable whose name looks secret (`*PASS*`, `*SECRET*`, `*TOKEN*`, `*KEY*`, `*LICENSE*`, `*CREDENTIAL*`, `*AUTH*`, `*PRIVATE*`, `*CERT*`, `ADMIN_PASS`, `REG_TOKEN`, secret `OVERWRITE_SETTING_*`)",
    ),
    (
        "uri-query",
        "in a connection URI held by `MONGO_URL`, `MONGO_OPLOG_URL`, `MAIL_URL` or `TRANSPORTER`, the value of every query parameter not known to be harmless (`replicaSet`, `authSource`, `tls`, ... are kept)",
    ),
    (
        "argv-secret",
        "on a command line (host processes, a container's `Cmd` and `Entrypoint`), the value of an option that names a password, secret, token, key or auth (`--name value`, `--name=value`, `-p value`); paths (`--keyFile`, `--*File`, `--*Path`) are kept",
    ),
    (
        "label-secret",
        "the value of a label or annotation whose key names a password, secret, token, credential, auth or a private/API/access key",
    ),
    (
        "cmdline",
        "in MongoDB's `getCmdLineOpts` reply, every `setParameter` value and the value of every option that names a password, secret, token, key file or credential, in `argv` and `parsed`",
    ),
    (
        "values-secret",
        "in a Helm release's user-supplied values (`--kube-helm-release`), every string and number under a key that names a password, secret, token, key, license, credential, auth or certificate (the `env-secret` and `label-secret` key rules), at any depth",
    ),
    (
        "exact-secret",
        "the exact-value pass: every secret value the agent saw in a structural place, found again anywhere in any file",
    ),
];
