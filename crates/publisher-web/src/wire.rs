//! The Platform's request body.

use serde::Serialize;

/// `POST /api/v1/content` body.
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

/// What the Platform answers: `{"id": "…", "status": "…", …}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Created {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) url: Option<String>,
}
