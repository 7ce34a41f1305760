//! Tests of `packaging/`: the systemd units pass `systemd-analyze verify` and are
//! hardened (`systemd-analyze security --offline`); the Kubernetes manifests and the
//! compose block parse (PyYAML, through python3) and carry what Kubernetes and compose
//! require; every command line in them is accepted by the agent (`--dry-run`, with the
//! values substituted); the Docker image builds in the private test engine from a base
//! made of this machine's glibc, and a collection run inside it, as a non-root user,
//! writes a bundle that `rcdiag-analyzer verify` accepts. The README documents every
//! mount and hardening setting used.
//!
//! A missing tool or peer fails the test under `RCDIAG_REQUIRE_PEERS=1` and skips it
//! loudly otherwise (`scripts/test-env install` installs them).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use common::image::{
    AGENT, EngineCleanup, build_agent_image, packaging, require_engine_and_tools, require_tool,
    run, runs, text,
};

/// A python3 that can `import yaml` (Debian's python3-yaml lives in /usr/bin/python3).
fn python_yaml() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| runs(p, &["-c", "import yaml"]))
}

/// The documents of a YAML file, as JSON (PyYAML `safe_load_all`, YAML 1.1 like Kubernetes).
fn load_yaml(python: &str, path: &Path) -> Vec<Value> {
    let out = run(Command::new(python).args([
        "-c",
        "import sys, json, yaml\nwith open(sys.argv[1]) as f:\n    docs = [d for d in yaml.safe_load_all(f) if d is not None]\nprint(json.dumps(docs))",
    ]).arg(path));
    assert!(
        out.status.success(),
        "{} does not parse as YAML: {}",
        path.display(),
        text(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json from python");
    v.as_array().expect("list of documents").clone()
}

/// Runs the agent with `args` plus `--dry-run` and `extra`; asserts it accepts them.
fn agent_accepts(what: &str, args: &[String], extra: &[&str]) -> String {
    let out = run(Command::new(AGENT).args(args).arg("--dry-run").args(extra));
    assert!(
        out.status.success(),
        "{what}: the agent rejects {args:?}: {}{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{} is not a string in {v:#}", path.join(".")))
}

/// The value of a `Key=` line of a unit file (the last one).
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .map(|v| v.trim().to_string())
        .collect()
}

// -------------------------------------------------------------------- systemd

const UNITS: &[&str] = &[
    "rcdiag-agent.service",
    "rcdiag-collect.service",
    "rcdiag-collect.timer",
];

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    if !require_tool(
        "systemd-analyze",
        runs("systemd-analyze", &["--version"]),
        "install Debian's systemd package (scripts/test-env install)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // verify checks that ExecStart= is executable: point it at the binary under test.
    for u in UNITS {
        let body = std::fs::read_to_string(packaging().join("systemd").join(u)).expect("unit");
        assert!(!body.contains('\t'), "{u}: tabs");
        std::fs::write(
            dir.path().join(u),
            body.replace("/usr/local/bin/rcdiag-agent", AGENT),
        )
        .expect("write");
    }
    let out = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(UNITS)
        .current_dir(dir.path()));
    let err = text(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed: {err}");
    // Unknown keys and the like are only warnings: there must be none at all.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| UNITS.iter().any(|u| l.contains(u)))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify warns:\n{err}");
    // It does catch a broken unit (the test would otherwise prove nothing).
    std::fs::write(
        dir.path().join("broken.service"),
        "[Service]\nExecStart=/nonexistent/rcdiag-agent\n",
    )
    .expect("write");
    let out = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no", "broken.service"])
        .current_dir(dir.path()));
    assert!(
        !out.status.success(),
        "a missing ExecStart binary must fail verify"
    );
}

