//! `cargo xtask`: Halcytone's build tasks, so CI and local runs agree.
//!
//! - `cargo xtask ci [--skip-tests]`: formatting, lints, every feature alone,
//!   cargo-deny, the scaffold check, the tests.
//! - `cargo xtask bench`: criterion benchmarks and the HTTP load run.
//! - `cargo xtask new-publisher <name>`: scaffolds a publisher crate.
//! - `cargo xtask scaffold-check`: the scaffold check of `ci` alone:
//!   `new-publisher` in a copy of the repository, whose crate must build,
//!   pass its tests and lints.
#![allow(clippy::print_stdout)]

mod bench;
mod new_publisher;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

/// The channel `ci` scaffolds in a copy of the repository.
const SCAFFOLD_CHECK_CHANNEL: &str = "mastodon";

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
        ["scaffold-check"] => scaffold_check(&shell),
        _ => bail!(
            "usage: cargo xtask ci [--skip-tests] | bench [--quick] | new-publisher <name> | scaffold-check"
        ),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A publisher or source crate, found by its directory, and the server
/// feature that compiles it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plugin {
    /// The crate and its directory under `crates/`: `publisher-twitter`.
    pub(crate) crate_name: String,
    /// The `halcytone-server` feature that enables `dep:<crate_name>`.
    pub(crate) feature: String,
}

/// Used by the tidy checks.
#[cfg(test)]
impl Plugin {
    /// The channel of a publisher crate (`twitter`); `None` for a source.
    pub(crate) fn channel(&self) -> Option<&str> {
        self.crate_name.strip_prefix("publisher-")
    }

    /// The crate's name in Rust paths: `publisher_twitter`.
    pub(crate) fn module(&self) -> String {
        self.crate_name.replace('-', "_")
    }
}

/// Every `crates/publisher-*` and `crates/source-*`, by name, with the
/// server feature that enables it.
///
/// # Errors
/// A crate that no feature of `crates/halcytone-server/Cargo.toml` enables.
pub(crate) fn plugins(root: &Path) -> Result<Vec<Plugin>> {
    let features = server_features(root)?;
    let directory = root.join("crates");
    let mut crate_names = Vec::new();
    for entry in
        std::fs::read_dir(&directory).with_context(|| format!("reading {}", directory.display()))?
    {
        let entry = entry?;
        let crate_name = entry.file_name().to_string_lossy().into_owned();
        let is_plugin = crate_name.starts_with("publisher-") || crate_name.starts_with("source-");
        if is_plugin && entry.path().join("Cargo.toml").is_file() {
            crate_names.push(crate_name);
        }
    }
    crate_names.sort();
    crate_names
        .into_iter()
        .map(|crate_name| {
            let dependency = format!("dep:{crate_name}");
            let feature = features
                .iter()
                .find(|(_, enables)| enables.contains(&dependency))
                .map(|(feature, _)| feature.clone())
                .with_context(|| {
                    format!(
                        "crates/{crate_name} is not wired in: no feature of crates/halcytone-server/Cargo.toml enables \"{dependency}\""
                    )
                })?;
            Ok(Plugin {
                crate_name,
                feature,
            })
        })
        .collect()
}

/// The `[features]` table of `crates/halcytone-server/Cargo.toml`: each
/// feature and the strings of its list, in order.
pub(crate) fn server_features(root: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let path = root.join("crates/halcytone-server/Cargo.toml");
    let manifest =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(parse_features(&manifest))
}

/// Reads a `[features]` table of `name = ["…", …]` entries, one list per
/// entry, which may span lines.
fn parse_features(manifest: &str) -> Vec<(String, Vec<String>)> {
    let mut features = Vec::new();
    let mut in_features = false;
    let mut pending: Option<(String, String)> = None;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some((name, mut list)) = pending.take() {
            list.push_str(line);
            pending = Some((name, list));
        } else if line.starts_with('[') && !line.contains('=') {
            in_features = line == "[features]";
            continue;
        } else if let Some((name, list)) = line.split_once('=').filter(|_| in_features) {
            pending = Some((name.trim().to_owned(), list.trim().to_owned()));
        }
        if let Some((name, list)) = pending.take_if(|(_, list)| list.contains(']')) {
            let values = list
                .split('"')
                .skip(1)
                .step_by(2)
                .map(ToOwned::to_owned)
                .collect();
            features.push((name, values));
        }
    }
    features
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
    for plugin in plugins(&project_root())? {
        let feature = plugin.feature;
        step(&format!(
            "cargo check -p halcytone-server --no-default-features --features {feature}"
        ));
        cmd!(
            shell,
            "cargo check -p halcytone-server --no-default-features --features {feature}"
        )
        .run()?;
    }
    // A build check, not a test: it runs under --skip-tests too, since
    // .ci/run skips the tests here and runs `cargo test --workspace` itself.
    step(&format!(
        "cargo xtask new-publisher {SCAFFOLD_CHECK_CHANNEL} in a copy of the repository"
    ));
    scaffold_check(shell)?;
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

