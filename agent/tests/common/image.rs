//! The agent's Docker image built in the private test engine (`RCDIAG_TEST_DOCKER_HOST`),
//! as `packaging/docker/build-image` builds it, on a base made with `docker import` of
//! exactly the glibc this test binary links (`ldd`) plus busybox (no registry needed);
//! and what the engine made, removed whatever happens. Shared by `packaging.rs` and
//! `container_view.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The agent binary the image carries.
pub const AGENT: &str = env!("CARGO_BIN_EXE_rcdiag-agent");

/// `packaging/` of the workspace.
pub fn packaging() -> PathBuf {
    rcdiag_testkit::root().join("packaging")
}

/// Whether `tool` is usable; when not: a panic under RCDIAG_REQUIRE_PEERS=1, else a
/// loud SKIPPED line and `false`.
pub fn require_tool(tool: &str, usable: bool, install: &str) -> bool {
    if usable {
        return true;
    }
    if std::env::var("RCDIAG_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{tool} is missing but RCDIAG_REQUIRE_PEERS=1 requires it: {install}");
    }
    eprintln!("\n*** SKIPPED: {tool} is missing; {install} ***\n");
    false
}

/// Whether `cmd args` runs and succeeds.
pub fn runs(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd`, or a panic naming it.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"))
}

/// Bytes as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The Docker test engine's host and the tools the image needs, or `None` (skipped, or a
/// panic under RCDIAG_REQUIRE_PEERS=1).
pub fn require_engine_and_tools() -> Option<String> {
    let host = super::require_peer("RCDIAG_TEST_DOCKER_HOST")?;
    let ok = require_tool(
        "docker CLI",
        runs("docker", &["--version"]),
        "install docker.io (scripts/test-env install)",
    ) && require_tool("ldd", runs("ldd", &["--version"]), "install libc-bin")
        && require_tool(
            "/bin/busybox",
            Path::new("/bin/busybox").exists(),
            "install busybox-static (scripts/test-env install)",
        );
    ok.then_some(host)
}

/// Removes what a test made in the engine, whatever happens.
pub struct EngineCleanup {
    pub host: String,
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
}

impl Drop for EngineCleanup {
    fn drop(&mut self) {
        let dk = |args: &[&str]| {
            let _ = Command::new("docker")
                .arg("-H")
                .arg(&self.host)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        for c in &self.containers {
            dk(&["rm", "-f", c]);
        }
        for v in &self.volumes {
            dk(&["volume", "rm", "-f", v]);
        }
        for i in &self.images {
            dk(&["rmi", "-f", i]);
        }
    }
}

/// `docker -H host args`.
pub fn docker(host: &str, args: &[&str]) -> Output {
    run(Command::new("docker").arg("-H").arg(host).args(args))
}

/// Builds the base image `base` (this binary's glibc, by `ldd`, and busybox, through
/// `docker import`) and then the agent image `image` on it with
/// `packaging/docker/build-image` (a stripped copy of the binary). `tmp` holds the files.
pub fn build_agent_image(host: &str, base: &str, image: &str, tmp: &Path) {
    let t0 = std::time::Instant::now();
    let rootfs = tmp.join("rootfs");
    for d in ["bin", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox");
    let ldd = run(Command::new("ldd").arg(AGENT));
    assert!(ldd.status.success(), "ldd: {}", text(&ldd.stderr));
    let mut libs = Vec::new();
    for word in text(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = rootfs.join(word.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(word, &dest).unwrap_or_else(|e| panic!("copy {word}: {e}"));
        libs.push(word.to_string());
    }
    assert!(
        libs.iter().any(|l| l.contains("libc.so")),
        "ldd found no libc: {libs:?}"
    );
    let mut tar = Command::new("tar")
        .args(["-C"])
        .arg(&rootfs)
        .args(["--owner=0", "--group=0", "--numeric-owner", "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    let import = Command::new("docker")
        .args(["-H", host, "import", "-", base])
        .stdin(tar.stdout.take().expect("tar stdout"))
        .output()
        .expect("docker import");
    assert!(
        tar.wait().expect("tar").success(),
        "tar of the base image's files failed"
    );
    assert!(
        import.status.success(),
        "docker import: {}",
        text(&import.stderr)
    );

    let bin = tmp.join("rcdiag-agent");
    if !runs("strip", &["-o", bin.to_str().expect("utf-8"), AGENT]) {
        std::fs::copy(AGENT, &bin).expect("copy binary");
    }
    let build = run(Command::new(packaging().join("docker/build-image"))
        .args(["--binary"])
        .arg(&bin)
        .args(["--base", base, "-t", image])
        .env("DOCKER_HOST", host)
        .env("DOCKER_BUILDKIT", "0"));
    assert!(
        build.status.success(),
        "build-image failed:\n{}\n{}",
        text(&build.stdout),
        text(&build.stderr)
    );
    eprintln!("base image + agent image built in {:?}", t0.elapsed());
}
