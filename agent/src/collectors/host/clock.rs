//! Clock synchronisation: `chronyc -c tracking`, else `timedatectl show`, each by
//! absolute path with a clean environment and a short time limit.

use std::time::Duration;

use tokio::process::Command;

use super::Clock as ClockInfo;

/// Time limit of each clock tool.
const CLOCK_TOOL_TIMEOUT: Duration = Duration::from_secs(1);

/// Clock synchronisation from chrony, else timedatectl, else unknown.
pub(super) async fn clock() -> ClockInfo {
    let mut info = ClockInfo {
        wall_clock: Some(
            jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
        ),
        source: Some("none".into()),
        ..Default::default()
    };
    let mut errors = Vec::new();
    match run_tool("chronyc", &["-c", "tracking"]).await {
        Ok(out) => {
            if parse_chrony_tracking(&out, &mut info) {
                info.source = Some("chrony".into());
                return info;
            }
            errors.push(format!(
                "chronyc -c tracking: unexpected output {:?}",
                out.lines().next().unwrap_or("")
            ));
        }
        Err(e) => errors.push(e),
    }
    match run_tool("timedatectl", &["show"]).await {
        Ok(out) => {
            if parse_timedatectl(&out, &mut info) {
                info.source = Some("timedatectl".into());
                return info;
            }
            errors.push("timedatectl show: no NTPSynchronized line".into());
        }
        Err(e) => errors.push(e),
    }
    info.error = Some(errors.join("; "));
    info
}

/// Runs a tool with a short time limit; its stdout, or why not. The tool is looked up
/// in the fixed system folders (never the caller's `PATH`) and run with a clean
/// environment (see [`crate::tools`]).
pub(super) async fn run_tool(program: &str, args: &[&str]) -> Result<String, String> {
    let path = crate::tools::find(program)?;
    let mut cmd = Command::new(&path);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .env_clear()
        .envs(crate::tools::CLEAN_ENV.iter().copied());
    let run = cmd.output();
    match tokio::time::timeout(CLOCK_TOOL_TIMEOUT, run).await {
        Err(_) => Err(format!(
            "{program} did not answer within {} s",
            CLOCK_TOOL_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{program} is not installed"))
        }
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        Ok(Ok(out)) if !out.status.success() => {
            let err = String::from_utf8_lossy(&out.stderr);
            let msg = err.lines().next().unwrap_or("").trim().to_string();
            Err(format!(
                "{program} {}: {}",
                args.join(" "),
                if msg.is_empty() {
                    out.status.to_string()
                } else {
                    msg
                }
            ))
        }
        Ok(Ok(out)) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
    }
}

/// Parses `chronyc -c tracking` (CSV: ref id, name, stratum, ref time, system time,
/// last offset, RMS offset, frequency, residual, skew, root delay, root dispersion,
/// update interval, leap status).
pub(super) fn parse_chrony_tracking(out: &str, info: &mut ClockInfo) -> bool {
    let Some(line) = out.lines().find(|l| l.contains(',')) else {
        return false;
    };
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    if f.len() < 14 {
        return false;
    }
    info.reference = Some(f[1].to_string()).filter(|s| !s.is_empty());
    info.stratum = f[2].parse().ok();
    info.offset_seconds = f[4].parse().ok();
    info.last_offset_seconds = f[5].parse().ok();
    info.leap_status = Some(f[13].to_string());
    let unsynced = f[13].eq_ignore_ascii_case("Not synchronised")
        || info.stratum.is_none_or(|s| s == 0 || s >= 16);
    info.synchronized = Some(!unsynced);
    true
}

/// Parses `timedatectl show` (`KEY=value` lines).
pub(super) fn parse_timedatectl(out: &str, info: &mut ClockInfo) -> bool {
    let get = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(str::trim))
    };
    let yes = |v: &str| v.eq_ignore_ascii_case("yes");
    info.ntp_service_enabled = get("NTP").map(yes);
    info.timezone = get("Timezone")
        .map(str::to_string)
        .filter(|s| !s.is_empty());
    match get("NTPSynchronized") {
        Some(v) => {
            info.synchronized = Some(yes(v));
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrony_csv_is_parsed() {
        let mut info = ClockInfo::default();
        let out = "A9FEA9FE,169.254.169.254,3,1764133200.123456789,0.000012345,-0.000002000,0.000010000,-12.345,0.001,0.050,0.000500000,0.000250000,64.2,Normal\n";
        assert!(parse_chrony_tracking(out, &mut info));
        assert_eq!(info.synchronized, Some(true));
        assert_eq!(info.stratum, Some(3));
        assert_eq!(info.offset_seconds, Some(0.000012345));
        let mut info = ClockInfo::default();
        let out = "00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised\n";
        assert!(parse_chrony_tracking(out, &mut info));
        assert_eq!(info.synchronized, Some(false));
    }

    #[test]
    fn timedatectl_show_is_parsed() {
        let mut info = ClockInfo::default();
        assert!(parse_timedatectl(
            "Timezone=Etc/UTC\nNTP=yes\nNTPSynchronized=no\n",
            &mut info
        ));
        assert_eq!(info.synchronized, Some(false));
        assert_eq!(info.ntp_service_enabled, Some(true));
        assert_eq!(info.timezone.as_deref(), Some("Etc/UTC"));
    }
}
