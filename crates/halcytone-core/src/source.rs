//! The `Source` trait, and the Markdown file source that is always built in.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::document::{DocumentError, KnownChannels, ParsedDocument};
use crate::markdown::parse_markdown;

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
}

/// A Markdown living document: a file read on every fetch, or text given at start.
///
/// A file is read on every fetch so edits are seen without a restart, but it
/// is parsed again only when its text changed: the last parse is kept and
/// shared.
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
    known_channels: KnownChannels,
    parsed: Arc<ParsedDocument>,
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

    fn parse(
        &self,
        name: &str,
        text: String,
        known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        // A poisoned lock only means another request panicked mid-update; the
        // cache is rebuilt below either way.
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(cached) = last
            .as_ref()
            .filter(|cached| cached.text == text && &cached.known_channels == known_channels)
        {
            return Ok(Arc::clone(&cached.parsed));
        }
        let parsed = Arc::new(parse_markdown(name, &text, known_channels)?);
        *last = Some(LastParse {
            text,
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
        let text = match &self.origin {
            Origin::File(path) => {
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|error| SourceError::Io {
                        path: path.display().to_string(),
                        message: error.to_string(),
                    })?
            }
            Origin::Text { text, .. } => (*text).to_owned(),
        };
        self.parse(&self.describe(), text, known_channels)
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
