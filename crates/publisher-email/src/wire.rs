//! The CRM's request body.

use serde::Serialize;

/// `POST /api/v1/newsletters` body.
#[derive(Debug, Serialize)]
pub(crate) struct NewsletterRequest<'a> {
    pub(crate) subject: &'a str,
    pub(crate) preheader: &'a str,
    pub(crate) html: &'a str,
    pub(crate) text: &'a str,
    pub(crate) list_id: &'a str,
    pub(crate) send_at: String,
    pub(crate) tags: &'a [String],
}

/// What the CRM answers: `{"id": "…", "status": "…", …}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Created {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) url: Option<String>,
}
