//! The `Source` trait, and the Markdown file source that is always built in.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::document::{DocumentError, KnownChannels, ParsedDocument};
use crate::markdown::parse_markdown;
use crate::preflight::Check;

/// Why a living document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The document was read but is not valid.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A local file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// The source is reachable in principle but cannot serve now.
    #[error("{source_name}: {message}")]
    Unavailable {
        /// The document's name or id.
        source_name: String,
        /// What happened and what to do.
        message: String,
    },
}

/// Where the living document comes from.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    /// The source kind as configured: `markdown`, `gdocs`, `notion`.
    fn kind(&self) -> &'static str;

    /// The document this source reads, for messages (a path or a document id).
    fn describe(&self) -> String;

    /// Reads and parses the document.
    ///
    /// # Errors
    /// Returns a [`SourceError`] that names the document and what is wrong.
    async fn fetch(
        &self,
        known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError>;

    /// Checks that the source's credentials still work, apart from reading
    /// the document (PRODUCT §14: Notion's `GET /v1/users/me`, the Google
    /// token exchange), so that a revoked token is named as such. None by
    /// default: the pre-flight pass reads the document as well, and for a
    /// local file that read is the whole check.
    async fn preflight(&self) -> Vec<Check> {
        Vec::new()
    }
}

/// A Markdown living document: a file, or text given at start.
///
/// Edits to the file are seen without a restart: every fetch looks at its
/// size and modification time, reads it again when they moved, and parses
/// it again only when its text changed (the last parse is kept and shared).
#[derive(Debug)]
pub struct MarkdownSource {
    origin: Origin,
    last: Mutex<Option<LastParse>>,
}

#[derive(Debug)]
enum Origin {
    File(PathBuf),
    Text { name: String, text: &'static str },
}

#[derive(Debug)]
struct LastParse {
    text: String,
    /// The file's size and modification time when `text` was read, kept
    /// only when that time was old enough to be trusted.
    stamp: Option<FileStamp>,
    known_channels: KnownChannels,
    parsed: Arc<ParsedDocument>,
}

/// A file's size and modification time: while they stay the same, the file
/// is not read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: std::time::SystemTime,
}

/// How old a modification time must be before it vouches for the file: a
/// write in the same clock tick as the read might not change it (the racy
/// case git guards against the same way). Local Linux file times move in
/// kernel ticks of at most 10 ms; until then, every request reads the file.
const SETTLED: std::time::Duration = std::time::Duration::from_millis(100);

/// The same for a file system that keeps whole seconds (no sub-second part
/// in the time: FAT, HFS+, many network and bind mounts).
const SETTLED_COARSE: std::time::Duration = std::time::Duration::from_secs(3);

impl FileStamp {
    /// The stamp of `metadata`, when its modification time is settled.
    fn settled(metadata: &std::fs::Metadata) -> Option<Self> {
        let modified = metadata.modified().ok()?;
        let age = std::time::SystemTime::now().duration_since(modified).ok()?;
        let coarse = modified
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|since| since.subsec_nanos() == 0);
        let settled = if coarse { SETTLED_COARSE } else { SETTLED };
        (age >= settled).then_some(Self {
            len: metadata.len(),
            modified,
        })
    }
}

impl MarkdownSource {
    /// A Markdown file.
    pub fn file(path: PathBuf) -> Self {
        Self {
            origin: Origin::File(path),
            last: Mutex::new(None),
        }
    }

