//! The Notion living-document source.
//!
//! Registered so that `[source] kind = "notion"` is recognised and
//! `halcytone channels` lists it. Parsing works: [`blocks_from_pages`]
//! joins the pages of a `GET /v1/blocks/{id}/children` response and
//! [`parse_blocks`] turns the blocks (with their children attached) into the
//! same living document the Markdown source produces (see the crate README
//! for the mapping). Fetching over HTTP is not built yet, so a fetch still
//! says so instead of returning nothing.
#![deny(missing_docs)]

use std::sync::Arc;

use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::prelude::*;
use halcytone_core::source::{Source, SourceError};
use serde::Deserialize;

pub mod parse;

pub use parse::{Block, blocks_from_pages, parse_blocks};

/// The source kind.
pub const KIND: &str = "notion";

/// The `[source]` table for Notion.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotionConfig {
    /// The page id from the page URL.
    pub page_id: String,
}

/// Reads a Notion page.
#[derive(Debug)]
pub struct NotionSource {
    config: NotionConfig,
}

#[async_trait]
impl Source for NotionSource {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn describe(&self) -> String {
        format!("Notion page {}", self.config.page_id)
    }

    async fn fetch(
        &self,
        _known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        Err(SourceError::Unavailable {
            source_name: self.describe(),
            message: "reading Notion is not implemented yet; use kind = \"markdown\"".to_owned(),
        })
    }
}

/// Registers the Notion source.
pub fn register(registry: &mut Registry) {
    registry.add_source(KIND, |settings, _context| {
        Ok(Arc::new(NotionSource {
            config: settings.parse()?,
        }))
    });
}
