//! `diff`: what changed between two bundles of the same node.

use std::path::Path;

use rcdiag_analyzer::diff::diff_nodes;
use rcdiag_analyzer::model::NodeData;
use rcdiag_analyzer::report::sanitize_line;

use super::args::{DataFormat, DiffArgs};
use super::check::bundle_labels;
use super::keys::{Keys, open_or_report, report_bundle_error};
use super::{Reported, Status, display, load_policy, print_stdout};

pub(crate) fn diff(a: &DiffArgs) -> anyhow::Result<Status> {
    let policy = load_policy(a.policy.as_deref())?;
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let labels = bundle_labels(&[a.old.clone(), a.new.clone()]);
    let load = |path: &Path, label: &str| -> anyhow::Result<NodeData> {
        let mut b = open_or_report(&keys, path)?;
        NodeData::load(&mut b, label, &policy).map_err(|e| {
            report_bundle_error(path, &e);
            Reported(Status::Error).into()
        })
    };
    let old = load(&a.old, &labels[0])?;
    let new = load(&a.new, &labels[1])?;
    let d = diff_nodes(&display(&a.old), &old, &display(&a.new), &new);
    if let DataFormat::Json = a.format {
        // The text output shows them in place; JSON readers may not look.
        for w in &d.warnings {
            eprintln!("warning: {}", sanitize_line(w));
        }
    }
    print_stdout(&match a.format {
        DataFormat::Text => d.render_text(),
        DataFormat::Json => d.to_json(),
    })?;
    Ok(Status::Ok)
}
