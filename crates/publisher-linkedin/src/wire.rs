//! The Posts API request body.

use serde::Serialize;

use crate::config::Visibility;

/// `POST /rest/posts` body for a text post.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostRequest<'a> {
    pub(crate) author: &'a str,
    pub(crate) commentary: &'a str,
    pub(crate) visibility: Visibility,
    pub(crate) distribution: Distribution,
    pub(crate) lifecycle_state: &'static str,
    pub(crate) is_reshare_disabled_by_author: bool,
}

/// The `distribution` object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Distribution {
    pub(crate) feed_distribution: &'static str,
    pub(crate) target_entities: [(); 0],
    pub(crate) third_party_distribution_channels: [(); 0],
}

impl Default for Distribution {
    fn default() -> Self {
        Self {
            feed_distribution: "MAIN_FEED",
            target_entities: [],
            third_party_distribution_channels: [],
        }
    }
}
