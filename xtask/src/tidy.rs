//! Tidy checks that run under `cargo test -p xtask`: the rules a reviewer
//! would otherwise have to remember.

use std::path::{Path, PathBuf};

use crate::{plugins, project_root, server_features};

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != ".git" {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_doc_comment() {
    let mut files = Vec::new();
    for directory in ["crates", "xtask", "tests"] {
        rust_files(&project_root().join(directory), &mut files);
    }
    assert!(files.len() > 20);
    let undocumented: Vec<_> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            !(text.starts_with("//!") || text.starts_with("#![doc = include_str!"))
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "files without a leading //! line: {undocumented:?}"
    );
}

#[test]
fn no_should_panic_or_ignored_tests() {
    let mut files = Vec::new();
    for directory in ["crates", "tests"] {
        rust_files(&project_root().join(directory), &mut files);
    }
    let forbidden = ["#[should_panic", "#[ignore"];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for attribute in forbidden {
            assert!(
                !text.contains(attribute),
                "{} uses {attribute}]",
                file.display()
            );
        }
    }
}

#[test]
fn every_publisher_and_source_crate_is_wired_in() {
    let root = project_root();
    let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap();
    let registry = read("crates/halcytone-server/src/registry.rs");
    let architecture = read("ARCHITECTURE.md");
    let features = server_features(&root).unwrap();
    let default = features
        .iter()
        .find(|(name, _)| name == "default")
        .map(|(_, enabled)| enabled.clone())
        .unwrap_or_default();
    // Fails naming any crate that no server feature enables.
    let plugins = plugins(&root).unwrap();
    assert!(
        plugins.iter().any(|plugin| plugin.channel().is_some()),
        "no crates/publisher-* found"
    );
    for plugin in &plugins {
        let crate_name = &plugin.crate_name;
        let feature = &plugin.feature;
        assert!(
            default.contains(feature),
            "the default features do not list `{feature}`"
        );
        assert!(
            registry.contains(&format!(
                "#[cfg(feature = \"{feature}\")]\n    {}::register(&mut registry);",
                plugin.module()
            )),
            "{crate_name} is not registered behind `#[cfg(feature = \"{feature}\")]`"
        );
        let directory = root.join("crates").join(crate_name);
        assert!(
            directory.join("README.md").is_file(),
            "{crate_name} has no README.md"
        );
        assert!(
            architecture.contains(crate_name.as_str()),
            "ARCHITECTURE.md does not mention {crate_name}"
        );
        if let Some(channel) = plugin.channel() {
            assert!(
                root.join("templates").join(channel).is_dir(),
                "no templates/{channel}/"
            );
            assert!(
                directory.join("tests/conformance.rs").is_file(),
                "{crate_name} does not run the conformance suite in tests/conformance.rs"
            );
        }
    }
    // The other way round: every feature that enables a publisher or source
    // crate names one that exists.
    for (feature, enabled) in &features {
        for dependency in enabled {
            let Some(crate_name) = dependency.strip_prefix("dep:") else {
                continue;
            };
            if crate_name.starts_with("publisher-") || crate_name.starts_with("source-") {
                assert!(
                    plugins.iter().any(|plugin| plugin.crate_name == crate_name),
                    "feature `{feature}` enables {crate_name}, which is not in crates/"
                );
            }
        }
    }
}
