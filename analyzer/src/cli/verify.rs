//! `verify` and `extract`: one bundle's signature and contents, and its files on disk.

use rcdiag_analyzer::report::VerifySummary;

use super::args::{DataFormat, ExtractArgs, VerifyArgs};
use super::keys::{Keys, open_or_report, report_bundle_error};
use super::{Status, display, print_stdout};

pub(crate) fn verify(a: &VerifyArgs) -> anyhow::Result<Status> {
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let file = display(&a.bundle);
    match keys.open(&a.bundle) {
        Ok(bundle) => {
            let s = VerifySummary::valid(&file, &bundle);
            print_stdout(&match a.format {
                DataFormat::Text => s.render_text(),
                DataFormat::Json => s.to_json(),
            })?;
            Ok(Status::Ok)
        }
        Err(e) => {
            if let DataFormat::Json = a.format {
                print_stdout(&VerifySummary::invalid(&file, &e.to_string()).to_json())?;
            }
            report_bundle_error(&a.bundle, &e);
            Ok(Status::Error)
        }
    }
}

pub(crate) fn extract(a: &ExtractArgs) -> anyhow::Result<Status> {
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    let mut bundle = open_or_report(&keys, &a.bundle)?;
    match bundle.extract_to(&a.dir) {
        Ok(written) => {
            print_stdout(&format!(
                "extracted {} files (with manifest.json and its signature) to {}\n",
                written.len(),
                a.dir.display()
            ))?;
            Ok(Status::Ok)
        }
        Err(e) => {
            report_bundle_error(&a.bundle, &e);
            Ok(Status::Error)
        }
    }
}