#[test]
fn systemd_units_are_hardened_and_their_command_lines_parse() {
    if !require_tool(
        "systemd-analyze",
        runs("systemd-analyze", &["--version"]),
        "install Debian's systemd package (scripts/test-env install)",
    ) {
        return;
    }
    let key = rcdiag_bundle::generate_support_key();
    for u in ["rcdiag-agent.service", "rcdiag-collect.service"] {
        let path = packaging().join("systemd").join(u);
        let unit = std::fs::read_to_string(&path).expect("unit");
        for (k, v) in [
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("ProtectHome", "read-only"),
            ("ProtectKernelTunables", "yes"),
            ("ProtectKernelModules", "yes"),
            ("ProtectControlGroups", "yes"),
            ("RestrictSUIDSGID", "yes"),
            ("MemoryDenyWriteExecute", "yes"),
            ("DynamicUser", "yes"),
            ("CapabilityBoundingSet", ""),
            ("StateDirectory", "rcdiag"),
            ("UMask", "0077"),
        ] {
            assert_eq!(unit_values(&unit, k), [v], "{u}: {k}=");
        }
        // Exposure score of systemd's own review of the sandbox (0 best, 10 worst).
        let out = run(Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&path));
        let report = text(&out.stdout);
        let score: f64 = report
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|r| r.split(": ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level in:\n{report}{}", text(&out.stderr)));
        eprintln!("{u}: systemd-analyze security exposure {score}");
        assert!(score <= 2.0, "{u}: exposure {score} > 2.0:\n{report}");
        // The command line is one the agent accepts.
        let exec = unit_values(&unit, "ExecStart").pop().expect("ExecStart");
        let mut args: Vec<String> = exec.split_whitespace().map(String::from).collect();
        assert_eq!(args.remove(0), "/usr/local/bin/rcdiag-agent");
        assert!(
            args.iter().any(|a| a == "--state-dir"),
            "{u}: a DynamicUser has no home: --state-dir is needed"
        );
        let plan = agent_accepts(u, &args, &["--config", "/dev/null", "-r", &key.recipient]);
        assert!(plan.contains("output: /var/lib/rcdiag/snapshots"), "{plan}");
    }
    let timer =
        std::fs::read_to_string(packaging().join("systemd/rcdiag-collect.timer")).expect("timer");
    assert_eq!(unit_values(&timer, "Persistent"), ["true"]);
    assert!(!unit_values(&timer, "OnCalendar").is_empty());
    let collect =
        std::fs::read_to_string(packaging().join("systemd/rcdiag-collect.service")).expect("unit");
    assert_eq!(unit_values(&collect, "Type"), ["oneshot"]);
    assert!(unit_values(&collect, "ExecStart")[0].contains(" --once "));
}

// ----------------------------------------------------------------- Kubernetes

fn k8s_docs(python: &str) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for f in [
        "common.yaml",
        "daemonset.yaml",
        "clusterrole.yaml",
        "cronjob.yaml",
    ] {
        for d in load_yaml(python, &packaging().join("kubernetes").join(f)) {
            all.push((f.to_string(), d));
        }
    }
    all
}