    /// Text given at start, such as the bundled example document; `name` is
    /// used in messages.
    pub fn text(name: impl Into<String>, text: &'static str) -> Self {
        Self {
            origin: Origin::Text {
                name: name.into(),
                text,
            },
            last: Mutex::new(None),
        }
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<LastParse>> {
        // A poisoned lock only means another request panicked mid-update; the
        // cache is rebuilt either way.
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last parse, when the file's settled stamp says it is unchanged.
    fn unchanged(
        &self,
        stamp: Option<FileStamp>,
        known_channels: &KnownChannels,
    ) -> Option<Arc<ParsedDocument>> {
        let stamp = stamp?;
        self.last()
            .as_ref()
            .filter(|cached| {
                cached.stamp == Some(stamp) && &cached.known_channels == known_channels
            })
            .map(|cached| Arc::clone(&cached.parsed))
    }

    fn parse(
        &self,
        name: &str,
        text: std::borrow::Cow<'_, str>,
        stamp: Option<FileStamp>,
        known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        let mut last = self.last();
        if let Some(cached) = last
            .as_mut()
            .filter(|cached| cached.text == text && &cached.known_channels == known_channels)
        {
            cached.stamp = stamp;
            return Ok(Arc::clone(&cached.parsed));
        }
        let parsed = Arc::new(parse_markdown(name, &text, known_channels)?);
        *last = Some(LastParse {
            text: text.into_owned(),
            stamp,
            known_channels: known_channels.clone(),
            parsed: Arc::clone(&parsed),
        });
        Ok(parsed)
    }
}

#[async_trait]
impl Source for MarkdownSource {
    fn kind(&self) -> &'static str {
        "markdown"
    }

    fn describe(&self) -> String {
        match &self.origin {
            Origin::File(path) => path.display().to_string(),
            Origin::Text { name, .. } => name.clone(),
        }
    }

    async fn fetch(
        &self,
        known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        let path = match &self.origin {
            Origin::Text { name, text } => {
                return self.parse(name, std::borrow::Cow::Borrowed(text), None, known_channels);
            }
            Origin::File(path) => path,
        };
        // The file is read again only when its size or modification time
        // moved (or is too recent to vouch for it); the text decides then.
        // The stat is done in place, not handed to a blocking thread as
        // tokio::fs would for every request: each such thread grows a
        // malloc arena of its own (RSS 60 MB instead of 20 MB under load).
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|metadata| FileStamp::settled(&metadata));
        if let Some(parsed) = self.unchanged(stamp, known_channels) {
            return Ok(parsed);
        }
        // Read in place too: a local file, read only when it changed.
        let text = std::fs::read_to_string(path).map_err(|error| SourceError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        self.parse(
            &self.describe(),
            std::borrow::Cow::Owned(text),
            stamp,
            known_channels,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_is_parsed_again_only_when_it_changes() {
        let path = std::env::temp_dir().join(format!("halcytone-source-{}.md", std::process::id()));
        std::fs::write(&path, "## S\n### One\nBody.\n").unwrap();
        let source = MarkdownSource::file(path.clone());
        let known = KnownChannels::default();
        let first = source.fetch(&known).await.unwrap();
        let again = source.fetch(&known).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "same text, same parse");
        std::fs::write(&path, "## S\n### One\nBody.\n### Two\nMore.\n").unwrap();
        let changed = source.fetch(&known).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(changed.document.items().count(), 2);
        assert_ne!(changed.document.revision, first.document.revision);
    }

    #[tokio::test]
    async fn a_settled_file_is_not_read_again_until_its_stamp_moves() {
        let path =
            std::env::temp_dir().join(format!("halcytone-source-stamp-{}.md", std::process::id()));
        let set_modified = |ago: u64| {
            let time = std::time::SystemTime::now() - std::time::Duration::from_secs(ago);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(time)
                .unwrap();
            time
        };
        std::fs::write(&path, "## S\n### One\nBody.\n").unwrap();
        let old = set_modified(60);
        let source = MarkdownSource::file(path.clone());
        let known = KnownChannels::default();
        let first = source.fetch(&known).await.unwrap();
        // Same size, same (old) time: the file is not read, so the new
        // text is not seen. Real edits move the time.
        std::fs::write(&path, "## S\n### Two\nBody.\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let unread = source.fetch(&known).await.unwrap();
        assert!(Arc::ptr_eq(&first, &unread));
        // A moved time (here: too recent to vouch for the file) is read.
        set_modified(0);
        let read = source.fetch(&known).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read.document.items().next().unwrap().title, "Two");
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let path =
            std::env::temp_dir().join(format!("halcytone-source-bad-{}.md", std::process::id()));
        std::fs::write(&path, "### Orphan\nBody.\n").unwrap();
        let source = MarkdownSource::file(path.clone());
        assert!(source.fetch(&KnownChannels::default()).await.is_err());
        std::fs::write(&path, "## S\n### Orphan\nBody.\n").unwrap();
        let fixed = source.fetch(&KnownChannels::default()).await;
        std::fs::remove_file(&path).unwrap();
        assert!(fixed.is_ok());
    }
}
