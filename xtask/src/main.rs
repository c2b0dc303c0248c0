//! `cargo xtask`: Halcytone's build tasks, so CI and local runs agree.
//!
//! - `cargo xtask ci [--skip-tests]`: formatting, lints, every feature alone, cargo-deny, the tests.
//! - `cargo xtask bench`: criterion benchmarks and the HTTP load run.
//! - `cargo xtask new-publisher <name>`: scaffolds a publisher crate.
#![allow(clippy::print_stdout)]

mod bench;
mod new_publisher;
#[cfg(test)]
mod tidy;

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

/// The channel and source features of `halcytone-server`.
const FEATURES: [&str; 6] = ["email", "web", "twitter", "linkedin", "gdocs", "notion"];

fn main() -> Result<()> {
    let shell = Shell::new()?;
    shell.change_dir(project_root());
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["ci"] => ci(&shell, true),
        ["ci", "--skip-tests"] => ci(&shell, false),
        ["bench", rest @ ..] => bench::run(&shell, rest),
        ["new-publisher", name] => new_publisher::run(&shell, name),
        _ => bail!("usage: cargo xtask ci [--skip-tests] | bench [--quick] | new-publisher <name>"),
    }
}

fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn step(name: &str) {
    println!("\n==> {name}");
}

/// Runs the CI job list; `.ci/run` skips the tests here and runs the
/// README's test command itself, last.
fn ci(shell: &Shell, with_tests: bool) -> Result<()> {
    step("cargo fmt --all --check");
    cmd!(shell, "cargo fmt --all --check").run()?;
    step("cargo clippy --workspace --all-targets --all-features -- -D warnings");
    cmd!(
        shell,
        "cargo clippy --workspace --all-targets --all-features -- -D warnings"
    )
    .run()?;
    step("cargo build -p halcytone-server --no-default-features");
    cmd!(
        shell,
        "cargo build -p halcytone-server --no-default-features"
    )
    .run()?;
    for feature in FEATURES {
        step(&format!(
            "cargo check -p halcytone-server --no-default-features --features {feature}"
        ));
        cmd!(
            shell,
            "cargo check -p halcytone-server --no-default-features --features {feature}"
        )
        .run()?;
    }
    step("cargo deny check bans licenses sources");
    cmd!(shell, "cargo deny --version")
        .quiet()
        .ignore_stdout()
        .run()
        .context("cargo-deny is not installed: cargo install cargo-deny --locked")?;
    cmd!(shell, "cargo deny check bans licenses sources").run()?;
    if with_tests {
        step("cargo test --workspace");
        cmd!(shell, "cargo test --workspace").run()?;
    }
    println!("\nAll CI checks passed.");
    Ok(())
}
