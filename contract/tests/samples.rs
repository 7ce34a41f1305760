//! The contract holds for what the agent really wrote: every typed file of every
//! sample bundle (real `rcdiag-agent collect` output, `samples/`) reads into its type
//! and back without losing or changing a field.

use std::path::{Path, PathBuf};

use rcdiag_bundle::{Bundle, Identity, OpenOptions};
use rcdiag_contract::conformance;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

fn bundles(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            bundles(&p, out);
        } else if p.extension().is_some_and(|x| x == "rcdiag") {
            out.push(p);
        }
    }
}

#[test]
fn every_typed_file_of_every_sample_round_trips() {
    let ids = Identity::load_file(&samples().join("demo-support.key")).unwrap();
    let mut found = Vec::new();
    bundles(&samples(), &mut found);
    found.sort();
    assert!(
        found.len() >= 5,
        "expected the sample bundles, found {found:?}"
    );
    let mut checked = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for path in &found {
        let mut b = Bundle::open(
            path,
            &OpenOptions {
                identities: &ids,
                ..Default::default()
            },
        )
        .unwrap();
        let names: Vec<String> = b.entries().iter().map(|e| e.path.clone()).collect();
        for name in names {
            if !conformance::has_type(&name) {
                continue;
            }
            let bytes = b.read_bytes(&name, 64 << 20).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for d in conformance::differences(&name, &value) {
                problems.push(format!("{}: {name}: {d}", path.display()));
            }
            checked.insert(name);
        }
    }
    assert!(
        problems.is_empty(),
        "the contract does not hold:\n{}",
        problems.join("\n")
    );
    for must in [
        "host/host.json",
        "docker/containers.json",
        "docker/info.json",
        "logs/index.json",
        "mongodb/summary.json",
        "mongodb/oplog.json",
        "mongodb/buildInfo.json",
        "rocketchat/summary.json",
        "rocketchat/statistics.json",
        "agent/run.json",
    ] {
        assert!(
            checked.contains(must),
            "no sample holds {must}: {checked:?}"
        );
    }
}

#[test]
fn typed_fields_read_what_the_agent_wrote() {
    let ids = Identity::load_file(&samples().join("demo-support.key")).unwrap();
    let mut b = Bundle::open(
        &samples().join("compose-2node/node1.rcdiag"),
        &OpenOptions {
            identities: &ids,
            ..Default::default()
        },
    )
    .unwrap();
    let host: rcdiag_contract::host::HostFile = rcdiag_contract::from_slice(
        "host/host.json",
        &b.read_bytes("host/host.json", 1 << 20).unwrap(),
    )
    .unwrap();
    assert!(host.cpu.as_ref().and_then(|c| c.logical_cores).unwrap_or(0) > 0);
    assert!(
        host.memory
            .as_ref()
            .and_then(|m| m.total_bytes)
            .unwrap_or(0)
            > 0
    );
    let containers: rcdiag_contract::docker::ContainersFile = rcdiag_contract::from_slice(
        "docker/containers.json",
        &b.read_bytes("docker/containers.json", 1 << 20).unwrap(),
    )
    .unwrap();
    let rc = containers
        .0
        .iter()
        .find(|c| {
            c.image
                .as_deref()
                .is_some_and(|i| i.starts_with("rocketchat/rocket.chat"))
        })
        .expect("a Rocket.Chat container");
    assert_eq!(rc.state.as_ref().and_then(|s| s.running), Some(true));
    let rs: rcdiag_contract::mongodb::SummaryFile = rcdiag_contract::from_slice(
        "mongodb/summary.json",
        &b.read_bytes("mongodb/summary.json", 1 << 20).unwrap(),
    )
    .unwrap();
    assert_eq!(
        rs.replica_set.and_then(|r| r.set_name).as_deref(),
        Some("rs0")
    );
}
