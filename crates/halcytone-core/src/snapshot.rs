//! The last good copy of the living document, kept in the data directory so
//! that planning goes on from it when the source is unreachable, and so that
//! a plan can say which items are new, changed or gone since the last one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::document::{ItemId, LivingDocument};

/// The file the snapshot is kept in, under the data directory.
pub const FILE_NAME: &str = "last-good-document.json";

/// A document as it was last read successfully.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was read.
    pub read_at: jiff::Timestamp,
    /// Where it came from (`describe()` of the source).
    pub source: String,
    /// The document.
    pub document: LivingDocument,
}

/// Where the snapshot of a data directory is.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Where the snapshot of a `[locales.<code>]` document is: beside the main
/// one, named by its locale.
pub fn path_for_locale(data_dir: &Path, locale: &str) -> PathBuf {
    let main = Path::new(FILE_NAME);
    let stem = main
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("document");
    let extension = main
        .extension()
        .and_then(|extension| extension.to_str())
        .unwrap_or("json");
    data_dir.join(format!("{stem}.{locale}.{extension}"))
}

/// Reads the snapshot, if there is one.
///
/// # Errors
/// Says why an existing snapshot cannot be read.
pub fn load(path: &Path) -> Result<Option<Snapshot>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    serde_json::from_str(&text).map(Some).map_err(|error| {
        format!(
            "{} is not a Halcytone document snapshot: {error}",
            path.display()
        )
    })
}

/// Writes the snapshot whole or not at all: to a temporary file, then renamed.
///
/// # Errors
/// Says why it cannot be written.
pub fn save(path: &Path, snapshot: &Snapshot) -> Result<(), String> {
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    }
    let text = serde_json::to_vec(snapshot).map_err(|error| error.to_string())?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text)
        .map_err(|error| format!("cannot write {}: {error}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .map_err(|error| format!("cannot replace {}: {error}", path.display()))
}

/// Which items are new, changed or gone between two readings of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Changes {
    /// Items the earlier reading did not have.
    pub new: Vec<ItemId>,
    /// Items whose title, metadata or body changed.
    pub changed: Vec<ItemId>,
    /// Items the new reading no longer has.
    pub gone: Vec<ItemId>,
}

impl Changes {
    /// Compares two readings; `location` (where an item sits) is not a change.
    pub fn between(previous: &LivingDocument, current: &LivingDocument) -> Self {
        let mut changes = Self::default();
        for item in current.items() {
            match previous.items().find(|earlier| earlier.id == item.id) {
                None => changes.new.push(item.id.clone()),
                Some(earlier) => {
                    let mut moved = earlier.clone();
                    moved.location = item.location.clone();
                    if &moved != item {
                        changes.changed.push(item.id.clone());
                    }
                }
            }
        }
        changes.gone = previous
            .items()
            .filter(|earlier| !current.items().any(|item| item.id == earlier.id))
            .map(|earlier| earlier.id.clone())
            .collect();
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::KnownChannels;
    use crate::markdown::parse_markdown;

    fn document(text: &str) -> LivingDocument {
        parse_markdown("doc.md", text, &KnownChannels::default())
            .unwrap()
            .document
    }

    #[test]
    fn changes_name_new_changed_and_gone_items() {
        let before = document("## S\n### Kept\nSame.\n### Edited\nOld.\n### Removed\nBye.\n");
        let after = document("## S\n### Added\nHi.\n\n### Kept\nSame.\n### Edited\nNew.\n");
        let changes = Changes::between(&before, &after);
        let ids = |list: &[ItemId]| list.iter().map(ItemId::to_string).collect::<Vec<_>>();
        assert_eq!(ids(&changes.new), ["s/added"]);
        assert_eq!(ids(&changes.changed), ["s/edited"]);
        assert_eq!(ids(&changes.gone), ["s/removed"]);
    }

    #[test]
    fn snapshots_round_trip_and_a_missing_one_is_none() {
        let directory =
            std::env::temp_dir().join(format!("halcytone-snapshot-{}", std::process::id()));
        let file = path(&directory);
        assert!(load(&file).unwrap().is_none());
        let snapshot = Snapshot {
            read_at: jiff::Timestamp::UNIX_EPOCH,
            source: "doc.md".to_owned(),
            document: document("## S\n### One\nTags: a\nDate: 2026-12-02\n\nBody **bold**.\n"),
        };
        save(&file, &snapshot).unwrap();
        let loaded = load(&file).unwrap().unwrap();
        std::fs::write(&file, "{").unwrap();
        let broken = load(&file).unwrap_err();
        std::fs::remove_dir_all(&directory).unwrap();
        assert_eq!(loaded.document, snapshot.document);
        assert!(
            broken.contains("is not a Halcytone document snapshot"),
            "{broken}"
        );
    }
}
