//! Support for the end-to-end tests: build and locate the `halcytone` binary.
//!
//! Cargo only tells integration tests of `halcytone-server` itself where the
//! binary is, so this package builds it (a no-op when it is up to date) and
//! finds it next to the test executable.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

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
