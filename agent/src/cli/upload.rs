//! `rcdiag-agent upload FILE... --to URL`: its flags and exit status, over
//! [`rcdiag_agent::upload`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rcdiag_agent::config;
use rcdiag_agent::upload::{
    DEFAULT_TRIES, Output, Settings, Target, UploadError, UploadOpts, upload_files,
};

/// `rcdiag-agent upload`.
#[derive(clap::Args, Debug)]
pub struct UploadArgs {
    /// The bundles to send (`.rcdiag`, encrypted).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// The upload link from support, in single quotes (https://...). A link ending in
    /// `/` gets each file's name appended; any other link takes one file.
    #[arg(long = "to", value_name = "URL")]
    pub to: String,
    #[command(flatten)]
    pub opts: UploadOpts,
    /// Tries per file, 1 to 10 (retries on server errors 5xx, 408, 429 and network errors).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TRIES,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub tries: u32,
    /// Cut an attempt when the server takes no byte and sends no answer for DURATION
    /// (1s to 1h).
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub stall_timeout: String,
    /// Time limit of one attempt, 1s to 7d.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub attempt_timeout: String,
}

/// `rcdiag-agent upload`: exit 0 every file sent, 1 an upload failed, 2 invalid options
/// or a file refused (nothing sent).
pub fn upload_cmd(a: &UploadArgs) -> ExitCode {
    match upload_cmd_inner(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rcdiag-agent: error: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

fn upload_cmd_inner(a: &UploadArgs) -> Result<(), UploadError> {
    let target = Target::parse(&a.to)?;
    let mut s = Settings::new(&a.opts)?;
    s.tries = a.tries;
    s.stall = config::duration_in(
        "--stall-timeout",
        &a.stall_timeout,
        (Duration::from_secs(1), Duration::from_secs(3600)),
    )
    .map_err(UploadError::Usage)?;
    s.attempt = config::duration_in(
        "--attempt-timeout",
        &a.attempt_timeout,
        config::TIMEOUT_RANGE,
    )
    .map_err(UploadError::Usage)?;
    upload_files(&a.files, &target, &s, Output::auto(true, false)).map(|_| ())
}
