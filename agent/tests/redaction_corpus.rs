//! Redaction against a REAL Docker Engine, end to end through the `rcdiag-agent`
//! binary: a corpus of more than 60 realistic secrets (built for this test: none is a
//! real credential) placed where real deployments carry them: container environments,
//! command lines and labels, pino and plain log lines, escaped JSON, HTTP headers and
//! URLs, a PEM key over several lines, provider tokens, MongoDB URIs with common-word
//! passwords and `authSource=admin`, and the command line of a host process. The test
//! fails when any secret appears anywhere in the bundle (every entry and the manifest)
//! or in the agent's own output, and when any non-secret control beside them is missing.
//!
//! Without the Docker peer the test prints SKIPPED (or fails under `RCDIAG_REQUIRE_PEERS=1`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::require_peer;
use rcdiag_bundle::{Bundle, OpenOptions};

const PEER: &str = "RCDIAG_TEST_DOCKER_HOST";

/// Secrets held in the Rocket.Chat container's environment.
const ENV: &[(&str, &str)] = &[
    (
        "MONGO_URL",
        "mongodb://rcuser:Qk8vR2-pLm9xZ@mongo-0.mongo:27017,mongo-1.mongo:27017/rocketchat?replicaSet=rs0&authSource=admin",
    ),
    (
        "MONGO_OPLOG_URL",
        "mongodb://oploguser:0pL0g-S3cret-77@mongo-0.mongo:27017/local?authSource=admin",
    ),
    ("ADMIN_PASS", "Adm1n!Pass-2026"),
    ("OVERWRITE_SETTING_SMTP_Password", "Smtp#Pa55w0rd"),
    ("MAIL_URL", "smtp://mailer:M4il-Secr3t@smtp.example.com:587"),
    (
        "AWS_SECRET_ACCESS_KEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE12",
    ),
    (
        "OVERWRITE_SETTING_Accounts_OAuth_Google_secret",
        "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz12",
    ),
    ("REG_TOKEN", "rt_9f8e7d6c5b4a3210"),
    ("ROCKETCHAT_LICENSE", "LIC-AbCdEf-123456-XyZ"),
    (
        "OVERWRITE_SETTING_LDAP_Authentication_Password",
        "Ld4p!Bind#Pw",
    ),
    (
        "MONGO_OPTIONS",
        r#"{"tlsCertificateKeyFilePassword":"TlsK3y-Pass"}"#,
    ),
    ("HTTP_PROXY", "http://proxyuser:Pr0xy-Pa55@proxy.corp:3128"),
    ("SLACK_BOT_TOKEN", "xoxb-2048-4096-EnvSlackT0kenValue99"),
    ("GITHUB_TOKEN", "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngABCDEFGHIJ"),
    ("APN_PASSPHRASE", "ApnP4ss-phrase"),
    ("DB_PWD", "Pwd-Only-9x"),
    ("SAML_PRIVATE_KEY", "MIIEpAIBAAKCAQEAsamlPrivateKeyBody0123"),
];

/// The secret part of each env value (what must not appear anywhere).
const ENV_SECRETS: &[&str] = &[
    "Qk8vR2-pLm9xZ",
    "0pL0g-S3cret-77",
    "Adm1n!Pass-2026",
    "Smtp#Pa55w0rd",
    "M4il-Secr3t",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE12",
    "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz12",
    "rt_9f8e7d6c5b4a3210",
    "LIC-AbCdEf-123456-XyZ",
    "Ld4p!Bind#Pw",
    "TlsK3y-Pass",
    "Pr0xy-Pa55",
    "EnvSlackT0kenValue99",
    "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngABCDEFGHIJ",
    "ApnP4ss-phrase",
    "Pwd-Only-9x",
    "samlPrivateKeyBody0123",
];

