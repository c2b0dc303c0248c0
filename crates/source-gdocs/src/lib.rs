//! The Google Docs living-document source.
//!
//! Registered so that `[source] kind = "gdocs"` is recognised and
//! `halcytone channels` lists it. Parsing works: [`parse_document`] turns a
//! `documents.get` response into the same living document the Markdown
//! source produces (see the crate README for the mapping), and
//! [`revision_id`] reads the revision for change detection. Fetching over
//! HTTP is not built yet, so a fetch still says so instead of returning
//! nothing.
#![deny(missing_docs)]

use std::sync::Arc;

use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::prelude::*;
use halcytone_core::source::{Source, SourceError};
use serde::Deserialize;

pub mod parse;

pub use parse::{parse_document, revision_id};

/// The source kind.
pub const KIND: &str = "gdocs";

/// The `[source]` table for Google Docs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GdocsConfig {
    /// The document id from the document's URL.
    pub document_id: String,
}

/// Reads a Google Doc.
#[derive(Debug)]
pub struct GdocsSource {
    config: GdocsConfig,
}

#[async_trait]
impl Source for GdocsSource {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn describe(&self) -> String {
        format!("Google Doc {}", self.config.document_id)
    }

    async fn fetch(
        &self,
        _known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        Err(SourceError::Unavailable {
            source_name: self.describe(),
            message: "reading Google Docs is not implemented yet; use kind = \"markdown\""
                .to_owned(),
        })
    }
}

/// Registers the Google Docs source.
pub fn register(registry: &mut Registry) {
    registry.add_source(KIND, |settings, _context| {
        Ok(Arc::new(GdocsSource {
            config: settings.parse()?,
        }))
    });
}
