//! The one place that knows which channels and sources this build has.

use std::path::PathBuf;
use std::sync::Arc;

use halcytone_core::channel::Channel;
use halcytone_core::error::ConfigError;
use halcytone_core::registry::{Registry, SourceContext};
use halcytone_core::source::{MarkdownSource, Source};
use serde::Deserialize;

use crate::config::ConfigTable;

/// The example living document bundled into the binary.
pub(crate) const EXAMPLE_DOCUMENT: &str = include_str!("../../../examples/living-document.md");

/// The channels Halcytone ships, whether or not this build compiled them in.
const SHIPPED_CHANNELS: [&str; 4] = ["email", "web", "twitter", "linkedin"];

/// `[source]` when `kind = "markdown"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkdownSettings {
    /// The document; without it the bundled example is used.
    path: Option<PathBuf>,
}

fn markdown_source(
    markdown: MarkdownSettings,
    _context: &SourceContext,
) -> Result<Arc<dyn Source>, ConfigError> {
    Ok(Arc::new(match markdown.path {
        Some(path) => MarkdownSource::file(path),
        None => MarkdownSource::text("bundled example document", EXAMPLE_DOCUMENT),
    }))
}

/// Every publisher and source compiled into this binary.
pub(crate) fn registry() -> Registry<ConfigTable> {
    let mut registry = Registry::default();
    registry.add_source("markdown", markdown_source);
    #[cfg(feature = "email")]
    publisher_email::register(&mut registry);
    #[cfg(feature = "web")]
    publisher_web::register(&mut registry);
    #[cfg(feature = "twitter")]
    publisher_twitter::register(&mut registry);
    #[cfg(feature = "linkedin")]
    publisher_linkedin::register(&mut registry);
    #[cfg(feature = "gdocs")]
    source_gdocs::register(&mut registry);
    #[cfg(feature = "notion")]
    source_notion::register(&mut registry);
    for name in SHIPPED_CHANNELS {
        registry.add_absent_channel(Channel::from_static(name));
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_channel_is_either_compiled_in_or_known_as_absent() {
        let registry = registry();
        let mut names: Vec<&str> = registry
            .publishers()
            .map(|(channel, _)| channel.as_str())
            .chain(registry.absent_channels().map(Channel::as_str))
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["email", "linkedin", "twitter", "web"]);
        assert!(registry.source("markdown").is_some());
    }
}
