//! Helpers for sources that read structured documents (Google Docs, Notion):
//! styled runs to inline Markdown, and which heading level is a section or an item.

pub mod inline;
pub mod outline;
