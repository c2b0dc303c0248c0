//! The request and response bodies of the Platform and of WordPress.

use serde::{Deserialize, Serialize};

use crate::config::WordPressStatus;

/// Platform: `POST /api/v1/content` body.
#[derive(Debug, Serialize)]
pub(crate) struct ContentRequest<'a> {
    #[serde(rename = "type")]
    pub(crate) content_type: &'a str,
    pub(crate) title: &'a str,
    pub(crate) slug: &'a str,
    pub(crate) excerpt: &'a str,
    pub(crate) html: &'a str,
    pub(crate) seo: Seo<'a>,
    pub(crate) tags: &'a [String],
    pub(crate) status: &'static str,
    pub(crate) publish_at: String,
}

/// The `seo` object.
#[derive(Debug, Serialize)]
pub(crate) struct Seo<'a> {
    pub(crate) description: &'a str,
}

/// WordPress: `POST /wp-json/wp/v2/posts` body.
#[derive(Debug, Serialize)]
pub(crate) struct PostRequest<'a> {
    pub(crate) title: &'a str,
    pub(crate) content: &'a str,
    pub(crate) excerpt: &'a str,
    pub(crate) slug: &'a str,
    pub(crate) status: WordPressStatus,
    pub(crate) date_gmt: String,
    pub(crate) tags: &'a [TagId],
}

/// A tag in a WordPress post body: its id, or in previews a placeholder,
/// since ids are only known once the tags are looked up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum TagId {
    /// The id WordPress gave the tag.
    Known(u64),
    /// `<id of tag NAME>`.
    Placeholder(String),
}

/// WordPress: `POST /wp-json/wp/v2/tags` body.
#[derive(Debug, Serialize)]
pub(crate) struct TagRequest<'a> {
    pub(crate) name: &'a str,
}

/// The part of a WordPress post the publisher reads.
#[derive(Debug, Deserialize)]
pub(crate) struct WpPost {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) link: Option<String>,
}

/// The part of a WordPress tag the publisher reads.
#[derive(Debug, Deserialize)]
pub(crate) struct WpTerm {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) name: String,
}