/// Proves the scaffold has not rotted: copies the repository's files (what
/// `git ls-files` lists, tracked or new, without `target/`) to a temporary
/// directory, runs `new-publisher` there, and builds, tests and lints the
/// crate it wrote as a newcomer would.
///
/// The copy shares the caller's target directory, so no dependency is built
/// again. Its own crates are built through a pass-through workspace wrapper
/// (`env`): cargo mixes the wrapper into the artifact hashes of workspace
/// members only, so the copy's crates (whose `halcytone-core` embeds the new
/// channel's template) never overwrite the caller's, and the caller's build
/// stays fresh.
fn scaffold_check(shell: &Shell) -> Result<()> {
    let started = std::time::Instant::now();
    let root = project_root();
    let target_dir = target_directory(shell)?;
    let copy =
        std::env::temp_dir().join(format!("halcytone-scaffold-check-{}", std::process::id()));
    if copy.exists() {
        std::fs::remove_dir_all(&copy)?;
    }
    let files = cmd!(
        shell,
        "git ls-files -z --cached --others --exclude-standard"
    )
    .quiet()
    .read()
    .context("listing the repository's files with git")?;
    let mut copied = 0;
    for file in files.split('\0').filter(|file| !file.is_empty()) {
        let source = root.join(file);
        // A file deleted in the working tree is still listed as tracked.
        if !source.is_file() {
            continue;
        }
        let destination = copy.join(file);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&source, &destination)
            .with_context(|| format!("copying {}", source.display()))?;
        copied += 1;
    }
    println!("Copied {copied} files to {}.", copy.display());
    let result = (|| -> Result<()> {
        let _directory = shell.push_dir(&copy);
        let _target = shell.push_env("CARGO_TARGET_DIR", &target_dir);
        let _wrapper = shell.push_env("RUSTC_WORKSPACE_WRAPPER", "env");
        let name = SCAFFOLD_CHECK_CHANNEL;
        new_publisher::scaffold(shell, &copy, name)?;
        cmd!(shell, "cargo test -p publisher-{name}").run()?;
        cmd!(
            shell,
            "cargo check -p halcytone-server --no-default-features --features {name}"
        )
        .run()?;
        cmd!(
            shell,
            "cargo clippy -p publisher-{name} --all-targets -- -D warnings"
        )
        .run()?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            std::fs::remove_dir_all(&copy)?;
            println!(
                "The scaffold builds, passes its tests and lints ({:.0?}).",
                started.elapsed()
            );
            Ok(())
        }
        Err(error) => Err(error.context(format!(
            "the scaffolded crate fails; the copy is kept in {}",
            copy.display()
        ))),
    }
}

/// The caller's target directory, wherever it is configured
/// (`CARGO_TARGET_DIR`, `build.target-dir`, or `target/`).
fn target_directory(shell: &Shell) -> Result<PathBuf> {
    let metadata = cmd!(shell, "cargo metadata --format-version 1 --no-deps")
        .quiet()
        .read()?;
    let key = "\"target_directory\":\"";
    let start = metadata
        .find(key)
        .context("cargo metadata gives no target_directory")?
        + key.len();
    let mut directory = String::new();
    let mut characters = metadata[start..].chars();
    while let Some(character) = characters.next() {
        match character {
            '"' => return Ok(PathBuf::from(directory)),
            '\\' => directory.extend(characters.next()),
            other => directory.push(other),
        }
    }
    bail!("cargo metadata's target_directory is not a JSON string")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_read_from_the_manifest() {
        let manifest = "[package]\nname = \"s\"\n\n[features]\ndefault = [\"email\", \"gdocs\"] # all\nemail = [\"dep:publisher-email\"]\ngdocs = [\n    \"dep:source-gdocs\",\n]\n\n[dependencies]\nemail = \"1\"\n";
        assert_eq!(
            parse_features(manifest),
            [
                (
                    "default".to_owned(),
                    vec!["email".to_owned(), "gdocs".to_owned()]
                ),
                ("email".to_owned(), vec!["dep:publisher-email".to_owned()]),
                ("gdocs".to_owned(), vec!["dep:source-gdocs".to_owned()]),
            ]
        );
    }

    #[test]
    fn plugins_are_found_by_directory() {
        let plugins = plugins(&project_root()).unwrap();
        let twitter = plugins
            .iter()
            .find(|plugin| plugin.crate_name == "publisher-twitter")
            .unwrap();
        assert_eq!(twitter.feature, "twitter");
        assert_eq!(twitter.channel(), Some("twitter"));
        assert_eq!(twitter.module(), "publisher_twitter");
        assert!(
            plugins.iter().any(|plugin| plugin.channel().is_none()),
            "sources too"
        );
    }
}
