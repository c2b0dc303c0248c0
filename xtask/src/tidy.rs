//! Tidy checks that run under `cargo test -p xtask`: the rules a reviewer
//! would otherwise have to remember.

use std::path::{Path, PathBuf};

use crate::project_root;

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
fn every_publisher_crate_is_wired_in() {
    let root = project_root();
    let server_manifest =
        std::fs::read_to_string(root.join("crates/halcytone-server/Cargo.toml")).unwrap();
    let registry =
        std::fs::read_to_string(root.join("crates/halcytone-server/src/registry.rs")).unwrap();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut publishers = 0;
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let crate_name = entry.file_name().to_string_lossy().into_owned();
        let Some(channel) = crate_name.strip_prefix("publisher-") else {
            continue;
        };
        publishers += 1;
        let module = crate_name.replace('-', "_");
        assert!(
            server_manifest.contains(&format!("{channel} = [\"dep:{crate_name}\"]")),
            "no `{channel}` feature"
        );
        assert!(
            registry.contains(&format!("{module}::register(&mut registry);")),
            "{crate_name} is not registered"
        );
        assert!(
            root.join("templates").join(channel).is_dir(),
            "no templates/{channel}/"
        );
        assert!(
            entry.path().join("README.md").is_file(),
            "{crate_name} has no README.md"
        );
        assert!(
            architecture.contains(&crate_name),
            "ARCHITECTURE.md does not mention {crate_name}"
        );
    }
    assert_eq!(publishers, 4);
}
