//! `bundle.*`.

use super::*;

#[test]
fn bundle_complete_pass_warn_unknown() {
    expect(
        &[healthy("a", "n1")],
        "bundle.complete",
        Outcome::Pass,
        "every collector ran",
    );
    let mut n = healthy("a.rcdiag", "n1");
    skip_collector(&mut n, "docker", "cannot reach the Docker socket");
    let r = expect(
        &[n.clone()],
        "bundle.complete",
        Outcome::Warn,
        "the docker collector was skipped: cannot reach the Docker socket",
    );
    // The gap is a root cause the report says once, with the checks it leaves
    // undecided (report/causes.rs); the check cites it.
    assert!(
        r.causes.iter().any(|c| c.id == "collector-skipped:docker"),
        "{:?}",
        r.causes
    );
    n.manifest.collectors.retain(|c| c.name != "mongodb");
    expect(
        &[n.clone()],
        "bundle.complete",
        Outcome::Warn,
        "mongodb collector did not run",
    );
    let mut n = healthy("a", "n1");
    n.load_problems
        .insert("host/host.json".into(), "not valid JSON".into());
    expect(
        &[n],
        "bundle.complete",
        Outcome::Warn,
        "host/host.json is unusable",
    );
    expect(&[], "bundle.complete", Outcome::Unknown, "no bundle");
}

#[test]
fn bundle_complete_on_a_cluster_bundle_a_deselected_collector_is_not_a_gap() {
    // The cluster bundle as the samples are made: `--only kubernetes`, the other
    // collectors deselected by the operator.
    let n = super::kubernetes::kube("helm-compliant");
    let r = expect(
        std::slice::from_ref(&n),
        "bundle.complete",
        Outcome::Pass,
        "a cluster bundle, so host, docker, logs, mongodb, rocketchat deselected on purpose (--only/--skip) are not a gap",
    );
    // Said in the evidence: one pointer per deselected collector, at its error.
    let noted: Vec<_> = r
        .evidence
        .iter()
        .filter(|e| {
            e.value
                .as_deref()
                .is_some_and(|v| v.contains("deselected on a cluster bundle, not a gap"))
        })
        .collect();
    assert_eq!(noted.len(), 5, "{:?}", r.evidence);
    for e in &noted {
        assert_eq!(e.file.as_deref(), Some("manifest.json"));
        let pointer = e.pointer.as_deref().unwrap_or("");
        let idx: usize = pointer
            .strip_prefix("/collectors/")
            .and_then(|p| p.strip_suffix("/error"))
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("{pointer}"));
        let c = &n.manifest.collectors[idx];
        let value = e.value.as_deref().unwrap_or("");
        assert!(value.starts_with(&format!("{}:", c.name)), "{e:?}");
        assert!(c.error.as_deref().unwrap().starts_with("deselected"));
    }

    // Skipped for a missing peer on the same cluster bundle: still a gap.
    let mut n2 = n.clone();
    skip_collector(
        &mut n2,
        "mongodb",
        "no MongoDB to reach: pass --mongodb-uri",
    );
    let r = expect(
        &[n2],
        "bundle.complete",
        Outcome::Warn,
        "the mongodb collector was skipped: no MongoDB to reach",
    );
    assert!(
        !r.message.contains("deselected on purpose"),
        "{}",
        r.message
    );
    // The others are still noted as deselected, in the evidence.
    assert_eq!(
        r.evidence
            .iter()
            .filter(|e| e.value.as_deref().is_some_and(|v| v.contains("not a gap")))
            .count(),
        4,
        "{:?}",
        r.evidence
    );

    // Deselected on a bundle without a cluster view: a gap, as before.
    let mut d = healthy("a.rcdiag", "n1");
    skip_collector(&mut d, "docker", "deselected (--only/--skip)");
    expect(
        &[d],
        "bundle.complete",
        Outcome::Warn,
        "the docker collector was skipped: deselected (--only/--skip)",
    );
}

#[test]
fn bundle_signer_trusted_all_outcomes() {
    expect(
        &[healthy("a", "n1")],
        "bundle.signer-trusted",
        Outcome::Pass,
        "trusted node key",
    );
    let mut n = healthy("a", "n1");
    n.trust = TrustStatus::Untrusted;
    expect(
        &[healthy("b", "n2"), n],
        "bundle.signer-trusted",
        Outcome::Fail,
        "NOT in the allowed signers",
    );
    let policy = Policy::builtin();
    let nodes = [healthy("a", "n1")];
    let results = run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: None,
        trust_given: false,
    });
    let r = get(&results, "bundle.signer-trusted");
    assert_eq!(r.outcome, Outcome::Unknown);
    assert!(
        r.message.contains("not checked") && r.message.contains("--trust"),
        "{}",
        r.message
    );
}

