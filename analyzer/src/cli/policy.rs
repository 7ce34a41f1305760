//! `policy show` and `policy check`.

use std::path::Path;

use rcdiag_analyzer::checks::CheckId;
use rcdiag_analyzer::policy::Policy;
use rcdiag_analyzer::report::sanitize_line;

use super::{Status, load_policy, print_stdout};

pub(crate) fn policy_show(path: Option<&Path>) -> anyhow::Result<Status> {
    let policy = load_policy(path)?;
    print_stdout(&policy.to_toml())?;
    Ok(Status::Ok)
}

pub(crate) fn policy_check(file: &Path) -> anyhow::Result<Status> {
    match Policy::load(file, CheckId::NAMES) {
        Ok(p) => {
            println!(
                "{}: valid policy {:?} version {} (facts as of {})",
                file.display(),
                p.name,
                p.version,
                p.as_of
            );
            Ok(Status::Ok)
        }
        Err(rcdiag_analyzer::policy::PolicyError::Invalid(problems)) => {
            eprintln!("error: {}: {} problem(s):", file.display(), problems.len());
            for p in problems {
                eprintln!("  - {}", sanitize_line(&p));
            }
            eprintln!(
                "fix them and run `rcdiag-analyzer policy check {}` again",
                file.display()
            );
            Ok(Status::Error)
        }
        // Several lines (where, what, the line with a caret), each part escaped.
        Err(e @ rcdiag_analyzer::policy::PolicyError::Parse { .. }) => {
            eprintln!("error: {}: {e}", sanitize_line(&file.display().to_string()));
            Ok(Status::Error)
        }
        Err(e) => {
            eprintln!(
                "error: {}: {}",
                file.display(),
                sanitize_line(&e.to_string())
            );
            Ok(Status::Error)
        }
    }
}
