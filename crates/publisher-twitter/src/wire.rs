//! The X API v2 request body.

use serde::Serialize;

/// `POST /2/tweets` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreatePost<'a> {
    pub(crate) text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply: Option<Reply<'a>>,
}

/// The `reply` object of a thread part.
#[derive(Debug, Serialize)]
pub(crate) struct Reply<'a> {
    pub(crate) in_reply_to_tweet_id: &'a str,
}

/// The 201 body: `{"data": {"id": "…", "text": "…"}}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Created {
    pub(crate) data: CreatedPost,
}

/// The created post.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CreatedPost {
    pub(crate) id: String,
}