/// Labels of the Rocket.Chat container (key, value, the secret in the value).
const LABELS: &[(&str, &str, &str)] = &[
    (
        "traefik.http.middlewares.rc-auth.basicauth.users",
        "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
        "IgXLP6ewTrSuBkTrqE8wj/",
    ),
    (
        "com.example.backup.s3-secret-key",
        "S3cr3tK3y/Backup+2026",
        "S3cr3tK3y/Backup+2026",
    ),
    (
        "io.portainer.accesscontrol.token",
        "ptr_9a8b7c6d5e4f3a2b",
        "ptr_9a8b7c6d5e4f3a2b",
    ),
];

/// Command-line secrets of the worker container (`sh -c SCRIPT NAME ARGS...`).
const CMD_SECRETS: &[&str] = &["Api-T0ken-4242", "DbPw!2026x", "SvcUr1-Pass", "MysqlP4ss"];

/// The host process (argv[0] `mongod`): its secrets.
const HOST_SECRETS: &[&str] = &["Xy7Secret99", "HostLd4p-Pw"];

/// Log lines printed by the Rocket.Chat container, each with the secret it carries.
fn log_lines() -> Vec<(String, &'static str)> {
    let pino = |msg: &str| {
        format!(
            r#"{{"level":30,"time":"2026-12-03T08:00:00.000Z","pid":1,"hostname":"rc-corpus","name":"RocketChat","msg":"{msg}"}}"#
        )
    };
    let mut v: Vec<(String, &'static str)> = vec![
        (pino(r#"request {\"headers\":{\"authorization\":\"Bearer Zq8xK2mNvB4tR7yW1pL9eH3c\",\"x-user-id\":\"kept-user-id-123\"}}"#), "Zq8xK2mNvB4tR7yW1pL9eH3c"),
        ("POST /api/v1/chat.postMessage X-Auth-Token: aT0k9F3kLmN2pQrZ X-User-Id: kept-user-id-123".into(), "aT0k9F3kLmN2pQrZ"),
        ("Cookie: rc_uid=kept-user-id-123; rc_token=rcT0k-55AbCdEfGh".into(), "rcT0k-55AbCdEfGh"),
        ("GET /api/v1/channels.list?access_token=AcT0k-3n9a8b7c6&count=50".into(), "AcT0k-3n9a8b7c6"),
        ("upload to https://storage.example.com/b/x.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        (pino("token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJyY3VzZXIiLCJpYXQiOjE3MzMyMjU2MDB9.s3cr3tS1gn4tur3V4lu3_AbCdEfGhIjK"), "s3cr3tS1gn4tur3V4lu3_AbCdEfGhIjK"),
        ("-----BEGIN RSA PRIVATE KEY-----".into(), "-----BEGIN RSA PRIVATE KEY-----"),
        ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj".into(), "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"),
        ("MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu".into(), "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu"),
        ("NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ".into(), "NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ"),
        ("-----END RSA PRIVATE KEY-----".into(), ""),
        (pino("posting with xoxb-1111-2222-LogSlackT0kenValue"), "LogSlackT0kenValue"),
        ("webhook https://discord.com/api/webhooks/1234567890123/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdEFGH".into(), "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdEFGH"),
        ("bot MTAxNjQ4NzY1NDMyMTA5ODc2NQ.GxYz12.AbCdEfGhIjKlMnOpQrStUvWxYz0123456 connected".into(), "AbCdEfGhIjKlMnOpQrStUvWxYz0123456"),
        ("telegram bot 5123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw ready".into(), "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("charge with sk_live_51HxYzAbCdEfGhIjKlMnOpQr".into(), "51HxYzAbCdEfGhIjKlMnOpQr"),
        ("mail via SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ012".into(), "wXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ012"),
        ("maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q".into(), "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
        ("npm publish npm_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6".into(), "npm_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"),
        ("gitlab glpat-xY9zW8vU7tS6rQ5pO4nM push".into(), "glpat-xY9zW8vU7tS6rQ5pO4nM"),
        ("backup DefaultEndpointsProtocol=https;AccountName=rcbackups;AccountKey=Kx7pQ2mN9vB4tR1yW8eL5cH3jF6gD0sA2zX9kM4nP7qR1tV5wY8bE3hJ6lO0uI==;EndpointSuffix=core.windows.net".into(), "Kx7pQ2mN9vB4tR1yW8eL5cH3jF6gD0sA2zX9kM4nP7qR1tV5wY8bE3hJ6lO0uI"),
        ("s3 aws_access_key_id=AKIAQ3EGUMTZ7XYZABCD aws_secret_access_key=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".into(), "Zk9mQ7vR4tY1wE8uI5oP3aS6dF2gH0jK4lZ8xC7v"),
        ("using key AKIAIOSFODNN7SAMPLE2 for uploads".into(), "AKIAIOSFODNN7SAMPLE2"),
        ("proxy Authorization: Basic cmNhZG1pbjpCYXNpY1Bhc3M5OQ==".into(), "cmNhZG1pbjpCYXNpY1Bhc3M5OQ"),
        (pino(r#"settings {\"password\":\"Esc4ped-Pw!\",\"host\":\"smtp.example.com\"}"#), "Esc4ped-Pw!"),
        ("LDAP bind failed for cn=admin password=Pl4in-Pw-33 host=ldap.example.com".into(), "Pl4in-Pw-33"),
        (r#"localStorage["Meteor.loginToken"] = "mLt0k3n-AbCdEf123456""#.into(), "mLt0k3n-AbCdEf123456"),
        (pino(r#"login {\"resume\":\"Rs9-tokEnValue-12345\"}"#), "Rs9-tokEnValue-12345"),
        ("oauth GET /token?client_id=rc-app&client_secret=Cl1entS3cret-xyz".into(), "Cl1entS3cret-xyz"),
        ("connecting to mongodb://logger:L0gUr1-Pw@mongo-0.mongo:27017/rocketchat?authSource=admin".into(), "L0gUr1-Pw"),
        ("admin created with Adm1n!Pass-2026 as initial password".into(), "Adm1n!Pass-2026"),
        ("smtp login Smtp#Pa55w0rd accepted".into(), "Smtp#Pa55w0rd"),
        ("worker reached db with SvcUr1-Pass".into(), "SvcUr1-Pass"),
        ("tls key unlocked with Xy7Secret99".into(), "Xy7Secret99"),
        ("backup key S3cr3tK3y/Backup+2026 loaded".into(), "S3cr3tK3y/Backup+2026"),
        ("teams https://contoso.webhook.office.com/webhookb2/a1b2c3d4-e5f6-7890-abcd-ef1234567890@tenant/IncomingWebhook/0123456789abcdef/f00dbabe".into(), "a1b2c3d4-e5f6-7890-abcd-ef1234567890@tenant"),
        ("pip pypi-AgEIcHlwaS5vcmcCJDY2NzQ1ZjE0LTk4ZTAtNGQyYS1iNGE1LTBiMzY3ZTM3NzI0ZgACJXsicGVy".into(), "CJDY2NzQ1ZjE0LTk4ZTAtNGQyYS1iNGE1LTBiMzY3ZTM3NzI0ZgACJXsicGVy"),
        ("docker login dckr_pat_2Xk9mQ7vR4tY1wE8uI5oP3aS6dF".into(), "dckr_pat_2Xk9mQ7vR4tY1wE8uI5oP3aS6dF"),
        ("ai sk-proj-Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5".into(), "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5"),
        ("mailgun key-0123456789abcdef0123456789abcdef".into(), "0123456789abcdef0123456789abcdef"),
        ("twilio SKfedcba9876543210fedcba9876543210".into(), "fedcba9876543210fedcba9876543210"),
        ("mailchimp 00112233445566778899aabbccddeeff-us12".into(), "00112233445566778899aabbccddeeff"),
        ("license_key=Lk83hfH2kd9S0qPz1mXv".into(), "Lk83hfH2kd9S0qPz1mXv"),
        ("restarted with --auth-token Ab12Cd34Ef56Gh78".into(), "Ab12Cd34Ef56Gh78"),
        ("slack https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/aBcDeFgHiJkLmNoPqRsTuVwX".into(), "T01ABCDEF/B02GHIJKL/aBcDeFgHiJkLmNoPqRsTuVwX"),
        ("gh oauth gho_16C7e42F292c6912E7710c838347Ae178B4a".into(), "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
        (pino("Starting Rocket.Chat"), ""),
    ];
    v.push(("rcdiag-corpus-last-line".into(), ""));
    v
}

/// Non-secret values next to the secrets: every one must survive.
const CONTROLS: &[&str] = &[
    "mongo-0.mongo:27017,mongo-1.mongo:27017/rocketchat?replicaSet=rs0",
    "authSource=admin",
    "rcuser:",
    "oploguser:",
    "smtp.example.com",
    "proxy.corp:3128",
    "kept-user-id-123",
    "X-User-Id: kept-user-id-123",
    "&count=50",
    "storage.example.com/b/x.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256",
    "ldap.example.com",
    "AccountName=rcbackups",
    "EndpointSuffix=core.windows.net",
    "client_id=rc-app",
    "Starting Rocket.Chat",
    "rcdiag-corpus-last-line",
    "admin created with",
    "as initial password",
    "-----END RSA PRIVATE KEY-----",
    "org.opencontainers.image.authors",
    "Rocket.Chat team",
    "--keyFile",
    "/etc/mongo/keyfile",
    "--authenticationDatabase",
    "3000:3000",
    "rocketchat:***REDACTED:uri-userinfo***@127.0.0.1:9/rocketchat?authSource=admin",
];

fn docker(endpoint: &str, args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .arg("-H")
        .arg(endpoint)
        .args(args)
        .output()
        .expect("run the docker CLI (apt-get install docker.io)")
}

struct Cleanup {
    endpoint: String,
    names: Vec<String>,
    child: Option<std::process::Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = docker(&self.endpoint, &["rm", "-f", "-v", n]);
        }
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn no_secret_of_the_corpus_reaches_the_bundle_and_every_control_does() {
    let Some(endpoint) = require_peer(PEER) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let lines = log_lines();
    let text: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
    std::fs::write(data.join("lines.txt"), text).expect("write lines");

    let id = uuid::Uuid::now_v7().simple().to_string();
    let suffix = &id[id.len() - 8..];
    let rc = format!("rcdiag-corpus-rc-{suffix}");
    let worker = format!("rcdiag-corpus-worker-{suffix}");
    let mut cleanup = Cleanup {
        endpoint: endpoint.clone(),
        names: vec![rc.clone(), worker.clone()],
        child: None,
    };

    // The Rocket.Chat container: secrets in env and labels, the log lines on stdout.
    let mount = format!("{}:/data:ro", data.display());
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &rc,
        "-v",
        &mount,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, v) in ENV {
        args.push("-e".into());
        args.push(format!("{k}={v}"));
    }
    for (k, v) in [
        ("ROOT_URL", "https://chat.example.com"),
        ("DEPLOY_METHOD", "docker"),
    ] {
        args.push("-e".into());
        args.push(format!("{k}={v}"));
    }
    for (k, v, _) in LABELS {
        args.push("-l".into());
        args.push(format!("{k}={v}"));
    }
    args.push("-l".into());
    args.push("org.opencontainers.image.authors=Rocket.Chat team".into());
    args.extend(
        [
            "rocketchat/rocket.chat:8.5.0",
            "sh",
            "-c",
            "cat /data/lines.txt; exec sleep 3600",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = docker(&endpoint, &argv);
    assert!(
        out.status.success(),
        "docker run rc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The worker: secrets on its command line.
    let out = docker(
        &endpoint,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &worker,
            "rcdiag-base:latest",
            "sh",
            "-c",
            "echo worker up; exec sleep 3600",
            "rcdiag-worker",
            "--api-token",
            "Api-T0ken-4242",
            "--db-password=DbPw!2026x",
            "--mongodb-uri",
            "mongodb://svc:SvcUr1-Pass@db:27017/x",
            "-p",
            "MysqlP4ss",
            "-p",
            "3000:3000",
        ],
    );
    assert!(
        out.status.success(),
        "docker run worker: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A host process that looks like mongod, with secrets on its command line.
    let child = Command::new("bash")
        .args([
            "-c",
            "exec -a mongod bash -c 'sleep 120; true' --tlsCertificateKeyFilePassword Xy7Secret99 --keyFile /etc/mongo/keyfile --ldapQueryPassword=HostLd4p-Pw --authenticationDatabase admin",
        ])
        .stdin(Stdio::null())
        // Its `sleep` outlives a killed `bash`: it must not hold the test's output open.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the host process");
    cleanup.child = Some(child);

    // Wait until the container printed everything.
    let t0 = Instant::now();
    loop {
        let logs = docker(&endpoint, &["logs", &rc]);
        if String::from_utf8_lossy(&logs.stdout).contains("rcdiag-corpus-last-line") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the container did not print its lines"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).expect("mkdir out");
    let run = Command::new(env!("CARGO_BIN_EXE_rcdiag-agent"))
        .args([
            "collect",
            "--no-encrypt",
            "--only",
            "host,docker,logs,mongodb",
        ])
        .args(["--docker-host", &endpoint])
        .args([
            "--mongodb-uri",
            "mongodb://rocketchat:rocketchat@127.0.0.1:9/rocketchat?authSource=admin",
        ])
        .args(["--timeout", "20s", "--since", "1h"])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .arg("-o")
        .arg(&outdir)
        .env_remove("RCDIAG_HOST_PROC")
        .output()
        .expect("run rcdiag-agent");
    let agent_output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        matches!(run.status.code(), Some(0) | Some(3)),
        "a bundle is always written (a common-word password never refuses it): {agent_output}"
    );
    let bundle_path = std::fs::read_dir(&outdir)
        .expect("read out")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".rcdiag.zip"))
        .unwrap_or_else(|| panic!("no bundle written: {agent_output}"));

    let all = bundle_text(&bundle_path);
    // Our containers were seen (else the test would prove nothing).
    assert!(
        all.contains(&rc) && all.contains(&worker),
        "containers missing from the bundle"
    );

    let mut secrets: Vec<&str> = Vec::new();
    secrets.extend(ENV_SECRETS);
    secrets.extend(LABELS.iter().map(|l| l.2));
    secrets.extend(CMD_SECRETS);
    secrets.extend(HOST_SECRETS);
    secrets.extend(lines.iter().map(|l| l.1).filter(|s| !s.is_empty()));
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 60,
        "the corpus has {} secrets",
        secrets.len()
    );
    let leaked: Vec<&&str> = secrets.iter().filter(|s| all.contains(**s)).collect();
    assert!(leaked.is_empty(), "secrets left in the bundle: {leaked:?}");
    let leaked_out: Vec<&&str> = secrets
        .iter()
        .filter(|s| agent_output.contains(**s))
        .collect();
    assert!(
        leaked_out.is_empty(),
        "secrets in the agent's own output: {leaked_out:?}"
    );
    let missing: Vec<&&str> = CONTROLS.iter().filter(|c| !all.contains(**c)).collect();
    assert!(
        missing.is_empty(),
        "controls missing from the bundle: {missing:?}"
    );
    // No line of the log was dropped: every line of the corpus is there, secrets replaced.
    let log = all.lines().filter(|l| l.contains(" stdout ")).count();
    assert!(
        log >= lines.len(),
        "{log} log lines for {} printed",
        lines.len()
    );
}

/// Every entry of the bundle and its manifest, as one text.
fn bundle_text(path: &Path) -> String {
    let mut b = Bundle::open(path, &OpenOptions::default()).expect("open bundle");
    let mut all = String::from_utf8_lossy(b.manifest_bytes()).into_owned();
    let names: Vec<String> = b.entries().iter().map(|e| e.path.clone()).collect();
    for n in names {
        let bytes = b.read_bytes(&n, 256 << 20).expect("read entry");
        all.push_str(&format!("\n=== {n}\n"));
        all.push_str(&String::from_utf8_lossy(&bytes));
    }
    all
}
