//! `check`: load the bundles (side by side), run the checks, write the report.

use std::fs;
use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::Context;
use rcdiag_analyzer::checks::{self, CheckInput};
use rcdiag_analyzer::model::NodeData;
use rcdiag_analyzer::report::{self, BundleInfo, PolicyRef, Report, TextStyle, Verdict};

use rcdiag_analyzer::load::s3;

use super::UsageError;
use super::args::{CheckArgs, ColorWhen, ReportFormat};
use super::keys::{Keys, report_bundle_error};
use super::{Status, display, load_policy, print_stdout};

/// Labels of the bundles as checks cite them: the file name, or the whole path when
/// two bundles share a file name.
pub(crate) fn bundle_labels(paths: &[PathBuf]) -> Vec<String> {
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| display(p))
        })
        .collect();
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for n in &names {
        *count.entry(n.as_str()).or_default() += 1;
    }
    names
        .iter()
        .zip(paths)
        .map(|(n, p)| {
            if count.get(n.as_str()).copied().unwrap_or(0) > 1 {
                display(p)
            } else {
                n.clone()
            }
        })
        .collect()
}

/// Most bundles loaded at once.
pub(crate) const MAX_LOAD_THREADS: usize = 4;

/// Runs `load(0)`, `load(1)`, ... `load(count - 1)` on up to as many threads as the
/// machine runs at once, and returns the results in order. A bundle takes tens of
/// milliseconds to verify and scan (decryption, inflation and hashing dominate), so
/// several bundles are loaded side by side. Indexes are taken in increasing order; once
/// a call returns `(_, true)` no further index is started, so only results after the
/// first stopping one can be `None`: read in order up to it, they are what loading one
/// by one would have given.
///
/// Not `rayon` (issue 10 item 5 proposed it): its parallel iterators split the index
/// range by work stealing, so without `--keep-going` bundles after the first bad one
/// would already be loading, and results after it would no longer be what loading one
/// by one gives; keeping that takes this same shared counter, with rayon only
/// spawning the (at most 4) threads that `std::thread::scope` spawns here.
pub(crate) fn load_bundles<T: Send>(
    count: usize,
    load: impl Fn(usize) -> (T, bool) + Sync,
) -> Vec<Option<T>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let work = || {
        let mut done = Vec::new();
        while !stopped.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= count {
                break;
            }
            let (result, stop) = load(i);
            if stop {
                stopped.store(true, Ordering::SeqCst);
            }
            done.push((i, result));
        }
        done
    };
    // At most 4 at once: each bundle being loaded may hold up to its memory budget
    // (see rcdiag_analyzer::model), so the peak stays bounded on a large machine.
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_LOAD_THREADS)
        .min(count);
    let mut results: Vec<Option<T>> = (0..count).map(|_| None).collect();
    std::thread::scope(|s| {
        // This thread works too, so a failure to start threads only costs speed.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|n| {
                std::thread::Builder::new()
                    .name(format!("rcdiag-load-{n}"))
                    .spawn_scoped(s, work)
                    .ok()
            })
            .collect();
        let mut done = work();
        for h in helpers {
            match h.join() {
                Ok(d) => done.extend(d),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (i, r) in done {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        }
    });
    results
}