/// Checks a pod template spec; returns its container args with `$(VAR)` resolved from
/// the values Secret.
fn check_pod(
    what: &str,
    pod: &Value,
    values: &BTreeMap<String, String>,
    account: &str,
    claims: &BTreeSet<String>,
) -> Vec<String> {
    assert_eq!(
        str_at(pod, &["serviceAccountName"]),
        account,
        "{what}: service account"
    );
    // Only the cluster view (the CronJob, bound to the read-only ClusterRole) gets a token.
    assert_eq!(
        pod["automountServiceAccountToken"],
        account == "rcdiag-cluster",
        "{what}: an API token only for the cluster view"
    );
    assert_eq!(
        str_at(pod, &["securityContext", "seccompProfile", "type"]),
        "RuntimeDefault",
        "{what}"
    );
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no volumes"))
        .iter()
        .map(|v| (str_at(v, &["name"]), v))
        .collect();
    let containers = pod["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no containers"));
    assert_eq!(containers.len(), 1, "{what}");
    let c = &containers[0];
    assert!(
        !str_at(c, &["name"]).is_empty() && !str_at(c, &["image"]).is_empty(),
        "{what}: name and image"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
    assert_eq!(
        sc["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{what}"
    );
    assert!(
        sc["privileged"].is_null() || sc["privileged"] == false,
        "{what}"
    );
    assert!(
        c["resources"]["limits"]["memory"].is_string(),
        "{what}: a memory limit"
    );
    let mut used = BTreeSet::new();
    for m in c["volumeMounts"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no mounts"))
    {
        let name = str_at(m, &["name"]);
        let vol = volumes
            .get(name)
            .unwrap_or_else(|| panic!("{what}: mount of an unknown volume {name}"));
        used.insert(name);
        if let Some(hp) = vol["hostPath"]["path"].as_str() {
            match hp {
                "/proc" | "/" => assert_eq!(
                    m["readOnly"], true,
                    "{what}: the host's {hp} must be read-only"
                ),
                "/var/lib/rcdiag" => assert_eq!(str_at(m, &["mountPath"]), "/var/lib/rcdiag"),
                other => panic!("{what}: unexpected hostPath {other}"),
            }
        }
        if let Some(claim) = vol["persistentVolumeClaim"]["claimName"].as_str() {
            assert!(claims.contains(claim), "{what}: unknown claim {claim}");
        }
        if let Some(secret) = vol["secret"]["secretName"].as_str() {
            assert_eq!(secret, "rcdiag-agent-values");
            assert_eq!(
                str_at(m, &["mountPath"]),
                "/etc/rcdiag",
                "{what}: the agent reads /etc/rcdiag/agent.toml"
            );
            assert_eq!(vol["secret"]["items"][0]["path"], "agent.toml");
            let mode = vol["secret"]["defaultMode"].as_u64().expect("defaultMode");
            assert_eq!(
                mode & 0o007,
                0,
                "{what}: the values may hold a password: not world-readable"
            );
        }
    }
    assert_eq!(
        used.len(),
        volumes.len(),
        "{what}: a volume is declared but not mounted"
    );
    // Env: literal, or from a key of the values Secret.
    let mut env = BTreeMap::new();
    for e in c["env"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = str_at(e, &["name"]).to_string();
        let value = match e["value"].as_str() {
            Some(v) => v.to_string(),
            // The downward API (the node name): known only on the node.
            None if e["valueFrom"]["fieldRef"]["fieldPath"].is_string() => {
                format!("<{}>", str_at(e, &["valueFrom", "fieldRef", "fieldPath"]))
            }
            None => {
                let r = &e["valueFrom"]["secretKeyRef"];
                assert_eq!(
                    str_at(r, &["name"]),
                    "rcdiag-agent-values",
                    "{what}: {name}"
                );
                let key = str_at(r, &["key"]);
                values
                    .get(key)
                    .unwrap_or_else(|| panic!("{what}: {name} refers to a missing value {key}"))
                    .clone()
            }
        };
        env.insert(name, value);
    }
    c["args"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no args"))
        .iter()
        .map(|a| {
            let a = a
                .as_str()
                .unwrap_or_else(|| panic!("{what}: args must be strings: {a}"));
            match a.strip_prefix("$(").and_then(|r| r.strip_suffix(')')) {
                Some(var) => env
                    .get(var)
                    .unwrap_or_else(|| panic!("{what}: $({var}) is not in env"))
                    .clone(),
                None => a.to_string(),
            }
        })
        .collect()
}

#[test]
fn kubernetes_manifests_parse_and_have_what_kubernetes_requires() {
    let Some(python) = python_yaml() else {
        require_tool(
            "python3 with PyYAML",
            false,
            "install Debian's python3-yaml (scripts/test-env install)",
        );
        return;
    };
    let docs = k8s_docs(python);
    let known = BTreeMap::from([
        ("Namespace", "v1"),
        ("ServiceAccount", "v1"),
        ("Secret", "v1"),
        ("PersistentVolumeClaim", "v1"),
        ("DaemonSet", "apps/v1"),
        ("CronJob", "batch/v1"),
        ("ClusterRole", "rbac.authorization.k8s.io/v1"),
        ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
    ]);
    let mut by_kind: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for (file, d) in &docs {
        let kind = str_at(d, &["kind"]);
        assert_eq!(
            known.get(kind).copied(),
            Some(str_at(d, &["apiVersion"])),
            "{file}: {kind}"
        );
        assert!(!str_at(d, &["metadata", "name"]).is_empty());
        if !["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(&kind) {
            assert_eq!(
                str_at(d, &["metadata", "namespace"]),
                "rcdiag",
                "{file}: {kind}"
            );
        }
        by_kind.entry(kind.to_string()).or_default().push(d);
    }
    for k in known.keys() {
        let n = if *k == "ServiceAccount" { 2 } else { 1 };
        assert_eq!(by_kind.get(*k).map(Vec::len), Some(n), "{n} {k}");
    }
    let ns = by_kind["Namespace"][0];
    assert_eq!(
        str_at(
            ns,
            &["metadata", "labels", "pod-security.kubernetes.io/enforce"]
        ),
        "privileged",
        "hostPath needs it"
    );
    for sa in &by_kind["ServiceAccount"] {
        assert_eq!(
            sa["automountServiceAccountToken"], false,
            "no token by default"
        );
    }
    // The binding gives the read-only ClusterRole to the cluster view's account only.
    let binding = by_kind["ClusterRoleBinding"][0];
    assert_eq!(
        str_at(binding, &["roleRef", "name"]),
        str_at(by_kind["ClusterRole"][0], &["metadata", "name"])
    );
    assert_eq!(
        binding["subjects"],
        serde_json::json!([{"kind": "ServiceAccount", "name": "rcdiag-cluster", "namespace": "rcdiag"}])
    );
    let claims =
        BTreeSet::from([
            str_at(by_kind["PersistentVolumeClaim"][0], &["metadata", "name"]).to_string(),
        ]);
    let values: BTreeMap<String, String> = by_kind["Secret"][0]["stringData"]
        .as_object()
        .expect("stringData")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
        .collect();
    assert!(
        values["agent.toml"].contains("recipients = ["),
        "the values carry the recipients"
    );

    let ds = by_kind["DaemonSet"][0];
    let sel = ds["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector");
    let labels = ds["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .expect("labels");
    assert!(
        !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "the selector matches the template"
    );
    let pod = &ds["spec"]["template"]["spec"];
    // Least privilege: the node's name, host name and interfaces come without the host
    // network (downward API, /host), so the agent cannot bind or reach node-local ports.
    assert!(
        pod["hostNetwork"].is_null() || pod["hostNetwork"] == false,
        "no host network: {}",
        pod["hostNetwork"]
    );
    assert!(
        pod["hostPID"].is_null() || pod["hostPID"] == false,
        "no host PID namespace: {}",
        pod["hostPID"]
    );
    let args = check_pod("DaemonSet", pod, &values, "rcdiag-agent", &claims);
    assert_eq!(&args[..3], ["schedule", "--skip", "kubernetes"]);
    // The node's root on /host (read-only, checked above), and the agent told so.
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--host-root" && w[1] == "/host"),
        "the agent must be told where the node's root is: {args:?}"
    );
    let mounts = pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts");
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"] == "/host" && m["readOnly"] == true),
        "{mounts:?}"
    );
    let node_name = pod["containers"][0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .any(|e| {
            e["name"] == "RCDIAG_NODE_NAME"
                && e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
        });
    assert!(node_name, "the node name from the downward API");

    let cj = by_kind["CronJob"][0];
    let schedule = str_at(cj, &["spec", "schedule"]);
    rcdiag_agent::schedule::Cron::parse(&format!("CRON_TZ=UTC {schedule}"))
        .unwrap_or_else(|e| panic!("CronJob schedule: {e}"));
    assert_eq!(
        str_at(cj, &["spec", "concurrencyPolicy"]),
        "Forbid",
        "never two at once"
    );
    let job = &cj["spec"]["jobTemplate"]["spec"];
    let pod = &job["template"]["spec"];
    assert!(["Never", "OnFailure"].contains(&str_at(pod, &["restartPolicy"])));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let args = check_pod("CronJob", pod, &values, "rcdiag-cluster", &claims);
    assert!(args.iter().any(|a| a == "--once"), "{args:?}");
    let env = pod["containers"][0]["env"].as_array().expect("env");
    assert!(
        env.iter()
            .any(|e| e["name"] == "RCDIAG_NODE_NAME" && e["value"].as_str().is_some()),
        "the cluster bundle has one node name for every run: {env:?}"
    );
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--only" && w[1].split(',').any(|c| c == "kubernetes")),
        "the CronJob takes the cluster view: {args:?}"
    );
}

#[test]
fn kubernetes_values_and_args_are_accepted_by_the_agent() {
    let Some(python) = python_yaml() else {
        require_tool(
            "python3 with PyYAML",
            false,
            "install Debian's python3-yaml (scripts/test-env install)",
        );
        return;
    };
    let docs = k8s_docs(python);
    let find = |kind: &str| {
        docs.iter()
            .map(|d| &d.1)
            .find(|d| d["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let values: BTreeMap<String, String> = find("Secret")["stringData"]
        .as_object()
        .expect("stringData")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
        .collect();
    let claims = BTreeSet::from(["rcdiag-snapshots".to_string()]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("agent.toml");
    // As shipped, the placeholder is refused with a usage error that says what to do.
    std::fs::write(&config, &values["agent.toml"]).expect("write");
    let mut ds_args = check_pod(
        "DaemonSet",
        &find("DaemonSet")["spec"]["template"]["spec"],
        &values,
        "rcdiag-agent",
        &claims,
    );
    // /host is the node's root mounted in the pod: here, an existing directory stands in.
    if let Some(i) = ds_args.iter().position(|a| a == "--host-root") {
        ds_args[i + 1] = tmp.path().display().to_string();
    }
    let out = run(Command::new(AGENT)
        .args(&ds_args)
        .args(["--dry-run", "--config"])
        .arg(&config));
    assert_eq!(
        out.status.code(),
        Some(2),
        "the placeholder recipient must be refused: {}",
        text(&out.stdout)
    );
    // With a real key in place of the placeholder, both command lines are accepted.
    let key = rcdiag_bundle::generate_support_key();
    let toml = values["agent.toml"].replace(
        "age1REPLACE-WITH-THE-KEY-FROM-ROCKET-CHAT-SUPPORT",
        &key.recipient,
    );
    std::fs::write(&config, toml).expect("write");
    let c = config.to_str().expect("utf-8");
    let plan = agent_accepts("DaemonSet", &ds_args, &["--config", c]);
    assert!(
        plan.contains("schedule: every 6h")
            && plan.contains("retention: keep 28, max-total 2.0 GiB"),
        "{plan}"
    );
    let cj = find("CronJob");
    let cj_args = check_pod(
        "CronJob",
        &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        &values,
        "rcdiag-cluster",
        &claims,
    );
    let plan = agent_accepts("CronJob", &cj_args, &["--config", c]);
    assert!(
        plan.contains("+ mongodb") && plan.contains("+ kubernetes") && plan.contains("- host"),
        "{plan}"
    );
}

// -------------------------------------------------------------------- compose

#[test]
fn compose_service_block_is_valid_and_its_command_parses() {
    let Some(python) = python_yaml() else {
        require_tool(
            "python3 with PyYAML",
            false,
            "install Debian's python3-yaml (scripts/test-env install)",
        );
        return;
    };
    let docs = load_yaml(python, &packaging().join("compose/compose.rcdiag.yml"));
    assert_eq!(docs.len(), 1);
    let svc = &docs[0]["services"]["rcdiag-agent"];
    assert!(svc.is_object(), "services.rcdiag-agent");
    assert_eq!(svc["restart"], "unless-stopped");
    assert_eq!(svc["read_only"], true);
    assert_eq!(svc["cap_drop"], serde_json::json!(["ALL"]));
    assert!(
        svc["security_opt"]
            .as_array()
            .expect("security_opt")
            .iter()
            .any(|o| o == "no-new-privileges:true")
    );
    assert_eq!(svc["user"], "65532:65532", "non-root");
    assert!(
        svc["group_add"][0]
            .as_str()
            .is_some_and(|g| g.starts_with("${DOCKER_GID:?")),
        "docker group from .env, required"
    );
    assert_eq!(svc["uts"], "host", "bundles are named after the node");
    assert_eq!(svc["environment"]["RCDIAG_HOST_PROC"], "/host/proc");
    let vols: Vec<&str> = svc["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| v.as_str().expect("short syntax"))
        .collect();
    assert!(
        vols.contains(&"/var/run/docker.sock:/var/run/docker.sock:ro"),
        "{vols:?}"
    );
    assert!(
        vols.contains(&"/:/host:ro"),
        "the host's root, read-only: {vols:?}"
    );
    assert!(
        vols.iter()
            .any(|v| v.ends_with(":/etc/rcdiag/agent.toml:ro")),
        "{vols:?}"
    );
    let named: Vec<&str> = vols
        .iter()
        .filter_map(|v| v.split(':').next())
        .filter(|s| !s.starts_with('/') && !s.starts_with('.'))
        .collect();
    for n in &named {
        assert!(
            docs[0]["volumes"].get(*n).is_some(),
            "named volume {n} is not declared"
        );
    }
    // ${VAR:-default} as compose substitutes it without a .env.
    let re = regex::Regex::new(r"^\$\{[A-Z_]+:-([^}]*)\}$").expect("regex");
    let args: Vec<String> = svc["command"]
        .as_array()
        .expect("command list")
        .iter()
        .map(|a| {
            let a = a.as_str().expect("string");
            re.captures(a)
                .map(|c| c[1].to_string())
                .unwrap_or_else(|| a.to_string())
        })
        .collect();
    assert!(!args.iter().any(|a| a.contains('$')), "{args:?}");
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--host-root" && w[1] == "/host"),
        "the agent must be told where the host's root is: {args:?}"
    );
    // /host is the host's root mounted in the container: here, an existing directory
    // stands in.
    let stand_in = tempfile::tempdir().expect("tempdir");
    let mut args = args;
    if let Some(i) = args.iter().position(|a| a == "--host-root") {
        args[i + 1] = stand_in.path().display().to_string();
    }
    let key = rcdiag_bundle::generate_support_key();
    let plan = agent_accepts(
        "compose",
        &args,
        &["--config", "/dev/null", "-r", &key.recipient],
    );
    assert!(plan.contains("schedule: every 6h"), "{plan}");
}

// ---------------------------------------------------------------------- docs

#[test]
fn the_packaging_readme_explains_every_mount_and_setting() {
    let readme =
        std::fs::read_to_string(packaging().join("README.md")).expect("packaging/README.md");
    for section in [
        "## systemd",
        "## Docker",
        "## docker-compose",
        "## Kubernetes",
    ] {
        assert!(readme.contains(section), "no {section} section");
    }
    let mut want: BTreeSet<String> = BTreeSet::new();
    for u in ["rcdiag-agent.service", "rcdiag-collect.service"] {
        let unit = std::fs::read_to_string(packaging().join("systemd").join(u)).expect("unit");
        for l in unit
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with('[') && l.contains('='))
        {
            want.insert(format!("`{}", l.split('=').next().unwrap_or_default()));
        }
    }
    for m in [
        "/var/run/docker.sock",
        "/host/proc",
        "/var/lib/rcdiag",
        "/etc/rcdiag/agent.toml",
        "--group-add",
        "--uts",
        "--read-only",
        "--cap-drop",
        "no-new-privileges",
        "No `hostNetwork`",
        "runAsUser",
        "fsGroup",
        "automountServiceAccountToken",
        "pod-security.kubernetes.io/enforce",
        "readOnlyRootFilesystem",
        "RCDIAG_HOST_PROC",
        "XDG_STATE_HOME",
        "-v /:/host:ro",
        "--host-root /host",
        "rslave",
        "### The log files",
        "DockerRootDir",
        "looks that path up under `--host-root` first",
        "--user 0:0",
        "18 µs",
        "`source`: `file` or `engine`",
    ] {
        want.insert(m.to_string());
    }
    let missing: Vec<&String> = want
        .iter()
        .filter(|w| !readme.contains(w.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "packaging/README.md does not explain: {missing:?}"
    );
}

// ---------------------------------------------------------------------- Docker

/// `source` of the `logs/index.json` entry of container `name`.
fn log_source(index: &Value, name: &str) -> String {
    index
        .as_array()
        .expect("index array")
        .iter()
        .find(|e| e["container"].as_str().is_some_and(|c| c.contains(name)))
        .and_then(|e| e["source"].as_str())
        .unwrap_or("<none>")
        .to_string()
}

/// `source` of the `docker/stats.json` sample of container `name`.
fn stats_source(stats: &Value, name: &str) -> String {
    stats
        .as_array()
        .expect("stats array")
        .iter()
        .find(|e| e["name"].as_str().is_some_and(|c| c.contains(name)))
        .and_then(|e| e["source"].as_str())
        .unwrap_or("<none>")
        .to_string()
}

fn analyzer() -> PathBuf {
    common::bin("rcdiag-analyzer")
}

fn clean_host() -> String {
    common::bundle_host()
}

#[test]
fn docker_image_builds_in_the_private_engine_and_collects_a_verified_bundle() {
    let Some(host) = require_engine_and_tools() else {
        return;
    };
    use std::os::unix::fs::MetadataExt;
    let sock = host
        .strip_prefix("unix://")
        .expect("a unix:// engine")
        .to_string();
    let gid = std::fs::metadata(&sock).expect("stat socket").gid();
    let tag = format!("rcdiag-{}", std::process::id());
    let base = format!("rcdiag-test-glibc:{tag}");
    let image = format!("rcdiag-agent:{tag}");
    let sleeper = format!("rcdiag-pkg-sleeper-{tag}");
    let volume = format!("rcdiag-pkg-{tag}");
    let _cleanup = EngineCleanup {
        host: host.clone(),
        containers: vec![sleeper.clone()],
        volumes: vec![volume.clone()],
        images: vec![image.clone(), base.clone()],
    };
    let docker =
        |args: &[&str]| -> Output { run(Command::new("docker").arg("-H").arg(&host).args(args)) };
    let tmp = tempfile::tempdir().expect("tempdir");

    // 1. A base image with exactly the glibc this binary needs (ldd), plus busybox;
    // 2. the image, with the Dockerfile and script users run.
    build_agent_image(&host, &base, &image, tmp.path());
    let inspect: Value = serde_json::from_slice(&docker(&["image", "inspect", &image]).stdout)
        .expect("inspect json");
    let cfg = &inspect[0]["Config"];
    assert_eq!(cfg["User"], "65532:65532", "non-root by default");
    assert_eq!(
        cfg["Entrypoint"],
        serde_json::json!(["/usr/local/bin/rcdiag-agent"])
    );
    assert_eq!(cfg["Cmd"][0], "schedule");
    let cmd: Vec<&str> = cfg["Cmd"]
        .as_array()
        .expect("Cmd")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        cmd.windows(2).any(|w| w == ["--host-root", "/host"]),
        "the default command reads the host under /host: {cmd:?}"
    );
    assert!(cfg["Volumes"].get("/var/lib/rcdiag").is_some());

    // 3. A container to collect, then `collect` inside the agent image, non-root, with
    //    exactly the mounts the README gives.
    let out = docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &sleeper,
        "rcdiag-base:latest",
        "sh",
        "-c",
        "echo rcdiag-packaging-test-line; sleep 120",
    ]);
    assert!(out.status.success(), "start sleeper: {}", text(&out.stderr));
    let state = tmp.path().join("state");
    let outdir = tmp.path().join("out");
    for d in [&state, &outdir] {
        std::fs::create_dir(d).expect("mkdir");
        std::os::unix::fs::chown(d, Some(65532), Some(65532)).expect("chown");
    }
    let key = rcdiag_bundle::generate_support_key();
    let idfile = tmp.path().join("support.key");
    std::fs::write(&idfile, &key.identity_file).expect("identity");
    let secure = [
        "--network",
        "none",
        "--uts",
        "host",
        "--user",
        "65532:65532",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ];
    let gid_s = gid.to_string();
    let sock_mount = format!("{sock}:/var/run/docker.sock:ro");
    let state_mount = format!("{}:/var/lib/rcdiag", state.display());
    let out_mount = format!("{}:/out", outdir.display());
    let t1 = std::time::Instant::now();
    let mut args: Vec<&str> = vec!["run", "--rm"];
    args.extend(secure);
    args.extend([
        "--group-add",
        &gid_s,
        "-v",
        &sock_mount,
        "-v",
        "/:/host:ro",
        "-v",
        &state_mount,
        "-v",
        &out_mount,
        &image,
    ]);
    args.extend([
        "collect",
        "--only",
        "host,docker,logs",
        "--config",
        "/dev/null",
        "-r",
        &key.recipient,
        "-o",
        "/out",
        "--host-root",
        "/host",
    ]);
    let out = docker(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "collect in the container:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    eprintln!("collect inside the container took {:?}", t1.elapsed());
    let last = text(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let name = last
        .strip_prefix("/out/")
        .unwrap_or_else(|| panic!("bundle path: {last}"))
        .to_string();
    assert!(
        name.starts_with(&format!("rcdiag-{}-", clean_host())) && name.ends_with(".rcdiag"),
        "named after the node: {name}"
    );
    let bundle = outdir.join(&name);
    assert!(
        state.join("node_ed25519").exists(),
        "the default state dir in the image is /var/lib/rcdiag"
    );

    // 4. The analyzer verifies it (decryption, signature pinned to the node key, hashes).
    let pubkey = std::fs::read_to_string(state.join("node_ed25519.pub")).expect("node public key");
    let signers = tmp.path().join("allowed_signers");
    std::fs::write(&signers, format!("{} {}\n", clean_host(), pubkey.trim()))
        .expect("allowed_signers");
    let v = run(Command::new(analyzer())
        .arg("verify")
        .arg(&bundle)
        .arg("-i")
        .arg(&idfile)
        .arg("--trust")
        .arg(&signers));
    assert!(
        v.status.success(),
        "rcdiag-analyzer verify: {}{}",
        text(&v.stdout),
        text(&v.stderr)
    );
    let ids = rcdiag_bundle::Identity::load_file(&idfile).expect("identity");
    let mut b = rcdiag_bundle::Bundle::open(
        &bundle,
        &rcdiag_bundle::OpenOptions {
            identities: &ids,
            ..Default::default()
        },
    )
    .expect("open");
    let status: BTreeMap<String, String> = b
        .manifest()
        .collectors
        .iter()
        .map(|c| (c.name.clone(), c.status.as_str().to_string()))
        .collect();
    for c in ["host", "docker", "logs"] {
        assert_eq!(
            status.get(c).map(String::as_str),
            Some("ok"),
            "{c}: {status:?}"
        );
    }
    let hostj: Value = b.read_json("host/host.json").expect("host.json");
    assert_eq!(
        hostj["host_proc_visible"], true,
        "the host's /proc is seen: {hostj:#}"
    );
    assert_eq!(hostj["proc_root"], "/host/proc");
    assert_eq!(hostj["host_root"], "/host");
    assert_eq!(hostj["disks_view"], "host", "{}", hostj["warnings"]);
    assert_eq!(hostj["network_view"], "host", "{}", hostj["warnings"]);
    let containers = String::from_utf8(
        b.read_bytes("docker/containers.json", 64 << 20)
            .expect("containers"),
    )
    .expect("utf-8");
    assert!(
        containers.contains(&sleeper),
        "the engine's containers are listed"
    );
    let logs: Vec<String> = b
        .entries()
        .iter()
        .map(|e| e.path.clone())
        .filter(|p| p.starts_with("logs/") && p.contains(&sleeper))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = String::from_utf8(b.read_bytes(&logs[0], 1 << 20).expect("log")).expect("utf-8");
    assert!(log.contains("rcdiag-packaging-test-line"), "{log}");
    // As 65532 the json-file log under the engine's data root is not readable: the
    // Engine API path, as the README says.
    let index: Value = b.read_json("logs/index.json").expect("logs/index.json");
    assert_eq!(
        log_source(&index, &sleeper),
        "engine",
        "non-root reads the logs through the Engine API: {index:#}"
    );
    // The stats sample comes from the container's cgroup, found through the host's /proc
    // and mount table under /host (world-readable files), not from the Engine's ticks.
    let stats: Value = b.read_json("docker/stats.json").expect("docker/stats.json");
    assert_eq!(
        stats_source(&stats, &sleeper),
        "cgroup",
        "the cgroup under --host-root: {stats:#}"
    );

    // 3b. The README's other choice: root (no capability, read-only) with the host's
    //     root on /host and nothing more: the log is read from its file, which the
    //     Engine names by its host path and the agent finds under --host-root.
    let root_state = tmp.path().join("root-state");
    let root_out = tmp.path().join("root-out");
    for d in [&root_state, &root_out] {
        std::fs::create_dir(d).expect("mkdir");
    }
    let root_state_mount = format!("{}:/var/lib/rcdiag", root_state.display());
    let root_out_mount = format!("{}:/out", root_out.display());
    let mut args: Vec<&str> = vec!["run", "--rm"];
    args.extend(
        secure
            .iter()
            .map(|a| if *a == "65532:65532" { "0:0" } else { a }),
    );
    args.extend([
        "-v",
        &sock_mount,
        "-v",
        "/:/host:ro",
        "-v",
        &root_state_mount,
        "-v",
        &root_out_mount,
        &image,
        "collect",
        "--only",
        "docker,logs",
        "--config",
        "/dev/null",
        "--no-encrypt",
        "-o",
        "/out",
        "--host-root",
        "/host",
    ]);
    let out = docker(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "collect as root in the container:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let last = text(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let root_bundle = root_out.join(
        last.strip_prefix("/out/")
            .unwrap_or_else(|| panic!("bundle path: {last}")),
    );
    let mut rb = rcdiag_bundle::Bundle::open(&root_bundle, &rcdiag_bundle::OpenOptions::default())
        .expect("open the root run's bundle");
    let index: Value = rb.read_json("logs/index.json").expect("logs/index.json");
    assert_eq!(
        log_source(&index, &sleeper),
        "file",
        "root with the host root on /host reads the json-file log under it: {index:#}"
    );

    // 5. The image's own entry point in scheduled mode, into a fresh named volume (the
    //    image's ownership makes it writable for the non-root user).
    let vol_mount = format!("{volume}:/var/lib/rcdiag");
    let mut args: Vec<&str> = vec!["run", "--rm"];
    args.extend(secure);
    args.extend([
        "--group-add",
        &gid_s,
        "-v",
        &sock_mount,
        "-v",
        "/:/host:ro",
        "-v",
        &vol_mount,
        &image,
    ]);
    args.extend([
        "schedule",
        "--once",
        "--dir",
        "/var/lib/rcdiag/snapshots",
        "--keep",
        "28",
        "--only",
        "host,docker",
        "--config",
        "/dev/null",
        "-r",
        &key.recipient,
        "--host-root",
        "/host",
    ]);
    let out = docker(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "schedule --once in the container:\n{}",
        text(&out.stderr)
    );
    let ro = format!("{volume}:/v:ro");
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &ro,
        "rcdiag-base:latest",
        "cat",
        "/v/snapshots/status.json",
    ]);
    let st: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status.json ({e}): {}", text(&out.stderr)));
    let ls = text(
        &docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &ro,
            "rcdiag-base:latest",
            "ls",
            "-ln",
            "/v/snapshots",
        ])
        .stdout,
    );
    assert_eq!(st["last_run"]["outcome"], "ok", "{st:#}");
    assert_eq!(st["retention"]["kept"], 1);
    assert!(
        ls.contains("rcdiag.prom")
            && ls
                .lines()
                .filter(|l| l.contains(".rcdiag "))
                .all(|l| l.contains(" 65532 ")),
        "{ls}"
    );
}
