//! The Notion living-document source.
//!
//! Registered so that `[source] kind = "notion"` is recognised and
//! `halcytone channels` lists it; reading documents arrives with the sources
//! work, and until then a fetch says so instead of returning nothing.
#![deny(missing_docs)]

use std::sync::Arc;

use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::prelude::*;
use halcytone_core::source::{Source, SourceError};
use serde::Deserialize;

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
    registry.add_source(KIND, |settings| {
        Ok(Arc::new(NotionSource {
            config: settings.parse()?,
        }))
    });
}
