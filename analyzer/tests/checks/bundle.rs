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