pub(crate) fn check(a: &CheckArgs) -> anyhow::Result<Status> {
    let policy = load_policy(a.policy.as_deref())?;
    let keys = Keys::load(&a.open.identity, a.open.trust.as_deref())?;
    // s3://bucket/prefix/ arguments: the bundles under them, fetched into a private
    // temporary folder (removed when `fetched` is dropped).
    let ca_pem = match &a.s3.ca_file {
        Some(f) => Some(std::fs::read(f).map_err(|e| {
            UsageError(format!(
                "--ca-file {}: {e}: give a PEM file holding the S3 endpoint's CA",
                f.display()
            ))
        })?),
        None => None,
    };
    let opts = s3::Options {
        ca_pem,
        max_object: a.s3.max_object_size.unwrap_or(s3::MAX_OBJECT),
    };
    let fetched = s3::expand(&a.bundles, &opts).map_err(|e| match e {
        s3::S3Error::Usage(m) => anyhow::Error::from(UsageError(m)),
        s3::S3Error::Fetch(m) => anyhow::anyhow!(m),
    })?;
    for n in fetched.notes.iter().chain(&fetched.skipped) {
        eprintln!("note: {}", report::sanitize_line(n));
    }
    let bundles = &fetched.paths;
    // Where a bundle came from, as reports and errors show it.
    let shown = |i: usize| -> String {
        fetched.origins[i]
            .clone()
            .unwrap_or_else(|| display(&bundles[i]))
    };
    let labels = bundle_labels(bundles);
    let mut infos = Vec::new();
    let mut nodes = Vec::new();
    let mut skipped = fetched.skipped.clone();
    let loaded = load_bundles(bundles.len(), |i| {
        let (path, label) = (&bundles[i], &labels[i]);
        let file = shown(i);
        let loaded = keys.open_for_model(path).and_then(|mut b| {
            let node = NodeData::load(&mut b, label, &policy)?;
            b.verify_contents()?;
            Ok((
                BundleInfo::verified(&file, &b.manifest().node.hostname, &b),
                node,
            ))
        });
        // Without --keep-going the run stops at the first bundle that fails.
        let stop = loaded.is_err() && !a.keep_going;
        (loaded, stop)
    });
    for (i, loaded) in loaded.into_iter().enumerate() {
        let file = shown(i);
        let path = std::path::PathBuf::from(&file);
        // Only bundles after one that stopped the run are left unloaded.
        let Some(loaded) = loaded else { break };
        match loaded {
            Ok((info, node)) => {
                infos.push(info);
                nodes.push(node);
            }
            Err(e) => {
                report_bundle_error(&path, &e);
                if !a.keep_going {
                    if bundles.len() > 1 {
                        eprintln!("hint: pass --keep-going to check the other bundles anyway");
                    }
                    return Ok(Status::Error);
                }
                skipped.push(format!("{file} was skipped: {e}"));
                infos.push(BundleInfo::failed(&file, &e.to_string()));
            }
        }
    }
    if nodes.is_empty() {
        eprintln!("error: no bundle could be read; nothing to check");
        return Ok(Status::Error);
    }
    let results = checks::run_all(&CheckInput {
        nodes: &nodes,
        policy: &policy,
        as_of: a.as_of,
        trust_given: keys.trusted.is_some(),
    });
    let mut notes = fetched.notes.clone();
    notes.extend(skipped.iter().cloned());
    notes.extend(checks::cluster_notes(&nodes));
    let report = Report::new(
        PolicyRef {
            name: policy.name.clone(),
            version: policy.version,
            as_of: policy.as_of.to_string(),
        },
        a.as_of,
        infos,
        notes,
        &results,
    );
    let text = match a.format {
        ReportFormat::Text => {
            let color = match a.color {
                ColorWhen::Always => true,
                ColorWhen::Never => false,
                ColorWhen::Auto => {
                    a.output.is_none()
                        && io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            let style = if color {
                TextStyle::Color
            } else {
                TextStyle::Plain
            };
            if a.verbose {
                report::render_text_verbose(&report, style)
            } else {
                report::render_text(&report, style)
            }
        }
        ReportFormat::Json => report.to_json(),
        ReportFormat::Markdown => report::render_markdown(&report),
        ReportFormat::Html => report::render_html(&report),
    };
    match &a.output {
        None => print_stdout(&text)?,
        Some(out) => {
            fs::write(out, text.as_bytes())
                .with_context(|| format!("cannot write the report to {}", out.display()))?;
            eprintln!(
                "wrote the report to {} ({})",
                out.display(),
                report.summary.line()
            );
        }
    }
    let mut verdict = report.summary.verdict;
    if !skipped.is_empty() && verdict == Verdict::Pass {
        verdict = Verdict::Unknown;
    }
    // A pass (or warning) of bundles whose signers nobody pinned is not the same
    // result as one of trusted bundles: anyone can sign a bundle. That also comes
    // before INCOMPLETE: nothing in an unverified bundle can be relied on.
    Ok(match verdict {
        Verdict::Fail => Status::Fail,
        _ if report.summary.unverified_signers > 0 => Status::Unverified,
        Verdict::Incomplete => Status::Incomplete,
        Verdict::Pass => Status::Ok,
        Verdict::Warn | Verdict::Unknown => Status::Warn,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{MAX_LOAD_THREADS, bundle_labels, load_bundles};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn bundle_labels_use_file_names_unless_ambiguous() {
        let l = bundle_labels(&[
            PathBuf::from("a/x.rcdiag"),
            PathBuf::from("b/x.rcdiag"),
            PathBuf::from("c/y.rcdiag"),
        ]);
        assert_eq!(l, ["a/x.rcdiag", "b/x.rcdiag", "y.rcdiag"]);
    }

    #[test]
    fn bundles_load_at_most_four_at_once_and_none_start_after_a_stop() {
        let (running, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let load = |i: usize| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(15));
            running.fetch_sub(1, Ordering::SeqCst);
            (i * 10, i == 7)
        };
        let r = load_bundles(40, load);
        assert!(peak.load(Ordering::SeqCst) <= MAX_LOAD_THREADS, "{peak:?}");
        // Up to the stopping bundle: what loading one by one gives, in order.
        let head: Vec<Option<usize>> = (0..=7).map(|i| Some(i * 10)).collect();
        assert_eq!(r[..=7], head[..]);
        // After it only the ones already taken by other threads (at most one each).
        let after = r[8..].iter().filter(|x| x.is_some()).count();
        assert!(
            after < MAX_LOAD_THREADS,
            "{after} loaded after the stop: {r:?}"
        );
        // Without a stop, every one, in order.
        let r = load_bundles(9, |i| (i, false));
        assert_eq!(r, (0..9).map(Some).collect::<Vec<_>>());
    }
}
