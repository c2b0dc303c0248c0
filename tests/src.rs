//! Support for the end-to-end tests: build and locate the `halcytone` binary.
//!
//! Cargo only tells integration tests of `halcytone-server` itself where the
//! binary is, so this package builds it (a no-op when it is up to date) and
//! finds it next to the test executable.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncBufReadExt as _;

/// The path of a freshly built `halcytone` debug binary with default features.
///
/// # Panics
/// Panics when the build fails: every end-to-end test needs the binary.
pub fn halcytone() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "halcytone-server",
                    "--bin",
                    "halcytone",
                ])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building halcytone failed");
            let executable = std::env::current_exe().expect("the test knows its path");
            // target/debug/deps/<test> → target/debug/halcytone
            let directory = executable
                .parent()
                .and_then(|deps| deps.parent())
                .expect("tests run from target/<profile>/deps");
            directory.join(format!("halcytone{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A new, empty scratch directory, never shared with another call.
///
/// # Panics
/// Panics when the directory cannot be made.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    let directory = std::env::temp_dir().join(format!(
        "halcytone-e2e-{}-{name}-{number}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

/// `halcytone` to run in `directory`, killed when dropped, with none of the
/// caller's `HALCYTONE*` or `OTEL_*` variables: each test says what it sets.
pub fn command(directory: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(halcytone());
    command.current_dir(directory).kill_on_drop(true);
    for (name, _) in std::env::vars()
        .filter(|(name, _)| name.starts_with("HALCYTONE") || name.starts_with("OTEL_"))
    {
        command.env_remove(name);
    }
    command
}

/// A `halcytone serve` on a free loopback port, in its own scratch
/// directory, with the dispatcher off; killed when dropped.
pub struct Server {
    child: tokio::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// Starts it with `environment` on top of a clean one.
    ///
    /// # Panics
    /// Panics when the server does not start within 30 s.
    pub async fn start(name: &str, environment: &[(&str, &str)]) -> Self {
        let directory = scratch(name);
        let mut command = command(&directory);
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        // These tests drive the API; the dispatcher, which would queue
        // approved posts under them, has its own tests (dispatch.rs).
        command.env("HALCYTONE__DISPATCHER__ENABLED", "false");
        command.envs(environment.iter().copied());
        let mut child = command.spawn().expect("halcytone serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tokio::io::BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("halcytone serve prints its address")
        .unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        Self { child, base }
    }

    /// The address of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