#[test]
fn bundle_complete_on_a_kubernetes_node_bundle_what_its_cri_or_cluster_bundle_has_is_not_a_gap() {
    // A DaemonSet's bundle on a containerd node: no Docker socket, no MONGO_URL there.
    let node = || {
        let rc = "registry.rocket.chat/rocketchat/rocket.chat:8.6.1";
        let pod = cri_container("rocketchat", "rocketchat-0", "rocketchat", rc);
        let mut w = cri_node("worker-2", vec![pod], None);
        for c in ["docker", "logs"] {
            skip_collector(
                &mut w,
                c,
                "cannot reach the Docker socket (unix:///var/run/docker.sock)",
            );
        }
        for c in ["mongodb", "rocketchat"] {
            skip_collector(&mut w, c, "no MongoDB to reach: pass --mongodb-uri");
        }
        w
    };
    let cri_covers = "docker (the node's containers come from its CRI runtime: the cri collector); logs (the pod logs come from the node's log files: the cri collector)";
    // Alone: its containers and logs come from the CRI runtime; MongoDB is a gap.
    let r = expect(
        &[node()],
        "bundle.complete",
        Outcome::Warn,
        "the mongodb collector was skipped: no MongoDB to reach",
    );
    assert!(
        r.message.contains("rocketchat collector was skipped"),
        "{}",
        r.message
    );
    assert!(!r.message.contains("docker collector"), "{}", r.message);
    assert!(
        r.causes
            .iter()
            .all(|c| c.collector != "docker" && c.collector != "logs"),
        "{:?}",
        r.causes
    );

    // With the cluster bundle of its cluster, which ran mongodb and rocketchat: no gap.
    let mut cluster = super::kubernetes::kube("helm-compliant");
    for c in &mut cluster.manifest.collectors {
        if c.name == "mongodb" || c.name == "rocketchat" {
            c.status = CollectorStatus::Ok;
            c.error = None;
        }
    }
    let r = expect(
        &[cluster.clone(), node()],
        "bundle.complete",
        Outcome::Pass,
        &format!(
            "worker-2.rcdiag: a Kubernetes node bundle; skipped here, and not a gap: {cri_covers}; mongodb (collected once for the cluster, in its cluster bundle, {c}); rocketchat (collected once for the cluster, in its cluster bundle, {c})",
            c = cluster.label
        ),
    );
    // The evidence points at the skip and at what covers it, in each bundle's manifest.
    let at = |label: &str, value: &str| {
        r.evidence
            .iter()
            .any(|e| e.bundle == label && e.value.as_deref() == Some(value))
    };
    assert!(
        at("worker-2.rcdiag", "mongodb: skipped"),
        "{:?}",
        r.evidence
    );
    assert!(at(&cluster.label, "mongodb: ok"), "{:?}", r.evidence);
    assert!(at("worker-2.rcdiag", "cri: ok"), "{:?}", r.evidence);

    // Without its CRI view, the cluster's pods stand for its containers.
    let mut w = node();
    skip_collector(&mut w, "cri", "deselected (--only/--skip)");
    let r = expect(
        &[cluster.clone(), w],
        "bundle.complete",
        Outcome::Pass,
        "docker (the node's pods and their containers are in its cluster bundle, ",
    );
    assert!(!r.message.contains("cri collector"), "{}", r.message);

    // A collector that failed, not skipped, is still a gap.
    let mut w = node();
    for c in &mut w.manifest.collectors {
        if c.name == "mongodb" {
            c.status = CollectorStatus::Failed;
            c.error = Some("timed out after 30 s".into());
        }
    }
    expect(
        &[cluster.clone(), w],
        "bundle.complete",
        Outcome::Warn,
        "the mongodb collector failed: timed out",
    );

    // A CRI runtime without the kubelet's pods (Docker's own containerd serving CRI, on
    // a Docker host whose engine is down): it does not stand for Docker.
    let mut docker_host = cri_node("dockerhost", Vec::new(), None);
    skip_collector(&mut docker_host, "docker", "cannot reach the Docker socket");
    expect(
        &[docker_host],
        "bundle.complete",
        Outcome::Warn,
        "the docker collector was skipped: cannot reach the Docker socket",
    );

    // A bundle of no node of that cluster: the cluster's MongoDB is not its own.
    let mut other = node();
    other.manifest.node.hostname = "elsewhere".into();
    expect(
        &[cluster, other],
        "bundle.complete",
        Outcome::Warn,
        "the mongodb collector was skipped",
    );
}
