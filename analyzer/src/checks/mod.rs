//! The checks: each area declares its own in `<area>.rs`; this module only collects
//! their lists into [`CHECKS`], run by [`run_all`] over the nodes (one verified bundle
//! each) of one installation.
//!
//! Every check gives `pass`, `warn`, `fail` or `unknown` with a one-line message,
//! evidence (bundle, node, file, JSON pointer or log line) and a remediation link
//! from the policy. Missing evidence is `unknown`, never `pass`: the message names
//! what is missing and how to collect it. Bundle data is untrusted: wrong types are
//! treated as missing, never unwrapped.

// One module per area, each declaring its checks (`CHECKS`).
mod bundle;
mod containers;
mod deploy;
mod hardware;
mod host;
mod id;
mod image;
mod kubernetes;
mod logs;
mod mongodb;
mod monitoring;
mod scale;
mod version;

// What the areas share.
mod group;
mod helpers;
mod notes;
mod verdict;

pub use bundle::COLLECTOR_CHECKS;
pub use id::{CheckId, UnknownCheck};
pub use notes::cluster_notes;
pub use verdict::{CheckInput, CheckResult, Evidence, Outcome};

pub(crate) use helpers::{
    as_of, cluster_users, cri_twin_evidence, in_cluster, list, node_containers, node_key,
    node_rc_version, process_pointer, processes_of, rc_containers, rc_containers_on,
    rc_pod_servers, truthy,
};
pub(crate) use verdict::{Finding, conclude, not_applicable, result};

/// A check: its id, title, area, what it checks and the function that runs it.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id.
    pub id: CheckId,
    /// Title.
    pub title: &'static str,
    /// Area (the first part of the id).
    pub area: &'static str,
    /// What it checks.
    pub description: &'static str,
    /// Runs the check over the nodes of one installation.
    pub run: fn(&CheckInput) -> CheckResult,
}

/// Each area's checks, in report order.
const AREAS: &[&[Check]] = &[
    image::CHECKS,
    deploy::CHECKS,
    scale::CHECKS,
    hardware::CHECKS,
    monitoring::CHECKS,
    version::CHECKS,
    mongodb::CHECKS,
    host::CHECKS,
    containers::CHECKS,
    logs::CHECKS,
    kubernetes::CHECKS,
    bundle::CHECKS,
];

const COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < AREAS.len() {
        n += AREAS[i].len();
        i += 1;
    }
    n
};

const fn flatten() -> [Check; COUNT] {
    let mut out = [AREAS[0][0]; COUNT];
    let (mut a, mut k) = (0, 0);
    while a < AREAS.len() {
        let mut i = 0;
        while i < AREAS[a].len() {
            out[k] = AREAS[a][i];
            k += 1;
            i += 1;
        }
        a += 1;
    }
    out
}

/// Every check, in report order (the areas' own lists, concatenated).
pub const CHECKS: &[Check] = &flatten();

/// Runs every check in [`CHECKS`] order.
pub fn run_all(input: &CheckInput) -> Vec<CheckResult> {
    CHECKS.iter().map(|c| run_check(input, c)).collect()
}

/// Runs the one check `id`; `None` for an unknown id.
pub fn run_one(input: &CheckInput, id: &str) -> Option<CheckResult> {
    CHECKS
        .iter()
        .find(|c| c.id.as_str() == id)
        .map(|c| run_check(input, c))
}

/// Runs `check` and attaches the root causes it cited (see `model::CauseRef`): those
/// whose words its message holds (a check may ask why a file is missing and then
/// not say it, when another source decided).
fn run_check(input: &CheckInput, check: &Check) -> CheckResult {
    for n in input.nodes {
        n.take_cited();
    }
    let mut r = (check.run)(input);
    for n in input.nodes {
        for c in n.take_cited() {
            let said = c
                .phrases
                .iter()
                .any(|p| !p.is_empty() && r.message.contains(p.as_str()));
            if said && !r.causes.contains(&c) {
                r.causes.push(c);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    #[test]
    fn checks_are_declared_once_each_in_id_order_with_their_area() {
        let ids: Vec<CheckId> = CHECKS.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            CheckId::ALL,
            "every id has exactly one check, in order"
        );
        for c in CHECKS {
            assert_eq!(
                c.id.as_str().split_once('.').map(|(a, _)| a),
                Some(c.area),
                "{} is declared in the wrong area",
                c.id
            );
            assert!(!c.title.is_empty() && !c.description.is_empty());
        }
    }

    #[test]
    fn builtin_policy_covers_exactly_the_checks() {
        let p = Policy::builtin();
        assert_eq!(p.validate(CheckId::NAMES), Vec::<String>::new());
        let keys: Vec<&str> = p.checks.keys().map(String::as_str).collect();
        let mut names = CheckId::NAMES.to_vec();
        names.sort_unstable();
        assert_eq!(keys, names);
    }
}
