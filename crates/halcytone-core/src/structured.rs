//! Helpers for sources that read structured documents (Google Docs, Notion):
//! styled runs to inline Markdown, and which heading level is a section or an item.

pub mod inline;
pub mod outline;

use crate::document::{DocumentBuilder, Location};
use inline::{Span, plain, render_lines};

/// Feeds one paragraph's lines to `builder`. While `metadata_open` (right
/// after an item heading), leading `Key: value` lines are the item's
/// metadata; the first other line closes the metadata and starts the body.
pub fn paragraph(
    builder: &mut DocumentBuilder<'_>,
    metadata_open: &mut bool,
    lines: &[Vec<Span>],
    location: &Location,
) {
    let mut body_start = 0;
    if *metadata_open {
        while body_start < lines.len()
            && builder.metadata_line(&plain(&lines[body_start]), location.clone())
        {
            body_start += 1;
        }
        if body_start == lines.len() {
            return;
        }
        *metadata_open = false;
    }
    builder.body(&render_lines(&lines[body_start..], ""));
}
