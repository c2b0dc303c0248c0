//! The `Source` trait, and the Markdown file source that is always built in.

use std::path::PathBuf;

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
    async fn fetch(&self, known_channels: &KnownChannels) -> Result<ParsedDocument, SourceError>;
}

/// A Markdown living document: a file read on every fetch, or text given at start.
#[derive(Debug, Clone)]
pub enum MarkdownSource {
    /// A file, read on every fetch so edits are seen without a restart.
    File(PathBuf),
    /// Text given at start, such as the bundled example document.
    Text {
        /// The name used in messages.
        name: String,
        /// The Markdown.
        text: &'static str,
    },
}

#[async_trait]
impl Source for MarkdownSource {
    fn kind(&self) -> &'static str {
        "markdown"
    }

    fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Text { name, .. } => name.clone(),
        }
    }

    async fn fetch(&self, known_channels: &KnownChannels) -> Result<ParsedDocument, SourceError> {
        match self {
            Self::File(path) => {
                let text =
                    tokio::fs::read_to_string(path)
                        .await
                        .map_err(|error| SourceError::Io {
                            path: path.display().to_string(),
                            message: error.to_string(),
                        })?;
                Ok(parse_markdown(
                    &path.display().to_string(),
                    &text,
                    known_channels,
                )?)
            }
            Self::Text { name, text } => Ok(parse_markdown(name, text, known_channels)?),
        }
    }
}
