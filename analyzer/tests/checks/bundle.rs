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
        "the mongodb collector skipped: no MongoDB to reach",
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
        "the docker collector skipped: deselected (--only/--skip)",
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
